//! Fuzz the KV store's SSTable decoders (whole table, footer, data block).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_kv::format::decode_table(data);
    let _ = aurum_kv::format::decode_footer(data, data.len() as u64);
    let _ = aurum_kv::format::decode_block(data);
});
