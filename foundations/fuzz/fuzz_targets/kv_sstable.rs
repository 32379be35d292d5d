//! Fuzz the KV store's SSTable decoders (whole table, footer, data block). Each input is also
//! tried with a valid footer CRC so the fuzzer reaches the index, bloom and block parsing.
#![no_main]

use aurum_kv::format::FOOTER_BYTES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_kv::format::decode_table(data);
    let _ = aurum_kv::format::decode_footer(data, data.len() as u64);
    let _ = aurum_kv::format::decode_block(data);
    if data.len() >= FOOTER_BYTES {
        let mut patched = data.to_vec();
        let at = patched.len() - 4;
        let crc = crc32c::crc32c(&patched[patched.len() - FOOTER_BYTES..at]);
        patched[at..].copy_from_slice(&crc.to_le_bytes());
        let _ = aurum_kv::format::decode_table(&patched);
    }
});
