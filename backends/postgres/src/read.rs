//! Queries answered from the read model, in the ledger's own types so that an answer from
//! PostgreSQL can be compared with (and substituted for) the in-memory ledger's.
//!
//! Amounts are stored as exact numerics in asset units and read back as text, then parsed with
//! the asset's scale: a value that does not parse is an error, never a rounding.

use aurum_ledger::decimal::parse_amount;
use aurum_ledger::{
    Account, AccountId, AccountKind, Amount, AsOf, Asset, AssetId, BalanceAt, Metadata, PendingState, StatementLine,
    Timestamp, Transfer, TransferId, TransferKind, TrialBalance, TrialBalanceRow,
};
use sqlx::{PgPool, Row};

use crate::codes::{account_kind_of, limit_of, transfer_kind_of};
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

/// A page of accounts in id order after `after`, optionally of one asset and kind, at most
/// `limit` (≤ [`MAX_PAGE`]), each with its asset — as [`aurum_ledger::Ledger::accounts_page`]:
/// the same records, the same cursor (the last id, `None` at the end).
pub async fn accounts_page(
    pool: &PgPool,
    after: Option<AccountId>,
    limit: usize,
    asset: Option<AssetId>,
    kind: Option<AccountKind>,
) -> Result<(Vec<(Account, Asset)>, Option<AccountId>), PgError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query(
        "SELECT a.account_id::text AS id, a.asset_id, a.kind, a.limit_kind, a.overdraft::text AS overdraft,
                a.history, a.metadata::text AS metadata, a.ts_ns, a.closed_seq IS NOT NULL AS closed,
                COALESCE(b.debits_pending, 0)::text AS dp, COALESCE(b.debits_posted, 0)::text AS dd,
                COALESCE(b.credits_pending, 0)::text AS cp, COALESCE(b.credits_posted, 0)::text AS cd,
                s.code, s.scale, s.ts_ns AS asset_ts
         FROM accounts a JOIN assets s USING (asset_id) LEFT JOIN balances b USING (account_id)
         WHERE a.account_id > $1::numeric AND ($2::int8 IS NULL OR a.asset_id = $2)
           AND ($3::text IS NULL OR a.kind = $3)
         ORDER BY a.account_id LIMIT $4",
    )
    .bind(after.map_or_else(|| "-1".to_string(), |a| a.0.to_string()))
    .bind(asset.map(|a| i64::from(a.0)))
    .bind(kind.map(AccountKind::as_str))
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await
    .map_err(PgError::db("listing accounts"))?;
    let more = rows.len() > limit;
    let mut out = Vec::with_capacity(limit);
    for row in rows.iter().take(limit) {
        let t = "accounts";
        let get = |e: sqlx::Error| PgError::BadValue { table: t, reason: e.to_string() };
        let asset = asset_of(t, row)?;
        let scale = i16::from(asset.scale);
        let kind_name: String = row.try_get("kind").map_err(get)?;
        let limit_kind: String = row.try_get("limit_kind").map_err(get)?;
        let overdraft = units(t, &row.try_get::<String, _>("overdraft").map_err(get)?, scale)?;
        let account = Account {
            id: AccountId(id128(t, &row.try_get::<String, _>("id").map_err(get)?)?),
            asset: asset.id,
            kind: account_kind_of(&kind_name)
                .ok_or_else(|| PgError::BadValue { table: t, reason: format!("kind {kind_name:?}") })?,
            limit: limit_of(&limit_kind, overdraft)
                .ok_or_else(|| PgError::BadValue { table: t, reason: format!("limit_kind {limit_kind:?}") })?,
            history: row.try_get("history").map_err(get)?,
            metadata: metadata_of(t, row.try_get("metadata").map_err(get)?)?,
            debits_pending: units(t, &row.try_get::<String, _>("dp").map_err(get)?, scale)?,
            debits_posted: units(t, &row.try_get::<String, _>("dd").map_err(get)?, scale)?,
            credits_pending: units(t, &row.try_get::<String, _>("cp").map_err(get)?, scale)?,
            credits_posted: units(t, &row.try_get::<String, _>("cd").map_err(get)?, scale)?,
            closed: row.try_get("closed").map_err(get)?,
            timestamp: Timestamp(row.try_get::<i64, _>("ts_ns").map_err(get)? as u64),
        };
        out.push((account, asset));
    }
    let next = if more { out.last().map(|(a, _)| a.id) } else { None };
    Ok((out, next))
}

/// What the transfers list filters on (all optional): touching an account (either side), of an
/// asset, of a kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferFilter {
    /// Debited or credited.
    pub account: Option<AccountId>,
    /// Of this asset.
    pub asset: Option<AssetId>,
    /// Of this kind.
    pub kind: Option<TransferKind>,
}

/// A page of accepted transfers (entries are not transfers) in the order they were applied,
/// after the one applied at `after` (exclusive), at most `limit` (≤ [`MAX_PAGE`]), each with its
/// asset, and the cursor of the next page (the last one's timestamp; `None` at the end). A
/// pending transfer's state is as of the read model's position, as the ledger's is as of its head.
pub async fn transfers_page(
    pool: &PgPool,
    after: Option<Timestamp>,
    limit: usize,
    filter: TransferFilter,
) -> Result<(Vec<(Transfer, Asset)>, Option<Timestamp>), PgError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query(
        "SELECT t.transfer_id::text AS id, t.kind, t.debit_account::text AS debit, t.credit_account::text AS credit,
                t.asset_id, t.amount::text AS amount, t.pending_id::text AS pending_id, t.expires_at_ns,
                t.metadata::text AS metadata, t.ts_ns, s.code, s.scale, s.ts_ns AS asset_ts,
                CASE WHEN t.kind <> 'pending' THEN 'none'
                     WHEN EXISTS (SELECT 1 FROM expirations e WHERE e.transfer_id = t.transfer_id) THEN 'expired'
                     ELSE COALESCE((SELECT CASE p.kind WHEN 'post_pending' THEN 'posted' ELSE 'voided' END
                                    FROM transfers p WHERE p.pending_id = t.transfer_id LIMIT 1), 'pending')
                END AS pending_state
         FROM transfers t JOIN assets s USING (asset_id)
         WHERE t.ts_ns > $1
           AND ($2::numeric IS NULL OR t.debit_account = $2::numeric OR t.credit_account = $2::numeric)
           AND ($3::int8 IS NULL OR t.asset_id = $3) AND ($4::text IS NULL OR t.kind = $4)
         ORDER BY t.ts_ns LIMIT $5",
    )
    .bind(after.map_or(-1, |t| i64::try_from(t.0).unwrap_or(i64::MAX)))
    .bind(filter.account.map(|a| a.0.to_string()))
    .bind(filter.asset.map(|a| i64::from(a.0)))
    .bind(filter.kind.map(aurum_ledger_node::facts::transfer_kind_name))
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await
    .map_err(PgError::db("listing transfers"))?;
    let more = rows.len() > limit;
    let mut out = Vec::with_capacity(limit);
    for row in rows.iter().take(limit) {
        let t = "transfers";
        let get = |e: sqlx::Error| PgError::BadValue { table: t, reason: e.to_string() };
        let asset = asset_of(t, row)?;
        let scale = i16::from(asset.scale);
        let kind_name: String = row.try_get("kind").map_err(get)?;
        let state: String = row.try_get("pending_state").map_err(get)?;
        let pending_id: Option<String> = row.try_get("pending_id").map_err(get)?;
        let transfer = Transfer {
            id: TransferId(id128(t, &row.try_get::<String, _>("id").map_err(get)?)?),
            debit_account: AccountId(id128(t, &row.try_get::<String, _>("debit").map_err(get)?)?),
            credit_account: AccountId(id128(t, &row.try_get::<String, _>("credit").map_err(get)?)?),
            amount: units(t, &row.try_get::<String, _>("amount").map_err(get)?, scale)?,
            asset: asset.id,
            kind: transfer_kind_of(&kind_name)
                .ok_or_else(|| PgError::BadValue { table: t, reason: format!("kind {kind_name:?}") })?,
            pending_id: pending_id.map(|p| id128(t, &p).map(TransferId)).transpose()?,
            expires_at: row.try_get::<Option<i64>, _>("expires_at_ns").map_err(get)?.map(|e| Timestamp(e as u64)),
            pending_state: match state.as_str() {
                "none" => PendingState::None,
                "pending" => PendingState::Pending,
                "posted" => PendingState::Posted,
                "voided" => PendingState::Voided,
                "expired" => PendingState::Expired,
                other => return Err(PgError::BadValue { table: t, reason: format!("pending state {other:?}") }),
            },
            metadata: metadata_of(t, row.try_get("metadata").map_err(get)?)?,
            timestamp: Timestamp(row.try_get::<i64, _>("ts_ns").map_err(get)? as u64),
        };
        out.push((transfer, asset));
    }
    let next = if more { out.last().map(|(t, _)| t.timestamp) } else { None };
    Ok((out, next))
}

/// The asset columns (`asset_id`, `code`, `scale`, `asset_ts`) of a list row.
fn asset_of(table: &'static str, row: &sqlx::postgres::PgRow) -> Result<Asset, PgError> {
    let get = |e: sqlx::Error| PgError::BadValue { table, reason: e.to_string() };
    let id: i64 = row.try_get("asset_id").map_err(get)?;
    let scale: i16 = row.try_get("scale").map_err(get)?;
    Ok(Asset {
        id: AssetId(u32::try_from(id).map_err(|_| PgError::BadValue { table, reason: format!("asset id {id}") })?),
        code: row.try_get("code").map_err(get)?,
        scale: u8::try_from(scale).map_err(|_| PgError::BadValue { table, reason: format!("scale {scale}") })?,
        timestamp: Timestamp(row.try_get::<i64, _>("asset_ts").map_err(get)? as u64),
    })
}

fn metadata_of(table: &'static str, json: Option<String>) -> Result<Metadata, PgError> {
    json.map_or(Ok(Metadata::new()), |j| {
        serde_json::from_str(&j).map_err(|e| PgError::BadValue { table, reason: format!("metadata {j:?}: {e}") })
    })
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
