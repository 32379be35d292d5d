//! Fuzz the KV store's manifest decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_kv::format::decode_manifest(data);
});
