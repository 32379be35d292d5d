//! Fuzz the segment scanner used by recovery: it must stop at the first invalid batch and report
//! a valid prefix, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scan = aurum_log::record::scan_batches(data, 0);
    assert!(scan.valid_bytes as usize <= data.len());
    for (pos, h) in &scan.batches {
        assert!(*pos as usize + h.total_bytes() <= scan.valid_bytes as usize);
    }
});
