//! The scorer's input: one transfer between two accounts, in integer base units.

use aurum_ledger::{Command, CreateTransfer, Outcome};
use aurum_ledger_node::block::Block;

/// A transfer as the scorer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxEvent {
    /// The ledger transfer id.
    pub id: u128,
    /// The sender (debit account).
    pub debit: u128,
    /// The receiver (credit account).
    pub credit: u128,
    /// Ledger asset id.
    pub asset: u32,
    /// Amount in the asset's base units.
    pub amount: u128,
    /// Nanoseconds since the Unix epoch (the journal timestamp when it comes from the ledger).
    pub ts_ns: u64,
}

impl TxEvent {
    /// The event of a transfer command, at `ts_ns`, for `amount` (what the ledger moved).
    pub fn of_command(c: &CreateTransfer, amount: u128, ts_ns: u64) -> TxEvent {
        TxEvent { id: c.id.0, debit: c.debit_account.0, credit: c.credit_account.0, asset: c.asset.0, amount, ts_ns }
    }

    /// The event of an applied command, if it is a transfer that the scorer observes: a fresh
    /// (not replayed) `CreateTransfer` that the ledger applied, posted or pending. Posts and voids
    /// of pending transfers, journal entries and account commands are not customer behaviour the
    /// profiles model (a pending transfer was already observed when it was created).
    pub fn of_applied(command: &Command, outcome: &Outcome) -> Option<TxEvent> {
        match command {
            Command::CreateTransfer(c) if outcome.code.is_ok() && !outcome.replayed => {
                Some(TxEvent::of_command(c, outcome.amount.unwrap_or(c.amount), outcome.timestamp.0))
            }
            _ => None,
        }
    }

    /// Every observed transfer of a journal block, in journal order.
    pub fn of_block(block: &Block) -> impl Iterator<Item = TxEvent> + '_ {
        block.commands.iter().zip(&block.result.outcomes).filter_map(|(c, o)| TxEvent::of_applied(c, o))
    }
}
