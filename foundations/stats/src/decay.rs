//! Forward exponential decay (Cormode, Shkapenyuk, Srivastava, Xu: "Forward Decay: A Practical
//! Time Decay Model for Streaming Systems", ICDE 2009), kept in the log2 domain.
//!
//! Backward decay re-weights every stored item whenever the clock moves. Forward decay instead
//! weights each item once, at arrival, by a factor that grows with its timestamp,
//! `g(t) = 2^(t/h)`, and divides by `g(now)` only when the sum is read:
//!
//! ```text
//! value_at(now) = Σ wᵢ · g(tᵢ) / g(now) = Σ wᵢ · 2^(−(now − tᵢ)/h)
//! ```
//!
//! so an update is O(1), and the read gives the familiar "halves every `h`" decayed sum.
//!
//! `g(t)` overflows `f64` after about 1024 half-lives (17 hours with a one-minute half-life, let
//! alone a Unix timestamp), so [`DecayedSum`] stores `log2(Σ wᵢ · g(tᵢ))` and adds in that
//! domain with a stable log-add-exp. The stored number grows like `t/h`, which stays finite for
//! every `u64` timestamp.
//!
//! Precision: the exponent `t/h` carries a rounding error of about `(t/h) · 2⁻⁵³`, which becomes
//! a relative error of roughly that size in [`DecayedSum::value_at`]: about 1e-8 for today's Unix
//! time in nanoseconds with a one-minute half-life, 1e-15 for timestamps near zero. Ranking is
//! unaffected, since it compares the stored numbers directly.
//!
//! # Ranking
//!
//! Every sum's value at `now` is its stored `2^log2` times the same factor `2^(−now/h)`, so
//! ordering sums by [`DecayedSum::rank_key`] orders them by `value_at(now)` for every `now` at
//! once, and the key never has to be refreshed as time passes. Adding only ever increases it,
//! which is exactly the monotone contract of [`TopK`](crate::TopK): offer `rank_key()` after each
//! add to keep the K largest decayed sums. (In floating point `value_at` can underflow to 0 for
//! long-idle sums while `rank_key` still tells them apart; the orders never contradict.)

/// The decay rate: a weight added now counts half after `half_life_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardDecay {
    half_life_ns: u64,
}

impl ForwardDecay {
    /// Decay that halves every `half_life_ns` nanoseconds. Panics if `half_life_ns` is 0 (no
    /// decay rate could mean "everything is gone instantly").
    pub fn new(half_life_ns: u64) -> Self {
        assert!(half_life_ns > 0, "ForwardDecay half-life must be positive");
        ForwardDecay { half_life_ns }
    }

    /// The half-life in nanoseconds.
    pub fn half_life_ns(&self) -> u64 {
        self.half_life_ns
    }

    /// `t / h` in half-lives, i.e. `log2 g(t)`. Split into quotient and remainder because
    /// `t as f64` alone rounds Unix-nanosecond timestamps (> 2⁵³) to multiples of 256 ns; this
    /// way the only rounding is the final addition.
    fn exponent(&self, at_ns: u64) -> f64 {
        let whole = at_ns / self.half_life_ns;
        let rest = at_ns % self.half_life_ns;
        whole as f64 + rest as f64 / self.half_life_ns as f64
    }
}

/// A forward-decayed sum of positive weights: `log2(Σ wᵢ · 2^(tᵢ/h))`, or `-inf` when empty.
///
/// The sum does not remember its [`ForwardDecay`]; always use it with the same one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecayedSum {
    log2: f64,
}

impl Default for DecayedSum {
    /// The empty sum (`log2 = -inf`, value 0 at any time). Not derived: `f64::default()` is 0,
    /// which would mean a sum of weight 1 at time 0.
    fn default() -> Self {
        DecayedSum { log2: f64::NEG_INFINITY }
    }
}

impl DecayedSum {
    /// The empty sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// True if no weight has been added.
    pub fn is_empty(&self) -> bool {
        self.log2 == f64::NEG_INFINITY
    }

    /// Add `weight` observed at `at_ns`. Weights that are ≤ 0, NaN or infinite are ignored:
    /// the log domain cannot hold them, and a decayed *sum* of positive evidence is what the
    /// callers rank by.
    pub fn add(&mut self, decay: &ForwardDecay, weight: f64, at_ns: u64) {
        if !(weight > 0.0 && weight.is_finite()) {
            return;
        }
        let term = weight.log2() + decay.exponent(at_ns);
        debug_assert!(term.is_finite());
        let before = self.log2;
        self.log2 = log2_add_exp2(self.log2, term);
        debug_assert!(self.log2 >= before, "adding a positive weight must not lower the sum");
    }

    /// `Σ wᵢ · 2^(−(now − tᵢ)/h)`: the sum as seen at `now_ns`. Weights added after `now_ns`
    /// count more than their face value, as the formula says.
    pub fn value_at(&self, decay: &ForwardDecay, now_ns: u64) -> f64 {
        (self.log2 - decay.exponent(now_ns)).exp2()
    }

    /// A number that orders sums like `value_at(now)` does for every `now`, and never decreases
    /// under [`add`](Self::add): offer it to [`TopK`](crate::TopK). `-inf` for the empty sum.
    pub fn rank_key(&self) -> f64 {
        self.log2
    }
}

/// `log2(2^a + 2^b)` without forming `2^a` or `2^b`: factor out the larger term so the
/// remaining power is in (0, 1], and use `ln_1p` for accuracy when it is tiny.
fn log2_add_exp2(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp2().ln_1p() / std::f64::consts::LN_2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_is_exact_for_whole_half_lives_beyond_f64_integer_range() {
        let decay = ForwardDecay::new(1_000);
        // `t as f64` would round 2^60 + 1000 to 2^60 + 1024; the split keeps the exact step.
        let t = (1u64 << 60) + 1_000;
        assert_eq!(decay.exponent(t) - decay.exponent(1u64 << 60), 1.0);
    }

    #[test]
    fn log_add_exp_matches_linear_domain() {
        for (a, b) in [(0.0, 0.0), (3.0, -2.0), (-1074.0, 10.0), (1000.0, 999.0)] {
            let got = log2_add_exp2(a, b);
            let want = if a < 900.0 { (f64::exp2(a) + f64::exp2(b)).log2() } else { 1000.0 + (1.5f64).log2() };
            assert!((got - want).abs() < 1e-12, "{a} {b}: {got} vs {want}");
        }
        assert_eq!(log2_add_exp2(f64::NEG_INFINITY, 5.0), 5.0);
        assert_eq!(log2_add_exp2(5.0, f64::NEG_INFINITY), 5.0);
    }
}
