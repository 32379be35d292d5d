//! Queries answered from the read model, in the ledger's own types so that an answer from
//! PostgreSQL can be compared with (and substituted for) the in-memory ledger's.
//!
//! Amounts are stored as exact numerics in asset units and read back as text, then parsed with
//! the asset's scale: a value that does not parse is an error, never a rounding.

use aurum_ledger::decimal::parse_amount;
use aurum_ledger::{
    AccountId, Amount, AsOf, AssetId, BalanceAt, StatementLine, Timestamp, TransferId, TrialBalance, TrialBalanceRow,
};
use sqlx::PgPool;

use crate::error::PgError;

/// Most rows one list query returns.
pub const MAX_PAGE: usize = 10_000;

fn units(table: &'static str, text: &str, scale: i16) -> Result<Amount, PgError> {
    parse_amount(text, scale as u8).map_err(|e| PgError::BadValue { table, reason: format!("amount {text:?}: {e}") })
}

fn id128(table: &'static str, text: &str) -> Result<u128, PgError> {
    text.parse().map_err(|_| PgError::BadValue { table, reason: format!("id {text:?} is not a u128") })
}

/// An account's current balances, from `balances`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    /// Debits pending.
    pub debits_pending: Amount,
    /// Debits posted.
    pub debits_posted: Amount,
    /// Credits pending.
    pub credits_pending: Amount,
    /// Credits posted.
    pub credits_posted: Amount,
    /// The last block that changed them.
    pub seq: u64,
}

type FourAmounts = (String, String, String, String);

fn balance_at(table: &'static str, a: &FourAmounts, scale: i16, timestamp: u64) -> Result<BalanceAt, PgError> {
    Ok(BalanceAt {
        debits_pending: units(table, &a.0, scale)?,
        debits_posted: units(table, &a.1, scale)?,
        credits_pending: units(table, &a.2, scale)?,
        credits_posted: units(table, &a.3, scale)?,
        timestamp: Timestamp(timestamp),
    })
}

/// What the read model knows of an account: its scale, history flag, creation seq and time.
struct AccountInfo {
    scale: i16,
    history: bool,
    seq: u64,
    ts_ns: u64,
}

async fn account_info(pool: &PgPool, account: AccountId) -> Result<Option<AccountInfo>, PgError> {
    let row: Option<(i16, bool, i64, i64)> = sqlx::query_as(
        "SELECT s.scale, a.history, a.seq, a.ts_ns FROM accounts a JOIN assets s USING (asset_id)
         WHERE a.account_id = $1::numeric",
    )
    .bind(account.0.to_string())
    .fetch_optional(pool)
    .await
    .map_err(PgError::db("reading an account"))?;
    Ok(row.map(|(scale, history, seq, ts)| AccountInfo { scale, history, seq: seq as u64, ts_ns: ts as u64 }))
}

/// The current balances of `account`, or `None` if the read model does not have it.
pub async fn balances(pool: &PgPool, account: AccountId) -> Result<Option<Balances>, PgError> {
    let row: Option<(String, String, String, String, i16, i64)> = sqlx::query_as(
        "SELECT b.debits_pending::text, b.debits_posted::text, b.credits_pending::text, b.credits_posted::text,
                s.scale, b.seq
         FROM balances b JOIN accounts a USING (account_id) JOIN assets s USING (asset_id)
         WHERE b.account_id = $1::numeric",
    )
    .bind(account.0.to_string())
    .fetch_optional(pool)
    .await
    .map_err(PgError::db("reading balances"))?;
    let Some((dp, dd, cp, cd, scale, seq)) = row else { return Ok(None) };
    let t = "balances";
    Ok(Some(Balances {
        debits_pending: units(t, &dp, scale)?,
        debits_posted: units(t, &dd, scale)?,
        credits_pending: units(t, &cp, scale)?,
        credits_posted: units(t, &cd, scale)?,
        seq: seq as u64,
    }))
}

/// An account's balances as of a point in history, with [`aurum_ledger::Ledger::balance_as_of`]'s
/// semantics: `None` if the account is unknown, keeps no history, or did not exist yet then.
pub async fn balance_as_of(pool: &PgPool, account: AccountId, as_of: AsOf) -> Result<Option<BalanceAt>, PgError> {
    let Some(info) = account_info(pool, account).await? else { return Ok(None) };
    if !info.history {
        return Ok(None);
    }
    // The last history line at or before the point, by time or by block.
    let (existed, column, bound) = match as_of {
        AsOf::Timestamp(t) => (info.ts_ns <= t.0, "ts_ns", t.0),
        AsOf::Sequence(s) => (info.seq <= s, "seq", s),
    };
    let sql = format!(
        "SELECT ts_ns, debits_pending::text, debits_posted::text, credits_pending::text, credits_posted::text
         FROM balance_history WHERE account_id = $1::numeric AND {column} <= $2
         ORDER BY ts_ns DESC, ordinal DESC LIMIT 1"
    );
    if !existed {
        return Ok(None);
    }
    let bound = i64::try_from(bound).unwrap_or(i64::MAX);
    let row: Option<(i64, String, String, String, String)> = sqlx::query_as(&sql)
        .bind(account.0.to_string())
        .bind(bound)
        .fetch_optional(pool)
        .await
        .map_err(PgError::db("reading balance history"))?;
    match row {
        Some((ts, dp, dd, cp, cd)) => {
            Ok(Some(balance_at("balance_history", &(dp, dd, cp, cd), info.scale, ts as u64)?))
        }
        None => Ok(Some(BalanceAt {
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            timestamp: Timestamp(info.ts_ns),
        })),
    }
}

/// The changes to `account` with `from ≤ timestamp ≤ to`, in order, at most `limit` (itself at
/// most [`MAX_PAGE`]; empty if the account is unknown or keeps no history), as
/// [`aurum_ledger::Ledger::statement`] gives them.
pub async fn statement(
    pool: &PgPool,
    account: AccountId,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
) -> Result<Vec<StatementLine>, PgError> {
    let Some(info) = account_info(pool, account).await? else { return Ok(Vec::new()) };
    let clamp = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    let rows: Vec<(i64, i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT ts_ns, seq, movement_id::text, debits_pending::text, debits_posted::text, credits_pending::text,
                credits_posted::text
         FROM balance_history WHERE account_id = $1::numeric AND ts_ns BETWEEN $2 AND $3
         ORDER BY ts_ns, ordinal LIMIT $4",
    )
    .bind(account.0.to_string())
    .bind(clamp(from.0))
    .bind(clamp(to.0))
    .bind(limit.min(MAX_PAGE) as i64)
    .fetch_all(pool)
    .await
    .map_err(PgError::db("reading a statement"))?;
    rows.into_iter()
        .map(|(ts, seq, movement, dp, dd, cp, cd)| {
            Ok(StatementLine {
                timestamp: Timestamp(ts as u64),
                seq: seq as u64,
                transfer: TransferId(id128("balance_history", &movement)?),
                after: balance_at("balance_history", &(dp, dd, cp, cd), info.scale, ts as u64)?,
            })
        })
        .collect()
}

/// Every account's posted totals (id order) and the per-asset sums (asset id order), as
/// [`aurum_ledger::Ledger::trial_balance`] gives them.
pub async fn trial_balance(pool: &PgPool) -> Result<TrialBalance, PgError> {
    let rows: Vec<(String, i64, String, String, i16)> = sqlx::query_as(
        "SELECT a.account_id::text, a.asset_id, b.debits_posted::text, b.credits_posted::text, s.scale
         FROM accounts a JOIN balances b USING (account_id) JOIN assets s USING (asset_id)
         ORDER BY a.account_id",
    )
    .fetch_all(pool)
    .await
    .map_err(PgError::db("reading the trial balance"))?;
    let mut out = TrialBalance { rows: Vec::with_capacity(rows.len()), totals: Vec::new() };
    let overflow = || PgError::BadValue { table: "balances", reason: "a per-asset total overflows u128".into() };
    for (id, asset, dd, cd, scale) in rows {
        let row = TrialBalanceRow {
            account: AccountId(id128("accounts", &id)?),
            asset: AssetId(
                u32::try_from(asset)
                    .map_err(|_| PgError::BadValue { table: "accounts", reason: format!("asset id {asset}") })?,
            ),
            debits_posted: units("balances", &dd, scale)?,
            credits_posted: units("balances", &cd, scale)?,
        };
        match out.totals.iter_mut().find(|t| t.0 == row.asset) {
            Some(t) => {
                t.1 = t.1.checked_add(row.debits_posted).ok_or_else(overflow)?;
                t.2 = t.2.checked_add(row.credits_posted).ok_or_else(overflow)?;
            }
            None => out.totals.push((row.asset, row.debits_posted, row.credits_posted)),
        }
        out.rows.push(row);
    }
    out.totals.sort_by_key(|t| t.0);
    Ok(out)
}

/// Accepted transfers touching `account` (either side), in journal order after `after_ts_ns`
/// (exclusive; the cursor is the last row's timestamp), at most `limit` (≤ [`MAX_PAGE`]):
/// (id, timestamp).
pub async fn transfers_of(
    pool: &PgPool,
    account: AccountId,
    after_ts_ns: Option<u64>,
    limit: usize,
) -> Result<Vec<(TransferId, Timestamp)>, PgError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT transfer_id::text, ts_ns FROM transfers
         WHERE (debit_account = $1::numeric OR credit_account = $1::numeric) AND ts_ns > $2
         ORDER BY ts_ns LIMIT $3",
    )
    .bind(account.0.to_string())
    .bind(after_ts_ns.map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)))
    .bind(limit.min(MAX_PAGE) as i64)
    .fetch_all(pool)
    .await
    .map_err(PgError::db("listing transfers"))?;
    rows.into_iter().map(|(id, ts)| Ok((TransferId(id128("transfers", &id)?), Timestamp(ts as u64)))).collect()
}

/// A digest of every table's content in primary-key order (md5 of the rows' text), for
/// comparing two projections of the same journal: equal digests, equal read models.
pub async fn table_digests(pool: &PgPool) -> Result<Vec<(&'static str, i64, String)>, PgError> {
    let tables: [(&'static str, &'static str); 12] = [
        ("assets", "asset_id"),
        ("accounts", "account_id"),
        ("transfers", "transfer_id"),
        ("expirations", "transfer_id"),
        ("entries", "entry_id"),
        ("postings", "movement_id, leg"),
        ("balances", "account_id"),
        ("balance_history", "account_id, ts_ns, ordinal"),
        ("dim_asset", "asset_id"),
        ("dim_account", "account_id"),
        ("fact_transfers", "ts_ns"),
        ("aurum_projection", "name"),
    ];
    let mut out = Vec::new();
    for (table, key) in tables {
        // updated_at differs between two runs by construction: leave it out.
        let row_text = if table == "aurum_projection" { "(t.name, t.next_seq, t.last_hash)::text" } else { "t::text" };
        let sql =
            format!("SELECT count(*), coalesce(md5(string_agg({row_text}, '|' ORDER BY {key})), '') FROM {table} t");
        let (n, md5): (i64, String) =
            sqlx::query_as(&sql).fetch_one(pool).await.map_err(PgError::db(format!("digesting {table}")))?;
        out.push((table, n, md5));
    }
    Ok(out)
}
