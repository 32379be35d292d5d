//! The projector: journal blocks into the read model, exactly once.
//!
//! It owns a [`Ledger`] and re-executes every block (checking the outcomes the block recorded),
//! so every table — balances and their history included — is exactly "as of" the position it
//! stores, whichever process or machine it runs on. Blocks are grouped into transactions of at
//! most [`MAX_BATCH_BLOCKS`] blocks and about [`MAX_BATCH_ROWS`] rows; each transaction locks the
//! projection's row in `aurum_projection`, checks it still stands where this projector left it,
//! COPYs the new rows, upserts the balances, and moves the position (next seq and last block
//! hash) — all or nothing. A crash anywhere leaves either the old position with none of the rows
//! or the new position with all of them; a restart continues from the stored position.
//!
//! Restart cost: the ledger is rebuilt by replaying the journal from genesis up to the stored
//! position (no signature checks: the audit does those; hash links and outcomes are checked).

use std::collections::BTreeMap;

use aurum_ledger::decimal::format_amount;
use aurum_ledger::{AccountId, BatchContext, Ledger, Metadata, Side, Timestamp};
use aurum_ledger_node::block::{Block, GENESIS_PREV_HASH};
use aurum_ledger_node::facts::{Fact, for_each_fact, transfer_kind_name};
use aurum_ledger_node::journal::{JournalError, JournalReader, RawBlock};
use sqlx::PgPool;

use crate::error::PgError;
use crate::text::{CopyRows, date_key, timestamptz};

/// The projection's name in `aurum_projection` when none is given.
pub const DEFAULT_PROJECTION: &str = "ledger";
/// Most blocks in one transaction.
pub const MAX_BATCH_BLOCKS: usize = 4096;
/// A transaction is committed once it holds this many rows (a block is never split).
pub const MAX_BATCH_ROWS: usize = 200_000;

/// Where a test makes the projector abort the process (`std::process::abort`: no unwinding, no
/// rollback sent — the server sees the connection drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Every row COPYed and the position updated, COMMIT not sent.
    AfterCopyBeforeCommit,
    /// Right after the first COMMIT.
    AfterCommit,
}

/// What one [`Projector::sync`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Blocks projected.
    pub blocks: u64,
    /// Rows written (all tables, balances upserts included).
    pub rows: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// The next seq to project.
    pub next_seq: u64,
}

/// The rows of one transaction, per table, as COPY text.
#[derive(Default)]
struct Batch {
    first_seq: u64,
    blocks: usize,
    /// Every event of the batch has a timestamp ≥ this (the ledger's last before the batch + 1).
    floor_ts: u64,
    assets: CopyRows,
    dim_asset: CopyRows,
    accounts: CopyRows,
    dim_account: CopyRows,
    transfers: CopyRows,
    entries: CopyRows,
    postings: CopyRows,
    expirations: CopyRows,
    facts: CopyRows,
    closed: Vec<(String, i64)>,
    /// Accounts whose balances changed, with the last block that changed them.
    touched: BTreeMap<AccountId, i64>,
}

impl Batch {
    fn rows(&self) -> usize {
        [
            &self.assets,
            &self.dim_asset,
            &self.accounts,
            &self.dim_account,
            &self.transfers,
            &self.entries,
            &self.postings,
            &self.expirations,
            &self.facts,
        ]
        .iter()
        .map(|t| t.rows())
        .sum::<usize>()
            + self.closed.len()
            + self.touched.len()
    }
}

/// The tables COPYed, in an order that satisfies their foreign keys, with their columns.
const COPIES: &[(&str, &str)] = &[
    ("assets", "asset_id, code, scale, seq, ts_ns"),
    ("dim_asset", "asset_id, code, scale"),
    ("accounts", "account_id, asset_id, kind, history, metadata, seq, ts_ns, limit_kind, overdraft"),
    ("dim_account", "account_id, asset_id, kind, name"),
    (
        "transfers",
        "transfer_id, kind, debit_account, credit_account, asset_id, amount, pending_id, metadata, seq, ts_ns, ts, expires_at_ns",
    ),
    ("entries", "entry_id, metadata, seq, ts_ns, ts"),
    ("postings", "movement_id, leg, account_id, side, amount, seq, ts_ns"),
    ("expirations", "transfer_id, seq, ts_ns"),
    (
        "fact_transfers",
        "ts_ns, transfer_id, date_key, asset_id, debit_account, credit_account, kind, result, ok, amount, seq, ts",
    ),
    (
        "balance_history",
        "account_id, ts_ns, ordinal, seq, movement_id, debits_pending, debits_posted, credits_pending, credits_posted",
    ),
];

fn metadata_json(m: &Metadata) -> Option<String> {
    (!m.is_empty()).then(|| serde_json::to_string(m).expect("string maps serialize"))
}

fn opt_field(rows: &mut CopyRows, value: Option<&str>) {
    match value {
        Some(v) => rows.field(v),
        None => rows.null(),
    };
}

/// Projects one journal into the read model.
pub struct Projector {
    pool: PgPool,
    name: String,
    ledger: Ledger,
    next_seq: u64,
    last_hash: [u8; 32],
    /// A transaction failed after blocks were applied to `ledger`: it is ahead of the database.
    stale: bool,
    max_blocks: usize,
    max_rows: usize,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector").field("name", &self.name).field("next_seq", &self.next_seq).finish()
    }
}

impl Projector {
    /// Open the projection `name` (created at seq 1 if new) and rebuild its ledger from `journal`
    /// up to the stored position. Fails with [`PgError::Diverged`] if the journal does not
    /// hold the blocks the database was built from (shorter, or a different chain).
    pub async fn open(pool: &PgPool, name: &str, journal: &JournalReader) -> Result<Projector, PgError> {
        sqlx::query("INSERT INTO aurum_projection (name, next_seq) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(pool)
            .await
            .map_err(PgError::db("creating the projection's position"))?;
        let (stored_next, stored_hash) = read_position(pool, name).await?;
        let mut p = Projector {
            pool: pool.clone(),
            name: name.to_string(),
            ledger: Ledger::new(),
            next_seq: 1,
            last_hash: GENESIS_PREV_HASH,
            stale: false,
            max_blocks: MAX_BATCH_BLOCKS,
            max_rows: MAX_BATCH_ROWS,
        };
        if stored_next > 1 {
            for raw in journal.read_blocks(1)? {
                let block = p.apply(raw?)?;
                if block.seq + 1 == stored_next {
                    break;
                }
            }
            if p.next_seq != stored_next {
                return Err(p.diverged(
                    p.next_seq,
                    format!(
                        "the database is at block {} but the journal ends at block {}",
                        stored_next - 1,
                        p.next_seq - 1
                    ),
                ));
            }
            if stored_hash.as_deref() != Some(&p.last_hash[..]) {
                return Err(p.diverged(
                    stored_next - 1,
                    "the database was built from a different journal: the hash of its last block differs".into(),
                ));
            }
        }
        Ok(p)
    }

    /// [`Projector::open`] as a boxed `Send` future (see [`Projector::sync_send`]).
    pub fn open_send<'a>(
        pool: &'a PgPool,
        name: &'a str,
        journal: &'a JournalReader,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Projector, PgError>> + Send + 'a>> {
        Box::pin(Projector::open(pool, name, journal))
    }

    /// Smaller transactions (for tests of the batching; limits are clamped to the defaults).
    pub fn with_batch_limits(mut self, max_blocks: usize, max_rows: usize) -> Projector {
        self.max_blocks = max_blocks.clamp(1, MAX_BATCH_BLOCKS);
        self.max_rows = max_rows.clamp(1, MAX_BATCH_ROWS);
        self
    }

    /// The next journal seq this projector will apply.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The projector's ledger: the state as of `next_seq - 1`.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Project every block of `journal` from the current position to its end.
    pub async fn sync(&mut self, journal: &JournalReader, failpoint: Option<Failpoint>) -> Result<SyncReport, PgError> {
        let blocks = journal.read_blocks(self.next_seq)?;
        self.sync_blocks(blocks, failpoint).await
    }

    /// [`Projector::sync`] as a boxed `Send` future, for callers that store or spawn it (proving
    /// `Send` for sqlx's transaction futures needs the concrete types this crate has).
    pub fn sync_send<'a>(
        &'a mut self,
        journal: &'a JournalReader,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SyncReport, PgError>> + Send + 'a>> {
        Box::pin(self.sync(journal, None))
    }

    /// Project `blocks`, which must start at [`Projector::next_seq`] and follow each other (a
    /// consumer's records, for instance), in transactions of the batch limits.
    pub async fn sync_blocks(
        &mut self,
        mut blocks: impl Iterator<Item = Result<RawBlock, JournalError>>,
        failpoint: Option<Failpoint>,
    ) -> Result<SyncReport, PgError> {
        if self.stale {
            return Err(self.diverged(
                self.next_seq,
                "a failed transaction left this projector ahead of the database: reopen it".into(),
            ));
        }
        let mut report = SyncReport { next_seq: self.next_seq, ..SyncReport::default() };
        loop {
            let mut batch =
                Batch { first_seq: self.next_seq, floor_ts: self.ledger.last_timestamp().0 + 1, ..Batch::default() };
            while batch.blocks < self.max_blocks && batch.rows() < self.max_rows {
                let Some(raw) = blocks.next() else { break };
                self.project_block(raw?, &mut batch)?;
            }
            if batch.blocks == 0 {
                return Ok(report);
            }
            let rows = self.flush(&batch, failpoint).await?;
            report.blocks += batch.blocks as u64;
            report.rows += rows;
            report.transactions += 1;
            report.next_seq = self.next_seq;
        }
    }

    fn diverged(&self, seq: u64, reason: String) -> PgError {
        PgError::Diverged { name: self.name.clone(), seq, reason }
    }

    /// Re-execute one block on the projector's ledger, checking it continues the chain and
    /// reproduces its recorded outcomes.
    fn apply(&mut self, raw: RawBlock) -> Result<Block, PgError> {
        let seq = raw.expected_seq();
        let block = raw.block.map_err(|e| self.diverged(seq, format!("the block does not decode: {e}")))?;
        if block.seq != self.next_seq {
            return Err(self.diverged(block.seq, format!("expected block {}", self.next_seq)));
        }
        if block.prev_hash != self.last_hash {
            return Err(self.diverged(block.seq, "its prev_hash is not the hash of the block before it".into()));
        }
        let result = self.ledger.apply(BatchContext { seq: block.seq, timestamp: block.timestamp }, &block.commands);
        if result != block.result {
            return Err(self.diverged(block.seq, "re-executing it gives other outcomes than it records".into()));
        }
        self.next_seq += 1;
        self.last_hash = block.hash;
        Ok(block)
    }

    fn project_block(&mut self, raw: RawBlock, batch: &mut Batch) -> Result<(), PgError> {
        let block = self.apply(raw)?;
        // From here on the ledger is ahead of the database until the batch commits.
        self.stale = true;
        let seq = block.seq as i64;
        let ledger = &self.ledger;
        let scale_of_asset = |a| ledger.asset(a).map(|a| a.scale);
        let scale_of_account = |a| ledger.account(a).and_then(|a| scale_of_asset(a.asset));
        for_each_fact(ledger, &block, |fact| -> Result<(), PgError> {
            match fact {
                Fact::Asset { id, code, scale, timestamp } => {
                    batch.assets.plain(id.0).field(code).plain(scale).plain(seq).plain(timestamp.0).end();
                    batch.dim_asset.plain(id.0).field(code).plain(scale).end();
                }
                Fact::Account { id, asset, kind, limit, history, metadata, timestamp } => {
                    let json = metadata_json(metadata);
                    let scale = scale_of_asset(asset)
                        .ok_or_else(|| self.diverged(block.seq, format!("account {} has an unknown asset", id.0)))?;
                    let (limit_kind, overdraft) = crate::codes::limit_columns(limit);
                    batch.accounts.plain(id.0).plain(asset.0).plain(kind.as_str()).plain(history);
                    opt_field(&mut batch.accounts, json.as_deref());
                    batch
                        .accounts
                        .plain(seq)
                        .plain(timestamp.0)
                        .plain(limit_kind)
                        .plain(format_amount(overdraft, scale));
                    batch.accounts.end();
                    batch.dim_account.plain(id.0).plain(asset.0).plain(kind.as_str());
                    opt_field(&mut batch.dim_account, metadata.get("name").map(String::as_str));
                    batch.dim_account.end();
                    batch.touched.insert(id, seq);
                }
                Fact::Closed { id, .. } => batch.closed.push((id.0.to_string(), seq)),
                Fact::Movement(m) => {
                    let amount = match (m.amount, m.asset.and_then(scale_of_asset)) {
                        (Some(units), Some(scale)) => Some(format_amount(units, scale)),
                        _ => None,
                    };
                    let f = &mut batch.facts;
                    f.plain(m.timestamp.0).plain(m.id.0).plain(date_key(m.timestamp.0)).opt(m.asset.map(|a| a.0));
                    f.opt(m.debit.map(|a| a.0)).opt(m.credit.map(|a| a.0));
                    f.plain(transfer_kind_name(m.kind)).plain(m.result.as_str()).plain(m.result.is_ok());
                    opt_field(f, amount.as_deref());
                    f.plain(seq).plain(timestamptz(m.timestamp.0)).end();
                    if let Some(t) = m.applied {
                        let scale = scale_of_asset(t.asset).ok_or_else(|| {
                            self.diverged(block.seq, format!("transfer {} has an unknown asset", t.id.0))
                        })?;
                        let json = metadata_json(&t.metadata);
                        let r = &mut batch.transfers;
                        r.plain(t.id.0)
                            .plain(transfer_kind_name(t.kind))
                            .plain(t.debit_account.0)
                            .plain(t.credit_account.0);
                        r.plain(t.asset.0).plain(format_amount(t.amount, scale)).opt(t.pending_id.map(|p| p.0));
                        opt_field(r, json.as_deref());
                        r.plain(seq).plain(m.timestamp.0).plain(timestamptz(m.timestamp.0));
                        r.opt(t.expires_at.map(|e| e.0)).end();
                        batch.touched.insert(t.debit_account, seq);
                        batch.touched.insert(t.credit_account, seq);
                    }
                }
                Fact::Entry { id, metadata, timestamp } => {
                    let json = metadata_json(metadata);
                    batch.entries.plain(id.0);
                    opt_field(&mut batch.entries, json.as_deref());
                    batch.entries.plain(seq).plain(timestamp.0).plain(timestamptz(timestamp.0)).end();
                }
                Fact::Posting(p) => {
                    let scale = scale_of_account(p.account).ok_or_else(|| {
                        self.diverged(block.seq, format!("posting to unknown account {}", p.account.0))
                    })?;
                    let side = match p.side {
                        Side::Debit => "debit",
                        Side::Credit => "credit",
                    };
                    batch.postings.plain(p.movement.0).plain(p.leg).plain(p.account.0).plain(side);
                    batch.postings.plain(format_amount(p.amount, scale)).plain(seq).plain(p.timestamp.0).end();
                    batch.touched.insert(p.account, seq);
                }
                Fact::Expired { pending, timestamp } => {
                    batch.expirations.plain(pending.id.0).plain(seq).plain(timestamp.0).end();
                    batch.touched.insert(pending.debit_account, seq);
                    batch.touched.insert(pending.credit_account, seq);
                }
            }
            Ok(())
        })?;
        batch.blocks += 1;
        Ok(())
    }

    /// Balances after the batch of every touched account, and the history lines the batch added
    /// to those that keep history.
    fn balance_rows(&self, batch: &Batch) -> Result<(BalanceArrays, CopyRows), PgError> {
        let mut arrays = BalanceArrays::default();
        let mut history = CopyRows::default();
        for (id, seq) in &batch.touched {
            let account = self
                .ledger
                .account(*id)
                .ok_or_else(|| self.diverged(self.next_seq - 1, format!("account {} vanished", id.0)))?;
            let scale = self.ledger.asset(account.asset).map(|a| a.scale).unwrap_or(0);
            arrays.ids.push(id.0.to_string());
            arrays.seqs.push(*seq);
            arrays.debits_pending.push(format_amount(account.debits_pending, scale));
            arrays.debits_posted.push(format_amount(account.debits_posted, scale));
            arrays.credits_pending.push(format_amount(account.credits_pending, scale));
            arrays.credits_posted.push(format_amount(account.credits_posted, scale));
            if !account.history {
                continue;
            }
            let mut previous_ts = None;
            let mut ordinal = 0u16;
            for line in self.ledger.statement(*id, Timestamp(batch.floor_ts), Timestamp(u64::MAX)) {
                ordinal = if previous_ts == Some(line.timestamp) { ordinal + 1 } else { 0 };
                previous_ts = Some(line.timestamp);
                let a = line.after;
                history.plain(id.0).plain(line.timestamp.0).plain(ordinal).plain(line.seq).plain(line.transfer.0);
                history.plain(format_amount(a.debits_pending, scale)).plain(format_amount(a.debits_posted, scale));
                history
                    .plain(format_amount(a.credits_pending, scale))
                    .plain(format_amount(a.credits_posted, scale))
                    .end();
            }
        }
        Ok((arrays, history))
    }

    async fn flush(&mut self, batch: &Batch, failpoint: Option<Failpoint>) -> Result<u64, PgError> {
        let (balances, history) = self.balance_rows(batch)?;
        let tables = [
            &batch.assets,
            &batch.dim_asset,
            &batch.accounts,
            &batch.dim_account,
            &batch.transfers,
            &batch.entries,
            &batch.postings,
            &batch.expirations,
            &batch.facts,
            &history,
        ];
        let mut tx = self.pool.begin().await.map_err(PgError::db("starting a projection transaction"))?;
        let stored: (i64,) = sqlx::query_as("SELECT next_seq FROM aurum_projection WHERE name = $1 FOR UPDATE")
            .bind(&self.name)
            .fetch_one(&mut *tx)
            .await
            .map_err(PgError::db("locking the projection's position"))?;
        if stored.0 as u64 != batch.first_seq {
            return Err(self.diverged(
                batch.first_seq,
                format!(
                    "the database's position moved to block {} under this projector: another projector writes it",
                    stored.0
                ),
            ));
        }
        let mut rows = 0u64;
        for ((table, columns), data) in COPIES.iter().zip(tables) {
            if data.rows() == 0 {
                continue;
            }
            let statement = format!("COPY {table} ({columns}) FROM STDIN");
            let mut copy =
                tx.copy_in_raw(&statement).await.map_err(PgError::db(format!("starting COPY into {table}")))?;
            copy.send(data.as_bytes()).await.map_err(PgError::db(format!("sending rows to {table}")))?;
            rows += copy.finish().await.map_err(PgError::db(format!("COPY into {table}")))?;
        }
        if !batch.closed.is_empty() {
            let (ids, seqs): (Vec<String>, Vec<i64>) = batch.closed.iter().cloned().unzip();
            sqlx::query(
                "UPDATE accounts a SET closed_seq = c.seq FROM UNNEST($1::text[], $2::int8[]) AS c(id, seq)
                 WHERE a.account_id = c.id::numeric",
            )
            .bind(&ids)
            .bind(&seqs)
            .execute(&mut *tx)
            .await
            .map_err(PgError::db("marking closed accounts"))?;
            let done =
                sqlx::query("UPDATE dim_account SET closed = true WHERE account_id = ANY($1::text[]::numeric[])")
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await
                    .map_err(PgError::db("marking closed accounts in dim_account"))?;
            rows += done.rows_affected() * 2;
        }
        if !balances.ids.is_empty() {
            let done = sqlx::query(
                "INSERT INTO balances (account_id, debits_pending, debits_posted, credits_pending, credits_posted, seq)
                 SELECT id::numeric, dp::numeric, dd::numeric, cp::numeric, cd::numeric, seq
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
                      AS b(id, dp, dd, cp, cd, seq)
                 ON CONFLICT (account_id) DO UPDATE SET debits_pending = EXCLUDED.debits_pending,
                     debits_posted = EXCLUDED.debits_posted, credits_pending = EXCLUDED.credits_pending,
                     credits_posted = EXCLUDED.credits_posted, seq = EXCLUDED.seq",
            )
            .bind(&balances.ids)
            .bind(&balances.debits_pending)
            .bind(&balances.debits_posted)
            .bind(&balances.credits_pending)
            .bind(&balances.credits_posted)
            .bind(&balances.seqs)
            .execute(&mut *tx)
            .await
            .map_err(PgError::db("upserting balances"))?;
            rows += done.rows_affected();
        }
        sqlx::query("UPDATE aurum_projection SET next_seq = $2, last_hash = $3, updated_at = now() WHERE name = $1")
            .bind(&self.name)
            .bind(self.next_seq as i64)
            .bind(&self.last_hash[..])
            .execute(&mut *tx)
            .await
            .map_err(PgError::db("moving the projection's position"))?;
        if failpoint == Some(Failpoint::AfterCopyBeforeCommit) {
            std::process::abort();
        }
        tx.commit().await.map_err(PgError::db("committing a projection transaction"))?;
        self.stale = false;
        if failpoint == Some(Failpoint::AfterCommit) {
            std::process::abort();
        }
        Ok(rows)
    }
}

#[derive(Default)]
struct BalanceArrays {
    ids: Vec<String>,
    debits_pending: Vec<String>,
    debits_posted: Vec<String>,
    credits_pending: Vec<String>,
    credits_posted: Vec<String>,
    /// The last block that changed each account's balances.
    seqs: Vec<i64>,
}

/// The stored position of projection `name`: (next seq, hash of the last block projected).
pub async fn read_position(pool: &PgPool, name: &str) -> Result<(u64, Option<Vec<u8>>), PgError> {
    let row: Option<(i64, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT next_seq, last_hash FROM aurum_projection WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(PgError::db("reading the projection's position"))?;
    Ok(row.map_or((1, None), |(next, hash)| (next as u64, hash)))
}
