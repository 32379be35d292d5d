//! Matching rules and the classification settings, read from TOML (format in docs/matching.md). Every error
//! names its place: the rule (by name, or by number before the name is known), the criterion and the field.

use std::collections::BTreeMap;

use aurum_ledger::decimal::parse_amount;
use toml::{Table, Value};

use super::time::parse_timestamp;

/// Most rules in one file.
pub const MAX_RULES: usize = 64;
/// Longest rule name, in characters.
pub const MAX_RULE_NAME_CHARS: usize = 64;
/// Widest date window accepted (a rule's, or the timing window): 400 days.
pub const MAX_DATE_WINDOW_SECS: i64 = 400 * 86_400;
/// Largest scale (decimal places) of a currency: the ledger's own limit.
const MAX_SCALE: u8 = 18;

/// How a ledger reference relates to a statement reference (both trimmed, ASCII-case-insensitive; an empty
/// reference never matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefMode {
    /// The references are equal.
    Equals,
    /// The statement reference contains the ledger reference (banks wrap references in their own text).
    Contains,
    /// The statement reference starts with the ledger reference.
    Prefix,
}

impl RefMode {
    fn parse(name: &str) -> Option<RefMode> {
        match name {
            "equals" => Some(RefMode::Equals),
            "contains" => Some(RefMode::Contains),
            "prefix" => Some(RefMode::Prefix),
            _ => None,
        }
    }
}

/// One condition of a rule. A rule holds when all its criteria hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Criterion {
    /// |Σ statement − Σ ledger| ≤ `tolerance` base units; implies equal currencies (amounts in different
    /// currencies are not comparable).
    Amount {
        /// Base units, ≥ 0.
        tolerance: i128,
    },
    /// Every statement item within `window_secs` of every ledger item of the match.
    Date {
        /// Seconds, ≥ 0.
        window_secs: i64,
    },
    /// References relate as `mode` says (pairwise, for every ledger–statement pair of the match).
    Reference {
        /// How.
        mode: RefMode,
    },
    /// Description similarity (see [`super::similarity_permille`]) at least this, pairwise.
    Description {
        /// 0..=1000.
        min_similarity_permille: u16,
    },
    /// Equal currency codes.
    Currency,
}

/// Which sides of a match may hold several items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// One ledger item, one statement item.
    OneToOne,
    /// One ledger item settled by several statement items.
    OneToMany,
    /// Several ledger items paid by one statement item.
    ManyToOne,
}

impl Shape {
    /// `one_to_one`, `one_to_many` or `many_to_one`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Shape::OneToOne => "one_to_one",
            Shape::OneToMany => "one_to_many",
            Shape::ManyToOne => "many_to_one",
        }
    }
}

/// One rule: a shape and the AND of its criteria. Rules are tried in order; an item taken by one is gone for
/// the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique name, reported in every match it makes.
    pub name: String,
    /// One-to-one, one-to-many or many-to-one.
    pub shape: Shape,
    /// When set, the rule considers only items of this currency.
    pub only_currency: Option<String>,
    /// The conditions (all must hold).
    pub criteria: Vec<Criterion>,
}

impl Rule {
    /// The amount tolerance, if the rule has an amount criterion.
    pub fn amount_tolerance(&self) -> Option<i128> {
        self.criteria.iter().find_map(|c| match c {
            Criterion::Amount { tolerance } => Some(*tolerance),
            _ => None,
        })
    }

    /// The date window, if the rule has a date criterion.
    pub fn date_window_secs(&self) -> Option<i64> {
        self.criteria.iter().find_map(|c| match c {
            Criterion::Date { window_secs } => Some(*window_secs),
            _ => None,
        })
    }

    /// The reference mode, if the rule has a reference criterion.
    pub fn reference_mode(&self) -> Option<RefMode> {
        self.criteria.iter().find_map(|c| match c {
            Criterion::Reference { mode } => Some(*mode),
            _ => None,
        })
    }

    /// The minimum description similarity, if the rule has a description criterion.
    pub fn min_similarity_permille(&self) -> Option<u16> {
        self.criteria.iter().find_map(|c| match c {
            Criterion::Description { min_similarity_permille } => Some(*min_similarity_permille),
            _ => None,
        })
    }
}

/// How unmatched items are classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Largest |difference| (base units) that counts as rounding; 0 turns the class off.
    pub rounding_tolerance: i128,
    /// How far apart (seconds) a counterpart may be dated and still be a timing difference, a rounding or an
    /// amount mismatch rather than unrelated.
    pub timing_window_secs: i64,
    /// How far apart (seconds) two items with the same currency, amount, reference and description may be dated
    /// for the unmatched one to be a duplicate of the matched one.
    pub duplicate_window_secs: i64,
    /// End of the statement period (unix seconds): unmatched items dated after it are timing differences. When
    /// unset, the latest statement item's date is the end.
    pub period_end: Option<i64>,
}

impl Default for Classification {
    fn default() -> Classification {
        Classification {
            rounding_tolerance: 1,
            timing_window_secs: 30 * 86_400,
            duplicate_window_secs: 86_400,
            period_end: None,
        }
    }
}

/// A rules file: currencies' scales, rules in order, classification settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rules {
    /// The rules, tried in order.
    pub rules: Vec<Rule>,
    /// Currency code → decimal places of one base unit (for decimal inputs and for explanations).
    pub scales: BTreeMap<String, u8>,
    /// How unmatched items are classified.
    pub classification: Classification,
}

/// A rules file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// Not TOML at all (the message carries the line and column).
    #[error("the rules file is not valid TOML: {0}")]
    Syntax(String),
    /// A top-level field is wrong.
    #[error("{field}: {reason}")]
    Field {
        /// Dotted path, e.g. `classification.timing_window_days`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A rule is wrong.
    #[error("rule {rule}: {field}: {reason}")]
    Rule {
        /// `"name"` or, before the name is known, `#n` (1-based).
        rule: String,
        /// Dotted path inside the rule, e.g. `amount.tolerance`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn field_error(field: impl Into<String>, reason: impl Into<String>) -> RulesError {
    RulesError::Field { field: field.into(), reason: reason.into() }
}

/// Rejects keys of `table` outside `allowed`; `place` builds the error for a bad key.
fn only_keys(table: &Table, allowed: &[&str], place: impl Fn(&str, String) -> RulesError) -> Result<(), RulesError> {
    match table.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(place(k, format!("unknown key (allowed: {})", allowed.join(", ")))),
        None => Ok(()),
    }
}

fn type_name(v: &Value) -> &'static str {
    v.type_str()
}

/// A non-negative integer field.
fn non_negative(v: &Value) -> Result<i64, String> {
    match v {
        Value::Integer(n) if *n >= 0 => Ok(*n),
        Value::Integer(n) => Err(format!("must not be negative, got {n}")),
        other => Err(format!("expected an integer, got a {}", type_name(other))),
    }
}

/// A duration given as exactly one of `<stem>_secs`, `<stem>_hours`, `<stem>_days`; `None` when none is given.
fn duration(table: &Table, stem: &str) -> Result<Option<i64>, (String, String)> {
    let units = [("secs", 1i64), ("hours", 3600), ("days", 86_400)];
    let mut found = None;
    for (suffix, unit) in units {
        let key = if stem.is_empty() { suffix.to_string() } else { format!("{stem}_{suffix}") };
        if let Some(v) = table.get(&key) {
            if found.is_some() {
                return Err((key, format!("give the {stem} window once, in secs, hours or days")));
            }
            let n = non_negative(v).map_err(|r| (key.clone(), r))?;
            let secs = n.checked_mul(unit).filter(|s| *s <= MAX_DATE_WINDOW_SECS).ok_or_else(|| {
                (key.clone(), format!("{n} {suffix} exceeds the maximum of {} days", MAX_DATE_WINDOW_SECS / 86_400))
            })?;
            found = Some(secs);
        }
    }
    Ok(found)
}

impl Rules {
    /// Reads a rules file (format: docs/matching.md).
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let root: Table = toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string().trim_end().to_string()))?;
        only_keys(&root, &["currencies", "classification", "rule"], |k, r| field_error(k, r))?;
        let scales = read_scales(root.get("currencies"))?;
        let classification = read_classification(root.get("classification"))?;
        let rule_tables = match root.get("rule") {
            None => return Err(field_error("rule", "no [[rule]]: a rules file needs at least one rule")),
            Some(Value::Array(rules)) => rules,
            Some(other) => {
                return Err(field_error("rule", format!("expected [[rule]] tables, got a {}", type_name(other))));
            }
        };
        if rule_tables.len() > MAX_RULES {
            return Err(field_error("rule", format!("{} rules; at most {MAX_RULES}", rule_tables.len())));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(rule_tables.len());
        for (i, value) in rule_tables.iter().enumerate() {
            let rule = read_rule(i, value, &scales)?;
            if rules.iter().any(|r| r.name == rule.name) {
                return Err(RulesError::Rule {
                    rule: format!("{:?}", rule.name),
                    field: "name".into(),
                    reason: "another rule has this name".into(),
                });
            }
            rules.push(rule);
        }
        let rules = Rules { rules, scales, classification };
        rules.validate()?;
        Ok(rules)
    }

    /// Checks rules built in code as [`Rules::from_toml`] checks a file: every rule can find candidates, group
    /// rules have a sum to check, values are in range.
    pub fn validate(&self) -> Result<(), RulesError> {
        let c = &self.classification;
        if c.rounding_tolerance < 0 {
            return Err(field_error("classification.rounding_tolerance_units", "must not be negative"));
        }
        for (field, secs) in [("timing_window", c.timing_window_secs), ("duplicate_window", c.duplicate_window_secs)] {
            if !(0..=MAX_DATE_WINDOW_SECS).contains(&secs) {
                return Err(field_error(format!("classification.{field}"), "out of range"));
            }
        }
        for rule in &self.rules {
            validate_rule(rule)?;
        }
        Ok(())
    }
}

fn validate_rule(rule: &Rule) -> Result<(), RulesError> {
    let fail = |field: &str, reason: String| RulesError::Rule {
        rule: format!("{:?}", rule.name),
        field: field.to_string(),
        reason,
    };
    if rule.name.trim().is_empty() || rule.name.chars().count() > MAX_RULE_NAME_CHARS {
        return Err(fail("name", format!("must be 1 to {MAX_RULE_NAME_CHARS} characters")));
    }
    let mut seen: Vec<std::mem::Discriminant<Criterion>> = Vec::new();
    for c in &rule.criteria {
        let d = std::mem::discriminant(c);
        if seen.contains(&d) {
            return Err(fail("criteria", format!("{c:?} given twice")));
        }
        seen.push(d);
        match c {
            Criterion::Amount { tolerance } if *tolerance < 0 => {
                return Err(fail("amount.tolerance", "must not be negative".into()));
            }
            Criterion::Date { window_secs } if !(0..=MAX_DATE_WINDOW_SECS).contains(window_secs) => {
                return Err(fail("date", format!("window must be 0 to {MAX_DATE_WINDOW_SECS} seconds")));
            }
            Criterion::Description { min_similarity_permille } if *min_similarity_permille > 1000 => {
                return Err(fail("description.min_similarity_permille", "must be 0 to 1000".into()));
            }
            _ => {}
        }
    }
    let (amount, date, reference) =
        (rule.amount_tolerance().is_some(), rule.date_window_secs().is_some(), rule.reference_mode().is_some());
    if !(amount || date || reference) {
        return Err(fail(
            "criteria",
            "needs an amount, date or reference criterion: description and currency alone cannot find candidates"
                .into(),
        ));
    }
    if rule.shape != Shape::OneToOne && !(amount && (date || reference)) {
        return Err(fail(
            "shape",
            format!(
                "a {} rule needs an amount criterion (the group must sum) and a date or reference criterion (to \
                 form the group)",
                rule.shape.as_str()
            ),
        ));
    }
    Ok(())
}

fn read_scales(value: Option<&Value>) -> Result<BTreeMap<String, u8>, RulesError> {
    let mut scales = BTreeMap::new();
    let Some(value) = value else { return Ok(scales) };
    let Value::Table(table) = value else {
        return Err(field_error("currencies", format!("expected a table of CODE = scale, got a {}", type_name(value))));
    };
    for (code, v) in table {
        let place = format!("currencies.{code}");
        let scale = non_negative(v).map_err(|r| field_error(&place, r))?;
        let scale = u8::try_from(scale)
            .ok()
            .filter(|s| *s <= MAX_SCALE)
            .ok_or_else(|| field_error(&place, format!("scale {scale} exceeds the maximum of {MAX_SCALE}")))?;
        if code.trim().is_empty() || code.trim() != code {
            return Err(field_error(&place, "a currency code must be non-empty, without surrounding spaces"));
        }
        scales.insert(code.clone(), scale);
    }
    Ok(scales)
}

fn read_classification(value: Option<&Value>) -> Result<Classification, RulesError> {
    let mut c = Classification::default();
    let Some(value) = value else { return Ok(c) };
    let Value::Table(table) = value else {
        return Err(field_error("classification", format!("expected a table, got a {}", type_name(value))));
    };
    let allowed = [
        "rounding_tolerance_units",
        "timing_window_secs",
        "timing_window_hours",
        "timing_window_days",
        "duplicate_window_secs",
        "duplicate_window_hours",
        "duplicate_window_days",
        "period_end",
    ];
    only_keys(table, &allowed, |k, r| field_error(format!("classification.{k}"), r))?;
    let place = |k: &str| format!("classification.{k}");
    if let Some(v) = table.get("rounding_tolerance_units") {
        c.rounding_tolerance =
            i128::from(non_negative(v).map_err(|r| field_error(place("rounding_tolerance_units"), r))?);
    }
    if let Some(secs) = duration(table, "timing_window").map_err(|(k, r)| field_error(place(&k), r))? {
        c.timing_window_secs = secs;
    }
    if let Some(secs) = duration(table, "duplicate_window").map_err(|(k, r)| field_error(place(&k), r))? {
        c.duplicate_window_secs = secs;
    }
    if let Some(v) = table.get("period_end") {
        let Value::String(s) = v else {
            return Err(field_error(
                place("period_end"),
                format!("expected a timestamp string, got a {}", type_name(v)),
            ));
        };
        c.period_end = Some(parse_timestamp(s).map_err(|e| field_error(place("period_end"), e.to_string()))?);
    }
    Ok(c)
}

fn read_rule(index: usize, value: &Value, scales: &BTreeMap<String, u8>) -> Result<Rule, RulesError> {
    let numbered = format!("#{}", index + 1);
    let Value::Table(table) = value else {
        return Err(RulesError::Rule { rule: numbered, field: "rule".into(), reason: "expected a table".into() });
    };
    let name = match table.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err(RulesError::Rule { rule: numbered, field: "name".into(), reason: "is empty".into() });
        }
        Some(v) => {
            return Err(RulesError::Rule {
                rule: numbered,
                field: "name".into(),
                reason: format!("expected a string, got a {}", type_name(v)),
            });
        }
        None => return Err(RulesError::Rule { rule: numbered, field: "name".into(), reason: "is required".into() }),
    };
    let label = format!("{name:?}");
    let fail = |field: &str, reason: String| RulesError::Rule { rule: label.clone(), field: field.to_string(), reason };
    let allowed = ["name", "shape", "only_currency", "amount", "date", "reference", "description", "currency"];
    only_keys(table, &allowed, |k, r| fail(k, r))?;

    let shape = match table.get("shape") {
        None => Shape::OneToOne,
        Some(Value::String(s)) => match s.as_str() {
            "one_to_one" => Shape::OneToOne,
            "one_to_many" => Shape::OneToMany,
            "many_to_one" => Shape::ManyToOne,
            other => {
                return Err(fail("shape", format!("{other:?} is not one_to_one, one_to_many or many_to_one")));
            }
        },
        Some(v) => return Err(fail("shape", format!("expected a string, got a {}", type_name(v)))),
    };
    let only_currency = match table.get("only_currency") {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(v) => return Err(fail("only_currency", format!("expected a currency code, got {v}"))),
    };
    let sub_table = |key: &str| -> Result<Option<&Table>, RulesError> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(v) => Err(fail(key, format!("expected a table such as {key} = {{ … }}, got a {}", type_name(v)))),
        }
    };

    let mut criteria = Vec::new();
    if let Some(t) = sub_table("amount")? {
        only_keys(t, &["tolerance", "tolerance_units"], |k, r| fail(&format!("amount.{k}"), r))?;
        let tolerance = match (t.get("tolerance"), t.get("tolerance_units")) {
            (Some(_), Some(_)) => return Err(fail("amount", "give tolerance or tolerance_units, not both".into())),
            (None, None) => 0,
            (None, Some(v)) => i128::from(non_negative(v).map_err(|r| fail("amount.tolerance_units", r))?),
            (Some(Value::String(s)), None) => {
                let Some(code) = &only_currency else {
                    return Err(fail(
                        "amount.tolerance",
                        "a decimal tolerance needs the rule's only_currency (its scale converts it); or give \
                         tolerance_units in base units"
                            .into(),
                    ));
                };
                let Some(&scale) = scales.get(code) else {
                    return Err(fail("amount.tolerance", format!("currency {code:?} has no scale in [currencies]")));
                };
                let units = parse_amount(s, scale).map_err(|e| fail("amount.tolerance", e.to_string()))?;
                i128::try_from(units).map_err(|_| fail("amount.tolerance", "too large".into()))?
            }
            (Some(v), None) => {
                return Err(fail("amount.tolerance", format!("expected a decimal string, got a {}", type_name(v))));
            }
        };
        criteria.push(Criterion::Amount { tolerance });
    }
    if let Some(t) = sub_table("date")? {
        only_keys(t, &["window_secs", "window_hours", "window_days"], |k, r| fail(&format!("date.{k}"), r))?;
        let window_secs = duration(t, "window")
            .map_err(|(k, r)| fail(&format!("date.{k}"), r))?
            .ok_or_else(|| fail("date", "needs window_secs, window_hours or window_days".into()))?;
        criteria.push(Criterion::Date { window_secs });
    }
    if let Some(t) = sub_table("reference")? {
        only_keys(t, &["mode"], |k, r| fail(&format!("reference.{k}"), r))?;
        let mode = match t.get("mode") {
            None => RefMode::Equals,
            Some(Value::String(s)) => RefMode::parse(s)
                .ok_or_else(|| fail("reference.mode", format!("{s:?} is not equals, contains or prefix")))?,
            Some(v) => return Err(fail("reference.mode", format!("expected a string, got a {}", type_name(v)))),
        };
        criteria.push(Criterion::Reference { mode });
    }
    if let Some(t) = sub_table("description")? {
        only_keys(t, &["min_similarity_permille"], |k, r| fail(&format!("description.{k}"), r))?;
        let v = t
            .get("min_similarity_permille")
            .ok_or_else(|| fail("description", "needs min_similarity_permille (0 to 1000)".into()))?;
        let n = non_negative(v).map_err(|r| fail("description.min_similarity_permille", r))?;
        let n = u16::try_from(n)
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| fail("description.min_similarity_permille", format!("{n} is above 1000")))?;
        criteria.push(Criterion::Description { min_similarity_permille: n });
    }
    match table.get("currency") {
        None | Some(Value::Boolean(false)) => {}
        Some(Value::Boolean(true)) => criteria.push(Criterion::Currency),
        Some(v) => return Err(fail("currency", format!("expected true or false, got a {}", type_name(v)))),
    }
    let rule = Rule { name, shape, only_currency, criteria };
    validate_rule(&rule)?;
    Ok(rule)
}
