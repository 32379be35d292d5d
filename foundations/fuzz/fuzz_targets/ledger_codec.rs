//! Fuzz the ledger's binary decoders: journalled commands, batch results (the outcomes a block
//! records) and snapshots. The encodings are canonical: what decodes re-encodes to the same bytes.
#![no_main]
use aurum_ledger::codec::{decode_batch_result, decode_commands, encode_batch_result, encode_commands};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((commands, used)) = decode_commands(data) {
        let mut again = Vec::new();
        encode_commands(&commands, &mut again);
        assert_eq!(again, data[..used], "commands re-encode to their bytes");
    }
    if let Ok((result, used)) = decode_batch_result(data) {
        let mut again = Vec::new();
        encode_batch_result(&result, &mut again);
        assert_eq!(again, data[..used], "a batch result re-encodes to its bytes");
    }
    let _ = aurum_ledger::Ledger::decode_snapshot(data);
});
