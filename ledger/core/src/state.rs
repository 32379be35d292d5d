//! The ledger state and the state machine. (Skeleton: the signatures are the contract.)

use crate::codec::DecodeError;
use crate::command::Command;
use crate::outcome::BatchResult;
use crate::types::{AccountId, Amount, AssetId, Timestamp, TransferId};

/// Where a batch sits in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchContext {
    /// Journal sequence number of the block holding the batch (1 for the first block).
    pub seq: u64,
    /// Proposed batch timestamp (wall clock of the writer). The state machine uses
    /// `max(timestamp, last event timestamp + 1)` as the first event's timestamp, so event
    /// timestamps strictly increase even if the wall clock goes backwards.
    pub timestamp: Timestamp,
}

/// A point in ledger history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// After every event with a timestamp ≤ this.
    Timestamp(Timestamp),
    /// After the block with this sequence number.
    Sequence(u64),
}

/// An account's balances at a point in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceAt {
    /// Debits pending.
    pub debits_pending: Amount,
    /// Debits posted.
    pub debits_posted: Amount,
    /// Credits pending.
    pub credits_pending: Amount,
    /// Credits posted.
    pub credits_posted: Amount,
    /// Timestamp of the last change at or before the point asked for.
    pub timestamp: Timestamp,
}

/// One line of an account statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Event timestamp.
    pub timestamp: Timestamp,
    /// Journal block.
    pub seq: u64,
    /// The transfer, entry, or expired pending transfer.
    pub transfer: TransferId,
    /// Balances after the event.
    pub after: BalanceAt,
}

/// One account's line in a trial balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalanceRow {
    /// Account.
    pub account: AccountId,
    /// Its asset.
    pub asset: AssetId,
    /// Posted debits.
    pub debits_posted: Amount,
    /// Posted credits.
    pub credits_posted: Amount,
}

/// Every account's posted totals, with per-asset sums (which must be equal).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrialBalance {
    /// Accounts in id order.
    pub rows: Vec<TrialBalanceRow>,
    /// Per asset: (Σ debits posted, Σ credits posted).
    pub totals: Vec<(AssetId, Amount, Amount)>,
}

/// A broken invariant: a bug, never a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger invariant violated: {0}")]
pub struct InvariantViolation(pub String);

/// The ledger state.
#[derive(Debug, Clone, Default)]
pub struct Ledger {}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Apply a batch: expire due pending transfers, then run each command (linked chains all or
    /// nothing). Deterministic; never panics on any command.
    pub fn apply(&mut self, _ctx: BatchContext, _commands: &[Command]) -> BatchResult {
        unimplemented!()
    }

    /// Canonical encoding of the whole state (for snapshots): equal states encode equally.
    pub fn encode_snapshot(&self, _out: &mut Vec<u8>) {
        unimplemented!()
    }

    /// Decode a snapshot.
    pub fn decode_snapshot(_bytes: &[u8]) -> Result<Ledger, DecodeError> {
        unimplemented!()
    }

    /// Check every invariant: per asset Σ debits = Σ credits (posted and pending), no limit
    /// exceeded, pending totals equal the sums of live pending transfers.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        unimplemented!()
    }

    /// Sequence number of the last applied batch (0: none).
    pub fn last_seq(&self) -> u64 {
        unimplemented!()
    }

    /// Timestamp of the last event (0: none).
    pub fn last_timestamp(&self) -> Timestamp {
        unimplemented!()
    }
}
