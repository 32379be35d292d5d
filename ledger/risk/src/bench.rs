//! `aurum bench risk`: detection quality and scoring speed on the labelled synthetic stream.
//!
//! Speed is measured twice over the same events, in the same run:
//! - **baseline**: each event passes through a stage that does no scoring — it is read, copied
//!   into an output buffer and counted (what a pipeline stage costs without the scorer);
//! - **scored**: the same stage, but each event is assessed and observed ([`Scorer::process`]).
//!
//! The ratio is what scoring costs. Latency is measured in a separate pass (timing every event
//! would slow the throughput pass): each `process` call is timed on its own, and the percentiles
//! are exact (all samples sorted).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use crate::event::TxEvent;
use crate::rules::RuleSet;
use crate::scorer::{Scorer, ScorerConfig};
use crate::synth::{Dataset, SYNTH_ASSET_CODE, SYNTH_ASSET_ID, SYNTH_ASSET_SCALE};

/// Throughput and latency figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedReport {
    /// Events per pass.
    pub events: u64,
    /// Pass-through events per second (no scoring).
    pub baseline_eps: f64,
    /// Scored events per second.
    pub scored_eps: f64,
    /// scored / baseline.
    pub ratio: f64,
    /// Latency percentiles of one `process` call, nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest.
    pub max_ns: u64,
    /// Latency of the baseline stage per event, 99th percentile, nanoseconds.
    pub baseline_p99_ns: u64,
}

fn scorer(rules: &Arc<RuleSet>, config: &ScorerConfig) -> Scorer {
    let mut s = Scorer::new(rules.clone(), config.clone());
    s.register_asset(SYNTH_ASSET_ID, SYNTH_ASSET_CODE, SYNTH_ASSET_SCALE).expect("synthetic asset fits the rules");
    s
}

/// The pass-through stage: forward the event to the output (what the scorer's caller does
/// anyway), no scoring.
#[inline(never)]
fn forward(out: &mut Vec<TxEvent>, e: &TxEvent) {
    if out.len() == out.capacity() {
        out.clear();
    }
    out.push(*e);
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Measure throughput and latency over the dataset's events.
pub fn speed(data: &Dataset, rules: Arc<RuleSet>, config: &ScorerConfig) -> SpeedReport {
    let events: Vec<TxEvent> = data.events.iter().map(|l| l.event).collect();
    let n = events.len() as u64;
    let mut out = Vec::with_capacity(4096);

    // Baseline pass.
    let t = Instant::now();
    for e in &events {
        forward(&mut out, black_box(e));
    }
    black_box(&out);
    let baseline_secs = t.elapsed().as_secs_f64();

    // Scored pass.
    let mut s = scorer(&rules, config);
    let mut alerts = 0u64;
    let t = Instant::now();
    for e in &events {
        let a = s.process(black_box(e));
        alerts += u64::from(a.alert);
        forward(&mut out, e);
    }
    black_box((&out, alerts));
    let scored_secs = t.elapsed().as_secs_f64();

    // Latency pass (fresh scorer, every call timed).
    let mut s = scorer(&rules, config);
    let mut lat = Vec::with_capacity(events.len());
    let mut base_lat = Vec::with_capacity(events.len());
    for e in &events {
        let t = Instant::now();
        forward(&mut out, black_box(e));
        base_lat.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        black_box(s.process(e));
        lat.push(t.elapsed().as_nanos() as u64);
    }
    lat.sort_unstable();
    base_lat.sort_unstable();

    let baseline_eps = n as f64 / baseline_secs.max(1e-9);
    let scored_eps = n as f64 / scored_secs.max(1e-9);
    SpeedReport {
        events: n,
        baseline_eps,
        scored_eps,
        ratio: scored_eps / baseline_eps,
        p50_ns: percentile(&lat, 0.50),
        p99_ns: percentile(&lat, 0.99),
        p999_ns: percentile(&lat, 0.999),
        max_ns: lat.last().copied().unwrap_or(0),
        baseline_p99_ns: percentile(&base_lat, 0.99),
    }
}
