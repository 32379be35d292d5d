//! Fuzz the offset-index, time-index and group-offsets decoders.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aurum_log::index::decode_offset_index(data);
    let _ = aurum_log::index::decode_time_index(data);
    let _ = aurum_log::groups::decode_offsets(data);
});
