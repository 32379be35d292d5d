//! The token's state at a final block, rebuilt from the indexer's final logs: supply, every holder's balance, who
//! is frozen, whether transfers are paused, and the feeds' last answers. What reconciliation compares against the
//! bars and the ledger, without trusting (or needing) a node: the logs are the chain's own account of every change.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, I256, U256};
use aurum_kv::Db;

use crate::deploy::Deployment;
use crate::events::{self, ChainEvent, DecodeError};
use crate::indexer::{self, IndexerError, store};

/// Logs read per batch while rebuilding.
const LOGS_PER_READ: usize = 10_000;

/// A feed's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedAnswer {
    /// The answer (feed units: value × 10^decimals).
    pub answer: I256,
    /// Its round.
    pub round: U256,
    /// Its timestamp (Unix seconds).
    pub updated_at: U256,
    /// The block it was posted in.
    pub block: u64,
}

/// The token at a block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holdings {
    /// The block.
    pub block: u64,
    /// Total supply.
    pub supply: U256,
    /// Every holder with a non-zero balance.
    pub balances: BTreeMap<Address, U256>,
    /// Frozen addresses.
    pub frozen: BTreeSet<Address>,
    /// Transfers paused.
    pub paused: bool,
    /// Σ minted, Σ redeemed (burned by redemption), Σ wiped.
    pub minted: U256,
    /// Σ burned by redemptions.
    pub redeemed: U256,
    /// Σ wiped from frozen addresses.
    pub wiped: U256,
    /// The reserve feed's last answer.
    pub reserve: Option<FeedAnswer>,
    /// The price feed's last answer.
    pub price: Option<FeedAnswer>,
}

/// Why the state could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum HoldingsError {
    /// Reading the index failed.
    #[error(transparent)]
    Indexer(#[from] IndexerError),
    /// A log did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The block is not final yet (or not indexed).
    #[error(
        "block {block} is not final in the index (final through block {finalized}); index further or pick an earlier block"
    )]
    NotFinal {
        /// Asked for.
        block: u64,
        /// Final through.
        finalized: u64,
    },
    /// The logs contradict themselves (a balance would go negative): the index is incomplete or corrupt.
    #[error("log {log_index} of block {block}: {reason}")]
    Inconsistent {
        /// Block.
        block: u64,
        /// Log index.
        log_index: u64,
        /// What went wrong.
        reason: String,
    },
}

/// Rebuilds the token's state at final `block` from the index of `chain_id`.
pub fn holdings_at(db: &Db, chain_id: u64, deployment: &Deployment, block: u64) -> Result<Holdings, HoldingsError> {
    let cursor = store::read_cursor(db, chain_id)?;
    let finalized = cursor.map_or(0, |c| c.finalized);
    if block > finalized || cursor.is_none() {
        return Err(HoldingsError::NotFinal { block, finalized });
    }
    let mut h = Holdings { block, ..Holdings::default() };
    let mut after = None;
    'read: loop {
        let logs = indexer::read_final_logs(db, chain_id, after, LOGS_PER_READ)?;
        let Some(last) = logs.last() else { break };
        after = Some((last.block_number, last.log_index));
        for log in &logs {
            if log.block_number > block {
                break 'read;
            }
            let inconsistent = |reason: String| HoldingsError::Inconsistent {
                block: log.block_number,
                log_index: log.log_index,
                reason,
            };
            match events::decode(log, deployment)? {
                ChainEvent::Transfer { from, to, amount } => {
                    if from.is_zero() {
                        h.supply =
                            h.supply.checked_add(amount).ok_or_else(|| inconsistent("supply overflows".into()))?;
                    } else {
                        let balance = h.balances.entry(from).or_default();
                        *balance = balance
                            .checked_sub(amount)
                            .ok_or_else(|| inconsistent(format!("{from} sends {amount} but holds {balance}")))?;
                        if balance.is_zero() {
                            h.balances.remove(&from);
                        }
                    }
                    if to.is_zero() {
                        h.supply = h
                            .supply
                            .checked_sub(amount)
                            .ok_or_else(|| inconsistent("burn exceeds the supply".into()))?;
                    } else if !amount.is_zero() {
                        *h.balances.entry(to).or_default() += amount;
                    }
                }
                ChainEvent::Minted { amount, .. } => h.minted += amount,
                ChainEvent::Redeemed { amount, .. } => h.redeemed += amount,
                ChainEvent::Wiped { amount, .. } => h.wiped += amount,
                ChainEvent::Frozen { account } => {
                    h.frozen.insert(account);
                }
                ChainEvent::Unfrozen { account } => {
                    h.frozen.remove(&account);
                }
                ChainEvent::Paused => h.paused = true,
                ChainEvent::Unpaused => h.paused = false,
                ChainEvent::ReserveAnswer { answer, round, updated_at } => {
                    h.reserve = Some(FeedAnswer { answer, round, updated_at, block: log.block_number });
                }
                ChainEvent::PriceAnswer { answer, round, updated_at } => {
                    h.price = Some(FeedAnswer { answer, round, updated_at, block: log.block_number });
                }
                ChainEvent::Other => {}
            }
        }
    }
    Ok(h)
}
