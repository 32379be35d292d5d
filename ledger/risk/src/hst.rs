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

/// The model's verdict on one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelScore {
    /// In [0, 1]; higher is more anomalous.
    pub score: f64,
    /// Calibration bin of its raw mass (`None` before the first window completed).
    bin: Option<usize>,
}

impl ModelScore {
    /// A score for a point that was already learned (nothing left to reuse).
    pub fn learned(score: f64) -> ModelScore {
        ModelScore { score, bin: None }
    }
}

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

/// One node, packed so that a step down the tree touches one cache line.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    /// Split value (internal nodes).
    split_at: f32,
    /// Split dimension (internal nodes).
    dim: u8,
    /// Mass of the last complete window.
    reference: u32,
    /// Mass of the window being counted.
    latest: u32,
}

/// A complete binary tree in heap order (root 0, children 2i+1 and 2i+2).
#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

fn to_f32(x: &[f64; MODEL_DIMS]) -> [f32; MODEL_DIMS] {
    let mut out = [0f32; MODEL_DIMS];
    for (o, v) in out.iter_mut().zip(x) {
        *o = *v as f32;
    }
    out
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
                let mut nodes = vec![Node::default(); nodes];
                // Depth-first over the complete tree, carrying each node's box.
                let mut stack = vec![(0usize, lo, hi)];
                while let Some((node, lo, hi)) = stack.pop() {
                    if node >= internal {
                        continue;
                    }
                    let d = rng.below(MODEL_DIMS as u64) as usize;
                    let mid = (lo[d] + hi[d]) / 2.0;
                    nodes[node].dim = d as u8;
                    nodes[node].split_at = mid as f32;
                    let (mut left_hi, mut right_lo) = (hi, lo);
                    left_hi[d] = mid;
                    right_lo[d] = mid;
                    stack.push((2 * node + 1, lo, left_hi));
                    stack.push((2 * node + 2, right_lo, hi));
                }
                Tree { nodes }
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

    fn internal_nodes(&self) -> usize {
        (1usize << self.config.depth) - 1
    }

    /// Σ over trees of the reference mass at the deepest node of x's path that still holds
    /// `size_limit`, times 2^depth. With `learn`, also counts x along its whole path in the latest
    /// window — in the same walk (the score reads only reference masses, so it is unaffected).
    fn walk(&mut self, x: &[f32; MODEL_DIMS], learn: bool) -> f64 {
        let internal = self.internal_nodes();
        let limit = self.size_limit;
        let mut total = 0.0;
        for t in &mut self.trees {
            let nodes = &mut t.nodes;
            let mut node = 0usize;
            let mut depth = 0u32;
            let mut scored = false;
            loop {
                if learn {
                    nodes[node].latest += 1;
                }
                let is_leaf = node >= internal;
                let child = if is_leaf {
                    node
                } else if x[nodes[node].dim as usize] < nodes[node].split_at {
                    2 * node + 1
                } else {
                    2 * node + 2
                };
                if !scored && (is_leaf || nodes[child].reference < limit) {
                    total += f64::from(nodes[node].reference) * (1u64 << depth) as f64;
                    scored = true;
                    if !learn {
                        break;
                    }
                }
                if is_leaf {
                    break;
                }
                node = child;
                depth += 1;
            }
        }
        total
    }

    fn raw_mass(&self, x: &[f32; MODEL_DIMS]) -> f64 {
        let internal = self.internal_nodes();
        let mut total = 0.0;
        for t in &self.trees {
            let nodes = &t.nodes;
            let mut node = 0usize;
            let mut depth = 0u32;
            loop {
                let is_leaf = node >= internal;
                let child = if is_leaf {
                    node
                } else if x[nodes[node].dim as usize] < nodes[node].split_at {
                    2 * node + 1
                } else {
                    2 * node + 2
                };
                if is_leaf || nodes[child].reference < self.size_limit {
                    total += f64::from(nodes[node].reference) * (1u64 << depth) as f64;
                    break;
                }
                node = child;
                depth += 1;
            }
        }
        total
    }

    /// Score `x` against the current reference, then learn it: one walk per tree instead of
    /// two. Identical to [`HalfSpaceTrees::assess`] followed by [`HalfSpaceTrees::learn`].
    pub fn score_and_learn(&mut self, x: &[f64; MODEL_DIMS]) -> f64 {
        let xf = to_f32(x);
        let mass = self.walk(&xf, true);
        let score = if self.windows_done > 0 {
            let bin = Self::bin_of(mass);
            let denser: f64 = self.calibration[bin + 1..].iter().sum();
            let score =
                if self.calibration_total > 0.0 { (denser / self.calibration_total).clamp(0.0, 1.0) } else { 0.0 };
            self.calibration[bin] += 1.0;
            self.calibration_total += 1.0;
            score
        } else {
            0.0
        };
        self.end_of_event();
        score
    }

    fn bin_of(mass: f64) -> usize {
        // log₂(1 + mass) over [0, 64): more than enough for 256 trees × 2^16 × 2^32.
        (((mass.ln_1p() / std::f64::consts::LN_2) * 2.0) as usize).min(CALIBRATION_BINS - 1)
    }

    /// Score `x` in [0, 1] (higher: more anomalous) without learning from it.
    pub fn score(&self, x: &[f64; MODEL_DIMS]) -> f64 {
        self.assess(x).score
    }

    /// Score `x` and keep what [`HalfSpaceTrees::learn`] needs to learn it without walking the
    /// trees a second time.
    pub fn assess(&self, x: &[f64; MODEL_DIMS]) -> ModelScore {
        if self.windows_done == 0 {
            return ModelScore { score: 0.0, bin: None };
        }
        let bin = Self::bin_of(self.raw_mass(&to_f32(x)));
        // Share of recent events that were in strictly denser places than this one.
        let denser: f64 = self.calibration[bin + 1..].iter().sum();
        let score = if self.calibration_total > 0.0 { (denser / self.calibration_total).clamp(0.0, 1.0) } else { 0.0 };
        ModelScore { score, bin: Some(bin) }
    }

    /// Learn from `x` (count it in the latest window; roll windows). `scored` is its assessment
    /// against the current reference, if the caller has one.
    pub fn learn(&mut self, x: &[f64; MODEL_DIMS], scored: Option<ModelScore>) {
        if self.windows_done > 0 {
            let bin = match scored.and_then(|s| s.bin) {
                Some(bin) => bin,
                None => Self::bin_of(self.raw_mass(&to_f32(x))),
            };
            self.calibration[bin] += 1.0;
            self.calibration_total += 1.0;
        }
        let xf = to_f32(x);
        self.walk(&xf, true);
        self.end_of_event();
    }

    /// Count the event and roll the window when it is full.
    fn end_of_event(&mut self) {
        self.in_window += 1;
        if self.in_window == self.config.window {
            for t in &mut self.trees {
                for n in &mut t.nodes {
                    n.reference = n.latest;
                    n.latest = 0;
                }
                debug_assert_eq!(t.nodes[0].reference, self.config.window);
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
            m.learn(&x, None);
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
            a.learn(&x, None);
            b.learn(&x, Some(b.assess(&x)));
        }
        assert_eq!(a.score(&[0.5; MODEL_DIMS]), b.score(&[0.5; MODEL_DIMS]));
        // The fused walk is the same as score-then-learn.
        let mut c = a.clone();
        let mut d = a.clone();
        for i in 0..300 {
            let x = [f64::from((i * 7) % 11) / 11.0; MODEL_DIMS];
            let fused = c.score_and_learn(&x);
            let separate = d.score(&x);
            d.learn(&x, None);
            assert_eq!(fused, separate);
        }
    }
}
