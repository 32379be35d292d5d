//! The chain sink: the chain indexer's *final* logs of the token and its feeds, decoded, into
//! `chain_events`.
//!
//! The indexer keeps logs in the KV store and treats a log as final once it is `confirmations`
//! blocks deep; only final logs are read (`read_final_logs`), so no row ever needs a rollback —
//! which an append-only table could not do. One table holds every chain: each snapshot's summary
//! carries every chain's position, `aurum.chain.<chain id>` = `<block>:<log index>` of the last
//! log consumed, committed with the rows it covers (exactly once, as for the other sinks). Logs
//! of the indexed contracts that are not token or feed events (role grants, configuration) move
//! the position without a row.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aurum_chain::alloy::primitives::U256;
use aurum_chain::indexer::{StoredLog, read_final_logs};
use aurum_chain::{ChainEvent, Deployment};
use aurum_kv::Db;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::table::Table;

use crate::catalog::Lake;
use crate::columns::{Cell, Columns, amount};
use crate::error::LakeError;
use crate::sink::{MAX_ROWS_PER_COMMIT, SOURCE_PROPERTY, commit_with, write_batch};
use crate::tables::LakeTable;

/// Snapshot property prefix: `aurum.chain.<chain id>` = `<block>:<log index>` last consumed.
pub const CHAIN_PROPERTY_PREFIX: &str = "aurum.chain.";
/// The source of the chain sink.
pub const CHAIN_SOURCE: &str = "chain.indexer";
/// Final logs read from the store at a time.
pub const LOGS_PER_READ: usize = 10_000;
/// Decimals of the token (amounts in `chain_events` are troy ounces).
pub const TOKEN_DECIMALS: u8 = 18;

/// Every chain's position, from the table's current snapshot.
pub fn positions(table: &Table) -> Result<BTreeMap<u64, (u64, u64)>, LakeError> {
    let mut out = BTreeMap::new();
    if let Some(s) = table.metadata().current_snapshot() {
        for (k, v) in &s.summary().additional_properties {
            if let Some(chain) = k.strip_prefix(CHAIN_PROPERTY_PREFIX) {
                let bad = || LakeError::BadOffset {
                    table: LakeTable::ChainEvents.name(),
                    key: CHAIN_PROPERTY_PREFIX,
                    value: format!("{k}={v}"),
                };
                let (block, index) = v.split_once(':').ok_or_else(bad)?;
                out.insert(
                    chain.parse().map_err(|_| bad())?,
                    (block.parse().map_err(|_| bad())?, index.parse().map_err(|_| bad())?),
                );
            }
        }
    }
    Ok(out)
}

/// What a chain sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainSyncReport {
    /// Commits made.
    pub commits: u64,
    /// Final logs read, all chains.
    pub logs: u64,
    /// Rows appended (decoded events).
    pub rows: u64,
    /// Each chain's position after the sync: (block, log index) of the last log consumed.
    pub positions: BTreeMap<u64, (u64, u64)>,
}

/// The common columns of an event: its name, the addresses it moves from and to, its amount.
struct Movement {
    name: &'static str,
    from: Option<String>,
    to: Option<String>,
    amount: Option<U256>,
}

fn movement(e: &ChainEvent) -> Option<Movement> {
    let a = |x: &aurum_chain::alloy::primitives::Address| Some(x.to_string());
    let m = |name, from, to, amount| Some(Movement { name, from, to, amount });
    match e {
        ChainEvent::Transfer { from, to, amount } => m("transfer", a(from), a(to), Some(*amount)),
        ChainEvent::Minted { to, amount, .. } => m("minted", None, a(to), Some(*amount)),
        ChainEvent::Redeemed { from, amount, .. } => m("redeemed", a(from), None, Some(*amount)),
        ChainEvent::Wiped { account, amount } => m("wiped", a(account), None, Some(*amount)),
        ChainEvent::Frozen { account } => m("frozen", a(account), None, None),
        ChainEvent::Unfrozen { account } => m("unfrozen", a(account), None, None),
        ChainEvent::Paused => m("paused", None, None, None),
        ChainEvent::Unpaused => m("unpaused", None, None, None),
        ChainEvent::ReserveAnswer { .. } => m("reserve_answer", None, None, None),
        ChainEvent::PriceAnswer { .. } => m("price_answer", None, None, None),
        ChainEvent::Other => None,
    }
}

fn push_log(cols: &mut Columns, chain_id: u64, log: &StoredLog, event: &ChainEvent) -> Result<bool, LakeError> {
    let Some(Movement { name, from, to, amount: value }) = movement(event) else { return Ok(false) };
    let oz = |what: &str, v: U256| -> Result<i128, LakeError> {
        u128::try_from(v).ok().and_then(|u| i128::try_from(u).ok()).and_then(|u| amount(u, TOKEN_DECIMALS)).ok_or_else(
            || LakeError::BadRow {
                table: LakeTable::ChainEvents.name(),
                column: what.to_string(),
                reason: format!(
                    "{v} base units at block {} log {} exceed decimal(38, 18)",
                    log.block_number, log.log_index
                ),
            },
        )
    };
    let amount_oz = value.map(|v| oz("amount_oz", v)).transpose()?;
    let (reserve_oz, reference, answer, round) = match event {
        ChainEvent::Minted { reserve, .. } => (Some(oz("reserve_oz", *reserve)?), None, None, None),
        ChainEvent::Redeemed { reference, .. } => (None, Some(reference.to_string()), None, None),
        ChainEvent::ReserveAnswer { answer, round, .. } | ChainEvent::PriceAnswer { answer, round, .. } => {
            (None, None, Some(answer.to_string()), Some(round.to_string()))
        }
        _ => (None, None, None, None),
    };
    fn opt_str(v: &Option<String>) -> Cell<'_> {
        v.as_deref().map_or(Cell::Null, Cell::Str)
    }
    let block_hash = log.block_hash.to_string();
    let tx_hash = log.tx_hash.to_string();
    let contract = log.address.to_string();
    cols.push(&[
        Cell::Unsigned(chain_id),
        Cell::Unsigned(log.block_number),
        Cell::Str(&block_hash),
        Cell::Micros((log.block_timestamp as i64).saturating_mul(1_000_000)),
        Cell::Str(&tx_hash),
        Cell::Unsigned(log.log_index),
        Cell::Str(&contract),
        Cell::Str(name),
        opt_str(&from),
        opt_str(&to),
        amount_oz.map_or(Cell::Null, Cell::Amount),
        reserve_oz.map_or(Cell::Null, Cell::Amount),
        opt_str(&reference),
        opt_str(&answer),
        opt_str(&round),
    ])?;
    Ok(true)
}

/// Bring `chain_events` up to the indexer's final block for each of `chains` (chain id and the
/// deployment whose contracts it indexes).
pub async fn sync_chain_events(
    lake: &Lake,
    db: &Db,
    chains: &[(u64, Deployment)],
) -> Result<ChainSyncReport, LakeError> {
    let which = LakeTable::ChainEvents;
    let mut table = lake.table(which).await?;
    let mut committed = positions(&table)?;
    let mut report = ChainSyncReport::default();
    loop {
        let mut cols = Columns::new(which)?;
        let mut advanced = committed.clone();
        let mut logs = 0u64;
        for (chain_id, deployment) in chains {
            while cols.len() < MAX_ROWS_PER_COMMIT {
                let after = advanced.get(chain_id).copied();
                let batch = read_final_logs(db, *chain_id, after, LOGS_PER_READ)?;
                let Some(last) = batch.last() else { break };
                let last = (last.block_number, last.log_index);
                for log in &batch {
                    let event = aurum_chain::events::decode(log, deployment)
                        .map_err(|source| LakeError::ChainEvent { chain_id: *chain_id, source })?;
                    push_log(&mut cols, *chain_id, log, &event)?;
                }
                logs += batch.len() as u64;
                advanced.insert(*chain_id, last);
            }
        }
        if logs == 0 {
            break;
        }
        let rows = cols.len() as u64;
        let files = if rows == 0 {
            Vec::new()
        } else {
            let schema = Arc::new(schema_to_arrow_schema(table.metadata().current_schema())?);
            let first = advanced.values().map(|(b, _)| *b).min().unwrap_or(0);
            write_batch(&table, which, first, cols.finish(schema)?).await?
        };
        let mut props = HashMap::from([(SOURCE_PROPERTY.to_string(), CHAIN_SOURCE.to_string())]);
        for (chain, (block, index)) in &advanced {
            props.insert(format!("{CHAIN_PROPERTY_PREFIX}{chain}"), format!("{block}:{index}"));
        }
        table = commit_with(lake, &table, files, props).await?;
        committed = advanced;
        report.commits += 1;
        report.logs += logs;
        report.rows += rows;
    }
    report.positions = committed;
    Ok(report)
}
