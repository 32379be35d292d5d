//! Fuzz the KV store's WAL decoder: any bytes must decode or fail cleanly, never panic.
//! Each input is also tried with its first record's length and CRC patched to be valid, so the
//! fuzzer explores the payload parsing behind the CRC.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_kv::format::decode_wal_records(data);
    let _ = aurum_kv::format::scan_wal(data);
    if data.len() >= 8 {
        let mut patched = data.to_vec();
        let len = (patched.len() - 8) as u32;
        patched[0..4].copy_from_slice(&len.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&patched[..4]), &patched[8..]);
        patched[4..8].copy_from_slice(&crc.to_le_bytes());
        let _ = aurum_kv::format::decode_wal_records(&patched);
        let _ = aurum_kv::format::scan_wal(&patched);
    }
});
