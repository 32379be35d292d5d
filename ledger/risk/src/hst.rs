//! Half-Space Trees (Tan, Ting and Liu, "Fast Anomaly Detection for Streaming Data", IJCAI 2011):
//! an online anomaly model with constant time and memory per event.
//!
//! Each tree halves a randomly perturbed unit hypercube along random dimensions down to a fixed
//! depth. Events are counted along their path in the *latest* window; when a window of
//! [`HstConfig::window`] events completes, its counts become the *reference* mass and counting
//! starts again. An event's raw score is the reference mass of the deepest node on its path that
//! still has at least `size_limit` mass, times 2^depth: dense regions score high, rare ones low.
//!
//! Raw masses are not comparable across trees, windows or data sets, so the model reports a
//! calibrated score: the share of recent events whose raw mass was *higher* than this one's
//! (kept in a decaying histogram of log₂ mass). 0.99 means "rarer than 99 % of recent traffic".
//! The score is 0 until the first window has completed (no reference yet).

use aurum_vfs::rng::SplitMix64;

use crate::features::{Feature, FeatureVector};

/// Dimensions the model sees (derived from the feature vector by [`inputs`]).
pub const MODEL_DIMS: usize = 10;
/// Histogram bins of log₂ raw mass for the calibration.
const CALIBRATION_BINS: usize = 128;
/// Largest tree depth accepted (2^(depth+1) nodes per tree).
pub const MAX_DEPTH: u32 = 16;
/// Most trees accepted.
pub const MAX_TREES: usize = 256;

/// Model settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HstConfig {
    /// Number of trees.
    pub trees: usize,
    /// Depth of each tree.
    pub depth: u32,
    /// Events per window.
    pub window: u32,
    /// Seed of the random tree structure (the model is deterministic for a seed).
    pub seed: u64,
}

impl Default for HstConfig {
    fn default() -> Self {
        HstConfig { trees: 25, depth: 10, window: 4096, seed: 0x4853_5431 }
    }
}

/// Map features to the model's unit hypercube. Counts and days are log-scaled so that the
/// difference between 1 and 5 matters more than between 500 and 504.
pub fn inputs(f: &FeatureVector) -> [f64; MODEL_DIMS] {
    let log_scaled = |v: f64, max: f64| ((v.max(0.0)).ln_1p() / max.ln_1p()).min(1.0);
    [
        ((f.get(Feature::AmountZ) + 4.0) / 12.0).clamp(0.0, 1.0),
        log_scaled(f.get(Feature::OutCount1h), 64.0),
        log_scaled(f.get(Feature::FanOut1h), 64.0),
        log_scaled(f.get(Feature::FanIn1h), 64.0),
        f.get(Feature::NewCounterparty).clamp(0.0, 1.0),
        (f.get(Feature::PassThrough) / 2.0).clamp(0.0, 1.0),
        log_scaled(f.get(Feature::DormantDays), 365.0),
        (1.0 - f.get(Feature::HourShare)).clamp(0.0, 1.0),
        log_scaled(f.get(Feature::ReceiverInPerDay), 1000.0),
        log_scaled(f.get(Feature::HistoryCount), 10_000.0),
    ]
}

#[derive(Debug, Clone)]
struct Tree {
    /// Per internal node: split dimension and value.
    split_dim: Vec<u8>,
    split_at: Vec<f64>,
    /// Per node (heap order, root 0): reference and latest mass.
    reference: Vec<u32>,
    latest: Vec<u32>,
}

/// The model.
#[derive(Debug, Clone)]
pub struct HalfSpaceTrees {
    config: HstConfig,
    trees: Vec<Tree>,
    in_window: u32,
    windows_done: u64,
    size_limit: u32,
    calibration: [f64; CALIBRATION_BINS],
    calibration_total: f64,
}

impl HalfSpaceTrees {
    /// A fresh model.
    pub fn new(config: HstConfig) -> HalfSpaceTrees {
        assert!((1..=MAX_TREES).contains(&config.trees), "trees must be 1..={MAX_TREES}");
        assert!((1..=MAX_DEPTH).contains(&config.depth), "depth must be 1..={MAX_DEPTH}");
        assert!(config.window >= 16, "window must be at least 16 events");
        let mut rng = SplitMix64::new(config.seed);
        let unit = |rng: &mut SplitMix64| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let internal = (1usize << config.depth) - 1;
        let nodes = (1usize << (config.depth + 1)) - 1;
        let trees = (0..config.trees)
            .map(|_| {
                // The paper's perturbed workspace: each dimension's range is [s - 2r, s + 2r]
                // with s uniform in [0, 1] and r = max(s, 1 - s), so splits differ per tree.
                let mut lo = [0f64; MODEL_DIMS];
                let mut hi = [0f64; MODEL_DIMS];
                for d in 0..MODEL_DIMS {
                    let s = unit(&mut rng);
                    let r = s.max(1.0 - s);
                    lo[d] = s - 2.0 * r;
                    hi[d] = s + 2.0 * r;
                }
                let mut split_dim = vec![0u8; internal];
                let mut split_at = vec![0f64; internal];
                // Depth-first over the complete tree, carrying each node's box.
                let mut stack = vec![(0usize, lo, hi)];
                while let Some((node, lo, hi)) = stack.pop() {
                    if node >= internal {
                        continue;
                    }
                    let d = rng.below(MODEL_DIMS as u64) as usize;
                    let mid = (lo[d] + hi[d]) / 2.0;
                    split_dim[node] = d as u8;
                    split_at[node] = mid;
                    let (mut left_hi, mut right_lo) = (hi, lo);
                    left_hi[d] = mid;
                    right_lo[d] = mid;
                    stack.push((2 * node + 1, lo, left_hi));
                    stack.push((2 * node + 2, right_lo, hi));
                }
                Tree { split_dim, split_at, reference: vec![0; nodes], latest: vec![0; nodes] }
            })
            .collect();
        HalfSpaceTrees {
            config,
            trees,
            in_window: 0,
            windows_done: 0,
            size_limit: (config.window / 10).max(1),
            calibration: [0.0; CALIBRATION_BINS],
            calibration_total: 0.0,
        }
    }

    /// The settings.
    pub fn config(&self) -> HstConfig {
        self.config
    }

    fn raw_mass(&self, x: &[f64; MODEL_DIMS]) -> f64 {
        let internal = self.trees[0].split_dim.len();
        let mut total = 0.0;
        for t in &self.trees {
            let mut node = 0usize;
            let mut depth = 0i32;
            loop {
                let is_leaf = node >= internal;
                let child = if is_leaf {
                    node
                } else if x[t.split_dim[node] as usize] < t.split_at[node] {
                    2 * node + 1
                } else {
                    2 * node + 2
                };
                if is_leaf || t.reference[child] < self.size_limit {
                    total += f64::from(t.reference[node]) * f64::powi(2.0, depth);
                    break;
                }
                node = child;
                depth += 1;
            }
        }
        total
    }

    fn bin_of(mass: f64) -> usize {
        // log₂(1 + mass) over [0, 64): more than enough for 256 trees × 2^16 × 2^32.
        (((mass.ln_1p() / std::f64::consts::LN_2) * 2.0) as usize).min(CALIBRATION_BINS - 1)
    }

    /// Score `x` in [0, 1] (higher: more anomalous) without learning from it.
    pub fn score(&self, x: &[f64; MODEL_DIMS]) -> f64 {
        if self.windows_done == 0 || self.calibration_total <= 0.0 {
            return 0.0;
        }
        let bin = Self::bin_of(self.raw_mass(x));
        // Share of recent events that were in strictly denser places than this one.
        let denser: f64 = self.calibration[bin + 1..].iter().sum();
        (denser / self.calibration_total).clamp(0.0, 1.0)
    }

    /// Learn from `x` (count it in the latest window; roll windows).
    pub fn learn(&mut self, x: &[f64; MODEL_DIMS]) {
        if self.windows_done > 0 {
            let bin = Self::bin_of(self.raw_mass(x));
            self.calibration[bin] += 1.0;
            self.calibration_total += 1.0;
        }
        let internal = self.trees[0].split_dim.len();
        for t in &mut self.trees {
            let mut node = 0usize;
            loop {
                t.latest[node] += 1;
                if node >= internal {
                    break;
                }
                node = if x[t.split_dim[node] as usize] < t.split_at[node] { 2 * node + 1 } else { 2 * node + 2 };
            }
        }
        self.in_window += 1;
        if self.in_window == self.config.window {
            for t in &mut self.trees {
                std::mem::swap(&mut t.reference, &mut t.latest);
                t.latest.iter_mut().for_each(|m| *m = 0);
                debug_assert_eq!(t.reference[0], self.config.window);
            }
            // Older calibration fades: each window halves the weight of what came before.
            self.calibration.iter_mut().for_each(|c| *c /= 2.0);
            self.calibration_total /= 2.0;
            self.in_window = 0;
            self.windows_done += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_points_score_higher_than_the_crowd() {
        let mut m = HalfSpaceTrees::new(HstConfig { trees: 25, depth: 8, window: 256, seed: 1 });
        let mut rng = SplitMix64::new(7);
        let mut crowd = || {
            let mut x = [0.0; MODEL_DIMS];
            for v in &mut x {
                *v = 0.2 + 0.1 * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64);
            }
            x
        };
        assert_eq!(m.score(&crowd()), 0.0, "no reference yet");
        for _ in 0..2048 {
            let x = crowd();
            m.learn(&x);
        }
        let normal: f64 = (0..200).map(|_| m.score(&crowd())).sum::<f64>() / 200.0;
        let outlier = m.score(&[0.9; MODEL_DIMS]);
        assert!(outlier > 0.95, "outlier {outlier}");
        assert!(normal < 0.7, "normal {normal}");
        // Deterministic for a seed.
        let mut a = HalfSpaceTrees::new(HstConfig { trees: 5, depth: 6, window: 64, seed: 3 });
        let mut b = a.clone();
        for i in 0..200 {
            let x = [f64::from(i % 7) / 7.0; MODEL_DIMS];
            a.learn(&x);
            b.learn(&x);
        }
        assert_eq!(a.score(&[0.5; MODEL_DIMS]), b.score(&[0.5; MODEL_DIMS]));
    }
}
