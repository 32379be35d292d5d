//! `aurum-retry`: retry delays, exponential with a cap, and seeded jitter.
//!
//! The delay before retry `k` (k = 1 for the first retry) is
//! `d_k = min(max_delay_ms, base_ms · 2^(k−1))`, then jittered down uniformly into
//! `[d_k · (100 − jitter_percent) / 100, d_k]`. Jitter keeps many sources (or many Aurum nodes)
//! that failed together from retrying together; the seed keeps a test's delays the same every run.

use std::time::Duration;

use aurum_vfs::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Most attempts one round may make (a request and its retries).
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// Longest delay a policy may configure between attempts (one hour).
pub const MAX_DELAY_LIMIT_MS: u64 = 3_600_000;

/// How a source retries within a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Delay before the first retry, before jitter.
    pub base_ms: u64,
    /// Cap on any delay, before jitter; ≤ [`MAX_DELAY_LIMIT_MS`].
    pub max_delay_ms: u64,
    /// Attempts per round, the first included (1 = no retry); 1 ..= [`MAX_ATTEMPTS_LIMIT`].
    pub max_attempts: u32,
    /// How far down a delay may be jittered, in percent of it (0 = none, 100 = "full jitter").
    pub jitter_percent: u8,
    /// Seed of the jitter; `None` derives one from the source's name (distinct per source, stable
    /// across runs).
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base_ms: 100, max_delay_ms: 10_000, max_attempts: 3, jitter_percent: 50, seed: None }
    }
}

/// Why a retry policy is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryPolicyError {
    /// `max_attempts` outside 1 ..= [`MAX_ATTEMPTS_LIMIT`].
    #[error("retry.max_attempts = {0} must be within 1..={MAX_ATTEMPTS_LIMIT}")]
    Attempts(u32),
    /// `max_delay_ms` above [`MAX_DELAY_LIMIT_MS`] or below `base_ms`.
    #[error("retry.max_delay_ms = {max} must be within base_ms ({base})..={MAX_DELAY_LIMIT_MS}")]
    MaxDelay {
        /// Configured base.
        base: u64,
        /// Configured cap.
        max: u64,
    },
    /// `jitter_percent` above 100.
    #[error("retry.jitter_percent = {0} must be within 0..=100")]
    Jitter(u8),
}

impl RetryPolicy {
    /// Check the limits.
    pub fn validate(&self) -> Result<(), RetryPolicyError> {
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(RetryPolicyError::Attempts(self.max_attempts));
        }
        if self.max_delay_ms > MAX_DELAY_LIMIT_MS || self.max_delay_ms < self.base_ms {
            return Err(RetryPolicyError::MaxDelay { base: self.base_ms, max: self.max_delay_ms });
        }
        if self.jitter_percent > 100 {
            return Err(RetryPolicyError::Jitter(self.jitter_percent));
        }
        Ok(())
    }
}

/// A stable seed for a source name (FNV-1a), so sources without a configured seed still differ.
pub fn seed_for(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The delays of one source, drawn from its seeded generator.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    rng: SplitMix64,
}

impl Backoff {
    /// Delays for `policy`, jittered from `seed`.
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        Backoff { policy, rng: SplitMix64::new(seed) }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The un-jittered delay before retry `retry` (1-based), in ms.
    pub fn ceiling_ms(&self, retry: u32) -> u64 {
        let doublings = retry.saturating_sub(1).min(63);
        self.policy.base_ms.saturating_mul(1u64 << doublings).min(self.policy.max_delay_ms)
    }

    /// The delay before retry `retry` (1-based).
    pub fn delay(&mut self, retry: u32) -> Duration {
        let ceiling = self.ceiling_ms(retry);
        let floor = ceiling - ceiling * u64::from(self.policy.jitter_percent.min(100)) / 100;
        Duration::from_millis(self.rng.range_inclusive(floor, ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_within_the_jitter_band() {
        let policy =
            RetryPolicy { base_ms: 100, max_delay_ms: 1_000, max_attempts: 10, jitter_percent: 50, seed: None };
        let mut b = Backoff::new(policy, 7);
        let ceilings: Vec<u64> = (1..=6).map(|k| b.ceiling_ms(k)).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        for k in 1..=6 {
            let d = b.delay(k).as_millis() as u64;
            let c = b.ceiling_ms(k);
            assert!(d >= c / 2 && d <= c, "retry {k}: {d} not in [{}, {c}]", c / 2);
        }
        assert_eq!(b.ceiling_ms(u32::MAX), 1_000);
    }

    #[test]
    fn jitter_is_deterministic_for_a_seed() {
        let p = RetryPolicy::default();
        let a: Vec<_> = {
            let mut b = Backoff::new(p.clone(), 42);
            (1..=5).map(|k| b.delay(k)).collect()
        };
        let again: Vec<_> = {
            let mut b = Backoff::new(p.clone(), 42);
            (1..=5).map(|k| b.delay(k)).collect()
        };
        assert_eq!(a, again);
        let none = RetryPolicy { jitter_percent: 0, ..p };
        let mut b = Backoff::new(none, 1);
        assert_eq!(b.delay(3), Duration::from_millis(400));
        assert_ne!(seed_for("a"), seed_for("b"));
    }

    #[test]
    fn limits_are_checked() {
        assert!(RetryPolicy::default().validate().is_ok());
        assert!(RetryPolicy { max_attempts: 0, ..Default::default() }.validate().is_err());
        assert!(RetryPolicy { max_attempts: 101, ..Default::default() }.validate().is_err());
        assert!(RetryPolicy { max_delay_ms: 50, ..Default::default() }.validate().is_err());
        assert!(RetryPolicy { jitter_percent: 101, ..Default::default() }.validate().is_err());
    }
}
