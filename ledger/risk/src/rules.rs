//! The rules file: declarative rules, the admission policy, the anomaly model's settings and the
//! per-asset reporting thresholds — parsed, validated and compiled into a [`RuleSet`].
//!
//! ```toml
//! [policy]
//! alert_at = 0.5          # scores at or above raise an alert
//! hold_at = 0.7           # ... hold the transfer as pending for review
//! reject_at = 0.95        # ... reject it
//! hold_timeout_secs = 604800
//!
//! [model]
//! weight = 0.35           # how much the anomaly model can add to a score
//! floor = 0.6             # model scores below this add nothing
//!
//! [structuring]
//! band_bps = 1000         # "just under" = within 10 % under the threshold
//! thresholds = { USD = "10000.00" }
//!
//! [[rule]]
//! name = "velocity_burst"
//! pattern = "velocity"
//! side = "sender"
//! when = "out_count_1m >= 5"
//! score = 0.9
//! reason = "{out_count_1m} transfers out in one minute"
//! ```
//!
//! Scores combine as independent evidence: `1 - Π(1 - sᵢ)` over the rules that fire, then the model
//! adds `weight × (m - floor) / (1 - floor)` the same way. Every number is validated (scores and
//! thresholds in [0, 1], `alert_at ≤ hold_at ≤ reject_at`), every name and template checked, and
//! the whole file refused with the rule and the column at fault.

use std::collections::BTreeMap;

use aurum_ledger::decimal::parse_amount;
use serde::Deserialize;

use crate::error::RiskError;
use crate::expr::{self, Condition};
use crate::features::{Feature, FeatureVector};

/// Most rules in one file.
pub const MAX_RULES: usize = 256;
/// Largest rules file read, in bytes.
pub const MAX_RULES_FILE_BYTES: u64 = 1 << 20;
/// Longest reason template, in bytes.
pub const MAX_REASON_BYTES: usize = 512;

/// Which account a rule speaks about (where its risk is attributed in the ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The debit account.
    Sender,
    /// The credit account.
    Receiver,
}

impl Side {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Sender => "sender",
            Side::Receiver => "receiver",
        }
    }
}

/// What the policy decides for a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// Let it through.
    Allow,
    /// Create it as a pending transfer, for a reviewer to release or void.
    Hold,
    /// Refuse it.
    Reject,
}

impl Decision {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Hold => "hold",
            Decision::Reject => "reject",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    policy: PolicyFile,
    #[serde(default)]
    model: ModelFile,
    #[serde(default)]
    structuring: Option<StructuringFile>,
    #[serde(default)]
    exempt: ExemptFile,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExemptFile {
    #[serde(default)]
    accounts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    alert_at: f64,
    hold_at: f64,
    reject_at: f64,
    #[serde(default = "default_hold_timeout")]
    hold_timeout_secs: u32,
}

fn default_hold_timeout() -> u32 {
    7 * 24 * 3600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[serde(default = "default_weight")]
    weight: f64,
    #[serde(default = "default_floor")]
    floor: f64,
}

fn default_weight() -> f64 {
    0.35
}

fn default_floor() -> f64 {
    0.6
}

impl Default for ModelFile {
    fn default() -> Self {
        ModelFile { weight: default_weight(), floor: default_floor() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StructuringFile {
    band_bps: u32,
    thresholds: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    pattern: String,
    side: Side,
    when: String,
    score: f64,
    reason: String,
    #[serde(default)]
    asset: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// The admission policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Alert at or above.
    pub alert_at: f64,
    /// Hold at or above.
    pub hold_at: f64,
    /// Reject at or above.
    pub reject_at: f64,
    /// Timeout of a held (pending) transfer; 0: never expires.
    pub hold_timeout_secs: u32,
}

impl Policy {
    /// The decision for a score.
    pub fn decide(&self, score: f64) -> Decision {
        if score >= self.reject_at {
            Decision::Reject
        } else if score >= self.hold_at {
            Decision::Hold
        } else {
            Decision::Allow
        }
    }
}

/// How the anomaly model contributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPolicy {
    /// Largest contribution.
    pub weight: f64,
    /// Model scores at or below add nothing.
    pub floor: f64,
}

impl ModelPolicy {
    /// The model's contribution for its raw score.
    pub fn contribution(&self, model_score: f64) -> f64 {
        if model_score <= self.floor || self.weight == 0.0 {
            return 0.0;
        }
        self.weight * ((model_score - self.floor) / (1.0 - self.floor)).min(1.0)
    }
}

/// A piece of a reason template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value(Feature),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// The pattern it detects (for evaluation and reporting).
    pub pattern: String,
    /// Whose risk it is.
    pub side: Side,
    /// Its condition.
    pub condition: Condition,
    /// The condition as written in the file.
    pub when: String,
    /// Its score when it fires.
    pub score: f64,
    /// Restricted to one asset code, if set.
    pub asset: Option<String>,
    reason: Vec<Piece>,
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.2}") }
}

impl Rule {
    /// The reason, with feature values filled in.
    pub fn reason(&self, f: &FeatureVector) -> String {
        let mut s = String::new();
        for p in &self.reason {
            match p {
                Piece::Text(t) => s.push_str(t),
                Piece::Value(feature) => s.push_str(&format_value(f.get(*feature))),
            }
        }
        s
    }
}

fn parse_template(t: &str) -> Result<Vec<Piece>, String> {
    if t.is_empty() || t.len() > MAX_REASON_BYTES {
        return Err(format!("must be 1 to {MAX_REASON_BYTES} bytes"));
    }
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `{{` at byte {}", t.len() - rest.len() + open))?;
        let name = &after[..close];
        let feature = Feature::from_name(name).ok_or_else(|| format!("unknown feature {{{name}}} in the template"))?;
        out.push(Piece::Value(feature));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

/// Everything the rules file says, compiled.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The admission policy.
    pub policy: Policy,
    /// The anomaly model's contribution.
    pub model: ModelPolicy,
    /// Structuring band, in basis points under the threshold.
    pub structuring_band_bps: u32,
    /// Reporting thresholds by asset code, in base units once resolved by the scorer.
    pub thresholds: BTreeMap<String, String>,
    /// Enabled rules, in file order.
    pub rules: Vec<Rule>,
    /// Platform accounts (treasury, clearing, cash-in, settlement) whose own behaviour is not
    /// scored: rules about the sender skip an exempt sender, rules about the receiver an exempt
    /// receiver. Their counterparties are still scored.
    pub exempt: std::collections::BTreeSet<u128>,
}

fn unit_interval(what: &str, v: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(format!("{what} must be in [0, 1], got {v}")) }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl RuleSet {
    /// Parse and validate a rules file. `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<RuleSet, RiskError> {
        let bad = |message: String| RiskError::Rules { origin: origin.to_string(), message };
        let file: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let p = &file.policy;
        for (what, v) in
            [("policy.alert_at", p.alert_at), ("policy.hold_at", p.hold_at), ("policy.reject_at", p.reject_at)]
        {
            unit_interval(what, v).map_err(bad)?;
        }
        if !(p.alert_at <= p.hold_at && p.hold_at <= p.reject_at) {
            return Err(bad(format!(
                "policy thresholds must satisfy alert_at ≤ hold_at ≤ reject_at (got {}, {}, {})",
                p.alert_at, p.hold_at, p.reject_at
            )));
        }
        unit_interval("model.weight", file.model.weight).map_err(bad)?;
        if !(0.0..1.0).contains(&file.model.floor) {
            return Err(bad(format!("model.floor must be in [0, 1), got {}", file.model.floor)));
        }
        let (band, thresholds) = match file.structuring {
            Some(s) => {
                if s.band_bps == 0 || s.band_bps >= 10_000 {
                    return Err(bad(format!("structuring.band_bps must be 1–9999, got {}", s.band_bps)));
                }
                for (code, amount) in &s.thresholds {
                    // Checked here for syntax; resolved against the asset's scale by the scorer.
                    parse_amount(amount, 18)
                        .map_err(|e| bad(format!("structuring.thresholds.{code}: {amount:?} is not an amount: {e}")))?;
                }
                (s.band_bps, s.thresholds)
            }
            None => (1000, BTreeMap::new()),
        };
        let mut exempt = std::collections::BTreeSet::new();
        for (i, a) in file.exempt.accounts.iter().enumerate() {
            let id = a.parse::<u128>().ok().filter(|id| *id != 0).ok_or_else(|| {
                bad(format!("exempt.accounts[{i}]: {a:?} is not an account id (1 to 39 decimal digits)"))
            })?;
            exempt.insert(id);
        }
        if file.rules.len() > MAX_RULES {
            return Err(bad(format!("at most {MAX_RULES} rules, found {}", file.rules.len())));
        }
        let mut rules = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in file.rules.into_iter().enumerate() {
            let at = |m: String| bad(format!("rule {} ({:?}): {m}", i + 1, r.name));
            if !is_name(&r.name) {
                return Err(at("name must be 1–64 of a-z, 0-9 and _".into()));
            }
            if !names.insert(r.name.clone()) {
                return Err(at("the name is used by an earlier rule".into()));
            }
            if !is_name(&r.pattern) {
                return Err(at("pattern must be 1–64 of a-z, 0-9 and _".into()));
            }
            unit_interval("score", r.score).map_err(at)?;
            let condition = expr::parse(&r.when).map_err(|e| at(format!("when, {e}")))?;
            let when = r.when.clone();
            let reason = parse_template(&r.reason).map_err(|e| at(format!("reason {e}")))?;
            if !r.enabled {
                continue;
            }
            rules.push(Rule {
                name: r.name,
                pattern: r.pattern,
                side: r.side,
                condition,
                when,
                score: r.score,
                asset: r.asset,
                reason,
            });
        }
        Ok(RuleSet {
            policy: Policy {
                alert_at: p.alert_at,
                hold_at: p.hold_at,
                reject_at: p.reject_at,
                hold_timeout_secs: p.hold_timeout_secs,
            },
            model: ModelPolicy { weight: file.model.weight, floor: file.model.floor },
            structuring_band_bps: band,
            thresholds,
            rules,
            exempt,
        })
    }

    /// The rules shipped with Aurum (`ledger/risk/rules.toml`), tuned on the generator's tuning
    /// seed and evaluated on another.
    pub fn default_rules() -> RuleSet {
        RuleSet::parse(DEFAULT_RULES, "built-in rules.toml").expect("the built-in rules file is valid")
    }
}

/// The built-in rules file.
pub const DEFAULT_RULES: &str = include_str!("../rules.toml");

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "[policy]\nalert_at = 0.5\nhold_at = 0.7\nreject_at = 0.95\n";

    #[test]
    fn the_built_in_rules_parse() {
        let r = RuleSet::default_rules();
        assert!(!r.rules.is_empty());
        assert!(r.thresholds.contains_key("USD"));
    }

    #[test]
    fn bad_files_are_refused_with_the_place() {
        let cases = [
            (
                format!(
                    "{POLICY}[[rule]]\nname='a'\npattern='p'\nside='sender'\nwhen='amount >'\nscore=0.5\nreason='x'\n"
                ),
                "rule 1 (\"a\"): when, column 9: expected a number",
            ),
            (
                format!(
                    "{POLICY}[[rule]]\nname='a'\npattern='p'\nside='sender'\nwhen='amount > 1'\nscore=1.5\nreason='x'\n"
                ),
                "score must be in [0, 1]",
            ),
            (
                format!(
                    "{POLICY}[[rule]]\nname='a'\npattern='p'\nside='sender'\nwhen='amount > 1'\nscore=0.5\nreason='{{nope}}'\n"
                ),
                "unknown feature {nope}",
            ),
            (
                format!(
                    "{POLICY}[[rule]]\nname='a'\npattern='p'\nside='both'\nwhen='amount > 1'\nscore=0.5\nreason='x'\n"
                ),
                "unknown variant `both`",
            ),
            (
                "[policy]\nalert_at = 0.8\nhold_at = 0.7\nreject_at = 0.95\n".to_string(),
                "alert_at ≤ hold_at ≤ reject_at",
            ),
            (
                format!("{POLICY}[structuring]\nband_bps = 1000\nthresholds = {{ USD = '10,000' }}\n"),
                "structuring.thresholds.USD",
            ),
            (format!("{POLICY}surprise = 1\n"), "unknown field `surprise`"),
            (
                format!(
                    "{POLICY}[[rule]]\nname='a'\npattern='p'\nside='sender'\nwhen='amount > 1'\nscore=0.5\nreason='x'\n[[rule]]\nname='a'\npattern='p'\nside='sender'\nwhen='amount > 1'\nscore=0.5\nreason='x'\n"
                ),
                "rule 2 (\"a\"): the name is used",
            ),
        ];
        for (text, want) in cases {
            let e = RuleSet::parse(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
            assert!(e.contains("t.toml"), "{e}");
        }
    }

    #[test]
    fn reasons_fill_in_values_and_policy_decides() {
        let text = format!(
            "{POLICY}[[rule]]\nname='a'\npattern='p'\nside='sender'\nwhen='amount > 1'\nscore=0.5\nreason='{{out_count_1m}} in a minute, z {{amount_z}}'\n"
        );
        let r = RuleSet::parse(&text, "t").unwrap();
        let mut f = FeatureVector::default();
        f.set(Feature::OutCount1m, 7.0);
        f.set(Feature::AmountZ, 4.256);
        assert_eq!(r.rules[0].reason(&f), "7 in a minute, z 4.26");
        assert_eq!(r.policy.decide(0.69), Decision::Allow);
        assert_eq!(r.policy.decide(0.7), Decision::Hold);
        assert_eq!(r.policy.decide(0.95), Decision::Reject);
        assert_eq!(r.model.contribution(0.6), 0.0);
        assert!((r.model.contribution(0.8) - 0.175).abs() < 1e-12);
    }
}
