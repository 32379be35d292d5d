//! The engine's own measurements, for `/metrics` and for tests: lock-free counters and fixed-bucket
//! histograms that the writer updates and anyone can read.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the batch-size histogram buckets (commands per block).
pub const BATCH_SIZE_BUCKETS: [u64; 10] = [1, 4, 16, 64, 256, 1024, 2048, 4096, 8190, u64::MAX];
/// Upper bounds of the journal-write histogram buckets, in microseconds (append + fsync).
pub const JOURNAL_WRITE_US_BUCKETS: [u64; 12] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, u64::MAX];

/// A histogram with fixed bucket bounds (cumulative on read, as Prometheus wants).
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    bounds: [u64; N],
    counts: [AtomicU64; N],
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    /// A histogram over `bounds` (ascending; the last should be `u64::MAX`).
    pub fn new(bounds: [u64; N]) -> Self {
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bucket bounds ascend");
        Histogram { bounds, counts: std::array::from_fn(|_| AtomicU64::new(0)), sum: AtomicU64::new(0) }
    }

    /// Record one observation.
    pub fn observe(&self, value: u64) {
        let i = self.bounds.iter().position(|&b| value <= b).unwrap_or(N - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// (upper bound, cumulative count) per bucket, the sum, and the total count.
    pub fn snapshot(&self) -> (Vec<(u64, u64)>, u64, u64) {
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(&b, c)| {
                cumulative += c.load(Ordering::Relaxed);
                (b, cumulative)
            })
            .collect();
        (buckets, self.sum.load(Ordering::Relaxed), cumulative)
    }
}

/// Everything the engine counts.
#[derive(Debug)]
pub struct EngineStats {
    /// Blocks committed.
    pub blocks: AtomicU64,
    /// Commands committed (all outcomes, rejections included).
    pub commands: AtomicU64,
    /// Requests waiting for the writer or being committed (queue depth).
    pub in_flight_requests: AtomicU64,
    /// Commands per block.
    pub batch_size: Histogram<10>,
    /// Journal append + fsync time per block, in microseconds.
    pub journal_write_us: Histogram<12>,
}

impl Default for EngineStats {
    fn default() -> Self {
        EngineStats {
            blocks: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            in_flight_requests: AtomicU64::new(0),
            batch_size: Histogram::new(BATCH_SIZE_BUCKETS),
            journal_write_us: Histogram::new(JOURNAL_WRITE_US_BUCKETS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new([1, 10, u64::MAX]);
        for v in [0, 1, 5, 10, 11, 1000] {
            h.observe(v);
        }
        let (buckets, sum, count) = h.snapshot();
        assert_eq!(buckets, vec![(1, 2), (10, 4), (u64::MAX, 6)]);
        assert_eq!((sum, count), (1027, 6));
    }
}
