//! Running checks: each compiles to one to three SQL queries on its source, and its result says
//! how many rows were looked at, how many were unexpected, a few examples, and pass, warn, fail
//! (or error, when the engine refused a query — a check that could not run never passes).

use serde::Serialize;

use crate::error::QualityError;
use crate::source::{Dialect, Row, SqlSource, cell_f64, cell_i64, cell_text, cell_u64};
use crate::spec::{Check, Kind, Severity, SourceKind, TimeUnit};

/// Unexpected values shown per check.
pub const EXAMPLES: usize = 5;
/// Most categories a categorical drift check compares.
pub const MAX_CATEGORIES: usize = 1000;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It holds.
    Pass,
    /// It failed, at warning severity (or drift in the warning band).
    Warn,
    /// It failed.
    Fail,
    /// It could not run.
    Error,
}

impl Status {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// An unexpected value and how many rows have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The value (or key, `|`-joined), as text.
    pub value: String,
    /// Rows with it.
    pub rows: u64,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check.
    pub name: String,
    /// Its source.
    pub source: SourceKind,
    /// Its table.
    pub table: String,
    /// Its kind.
    pub kind: &'static str,
    /// The verdict.
    pub status: Status,
    /// Rows looked at.
    pub rows: Option<u64>,
    /// Rows that broke the check.
    pub unexpected: Option<u64>,
    /// `unexpected / rows` in percent (rounded to 2 places for reading; the counts are exact).
    pub unexpected_percent: Option<f64>,
    /// The measured value, for checks that measure one (row count, age, PSI).
    pub observed: Option<String>,
    /// Some unexpected values, most frequent first.
    pub examples: Vec<Example>,
    /// One line saying why.
    pub detail: String,
}

/// Run every check whose source is `source`, in file order. Clock: `now_ms` (freshness).
pub async fn run_checks(checks: &[Check], source: &dyn SqlSource, now_ms: i64) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for c in checks.iter().filter(|c| c.source == source.kind()) {
        out.push(run_check(c, source, now_ms).await);
    }
    out
}

/// Run one check.
pub async fn run_check(check: &Check, source: &dyn SqlSource, now_ms: i64) -> CheckResult {
    let mut result = CheckResult {
        name: check.name.clone(),
        source: check.source,
        table: check.table.clone(),
        kind: check.kind.name(),
        status: Status::Error,
        rows: None,
        unexpected: None,
        unexpected_percent: None,
        observed: None,
        examples: Vec::new(),
        detail: String::new(),
    };
    if let Err(e) = evaluate(check, source, now_ms, &mut result).await {
        result.status = Status::Error;
        result.detail = e.to_string();
    }
    result
}

struct Q<'a> {
    d: Dialect,
    check: &'a Check,
}

impl Q<'_> {
    fn table(&self) -> String {
        self.d.ident(&self.check.table)
    }

    fn col(&self, c: &str) -> String {
        self.d.ident(c)
    }

    /// `WHERE <filter>` (or nothing), and an extra condition.
    fn filter(&self, extra: Option<&str>) -> String {
        let conds: Vec<String> =
            self.check.filter.iter().map(|f| format!("({f})")).chain(extra.map(|e| format!("({e})"))).collect();
        if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) }
    }
}

async fn one(source: &dyn SqlSource, sql: &str) -> Result<Row, QualityError> {
    rows(source, sql)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| QualityError::Engine { sql: sql.to_string(), message: "no row returned".into() })
}

async fn rows(source: &dyn SqlSource, sql: &str) -> Result<Vec<Row>, QualityError> {
    source.query(sql).await.map_err(|message| QualityError::Engine { sql: sql.to_string(), message })
}

fn count(row: &Row, key: &str, sql_hint: &str) -> Result<u64, QualityError> {
    match row.get(key) {
        None | Some(serde_json::Value::Null) => Ok(0), // SUM over no rows
        v => cell_u64(v).ok_or_else(|| QualityError::Engine {
            sql: sql_hint.to_string(),
            message: format!("column {key} is not a count: {v:?}"),
        }),
    }
}

/// The verdict of a row check: pass if at least `mostly` of the rows are expected.
fn row_verdict(check: &Check, total: u64, bad: u64, result: &mut CheckResult) {
    // Counts from separate statements can disagree when rows arrive between them: never more
    // unexpected rows than rows (and never an underflow that would read as a pass).
    let total = total.max(bad);
    result.rows = Some(total);
    result.unexpected = Some(bad);
    result.unexpected_percent = (total > 0).then(|| (bad as f64 * 10_000.0 / total as f64).round() / 100.0);
    // Exact: (total - bad) / total >= mostly  ⇔  (total - bad) >= mostly · total, compared in
    // parts per million of integers.
    let mostly_ppm = (check.mostly * 1_000_000.0).round() as u128;
    let ok = u128::from(total - bad) * 1_000_000 >= mostly_ppm * u128::from(total);
    result.status = if ok { Status::Pass } else { failed(check) };
    result.detail = if bad == 0 {
        format!("{total} rows, none unexpected")
    } else {
        format!(
            "{bad} of {total} rows unexpected ({}%){}",
            result.unexpected_percent.unwrap_or(0.0),
            if check.mostly < 1.0 { format!(", mostly = {}", check.mostly) } else { String::new() }
        )
    };
}

fn failed(check: &Check) -> Status {
    match check.severity {
        Severity::Fail => Status::Fail,
        Severity::Warn => Status::Warn,
    }
}

async fn examples(source: &dyn SqlSource, sql: &str) -> Result<Vec<Example>, QualityError> {
    Ok(rows(source, sql)
        .await?
        .iter()
        .map(|r| Example {
            value: cell_text(r.get("v")).unwrap_or_else(|| "NULL".into()),
            rows: cell_u64(r.get("n")).unwrap_or(0),
        })
        .collect())
}

/// Count rows and rows matching `bad`; examples of `shown` among them.
async fn row_check(
    q: &Q<'_>,
    source: &dyn SqlSource,
    bad: &str,
    shown: Option<&str>,
    result: &mut CheckResult,
) -> Result<(), QualityError> {
    let sql = format!(
        "SELECT COUNT(*) AS total, SUM(CASE WHEN {bad} THEN 1 ELSE 0 END) AS bad FROM {}{}",
        q.table(),
        q.filter(None)
    );
    let row = one(source, &sql).await?;
    let (total, unexpected) = (count(&row, "total", &sql)?, count(&row, "bad", &sql)?);
    row_verdict(q.check, total, unexpected, result);
    if let (Some(expr), true) = (shown, unexpected > 0) {
        let v = q.d.text(expr);
        let sql = format!(
            "SELECT {v} AS v, COUNT(*) AS n FROM {}{} GROUP BY {v} ORDER BY n DESC, v LIMIT {EXAMPLES}",
            q.table(),
            q.filter(Some(bad))
        );
        result.examples = examples(source, &sql).await?;
    }
    Ok(())
}

async fn evaluate(
    check: &Check,
    source: &dyn SqlSource,
    now_ms: i64,
    result: &mut CheckResult,
) -> Result<(), QualityError> {
    let q = Q { d: source.dialect(), check };
    let d = q.d;
    match &check.kind {
        Kind::NotNull { column } => {
            row_check(&q, source, &format!("{} IS NULL", q.col(column)), None, result).await?;
        }
        Kind::InSet { column, values } => {
            let c = q.col(column);
            let set: Vec<String> = values.iter().map(|v| d.string(v)).collect();
            let bad = format!("{c} IS NOT NULL AND {} NOT IN ({})", d.text(&c), set.join(", "));
            row_check(&q, source, &bad, Some(&c), result).await?;
        }
        Kind::Between { column, min, max } => {
            let c = q.col(column);
            let mut out = Vec::new();
            if let Some(m) = min {
                out.push(format!("{c} < {}", d.decimal(m)));
            }
            if let Some(m) = max {
                out.push(format!("{c} > {}", d.decimal(m)));
            }
            let bad = format!("{c} IS NOT NULL AND ({})", out.join(" OR "));
            row_check(&q, source, &bad, Some(&c), result).await?;
        }
        Kind::Regex { column, pattern } => {
            let c = q.col(column);
            let bad = format!("{c} IS NOT NULL AND NOT ({} ~ {})", d.text(&c), d.string(pattern));
            row_check(&q, source, &bad, Some(&c), result).await?;
        }
        Kind::Unique { columns } => {
            let cols: Vec<String> = columns.iter().map(|c| q.col(c)).collect();
            let key = cols.join(", ");
            // Rows with a NULL in the key are not duplicates of each other (as in SQL's UNIQUE).
            let keyed: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
            let keyed = keyed.join(" AND ");
            let sql = format!("SELECT COUNT(*) AS total FROM {}{}", q.table(), q.filter(None));
            let total = count(&one(source, &sql).await?, "total", &sql)?;
            let groups = format!(
                "SELECT {key}, COUNT(*) AS n FROM {}{} GROUP BY {key} HAVING COUNT(*) > 1",
                q.table(),
                q.filter(Some(&keyed))
            );
            let sql = format!("SELECT COALESCE(SUM(n), 0) AS bad FROM ({groups}) AS dups");
            let bad = count(&one(source, &sql).await?, "bad", &sql)?;
            row_verdict(check, total, bad, result);
            if bad > 0 {
                let shown: Vec<String> = cols.iter().map(|c| d.text(c)).collect();
                let v = if shown.len() == 1 { shown[0].clone() } else { shown.join(" || '|' || ") };
                let sql = format!(
                    "SELECT {v} AS v, COUNT(*) AS n FROM {}{} GROUP BY {key} HAVING COUNT(*) > 1 ORDER BY n DESC, v LIMIT {EXAMPLES}",
                    q.table(),
                    q.filter(Some(&keyed))
                );
                result.examples = examples(source, &sql).await?;
            }
        }
        Kind::RowCount { min, max } => {
            let sql = format!("SELECT COUNT(*) AS total FROM {}{}", q.table(), q.filter(None));
            let total = count(&one(source, &sql).await?, "total", &sql)?;
            result.rows = Some(total);
            result.observed = Some(total.to_string());
            let low = min.is_some_and(|m| total < m);
            let high = max.is_some_and(|m| total > m);
            result.status = if low || high { failed(check) } else { Status::Pass };
            result.detail = match (low, high) {
                (true, _) => format!("{total} rows, fewer than {}", min.unwrap_or(0)),
                (_, true) => format!("{total} rows, more than {}", max.unwrap_or(0)),
                _ => format!("{total} rows"),
            };
        }
        Kind::Freshness { column, unit, max_age_ms } => {
            let c = q.col(column);
            let newest = match unit {
                TimeUnit::Timestamp => d.epoch_seconds(&format!("MAX({c})")),
                _ => format!("MAX({c})"),
            };
            let sql = format!("SELECT {newest} AS newest, COUNT(*) AS total FROM {}{}", q.table(), q.filter(None));
            let row = one(source, &sql).await?;
            result.rows = Some(count(&row, "total", &sql)?);
            let newest_ms = cell_i64(row.get("newest")).map(|v| match unit {
                TimeUnit::Timestamp | TimeUnit::S => v.saturating_mul(1000),
                TimeUnit::Ms => v,
                TimeUnit::Ns => v / 1_000_000,
            });
            match newest_ms {
                None => {
                    result.status = failed(check);
                    result.detail = "no rows: nothing is fresh".into();
                }
                Some(t) => {
                    let age = now_ms.saturating_sub(t).max(0) as u64;
                    result.observed = Some(format!("{}s old", age / 1000));
                    let ok = age <= *max_age_ms;
                    result.status = if ok { Status::Pass } else { failed(check) };
                    result.detail =
                        format!("newest {column} is {}s old; at most {}s allowed", age / 1000, max_age_ms / 1000);
                }
            }
        }
        Kind::References { column, ref_table, ref_column } => {
            let (c, rt, rc) = (q.col(column), d.ident(ref_table), d.ident(ref_column));
            let from = format!(
                "(SELECT {c} AS k FROM {}{}) AS s LEFT JOIN (SELECT DISTINCT {rc} AS k FROM {rt}) AS r ON s.k = r.k",
                q.table(),
                q.filter(None)
            );
            let bad = "s.k IS NOT NULL AND r.k IS NULL";
            let sql = format!("SELECT COUNT(*) AS total, SUM(CASE WHEN {bad} THEN 1 ELSE 0 END) AS bad FROM {from}");
            let row = one(source, &sql).await?;
            row_verdict(check, count(&row, "total", &sql)?, count(&row, "bad", &sql)?, result);
            if result.unexpected.unwrap_or(0) > 0 {
                let v = d.text("s.k");
                let sql = format!(
                    "SELECT {v} AS v, COUNT(*) AS n FROM {from} WHERE {bad} GROUP BY {v} ORDER BY n DESC, v LIMIT {EXAMPLES}"
                );
                result.examples = examples(source, &sql).await?;
            }
            result.detail = format!("{} (values missing from {ref_table}.{ref_column})", result.detail);
        }
        Kind::Drift { column, reference, current, bins, warn_psi, fail_psi } => {
            let (expected, actual, detail) = match bins {
                Some(bins) => numeric_drift(&q, source, column, reference, current, *bins).await?,
                None => categorical_drift(&q, source, column, reference, current).await?,
            };
            let psi = aurum_stats::psi(
                &aurum_stats::Histogram::from_counts(expected.clone()),
                &aurum_stats::Histogram::from_counts(actual.clone()),
            )
            .map_err(|e| QualityError::Engine { sql: String::new(), message: format!("PSI: {e}") })?;
            result.rows = Some(actual.iter().sum());
            result.observed = Some(format!("psi {psi:.4}"));
            result.status = if psi >= *fail_psi {
                failed(check)
            } else if psi >= *warn_psi {
                Status::Warn
            } else {
                Status::Pass
            };
            result.detail = format!(
                "PSI {psi:.4} over {} ({} reference rows, {} current); warn at {warn_psi}, fail at {fail_psi}",
                detail,
                expected.iter().sum::<u64>(),
                actual.iter().sum::<u64>()
            );
        }
    }
    Ok(())
}

/// Reference and current counts over up to `bins` quantile bins of the reference (`NTILE` over
/// it; equal cuts merge, so heavily repeated values give fewer bins). Bin `i` is
/// `[edge(i-1), edge(i))`, the first and last open-ended, as `aurum_stats::Bins` has them: an
/// outlier moves one edge, not the whole axis.
async fn numeric_drift(
    q: &Q<'_>,
    source: &dyn SqlSource,
    column: &str,
    reference: &str,
    current: &str,
    bins: usize,
) -> Result<(Vec<u64>, Vec<u64>, String), QualityError> {
    let (d, c) = (q.d, q.col(column));
    let x = d.float(&c);
    let sql = format!(
        "SELECT tile, MIN(x) AS lo FROM (SELECT x, NTILE({bins}) OVER (ORDER BY x) AS tile FROM \
         (SELECT {x} AS x FROM {}{}) AS s) AS w GROUP BY tile ORDER BY tile",
        q.table(),
        q.filter(Some(&format!("({reference}) AND {c} IS NOT NULL")))
    );
    let tiles = rows(source, &sql).await?;
    if tiles.is_empty() {
        return Err(QualityError::Engine { sql, message: "no reference rows".into() });
    }
    let mut edges: Vec<f64> = Vec::new();
    let first = cell_f64(tiles[0].get("lo"));
    for t in tiles.iter().skip(1) {
        if let Some(lo) = cell_f64(t.get("lo"))
            && Some(lo) != first
            && edges.last().is_none_or(|e| lo > *e)
        {
            edges.push(lo);
        }
    }
    let literal = |v: f64| d.float(&d.string(&format!("{v:e}")));
    let bin = if edges.is_empty() {
        "0".to_string()
    } else {
        let arms: Vec<String> =
            edges.iter().enumerate().map(|(i, e)| format!("WHEN {x} < {} THEN {i}", literal(*e))).collect();
        format!("CASE {} ELSE {} END", arms.join(" "), edges.len())
    };
    let mut out = Vec::new();
    for window in [reference, current] {
        let sql = format!(
            "SELECT b, COUNT(*) AS n FROM (SELECT {bin} AS b FROM {}{}) AS binned GROUP BY b",
            q.table(),
            q.filter(Some(&format!("({window}) AND {c} IS NOT NULL")))
        );
        let mut counts = vec![0u64; edges.len() + 1];
        for r in rows(source, &sql).await? {
            let b = cell_i64(r.get("b")).unwrap_or(0).clamp(0, edges.len() as i64) as usize;
            counts[b] += cell_u64(r.get("n")).unwrap_or(0);
        }
        out.push(counts);
    }
    let current_counts = out.pop().expect("two windows");
    let detail = format!("{} quantile bins of {column}", edges.len() + 1);
    Ok((out.pop().expect("two windows"), current_counts, detail))
}

/// Reference and current counts per value of `column`.
async fn categorical_drift(
    q: &Q<'_>,
    source: &dyn SqlSource,
    column: &str,
    reference: &str,
    current: &str,
) -> Result<(Vec<u64>, Vec<u64>, String), QualityError> {
    let (d, c) = (q.d, q.col(column));
    let v = d.text(&c);
    let mut windows = Vec::new();
    for window in [reference, current] {
        let sql = format!(
            "SELECT {v} AS v, COUNT(*) AS n FROM {}{} GROUP BY {v} ORDER BY n DESC, v LIMIT {}",
            q.table(),
            q.filter(Some(window)),
            MAX_CATEGORIES + 1
        );
        let found = rows(source, &sql).await?;
        if found.len() > MAX_CATEGORIES {
            return Err(QualityError::Engine { sql, message: format!("more than {MAX_CATEGORIES} categories") });
        }
        windows.push(
            found
                .iter()
                .map(|r| (cell_text(r.get("v")).unwrap_or_else(|| "NULL".into()), cell_u64(r.get("n")).unwrap_or(0)))
                .collect::<std::collections::BTreeMap<String, u64>>(),
        );
    }
    let categories: std::collections::BTreeSet<&String> = windows.iter().flat_map(|w| w.keys()).collect();
    let counts = |w: &std::collections::BTreeMap<String, u64>| -> Vec<u64> {
        categories.iter().map(|k| w.get(*k).copied().unwrap_or(0)).collect()
    };
    Ok((counts(&windows[0]), counts(&windows[1]), format!("{} values of {column}", categories.len())))
}

/// The worst status of a set of results (`Pass` for none).
pub fn worst(results: &[CheckResult]) -> Status {
    results.iter().map(|r| r.status).max().unwrap_or(Status::Pass)
}
