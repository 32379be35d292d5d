//! Precision, recall and F1 per pattern of a rule set on a labelled stream.
//!
//! Every transfer of the stream is scored and then observed, in order, as the journal stream
//! would. Only transfers after the warm-up count. For each pattern P:
//! - a transfer is *flagged P* when a rule of pattern P fires on it;
//! - precision = flagged-P transfers that carry the label P / flagged-P transfers;
//! - recall = incidents of P with at least one flagged-P transfer / incidents of P (an incident is
//!   caught when an analyst gets one alert for it: a structuring incident is only visible from
//!   its third transfer, a fan-in from its fifth sender);
//! - F1 = their harmonic mean.
//!
//! Flags of another pattern on a labelled transfer count against that other pattern's precision:
//! attribution must be right, not merely "something fired".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use crate::rules::RuleSet;
use crate::scorer::{Scorer, ScorerConfig};
use crate::synth::{Dataset, Pattern, SYNTH_ASSET_CODE, SYNTH_ASSET_ID, SYNTH_ASSET_SCALE};

/// One pattern's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternMetrics {
    /// The pattern.
    pub pattern: Pattern,
    /// Incidents injected after the warm-up.
    pub incidents: u32,
    /// Incidents with at least one flagged-P transfer.
    pub detected: u32,
    /// Transfers flagged P.
    pub flagged: u64,
    /// Of those, labelled P.
    pub true_flagged: u64,
    /// true_flagged / flagged (1 when nothing was flagged and nothing injected, else 0).
    pub precision: f64,
    /// detected / incidents.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Per pattern, in [`Pattern::ALL`] order.
    pub patterns: Vec<PatternMetrics>,
    /// Transfers after the warm-up.
    pub scored: u64,
    /// Of those, normal traffic that raised an alert (score ≥ alert_at).
    pub false_alerts: u64,
    /// Normal transfers after the warm-up.
    pub normal: u64,
    /// Wall time of the whole run (scoring + observing every transfer), seconds.
    pub seconds: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Run `rules` over the stream and measure.
pub fn evaluate(data: &Dataset, rules: Arc<RuleSet>, config: ScorerConfig) -> Evaluation {
    let mut scorer = Scorer::new(rules, config);
    scorer
        .register_asset(SYNTH_ASSET_ID, SYNTH_ASSET_CODE, SYNTH_ASSET_SCALE)
        .expect("the synthetic asset fits the rules' thresholds");
    let mut flagged: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut detected: BTreeSet<u32> = BTreeSet::new();
    let mut incidents: BTreeMap<Pattern, BTreeSet<u32>> = BTreeMap::new();
    let (mut scored, mut false_alerts, mut normal) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    for l in &data.events {
        let a = scorer.process(&l.event);
        if l.event.ts_ns < data.warmup_end_ns {
            continue;
        }
        scored += 1;
        if let Some(label) = l.label {
            incidents.entry(label.pattern).or_default().insert(label.incident);
        } else {
            normal += 1;
            false_alerts += u64::from(a.alert);
        }
        for p in Pattern::ALL {
            if a.has_pattern(p.name()) {
                let entry = flagged.entry(p.name()).or_default();
                entry.0 += 1;
                if let Some(label) = l.label.filter(|x| x.pattern == p) {
                    entry.1 += 1;
                    detected.insert(label.incident);
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let patterns = Pattern::ALL
        .iter()
        .map(|p| {
            let ids = incidents.get(p).cloned().unwrap_or_default();
            let caught = ids.iter().filter(|i| detected.contains(i)).count() as u32;
            let (f, t) = flagged.get(p.name()).copied().unwrap_or_default();
            let precision = ratio(t, f);
            let recall = ratio(u64::from(caught), ids.len() as u64);
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            PatternMetrics {
                pattern: *p,
                incidents: ids.len() as u32,
                detected: caught,
                flagged: f,
                true_flagged: t,
                precision,
                recall,
                f1,
            }
        })
        .collect();
    Evaluation { patterns, scored, false_alerts, normal, seconds }
}
