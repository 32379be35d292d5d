//! Canonical snapshot encoding of the whole state (layout: docs/ledger-codec.md, "Snapshot
//! encoding"). Every map is written in ascending key order, so equal states give equal bytes; the
//! decoder demands strictly ascending keys, so a snapshot has exactly one encoding, and then runs
//! every invariant check.

use super::{AccountSlot, AssetSlot, Body, Entry, Ledger, Record, StatementLine, Totals, TransferSlot};
use crate::codec::{
    DecodeError, Reader, put_len, put_limit, put_metadata, put_option_u128, put_str, put_u8, put_u16, put_u32, put_u64,
    put_u128,
};
use crate::command::Posting;
use crate::outcome::ResultCode;
use crate::state::BalanceAt;
use crate::types::{
    Account, AccountId, Asset, AssetId, MAX_ASSET_CODE_BYTES, MAX_POSTINGS_PER_ENTRY, PendingState, Timestamp,
    Transfer, TransferId, TransferKind,
};

/// `AURUMLS1`: Aurum ledger snapshot, format 1.
pub(crate) const SNAPSHOT_MAGIC: [u8; 8] = *b"AURUMLS1";

/// Fewest bytes of each item, for capping counts by the remaining input.
const MIN_ASSET_BYTES: usize = 4 + 4 + 1 + 8 + 64;
const MIN_RECORD_BYTES: usize = 16 + 2 + 8 + 1;
const MIN_ACCOUNT_BYTES: usize = 16 + 4 + 1 + 1 + 1 + 4 + 64 + 1 + 8 + 8 + 4;
const HISTORY_LINE_BYTES: usize = 8 + 8 + 16 + 64;
const MIN_TRANSFER_BYTES: usize = 16 + MIN_RECORD_BYTES + 1;
const EXPIRY_KEY_BYTES: usize = 8 + 16;

fn put_record(out: &mut Vec<u8>, r: &Record) {
    put_u128(out, r.fingerprint);
    put_u16(out, r.code.code());
    put_u64(out, r.timestamp.0);
    put_option_u128(out, r.amount);
}

fn sorted<'a, K: Ord + Copy + 'a, V>(m: impl Iterator<Item = (&'a K, &'a V)>) -> Vec<(K, &'a V)> {
    let mut v: Vec<(K, &V)> = m.map(|(k, v)| (*k, v)).collect();
    v.sort_unstable_by_key(|e| e.0);
    v
}

/// How many encoded bytes [`encode_chunked`] buffers before handing them to its sink.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

pub(crate) fn encode(l: &Ledger, out: &mut Vec<u8>) {
    // Into one buffer: the sink never drains it.
    encode_chunked(l, out, &mut |_| {});
}

/// The canonical encoding, produced into `out` and handed to `sink` whenever `out` holds at least
/// [`CHUNK_BYTES`] (at item boundaries); what is left in `out` at the end is the tail. A sink that
/// consumes and clears `out` (the digest: SHA-256 of the stream) never holds the whole encoding,
/// which for a big ledger is hundreds of MB whose page faults and copies cost more than the
/// hashing. A sink that leaves `out` alone gets the whole encoding in it.
pub(crate) fn encode_chunked(l: &Ledger, out: &mut Vec<u8>, sink: &mut dyn FnMut(&mut Vec<u8>)) {
    let mut boundary = |out: &mut Vec<u8>| {
        if out.len() >= CHUNK_BYTES {
            sink(out);
        }
    };
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    put_u64(out, l.last_seq);
    put_u64(out, l.last_timestamp.0);

    let assets = sorted(l.assets.iter());
    put_len(out, assets.len());
    for (id, s) in assets {
        put_u32(out, id.0);
        put_str(out, &s.asset.code);
        put_u8(out, s.asset.scale);
        put_u64(out, s.asset.timestamp.0);
        let t = s.totals;
        for v in [t.debits_pending, t.debits_posted, t.credits_pending, t.credits_posted] {
            put_u128(out, v);
        }
    }
    let records = sorted(l.asset_records.iter());
    put_len(out, records.len());
    for (id, r) in records {
        put_u32(out, id.0);
        put_record(out, r);
    }

    let accounts = sorted(l.accounts.iter());
    put_len(out, accounts.len());
    for (id, s) in accounts {
        let a = &s.account;
        put_u128(out, id.0);
        put_u32(out, a.asset.0);
        put_u8(out, a.kind as u8);
        put_limit(out, a.limit);
        put_u8(out, u8::from(a.history));
        put_metadata(out, &a.metadata);
        for v in [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted] {
            put_u128(out, v);
        }
        put_u8(out, u8::from(a.closed));
        put_u64(out, a.timestamp.0);
        put_u64(out, s.created_seq);
        put_len(out, s.history.len());
        for line in &s.history {
            put_u64(out, line.timestamp.0);
            put_u64(out, line.seq);
            put_u128(out, line.transfer.0);
            let b = line.after;
            for v in [b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted] {
                put_u128(out, v);
            }
            boundary(out);
        }
        boundary(out);
    }
    let records = sorted(l.account_records.iter());
    put_len(out, records.len());
    for (id, r) in records {
        put_u128(out, id.0);
        put_record(out, r);
    }

    // In the order the ids were first used (their records' timestamps are unique and ascend in
    // it): the order lists page in, which a restart from the snapshot must keep.
    let mut transfers: Vec<(TransferId, &TransferSlot)> = l.transfers.iter().map(|(k, v)| (*k, v)).collect();
    transfers.sort_unstable_by_key(|e| e.1.timestamp());
    put_len(out, transfers.len());
    for (id, s) in transfers {
        put_u128(out, id.0);
        put_record(out, &s.record());
        match &s.body {
            Body::Failed { .. } => put_u8(out, 0),
            Body::Transfer(t) => {
                put_u8(out, 1);
                put_u128(out, t.debit_account.0);
                put_u128(out, t.credit_account.0);
                put_u128(out, t.amount);
                put_u32(out, t.asset.0);
                put_u8(out, t.kind as u8);
                put_option_u128(out, t.pending_id.map(|p| p.0));
                match t.expires_at {
                    None => put_u8(out, 0),
                    Some(at) => {
                        put_u8(out, 1);
                        put_u64(out, at.0);
                    }
                }
                put_u8(out, t.pending_state as u8);
                put_metadata(out, &t.metadata);
            }
            Body::Entry(e) => {
                put_u8(out, 2);
                put_len(out, e.postings.len());
                for p in &e.postings {
                    put_u128(out, p.account.0);
                    put_u8(out, p.side as u8);
                    put_u128(out, p.amount);
                }
                put_metadata(out, &e.metadata);
            }
        }
        boundary(out);
    }

    put_len(out, l.expiries.len());
    for (at, id) in &l.expiries {
        put_u64(out, at.0);
        put_u128(out, id.0);
    }
}

fn record(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
    let fingerprint = r.u128("record fingerprint")?;
    let code = r.u16("record code")?;
    let code = ResultCode::from_code(code).ok_or_else(|| r.err(&format!("unknown result code {code}")))?;
    let timestamp = Timestamp(r.u64("record timestamp")?);
    let amount = r.option_u128("record amount")?;
    Ok(Record { fingerprint, code, timestamp, amount })
}

/// Keys must strictly ascend: the one canonical order.
fn ascending<K: Ord + Copy + std::fmt::Debug>(
    r: &Reader<'_>,
    prev: &mut Option<K>,
    k: K,
    what: &str,
) -> Result<(), DecodeError> {
    if prev.is_some_and(|p| p >= k) {
        return Err(r.err(&format!("{what} {k:?} out of order")));
    }
    *prev = Some(k);
    Ok(())
}

fn amounts4(r: &mut Reader<'_>) -> Result<[u128; 4], DecodeError> {
    Ok([r.u128("debits pending")?, r.u128("debits posted")?, r.u128("credits pending")?, r.u128("credits posted")?])
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Ledger, DecodeError> {
    let mut r = Reader::new(bytes);
    if r.bytes(8, "magic")? != SNAPSHOT_MAGIC {
        return Err(DecodeError("not an Aurum ledger snapshot (bad magic)".to_string()));
    }
    let mut l = Ledger::new();
    l.last_seq = r.u64("last seq")?;
    l.last_timestamp = Timestamp(r.u64("last timestamp")?);

    let n = r.count("asset count", usize::MAX, MIN_ASSET_BYTES)?;
    let mut prev = None;
    for _ in 0..n {
        let id = AssetId(r.u32("asset id")?);
        ascending(&r, &mut prev, id, "asset")?;
        let code = r.string("asset code", MAX_ASSET_CODE_BYTES)?;
        let scale = r.u8("scale")?;
        let timestamp = Timestamp(r.u64("asset timestamp")?);
        let [debits_pending, debits_posted, credits_pending, credits_posted] = amounts4(&mut r)?;
        if l.asset_codes.insert(code.clone(), id).is_some() {
            return Err(r.err("duplicate asset code"));
        }
        let totals = Totals { debits_pending, debits_posted, credits_pending, credits_posted };
        l.assets.insert(id, AssetSlot { asset: Asset { id, code, scale, timestamp }, totals });
    }
    let n = r.count("asset record count", usize::MAX, 4 + MIN_RECORD_BYTES)?;
    let mut prev = None;
    for _ in 0..n {
        let id = AssetId(r.u32("asset id")?);
        ascending(&r, &mut prev, id, "asset record")?;
        let rec = record(&mut r)?;
        l.asset_records.insert(id, rec);
    }

    let n = r.count("account count", usize::MAX, MIN_ACCOUNT_BYTES)?;
    let mut prev = None;
    for _ in 0..n {
        let id = AccountId(r.u128("account id")?);
        ascending(&r, &mut prev, id, "account")?;
        let asset = AssetId(r.u32("asset id")?);
        let kind = r.kind()?;
        let limit = r.limit()?;
        let history = r.bool("history flag")?;
        let metadata = r.metadata()?;
        let [debits_pending, debits_posted, credits_pending, credits_posted] = amounts4(&mut r)?;
        let closed = r.bool("closed flag")?;
        let timestamp = Timestamp(r.u64("account timestamp")?);
        let created_seq = r.u64("account seq")?;
        let lines = r.count("history length", usize::MAX, HISTORY_LINE_BYTES)?;
        let mut hist = Vec::with_capacity(lines);
        for _ in 0..lines {
            let t = Timestamp(r.u64("history timestamp")?);
            let seq = r.u64("history seq")?;
            let transfer = TransferId(r.u128("history transfer")?);
            let [dp, dpo, cp, cpo] = amounts4(&mut r)?;
            let after = BalanceAt {
                debits_pending: dp,
                debits_posted: dpo,
                credits_pending: cp,
                credits_posted: cpo,
                timestamp: t,
            };
            hist.push(StatementLine { timestamp: t, seq, transfer, after });
        }
        let account = Account {
            id,
            asset,
            kind,
            limit,
            history,
            metadata,
            debits_pending,
            debits_posted,
            credits_pending,
            credits_posted,
            closed,
            timestamp,
        };
        let asset_pos = l.assets.position(&asset).ok_or_else(|| r.err(&format!("account {id:?} of unknown asset")))?;
        l.accounts.insert(id, AccountSlot { account, asset_pos, created_seq, history: hist });
    }
    let n = r.count("account record count", usize::MAX, 16 + MIN_RECORD_BYTES)?;
    let mut prev = None;
    for _ in 0..n {
        let id = AccountId(r.u128("account id")?);
        ascending(&r, &mut prev, id, "account record")?;
        let rec = record(&mut r)?;
        l.account_records.insert(id, rec);
    }

    let n = r.count("transfer count", usize::MAX, MIN_TRANSFER_BYTES)?;
    let mut prev = None;
    for _ in 0..n {
        let id = TransferId(r.u128("transfer id")?);
        let rec = record(&mut r)?;
        ascending(&r, &mut prev, rec.timestamp, "transfer record timestamp")?;
        if l.transfers.contains_key(&id) {
            return Err(r.err(&format!("transfer {id:?} appears twice")));
        }
        let body = match r.u8("transfer body tag")? {
            0 => Body::Failed { code: rec.code, timestamp: rec.timestamp },
            1 => {
                let debit_account = AccountId(r.u128("debit account")?);
                let credit_account = AccountId(r.u128("credit account")?);
                let amount = r.u128("amount")?;
                let asset = AssetId(r.u32("asset")?);
                let kind = match r.u8("transfer kind")? {
                    1 => TransferKind::Posted,
                    2 => TransferKind::Pending,
                    3 => TransferKind::PostPending,
                    4 => TransferKind::VoidPending,
                    v => return Err(r.err(&format!("unknown transfer kind {v}"))),
                };
                let pending_id = r.option_u128("pending id")?.map(TransferId);
                let expires_at = match r.u8("expires at tag")? {
                    0 => None,
                    1 => Some(Timestamp(r.u64("expires at")?)),
                    v => return Err(r.err(&format!("expires at: option tag {v} is not 0 or 1"))),
                };
                let pending_state = match r.u8("pending state")? {
                    0 => PendingState::None,
                    1 => PendingState::Pending,
                    2 => PendingState::Posted,
                    3 => PendingState::Voided,
                    4 => PendingState::Expired,
                    v => return Err(r.err(&format!("unknown pending state {v}"))),
                };
                let metadata = r.metadata()?;
                Body::Transfer(Transfer {
                    id,
                    debit_account,
                    credit_account,
                    amount,
                    asset,
                    kind,
                    pending_id,
                    expires_at,
                    pending_state,
                    metadata,
                    timestamp: rec.timestamp,
                })
            }
            2 => {
                let k = r.count("posting count", MAX_POSTINGS_PER_ENTRY, 33)?;
                let mut postings = Vec::with_capacity(k);
                for _ in 0..k {
                    let account = AccountId(r.u128("posting account")?);
                    let side = r.side()?;
                    let amount = r.u128("posting amount")?;
                    postings.push(Posting { account, side, amount });
                }
                let metadata = r.metadata()?;
                Body::Entry(Entry { id, postings, metadata, timestamp: rec.timestamp })
            }
            v => return Err(r.err(&format!("unknown transfer body tag {v}"))),
        };
        if !matches!(body, Body::Failed { .. }) {
            l.accepted += 1;
        }
        let slot = TransferSlot { fingerprint: rec.fingerprint, body };
        // The slot keeps only what the record does not repeat: the encoded record must be the
        // one its body implies (a failure's code not ok, an accepted transfer's amount its own).
        if slot.record() != rec {
            return Err(r.err(&format!("transfer {id:?}: record {rec:?} does not match its body")));
        }
        l.transfers.insert(id, slot);
    }

    let n = r.count("expiry count", usize::MAX, EXPIRY_KEY_BYTES)?;
    let mut prev = None;
    for _ in 0..n {
        let at = Timestamp(r.u64("expires at")?);
        let id = TransferId(r.u128("pending transfer")?);
        ascending(&r, &mut prev, (at, id), "expiry")?;
        l.expiries.insert((at, id));
    }
    if r.remaining() != 0 {
        return Err(r.err("trailing bytes after the snapshot"));
    }
    l.check_invariants().map_err(|e| DecodeError(format!("snapshot is inconsistent: {e}")))?;
    Ok(l)
}
