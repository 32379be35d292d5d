//! Fuzz the record-batch decoder: any input must decode or return an error, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, records)) = aurum_log::record::decode_batch(data) {
        // What decodes must re-encode to the same bytes.
        let refs: Vec<aurum_log::record::RecordRef<'_>> = records.iter().map(Into::into).collect();
        let mut out = Vec::new();
        aurum_log::record::encode_batch(&mut out, &refs);
        assert_eq!(&out[..], &data[..header.total_bytes()]);
    }
});
