//! Feature drift: the Population Stability Index of each monitored feature, comparing the most
//! recent complete window of traffic with a reference sample.
//!
//! The first [`DriftConfig::reference_events`] observed transfers are the reference: their
//! quantiles cut each feature into at most [`DriftConfig::bins`] bins. After that, traffic is
//! counted in windows of [`DriftConfig::window_events`]; when a window completes, its PSI per
//! feature is computed and banded (stable < 0.10 ≤ moderate < 0.25 ≤ significant). The reference
//! stays fixed until [`DriftMonitor::rebase`] — drift is measured against a known-good period,
//! not against yesterday (which would drift along with a slow shift and never fire).

use aurum_stats::{Bins, Histogram, PsiBand, psi};

use crate::features::{Feature, FeatureVector};

/// Settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftConfig {
    /// Transfers in the reference sample.
    pub reference_events: usize,
    /// Transfers per monitoring window.
    pub window_events: u64,
    /// Most bins per feature.
    pub bins: usize,
    /// Features monitored.
    pub features: Vec<Feature>,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            reference_events: 20_000,
            window_events: 20_000,
            bins: 10,
            features: vec![
                Feature::Amount,
                Feature::AmountZ,
                Feature::OutCount1h,
                Feature::FanOut1h,
                Feature::FanIn1h,
                Feature::HourShare,
                Feature::DormantDays,
                Feature::ModelScore,
            ],
        }
    }
}

/// One feature's drift in the last complete window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureDrift {
    /// The feature.
    pub feature: Feature,
    /// Its PSI.
    pub psi: f64,
    /// Its band.
    pub band: PsiBand,
}

#[derive(Debug)]
enum Phase {
    Collecting(Vec<Vec<f64>>),
    Monitoring { bins: Vec<Bins>, expected: Vec<Histogram>, current: Vec<Histogram>, in_window: u64 },
}

/// The monitor.
#[derive(Debug)]
pub struct DriftMonitor {
    config: DriftConfig,
    phase: Phase,
    last: Vec<FeatureDrift>,
    windows: u64,
}

impl DriftMonitor {
    /// A monitor that starts by collecting its reference.
    pub fn new(config: DriftConfig) -> DriftMonitor {
        assert!(config.reference_events >= 2 && config.window_events >= 1, "drift windows must be non-trivial");
        let phase = Phase::Collecting(vec![Vec::new(); config.features.len()]);
        DriftMonitor { config, phase, last: Vec::new(), windows: 0 }
    }

    /// Forget the reference and collect a new one (after a reviewed, accepted change in traffic).
    pub fn rebase(&mut self) {
        self.phase = Phase::Collecting(vec![Vec::new(); self.config.features.len()]);
        self.last.clear();
    }

    /// Count one transfer's features.
    pub fn observe(&mut self, f: &FeatureVector) {
        match &mut self.phase {
            Phase::Collecting(samples) => {
                for (s, feature) in samples.iter_mut().zip(&self.config.features) {
                    s.push(f.get(*feature));
                }
                if samples[0].len() >= self.config.reference_events {
                    let mut bins = Vec::new();
                    let mut expected = Vec::new();
                    for s in samples.iter() {
                        // Features are finite by construction and the sample is non-empty.
                        let b = Bins::from_reference(s, self.config.bins).expect("finite, non-empty reference");
                        let mut h = Histogram::new(&b);
                        s.iter().for_each(|x| h.observe(&b, *x));
                        expected.push(h);
                        bins.push(b);
                    }
                    let current = bins.iter().map(Histogram::new).collect();
                    self.phase = Phase::Monitoring { bins, expected, current, in_window: 0 };
                }
            }
            Phase::Monitoring { bins, expected, current, in_window } => {
                for ((b, h), feature) in bins.iter().zip(current.iter_mut()).zip(&self.config.features) {
                    h.observe(b, f.get(*feature));
                }
                *in_window += 1;
                if *in_window == self.config.window_events {
                    self.last = self
                        .config
                        .features
                        .iter()
                        .zip(expected.iter().zip(current.iter()))
                        .map(|(feature, (e, c))| {
                            let v = psi(e, c).expect("same bins, non-empty histograms");
                            FeatureDrift { feature: *feature, psi: v, band: PsiBand::of(v) }
                        })
                        .collect();
                    current.iter_mut().for_each(Histogram::clear);
                    *in_window = 0;
                    self.windows += 1;
                }
            }
        }
    }

    /// Drift of the last complete window (empty until the reference and one window are done).
    pub fn last(&self) -> &[FeatureDrift] {
        &self.last
    }

    /// Complete windows measured since the reference.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// The worst band of the last window.
    pub fn worst(&self) -> Option<PsiBand> {
        self.last.iter().map(|d| d.band).max_by_key(|b| match b {
            PsiBand::Stable => 0,
            PsiBand::Moderate => 1,
            PsiBand::Significant => 2,
        })
    }

    /// Still collecting the reference?
    pub fn collecting(&self) -> bool {
        matches!(self.phase, Phase::Collecting(_))
    }
}
