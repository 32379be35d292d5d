//! `daily_balances`: every account's closing posted balance on every day it moved, materialised
//! from `postings` once the day has closed.
//!
//! Ledger timestamps only grow, so once the journal's head is on a later day no posting can ever
//! join a past day: a closed day's balances are final and can be appended once, which is all an
//! append-only table allows. Each commit carries `aurum.daily_balances.next_day_us` — the start of
//! the first day not materialised yet — with the rows it covers (exactly once, like every sink).
//! The open day is not in the table; the `daily_balances_live` view computes every day, the open
//! one included, from the postings.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::compute::cast;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::table::Table;

use crate::catalog::Lake;
use crate::error::LakeError;
use crate::rows::project_by_name;
use crate::sink::{SOURCE_PROPERTY, commit_with, write_batch};
use crate::tables::LakeTable;

/// Snapshot property: the start (µs since the epoch, UTC midnight) of the first day not yet
/// materialised.
pub const NEXT_DAY_PROPERTY: &str = "aurum.daily_balances.next_day_us";
/// µs in a day.
pub const DAY_US: i64 = 86_400_000_000;

/// The first day not yet materialised (`None`: nothing materialised yet).
pub fn next_day(table: &Table) -> Result<Option<i64>, LakeError> {
    match table.metadata().current_snapshot().and_then(|s| s.summary().additional_properties.get(NEXT_DAY_PROPERTY)) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| LakeError::BadOffset {
            table: LakeTable::DailyBalances.name(),
            key: NEXT_DAY_PROPERTY,
            value: v.clone(),
        }),
    }
}

/// What a materialisation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BalancesReport {
    /// Commits made (0 or 1).
    pub commits: u64,
    /// Rows appended.
    pub rows: u64,
    /// The first day not materialised after the run (µs), if any was.
    pub next_day_us: Option<i64>,
}

/// Materialise the days that closed since the last run: every day strictly before the day of
/// `head_ts_ns` (the journal head's timestamp, read *before* the postings were synced, so every
/// posting of those days is in `postings`).
pub async fn sync_daily_balances(lake: &Lake, head_ts_ns: u64) -> Result<BalancesReport, LakeError> {
    let which = LakeTable::DailyBalances;
    let table = lake.table(which).await?;
    let from = next_day(&table)?;
    let open_day = (head_ts_ns / 1_000) as i64 / DAY_US * DAY_US;
    let mut report = BalancesReport { next_day_us: from, ..BalancesReport::default() };
    if from.is_some_and(|f| f >= open_day) {
        return Ok(report); // no day closed since
    }
    let ctx = crate::sql::session(lake).await?;
    // Days compared in whole seconds since the epoch (a UTC midnight is exact in any unit).
    let lower =
        from.map_or(String::new(), |f| format!("AND CAST(date_part('epoch', day) AS BIGINT) >= {}", f / 1_000_000));
    let query = format!(
        "SELECT account, asset, day, net, balance, postings FROM daily_balances_live \
         WHERE CAST(date_part('epoch', day) AS BIGINT) < {} {lower}",
        open_day / 1_000_000
    );
    let batches = crate::sql::query(&ctx, &query).await?;
    let schema = Arc::new(schema_to_arrow_schema(table.metadata().current_schema())?);
    let mut files = Vec::new();
    for b in batches.iter().filter(|b| b.num_rows() > 0) {
        // The query's types (string views, the sum's decimal precision) cast exactly to the
        // table's; a value that does not fit fails the cast instead of being cut.
        let mut known = Vec::new();
        for f in schema.fields() {
            let col = b.column_by_name(f.name()).ok_or_else(|| LakeError::BadRow {
                table: which.name(),
                column: f.name().clone(),
                reason: "missing from the materialising query".into(),
            })?;
            known.push((f.name().as_str(), cast(col, f.data_type())?));
        }
        report.rows += b.num_rows() as u64;
        files.extend(write_batch(&table, which, open_day as u64, project_by_name(&known, schema.clone())?).await?);
    }
    let props = HashMap::from([
        (SOURCE_PROPERTY.to_string(), LakeTable::Postings.name().to_string()),
        (NEXT_DAY_PROPERTY.to_string(), open_day.to_string()),
    ]);
    commit_with(lake, &table, files, props).await?;
    report.commits = 1;
    report.next_day_us = Some(open_day);
    Ok(report)
}
