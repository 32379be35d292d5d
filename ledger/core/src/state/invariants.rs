//! Every invariant of the state, checked from scratch (O(state)). Property tests run it after
//! every batch; snapshot decoding runs it so that a snapshot can never smuggle in a broken state.

use std::collections::BTreeSet;

use super::apply::{asset_code_valid, limit_valid, within_limit};
use super::{Body, Ledger, Totals};
use crate::hash::FastMap;
use crate::outcome::ResultCode;
use crate::state::InvariantViolation;
use crate::types::{AccountId, Amount, AssetId, PendingState, Timestamp, TransferId, TransferKind};

fn fail<T>(msg: String) -> Result<T, InvariantViolation> {
    Err(InvariantViolation(msg))
}

fn add(a: Amount, b: Amount, what: &str) -> Result<Amount, InvariantViolation> {
    a.checked_add(b).ok_or_else(|| InvariantViolation(format!("{what} overflows")))
}

/// The cheap invariant, O(assets): for every asset, Σ debits = Σ credits, posted and pending, in
/// the running totals that `apply` maintains. Meant for every block of a replay; [`check`] does
/// the full O(state) verification.
pub(crate) fn check_balances(l: &Ledger) -> Result<(), InvariantViolation> {
    for (id, s) in l.assets.iter() {
        let t = s.totals;
        if t.debits_posted != t.credits_posted || t.debits_pending != t.credits_pending {
            return fail(format!("asset {id:?}: debits ≠ credits ({t:?})"));
        }
    }
    Ok(())
}

pub(crate) fn check(l: &Ledger) -> Result<(), InvariantViolation> {
    let latest = l.last_timestamp;
    // The arenas' id → position maps.
    if !l.assets.index_consistent() || !l.accounts.index_consistent() {
        return fail("asset or account index does not match its arena".to_string());
    }
    // Assets.
    if l.asset_codes.len() != l.assets.len() {
        return fail(format!("{} asset codes for {} assets", l.asset_codes.len(), l.assets.len()));
    }
    for (id, s) in l.assets.iter() {
        let a = &s.asset;
        if a.id != *id || id.0 == 0 || !asset_code_valid(&a.code) || a.scale > crate::types::MAX_SCALE {
            return fail(format!("asset {id:?} malformed"));
        }
        if l.asset_codes.get(&a.code) != Some(id) {
            return fail(format!("asset {id:?} missing from the code index"));
        }
        match l.asset_records.get(id) {
            Some(r) if r.code == ResultCode::Ok && r.timestamp == a.timestamp => {}
            _ => return fail(format!("asset {id:?} has no matching ok record")),
        }
        let t = s.totals;
        if t.debits_posted != t.credits_posted || t.debits_pending != t.credits_pending {
            return fail(format!("asset {id:?}: debits ≠ credits ({t:?})"));
        }
        if a.timestamp > latest {
            return fail(format!("asset {id:?} from the future"));
        }
    }
    for (id, r) in &l.asset_records {
        if r.code.is_ok() != l.assets.contains_key(id) || r.timestamp > latest || id.0 == 0 {
            return fail(format!("asset record {id:?} inconsistent"));
        }
    }

    // Accounts, their limits and history; per-asset sums.
    let mut sums: FastMap<AssetId, Totals> = FastMap::default();
    for (id, s) in l.accounts.iter() {
        let a = &s.account;
        if a.id != *id || id.0 == 0 || l.assets.position(&a.asset) != Some(s.asset_pos) || !limit_valid(a.kind, a.limit)
        {
            return fail(format!("account {id:?} malformed"));
        }
        if !crate::state::apply::metadata_valid(&a.metadata) {
            return fail(format!("account {id:?} metadata invalid"));
        }
        match l.account_records.get(id) {
            Some(r) if r.code == ResultCode::Ok && r.timestamp == a.timestamp => {}
            _ => return fail(format!("account {id:?} has no matching ok record")),
        }
        if !within_limit(a) {
            return fail(format!("account {id:?} beyond its limit"));
        }
        if a.closed && (a.debits_pending != 0 || a.credits_pending != 0 || a.debits_posted != a.credits_posted) {
            return fail(format!("closed account {id:?} has a balance"));
        }
        if s.created_seq > l.last_seq || a.timestamp > latest {
            return fail(format!("account {id:?} from the future"));
        }
        if !a.history && !s.history.is_empty() {
            return fail(format!("account {id:?} has history without the flag"));
        }
        let mut prev = (a.timestamp, s.created_seq);
        for line in &s.history {
            if line.timestamp <= prev.0
                || line.seq < prev.1
                || line.after.timestamp != line.timestamp
                || line.seq > l.last_seq
            {
                return fail(format!("account {id:?} history out of order"));
            }
            prev = (line.timestamp, line.seq);
        }
        if let Some(last) = s.history.last() {
            let b = last.after;
            if (b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted)
                != (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
            {
                return fail(format!("account {id:?} history does not end at its balance"));
            }
        } else if a.history && (a.debits_pending | a.debits_posted | a.credits_pending | a.credits_posted) != 0 {
            return fail(format!("account {id:?} has balances but no history"));
        }
        let t = sums.entry(a.asset).or_default();
        t.debits_pending = add(t.debits_pending, a.debits_pending, "Σ debits pending")?;
        t.debits_posted = add(t.debits_posted, a.debits_posted, "Σ debits posted")?;
        t.credits_pending = add(t.credits_pending, a.credits_pending, "Σ credits pending")?;
        t.credits_posted = add(t.credits_posted, a.credits_posted, "Σ credits posted")?;
    }
    for (id, s) in l.assets.iter() {
        let sum = sums.get(id).copied().unwrap_or_default();
        if sum != s.totals {
            return fail(format!("asset {id:?}: accounts sum to {sum:?}, totals say {:?}", s.totals));
        }
    }
    for (id, r) in &l.account_records {
        if r.code.is_ok() != l.accounts.contains_key(id) || r.timestamp > latest || id.0 == 0 {
            return fail(format!("account record {id:?} inconsistent"));
        }
    }

    // Transfers: bodies agree with records; live pendings explain every pending total.
    let mut pending: FastMap<AccountId, (Amount, Amount)> = FastMap::default();
    let mut expiries: BTreeSet<(Timestamp, TransferId)> = BTreeSet::new();
    let mut accepted = 0u64;
    let account_of = |id: AccountId| l.accounts.get(&id).map(|s| &s.account);
    if !l.transfers.index_consistent() {
        return fail("transfer index does not match its arena".to_string());
    }
    let mut previous: Option<Timestamp> = None;
    for (id, s) in l.transfers.iter() {
        // An accepted slot's record is derived from its body (`TransferSlot::record`), so what
        // can disagree is the body's own id and a failure's code.
        let timestamp = s.timestamp();
        if id.0 == 0 || timestamp > latest {
            return fail(format!("transfer slot {id:?} malformed"));
        }
        // Ids are stored in the order first used: time-named cursors depend on it.
        if previous.is_some_and(|p| p >= timestamp) {
            return fail(format!("transfer slot {id:?} is not later than the one before it"));
        }
        previous = Some(timestamp);
        match &s.body {
            Body::Failed { code, .. } => {
                if code.is_ok() {
                    return fail(format!("failed transfer {id:?} has an ok record"));
                }
            }
            Body::Entry(e) => {
                accepted += 1;
                if e.id != *id {
                    return fail(format!("entry {id:?} inconsistent with its record"));
                }
                if e.postings.len() < 2 || e.postings.iter().any(|p| p.amount == 0 || account_of(p.account).is_none()) {
                    return fail(format!("entry {id:?} malformed"));
                }
            }
            Body::Transfer(t) => {
                accepted += 1;
                if t.id != *id {
                    return fail(format!("transfer {id:?} inconsistent with its record"));
                }
                let (Some(d), Some(c)) = (account_of(t.debit_account), account_of(t.credit_account)) else {
                    return fail(format!("transfer {id:?} refers to a missing account"));
                };
                if t.amount == 0 || d.asset != t.asset || c.asset != t.asset || t.debit_account == t.credit_account {
                    return fail(format!("transfer {id:?} malformed"));
                }
                let shape_ok = match t.kind {
                    TransferKind::Posted => {
                        t.pending_id.is_none() && t.expires_at.is_none() && t.pending_state == PendingState::None
                    }
                    TransferKind::Pending => t.pending_id.is_none() && t.pending_state != PendingState::None,
                    TransferKind::PostPending | TransferKind::VoidPending => {
                        t.expires_at.is_none()
                            && t.pending_state == PendingState::None
                            && t.pending_id.and_then(|p| l.transfer(p)).is_some_and(|p| {
                                p.kind == TransferKind::Pending
                                    && p.pending_state
                                        == if t.kind == TransferKind::PostPending {
                                            PendingState::Posted
                                        } else {
                                            PendingState::Voided
                                        }
                            })
                    }
                };
                if !shape_ok {
                    return fail(format!("transfer {id:?} has an inconsistent kind/state"));
                }
                if t.kind == TransferKind::Pending && t.pending_state == PendingState::Pending {
                    let e = pending.entry(t.debit_account).or_default();
                    e.0 = add(e.0, t.amount, "pending debits")?;
                    let e = pending.entry(t.credit_account).or_default();
                    e.1 = add(e.1, t.amount, "pending credits")?;
                    if let Some(at) = t.expires_at {
                        expiries.insert((at, *id));
                    }
                }
            }
        }
    }
    if accepted != l.accepted {
        return fail(format!("{accepted} accepted transfers, counter says {}", l.accepted));
    }
    for (id, s) in l.accounts.iter() {
        let (d, c) = pending.get(id).copied().unwrap_or_default();
        if (d, c) != (s.account.debits_pending, s.account.credits_pending) {
            return fail(format!("account {id:?}: live pending transfers sum to ({d}, {c}), balances say otherwise"));
        }
    }
    if expiries != l.expiries {
        return fail("the expiry index does not match the live pending transfers".to_string());
    }
    Ok(())
}
