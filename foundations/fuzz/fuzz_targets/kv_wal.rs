//! Fuzz the KV store's WAL decoder: any bytes must decode or fail cleanly, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_kv::format::decode_wal_records(data);
    let _ = aurum_kv::format::scan_wal(data);
});
