//! Population Stability Index: how far a feature's current distribution has drifted from a
//! reference one.
//!
//! 1. [`Bins::from_reference`] cuts the reference sample at its quantiles, so each bin holds
//!    about the same share of the reference.
//! 2. A [`Histogram`] per window counts observations per bin.
//! 3. [`psi`] compares two histograms: `Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)` over bin proportions, the
//!    symmetric (Jeffreys) divergence of the binned distributions. It is 0 for identical
//!    proportions and grows with drift; [`PsiBand`] maps it to the customary verdicts.

use crate::error::StatsError;

/// Fewest bins a caller may ask for: one bin makes every PSI zero.
pub const MIN_PSI_BINS: usize = 2;

/// Most bins a caller may ask for. Beyond this each bin's proportion is so small that sampling
/// noise dominates the index for realistic window sizes (PSI's bias grows with bins/samples).
pub const MAX_PSI_BINS: usize = 100;

/// Floor applied to every bin proportion before taking logs, so an empty bin gives a large but
/// finite contribution instead of infinity. 1e-4 is below the resolution of a 10,000-observation
/// window, so it only matters for truly empty bins, and it caps one bin's term at
/// `1 · ln(1 / 1e-4) ≈ 9.2`: an empty bin that held 10% of the other side still adds
/// `0.1 · ln(1000) ≈ 0.69`, well past [`PSI_SIGNIFICANT_THRESHOLD`], so real drift is never
/// hidden. The floored proportions are not renormalised, as in the usual PSI definition.
pub const PSI_PROPORTION_FLOOR: f64 = 1e-4;

/// PSI at or above this is "moderate" drift (the customary credit-scoring band).
pub const PSI_MODERATE_THRESHOLD: f64 = 0.10;

/// PSI at or above this is "significant" drift.
pub const PSI_SIGNIFICANT_THRESHOLD: f64 = 0.25;

/// Bin boundaries for one feature, fixed from a reference sample.
///
/// `edges` are the interior cut points, strictly increasing; there are `edges.len() + 1` bins.
/// Bin `i` is `[edges[i-1], edges[i])`, with the first bin open to −∞ and the last to +∞, which is
/// the same as outer edges at the reference min and max with out-of-range values clamped into the
/// end bins, without the degenerate case of a min equal to the max.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    edges: Vec<f64>,
}

impl Bins {
    /// Quantile bins of `samples`, at most `max_bins` of them.
    ///
    /// Cut `i` (for `i` in `1..max_bins`) is the sample at sorted position `⌊i·n / max_bins⌋`.
    /// Equal cuts are merged, and a cut equal to the sample minimum is dropped, so every bin
    /// holds at least one reference value and heavily repeated values give fewer bins. A
    /// constant sample therefore gives a single bin, against which every PSI is 0: there is no
    /// spread to compare with, and a caller that cares should check [`len`](Self::len).
    ///
    /// Errors: empty sample, a NaN or infinite sample (first index reported), or `max_bins`
    /// outside `MIN_PSI_BINS..=MAX_PSI_BINS`.
    pub fn from_reference(samples: &[f64], max_bins: usize) -> Result<Bins, StatsError> {
        if !(MIN_PSI_BINS..=MAX_PSI_BINS).contains(&max_bins) {
            return Err(StatsError::BinCountOutOfRange { max_bins });
        }
        if samples.is_empty() {
            return Err(StatsError::EmptySample);
        }
        if let Some((index, &value)) = samples.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(StatsError::NonFiniteSample { index, value });
        }

        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let min = sorted[0];

        let mut edges: Vec<f64> = Vec::with_capacity(max_bins - 1);
        for i in 1..max_bins {
            // u128: i·n cannot overflow even for a slice of usize::MAX / 8 values.
            let pos = (i as u128 * n as u128 / max_bins as u128) as usize;
            let cut = sorted[pos];
            // `>` rather than `!=`: also merges -0.0 with 0.0, which bin_of treats as equal.
            if cut > min && edges.last().is_none_or(|&last| cut > last) {
                edges.push(cut);
            }
        }

        let bins = Bins { edges };
        debug_assert!(bins.edges.windows(2).all(|w| w[0] < w[1]), "cut points strictly increase");
        debug_assert!(bins.len() <= max_bins);
        debug_assert!(
            {
                let mut reference = Histogram::new(&bins);
                samples.iter().for_each(|&x| reference.observe(&bins, x));
                reference.counts().iter().all(|&c| c > 0)
            },
            "every bin holds at least one reference sample"
        );
        Ok(bins)
    }

    /// The bin `x` falls in: the number of cut points ≤ `x`. Values below the first cut go to
    /// bin 0 and values at or above the last cut to the last bin; +∞ lands in the last bin, and
    /// −∞ and NaN in bin 0 (use [`Histogram::observe`], which keeps non-finite values apart).
    pub fn bin_of(&self, x: f64) -> usize {
        self.edges.partition_point(|&edge| edge <= x)
    }

    /// Number of bins (cut points + 1, so at least 1).
    pub fn len(&self) -> usize {
        self.edges.len() + 1
    }

    /// Always false: there is at least one bin. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The interior cut points, strictly increasing.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }
}

/// Observation counts per bin for one window of a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    /// NaN and infinite observations: kept out of the bins (they have no place on the axis) but
    /// counted, so a feature that starts producing garbage is visible rather than silently thin.
    invalid: u64,
}

impl Histogram {
    /// An empty histogram over `bins`.
    pub fn new(bins: &Bins) -> Self {
        Histogram { counts: vec![0; bins.len()], invalid: 0 }
    }

    /// A histogram of counts made elsewhere (a database's `GROUP BY` over the same bins).
    pub fn from_counts(counts: Vec<u64>) -> Self {
        Histogram { counts, invalid: 0 }
    }

    /// Count `x`. Panics if `bins` has a different number of bins than this histogram was made
    /// with (a caller mixing features up).
    pub fn observe(&mut self, bins: &Bins, x: f64) {
        assert_eq!(bins.len(), self.counts.len(), "histogram observed with bins of another shape");
        if x.is_finite() {
            self.counts[bins.bin_of(x)] += 1;
        } else {
            self.invalid += 1;
        }
    }

    /// Finite observations counted (excludes [`invalid`](Self::invalid)).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Count per bin.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// NaN and infinite observations, which are in no bin.
    pub fn invalid(&self) -> u64 {
        self.invalid
    }

    /// Reset every count to zero, keeping the shape (to reuse for the next window).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.invalid = 0;
    }
}

/// Population Stability Index of `actual` against `expected`: `Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)` over
/// bin proportions, each floored at [`PSI_PROPORTION_FLOOR`]. Always finite and ≥ 0.
///
/// Errors: the histograms have different bin counts, or either has no finite observations.
pub fn psi(expected: &Histogram, actual: &Histogram) -> Result<f64, StatsError> {
    if expected.counts.len() != actual.counts.len() {
        return Err(StatsError::BinCountMismatch { expected: expected.counts.len(), actual: actual.counts.len() });
    }
    let expected_total = expected.total();
    if expected_total == 0 {
        return Err(StatsError::EmptyHistogram { which: "expected" });
    }
    let actual_total = actual.total();
    if actual_total == 0 {
        return Err(StatsError::EmptyHistogram { which: "actual" });
    }

    let mut sum = 0.0;
    for (&e, &a) in expected.counts.iter().zip(&actual.counts) {
        let e = (e as f64 / expected_total as f64).max(PSI_PROPORTION_FLOOR);
        let a = (a as f64 / actual_total as f64).max(PSI_PROPORTION_FLOOR);
        // Both factors share a sign, so every term is ≥ 0 even after rounding.
        sum += (a - e) * (a / e).ln();
    }
    assert!(sum.is_finite() && sum >= 0.0, "PSI must be finite and non-negative, got {sum}");
    Ok(sum)
}

/// The customary reading of a PSI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PsiBand {
    /// Below [`PSI_MODERATE_THRESHOLD`]: no meaningful shift.
    Stable,
    /// From [`PSI_MODERATE_THRESHOLD`] up to [`PSI_SIGNIFICANT_THRESHOLD`]: worth a look.
    Moderate,
    /// At or above [`PSI_SIGNIFICANT_THRESHOLD`]: the population has shifted.
    Significant,
}

impl PsiBand {
    /// The band of `psi`. NaN reads as `Significant`: a broken index should raise an alarm, not
    /// pass as stable.
    pub fn of(psi: f64) -> PsiBand {
        if psi < PSI_MODERATE_THRESHOLD {
            PsiBand::Stable
        } else if psi < PSI_SIGNIFICANT_THRESHOLD {
            PsiBand::Moderate
        } else {
            PsiBand::Significant
        }
    }

    /// `"stable"`, `"moderate"` or `"significant"` (for reports and metrics labels).
    pub fn as_str(&self) -> &'static str {
        match self {
            PsiBand::Stable => "stable",
            PsiBand::Moderate => "moderate",
            PsiBand::Significant => "significant",
        }
    }
}

impl std::fmt::Display for PsiBand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
