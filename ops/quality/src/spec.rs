//! The checks file: TOML, one `[[checks]]` table per check.
//!
//! ```toml
//! [[checks]]
//! name = "transfer ids are unique"     # optional: default "<kind> <table>.<column>"
//! source = "lake"                      # lake (Iceberg, the default) | postgres
//! table = "transfers"
//! kind = "unique"
//! columns = ["transfer_id"]
//! severity = "fail"                    # fail (default) | warn: what a failed check yields
//! mostly = 1.0                         # share of rows that must pass (row checks), default 1
//! ```
//!
//! | kind | keys |
//! |---|---|
//! | `not_null` | `column` |
//! | `unique` | `columns` (one or more) |
//! | `in_set` | `column`, `values` (strings) |
//! | `between` | `column`, `min` and/or `max` (decimal strings, inclusive) |
//! | `regex` | `column`, `pattern` (POSIX, as the engine's `~`) |
//! | `row_count` | `min` and/or `max` (integers) |
//! | `freshness` | `column`, `max_age` (`90s`, `15m`, `26h`, `7d`), `unit` (`timestamp` default, `s`, `ms`, `ns`) |
//! | `references` | `column`, `ref_table`, `ref_column` |
//! | `drift` | `column`, `reference` and `current` (SQL conditions choosing the two windows), `bins` (numeric: at most this many quantile bins of the reference, default 10) or `categorical = true`, `warn_psi` (0.1), `fail_psi` (0.25) |
//!
//! Every check may have `where` (an SQL condition restricting the rows checked). Conditions are
//! SQL written by the operator who owns the file and run as written; names are checked to be
//! plain identifiers and values are quoted, so a value can never change a query's shape.

use serde::Deserialize;

use crate::error::QualityError;

/// Most checks in one file.
pub const MAX_CHECKS: usize = 1000;
/// Most values of an `in_set` check.
pub const MAX_SET_VALUES: usize = 1000;
/// Most bins of a numeric drift check.
pub const MAX_DRIFT_BINS: usize = 100;

/// Where a check's table lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The Iceberg lakehouse, through DataFusion.
    Lake,
    /// The PostgreSQL read model.
    Postgres,
}

/// What a failed check yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A failure fails the run.
    Fail,
    /// A failure is a warning.
    Warn,
}

/// The unit of a freshness column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// A SQL timestamp.
    Timestamp,
    /// Integer seconds since the epoch.
    S,
    /// Integer milliseconds.
    Ms,
    /// Integer nanoseconds.
    Ns,
}

/// One check as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: Option<String>,
    source: Option<SourceKind>,
    table: String,
    kind: String,
    column: Option<String>,
    columns: Option<Vec<String>>,
    values: Option<Vec<String>>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    pattern: Option<String>,
    max_age: Option<String>,
    unit: Option<TimeUnit>,
    ref_table: Option<String>,
    ref_column: Option<String>,
    reference: Option<String>,
    current: Option<String>,
    bins: Option<usize>,
    categorical: Option<bool>,
    warn_psi: Option<f64>,
    fail_psi: Option<f64>,
    #[serde(rename = "where")]
    filter: Option<String>,
    severity: Option<Severity>,
    mostly: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    checks: Vec<RawCheck>,
}

/// What a check asserts.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// No NULL in `column`.
    NotNull {
        /// The column.
        column: String,
    },
    /// No two rows share `columns`.
    Unique {
        /// The key.
        columns: Vec<String>,
    },
    /// Every non-NULL value is one of `values`.
    InSet {
        /// The column.
        column: String,
        /// The allowed values.
        values: Vec<String>,
    },
    /// Every non-NULL value is within `[min, max]` (decimal strings, exact).
    Between {
        /// The column.
        column: String,
        /// Inclusive lower bound.
        min: Option<String>,
        /// Inclusive upper bound.
        max: Option<String>,
    },
    /// Every non-NULL value matches `pattern`.
    Regex {
        /// The column.
        column: String,
        /// POSIX regular expression.
        pattern: String,
    },
    /// The table has between `min` and `max` rows.
    RowCount {
        /// Fewest rows.
        min: Option<u64>,
        /// Most rows.
        max: Option<u64>,
    },
    /// The newest `column` is at most `max_age_ms` old.
    Freshness {
        /// The time column.
        column: String,
        /// Its unit.
        unit: TimeUnit,
        /// Oldest acceptable newest value.
        max_age_ms: u64,
    },
    /// Every non-NULL `column` exists in `ref_table.ref_column`.
    References {
        /// The column.
        column: String,
        /// The referenced table.
        ref_table: String,
        /// The referenced column.
        ref_column: String,
    },
    /// The distribution of `column` in the `current` rows has not drifted from the `reference`
    /// rows (PSI).
    Drift {
        /// The column.
        column: String,
        /// SQL condition choosing the reference rows.
        reference: String,
        /// SQL condition choosing the current rows.
        current: String,
        /// At most this many quantile bins of the reference (`None`: categorical, by value).
        bins: Option<usize>,
        /// PSI at or above which the check warns.
        warn_psi: f64,
        /// PSI at or above which it fails.
        fail_psi: f64,
    },
}

impl Kind {
    /// The kind's name, as in the file.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::NotNull { .. } => "not_null",
            Kind::Unique { .. } => "unique",
            Kind::InSet { .. } => "in_set",
            Kind::Between { .. } => "between",
            Kind::Regex { .. } => "regex",
            Kind::RowCount { .. } => "row_count",
            Kind::Freshness { .. } => "freshness",
            Kind::References { .. } => "references",
            Kind::Drift { .. } => "drift",
        }
    }
}

/// One checked check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Its name (unique in the file).
    pub name: String,
    /// Where the table is.
    pub source: SourceKind,
    /// The table.
    pub table: String,
    /// What it asserts.
    pub kind: Kind,
    /// Rows checked (SQL condition), if not all.
    pub filter: Option<String>,
    /// What a failure yields.
    pub severity: Severity,
    /// Share of rows that must pass (row checks).
    pub mostly: f64,
}

/// Parse and check a checks file; errors name the check (by position and name) and the key.
pub fn parse(text: &str) -> Result<Vec<Check>, QualityError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| QualityError::File(e.to_string()))?;
    if raw.checks.len() > MAX_CHECKS {
        return Err(QualityError::File(format!("{} checks; at most {MAX_CHECKS}", raw.checks.len())));
    }
    let mut out: Vec<Check> = Vec::with_capacity(raw.checks.len());
    for (i, r) in raw.checks.into_iter().enumerate() {
        let label = format!("check {} ({})", i + 1, r.name.as_deref().unwrap_or(&r.kind));
        let check = check_of(r).map_err(|reason| QualityError::Check { check: label.clone(), reason })?;
        if out.iter().any(|c| c.name == check.name) {
            return Err(QualityError::Check {
                check: label,
                reason: format!("the name {:?} is used twice", check.name),
            });
        }
        out.push(check);
    }
    Ok(out)
}

fn check_of(r: RawCheck) -> Result<Check, String> {
    ident_path(&r.table).map_err(|e| format!("table: {e}"))?;
    let column = |r: &RawCheck| -> Result<String, String> {
        let c = r.column.clone().ok_or("needs `column`")?;
        ident(&c).map_err(|e| format!("column: {e}"))?;
        Ok(c)
    };
    let decimal = |v: &Option<toml::Value>, key: &str| -> Result<Option<String>, String> {
        match v {
            None => Ok(None),
            Some(toml::Value::String(s)) if is_decimal(s) => Ok(Some(s.clone())),
            Some(toml::Value::Integer(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(format!(
                "`{key}` must be an integer or a decimal string like \"12.50\" (at most 18 decimals), not {other}"
            )),
        }
    };
    let count = |v: &Option<toml::Value>, key: &str| -> Result<Option<u64>, String> {
        match v {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Some(*n as u64)),
            Some(other) => Err(format!("`{key}` must be a row count (an integer ≥ 0), not {other}")),
        }
    };
    let kind = match r.kind.as_str() {
        "not_null" => Kind::NotNull { column: column(&r)? },
        "unique" => {
            let columns = r.columns.clone().ok_or("needs `columns`")?;
            if columns.is_empty() {
                return Err("`columns` is empty".into());
            }
            for c in &columns {
                ident(c).map_err(|e| format!("columns: {e}"))?;
            }
            Kind::Unique { columns }
        }
        "in_set" => {
            let values = r.values.clone().ok_or("needs `values`")?;
            if values.is_empty() || values.len() > MAX_SET_VALUES {
                return Err(format!("`values` needs 1..={MAX_SET_VALUES} values"));
            }
            Kind::InSet { column: column(&r)?, values }
        }
        "between" => {
            let (min, max) = (decimal(&r.min, "min")?, decimal(&r.max, "max")?);
            if min.is_none() && max.is_none() {
                return Err("needs `min`, `max` or both".into());
            }
            Kind::Between { column: column(&r)?, min, max }
        }
        "regex" => Kind::Regex { column: column(&r)?, pattern: r.pattern.clone().ok_or("needs `pattern`")? },
        "row_count" => {
            let (min, max) = (count(&r.min, "min")?, count(&r.max, "max")?);
            if min.is_none() && max.is_none() {
                return Err("needs `min`, `max` or both".into());
            }
            Kind::RowCount { min, max }
        }
        "freshness" => Kind::Freshness {
            column: column(&r)?,
            unit: r.unit.unwrap_or(TimeUnit::Timestamp),
            max_age_ms: duration_ms(r.max_age.as_deref().ok_or("needs `max_age`")?)?,
        },
        "references" => {
            let ref_table = r.ref_table.clone().ok_or("needs `ref_table`")?;
            let ref_column = r.ref_column.clone().ok_or("needs `ref_column`")?;
            ident_path(&ref_table).map_err(|e| format!("ref_table: {e}"))?;
            ident(&ref_column).map_err(|e| format!("ref_column: {e}"))?;
            Kind::References { column: column(&r)?, ref_table, ref_column }
        }
        "drift" => {
            let bins = if r.categorical.unwrap_or(false) {
                if r.bins.is_some() {
                    return Err("`bins` is for numeric drift; drop it or `categorical`".into());
                }
                None
            } else {
                let b = r.bins.unwrap_or(10);
                if !(2..=MAX_DRIFT_BINS).contains(&b) {
                    return Err(format!("`bins` must be within 2..={MAX_DRIFT_BINS}"));
                }
                Some(b)
            };
            let (warn_psi, fail_psi) = (r.warn_psi.unwrap_or(0.1), r.fail_psi.unwrap_or(0.25));
            if !(warn_psi > 0.0 && warn_psi <= fail_psi && fail_psi.is_finite()) {
                return Err("needs 0 < warn_psi ≤ fail_psi".into());
            }
            Kind::Drift {
                column: column(&r)?,
                reference: r.reference.clone().ok_or("needs `reference` (an SQL condition)")?,
                current: r.current.clone().ok_or("needs `current` (an SQL condition)")?,
                bins,
                warn_psi,
                fail_psi,
            }
        }
        other => {
            return Err(format!(
                "unknown kind {other:?}; kinds: not_null unique in_set between regex row_count freshness references drift"
            ));
        }
    };
    let mostly = r.mostly.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&mostly) {
        return Err("`mostly` must be within 0..=1".into());
    }
    let name = r.name.clone().unwrap_or_else(|| match &r.column {
        Some(c) => format!("{} {}.{c}", kind.name(), r.table),
        None => format!("{} {}", kind.name(), r.table),
    });
    Ok(Check {
        name,
        source: r.source.unwrap_or(SourceKind::Lake),
        table: r.table,
        kind,
        filter: r.filter,
        severity: r.severity.unwrap_or(Severity::Fail),
        mostly,
    })
}

/// A plain SQL identifier: a letter or `_`, then letters, digits or `_` (≤ 63).
pub fn ident(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err(format!("{s:?} is not a plain identifier (a-z A-Z 0-9 _)")) }
}

/// An identifier, or `schema.table`.
pub fn ident_path(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 2 {
        return Err(format!("{s:?}: at most schema.table"));
    }
    parts.into_iter().try_for_each(ident)
}

fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    // At most 18 decimals: the scale every engine here compares at exactly (DECIMAL(38, 18)).
    !int.is_empty()
        && int.len() <= 20
        && frac.len() <= 18
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (!digits.contains('.') || !frac.is_empty())
}

/// `90s`, `15m`, `26h`, `7d` in ms.
pub fn duration_ms(s: &str) -> Result<u64, String> {
    let bad = || format!("max_age {s:?}: a number and a unit (s, m, h, d), like \"26h\"");
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let per = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(per).filter(|ms| *ms > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_every_kind_parses() {
        let text = r#"
            [[checks]]
            table = "transfers"
            kind = "unique"
            columns = ["transfer_id"]
            [[checks]]
            table = "transfers"
            kind = "between"
            column = "amount"
            min = "0"
            max = "1000000.5"
            severity = "warn"
            mostly = 0.99
            [[checks]]
            name = "fresh"
            source = "postgres"
            table = "public.transfers"
            kind = "freshness"
            column = "ts"
            max_age = "26h"
            [[checks]]
            table = "transfers"
            kind = "drift"
            column = "kind"
            categorical = true
            reference = "ts < '2026-01-01'"
            current = "ts >= '2026-01-01'"
        "#;
        let checks = parse(text).unwrap();
        assert_eq!(checks.len(), 4);
        assert_eq!(checks[0].name, "unique transfers");
        assert_eq!(
            checks[1].kind,
            Kind::Between { column: "amount".into(), min: Some("0".into()), max: Some("1000000.5".into()) }
        );
        assert_eq!((checks[1].severity, checks[1].mostly), (Severity::Warn, 0.99));
        assert_eq!(
            checks[2].kind,
            Kind::Freshness { column: "ts".into(), unit: TimeUnit::Timestamp, max_age_ms: 26 * 3_600_000 }
        );
        assert!(matches!(checks[3].kind, Kind::Drift { bins: None, .. }));
    }

    #[test]
    fn mistakes_name_the_check_and_the_key() {
        for (text, says) in [
            ("[[checks]]\ntable = \"t\"\nkind = \"nope\"", "unknown kind \"nope\""),
            ("[[checks]]\ntable = \"t\"\nkind = \"not_null\"", "check 1 (not_null): needs `column`"),
            ("[[checks]]\ntable = \"t; drop\"\nkind = \"row_count\"\nmin = 1", "not a plain identifier"),
            ("[[checks]]\ntable = \"t\"\nkind = \"between\"\ncolumn = \"a\"\nmin = 1.5", "decimal string"),
            (
                "[[checks]]\ntable = \"t\"\nkind = \"between\"\ncolumn = \"a\"\nmin = \"0.0000000000000000001\"",
                "at most 18 decimals",
            ),
            ("[[checks]]\ntable = \"t\"\nkind = \"freshness\"\ncolumn = \"a\"\nmax_age = \"soon\"", "max_age \"soon\""),
            ("[[checks]]\ntable = \"t\"\nkind = \"row_count\"\nmin = 1\ncolour = 2", "unknown field `colour`"),
            (
                "[[checks]]\ntable = \"t\"\nkind = \"row_count\"\nmin = 1\n[[checks]]\ntable = \"t\"\nkind = \"row_count\"\nmax = 1",
                "used twice",
            ),
            (
                "[[checks]]\ntable = \"t\"\nkind = \"drift\"\ncolumn = \"a\"\nreference = \"x\"\ncurrent = \"y\"\nbins = 1",
                "bins",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
