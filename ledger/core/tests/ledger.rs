//! Integration tests of the ledger state machine:
//! - a reference model (BTreeMaps, clone-the-state for linked chains, linear scans) and a
//!   property test comparing every outcome, expiry and balance against it;
//! - one targeted scenario per result code, and a check that every code is reachable;
//! - history, trial balance and snapshot round trips;
//! - decoder smoke tests on random and mutated bytes.

use std::collections::{BTreeMap, BTreeSet};

use aurum_ledger::codec::{decode_batch_result, decode_command, encode_batch_result, encode_command};
use aurum_ledger::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

// =============================================================================================
// The reference model. Obviously correct rather than fast: it stores whole command encodings
// for idempotency, clones itself to run a linked chain, and scans everything.

#[derive(Clone, Debug, PartialEq)]
struct Rec {
    encoding: Vec<u8>,
    code: ResultCode,
    ts: u64,
    amount: Option<u128>,
}

#[derive(Clone, Debug)]
struct MAccount {
    asset: u32,
    limit: Limit,
    dp: u128,
    dpo: u128,
    cp: u128,
    cpo: u128,
    closed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum MKind {
    Posted,
    Pending,
    PostOrVoid,
    Entry,
}

#[derive(Clone, Debug)]
struct MPending {
    debit: u128,
    credit: u128,
    amount: u128,
    expires_at: Option<u64>,
    state: PendingState,
}

#[derive(Clone, Debug, Default)]
struct Model {
    assets: BTreeMap<u32, String>,
    asset_recs: BTreeMap<u32, Rec>,
    accounts: BTreeMap<u128, MAccount>,
    account_recs: BTreeMap<u128, Rec>,
    transfer_recs: BTreeMap<u128, Rec>,
    kinds: BTreeMap<u128, MKind>,
    pendings: BTreeMap<u128, MPending>,
    last_ts: u64,
}

fn enc(c: &Command) -> Vec<u8> {
    let mut v = Vec::new();
    encode_command(c, &mut v);
    v
}

fn meta_ok(m: &Metadata) -> bool {
    m.len() <= 16 && m.iter().all(|(k, v)| !k.is_empty() && k.len() <= 64 && !v.is_empty() && v.len() <= 256)
}

fn limit_ok(a: &MAccount) -> bool {
    match a.limit {
        Limit::None => true,
        Limit::DebitsMustNotExceedCredits { overdraft } => {
            a.dp.checked_add(a.dpo).is_some_and(|d| d <= a.cpo.saturating_add(overdraft))
        }
        Limit::CreditsMustNotExceedDebits { overdraft } => {
            a.cp.checked_add(a.cpo).is_some_and(|c| c <= a.dpo.saturating_add(overdraft))
        }
    }
}

fn limit_code(a: &MAccount) -> ResultCode {
    match a.limit {
        Limit::DebitsMustNotExceedCredits { overdraft: 0 } => ResultCode::ExceedsCredits,
        Limit::DebitsMustNotExceedCredits { .. } => ResultCode::ExceedsOverdraft,
        Limit::CreditsMustNotExceedDebits { overdraft: 0 } => ResultCode::ExceedsDebits,
        Limit::CreditsMustNotExceedDebits { .. } => ResultCode::CreditExceedsOverdraft,
        Limit::None => unreachable!("an account without a limit cannot exceed it"),
    }
}

impl Model {
    /// Σ over an asset's accounts of (debits pending + posted) and (credits pending + posted).
    fn asset_sums(&self, asset: u32) -> Option<(u128, u128)> {
        let (mut d, mut c) = (0u128, 0u128);
        for a in self.accounts.values().filter(|a| a.asset == asset) {
            d = d.checked_add(a.dp)?.checked_add(a.dpo)?;
            c = c.checked_add(a.cp)?.checked_add(a.cpo)?;
        }
        Some((d, c))
    }

    fn fits(&self, asset: u32, amount: u128) -> bool {
        self.asset_sums(asset).is_some_and(|(d, c)| d.checked_add(amount).is_some() && c.checked_add(amount).is_some())
    }

    fn replay(rec: &Rec, c: &Command) -> Result<Outcome, ResultCode> {
        if rec.encoding == enc(c) {
            Ok(Outcome { code: rec.code, timestamp: Timestamp(rec.ts), amount: rec.amount, replayed: true })
        } else {
            Err(ResultCode::IdExistsWithDifferentFields)
        }
    }

    fn exec(&mut self, c: &Command, t: u64) -> Outcome {
        let r = self.exec_inner(c, t);
        match r {
            Ok(o) => o,
            Err(code) => Outcome { code, timestamp: Timestamp(t), amount: None, replayed: false },
        }
    }

    fn exec_inner(&mut self, c: &Command, t: u64) -> Result<Outcome, ResultCode> {
        let okr =
            |amount: Option<u128>| Outcome { code: ResultCode::Ok, timestamp: Timestamp(t), amount, replayed: false };
        let rec = |amount: Option<u128>| Rec { encoding: enc(c), code: ResultCode::Ok, ts: t, amount };
        match c {
            Command::CreateAsset(x) => {
                if x.id.0 == 0 {
                    return Err(ResultCode::IdMustNotBeZero);
                }
                if let Some(r) = self.asset_recs.get(&x.id.0) {
                    return Self::replay(r, c);
                }
                let code_ok = !x.code.is_empty()
                    && x.code.len() <= 12
                    && x.code.chars().all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit());
                if !code_ok {
                    return Err(ResultCode::AssetCodeInvalid);
                }
                if x.scale > 18 {
                    return Err(ResultCode::AssetScaleTooLarge);
                }
                if self.assets.values().any(|code| *code == x.code) {
                    return Err(ResultCode::AssetCodeTaken);
                }
                self.assets.insert(x.id.0, x.code.clone());
                self.asset_recs.insert(x.id.0, rec(None));
                Ok(okr(None))
            }
            Command::CreateAccount(x) => {
                if x.id.0 == 0 {
                    return Err(ResultCode::IdMustNotBeZero);
                }
                if let Some(r) = self.account_recs.get(&x.id.0) {
                    return Self::replay(r, c);
                }
                if !meta_ok(&x.metadata) {
                    return Err(ResultCode::MetadataInvalid);
                }
                if !self.assets.contains_key(&x.asset.0) {
                    return Err(ResultCode::AssetNotFound);
                }
                let debit_normal = matches!(x.kind, AccountKind::Asset | AccountKind::Expense);
                let bad = match x.limit {
                    Limit::DebitsMustNotExceedCredits { overdraft } => debit_normal && overdraft == 0,
                    Limit::CreditsMustNotExceedDebits { overdraft } => !debit_normal && overdraft == 0,
                    Limit::None => false,
                };
                if bad {
                    return Err(ResultCode::AccountLimitInvalid);
                }
                self.accounts.insert(
                    x.id.0,
                    MAccount { asset: x.asset.0, limit: x.limit, dp: 0, dpo: 0, cp: 0, cpo: 0, closed: false },
                );
                self.account_recs.insert(x.id.0, rec(None));
                Ok(okr(None))
            }
            Command::CreateTransfer(x) => {
                if x.id.0 == 0 {
                    return Err(ResultCode::IdMustNotBeZero);
                }
                if let Some(r) = self.transfer_recs.get(&x.id.0) {
                    return Self::replay(r, c);
                }
                if !meta_ok(&x.metadata) {
                    return Err(ResultCode::MetadataInvalid);
                }
                let f = x.flags;
                if f.pending && (f.balancing_debit || f.balancing_credit) {
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
                let d = self.accounts.get(&x.debit_account.0).ok_or(ResultCode::DebitAccountNotFound)?.clone();
                let cr = self.accounts.get(&x.credit_account.0).ok_or(ResultCode::CreditAccountNotFound)?.clone();
                if d.asset != x.asset.0 || cr.asset != x.asset.0 {
                    return Err(ResultCode::AssetMismatch);
                }
                if d.closed {
                    return Err(ResultCode::DebitAccountClosed);
                }
                if cr.closed {
                    return Err(ResultCode::CreditAccountClosed);
                }
                let mut amount = x.amount;
                if f.balancing_debit
                    && let Limit::DebitsMustNotExceedCredits { overdraft } = d.limit
                {
                    let room = d.cpo.saturating_add(overdraft).saturating_sub(d.dp.saturating_add(d.dpo));
                    if room == 0 {
                        return Err(limit_code(&d));
                    }
                    amount = amount.min(room);
                }
                if f.balancing_credit
                    && let Limit::CreditsMustNotExceedDebits { overdraft } = cr.limit
                {
                    let room = cr.dpo.saturating_add(overdraft).saturating_sub(cr.cp.saturating_add(cr.cpo));
                    if room == 0 {
                        return Err(limit_code(&cr));
                    }
                    amount = amount.min(room);
                }
                if !self.fits(x.asset.0, amount) {
                    return Err(ResultCode::Overflow);
                }
                let (mut d2, mut c2) = (d.clone(), cr.clone());
                if f.pending {
                    d2.dp += amount;
                    c2.cp += amount;
                } else {
                    d2.dpo += amount;
                    c2.cpo += amount;
                }
                if !limit_ok(&d2) {
                    return Err(limit_code(&d2));
                }
                if !limit_ok(&c2) {
                    return Err(limit_code(&c2));
                }
                let expires_at = if f.pending && x.timeout_secs > 0 {
                    Some(t.checked_add(u64::from(x.timeout_secs) * 1_000_000_000).ok_or(ResultCode::Overflow)?)
                } else {
                    None
                };
                self.accounts.insert(x.debit_account.0, d2);
                self.accounts.insert(x.credit_account.0, c2);
                if f.pending {
                    self.pendings.insert(
                        x.id.0,
                        MPending {
                            debit: x.debit_account.0,
                            credit: x.credit_account.0,
                            amount,
                            expires_at,
                            state: PendingState::Pending,
                        },
                    );
                }
                self.kinds.insert(x.id.0, if f.pending { MKind::Pending } else { MKind::Posted });
                self.transfer_recs.insert(x.id.0, rec(Some(amount)));
                Ok(okr(Some(amount)))
            }
            Command::PostPending(PostPending { id, pending_id, metadata, .. })
            | Command::VoidPending(VoidPending { id, pending_id, metadata, .. }) => {
                if id.0 == 0 {
                    return Err(ResultCode::IdMustNotBeZero);
                }
                if let Some(r) = self.transfer_recs.get(&id.0) {
                    return Self::replay(r, c);
                }
                if !meta_ok(metadata) {
                    return Err(ResultCode::MetadataInvalid);
                }
                let p = match self.kinds.get(&pending_id.0) {
                    None => return Err(ResultCode::PendingTransferNotFound),
                    Some(MKind::Pending) => self.pendings[&pending_id.0].clone(),
                    Some(_) => return Err(ResultCode::PendingTransferNotPending),
                };
                match p.state {
                    PendingState::Pending => {}
                    PendingState::Posted => return Err(ResultCode::PendingTransferAlreadyPosted),
                    PendingState::Voided => return Err(ResultCode::PendingTransferAlreadyVoided),
                    PendingState::Expired => return Err(ResultCode::PendingTransferExpired),
                    PendingState::None => unreachable!(),
                }
                let (post, state) = match c {
                    Command::PostPending(x) => {
                        let a = x.amount.unwrap_or(p.amount);
                        if a == 0 {
                            return Err(ResultCode::AmountMustNotBeZero);
                        }
                        if a > p.amount {
                            return Err(ResultCode::ExceedsPendingTransferAmount);
                        }
                        (a, PendingState::Posted)
                    }
                    _ => (0, PendingState::Voided),
                };
                let d = self.accounts.get_mut(&p.debit).unwrap();
                d.dp -= p.amount;
                d.dpo += post;
                let cr = self.accounts.get_mut(&p.credit).unwrap();
                cr.cp -= p.amount;
                cr.cpo += post;
                self.pendings.get_mut(&pending_id.0).unwrap().state = state;
                let amount = if state == PendingState::Posted { post } else { p.amount };
                self.kinds.insert(id.0, MKind::PostOrVoid);
                self.transfer_recs.insert(id.0, rec(Some(amount)));
                Ok(okr(Some(amount)))
            }
            Command::CreateEntry(x) => {
                if x.id.0 == 0 {
                    return Err(ResultCode::IdMustNotBeZero);
                }
                if let Some(r) = self.transfer_recs.get(&x.id.0) {
                    return Self::replay(r, c);
                }
                if !meta_ok(&x.metadata) {
                    return Err(ResultCode::MetadataInvalid);
                }
                if x.postings.len() < 2 {
                    return Err(ResultCode::EntryNeedsTwoPostings);
                }
                if x.postings.len() > 64 {
                    return Err(ResultCode::EntryTooManyPostings);
                }
                let mut order: Vec<u128> = Vec::new();
                let mut add: BTreeMap<u128, (u128, u128)> = BTreeMap::new();
                for p in &x.postings {
                    if p.amount == 0 {
                        return Err(ResultCode::PostingAmountMustNotBeZero);
                    }
                    let a = self.accounts.get(&p.account.0).ok_or(ResultCode::PostingAccountNotFound)?;
                    if a.closed {
                        return Err(ResultCode::PostingAccountClosed);
                    }
                    if !order.contains(&p.account.0) {
                        order.push(p.account.0);
                    }
                    let e = add.entry(p.account.0).or_default();
                    let s = if p.side == Side::Debit { &mut e.0 } else { &mut e.1 };
                    *s = s.checked_add(p.amount).ok_or(ResultCode::Overflow)?;
                }
                let mut per_asset: BTreeMap<u32, (u128, u128)> = BTreeMap::new();
                for id in &order {
                    let (d, cr) = add[id];
                    let e = per_asset.entry(self.accounts[id].asset).or_default();
                    e.0 = e.0.checked_add(d).ok_or(ResultCode::Overflow)?;
                    e.1 = e.1.checked_add(cr).ok_or(ResultCode::Overflow)?;
                }
                if per_asset.values().any(|(d, c)| d != c) {
                    return Err(ResultCode::EntryUnbalanced);
                }
                for (asset, (d, _)) in &per_asset {
                    if !self.fits(*asset, *d) {
                        return Err(ResultCode::Overflow);
                    }
                }
                let mut after = Vec::new();
                for id in &order {
                    let mut a = self.accounts[id].clone();
                    a.dpo += add[id].0;
                    a.cpo += add[id].1;
                    if !limit_ok(&a) {
                        return Err(limit_code(&a));
                    }
                    after.push((*id, a));
                }
                for (id, a) in after {
                    self.accounts.insert(id, a);
                }
                self.kinds.insert(x.id.0, MKind::Entry);
                self.transfer_recs.insert(x.id.0, rec(None));
                Ok(okr(None))
            }
            Command::CloseAccount(x) => {
                let a = self.accounts.get_mut(&x.id.0).ok_or(ResultCode::AccountNotFound)?;
                if a.closed {
                    return Err(ResultCode::AccountAlreadyClosed);
                }
                if a.dp != 0 || a.cp != 0 {
                    return Err(ResultCode::AccountHasPendingTransfers);
                }
                if a.dpo != a.cpo {
                    return Err(ResultCode::AccountBalanceNotZero);
                }
                a.closed = true;
                Ok(okr(None))
            }
        }
    }

    fn remember(&mut self, c: &Command, o: &Outcome) {
        let r = Rec { encoding: enc(c), code: o.code, ts: o.timestamp.0, amount: None };
        match c {
            Command::CreateAsset(x) if x.id.0 != 0 => {
                self.asset_recs.entry(x.id.0).or_insert(r);
            }
            Command::CreateAccount(x) if x.id.0 != 0 => {
                self.account_recs.entry(x.id.0).or_insert(r);
            }
            Command::CreateTransfer(CreateTransfer { id, .. })
            | Command::PostPending(PostPending { id, .. })
            | Command::VoidPending(VoidPending { id, .. })
            | Command::CreateEntry(CreateEntry { id, .. })
                if id.0 != 0 =>
            {
                self.transfer_recs.entry(id.0).or_insert(r);
            }
            _ => {}
        }
    }

    fn apply(&mut self, ctx: BatchContext, cmds: &[Command]) -> BatchResult {
        let first = ctx.timestamp.0.max(self.last_ts + 1);
        let mut t = first;
        let mut result = BatchResult::default();
        let mut due: Vec<(u64, u128)> = self
            .pendings
            .iter()
            .filter(|(_, p)| p.state == PendingState::Pending && p.expires_at.is_some_and(|e| e <= first))
            .map(|(id, p)| (p.expires_at.unwrap(), *id))
            .collect();
        due.sort();
        for (_, id) in due {
            let p = self.pendings.get_mut(&id).unwrap();
            p.state = PendingState::Expired;
            let p = p.clone();
            self.accounts.get_mut(&p.debit).unwrap().dp -= p.amount;
            self.accounts.get_mut(&p.credit).unwrap().cp -= p.amount;
            result.expired.push(Expiry { transfer: TransferId(id), timestamp: Timestamp(t) });
            t += 1;
        }
        let mut i = 0;
        while i < cmds.len() {
            let mut end = i;
            while end < cmds.len() && cmds[end].linked() {
                end += 1;
            }
            if end == cmds.len() {
                for c in &cmds[i..] {
                    let o = Outcome {
                        code: ResultCode::LinkedEventChainOpen,
                        timestamp: Timestamp(t),
                        amount: None,
                        replayed: false,
                    };
                    t += 1;
                    self.remember(c, &o);
                    result.outcomes.push(o);
                }
                break;
            }
            let chain = &cmds[i..=end];
            let saved = self.clone();
            let mut outs = Vec::new();
            let mut failed = None;
            for (k, c) in chain.iter().enumerate() {
                let o = self.exec(c, t + k as u64);
                outs.push(o);
                if !o.code.is_ok() {
                    failed = Some(k);
                    break;
                }
            }
            if let Some(f) = failed {
                *self = saved;
                outs = (0..chain.len())
                    .map(|k| {
                        if k == f {
                            outs[f]
                        } else {
                            Outcome {
                                code: ResultCode::LinkedEventFailed,
                                timestamp: Timestamp(t + k as u64),
                                amount: None,
                                replayed: false,
                            }
                        }
                    })
                    .collect();
                for (c, o) in chain.iter().zip(&outs) {
                    self.remember(c, o);
                }
            }
            t += chain.len() as u64;
            result.outcomes.extend(outs);
            i = end + 1;
        }
        if t > first {
            self.last_ts = t - 1;
        }
        result
    }
}

// =============================================================================================
// Generators.

fn md(pairs: &[(&str, &str)]) -> Metadata {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn metadata_strategy() -> impl Strategy<Value = Metadata> {
    prop_oneof![
        16 => Just(Metadata::new()),
        2 => Just(md(&[("ref", "a")])),
        1 => Just(md(&[("", "empty key")])),
    ]
}

fn amount_strategy() -> impl Strategy<Value = u128> {
    prop_oneof![
        1 => Just(0u128),
        12 => 1u128..120,
        1 => Just(u128::MAX / 2),
        1 => Just(u128::MAX),
    ]
}

fn limit_strategy() -> impl Strategy<Value = Limit> {
    prop_oneof![
        2 => Just(Limit::None),
        2 => (prop_oneof![Just(0u128), 1u128..60]).prop_map(|overdraft| Limit::DebitsMustNotExceedCredits { overdraft }),
        1 => (prop_oneof![Just(0u128), 1u128..60]).prop_map(|overdraft| Limit::CreditsMustNotExceedDebits { overdraft }),
    ]
}

fn kind_strategy() -> impl Strategy<Value = AccountKind> {
    (1u8..=5).prop_map(|k| AccountKind::from_u8(k).unwrap())
}

/// Transfer ids come from a small range so that retries and conflicts are frequent.
fn tid() -> impl Strategy<Value = TransferId> {
    prop_oneof![1 => Just(TransferId(0)), 30 => (1u128..400).prop_map(TransferId)]
}
fn aid() -> impl Strategy<Value = AccountId> {
    (0u128..10).prop_map(AccountId)
}
fn asset_id() -> impl Strategy<Value = AssetId> {
    prop_oneof![6 => Just(AssetId(1)), 3 => Just(AssetId(2)), 1 => (0u32..5).prop_map(AssetId)]
}
/// Genesis accounts 6 and 7 hold asset 2, the others asset 1.
fn asset_of(account: AccountId) -> AssetId {
    if matches!(account.0, 6 | 7) { AssetId(2) } else { AssetId(1) }
}
/// Transfers mostly stay within one asset: pairs of accounts drawn per asset.
fn account_pair() -> impl Strategy<Value = (AccountId, AccountId)> {
    prop_oneof![
        6 => (prop::sample::select(vec![1u128, 2, 3, 4, 5, 8, 9]), prop::sample::select(vec![1u128, 2, 3, 4, 5, 8, 9]))
            .prop_map(|(a, b)| (AccountId(a), AccountId(b))),
        2 => (prop::sample::select(vec![6u128, 7]), prop::sample::select(vec![6u128, 7])).prop_map(|(a, b)| (AccountId(a), AccountId(b))),
        1 => (aid(), aid()),
    ]
}

fn command_strategy() -> impl Strategy<Value = Command> {
    let linked = || prop::bool::weighted(0.1);
    prop_oneof![
        1 => ((0u32..5), prop::sample::select(vec!["XAU", "INR", "USDC", "xau", "", "TOOLONGCODE123", "G9"]), 0u8..21)
            .prop_map(|(id, code, scale)| Command::CreateAsset(CreateAsset { id: AssetId(id), code: code.into(), scale })),
        2 => (aid(), asset_id(), kind_strategy(), limit_strategy(), any::<bool>(), metadata_strategy(), linked())
            .prop_map(|(id, asset, kind, limit, history, metadata, linked)| {
                Command::CreateAccount(CreateAccount { id, asset, kind, limit, history, metadata, linked })
            }),
        10 => (
            tid(), account_pair(), amount_strategy(), prop_oneof![9 => Just(None), 1 => asset_id().prop_map(Some)],
            (linked(), prop::bool::weighted(0.45), prop::bool::weighted(0.1), prop::bool::weighted(0.1)),
            (prop_oneof![3 => Just(0u32), 2 => 1u32..4], prop::bool::weighted(0.9)),
            metadata_strategy(),
        )
            .prop_map(|(id, (debit_account, credit_account), amount, asset, (linked, pending, bd, bc), (timeout, sane), metadata)| {
                let asset = asset.unwrap_or(asset_of(debit_account));
                // Mostly well-formed: a timeout only on pending transfers, no balancing with pending.
                let timeout_secs = if pending || !sane { timeout } else { 0 };
                let (bd, bc) = if pending && sane { (false, false) } else { (bd, bc) };
                Command::CreateTransfer(CreateTransfer {
                    id, debit_account, credit_account, amount, asset,
                    flags: TransferFlags { linked, pending, balancing_debit: bd, balancing_credit: bc },
                    timeout_secs, metadata,
                })
            }),
        3 => (tid(), tid(), prop_oneof![2 => Just(None), 2 => (0u128..80).prop_map(Some)], metadata_strategy(), linked())
            .prop_map(|(id, pending_id, amount, metadata, linked)| {
                Command::PostPending(PostPending { id, pending_id, amount, metadata, linked })
            }),
        2 => (tid(), tid(), metadata_strategy(), linked())
            .prop_map(|(id, pending_id, metadata, linked)| Command::VoidPending(VoidPending { id, pending_id, metadata, linked })),
        3 => (tid(), prop::collection::vec((account_pair(), amount_strategy()), 0..4), prop::bool::weighted(0.2), metadata_strategy(), linked())
            .prop_map(|(id, pairs, unbalance, metadata, linked)| {
                let mut postings = Vec::new();
                for ((d, c), a) in pairs {
                    postings.push(Posting { account: d, side: Side::Debit, amount: a });
                    postings.push(Posting { account: c, side: Side::Credit, amount: a });
                }
                if unbalance && !postings.is_empty() {
                    postings.pop();
                }
                Command::CreateEntry(CreateEntry { id, postings, metadata, linked })
            }),
        1 => (aid(), linked()).prop_map(|(id, linked)| Command::CloseAccount(CloseAccount { id, linked })),
    ]
}

/// A command, or a retry of an earlier command of the same test case (resolved at run time).
#[derive(Debug, Clone)]
enum Op {
    Cmd(Command),
    Retry(usize),
    /// Void (`post: None`) or post (in full: `Some(None)`, in part: `Some(Some(amount))`) one of
    /// the pending transfers sent so far, picked by index.
    Settle {
        id: TransferId,
        nth: usize,
        post: Option<Option<u128>>,
        linked: bool,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let settle = (
        tid(),
        any::<usize>(),
        prop_oneof![2 => Just(None), 2 => Just(Some(None)), 2 => (0u128..60).prop_map(|a| Some(Some(a)))],
        prop::bool::weighted(0.2),
    )
        .prop_map(|(id, nth, post, linked)| Op::Settle { id, nth, post, linked });
    prop_oneof![8 => command_strategy().prop_map(Op::Cmd), 1 => any::<usize>().prop_map(Op::Retry), 2 => settle]
}

/// Nanoseconds the batch clock moves: sometimes backwards, usually a little, sometimes past
/// pending timeouts.
fn advance_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => Just(-1_000i64),
        4 => 0i64..1_000,
        2 => Just(1_000_000_000i64),
        2 => Just(2_000_000_000i64),
        1 => Just(5_000_000_000i64),
    ]
}

fn batches_strategy() -> impl Strategy<Value = Vec<(i64, Vec<Op>)>> {
    prop::collection::vec((advance_strategy(), prop::collection::vec(op_strategy(), 0..9)), 1..14)
}

/// A fixed opening batch so that random commands have something to act on: two assets and
/// accounts 1–8 with a variety of limits; 1, 2 and 5 keep history.
fn genesis() -> Vec<Command> {
    let mut v = vec![
        Command::CreateAsset(CreateAsset { id: AssetId(1), code: "XAU".into(), scale: 3 }),
        Command::CreateAsset(CreateAsset { id: AssetId(2), code: "INR".into(), scale: 2 }),
    ];
    let specs: [(u128, u32, AccountKind, Limit); 8] = [
        (1, 1, AccountKind::Asset, Limit::None),
        (2, 1, AccountKind::Liability, Limit::DebitsMustNotExceedCredits { overdraft: 0 }),
        (3, 1, AccountKind::Liability, Limit::DebitsMustNotExceedCredits { overdraft: 25 }),
        (4, 1, AccountKind::Asset, Limit::CreditsMustNotExceedDebits { overdraft: 0 }),
        (5, 1, AccountKind::Equity, Limit::None),
        (6, 2, AccountKind::Asset, Limit::None),
        (7, 2, AccountKind::Liability, Limit::DebitsMustNotExceedCredits { overdraft: 0 }),
        (8, 1, AccountKind::Income, Limit::CreditsMustNotExceedDebits { overdraft: 40 }),
    ];
    for (id, asset, kind, limit) in specs {
        v.push(Command::CreateAccount(CreateAccount {
            id: AccountId(id),
            asset: AssetId(asset),
            kind,
            limit,
            history: matches!(id, 1 | 2 | 5),
            metadata: Metadata::new(),
            linked: false,
        }));
    }
    v
}

const T0: u64 = 1_700_000_000_000_000_000;

fn check_against_model(batches: Vec<(i64, Vec<Op>)>) -> Result<(), TestCaseError> {
    let mut ledger = Ledger::new();
    let mut model = Model::default();
    let mut journal: Vec<(BatchContext, Vec<Command>, BatchResult)> = Vec::new();
    let mut sent: Vec<Command> = Vec::new();
    let mut clock = T0;
    let all = std::iter::once((0i64, genesis().into_iter().map(Op::Cmd).collect())).chain(batches);
    for (seq, (advance, ops)) in (1u64..).zip(all) {
        clock = clock.saturating_add_signed(advance);
        let ctx = BatchContext { seq, timestamp: Timestamp(clock) };
        let cmds: Vec<Command> = ops
            .into_iter()
            .map(|op| match op {
                Op::Retry(i) if !sent.is_empty() => sent[i % sent.len()].clone(),
                Op::Retry(_) => Command::CloseAccount(CloseAccount { id: AccountId(0), linked: false }),
                Op::Cmd(c) => c,
                Op::Settle { id, nth, post, linked } => {
                    // Mostly a live pending transfer (the model knows which), sometimes any
                    // accepted one (settled or expired), sometimes an arbitrary id.
                    let live: Vec<u128> = model
                        .pendings
                        .iter()
                        .filter(|(_, p)| p.state == PendingState::Pending)
                        .map(|(id, _)| *id)
                        .collect();
                    let any: Vec<u128> = model.pendings.keys().copied().collect();
                    let pool = if nth % 4 != 0 && !live.is_empty() { &live } else { &any };
                    let pending_id = if nth % 11 == 0 || pool.is_empty() {
                        TransferId(nth as u128 % 160)
                    } else {
                        TransferId(pool[nth / 4 % pool.len()])
                    };
                    let metadata = Metadata::new();
                    match post {
                        None => Command::VoidPending(VoidPending { id, pending_id, metadata, linked }),
                        Some(amount) => Command::PostPending(PostPending { id, pending_id, amount, metadata, linked }),
                    }
                }
            })
            .collect();
        sent.extend(cmds.iter().cloned());
        let got = ledger.apply(ctx, &cmds);
        let want = model.apply(ctx, &cmds);
        prop_assert_eq!(&got, &want, "batch {} diverged from the model: {:#?}", seq, cmds);
        if let Err(e) = ledger.check_invariants() {
            return Err(TestCaseError::fail(format!("batch {seq}: {e}")));
        }
        prop_assert_eq!(ledger.last_seq(), seq);
        prop_assert_eq!(ledger.last_timestamp().0, model.last_ts);
        // Balances equal the model's.
        prop_assert_eq!(ledger.account_count() as usize, model.accounts.len());
        for (id, m) in &model.accounts {
            let a = ledger.account(AccountId(*id)).unwrap();
            prop_assert_eq!(
                (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.closed),
                (m.dp, m.dpo, m.cp, m.cpo, m.closed)
            );
        }
        // Snapshot round trip: same digest, and the decoded ledger carries on (it replaces the
        // original, so every later batch also tests identical behaviour after decoding).
        let mut snap = Vec::new();
        ledger.encode_snapshot(&mut snap);
        let decoded = Ledger::decode_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(decoded.digest(), ledger.digest());
        ledger = decoded;
        journal.push((ctx, cmds, got));
    }
    // Replaying the journal through a fresh ledger reproduces every outcome and the state.
    let mut fresh = Ledger::new();
    for (ctx, cmds, result) in &journal {
        prop_assert_eq!(&fresh.apply(*ctx, cmds), result);
    }
    prop_assert_eq!(fresh.digest(), ledger.digest());
    prop_assert!(fresh.same_encoding(&ledger));
    Ok(())
}

#[test]
fn matches_the_reference_model() {
    let config = Config { cases: 1000, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    if let Err(e) = runner.run(&batches_strategy(), check_against_model) {
        panic!("{e}");
    }
}

// =============================================================================================
// Targeted scenarios: one per result code.

struct Fx {
    ledger: Ledger,
    seq: u64,
    clock: u64,
    seen: BTreeSet<ResultCode>,
}

impl Fx {
    /// Genesis applied: assets 1 (XAU) and 2 (INR), accounts 1–8 (see `genesis`).
    fn new() -> Fx {
        let mut fx = Fx { ledger: Ledger::new(), seq: 0, clock: T0, seen: BTreeSet::new() };
        let r = fx.batch(&genesis());
        assert!(r.outcomes.iter().all(|o| o.code.is_ok()));
        fx
    }

    fn batch(&mut self, cmds: &[Command]) -> BatchResult {
        self.seq += 1;
        self.clock += 1_000;
        let r = self.ledger.apply(BatchContext { seq: self.seq, timestamp: Timestamp(self.clock) }, cmds);
        self.ledger.check_invariants().unwrap();
        self.seen.extend(r.outcomes.iter().map(|o| o.code));
        r
    }

    fn advance(&mut self, secs: u64) {
        self.clock += secs * 1_000_000_000;
    }

    fn one(&mut self, c: Command) -> Outcome {
        self.batch(&[c]).outcomes[0]
    }

    fn expect(&mut self, c: Command, code: ResultCode) -> Outcome {
        let o = self.one(c.clone());
        assert_eq!(o.code, code, "{c:?}");
        o
    }
}

fn xfer(id: u128, debit: u128, credit: u128, amount: u128) -> CreateTransfer {
    CreateTransfer {
        id: TransferId(id),
        debit_account: AccountId(debit),
        credit_account: AccountId(credit),
        amount,
        asset: AssetId(1),
        flags: TransferFlags::default(),
        timeout_secs: 0,
        metadata: Metadata::new(),
    }
}

fn t(x: CreateTransfer) -> Command {
    Command::CreateTransfer(x)
}

fn pending(id: u128, debit: u128, credit: u128, amount: u128, timeout_secs: u32) -> Command {
    let mut x = xfer(id, debit, credit, amount);
    x.flags.pending = true;
    x.timeout_secs = timeout_secs;
    t(x)
}

fn post(id: u128, pending_id: u128, amount: Option<u128>) -> Command {
    Command::PostPending(PostPending {
        id: TransferId(id),
        pending_id: TransferId(pending_id),
        amount,
        metadata: Metadata::new(),
        linked: false,
    })
}

fn void(id: u128, pending_id: u128) -> Command {
    Command::VoidPending(VoidPending {
        id: TransferId(id),
        pending_id: TransferId(pending_id),
        metadata: Metadata::new(),
        linked: false,
    })
}

fn entry(id: u128, postings: &[(u128, Side, u128)]) -> Command {
    Command::CreateEntry(CreateEntry {
        id: TransferId(id),
        postings: postings.iter().map(|&(a, side, amount)| Posting { account: AccountId(a), side, amount }).collect(),
        metadata: Metadata::new(),
        linked: false,
    })
}

fn account(id: u128, asset: u32, kind: AccountKind, limit: Limit) -> CreateAccount {
    CreateAccount {
        id: AccountId(id),
        asset: AssetId(asset),
        kind,
        limit,
        history: false,
        metadata: Metadata::new(),
        linked: false,
    }
}

fn close(id: u128) -> Command {
    Command::CloseAccount(CloseAccount { id: AccountId(id), linked: false })
}

fn linked(mut c: Command) -> Command {
    match &mut c {
        Command::CreateAccount(x) => x.linked = true,
        Command::CreateTransfer(x) => x.flags.linked = true,
        Command::PostPending(x) => x.linked = true,
        Command::VoidPending(x) => x.linked = true,
        Command::CreateEntry(x) => x.linked = true,
        Command::CloseAccount(x) => x.linked = true,
        Command::CreateAsset(_) => panic!("assets cannot be linked"),
    }
    c
}

fn run_every_code_scenario(fx: &mut Fx) {
    use ResultCode as R;
    // Funding: 1 (asset, no limit) → 2 (wallet) 100.
    fx.expect(t(xfer(1, 1, 2, 100)), R::Ok);
    // Ids.
    fx.expect(t(xfer(0, 1, 2, 1)), R::IdMustNotBeZero);
    fx.expect(t(xfer(1, 1, 2, 5)), R::IdExistsWithDifferentFields);
    let again = fx.expect(t(xfer(1, 1, 2, 100)), R::Ok);
    assert!(again.replayed);
    let mut m = xfer(2, 1, 2, 1);
    m.metadata = md(&[("k", "")]);
    fx.expect(t(m), R::MetadataInvalid);
    // Assets.
    fx.expect(Command::CreateAccount(account(20, 9, AccountKind::Asset, Limit::None)), R::AssetNotFound);
    fx.expect(Command::CreateAsset(CreateAsset { id: AssetId(3), code: "x-1".into(), scale: 0 }), R::AssetCodeInvalid);
    fx.expect(
        Command::CreateAsset(CreateAsset { id: AssetId(4), code: "ABC".into(), scale: 19 }),
        R::AssetScaleTooLarge,
    );
    fx.expect(Command::CreateAsset(CreateAsset { id: AssetId(5), code: "XAU".into(), scale: 3 }), R::AssetCodeTaken);
    // Accounts.
    fx.expect(
        Command::CreateAccount(account(21, 1, AccountKind::Asset, Limit::DebitsMustNotExceedCredits { overdraft: 0 })),
        R::AccountLimitInvalid,
    );
    fx.expect(t(xfer(3, 99, 2, 1)), R::DebitAccountNotFound);
    fx.expect(t(xfer(4, 1, 99, 1)), R::CreditAccountNotFound);
    fx.expect(t(xfer(5, 1, 1, 1)), R::AccountsMustBeDifferent);
    fx.expect(t(xfer(6, 1, 6, 1)), R::AssetMismatch);
    fx.expect(t(xfer(7, 1, 2, 0)), R::AmountMustNotBeZero);
    fx.expect(t(xfer(8, 2, 1, 101)), R::ExceedsCredits);
    fx.expect(t(xfer(9, 3, 1, 26)), R::ExceedsOverdraft);
    fx.expect(t(xfer(10, 1, 4, 1)), R::ExceedsDebits);
    fx.expect(t(xfer(11, 1, 8, 41)), R::CreditExceedsOverdraft);
    fx.expect(t(xfer(12, 1, 5, u128::MAX)), R::Overflow);
    let mut f = xfer(13, 1, 2, 1);
    f.flags.pending = true;
    f.flags.balancing_debit = true;
    fx.expect(t(f), R::FlagsInvalid);
    let mut f = xfer(14, 1, 2, 1);
    f.timeout_secs = 5;
    fx.expect(t(f), R::TimeoutReservedForPendingTransfer);
    // Two-phase.
    fx.expect(post(15, 999, None), R::PendingTransferNotFound);
    fx.expect(post(16, 1, None), R::PendingTransferNotPending);
    fx.expect(pending(17, 2, 5, 30, 0), R::Ok);
    fx.expect(post(18, 17, Some(31)), R::ExceedsPendingTransferAmount);
    let o = fx.expect(post(19, 17, Some(10)), R::Ok);
    assert_eq!(o.amount, Some(10));
    fx.expect(post(20, 17, None), R::PendingTransferAlreadyPosted);
    fx.expect(pending(21, 2, 5, 5, 0), R::Ok);
    fx.expect(void(22, 21), R::Ok);
    fx.expect(void(23, 21), R::PendingTransferAlreadyVoided);
    fx.expect(pending(24, 2, 5, 5, 1), R::Ok);
    fx.advance(2);
    let r = fx.batch(&[post(25, 24, None)]);
    assert_eq!(r.expired.len(), 1);
    assert_eq!(r.expired[0].transfer, TransferId(24));
    assert_eq!(r.outcomes[0].code, R::PendingTransferExpired);
    // Entries.
    fx.expect(entry(26, &[(1, Side::Debit, 5)]), R::EntryNeedsTwoPostings);
    let many: Vec<(u128, Side, u128)> =
        (0..65).map(|i| (1 + i % 2, if i % 2 == 0 { Side::Debit } else { Side::Credit }, 1)).collect();
    fx.expect(entry(27, &many), R::EntryTooManyPostings);
    fx.expect(entry(28, &[(1, Side::Debit, 5), (5, Side::Credit, 4)]), R::EntryUnbalanced);
    fx.expect(entry(29, &[(1, Side::Debit, 5), (99, Side::Credit, 5)]), R::PostingAccountNotFound);
    fx.expect(entry(30, &[(1, Side::Debit, 0), (5, Side::Credit, 0)]), R::PostingAmountMustNotBeZero);
    // Closing: 5 holds a balance; a fresh account closes.
    fx.expect(Command::CreateAccount(account(40, 1, AccountKind::Equity, Limit::None)), R::Ok);
    fx.expect(close(99), R::AccountNotFound);
    fx.expect(close(5), R::AccountBalanceNotZero);
    fx.expect(pending(41, 1, 40, 5, 0), R::Ok);
    fx.expect(close(40), R::AccountHasPendingTransfers);
    fx.expect(void(42, 41), R::Ok);
    fx.expect(close(40), R::Ok);
    fx.expect(close(40), R::AccountAlreadyClosed);
    fx.expect(t(xfer(43, 40, 1, 1)), R::DebitAccountClosed);
    fx.expect(t(xfer(44, 1, 40, 1)), R::CreditAccountClosed);
    fx.expect(entry(45, &[(1, Side::Debit, 5), (40, Side::Credit, 5)]), R::PostingAccountClosed);
    // Linked chains.
    let r = fx.batch(&[linked(t(xfer(50, 1, 2, 1))), t(xfer(51, 2, 1, 10_000))]);
    assert_eq!(r.outcomes[0].code, R::LinkedEventFailed);
    assert_eq!(r.outcomes[1].code, R::ExceedsCredits);
    let r = fx.batch(&[t(xfer(52, 1, 2, 1)), linked(t(xfer(53, 1, 2, 1)))]);
    assert_eq!(r.outcomes[0].code, R::Ok);
    assert_eq!(r.outcomes[1].code, R::LinkedEventChainOpen);
}

#[test]
fn every_result_code_is_reachable() {
    let mut fx = Fx::new();
    run_every_code_scenario(&mut fx);
    let missing: Vec<_> = ResultCode::ALL.iter().filter(|c| !fx.seen.contains(c)).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "result codes never produced: {missing:?}");
}

#[test]
fn failed_chain_leaves_no_trace_and_ids_are_final() {
    let mut fx = Fx::new();
    fx.expect(t(xfer(1, 1, 2, 100)), ResultCode::Ok);
    let before = fx.ledger.digest();
    let accounts_before: Vec<Account> = fx.ledger.accounts().into_iter().cloned().collect();
    let chain = [
        linked(Command::CreateAccount(account(30, 1, AccountKind::Liability, Limit::None))),
        linked(t(xfer(2, 1, 30, 7))),
        linked(pending(3, 2, 30, 7, 10)),
        linked(entry(4, &[(1, Side::Debit, 3), (2, Side::Credit, 3)])),
        linked(close(8)),
        t(xfer(5, 2, 1, 1_000)), // fails: exceeds credits
    ];
    let r = fx.batch(&chain);
    let codes: Vec<ResultCode> = r.outcomes.iter().map(|o| o.code).collect();
    assert_eq!(codes[..5], [ResultCode::LinkedEventFailed; 5]);
    assert_eq!(codes[5], ResultCode::ExceedsCredits);
    let accounts_after: Vec<Account> = fx.ledger.accounts().into_iter().cloned().collect();
    assert_eq!(accounts_before, accounts_after);
    assert!(fx.ledger.account(AccountId(30)).is_none());
    assert!(fx.ledger.pending_expiries().is_empty());
    assert_ne!(before, fx.ledger.digest(), "failed ids are remembered");
    // The same ids again: first outcomes, replayed (ids are final, failures included).
    let r = fx.batch(&chain);
    assert!(r.outcomes.iter().all(|o| o.replayed || o.code == ResultCode::LinkedEventFailed));
    let o = fx.one(t(xfer(2, 1, 30, 7)));
    assert_eq!(o.code, ResultCode::IdExistsWithDifferentFields, "linked flag is part of the fingerprint");
}

#[test]
fn timestamps_are_unique_and_increasing_even_when_the_clock_goes_back() {
    let mut l = Ledger::new();
    let r1 = l.apply(BatchContext { seq: 1, timestamp: Timestamp(1_000) }, &genesis());
    let r2 = l.apply(BatchContext { seq: 2, timestamp: Timestamp(5) }, &[t(xfer(1, 1, 2, 1)), t(xfer(2, 1, 2, 1))]);
    let ts: Vec<u64> = r1.outcomes.iter().chain(&r2.outcomes).map(|o| o.timestamp.0).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
    assert_eq!(ts[0], 1_000);
    assert_eq!(l.last_timestamp().0, *ts.last().unwrap());
    // An empty batch changes nothing but the sequence.
    let r = l.apply(BatchContext { seq: 3, timestamp: Timestamp(0) }, &[]);
    assert_eq!(r, BatchResult::default());
    assert_eq!(l.last_seq(), 3);
}

#[test]
fn pending_expires_exactly_at_its_deadline() {
    let mut l = Ledger::new();
    l.apply(BatchContext { seq: 1, timestamp: Timestamp(T0) }, &genesis());
    let r = l.apply(BatchContext { seq: 2, timestamp: Timestamp(T0 + 100) }, &[pending(1, 1, 2, 10, 2)]);
    let deadline = r.outcomes[0].timestamp.0 + 2_000_000_000;
    assert_eq!(l.transfer(TransferId(1)).unwrap().expires_at, Some(Timestamp(deadline)));
    // One nanosecond early: still pending, and it can be posted in part.
    let r = l.apply(BatchContext { seq: 3, timestamp: Timestamp(deadline - 1) }, &[]);
    assert!(r.expired.is_empty());
    assert_eq!(l.account(AccountId(1)).unwrap().debits_pending, 10);
    // At the deadline: expired before the batch's commands, hold released, post refused.
    let r = l.apply(BatchContext { seq: 4, timestamp: Timestamp(deadline) }, &[post(2, 1, None)]);
    assert_eq!(r.expired, vec![Expiry { transfer: TransferId(1), timestamp: Timestamp(deadline) }]);
    assert_eq!(r.outcomes[0].code, ResultCode::PendingTransferExpired);
    assert_eq!(r.outcomes[0].timestamp.0, deadline + 1);
    assert_eq!(l.account(AccountId(1)).unwrap().debits_pending, 0);
    assert_eq!(l.transfer(TransferId(1)).unwrap().pending_state, PendingState::Expired);
    l.check_invariants().unwrap();
}

#[test]
fn balancing_transfers_move_what_the_limit_allows() {
    let mut fx = Fx::new();
    fx.expect(t(xfer(1, 1, 2, 70)), ResultCode::Ok);
    let mut b = xfer(2, 2, 5, 100);
    b.flags.balancing_debit = true;
    let o = fx.expect(t(b.clone()), ResultCode::Ok);
    assert_eq!(o.amount, Some(70));
    assert_eq!(fx.ledger.transfer(TransferId(2)).unwrap().amount, 70);
    b.id = TransferId(3);
    fx.expect(t(b), ResultCode::ExceedsCredits); // nothing left: no zero-amount transfer
    // balancing_credit on the credit side's limit: account 8 may take credits up to debits + 40.
    let mut c = xfer(4, 1, 8, 100);
    c.flags.balancing_credit = true;
    assert_eq!(fx.expect(t(c), ResultCode::Ok).amount, Some(40));
}

#[test]
fn entries_check_limits_after_aggregation_and_support_many_assets() {
    let mut fx = Fx::new();
    // Account 2 (wallet, no overdraft) is debited 10 and credited 10 in the same entry: fine.
    fx.expect(
        entry(1, &[(2, Side::Debit, 10), (1, Side::Debit, 5), (2, Side::Credit, 10), (5, Side::Credit, 5)]),
        ResultCode::Ok,
    );
    // Multi-asset: XAU 1→5 and INR 6→7, each balanced.
    fx.expect(
        entry(2, &[(1, Side::Debit, 3), (5, Side::Credit, 3), (6, Side::Debit, 9), (7, Side::Credit, 9)]),
        ResultCode::Ok,
    );
    // Balanced overall but not per asset.
    fx.expect(entry(3, &[(1, Side::Debit, 3), (7, Side::Credit, 3)]), ResultCode::EntryUnbalanced);
    let tb = fx.ledger.trial_balance();
    for (_, d, c) in &tb.totals {
        assert_eq!(d, c);
    }
    assert_eq!(tb.rows.len(), 8);
    assert!(fx.ledger.entry(TransferId(1)).is_some());
    assert_eq!(fx.ledger.transfer_count(), 2);
}

#[test]
fn history_serves_balances_as_of_and_statements() {
    let mut fx = Fx::new();
    let created = fx.ledger.account(AccountId(2)).unwrap().timestamp;
    let o1 = fx.one(t(xfer(1, 1, 2, 50)));
    let seq1 = fx.seq;
    let o2 = fx.one(pending(2, 2, 5, 20, 1));
    fx.advance(2);
    let r = fx.batch(&[]); // the pending expires
    assert_eq!(r.expired.len(), 1);
    let exp_ts = r.expired[0].timestamp;
    let a = AccountId(2);
    assert_eq!(fx.ledger.balance_as_of(a, AsOf::Timestamp(Timestamp(created.0 - 1))), None);
    let b = fx.ledger.balance_as_of(a, AsOf::Timestamp(created)).unwrap();
    assert_eq!((b.credits_posted, b.timestamp), (0, created));
    let b = fx.ledger.balance_as_of(a, AsOf::Timestamp(o1.timestamp)).unwrap();
    assert_eq!((b.credits_posted, b.debits_pending), (50, 0));
    let b = fx.ledger.balance_as_of(a, AsOf::Sequence(seq1 + 1)).unwrap();
    assert_eq!((b.credits_posted, b.debits_pending, b.timestamp), (50, 20, o2.timestamp));
    let b = fx.ledger.balance_as_of(a, AsOf::Timestamp(exp_ts)).unwrap();
    assert_eq!(b.debits_pending, 0);
    let s = fx.ledger.statement(a, Timestamp(0), Timestamp(u64::MAX));
    let ids: Vec<u128> = s.iter().map(|l| l.transfer.0).collect();
    assert_eq!(ids, [1, 2, 2]);
    assert_eq!(fx.ledger.statement(a, o2.timestamp, o2.timestamp).len(), 1);
    assert_eq!(fx.ledger.balance_as_of(AccountId(3), AsOf::Sequence(99)), None, "no history kept");
}

#[test]
fn getters_report_the_state() {
    let fx = Fx::new();
    let l = &fx.ledger;
    assert_eq!(l.asset_by_code("XAU").unwrap().id, AssetId(1));
    assert_eq!(l.asset(AssetId(2)).unwrap().scale, 2);
    assert_eq!(l.assets().len(), 2);
    assert_eq!(l.account_count(), 8);
    let ids: Vec<u128> = l.accounts().iter().map(|a| a.id.0).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
}

// =============================================================================================
// Decoder smoke: random and mutated bytes never panic.

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn decoders_survive_random_and_mutated_bytes() {
    let mut fx = Fx::new();
    run_every_code_scenario(&mut fx);
    let mut snap = Vec::new();
    fx.ledger.encode_snapshot(&mut snap);
    assert_eq!(Ledger::decode_snapshot(&snap).unwrap().digest(), fx.ledger.digest());
    let mut result = Vec::new();
    encode_batch_result(&fx.batch(&[pending(900, 1, 2, 1, 0), t(xfer(0, 1, 2, 1))]), &mut result);
    let mut cmd = Vec::new();
    encode_command(&entry(901, &[(1, Side::Debit, 5), (2, Side::Credit, 5)]), &mut cmd);

    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rejected = 0;
    for round in 0..3000 {
        // Random bytes.
        let len = (xorshift(&mut x) % 200) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut x) as u8).collect();
        let _ = decode_command(&bytes);
        let _ = decode_batch_result(&bytes);
        let _ = Ledger::decode_snapshot(&bytes);
        // Mutations of valid encodings: flips, truncations, overwrites.
        for valid in [&snap, &result, &cmd] {
            let mut m = valid.clone();
            match round % 3 {
                0 => {
                    let i = (xorshift(&mut x) as usize) % m.len();
                    m[i] ^= 1 << (xorshift(&mut x) % 8);
                }
                1 => m.truncate((xorshift(&mut x) as usize) % m.len()),
                _ => {
                    let i = (xorshift(&mut x) as usize) % m.len();
                    m[i] = xorshift(&mut x) as u8;
                }
            }
            let _ = decode_command(&m);
            let _ = decode_batch_result(&m);
            if Ledger::decode_snapshot(&m).is_err() {
                rejected += 1;
            }
        }
    }
    assert!(rejected > 2000, "most snapshot mutations must be rejected, only {rejected} were");
}

#[test]
fn snapshot_bit_flips_are_rejected_or_change_the_state() {
    let mut fx = Fx::new();
    run_every_code_scenario(&mut fx);
    let mut snap = Vec::new();
    fx.ledger.encode_snapshot(&mut snap);
    let digest = fx.ledger.digest();
    // Every 7th bit keeps the debug run short; the flips land in every field kind.
    for bit in (0..snap.len() * 8).step_by(7) {
        let mut m = snap.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        if let Ok(l) = Ledger::decode_snapshot(&m) {
            assert_ne!(l.digest(), digest, "flip of bit {bit} decoded to the same state");
        }
    }
}

#[test]
fn pages_of_accounts_and_movements_cover_everything_once() {
    let mut l = Ledger::new();
    let r = l.apply(BatchContext { seq: 1, timestamp: Timestamp(T0) }, &genesis());
    assert!(r.outcomes.iter().all(|o| o.code.is_ok()));
    let accounts: Vec<AccountId> = l.accounts().iter().map(|a| a.id).collect();
    // Accounts, 2 per page.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = l.accounts_page(after, 2, None, None);
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|a| a.id));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, accounts);
    // Movements: some transfers between the first two accounts of one asset, then page them.
    let a = l.accounts()[0].clone();
    let b = l.accounts().iter().find(|x| x.asset == a.asset && x.id != a.id).map(|x| x.id).unwrap();
    let cmds: Vec<Command> = (0..7u128)
        .map(|i| {
            t(CreateTransfer {
                id: TransferId(900 + i),
                debit_account: a.id,
                credit_account: b,
                amount: 1,
                asset: a.asset,
                flags: TransferFlags::default(),
                timeout_secs: 0,
                metadata: Metadata::new(),
            })
        })
        .collect();
    let r = l.apply(BatchContext { seq: 2, timestamp: Timestamp(T0 + 1_000) }, &cmds);
    let accepted: Vec<TransferId> = r
        .outcomes
        .iter()
        .zip(&cmds)
        .filter(|(o, _)| o.code.is_ok())
        .map(|(_, c)| match c {
            Command::CreateTransfer(x) => x.id,
            _ => unreachable!(),
        })
        .collect();
    let filter = MovementFilter { account: Some(b), ..MovementFilter::default() };
    let mut listed = Vec::new();
    let mut from = 0;
    loop {
        // A tiny scan budget forces pages that end early: the cursor still makes progress.
        let (page, next) = l.movements_page(from, 3, 4, &filter);
        for m in page {
            match m {
                Movement::Transfer(t) => listed.push(t.id),
                Movement::Entry(_) => panic!("entries do not touch account b here"),
            }
        }
        match next {
            Some(n) => {
                assert!(n > from, "the cursor advances");
                from = n;
            }
            None => break,
        }
    }
    assert_eq!(listed, accepted);
}

#[test]
fn same_encoding_agrees_with_the_digests_across_many_chunks() {
    // The audit compares its replayed state with the live one by streaming both encodings side
    // by side. Equal states (a snapshot's decoding) compare equal; a state one transfer apart
    // (longer or shorter encoding) or one amount apart (same length) does not.
    let build = |rounds: u64, last_amount: u128| {
        let mut fx = Fx::new();
        let mut id = 10_000;
        for round in 0..rounds {
            let cmds: Vec<Command> = (0..500)
                .map(|k| {
                    id += 1;
                    let amount = if round + 1 == rounds && k == 499 { last_amount } else { 1 + k as u128 };
                    let d = u128::from((k + round) % 2);
                    t(xfer(id, 1 + d, 2 - d, amount))
                })
                .collect();
            fx.batch(&cmds);
        }
        fx.ledger
    };
    let a = build(6, 7);
    let mut snap = Vec::new();
    a.encode_snapshot(&mut snap);
    assert!(snap.len() > 4 * 64 * 1024, "the encoding spans several chunks ({} bytes)", snap.len());
    let copy = Ledger::decode_snapshot(&snap).unwrap();
    assert!(a.same_encoding(&copy) && copy.same_encoding(&a));
    let longer = build(7, 7);
    assert!(!a.same_encoding(&longer) && !longer.same_encoding(&a));
    let other_amount = build(6, 8);
    assert_ne!(a.digest(), other_amount.digest());
    assert!(!a.same_encoding(&other_amount) && !other_amount.same_encoding(&a));
}

#[test]
fn digest_is_sha256_of_the_snapshot_encoding_when_streamed() {
    // The digest hashes the encoding in chunks instead of buffering it: a state whose encoding
    // spans many chunks (transfers, failures, history lines) must hash to SHA-256 of the whole.
    use sha2::Digest;
    let mut fx = Fx::new();
    let mut id = 10_000;
    for round in 0..6 {
        let cmds: Vec<Command> = (0..500)
            .map(|k| {
                id += 1;
                let (d, c) = if (k + round) % 2 == 0 { (1, 2) } else { (2, 1) };
                t(xfer(id, d, c, 1 + k as u128))
            })
            .collect();
        fx.batch(&cmds);
    }
    let mut snap = Vec::new();
    fx.ledger.encode_snapshot(&mut snap);
    assert!(snap.len() > 4 * 64 * 1024, "the encoding spans several chunks ({} bytes)", snap.len());
    assert_eq!(fx.ledger.digest(), <[u8; 32]>::from(sha2::Sha256::digest(&snap)));
}
