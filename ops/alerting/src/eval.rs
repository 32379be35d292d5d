//! The alert state machine. Per rule and series: `inactive` → `pending` (the condition holds,
//! its `for` has not yet passed) → `firing` (a firing notification) → back to `inactive` when the
//! condition stops holding or the series disappears (a resolve notification, only after a
//! firing). A pending alert whose condition stops holding goes quietly.
//!
//! **Deduplication**: one notification per transition. The state is plain data
//! ([`AlertStates`]) that the caller persists after each evaluation, so a restart neither
//! re-sends a firing alert nor forgets to resolve one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::Rule;
use crate::samples::Sample;

/// Where an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The condition holds; waiting for `for`.
    Pending,
    /// Notified as firing.
    Firing,
}

/// One alert that is pending or firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// The rule.
    pub rule: String,
    /// Pending or firing.
    pub phase: Phase,
    /// When the condition started to hold (ms).
    pub since_ms: i64,
    /// The last value seen.
    pub value: f64,
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
}

/// Every pending or firing alert, by key (persist it between evaluations).
pub type AlertStates = BTreeMap<String, AlertState>;

/// A firing or a resolve, to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `firing` or `resolved`.
    pub status: String,
    /// The rule.
    pub rule: String,
    /// Its severity.
    pub severity: String,
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The value that fired it (the last one seen, for a resolve).
    pub value: f64,
    /// The filled-in summary.
    pub summary: String,
    /// When the condition started to hold (ms).
    pub since_ms: i64,
    /// When this transition happened (ms).
    pub at_ms: i64,
}

fn key(rule: &str, labels: &BTreeMap<String, String>) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{rule}{{{}}}", l.join(","))
}

fn summary(rule: &Rule, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut s = rule.summary.replace("{{value}}", &format_value(value));
    for (k, v) in labels {
        s = s.replace(&format!("{{{{labels.{k}}}}}"), v);
    }
    s
}

/// `v`, or the nearest finite value (NaN reads as 0): JSON, where alert state is kept, has no
/// NaN or infinity.
fn finite(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(f64::MIN, f64::MAX) }
}

/// A value for reading: integers without a fraction, others to 3 places.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.3}") }
}

/// Evaluate `rules` on `samples` at `now_ms`, moving `states`; the notifications to send.
pub fn evaluate(rules: &[Rule], samples: &[Sample], states: &mut AlertStates, now_ms: i64) -> Vec<Notification> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for rule in rules {
        for s in rule.matching(samples) {
            let k = key(&rule.name, &s.labels);
            seen.insert(k.clone());
            let st = states.entry(k).or_insert_with(|| AlertState {
                rule: rule.name.clone(),
                phase: Phase::Pending,
                since_ms: now_ms,
                value: finite(s.value),
                labels: s.labels.clone(),
            });
            // Kept finite: the state is saved as JSON, which has no NaN or infinity.
            st.value = finite(s.value);
            let held = u64::try_from(now_ms.saturating_sub(st.since_ms)).unwrap_or(0);
            if st.phase == Phase::Pending && held >= rule.for_ms {
                st.phase = Phase::Firing;
                out.push(Notification {
                    status: "firing".into(),
                    rule: rule.name.clone(),
                    severity: rule.severity.clone(),
                    labels: s.labels.clone(),
                    value: finite(s.value),
                    summary: summary(rule, &s.labels, s.value),
                    since_ms: st.since_ms,
                    at_ms: now_ms,
                });
            }
        }
    }
    // Alerts whose condition no longer holds (or whose rule is gone).
    let gone: Vec<String> = states.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    for k in gone {
        let st = states.remove(&k).expect("listed above");
        if st.phase == Phase::Firing {
            let rule_name = st.rule.clone();
            let rule = rules.iter().find(|r| r.name == rule_name);
            out.push(Notification {
                status: "resolved".into(),
                rule: rule_name,
                severity: rule.map_or_else(|| "warning".into(), |r| r.severity.clone()),
                labels: st.labels.clone(),
                value: st.value,
                summary: rule.map_or_else(String::new, |r| summary(r, &st.labels, st.value)),
                since_ms: st.since_ms,
                at_ms: now_ms,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(v: f64) -> Vec<Sample> {
        vec![Sample { name: "lag".into(), labels: BTreeMap::from([("g".into(), "a".into())]), value: v }]
    }

    #[test]
    fn an_alert_waits_for_its_duration_fires_once_and_resolves_once() {
        let rules = crate::rules::parse(
            "[[rules]]\nname = \"Lag\"\nexpr = \"lag > 10\"\nfor = \"1m\"\nsummary = \"lag {{value}} on {{labels.g}}\"",
        )
        .unwrap();
        let mut st = AlertStates::new();
        assert!(evaluate(&rules, &sample(5.0), &mut st, 0).is_empty());
        assert!(evaluate(&rules, &sample(50.0), &mut st, 1_000).is_empty(), "pending");
        assert!(evaluate(&rules, &sample(50.0), &mut st, 60_999).is_empty(), "not yet a minute");
        let fired = evaluate(&rules, &sample(70.0), &mut st, 61_000);
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].status.as_str(), fired[0].summary.as_str()), ("firing", "lag 70 on a"));
        assert!(evaluate(&rules, &sample(80.0), &mut st, 62_000).is_empty(), "no duplicate");
        let resolved = evaluate(&rules, &sample(1.0), &mut st, 63_000);
        assert_eq!(resolved.len(), 1);
        assert_eq!((resolved[0].status.as_str(), resolved[0].value), ("resolved", 80.0));
        assert!(st.is_empty());
        // Pending and then quiet: no notification at all.
        assert!(evaluate(&rules, &sample(50.0), &mut st, 70_000).is_empty());
        assert!(evaluate(&rules, &[], &mut st, 71_000).is_empty());
        assert!(st.is_empty());
    }
}
