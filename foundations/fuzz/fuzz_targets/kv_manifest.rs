//! Fuzz the KV store's manifest decoder; each input is also tried with a valid trailing CRC.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_kv::format::decode_manifest(data);
    if data.len() >= 4 {
        let mut patched = data.to_vec();
        let at = patched.len() - 4;
        let crc = crc32c::crc32c(&patched[..at]);
        patched[at..].copy_from_slice(&crc.to_le_bytes());
        let _ = aurum_kv::format::decode_manifest(&patched);
    }
});
