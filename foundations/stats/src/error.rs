//! The crate's one error type.

use crate::psi::{MAX_PSI_BINS, MIN_PSI_BINS};

/// Everything that can go wrong in `aurum-stats`. Only data-dependent failures are errors;
/// misuse that no input could cause (a zero capacity, a histogram observed with another crate's
/// bins) is an assertion.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// The reference sample for PSI bins has no values.
    #[error("the reference sample is empty: there is nothing to place bin edges on")]
    EmptySample,
    /// A reference sample value is NaN or infinite, so quantiles are meaningless.
    #[error("reference sample value at index {index} is not finite ({value})")]
    NonFiniteSample {
        /// Position of the first offending value in the sample.
        index: usize,
        /// The value itself (NaN or ±inf).
        value: f64,
    },
    /// The requested number of PSI bins is outside the supported range.
    #[error("max_bins must be between {MIN_PSI_BINS} and {MAX_PSI_BINS}, got {max_bins}")]
    BinCountOutOfRange {
        /// What the caller asked for.
        max_bins: usize,
    },
    /// The two histograms were built over different bins, so their proportions do not line up.
    #[error("histograms have different bin counts: expected has {expected}, actual has {actual}")]
    BinCountMismatch {
        /// Bins in the expected (reference) histogram.
        expected: usize,
        /// Bins in the actual (current) histogram.
        actual: usize,
    },
    /// A histogram has no finite observations, so it has no proportions.
    #[error("the {which} histogram has no observations (invalid values are not counted)")]
    EmptyHistogram {
        /// `"expected"` or `"actual"`.
        which: &'static str,
    },
}
