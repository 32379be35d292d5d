//! What a journal block did, as typed facts: the one derivation of "which rows does this block
//! add" that every read model shares (the lakehouse's tables, the PostgreSQL projection).
//!
//! For each block, in order:
//! - each pending transfer that expired at the start of the block ([`Fact::Expired`]);
//! - then per command, skipping replays of an id (its first outcome already produced facts):
//!   `CreateAsset` and `CreateAccount` that succeeded ([`Fact::Asset`], [`Fact::Account`]);
//!   `CreateTransfer`, `PostPending` and `VoidPending` whatever their outcome
//!   ([`Fact::Movement`]: a refused payment counts in a success rate), preceded by their two
//!   [`Fact::Posting`]s when they posted money; `CreateEntry` that succeeded ([`Fact::Entry`] then
//!   one posting per leg); `CloseAccount` that succeeded ([`Fact::Closed`]).
//!
//! `ledger` must hold every block up to this one (the engine's current state, or a projector's
//! state right after it): the records of applied commands never change once written, so any later
//! state describes a past block's transfers equally well.

use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, Ledger, Limit, Metadata, Outcome, ResultCode, Side, Timestamp, Transfer,
    TransferId, TransferKind,
};

use crate::block::Block;

/// One thing a block did. Borrowed from the block and the ledger.
#[derive(Debug, Clone, Copy)]
pub enum Fact<'a> {
    /// An asset was created.
    Asset {
        /// The asset.
        id: AssetId,
        /// Its code.
        code: &'a str,
        /// Its scale.
        scale: u8,
        /// When.
        timestamp: Timestamp,
    },
    /// An account was created.
    Account {
        /// The account.
        id: AccountId,
        /// Its asset.
        asset: AssetId,
        /// Its kind.
        kind: AccountKind,
        /// Its balance limit.
        limit: Limit,
        /// Whether it keeps balance history.
        history: bool,
        /// Its annotations.
        metadata: &'a Metadata,
        /// When.
        timestamp: Timestamp,
    },
    /// An account was closed.
    Closed {
        /// The account.
        id: AccountId,
        /// When.
        timestamp: Timestamp,
    },
    /// A transfer, post or void, accepted or refused.
    Movement(Movement<'a>),
    /// A journal entry was applied (its postings follow).
    Entry {
        /// The entry.
        id: TransferId,
        /// Its annotations.
        metadata: &'a Metadata,
        /// When.
        timestamp: Timestamp,
    },
    /// One leg of money posted by a transfer, a post or an entry.
    Posting(PostingFact),
    /// A pending transfer expired (its hold released).
    Expired {
        /// The pending transfer, as recorded.
        pending: &'a Transfer,
        /// When.
        timestamp: Timestamp,
    },
}

/// A transfer-like command and its first outcome.
#[derive(Debug, Clone, Copy)]
pub struct Movement<'a> {
    /// The command's id.
    pub id: TransferId,
    /// What it is (`posted`, `pending`, `post_pending`, `void_pending`).
    pub kind: TransferKind,
    /// Its result.
    pub result: ResultCode,
    /// The ledger's record, when it was applied (its amount is what was decided).
    pub applied: Option<&'a Transfer>,
    /// Account debited (for a refused post or void: the pending transfer's, if it exists).
    pub debit: Option<AccountId>,
    /// Account credited.
    pub credit: Option<AccountId>,
    /// Asset.
    pub asset: Option<AssetId>,
    /// Amount moved (applied) or asked for (refused).
    pub amount: Option<u128>,
    /// For posts and voids: the pending transfer acted on.
    pub pending_id: Option<TransferId>,
    /// Annotations.
    pub metadata: &'a Metadata,
    /// When it was applied or refused.
    pub timestamp: Timestamp,
}

impl Movement<'_> {
    /// Whether money was posted (a posted transfer or a post of a pending one).
    pub fn posted(&self) -> bool {
        self.applied.is_some_and(|t| matches!(t.kind, TransferKind::Posted | TransferKind::PostPending))
    }
}

/// One leg of posted money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingFact {
    /// The transfer or entry that posted it.
    pub movement: TransferId,
    /// Its index within the movement (a transfer: 0 debit, 1 credit; an entry: posting order).
    pub leg: u16,
    /// The account.
    pub account: AccountId,
    /// Which side.
    pub side: Side,
    /// Base units.
    pub amount: u128,
    /// When.
    pub timestamp: Timestamp,
}

/// The stable lower-case name of a transfer kind.
pub fn transfer_kind_name(k: TransferKind) -> &'static str {
    match k {
        TransferKind::Posted => "posted",
        TransferKind::Pending => "pending",
        TransferKind::PostPending => "post_pending",
        TransferKind::VoidPending => "void_pending",
    }
}

/// Call `f` with every fact of `block`, in the order the module documents; stops at `f`'s first
/// error.
pub fn for_each_fact<E>(ledger: &Ledger, block: &Block, mut f: impl FnMut(Fact<'_>) -> Result<(), E>) -> Result<(), E> {
    for e in &block.result.expired {
        if let Some(pending) = ledger.transfer(e.transfer) {
            f(Fact::Expired { pending, timestamp: e.timestamp })?;
        }
    }
    for (command, outcome) in block.commands.iter().zip(&block.result.outcomes) {
        if !outcome.replayed {
            command_facts(ledger, command, outcome, &mut f)?;
        }
    }
    Ok(())
}

fn command_facts<E>(
    ledger: &Ledger,
    command: &Command,
    outcome: &Outcome,
    f: &mut impl FnMut(Fact<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let timestamp = outcome.timestamp;
    let ok = outcome.code.is_ok();
    let movement = match command {
        Command::CreateAsset(a) if ok => return f(Fact::Asset { id: a.id, code: &a.code, scale: a.scale, timestamp }),
        Command::CreateAccount(a) if ok => {
            return f(Fact::Account {
                id: a.id,
                asset: a.asset,
                kind: a.kind,
                limit: a.limit,
                history: a.history,
                metadata: &a.metadata,
                timestamp,
            });
        }
        Command::CloseAccount(c) if ok => return f(Fact::Closed { id: c.id, timestamp }),
        Command::CreateEntry(e) if ok => {
            f(Fact::Entry { id: e.id, metadata: &e.metadata, timestamp })?;
            for (leg, p) in e.postings.iter().enumerate() {
                let leg = u16::try_from(leg).expect("an entry has fewer than 65536 postings");
                f(Fact::Posting(PostingFact {
                    movement: e.id,
                    leg,
                    account: p.account,
                    side: p.side,
                    amount: p.amount,
                    timestamp,
                }))?;
            }
            return Ok(());
        }
        Command::CreateTransfer(c) => {
            let kind = if c.flags.pending { TransferKind::Pending } else { TransferKind::Posted };
            movement_of(ledger, c.id, kind, outcome, &c.metadata, || {
                (Some(c.debit_account), Some(c.credit_account), Some(c.asset), Some(c.amount), None)
            })
        }
        Command::PostPending(c) => movement_of(ledger, c.id, TransferKind::PostPending, outcome, &c.metadata, || {
            let p = ledger.transfer(c.pending_id);
            (
                p.map(|p| p.debit_account),
                p.map(|p| p.credit_account),
                p.map(|p| p.asset),
                c.amount.or(p.map(|p| p.amount)),
                Some(c.pending_id),
            )
        }),
        Command::VoidPending(c) => movement_of(ledger, c.id, TransferKind::VoidPending, outcome, &c.metadata, || {
            let p = ledger.transfer(c.pending_id);
            (
                p.map(|p| p.debit_account),
                p.map(|p| p.credit_account),
                p.map(|p| p.asset),
                p.map(|p| p.amount),
                Some(c.pending_id),
            )
        }),
        // Refused creations and closes change nothing a read model shows.
        Command::CreateAsset(_) | Command::CreateAccount(_) | Command::CloseAccount(_) | Command::CreateEntry(_) => {
            return Ok(());
        }
    };
    if movement.posted() {
        let t = movement.applied.expect("posted implies applied");
        for (leg, (account, side)) in
            [(t.debit_account, Side::Debit), (t.credit_account, Side::Credit)].into_iter().enumerate()
        {
            f(Fact::Posting(PostingFact {
                movement: movement.id,
                leg: leg as u16,
                account,
                side,
                amount: t.amount,
                timestamp,
            }))?;
        }
    }
    f(Fact::Movement(movement))
}

type Asked = (Option<AccountId>, Option<AccountId>, Option<AssetId>, Option<u128>, Option<TransferId>);

fn movement_of<'a>(
    ledger: &'a Ledger,
    id: TransferId,
    kind: TransferKind,
    outcome: &Outcome,
    metadata: &'a Metadata,
    asked: impl FnOnce() -> Asked,
) -> Movement<'a> {
    let applied = if outcome.code.is_ok() { ledger.transfer(id) } else { None };
    match applied {
        Some(t) => Movement {
            id,
            kind: t.kind,
            result: outcome.code,
            applied: Some(t),
            debit: Some(t.debit_account),
            credit: Some(t.credit_account),
            asset: Some(t.asset),
            amount: Some(t.amount),
            pending_id: t.pending_id,
            metadata: &t.metadata,
            timestamp: outcome.timestamp,
        },
        None => {
            let (debit, credit, asset, amount, pending_id) = asked();
            Movement {
                id,
                kind,
                result: outcome.code,
                applied: None,
                debit,
                credit,
                asset,
                amount,
                pending_id,
                metadata,
                timestamp: outcome.timestamp,
            }
        }
    }
}
