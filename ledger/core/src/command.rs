//! Commands: what clients ask the ledger to do. A batch of commands is applied atomically per
//! linked chain and recorded, with its outcomes, in one journal block.

use crate::types::{AccountId, AccountKind, Amount, AssetId, Limit, Metadata, Side, TransferId};

/// Create an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAsset {
    /// Identifier (non-zero).
    pub id: AssetId,
    /// Code: 1–12 of `A-Z 0-9`, unique.
    pub code: String,
    /// Decimal places, ≤ 18.
    pub scale: u8,
}

/// Create an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccount {
    /// Identifier (non-zero).
    pub id: AccountId,
    /// Asset it holds.
    pub asset: AssetId,
    /// Accounting kind.
    pub kind: AccountKind,
    /// Balance limit.
    pub limit: Limit,
    /// Keep balance history.
    pub history: bool,
    /// Annotations.
    pub metadata: Metadata,
    /// Succeed or fail together with the next command.
    pub linked: bool,
}

/// How a transfer moves money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferFlags {
    /// Succeed or fail together with the next command.
    pub linked: bool,
    /// Hold the amount as pending (phase one of a two-phase transfer).
    pub pending: bool,
    /// Move at most `amount`: as much as the debit account's limit allows.
    pub balancing_debit: bool,
    /// Move at most `amount`: as much as the credit account's limit allows.
    pub balancing_credit: bool,
}

/// Move `amount` from one account to another (both of `asset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTransfer {
    /// Identifier (non-zero), unique across transfers and entries forever.
    pub id: TransferId,
    /// Account debited.
    pub debit_account: AccountId,
    /// Account credited.
    pub credit_account: AccountId,
    /// Amount in base units (for balancing transfers: the most to move).
    pub amount: Amount,
    /// Asset; must be both accounts' asset.
    pub asset: AssetId,
    /// Flags.
    pub flags: TransferFlags,
    /// For pending transfers: seconds until it expires (0: never). Must be 0 otherwise.
    pub timeout_secs: u32,
    /// Annotations.
    pub metadata: Metadata,
}

/// Post a pending transfer, in full (`amount: None`) or in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPending {
    /// Identifier of this posting transfer (non-zero, unique).
    pub id: TransferId,
    /// The pending transfer.
    pub pending_id: TransferId,
    /// Amount to post (≤ the pending amount); `None` posts it all. The rest is released.
    pub amount: Option<Amount>,
    /// Annotations.
    pub metadata: Metadata,
    /// Succeed or fail together with the next command.
    pub linked: bool,
}

/// Void a pending transfer: release its hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidPending {
    /// Identifier of this voiding transfer (non-zero, unique).
    pub id: TransferId,
    /// The pending transfer.
    pub pending_id: TransferId,
    /// Annotations.
    pub metadata: Metadata,
    /// Succeed or fail together with the next command.
    pub linked: bool,
}

/// One line of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    /// Account.
    pub account: AccountId,
    /// Debit or credit.
    pub side: Side,
    /// Amount in the account's asset's base units (non-zero).
    pub amount: Amount,
}

/// A journal entry: any number of postings (2 to 64) that balance per asset, applied atomically.
/// Multi-asset entries balance through exchange accounts (one per asset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEntry {
    /// Identifier (non-zero), unique across transfers and entries forever.
    pub id: TransferId,
    /// Postings.
    pub postings: Vec<Posting>,
    /// Annotations.
    pub metadata: Metadata,
    /// Succeed or fail together with the next command.
    pub linked: bool,
}

/// Close an account: it must have no pending transfers and a zero balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseAccount {
    /// The account.
    pub id: AccountId,
    /// Succeed or fail together with the next command.
    pub linked: bool,
}

/// Anything a client can ask of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create an asset.
    CreateAsset(CreateAsset),
    /// Create an account.
    CreateAccount(CreateAccount),
    /// Create a transfer (single-phase, pending, or balancing).
    CreateTransfer(CreateTransfer),
    /// Post a pending transfer.
    PostPending(PostPending),
    /// Void a pending transfer.
    VoidPending(VoidPending),
    /// Create a journal entry.
    CreateEntry(CreateEntry),
    /// Close an account.
    CloseAccount(CloseAccount),
}

impl Command {
    /// Whether this command is linked to the next one (a chain ends at the first unlinked one).
    pub fn linked(&self) -> bool {
        match self {
            Command::CreateAsset(_) => false,
            Command::CreateAccount(c) => c.linked,
            Command::CreateTransfer(c) => c.flags.linked,
            Command::PostPending(c) => c.linked,
            Command::VoidPending(c) => c.linked,
            Command::CreateEntry(c) => c.linked,
            Command::CloseAccount(c) => c.linked,
        }
    }

    /// Stable lower-case name of the command kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Command::CreateAsset(_) => "create_asset",
            Command::CreateAccount(_) => "create_account",
            Command::CreateTransfer(_) => "create_transfer",
            Command::PostPending(_) => "post_pending",
            Command::VoidPending(_) => "void_pending",
            Command::CreateEntry(_) => "create_entry",
            Command::CloseAccount(_) => "close_account",
        }
    }
}
