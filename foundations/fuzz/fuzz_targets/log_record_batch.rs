//! Fuzz the record-batch decoder: any input must decode or return an error, never panic.
//!
//! Each input is tried twice: as it is, and with its length and CRC fields patched to be valid,
//! so that the fuzzer also explores the record parsing behind the CRC check.
#![no_main]
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    if let Ok((header, records)) = aurum_log::record::decode_batch(data) {
        // What decodes must re-encode to the same bytes.
        let refs: Vec<aurum_log::record::RecordRef<'_>> = records.iter().map(Into::into).collect();
        let mut out = Vec::new();
        aurum_log::record::encode_batch(&mut out, &refs);
        assert_eq!(&out[..], &data[..header.total_bytes()]);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 16 {
        let mut patched = data.to_vec();
        let length = (patched.len() - 12) as u32;
        patched[8..12].copy_from_slice(&length.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&patched[..12]), &patched[16..]);
        patched[12..16].copy_from_slice(&crc.to_le_bytes());
        check(&patched);
    }
});
