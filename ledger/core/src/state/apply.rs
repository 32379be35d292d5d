//! The state machine: `(state, batch, context) → (state', outcomes)`.
//!
//! Every command is validated completely before it changes anything, so a single command is
//! atomic by construction. A linked chain needs more: while it runs, every change is logged in
//! `Ledger::undo` and a failing chain replays that log backwards (no state clone).

use super::{AccountSlot, AssetSlot, Body, Entry, Ledger, Record, StatementLine, Totals, TransferSlot, Undo};
use crate::codec::fingerprint_with;
use crate::command::{
    CloseAccount, Command, CreateAccount, CreateAsset, CreateEntry, CreateTransfer, PostPending, VoidPending,
};
use crate::outcome::{BatchResult, Expiry, Outcome, ResultCode};
use crate::state::{BalanceAt, BatchContext};
use crate::types::{
    Account, AccountId, AccountKind, Amount, Asset, AssetId, Limit, MAX_ASSET_CODE_BYTES, MAX_METADATA_ENTRIES,
    MAX_METADATA_KEY_BYTES, MAX_METADATA_VALUE_BYTES, MAX_POSTINGS_PER_ENTRY, MAX_SCALE, Metadata, PendingState, Side,
    Timestamp, Transfer, TransferId, TransferKind,
};

/// Nanoseconds per second, for pending timeouts.
const NANOS_PER_SEC: u64 = 1_000_000_000;

type Step = Result<Outcome, ResultCode>;

fn ok(timestamp: Timestamp, amount: Option<Amount>) -> Step {
    Ok(Outcome { code: ResultCode::Ok, timestamp, amount, replayed: false })
}

/// The first outcome again if the fingerprints match; a conflict otherwise.
fn replay(record: &Record, fingerprint: u128) -> Step {
    if record.fingerprint == fingerprint {
        Ok(Outcome { code: record.code, timestamp: record.timestamp, amount: record.amount, replayed: true })
    } else {
        Err(ResultCode::IdExistsWithDifferentFields)
    }
}

/// Keys and values non-empty and within their byte limits; at most [`MAX_METADATA_ENTRIES`].
pub(crate) fn metadata_valid(m: &Metadata) -> bool {
    m.len() <= MAX_METADATA_ENTRIES
        && m.iter().all(|(k, v)| {
            (1..=MAX_METADATA_KEY_BYTES).contains(&k.len()) && (1..=MAX_METADATA_VALUE_BYTES).contains(&v.len())
        })
}

/// 1–12 of `A-Z 0-9`.
pub(crate) fn asset_code_valid(code: &str) -> bool {
    (1..=MAX_ASSET_CODE_BYTES).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A limit that caps the account's *normal* balance at zero (debits-must-not-exceed-credits on a
/// debit-normal account, or the converse) with no overdraft means the account could never hold a
/// positive balance: a configuration mistake, rejected as `AccountLimitInvalid`.
pub(crate) fn limit_valid(kind: AccountKind, limit: Limit) -> bool {
    match limit {
        Limit::None => true,
        Limit::DebitsMustNotExceedCredits { overdraft } => !(kind.is_debit_normal() && overdraft == 0),
        Limit::CreditsMustNotExceedDebits { overdraft } => kind.is_debit_normal() || overdraft != 0,
    }
}

/// How much more may be debited (pending or posted) before the debit limit is hit
/// (`u128::MAX` without one), and the code to report when it is.
pub(crate) fn debit_room(a: &Account) -> (Amount, ResultCode) {
    match a.limit {
        Limit::DebitsMustNotExceedCredits { overdraft } => {
            let cap = a.credits_posted.saturating_add(overdraft);
            let used = a.debits_pending.saturating_add(a.debits_posted);
            let code = if overdraft == 0 { ResultCode::ExceedsCredits } else { ResultCode::ExceedsOverdraft };
            (cap.saturating_sub(used), code)
        }
        _ => (u128::MAX, ResultCode::ExceedsCredits),
    }
}

/// How much more may be credited before the credit limit is hit (`u128::MAX` without one).
pub(crate) fn credit_room(a: &Account) -> (Amount, ResultCode) {
    match a.limit {
        Limit::CreditsMustNotExceedDebits { overdraft } => {
            let cap = a.debits_posted.saturating_add(overdraft);
            let used = a.credits_pending.saturating_add(a.credits_posted);
            let code = if overdraft == 0 { ResultCode::ExceedsDebits } else { ResultCode::CreditExceedsOverdraft };
            (cap.saturating_sub(used), code)
        }
        _ => (u128::MAX, ResultCode::ExceedsDebits),
    }
}

/// Whether the account satisfies its limit.
pub(crate) fn within_limit(a: &Account) -> bool {
    match a.limit {
        Limit::None => true,
        Limit::DebitsMustNotExceedCredits { overdraft } => a
            .debits_pending
            .checked_add(a.debits_posted)
            .is_some_and(|d| d <= a.credits_posted.saturating_add(overdraft)),
        Limit::CreditsMustNotExceedDebits { overdraft } => a
            .credits_pending
            .checked_add(a.credits_posted)
            .is_some_and(|c| c <= a.debits_posted.saturating_add(overdraft)),
    }
}

/// The id namespace a command's id belongs to, for idempotency records.
enum IdOf {
    Asset(AssetId),
    Account(AccountId),
    Transfer(TransferId),
    None,
}

fn id_of(c: &Command) -> IdOf {
    match c {
        Command::CreateAsset(c) => IdOf::Asset(c.id),
        Command::CreateAccount(c) => IdOf::Account(c.id),
        Command::CreateTransfer(c) => IdOf::Transfer(c.id),
        Command::PostPending(c) => IdOf::Transfer(c.id),
        Command::VoidPending(c) => IdOf::Transfer(c.id),
        Command::CreateEntry(c) => IdOf::Transfer(c.id),
        Command::CloseAccount(_) => IdOf::None,
    }
}

/// A command and, if the caller computed it ahead (the audit's reader thread does, while this
/// thread applies the block before), its [`crate::codec::fingerprint`].
#[derive(Clone, Copy)]
struct Cmd<'a> {
    command: &'a Command,
    fingerprint: Option<u128>,
}

/// Hands out event timestamps: strictly increasing, one nanosecond apart within a batch.
struct Clock {
    next: u64,
    last: Option<u64>,
}

impl Clock {
    fn tick(&mut self) -> Timestamp {
        let t = self.next;
        // A precondition of `apply`, not a client error: u64 nanoseconds last until the year 2554.
        self.next = t.checked_add(1).expect("event timestamps overflow u64");
        self.last = Some(t);
        Timestamp(t)
    }
}

impl Ledger {
    /// `fingerprints`: each command's fingerprint, computed ahead by the caller (or None: here,
    /// when an id needs it).
    pub(crate) fn apply_batch(
        &mut self,
        ctx: BatchContext,
        commands: &[Command],
        fingerprints: Option<&[u128]>,
    ) -> BatchResult {
        if let Some(f) = fingerprints {
            assert_eq!(f.len(), commands.len(), "one fingerprint per command");
        }
        let cmd = |i: usize| Cmd { command: &commands[i], fingerprint: fingerprints.map(|f| f[i]) };
        assert_eq!(ctx.seq, self.last_seq.wrapping_add(1), "batch sequence must follow the last one");
        assert!(!self.logging && self.undo.is_empty(), "undo log left over from a previous batch");
        let seq = ctx.seq;
        let first = ctx.timestamp.0.max(self.last_timestamp.0.checked_add(1).expect("timestamp overflow"));
        let mut clock = Clock { next: first, last: None };

        // Expiry first: every hold whose deadline is at or before the batch's first event.
        let mut expired = Vec::new();
        while let Some(&(at, id)) = self.expiries.first() {
            if at.0 > first {
                break;
            }
            self.expiries.pop_first();
            let t = clock.tick();
            self.expire(id, t, seq);
            expired.push(Expiry { transfer: id, timestamp: t });
        }

        let mut outcomes: Vec<Outcome> = Vec::with_capacity(commands.len());
        let mut i = 0;
        while i < commands.len() {
            // A chain: the maximal run of linked commands plus the first unlinked one after it.
            let mut end = i;
            while end < commands.len() && commands[end].linked() {
                end += 1;
            }
            if end == commands.len() {
                // The batch ends inside the chain: nothing in it runs.
                for k in i..commands.len() {
                    let t = clock.tick();
                    let o =
                        Outcome { code: ResultCode::LinkedEventChainOpen, timestamp: t, amount: None, replayed: false };
                    self.remember(cmd(k), &o);
                    outcomes.push(o);
                }
                break;
            }
            if end == i {
                let t = clock.tick();
                let o = self.execute(cmd(i), t, seq);
                if !o.code.is_ok() {
                    self.remember(cmd(i), &o);
                }
                outcomes.push(o);
                i += 1;
                continue;
            }
            let chain: Vec<Cmd<'_>> = (i..=end).map(cmd).collect();
            self.run_chain(&chain, &mut clock, seq, &mut outcomes);
            i = end + 1;
        }

        debug_assert_eq!(outcomes.len(), commands.len());
        self.last_seq = seq;
        if let Some(t) = clock.last {
            self.last_timestamp = Timestamp(t);
        }
        BatchResult { expired, outcomes }
    }

    /// Run a closed chain all or nothing.
    fn run_chain(&mut self, chain: &[Cmd<'_>], clock: &mut Clock, seq: u64, outcomes: &mut Vec<Outcome>) {
        let start = outcomes.len();
        // Each command's own event timestamp (a replayed outcome carries its first timestamp).
        let first = clock.next;
        let own = |k: usize| Timestamp(first + k as u64);
        self.logging = true;
        let mut failed = None;
        for (k, &c) in chain.iter().enumerate() {
            let t = clock.tick();
            debug_assert_eq!(t, own(k));
            let o = self.execute(c, t, seq);
            outcomes.push(o);
            if !o.code.is_ok() {
                failed = Some(k);
                break;
            }
        }
        self.logging = false;
        match failed {
            None => self.undo.clear(),
            Some(f) => {
                self.rollback();
                for _ in f + 1..chain.len() {
                    let t = clock.tick();
                    outcomes.push(Outcome {
                        code: ResultCode::LinkedEventFailed,
                        timestamp: t,
                        amount: None,
                        replayed: false,
                    });
                }
                for (k, &c) in chain.iter().enumerate() {
                    let o = &mut outcomes[start + k];
                    if k != f {
                        *o = Outcome {
                            code: ResultCode::LinkedEventFailed,
                            timestamp: own(k),
                            amount: None,
                            replayed: false,
                        };
                    }
                    let o = *o;
                    self.remember(c, &o);
                }
            }
        }
    }

    /// Undo every logged change, newest first.
    fn rollback(&mut self) {
        let log = std::mem::take(&mut self.undo);
        for u in log.into_iter().rev() {
            match u {
                Undo::AssetCreated(id) => {
                    let slot = self.assets.remove_last(&id);
                    self.asset_codes.remove(&slot.asset.code);
                    self.asset_records.remove(&id);
                }
                Undo::AccountCreated(id) => {
                    self.accounts.remove_last(&id);
                    self.account_records.remove(&id);
                }
                Undo::Account { pos, debits_pending, debits_posted, credits_pending, credits_posted, closed } => {
                    let a = &mut self.accounts.at_mut(pos).account;
                    a.debits_pending = debits_pending;
                    a.debits_posted = debits_posted;
                    a.credits_pending = credits_pending;
                    a.credits_posted = credits_posted;
                    a.closed = closed;
                }
                Undo::Totals { pos, before } => {
                    self.assets.at_mut(pos).totals = before;
                }
                Undo::HistoryPushed(pos) => {
                    self.accounts.at_mut(pos).history.pop();
                }
                Undo::SlotInserted(id) => {
                    let slot = self.transfers.remove_last(&id);
                    if !matches!(slot.body, Body::Failed { .. }) {
                        self.accepted -= 1;
                    }
                }
                Undo::PendingState { id, before } => {
                    if let Some(TransferSlot { body: Body::Transfer(t), .. }) = self.transfers.get_mut(&id) {
                        t.pending_state = before;
                    }
                }
                Undo::ExpiryInserted(key) => {
                    self.expiries.remove(&key);
                }
                Undo::ExpiryRemoved(key) => {
                    self.expiries.insert(key);
                }
            }
        }
    }

    fn log(&mut self, u: Undo) {
        if self.logging {
            self.undo.push(u);
        }
    }

    /// Remember a failed command's outcome under its id, unless the id is zero or already
    /// taken (the first outcome of an id is final).
    fn remember(&mut self, c: Cmd<'_>, o: &Outcome) {
        debug_assert!(!o.code.is_ok() || o.replayed);
        let record = |fingerprint| Record { fingerprint, code: o.code, timestamp: o.timestamp, amount: None };
        match id_of(c.command) {
            IdOf::Asset(id) if id.0 != 0 && !self.asset_records.contains_key(&id) => {
                let r = record(self.fingerprint(c));
                self.asset_records.insert(id, r);
            }
            IdOf::Account(id) if id.0 != 0 && !self.account_records.contains_key(&id) => {
                let r = record(self.fingerprint(c));
                self.account_records.insert(id, r);
            }
            IdOf::Transfer(id) if id.0 != 0 && !self.transfers.contains_key(&id) => {
                let fingerprint = self.fingerprint(c);
                let body = Body::Failed { code: o.code, timestamp: o.timestamp };
                self.transfers.insert(id, TransferSlot { fingerprint, body });
            }
            _ => {}
        }
    }

    /// The command's fingerprint: as given, or computed now.
    fn fingerprint(&mut self, c: Cmd<'_>) -> u128 {
        match c.fingerprint {
            Some(f) => {
                debug_assert_eq!(f, fingerprint_with(c.command, &mut self.scratch), "a wrong fingerprint was given");
                f
            }
            None => fingerprint_with(c.command, &mut self.scratch),
        }
    }

    fn execute(&mut self, c: Cmd<'_>, t: Timestamp, seq: u64) -> Outcome {
        let step = match c.command {
            Command::CreateAsset(x) => self.create_asset(c, x, t),
            Command::CreateAccount(x) => self.create_account(c, x, t, seq),
            Command::CreateTransfer(x) => self.create_transfer(c, x, t, seq),
            Command::PostPending(x) => self.post_pending(c, x, t, seq),
            Command::VoidPending(x) => self.void_pending(c, x, t, seq),
            Command::CreateEntry(x) => self.create_entry(c, x, t, seq),
            Command::CloseAccount(x) => self.close_account(x, t),
        };
        match step {
            Ok(o) => o,
            Err(code) => Outcome { code, timestamp: t, amount: None, replayed: false },
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands. Each validates everything first, then mutates through the logged helpers below.

    fn create_asset(&mut self, c: Cmd<'_>, x: &CreateAsset, t: Timestamp) -> Step {
        if x.id.0 == 0 {
            return Err(ResultCode::IdMustNotBeZero);
        }
        let fp = self.fingerprint(c);
        if let Some(r) = self.asset_records.get(&x.id) {
            return replay(r, fp);
        }
        if !asset_code_valid(&x.code) {
            return Err(ResultCode::AssetCodeInvalid);
        }
        if x.scale > MAX_SCALE {
            return Err(ResultCode::AssetScaleTooLarge);
        }
        if self.asset_codes.contains_key(&x.code) {
            return Err(ResultCode::AssetCodeTaken);
        }
        let asset = Asset { id: x.id, code: x.code.clone(), scale: x.scale, timestamp: t };
        self.assets.insert(x.id, AssetSlot { asset, totals: Totals::default() });
        self.asset_codes.insert(x.code.clone(), x.id);
        self.asset_records.insert(x.id, Record { fingerprint: fp, code: ResultCode::Ok, timestamp: t, amount: None });
        self.log(Undo::AssetCreated(x.id));
        ok(t, None)
    }

    fn create_account(&mut self, c: Cmd<'_>, x: &CreateAccount, t: Timestamp, seq: u64) -> Step {
        if x.id.0 == 0 {
            return Err(ResultCode::IdMustNotBeZero);
        }
        let fp = self.fingerprint(c);
        if let Some(r) = self.account_records.get(&x.id) {
            return replay(r, fp);
        }
        if !metadata_valid(&x.metadata) {
            return Err(ResultCode::MetadataInvalid);
        }
        let Some(asset_pos) = self.assets.position(&x.asset) else {
            return Err(ResultCode::AssetNotFound);
        };
        if !limit_valid(x.kind, x.limit) {
            return Err(ResultCode::AccountLimitInvalid);
        }
        let account = Account {
            id: x.id,
            asset: x.asset,
            kind: x.kind,
            limit: x.limit,
            history: x.history,
            metadata: x.metadata.clone(),
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            closed: false,
            timestamp: t,
        };
        self.accounts.insert(x.id, AccountSlot { account, asset_pos, created_seq: seq, history: Vec::new() });
        self.account_records.insert(x.id, Record { fingerprint: fp, code: ResultCode::Ok, timestamp: t, amount: None });
        self.log(Undo::AccountCreated(x.id));
        ok(t, None)
    }

    /// The opening every transfer-id command shares (transfers, posts, voids, entries): the id
    /// must be non-zero; an id seen before returns its first outcome (a replay, or a conflict if
    /// the fields differ); the metadata must be valid. `Ok(fingerprint)`: a new id, go on;
    /// `Err(step)`: the command's outcome is already decided.
    fn new_transfer_id(&mut self, c: Cmd<'_>, id: TransferId, metadata: &Metadata) -> Result<u128, Step> {
        if id.0 == 0 {
            return Err(Err(ResultCode::IdMustNotBeZero));
        }
        let fp = self.fingerprint(c);
        if let Some(s) = self.transfers.get(&id) {
            return Err(replay(&s.record(), fp));
        }
        if !metadata_valid(metadata) {
            return Err(Err(ResultCode::MetadataInvalid));
        }
        Ok(fp)
    }

    fn create_transfer(&mut self, c: Cmd<'_>, x: &CreateTransfer, t: Timestamp, seq: u64) -> Step {
        let fp = match self.new_transfer_id(c, x.id, &x.metadata) {
            Ok(fp) => fp,
            Err(step) => return step,
        };
        let f = x.flags;
        let balancing = f.balancing_debit || f.balancing_credit;
        if f.pending && balancing {
            return Err(ResultCode::FlagsInvalid);
        }
        if x.timeout_secs != 0 && !f.pending {
            return Err(ResultCode::TimeoutReservedForPendingTransfer);
        }
        if x.debit_account == x.credit_account {
            return Err(ResultCode::AccountsMustBeDifferent);
        }
        if x.amount == 0 {
            return Err(ResultCode::AmountMustNotBeZero);
        }
        // Each account is looked up once: validation, mutation and the asset's totals then go
        // through arena positions.
        let dp = self.accounts.position(&x.debit_account).ok_or(ResultCode::DebitAccountNotFound)?;
        let cp = self.accounts.position(&x.credit_account).ok_or(ResultCode::CreditAccountNotFound)?;
        let (dr, cr) = (&self.accounts.at(dp).account, &self.accounts.at(cp).account);
        if dr.asset != x.asset || cr.asset != x.asset {
            return Err(ResultCode::AssetMismatch);
        }
        if dr.closed {
            return Err(ResultCode::DebitAccountClosed);
        }
        if cr.closed {
            return Err(ResultCode::CreditAccountClosed);
        }
        let mut amount = x.amount;
        if f.balancing_debit {
            // Move as much as the debit account's limit allows; nothing at all is a failure
            // (no zero-amount transfers exist in the ledger).
            let (room, code) = debit_room(dr);
            if room == 0 {
                return Err(code);
            }
            amount = amount.min(room);
        }
        if f.balancing_credit {
            let (room, code) = credit_room(cr);
            if room == 0 {
                return Err(code);
            }
            amount = amount.min(room);
        }
        // Overflow: an account's totals never exceed its asset's, so checking the asset's
        // pending + posted sums covers every account total and every limit sum below.
        let asset_pos = self.accounts.at(dp).asset_pos;
        let totals = self.assets.at(asset_pos).totals;
        let fits = |a: Amount, b: Amount| a.checked_add(b).and_then(|s| s.checked_add(amount)).is_some();
        if !fits(totals.debits_pending, totals.debits_posted) || !fits(totals.credits_pending, totals.credits_posted) {
            return Err(ResultCode::Overflow);
        }
        let (room, code) = debit_room(dr);
        if amount > room {
            return Err(code);
        }
        let (room, code) = credit_room(cr);
        if amount > room {
            return Err(code);
        }
        let expires_at = if f.pending && x.timeout_secs != 0 {
            let ns = u64::from(x.timeout_secs) * NANOS_PER_SEC; // ≤ 4.3e18: fits in a u64
            Some(Timestamp(t.0.checked_add(ns).ok_or(ResultCode::Overflow)?))
        } else {
            None
        };

        // Validated: apply.
        let (debit, credit) = (x.debit_account, x.credit_account);
        if f.pending {
            self.change(dp, x.id, t, seq, |a| a.debits_pending += amount);
            self.change(cp, x.id, t, seq, |a| a.credits_pending += amount);
            self.change_totals(asset_pos, |s| {
                s.debits_pending += amount;
                s.credits_pending += amount;
            });
            if let Some(at) = expires_at {
                self.expiries.insert((at, x.id));
                self.log(Undo::ExpiryInserted((at, x.id)));
            }
        } else {
            self.change(dp, x.id, t, seq, |a| a.debits_posted += amount);
            self.change(cp, x.id, t, seq, |a| a.credits_posted += amount);
            self.change_totals(asset_pos, |s| {
                s.debits_posted += amount;
                s.credits_posted += amount;
            });
        }
        let transfer = Transfer {
            id: x.id,
            debit_account: debit,
            credit_account: credit,
            amount,
            asset: x.asset,
            kind: if f.pending { TransferKind::Pending } else { TransferKind::Posted },
            pending_id: None,
            expires_at,
            pending_state: if f.pending { PendingState::Pending } else { PendingState::None },
            metadata: x.metadata.clone(),
            timestamp: t,
        };
        self.insert_accepted(x.id, fp, Body::Transfer(transfer));
        ok(t, Some(amount))
    }

    /// The live pending transfer `pending_id` refers to, or why there is none.
    fn live_pending(&self, pending_id: TransferId) -> Result<&Transfer, ResultCode> {
        let p = match self.transfers.get(&pending_id) {
            Some(TransferSlot { body: Body::Transfer(p), .. }) => p,
            Some(TransferSlot { body: Body::Entry(_), .. }) => return Err(ResultCode::PendingTransferNotPending),
            _ => return Err(ResultCode::PendingTransferNotFound),
        };
        if p.kind != TransferKind::Pending {
            return Err(ResultCode::PendingTransferNotPending);
        }
        match p.pending_state {
            PendingState::Pending => Ok(p),
            PendingState::Posted => Err(ResultCode::PendingTransferAlreadyPosted),
            PendingState::Voided => Err(ResultCode::PendingTransferAlreadyVoided),
            PendingState::Expired => Err(ResultCode::PendingTransferExpired),
            PendingState::None => Err(ResultCode::PendingTransferNotPending),
        }
    }

    fn post_pending(&mut self, c: Cmd<'_>, x: &PostPending, t: Timestamp, seq: u64) -> Step {
        let fp = match self.new_transfer_id(c, x.id, &x.metadata) {
            Ok(fp) => fp,
            Err(step) => return step,
        };
        let p = self.live_pending(x.pending_id)?;
        let held = p.amount;
        let amount = x.amount.unwrap_or(held);
        if amount == 0 {
            return Err(ResultCode::AmountMustNotBeZero);
        }
        if amount > held {
            return Err(ResultCode::ExceedsPendingTransferAmount);
        }
        let (debit, credit, asset, expires_at) = (p.debit_account, p.credit_account, p.asset, p.expires_at);
        let (dp, cp, asset_pos) = self.positions(debit, credit);
        // Posting moves `amount` from pending to posted and releases the rest: pending+posted
        // never grows and posted credits/debits only grow on the limit's allowance side, so no
        // limit can be broken and no total can overflow.
        self.change(dp, x.id, t, seq, |a| {
            a.debits_pending -= held;
            a.debits_posted += amount;
        });
        self.change(cp, x.id, t, seq, |a| {
            a.credits_pending -= held;
            a.credits_posted += amount;
        });
        self.change_totals(asset_pos, |s| {
            s.debits_pending -= held;
            s.credits_pending -= held;
            s.debits_posted += amount;
            s.credits_posted += amount;
        });
        self.settle(x.pending_id, expires_at, PendingState::Posted);
        let transfer = Transfer {
            id: x.id,
            debit_account: debit,
            credit_account: credit,
            amount,
            asset,
            kind: TransferKind::PostPending,
            pending_id: Some(x.pending_id),
            expires_at: None,
            pending_state: PendingState::None,
            metadata: x.metadata.clone(),
            timestamp: t,
        };
        self.insert_accepted(x.id, fp, Body::Transfer(transfer));
        ok(t, Some(amount))
    }

    fn void_pending(&mut self, c: Cmd<'_>, x: &VoidPending, t: Timestamp, seq: u64) -> Step {
        let fp = match self.new_transfer_id(c, x.id, &x.metadata) {
            Ok(fp) => fp,
            Err(step) => return step,
        };
        let p = self.live_pending(x.pending_id)?;
        let (held, debit, credit, asset, expires_at) =
            (p.amount, p.debit_account, p.credit_account, p.asset, p.expires_at);
        self.release(debit, credit, held, x.id, t, seq);
        self.settle(x.pending_id, expires_at, PendingState::Voided);
        let transfer = Transfer {
            id: x.id,
            debit_account: debit,
            credit_account: credit,
            amount: held,
            asset,
            kind: TransferKind::VoidPending,
            pending_id: Some(x.pending_id),
            expires_at: None,
            pending_state: PendingState::None,
            metadata: x.metadata.clone(),
            timestamp: t,
        };
        self.insert_accepted(x.id, fp, Body::Transfer(transfer));
        ok(t, Some(held))
    }

    fn create_entry(&mut self, c: Cmd<'_>, x: &CreateEntry, t: Timestamp, seq: u64) -> Step {
        let fp = match self.new_transfer_id(c, x.id, &x.metadata) {
            Ok(fp) => fp,
            Err(step) => return step,
        };
        if x.postings.len() < 2 {
            return Err(ResultCode::EntryNeedsTwoPostings);
        }
        if x.postings.len() > MAX_POSTINGS_PER_ENTRY {
            return Err(ResultCode::EntryTooManyPostings);
        }
        // Aggregate per account, in order of first appearance: (account, asset, debits, credits).
        // At most 64 postings, so a linear scan beats a map.
        // Accounts and assets are named by arena position.
        let mut per_account: Vec<(usize, usize, Amount, Amount)> = Vec::with_capacity(x.postings.len());
        for p in &x.postings {
            if p.amount == 0 {
                return Err(ResultCode::PostingAmountMustNotBeZero);
            }
            let pos = self.accounts.position(&p.account).ok_or(ResultCode::PostingAccountNotFound)?;
            let slot = self.accounts.at(pos);
            if slot.account.closed {
                return Err(ResultCode::PostingAccountClosed);
            }
            let i = match per_account.iter().position(|e| e.0 == pos) {
                Some(i) => i,
                None => {
                    per_account.push((pos, slot.asset_pos, 0, 0));
                    per_account.len() - 1
                }
            };
            let e = &mut per_account[i];
            let slot = if p.side == Side::Debit { &mut e.2 } else { &mut e.3 };
            *slot = slot.checked_add(p.amount).ok_or(ResultCode::Overflow)?;
        }
        // Per asset, in order of first appearance: (asset, Σ debits, Σ credits).
        let mut per_asset: Vec<(usize, Amount, Amount)> = Vec::new();
        for &(_, asset, d, cr) in &per_account {
            let i = match per_asset.iter().position(|e| e.0 == asset) {
                Some(i) => i,
                None => {
                    per_asset.push((asset, 0, 0));
                    per_asset.len() - 1
                }
            };
            let e = &mut per_asset[i];
            e.1 = e.1.checked_add(d).ok_or(ResultCode::Overflow)?;
            e.2 = e.2.checked_add(cr).ok_or(ResultCode::Overflow)?;
        }
        if per_asset.iter().any(|e| e.1 != e.2) {
            return Err(ResultCode::EntryUnbalanced);
        }
        for &(asset, sum, _) in &per_asset {
            let s = self.assets.at(asset).totals;
            let fits = |a: Amount, b: Amount| a.checked_add(b).and_then(|v| v.checked_add(sum)).is_some();
            if !fits(s.debits_pending, s.debits_posted) || !fits(s.credits_pending, s.credits_posted) {
                return Err(ResultCode::Overflow);
            }
        }
        // Limits, on each account's balances after the whole entry.
        for &(pos, _, d, cr) in &per_account {
            let a = &self.accounts.at(pos).account;
            let mut after = a.clone();
            // No overflow: bounded by the asset totals checked above.
            after.debits_posted += d;
            after.credits_posted += cr;
            if !within_limit(&after) {
                let code = match a.limit {
                    Limit::DebitsMustNotExceedCredits { overdraft: 0 } => ResultCode::ExceedsCredits,
                    Limit::DebitsMustNotExceedCredits { .. } => ResultCode::ExceedsOverdraft,
                    Limit::CreditsMustNotExceedDebits { overdraft: 0 } => ResultCode::ExceedsDebits,
                    _ => ResultCode::CreditExceedsOverdraft,
                };
                return Err(code);
            }
        }
        for &(pos, _, d, cr) in &per_account {
            self.change(pos, x.id, t, seq, |a| {
                a.debits_posted += d;
                a.credits_posted += cr;
            });
        }
        for &(asset, sum, _) in &per_asset {
            self.change_totals(asset, |s| {
                s.debits_posted += sum;
                s.credits_posted += sum;
            });
        }
        let entry = Entry { id: x.id, postings: x.postings.clone(), metadata: x.metadata.clone(), timestamp: t };
        self.insert_accepted(x.id, fp, Body::Entry(entry));
        ok(t, None)
    }

    fn close_account(&mut self, x: &CloseAccount, t: Timestamp) -> Step {
        let pos = self.accounts.position(&x.id).ok_or(ResultCode::AccountNotFound)?;
        let a = &self.accounts.at(pos).account;
        if a.closed {
            return Err(ResultCode::AccountAlreadyClosed);
        }
        if a.debits_pending != 0 || a.credits_pending != 0 {
            return Err(ResultCode::AccountHasPendingTransfers);
        }
        if a.debits_posted != a.credits_posted {
            return Err(ResultCode::AccountBalanceNotZero);
        }
        self.log_account(pos);
        self.accounts.at_mut(pos).account.closed = true;
        ok(t, None)
    }

    // -----------------------------------------------------------------------------------------
    // Logged mutations.

    fn log_account(&mut self, pos: usize) {
        if self.logging {
            let a = &self.accounts.at(pos).account;
            let u = Undo::Account {
                pos,
                debits_pending: a.debits_pending,
                debits_posted: a.debits_posted,
                credits_pending: a.credits_pending,
                credits_posted: a.credits_posted,
                closed: a.closed,
            };
            self.undo.push(u);
        }
    }

    /// Change the balances of the account at `pos` (already validated) and append a history line.
    fn change(&mut self, pos: usize, transfer: TransferId, t: Timestamp, seq: u64, f: impl FnOnce(&mut Account)) {
        self.log_account(pos);
        let slot = self.accounts.at_mut(pos);
        f(&mut slot.account);
        debug_assert!(within_limit(&slot.account), "limit broken on account {:?}", slot.account.id);
        if slot.account.history {
            let a = &slot.account;
            slot.history.push(StatementLine {
                timestamp: t,
                seq,
                transfer,
                after: BalanceAt {
                    debits_pending: a.debits_pending,
                    debits_posted: a.debits_posted,
                    credits_pending: a.credits_pending,
                    credits_posted: a.credits_posted,
                    timestamp: t,
                },
            });
            if self.logging {
                self.undo.push(Undo::HistoryPushed(pos));
            }
        }
    }

    /// Change the totals of the asset at `pos`.
    fn change_totals(&mut self, pos: usize, f: impl FnOnce(&mut Totals)) {
        let slot = self.assets.at_mut(pos);
        let before = slot.totals;
        f(&mut slot.totals);
        let s = slot.totals;
        // Double entry, asserted on every change: cheap, and the heart of the ledger.
        assert!(
            s.debits_posted == s.credits_posted && s.debits_pending == s.credits_pending,
            "asset {:?} totals unbalanced",
            slot.asset.id
        );
        self.log(Undo::Totals { pos, before });
    }

    /// Store an accepted transfer or entry; its record (the outcome a retry returns) is its own
    /// timestamp and amount ([`TransferSlot::record`]).
    fn insert_accepted(&mut self, id: TransferId, fp: u128, body: Body) {
        debug_assert!(!matches!(body, Body::Failed { .. }));
        self.transfers.insert(id, TransferSlot { fingerprint: fp, body });
        self.accepted += 1;
        self.log(Undo::SlotInserted(id));
    }

    /// Arena positions of a stored transfer's two accounts and of their asset.
    fn positions(&self, debit: AccountId, credit: AccountId) -> (usize, usize, usize) {
        let dp = self.accounts.position(&debit).expect("a stored transfer's account exists");
        let cp = self.accounts.position(&credit).expect("a stored transfer's account exists");
        (dp, cp, self.accounts.at(dp).asset_pos)
    }

    /// Release a hold: the pending amounts go back.
    fn release(
        &mut self,
        debit: AccountId,
        credit: AccountId,
        held: Amount,
        transfer: TransferId,
        t: Timestamp,
        seq: u64,
    ) {
        let (dp, cp, asset_pos) = self.positions(debit, credit);
        self.change(dp, transfer, t, seq, |a| a.debits_pending -= held);
        self.change(cp, transfer, t, seq, |a| a.credits_pending -= held);
        self.change_totals(asset_pos, |s| {
            s.debits_pending -= held;
            s.credits_pending -= held;
        });
    }

    /// Move a pending transfer out of `Pending` and out of the expiry index.
    fn settle(&mut self, pending: TransferId, expires_at: Option<Timestamp>, state: PendingState) {
        if let Some(at) = expires_at
            && self.expiries.remove(&(at, pending))
        {
            self.log(Undo::ExpiryRemoved((at, pending)));
        }
        if let Some(TransferSlot { body: Body::Transfer(p), .. }) = self.transfers.get_mut(&pending) {
            let before = p.pending_state;
            debug_assert_eq!(before, PendingState::Pending);
            p.pending_state = state;
            self.log(Undo::PendingState { id: pending, before });
        }
    }

    /// Expire a pending transfer (already removed from the expiry index).
    fn expire(&mut self, id: TransferId, t: Timestamp, seq: u64) {
        let Some(TransferSlot { body: Body::Transfer(p), .. }) = self.transfers.get(&id) else {
            panic!("expiry index refers to a missing transfer {id:?}");
        };
        assert_eq!(p.pending_state, PendingState::Pending, "expiry index refers to a settled transfer");
        let (held, debit, credit) = (p.amount, p.debit_account, p.credit_account);
        self.release(debit, credit, held, id, t, seq);
        self.settle(id, None, PendingState::Expired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::TransferFlags;

    fn setup() -> Ledger {
        let mut l = Ledger::new();
        let mut cmds = vec![Command::CreateAsset(CreateAsset { id: AssetId(1), code: "XAU".into(), scale: 3 })];
        for (id, limit) in [(1, Limit::None), (2, Limit::DebitsMustNotExceedCredits { overdraft: 0 })] {
            cmds.push(Command::CreateAccount(CreateAccount {
                id: AccountId(id),
                asset: AssetId(1),
                kind: AccountKind::Liability,
                limit,
                history: true,
                metadata: Metadata::new(),
                linked: false,
            }));
        }
        let r = l.apply(BatchContext { seq: 1, timestamp: Timestamp(10) }, &cmds);
        assert!(r.outcomes.iter().all(|o| o.code.is_ok()));
        l
    }

    fn transfer(id: u128, debit: u128, credit: u128, amount: u128, linked: bool, pending: bool) -> Command {
        Command::CreateTransfer(CreateTransfer {
            id: TransferId(id),
            debit_account: AccountId(debit),
            credit_account: AccountId(credit),
            amount,
            asset: AssetId(1),
            flags: TransferFlags { linked, pending, ..TransferFlags::default() },
            timeout_secs: if pending { 5 } else { 0 },
            metadata: Metadata::new(),
        })
    }

    #[test]
    fn rollback_restores_the_exact_state() {
        let mut a = setup();
        let mut b = setup();
        // `a` runs a chain that changes balances, history, the expiry index, and then fails.
        let chain = [
            transfer(1, 1, 2, 50, true, false),
            transfer(2, 2, 1, 20, true, true),
            Command::VoidPending(VoidPending {
                id: TransferId(3),
                pending_id: TransferId(2),
                metadata: Metadata::new(),
                linked: true,
            }),
            transfer(4, 2, 1, 51, false, false), // exceeds credits
        ];
        let r = a.apply(BatchContext { seq: 2, timestamp: Timestamp(100) }, &chain);
        assert_eq!(r.outcomes[3].code, ResultCode::ExceedsCredits);
        assert!(a.undo.is_empty() && !a.logging);
        // `b` only records the same failures: equal states must follow.
        let mut dummy = Vec::new();
        for (c, o) in chain.iter().zip(&r.outcomes) {
            b.remember(Cmd { command: c, fingerprint: None }, o);
            dummy.push(o.timestamp);
        }
        b.last_seq = 2;
        b.last_timestamp = *dummy.last().unwrap();
        assert_eq!(a.digest(), b.digest());
        a.check_invariants().unwrap();
    }

    #[test]
    fn rooms_follow_the_limits() {
        let l = setup();
        let wallet = l.account(AccountId(2)).unwrap();
        assert_eq!(debit_room(wallet), (0, ResultCode::ExceedsCredits));
        assert_eq!(credit_room(wallet).0, u128::MAX);
        assert!(limit_valid(AccountKind::Liability, Limit::DebitsMustNotExceedCredits { overdraft: 0 }));
        assert!(!limit_valid(AccountKind::Asset, Limit::DebitsMustNotExceedCredits { overdraft: 0 }));
        assert!(limit_valid(AccountKind::Asset, Limit::DebitsMustNotExceedCredits { overdraft: 1 }));
        assert!(!limit_valid(AccountKind::Equity, Limit::CreditsMustNotExceedDebits { overdraft: 0 }));
        assert!(asset_code_valid("XAU") && asset_code_valid("G9") && !asset_code_valid("xau") && !asset_code_valid(""));
        assert!(!asset_code_valid("ABCDEFGHIJKLM"));
    }

    #[test]
    fn hostile_commands_never_panic() {
        let mut l = setup();
        let huge = transfer(9, 1, 2, u128::MAX, false, false);
        let mut pending_far = transfer(10, 1, 2, 1, false, true);
        if let Command::CreateTransfer(x) = &mut pending_far {
            x.timeout_secs = u32::MAX;
        }
        let r =
            l.apply(BatchContext { seq: 2, timestamp: Timestamp(u64::MAX - 10) }, &[huge.clone(), huge, pending_far]);
        assert_eq!(r.outcomes[0].code, ResultCode::Ok);
        assert!(r.outcomes[1].replayed);
        assert_eq!(r.outcomes[2].code, ResultCode::Overflow);
        l.check_invariants().unwrap();
    }
}
