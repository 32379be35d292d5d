//! `aurum-stats`: small, exact statistics primitives for the risk scorer and for drift checks.
//!
//! - [`topk`]: [`TopK`], the K largest values among many keys in O(log K) per update, exact as
//!   long as each key's value only grows (e.g. the riskiest accounts by decayed score).
//! - [`decay`]: [`ForwardDecay`] and [`DecayedSum`], exponentially time-decayed sums that are O(1)
//!   to update, never overflow, and rank consistently at every instant, so they feed [`TopK`]
//!   directly.
//! - [`psi`](mod@psi): the Population Stability Index, with quantile [`Bins`] fixed from a
//!   reference sample, per-window [`Histogram`]s and [`PsiBand`] verdicts, for feature drift.
//! - [`error`]: [`StatsError`], the one error type; only data-dependent failures are errors.
//!
//! ```
//! use aurum_stats::{DecayedSum, ForwardDecay, TopK};
//! const MINUTE_NS: u64 = 60_000_000_000;
//! let decay = ForwardDecay::new(10 * MINUTE_NS);
//! let mut scores = [DecayedSum::default(); 3];
//! let mut top = TopK::new(2);
//! for (account, weight, at_ns) in [(0, 5.0, 0), (1, 1.0, MINUTE_NS), (2, 2.0, 2 * MINUTE_NS), (1, 9.0, 3 * MINUTE_NS)] {
//!     scores[account].add(&decay, weight, at_ns);
//!     top.offer(account, scores[account].rank_key());
//! }
//! let ranked: Vec<usize> = top.sorted().into_iter().map(|(account, _)| account).collect();
//! assert_eq!(ranked, vec![1, 0]);
//! ```

pub mod decay;
pub mod error;
pub mod psi;
pub mod topk;

pub use decay::{DecayedSum, ForwardDecay};
pub use error::StatsError;
pub use psi::{
    Bins, Histogram, MAX_PSI_BINS, MIN_PSI_BINS, PSI_MODERATE_THRESHOLD, PSI_PROPORTION_FLOOR,
    PSI_SIGNIFICANT_THRESHOLD, PsiBand, psi,
};
pub use topk::{MAX_TOP_K_CAPACITY, TopK};
