//! Alert rules: a TOML file of `[[rules]]`, each a threshold on a metric's series.
//!
//! ```toml
//! [[rules]]
//! name = "JournalStale"
//! expr = 'aurum_journal_head_age_seconds > 300'
//! for = "5m"                 # how long it must hold before firing (default: at once)
//! severity = "page"          # free text, passed on (default "warning")
//! summary = "no journal block for {{value}} s"   # {{value}} and {{labels.NAME}} are filled in
//! ```
//!
//! `expr` is `metric{label="value",…} OP number` with OP one of `>`, `>=`, `<`, `<=`, `==`,
//! `!=`. Every series of the metric whose labels include the matchers is its own alert.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::AlertError;
use crate::samples::Sample;

/// Most rules in a file.
pub const MAX_RULES: usize = 200;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn holds(self, v: f64, t: f64) -> bool {
        match self {
            Op::Gt => v > t,
            Op::Ge => v >= t,
            Op::Lt => v < t,
            Op::Le => v <= t,
            Op::Eq => v == t,
            Op::Ne => v != t,
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// The metric.
    pub metric: String,
    /// Label matchers (all must be equal).
    pub matchers: BTreeMap<String, String>,
    /// The comparison.
    pub op: Op,
    /// The threshold.
    pub threshold: f64,
    /// How long the condition must hold before the alert fires.
    pub for_ms: u64,
    /// Passed on in notifications.
    pub severity: String,
    /// The message template.
    pub summary: String,
    /// The expression as written.
    pub expr: String,
}

impl Rule {
    /// The series this rule watches that meet its condition, with their values.
    pub fn matching<'a>(&self, samples: &'a [Sample]) -> Vec<&'a Sample> {
        samples
            .iter()
            .filter(|s| s.name == self.metric)
            .filter(|s| self.matchers.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .filter(|s| self.op.holds(s.value, self.threshold))
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    severity: Option<String>,
    summary: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rules: Vec<RawRule>,
}

/// Parse a rules file; errors name the rule.
pub fn parse(text: &str) -> Result<Vec<Rule>, AlertError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| AlertError::Rules(e.to_string()))?;
    if raw.rules.len() > MAX_RULES {
        return Err(AlertError::Rules(format!("{} rules; at most {MAX_RULES}", raw.rules.len())));
    }
    let mut out: Vec<Rule> = Vec::new();
    for r in raw.rules {
        let bad = |reason: String| AlertError::Rule { rule: r.name.clone(), reason };
        if r.name.is_empty() || r.name.len() > 128 || out.iter().any(|o| o.name == r.name) {
            return Err(bad("the name must be 1-128 characters and unique".into()));
        }
        let (metric, matchers, op, threshold) = parse_expr(&r.expr).map_err(bad)?;
        let for_ms = match &r.for_ {
            None => 0,
            Some(f) => duration_ms(f).map_err(bad)?,
        };
        out.push(Rule {
            name: r.name.clone(),
            metric,
            matchers,
            op,
            threshold,
            for_ms,
            severity: r.severity.clone().unwrap_or_else(|| "warning".into()),
            summary: r.summary.clone().unwrap_or_else(|| format!("{} (value {{{{value}}}})", r.expr)),
            expr: r.expr.clone(),
        });
    }
    Ok(out)
}

type Expr = (String, BTreeMap<String, String>, Op, f64);

fn parse_expr(expr: &str) -> Result<Expr, String> {
    let e = expr.trim();
    let (ops_at, op, op_len) =
        [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt)]
            .iter()
            .filter_map(|(s, o)| {
                // The operator after the selector (label values may contain anything).
                let after = e.rfind('}').map_or(0, |i| i + 1);
                e[after..].find(s).map(|i| (after + i, *o, s.len()))
            })
            .min_by_key(|(i, _, len)| (*i, std::cmp::Reverse(*len)))
            .ok_or_else(|| format!("expr {expr:?}: needs `metric{{…}} OP number` with OP one of > >= < <= == !="))?;
    let (selector, threshold) = (e[..ops_at].trim(), e[ops_at + op_len..].trim());
    let threshold: f64 =
        threshold.parse().map_err(|_| format!("expr {expr:?}: the threshold {threshold:?} is not a number"))?;
    let (metric, matchers) = match selector.split_once('{') {
        None => (selector.to_string(), BTreeMap::new()),
        Some((m, rest)) => {
            let inner = rest.strip_suffix('}').ok_or_else(|| format!("expr {expr:?}: unclosed {{"))?;
            let sample = crate::samples::parse(&format!("x{{{inner}}} 0"));
            let labels = sample.into_iter().next().ok_or_else(|| format!("expr {expr:?}: bad label matchers"))?.labels;
            (m.trim().to_string(), labels)
        }
    };
    let ok = !metric.is_empty() && metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !ok {
        return Err(format!("expr {expr:?}: {metric:?} is not a metric name"));
    }
    Ok((metric, matchers, op, threshold))
}

/// `30s`, `5m`, `2h`, `1d` in ms.
pub fn duration_ms(s: &str) -> Result<u64, String> {
    let bad = || format!("duration {s:?}: a number and a unit (ms, s, m, h, d), like \"5m\"");
    let at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = s[..at].parse().map_err(|_| bad())?;
    let per = match &s[at..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(per).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_mistakes_are_named() {
        let rules = parse(
            r#"
            [[rules]]
            name = "Lag"
            expr = 'aurum_consumer_lag{group="g",topic="risk.alerts"} >= 100'
            for = "2m"
            [[rules]]
            name = "Stale"
            expr = "aurum_journal_head_age_seconds > 300"
            severity = "page"
            "#,
        )
        .unwrap();
        assert_eq!(rules[0].metric, "aurum_consumer_lag");
        assert_eq!(rules[0].matchers.get("topic").map(String::as_str), Some("risk.alerts"));
        assert_eq!((rules[0].op, rules[0].threshold, rules[0].for_ms), (Op::Ge, 100.0, 120_000));
        assert_eq!((rules[1].op, rules[1].for_ms, rules[1].severity.as_str()), (Op::Gt, 0, "page"));
        for (text, says) in [
            ("[[rules]]\nname = \"x\"\nexpr = \"m\"", "needs `metric"),
            ("[[rules]]\nname = \"x\"\nexpr = \"m > many\"", "not a number"),
            ("[[rules]]\nname = \"x\"\nexpr = \"m > 1\"\nfor = \"soon\"", "duration"),
            ("[[rules]]\nname = \"x\"\nexpr = \"m > 1\"\n[[rules]]\nname = \"x\"\nexpr = \"m > 2\"", "unique"),
            ("[[rules]]\nname = \"x\"\nexpr = \"m-m > 1\"", "not a metric name"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
