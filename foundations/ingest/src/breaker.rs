//! A circuit breaker per source: after `failure_threshold` consecutive failures it opens and the
//! runner makes no request at all until `cooldown_ms` of [`crate::Clock`] time have passed; then one
//! probe is let through (half-open): a success closes the breaker, a failure opens it again for
//! another cool-down. This keeps a dead or lying source from being hammered, and makes its state a
//! health signal ([`crate::metrics`]).

use serde::{Deserialize, Serialize};

/// Longest cool-down a policy may configure (one day).
pub const MAX_COOLDOWN_MS: u64 = 86_400_000;

/// When a source's breaker opens and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker (≥ 1).
    pub failure_threshold: u32,
    /// How long it stays open before a probe, in clock ms (≤ [`MAX_COOLDOWN_MS`]).
    pub cooldown_ms: u64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy { failure_threshold: 5, cooldown_ms: 30_000 }
    }
}

/// Why a breaker policy is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerPolicyError {
    /// A zero threshold would open on success.
    #[error("breaker.failure_threshold must be at least 1")]
    Threshold,
    /// Above [`MAX_COOLDOWN_MS`].
    #[error("breaker.cooldown_ms = {0} exceeds the limit of {MAX_COOLDOWN_MS}")]
    Cooldown(u64),
}

impl BreakerPolicy {
    /// Check the limits.
    pub fn validate(&self) -> Result<(), BreakerPolicyError> {
        if self.failure_threshold == 0 {
            return Err(BreakerPolicyError::Threshold);
        }
        if self.cooldown_ms > MAX_COOLDOWN_MS {
            return Err(BreakerPolicyError::Cooldown(self.cooldown_ms));
        }
        Ok(())
    }
}

/// The state a breaker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// No requests until the cool-down ends.
    Open,
    /// One probe is in flight.
    HalfOpen,
}

impl BreakerState {
    /// The gauge value exported in metrics: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

/// Whether a request may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go (closed, or the half-open probe).
    Go,
    /// Open: wait until this clock time, then ask again.
    WaitUntil(i64),
}

/// One source's breaker (driven by that source's task only, so it needs no lock).
#[derive(Debug, Clone)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: Inner,
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { until_ms: i64 },
    HalfOpen,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        Breaker { policy, state: Inner::Closed { failures: 0 } }
    }

    /// The state.
    pub fn state(&self) -> BreakerState {
        match self.state {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// Ask to make a request at `now_ms`; an open breaker whose cool-down has passed turns half-open.
    pub fn admit(&mut self, now_ms: i64) -> Admission {
        match self.state {
            Inner::Closed { .. } | Inner::HalfOpen => Admission::Go,
            Inner::Open { until_ms } if now_ms >= until_ms => {
                self.state = Inner::HalfOpen;
                Admission::Go
            }
            Inner::Open { until_ms } => Admission::WaitUntil(until_ms),
        }
    }

    /// A request succeeded: close.
    pub fn on_success(&mut self) {
        self.state = Inner::Closed { failures: 0 };
    }

    /// A request failed at `now_ms`. Returns whether this failure opened the breaker.
    pub fn on_failure(&mut self, now_ms: i64) -> bool {
        let open_until = now_ms.saturating_add(i64::try_from(self.policy.cooldown_ms).unwrap_or(i64::MAX));
        match self.state {
            Inner::Closed { failures } if failures + 1 >= self.policy.failure_threshold => {
                self.state = Inner::Open { until_ms: open_until };
                true
            }
            Inner::Closed { failures } => {
                self.state = Inner::Closed { failures: failures + 1 };
                false
            }
            Inner::HalfOpen => {
                self.state = Inner::Open { until_ms: open_until };
                true
            }
            Inner::Open { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_open_half_open_closed() {
        let mut b = Breaker::new(BreakerPolicy { failure_threshold: 3, cooldown_ms: 1_000 });
        assert_eq!(b.admit(0), Admission::Go);
        assert!(!b.on_failure(0));
        assert!(!b.on_failure(1));
        b.on_success();
        assert!(!b.on_failure(2));
        assert!(!b.on_failure(3));
        assert!(b.on_failure(4), "third consecutive failure opens");
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(1_003), Admission::WaitUntil(1_004));
        assert_eq!(b.admit(1_004), Admission::Go);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.on_failure(1_005), "a failed probe reopens");
        assert_eq!(b.admit(2_004), Admission::WaitUntil(2_005));
        assert_eq!(b.admit(2_005), Admission::Go);
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn limits_are_checked() {
        assert!(BreakerPolicy::default().validate().is_ok());
        assert!(BreakerPolicy { failure_threshold: 0, ..Default::default() }.validate().is_err());
        assert!(BreakerPolicy { cooldown_ms: MAX_COOLDOWN_MS + 1, ..Default::default() }.validate().is_err());
    }
}
