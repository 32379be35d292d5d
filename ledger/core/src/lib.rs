//! `aurum-ledger`: the double-entry ledger as a pure, deterministic state machine.
//!
//! `(state, batch of commands, batch context) → (state', outcomes)`: [`Ledger::apply`] does no
//! I/O, reads no clock and uses no randomness, so replaying the journal through a fresh
//! [`Ledger`] reproduces every outcome and balance. Semantics follow TigerBeetle's accounts and
//! transfers (docs/ledger.md), plus assets with scales, journal entries with many postings,
//! account kinds, metadata, overdraft limits and account closing. Every rejection has a stable
//! result code (docs/ledger-result-codes.md).

pub mod codec;
pub mod command;
pub mod decimal;
mod hash;
pub mod outcome;
mod state;
pub mod types;

pub use command::{
    CloseAccount, Command, CreateAccount, CreateAsset, CreateEntry, CreateTransfer, PostPending, Posting,
    TransferFlags, VoidPending,
};
pub use outcome::{BatchResult, Expiry, Outcome, ResultCode};
pub use state::{
    AsOf, BalanceAt, BatchContext, Entry, InvariantViolation, Ledger, Movement, MovementFilter, StatementLine,
    TrialBalance, TrialBalanceRow,
};
pub use types::*;
