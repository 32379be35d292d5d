//! The ledger's nouns: identifiers, amounts, assets, accounts, transfers, and their named limits.
//!
//! Amounts are integers of an asset's base units (`u128`); an asset's `scale` says how many
//! decimal places a base unit is (XAU with scale 3: 1 base unit = 0.001 troy oz). Conversion to and
//! from decimal strings happens at the API edge ([`crate::decimal`]), never inside the engine.

use std::collections::BTreeMap;

/// An amount in an asset's base units.
pub type Amount = u128;

/// Largest asset scale (decimal places).
pub const MAX_SCALE: u8 = 18;
/// Longest asset code, e.g. `XAU`, `INR`, `USDC`.
pub const MAX_ASSET_CODE_BYTES: usize = 12;
/// Most metadata entries on an account, transfer or entry.
pub const MAX_METADATA_ENTRIES: usize = 16;
/// Longest metadata key.
pub const MAX_METADATA_KEY_BYTES: usize = 64;
/// Longest metadata value.
pub const MAX_METADATA_VALUE_BYTES: usize = 256;
/// Most postings in one journal entry.
pub const MAX_POSTINGS_PER_ENTRY: usize = 64;
/// Most commands in one batch (one journal block). As in TigerBeetle, a batch fills one message.
pub const MAX_BATCH_COMMANDS: usize = 8190;

/// Client-chosen asset identifier (non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetId(pub u32);

/// Client-chosen account identifier (non-zero), unique forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u128);

/// Client-chosen identifier of a transfer or journal entry (non-zero), unique forever across both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u128);

/// Journal time: nanoseconds since the Unix epoch. Every event gets a unique, strictly increasing
/// timestamp, assigned by the state machine from the batch timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

/// Free-form key/value annotations, ordered so that encodings are canonical.
pub type Metadata = BTreeMap<String, String>;

/// An asset: a currency or commodity with a decimal scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Identifier.
    pub id: AssetId,
    /// Code: 1–12 of `A-Z 0-9`, unique among assets.
    pub code: String,
    /// Decimal places of one base unit, ≤ [`MAX_SCALE`].
    pub scale: u8,
    /// When it was created.
    pub timestamp: Timestamp,
}

/// The accounting kind of an account. It decides which side is the account's normal balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum AccountKind {
    /// Debit-normal: what the business owns (cash at bank, gold in the vault).
    Asset = 1,
    /// Credit-normal: what the business owes (customer wallets, token holders).
    Liability = 2,
    /// Credit-normal: owners' stake.
    Equity = 3,
    /// Credit-normal: fees earned, gains.
    Income = 4,
    /// Debit-normal: costs, losses.
    Expense = 5,
}

impl AccountKind {
    /// Whether the account's balance is debits minus credits (else credits minus debits).
    pub fn is_debit_normal(self) -> bool {
        matches!(self, AccountKind::Asset | AccountKind::Expense)
    }

    /// Decode from its byte.
    pub fn from_u8(v: u8) -> Option<AccountKind> {
        Some(match v {
            1 => AccountKind::Asset,
            2 => AccountKind::Liability,
            3 => AccountKind::Equity,
            4 => AccountKind::Income,
            5 => AccountKind::Expense,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Asset => "asset",
            AccountKind::Liability => "liability",
            AccountKind::Equity => "equity",
            AccountKind::Income => "income",
            AccountKind::Expense => "expense",
        }
    }
}

/// Balance limits of an account, as in TigerBeetle, plus an overdraft allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    /// No limit.
    #[default]
    None,
    /// `debits_pending + debits_posted ≤ credits_posted + overdraft` (a wallet that must not go
    /// negative beyond `overdraft`).
    DebitsMustNotExceedCredits {
        /// How far debits may exceed credits.
        overdraft: Amount,
    },
    /// `credits_pending + credits_posted ≤ debits_posted + overdraft`.
    CreditsMustNotExceedDebits {
        /// How far credits may exceed debits.
        overdraft: Amount,
    },
}

/// An account and its balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Identifier.
    pub id: AccountId,
    /// The one asset this account holds.
    pub asset: AssetId,
    /// Accounting kind.
    pub kind: AccountKind,
    /// Balance limit.
    pub limit: Limit,
    /// Keep balance history for `balance_as_of` and statements.
    pub history: bool,
    /// Annotations.
    pub metadata: Metadata,
    /// Debits of pending transfers not yet posted, voided or expired.
    pub debits_pending: Amount,
    /// Posted debits.
    pub debits_posted: Amount,
    /// Credits of pending transfers not yet posted, voided or expired.
    pub credits_pending: Amount,
    /// Posted credits.
    pub credits_posted: Amount,
    /// Closed accounts accept no transfers.
    pub closed: bool,
    /// When it was created.
    pub timestamp: Timestamp,
}

impl Account {
    /// Posted balance on the account's normal side (may be negative).
    pub fn balance(&self) -> i128 {
        signed_balance(self.kind, self.debits_posted, self.credits_posted)
    }

    /// Posted balance minus pending holds that would reduce it: what can still be spent.
    pub fn available(&self) -> i128 {
        if self.kind.is_debit_normal() {
            self.balance().saturating_sub_unsigned(self.credits_pending)
        } else {
            self.balance().saturating_sub_unsigned(self.debits_pending)
        }
    }
}

/// The normal-side balance of debits and credits for an account kind, saturating at i128 bounds.
pub fn signed_balance(kind: AccountKind, debits: Amount, credits: Amount) -> i128 {
    let d = i128::try_from(debits).unwrap_or(i128::MAX);
    let c = i128::try_from(credits).unwrap_or(i128::MAX);
    if kind.is_debit_normal() { d.saturating_sub(c) } else { c.saturating_sub(d) }
}

/// Which side of an account a posting hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Side {
    /// Debit.
    Debit = 1,
    /// Credit.
    Credit = 2,
}

/// The life of a pending transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PendingState {
    /// Not a pending transfer.
    None = 0,
    /// Holding funds.
    Pending = 1,
    /// Posted (in full or in part) by a later transfer.
    Posted = 2,
    /// Voided by a later transfer.
    Voided = 3,
    /// Expired: its timeout passed before it was posted or voided.
    Expired = 4,
}

/// How a stored transfer came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TransferKind {
    /// A single-phase transfer, posted at once.
    Posted = 1,
    /// A pending transfer (phase one of two).
    Pending = 2,
    /// Posts a pending transfer (phase two).
    PostPending = 3,
    /// Voids a pending transfer (phase two).
    VoidPending = 4,
}

/// A transfer that was accepted and is part of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Identifier.
    pub id: TransferId,
    /// Account debited.
    pub debit_account: AccountId,
    /// Account credited.
    pub credit_account: AccountId,
    /// Amount actually moved (for balancing transfers and partial posts, what was decided).
    pub amount: Amount,
    /// Asset of both accounts.
    pub asset: AssetId,
    /// How it came about.
    pub kind: TransferKind,
    /// For post/void: the pending transfer acted on.
    pub pending_id: Option<TransferId>,
    /// For pending transfers: when it expires (None: never).
    pub expires_at: Option<Timestamp>,
    /// For pending transfers: where it is in its life.
    pub pending_state: PendingState,
    /// Annotations.
    pub metadata: Metadata,
    /// When it was applied.
    pub timestamp: Timestamp,
}
