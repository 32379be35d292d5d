//! Shared plumbing for Aurum's foundation benchmarks: timing and a ratio table.
//!
//! Every benchmark measures its baseline in the same run, on the same machine, and prints the
//! ratio: absolute numbers drift on a noisy machine, ratios hold.

use std::time::{Duration, Instant};

/// One measured case.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What was measured, e.g. `"aurum-log append 100 B x1 producer"`.
    pub name: String,
    /// Operations (records, keys) done.
    pub ops: u64,
    /// Payload bytes moved.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl Measurement {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
}

/// Run `f` once and time it; `f` returns (ops, bytes).
pub fn measure(name: impl Into<String>, f: impl FnOnce() -> (u64, u64)) -> Measurement {
    let start = Instant::now();
    let (ops, bytes) = f();
    Measurement { name: name.into(), ops, bytes, elapsed: start.elapsed() }
}

/// Print `subject` against `baseline` as one table row with the ratio subject/baseline in ops/s.
pub fn print_comparison(subject: &Measurement, baseline: &Measurement) {
    println!(
        "{:<58} {:>12.0} ops/s {:>9.1} MB/s | baseline {:<34} {:>12.0} ops/s {:>9.1} MB/s | ratio {:>6.2}x",
        subject.name,
        subject.ops_per_sec(),
        subject.mb_per_sec(),
        baseline.name,
        baseline.ops_per_sec(),
        baseline.mb_per_sec(),
        subject.ops_per_sec() / baseline.ops_per_sec()
    );
}

/// Print `subject` against `baseline` with the ratio of their throughput in bytes/s (for cases
/// whose operations differ in size, such as a log append against a raw disk write).
pub fn print_comparison_bytes(subject: &Measurement, baseline: &Measurement) {
    println!(
        "{:<58} {:>12.0} rec/s {:>9.1} MB/s | baseline {:<34} {:>9.1} MB/s | ratio {:>6.2}x (MB/s)",
        subject.name,
        subject.ops_per_sec(),
        subject.mb_per_sec(),
        baseline.name,
        baseline.mb_per_sec(),
        subject.mb_per_sec() / baseline.mb_per_sec()
    );
}

/// Print one measurement without a baseline (used for baselines themselves).
pub fn print_row(m: &Measurement) {
    println!(
        "{:<58} {:>12.0} ops/s {:>9.1} MB/s ({:.3} s)",
        m.name,
        m.ops_per_sec(),
        m.mb_per_sec(),
        m.elapsed.as_secs_f64()
    );
}
