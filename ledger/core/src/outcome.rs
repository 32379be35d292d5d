//! Outcomes: what became of each command. Every rejection has a stable, documented result code
//! (docs/ledger-result-codes.md); the numbers never change once released.

use crate::types::{Amount, Timestamp, TransferId};

/// The result of one command. Codes are grouped by hundreds-free ranges per concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum ResultCode {
    /// Applied.
    Ok = 0,
    /// Not applied because another command of its linked chain failed.
    LinkedEventFailed = 1,
    /// The batch ended inside a linked chain (its last command has `linked` set).
    LinkedEventChainOpen = 2,
    /// Identifiers must be non-zero.
    IdMustNotBeZero = 3,
    /// The id was used before with different fields.
    IdExistsWithDifferentFields = 4,
    /// A metadata key or value is empty, too long, or there are too many entries.
    MetadataInvalid = 5,

    /// The asset does not exist.
    AssetNotFound = 10,
    /// The asset code is not 1–12 of `A-Z 0-9`.
    AssetCodeInvalid = 11,
    /// The asset scale is above 18.
    AssetScaleTooLarge = 12,
    /// Another asset has this code.
    AssetCodeTaken = 13,

    /// The limit caps the account's normal balance at zero with no overdraft
    /// (debits-must-not-exceed-credits on an asset/expense account, or
    /// credits-must-not-exceed-debits on a liability/equity/income account): such an account could
    /// never hold a positive balance, which is a configuration mistake.
    AccountLimitInvalid = 20,
    /// The debit account does not exist.
    DebitAccountNotFound = 21,
    /// The credit account does not exist.
    CreditAccountNotFound = 22,
    /// Debit and credit account are the same.
    AccountsMustBeDifferent = 23,
    /// The transfer's asset is not the accounts' asset.
    AssetMismatch = 24,
    /// The debit account is closed.
    DebitAccountClosed = 25,
    /// The credit account is closed.
    CreditAccountClosed = 26,
    /// The amount is zero.
    AmountMustNotBeZero = 27,
    /// The debit account would have debits beyond its credits.
    ExceedsCredits = 28,
    /// The credit account would have credits beyond its debits.
    ExceedsDebits = 29,
    /// The debit account would have debits beyond its credits plus its overdraft.
    ExceedsOverdraft = 30,
    /// The credit account would have credits beyond its debits plus its overdraft.
    CreditExceedsOverdraft = 31,
    /// A balance total would overflow 128 bits (checked on the asset's running totals, which
    /// bound every account's), or a pending transfer's expiry would overflow the u64 timestamp.
    Overflow = 32,
    /// `balancing_debit`/`balancing_credit` together with `pending` (a hold must be of a decided
    /// amount).
    FlagsInvalid = 33,
    /// A timeout was given for a transfer that is not pending.
    TimeoutReservedForPendingTransfer = 34,

    /// The pending transfer does not exist.
    PendingTransferNotFound = 40,
    /// The referenced transfer is not a pending transfer.
    PendingTransferNotPending = 41,
    /// The pending transfer was already posted.
    PendingTransferAlreadyPosted = 42,
    /// The pending transfer was already voided.
    PendingTransferAlreadyVoided = 43,
    /// The pending transfer expired.
    PendingTransferExpired = 44,
    /// The amount to post exceeds the pending amount.
    ExceedsPendingTransferAmount = 45,

    /// An entry needs at least two postings.
    EntryNeedsTwoPostings = 50,
    /// An entry has more than 64 postings.
    EntryTooManyPostings = 51,
    /// The entry's debits and credits differ for some asset.
    EntryUnbalanced = 52,
    /// A posting's account does not exist.
    PostingAccountNotFound = 53,
    /// A posting's account is closed.
    PostingAccountClosed = 54,
    /// A posting's amount is zero.
    PostingAmountMustNotBeZero = 55,

    /// The account to close does not exist.
    AccountNotFound = 60,
    /// The account is already closed.
    AccountAlreadyClosed = 61,
    /// The account has pending transfers.
    AccountHasPendingTransfers = 62,
    /// The account's balance is not zero.
    AccountBalanceNotZero = 63,
}

impl ResultCode {
    /// Every code, in numeric order (for docs, decoders and tests).
    pub const ALL: [ResultCode; 41] = [
        ResultCode::Ok,
        ResultCode::LinkedEventFailed,
        ResultCode::LinkedEventChainOpen,
        ResultCode::IdMustNotBeZero,
        ResultCode::IdExistsWithDifferentFields,
        ResultCode::MetadataInvalid,
        ResultCode::AssetNotFound,
        ResultCode::AssetCodeInvalid,
        ResultCode::AssetScaleTooLarge,
        ResultCode::AssetCodeTaken,
        ResultCode::AccountLimitInvalid,
        ResultCode::DebitAccountNotFound,
        ResultCode::CreditAccountNotFound,
        ResultCode::AccountsMustBeDifferent,
        ResultCode::AssetMismatch,
        ResultCode::DebitAccountClosed,
        ResultCode::CreditAccountClosed,
        ResultCode::AmountMustNotBeZero,
        ResultCode::ExceedsCredits,
        ResultCode::ExceedsDebits,
        ResultCode::ExceedsOverdraft,
        ResultCode::CreditExceedsOverdraft,
        ResultCode::Overflow,
        ResultCode::FlagsInvalid,
        ResultCode::TimeoutReservedForPendingTransfer,
        ResultCode::PendingTransferNotFound,
        ResultCode::PendingTransferNotPending,
        ResultCode::PendingTransferAlreadyPosted,
        ResultCode::PendingTransferAlreadyVoided,
        ResultCode::PendingTransferExpired,
        ResultCode::ExceedsPendingTransferAmount,
        ResultCode::EntryNeedsTwoPostings,
        ResultCode::EntryTooManyPostings,
        ResultCode::EntryUnbalanced,
        ResultCode::PostingAccountNotFound,
        ResultCode::PostingAccountClosed,
        ResultCode::PostingAmountMustNotBeZero,
        ResultCode::AccountNotFound,
        ResultCode::AccountAlreadyClosed,
        ResultCode::AccountHasPendingTransfers,
        ResultCode::AccountBalanceNotZero,
    ];

    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Decode a numeric code.
    pub fn from_code(code: u16) -> Option<ResultCode> {
        ResultCode::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// Whether the command was applied.
    pub fn is_ok(self) -> bool {
        self == ResultCode::Ok
    }

    /// Stable snake_case name: the machine code used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Ok => "ok",
            ResultCode::LinkedEventFailed => "linked_event_failed",
            ResultCode::LinkedEventChainOpen => "linked_event_chain_open",
            ResultCode::IdMustNotBeZero => "id_must_not_be_zero",
            ResultCode::IdExistsWithDifferentFields => "id_exists_with_different_fields",
            ResultCode::MetadataInvalid => "metadata_invalid",
            ResultCode::AssetNotFound => "asset_not_found",
            ResultCode::AssetCodeInvalid => "asset_code_invalid",
            ResultCode::AssetScaleTooLarge => "asset_scale_too_large",
            ResultCode::AssetCodeTaken => "asset_code_taken",
            ResultCode::AccountLimitInvalid => "account_limit_invalid",
            ResultCode::DebitAccountNotFound => "debit_account_not_found",
            ResultCode::CreditAccountNotFound => "credit_account_not_found",
            ResultCode::AccountsMustBeDifferent => "accounts_must_be_different",
            ResultCode::AssetMismatch => "asset_mismatch",
            ResultCode::DebitAccountClosed => "debit_account_closed",
            ResultCode::CreditAccountClosed => "credit_account_closed",
            ResultCode::AmountMustNotBeZero => "amount_must_not_be_zero",
            ResultCode::ExceedsCredits => "exceeds_credits",
            ResultCode::ExceedsDebits => "exceeds_debits",
            ResultCode::ExceedsOverdraft => "exceeds_overdraft",
            ResultCode::CreditExceedsOverdraft => "credit_exceeds_overdraft",
            ResultCode::Overflow => "overflow",
            ResultCode::FlagsInvalid => "flags_invalid",
            ResultCode::TimeoutReservedForPendingTransfer => "timeout_reserved_for_pending_transfer",
            ResultCode::PendingTransferNotFound => "pending_transfer_not_found",
            ResultCode::PendingTransferNotPending => "pending_transfer_not_pending",
            ResultCode::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            ResultCode::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            ResultCode::PendingTransferExpired => "pending_transfer_expired",
            ResultCode::ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
            ResultCode::EntryNeedsTwoPostings => "entry_needs_two_postings",
            ResultCode::EntryTooManyPostings => "entry_too_many_postings",
            ResultCode::EntryUnbalanced => "entry_unbalanced",
            ResultCode::PostingAccountNotFound => "posting_account_not_found",
            ResultCode::PostingAccountClosed => "posting_account_closed",
            ResultCode::PostingAmountMustNotBeZero => "posting_amount_must_not_be_zero",
            ResultCode::AccountNotFound => "account_not_found",
            ResultCode::AccountAlreadyClosed => "account_already_closed",
            ResultCode::AccountHasPendingTransfers => "account_has_pending_transfers",
            ResultCode::AccountBalanceNotZero => "account_balance_not_zero",
        }
    }
}

/// What became of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Result code.
    pub code: ResultCode,
    /// The event's timestamp: when it was applied (or rejected). For a replayed id, the timestamp
    /// of the first outcome.
    pub timestamp: Timestamp,
    /// Amount actually moved, for transfers, posts and voids that were applied (balancing
    /// transfers and partial posts decide it).
    pub amount: Option<Amount>,
    /// The id was seen before with the same fields: this is the first outcome, returned again.
    pub replayed: bool,
}

/// A pending transfer that expired at the start of a batch. Recorded in the journal block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// The pending transfer.
    pub transfer: TransferId,
    /// The expiry event's timestamp.
    pub timestamp: Timestamp,
}

/// Everything one batch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchResult {
    /// Pending transfers that expired before the batch's commands ran.
    pub expired: Vec<Expiry>,
    /// One outcome per command, in order.
    pub outcomes: Vec<Outcome>,
}
