//! The ledger state and its queries. The state machine itself is in `state/apply.rs`, the
//! invariant checks in `state/invariants.rs`, the snapshot encoding in `state/snapshot.rs`.
//!
//! Codemap of the state (maps and arenas are keyed by client ids; iteration order never matters
//! because every encoding and every query that returns many items sorts first; `assets`,
//! `accounts` and `transfers` are [`Arena`]s: slots plus an id → position map):
//! - `assets` / `asset_codes` / `asset_records`: assets with per-asset running totals, the code
//!   index, and one idempotency record per asset id ever submitted.
//! - `accounts` / `account_records`: accounts (with their history lines), and one idempotency
//!   record per account id ever submitted.
//! - `transfers`: one slot per transfer/entry id ever submitted: its idempotency record and, if it
//!   was accepted, the transfer or entry.
//! - `expiries`: the live pending transfers that have a timeout, ordered by (expires_at, id).

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::DecodeError;
use crate::command::{Command, Posting};
use crate::hash::FastMap;
use crate::outcome::{BatchResult, ResultCode};
use crate::types::{Account, AccountId, Amount, Asset, AssetId, Metadata, Timestamp, Transfer, TransferId};

mod apply;
mod compare;
mod invariants;
mod snapshot;

/// Where a batch sits in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchContext {
    /// Journal sequence number of the block holding the batch (1 for the first block).
    pub seq: u64,
    /// Proposed batch timestamp (wall clock of the writer). The state machine uses
    /// `max(timestamp, last event timestamp + 1)` as the first event's timestamp, so event
    /// timestamps strictly increase even if the wall clock goes backwards.
    pub timestamp: Timestamp,
}

/// A point in ledger history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// After every event with a timestamp ≤ this.
    Timestamp(Timestamp),
    /// After the block with this sequence number.
    Sequence(u64),
}

/// An account's balances at a point in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceAt {
    /// Debits pending.
    pub debits_pending: Amount,
    /// Debits posted.
    pub debits_posted: Amount,
    /// Credits pending.
    pub credits_pending: Amount,
    /// Credits posted.
    pub credits_posted: Amount,
    /// Timestamp of the last change at or before the point asked for.
    pub timestamp: Timestamp,
}

/// One line of an account statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Event timestamp.
    pub timestamp: Timestamp,
    /// Journal block.
    pub seq: u64,
    /// The transfer, entry, or expired pending transfer.
    pub transfer: TransferId,
    /// Balances after the event.
    pub after: BalanceAt,
}

/// One account's line in a trial balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalanceRow {
    /// Account.
    pub account: AccountId,
    /// Its asset.
    pub asset: AssetId,
    /// Posted debits.
    pub debits_posted: Amount,
    /// Posted credits.
    pub credits_posted: Amount,
}

/// Every account's posted totals, with per-asset sums (which must be equal).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrialBalance {
    /// Accounts in id order.
    pub rows: Vec<TrialBalanceRow>,
    /// Per asset: (Σ debits posted, Σ credits posted).
    pub totals: Vec<(AssetId, Amount, Amount)>,
}

/// An accepted transfer or journal entry, as listed by [`Ledger::movements_page`].
#[derive(Debug, Clone, Copy)]
pub enum Movement<'a> {
    /// A transfer (single-phase, pending, post or void).
    Transfer(&'a Transfer),
    /// A journal entry.
    Entry(&'a Entry),
}

/// Which movements [`Ledger::movements_page`] lists. Every `Some` must match.
#[derive(Debug, Clone, Copy, Default)]
pub struct MovementFilter {
    /// Touching this account (as debit, credit or a posting).
    pub account: Option<AccountId>,
    /// Of this asset (for entries: any posting's account of this asset is not checked — entries
    /// match on `account` only).
    pub asset: Option<AssetId>,
    /// Only transfers of this kind (excludes entries).
    pub kind: Option<crate::types::TransferKind>,
    /// Only entries (excludes transfers).
    pub entries_only: bool,
}

impl MovementFilter {
    fn matches(&self, m: &Movement<'_>) -> bool {
        match m {
            Movement::Transfer(t) => {
                !self.entries_only
                    && self.account.is_none_or(|a| t.debit_account == a || t.credit_account == a)
                    && self.asset.is_none_or(|a| t.asset == a)
                    && self.kind.is_none_or(|k| t.kind == k)
            }
            Movement::Entry(e) => {
                self.kind.is_none()
                    && self.asset.is_none()
                    && self.account.is_none_or(|a| e.postings.iter().any(|p| p.account == a))
            }
        }
    }
}

/// A broken invariant: a bug, never a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger invariant violated: {0}")]
pub struct InvariantViolation(pub String);

/// An accepted journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Identifier (shares the namespace of transfer ids).
    pub id: TransferId,
    /// Postings, as submitted.
    pub postings: Vec<Posting>,
    /// Annotations.
    pub metadata: Metadata,
    /// When it was applied.
    pub timestamp: Timestamp,
}

/// The first outcome of an id, remembered forever for idempotency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// [`crate::codec::fingerprint`] of the command that first used the id.
    pub(crate) fingerprint: u128,
    pub(crate) code: ResultCode,
    pub(crate) timestamp: Timestamp,
    pub(crate) amount: Option<Amount>,
}

/// What a transfer id holds besides its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// The command failed: its outcome is kept.
    Failed { code: ResultCode, timestamp: Timestamp },
    /// An accepted transfer (single-phase, pending, post or void).
    Transfer(Transfer),
    /// An accepted journal entry.
    Entry(Entry),
}

/// One transfer or entry id. Its idempotency [`Record`] is not stored whole: an accepted
/// transfer's outcome is its own timestamp and amount, an entry's its timestamp, so only a
/// failure keeps a code and a timestamp. (A stored record repeated those fields: 240 bytes a
/// slot instead of 192, and the slots are most of a big ledger's memory and of the bytes each new
/// transfer writes.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransferSlot {
    pub(crate) fingerprint: u128,
    pub(crate) body: Body,
}

impl TransferSlot {
    /// The id's first outcome, as a replay returns it.
    pub(crate) fn record(&self) -> Record {
        let fingerprint = self.fingerprint;
        match &self.body {
            Body::Failed { code, timestamp } => {
                Record { fingerprint, code: *code, timestamp: *timestamp, amount: None }
            }
            Body::Transfer(t) => {
                Record { fingerprint, code: ResultCode::Ok, timestamp: t.timestamp, amount: Some(t.amount) }
            }
            Body::Entry(e) => Record { fingerprint, code: ResultCode::Ok, timestamp: e.timestamp, amount: None },
        }
    }

    /// When the id was first used.
    pub(crate) fn timestamp(&self) -> Timestamp {
        match &self.body {
            Body::Failed { timestamp, .. } => *timestamp,
            Body::Transfer(t) => t.timestamp,
            Body::Entry(e) => e.timestamp,
        }
    }
}

/// Slots in an append-only arena plus an id → position map. Used for assets, accounts, and
/// transfer/entry slots.
///
/// Why not a `HashMap<Id, Slot>`:
/// - Transfer slots are large, and growing a table of them rehashes and copies every slot
///   (measured: half the time of a 2M-transfer run went to rehash copies and page faults). The
///   index entries are small; the arena grows by `realloc`, which for large blocks remaps pages
///   instead of copying.
/// - A position is a handle that stays valid (slots are only appended, and removed only newest
///   first by undo): a command looks an account up once to validate it and then mutates it, logs
///   it and reaches its asset through positions, instead of hashing the id again for each step.
///
/// Arena order is insertion order and never influences an outcome or an encoding (snapshots sort
/// by id).
#[derive(Debug, Clone)]
pub(crate) struct Arena<K, V> {
    slots: Vec<(K, V)>,
    index: FastMap<K, usize>,
}

impl<K, V> Default for Arena<K, V> {
    fn default() -> Self {
        Arena { slots: Vec::new(), index: FastMap::default() }
    }
}

impl<K: Copy + Eq + std::hash::Hash + std::fmt::Debug, V> Arena<K, V> {
    /// An empty arena with room for `n` slots (no reallocation or rehash until then).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Arena { slots: Vec::with_capacity(n), index: FastMap::with_capacity_and_hasher(n, Default::default()) }
    }

    /// The position of `id`'s slot.
    #[inline]
    pub(crate) fn position(&self, id: &K) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The slot at a position from [`Arena::position`] or [`Arena::insert`].
    #[inline]
    pub(crate) fn at(&self, pos: usize) -> &V {
        &self.slots[pos].1
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, pos: usize) -> &mut V {
        &mut self.slots[pos].1
    }

    pub(crate) fn get(&self, id: &K) -> Option<&V> {
        self.position(id).map(|i| self.at(i))
    }

    pub(crate) fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        self.position(id).map(|i| self.at_mut(i))
    }

    pub(crate) fn contains_key(&self, id: &K) -> bool {
        self.index.contains_key(id)
    }

    /// Add a slot for a new id; returns its position.
    pub(crate) fn insert(&mut self, id: K, slot: V) -> usize {
        let pos = self.slots.len();
        let prev = self.index.insert(id, pos);
        assert!(prev.is_none(), "id {id:?} inserted twice");
        self.slots.push((id, slot));
        pos
    }

    /// Remove the most recently inserted slot, which must be `id` (undo runs newest first).
    pub(crate) fn remove_last(&mut self, id: &K) -> V {
        let (last, slot) = self.slots.pop().expect("undo: the arena is not empty");
        assert_eq!(last, *id, "undo must remove the newest slot");
        self.index.remove(id);
        slot
    }

    /// Every slot, in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().map(|(id, s)| (id, s))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().map(|(_, s)| s)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the id → position map describes the arena exactly (for the invariant check):
    /// every slot's id maps to its position, and nothing else is in the map.
    pub(crate) fn index_consistent(&self) -> bool {
        self.index.len() == self.slots.len()
            && self.slots.iter().enumerate().all(|(i, (id, _))| self.index.get(id) == Some(&i))
    }
}

/// Transfer and entry slots.
pub(crate) type TransferStore = Arena<TransferId, TransferSlot>;

/// Per-asset running sums over all its accounts. Kept so that overflow is checked once per asset
/// (an account's total never exceeds its asset's) and the trial balance is O(assets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) debits_pending: Amount,
    pub(crate) debits_posted: Amount,
    pub(crate) credits_pending: Amount,
    pub(crate) credits_posted: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssetSlot {
    pub(crate) asset: Asset,
    pub(crate) totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountSlot {
    pub(crate) account: Account,
    /// Position of its asset's slot in `Ledger::assets` (derived from `account.asset`, kept so the
    /// hot path reaches the asset's totals without hashing; never encoded).
    pub(crate) asset_pos: usize,
    /// Journal block that created the account (for `balance_as_of` by sequence).
    pub(crate) created_seq: u64,
    /// Balance after every change, in event order (only for accounts with `history`).
    pub(crate) history: Vec<StatementLine>,
}

/// One reversible change, recorded while a linked chain runs so that a failing chain can be
/// rolled back without cloning the state. Replayed in reverse.
#[derive(Debug, Clone)]
pub(crate) enum Undo {
    AssetCreated(AssetId),
    AccountCreated(AccountId),
    /// The account's balances and `closed` flag before a change (accounts and assets are named
    /// by arena position: valid while undo runs, since it removes slots newest first).
    Account {
        pos: usize,
        debits_pending: Amount,
        debits_posted: Amount,
        credits_pending: Amount,
        credits_posted: Amount,
        closed: bool,
    },
    Totals {
        pos: usize,
        before: Totals,
    },
    HistoryPushed(usize),
    SlotInserted(TransferId),
    PendingState {
        id: TransferId,
        before: crate::types::PendingState,
    },
    ExpiryInserted((Timestamp, TransferId)),
    ExpiryRemoved((Timestamp, TransferId)),
}

/// The ledger state.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub(crate) assets: Arena<AssetId, AssetSlot>,
    pub(crate) asset_codes: BTreeMap<String, AssetId>,
    pub(crate) asset_records: FastMap<AssetId, Record>,
    pub(crate) accounts: Arena<AccountId, AccountSlot>,
    pub(crate) account_records: FastMap<AccountId, Record>,
    pub(crate) transfers: TransferStore,
    pub(crate) expiries: BTreeSet<(Timestamp, TransferId)>,
    /// Accepted transfers and entries (slots whose body is not `Failed`).
    pub(crate) accepted: u64,
    pub(crate) last_seq: u64,
    pub(crate) last_timestamp: Timestamp,
    // Working memory, not state: reused across commands so that the hot path does not allocate.
    pub(crate) scratch: Vec<u8>,
    pub(crate) undo: Vec<Undo>,
    pub(crate) logging: bool,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// An empty ledger with room for `transfers` transfer/entry ids (accepted or failed) and
    /// `accounts` accounts, so that filling it (a replay of a known journal) neither copies the
    /// arenas as they grow nor rehashes their indexes. Equal in every other way to [`Ledger::new`].
    pub fn with_capacity(transfers: usize, accounts: usize) -> Ledger {
        Ledger {
            transfers: TransferStore::with_capacity(transfers),
            accounts: Arena::with_capacity(accounts),
            ..Ledger::default()
        }
    }

    /// Apply a batch: expire due pending transfers, then run each command (linked chains all or
    /// nothing). Deterministic; never panics on any command.
    ///
    /// Preconditions (asserted, they are the journal's duty, not a client's): `ctx.seq` is
    /// `last_seq() + 1`, and the batch's event timestamps fit in a u64.
    pub fn apply(&mut self, ctx: BatchContext, commands: &[Command]) -> BatchResult {
        self.apply_batch(ctx, commands, None)
    }

    /// [`Ledger::apply`] with each command's [`crate::codec::fingerprint`] computed ahead by the
    /// caller, one per command: a replay computes them on another thread while this one applies
    /// the block before. Fingerprints that are not the commands' own would break idempotency
    /// (checked in debug builds).
    pub fn apply_fingerprinted(
        &mut self,
        ctx: BatchContext,
        commands: &[Command],
        fingerprints: &[u128],
    ) -> BatchResult {
        self.apply_batch(ctx, commands, Some(fingerprints))
    }

    /// Canonical encoding of the whole state (for snapshots): equal states encode equally.
    pub fn encode_snapshot(&self, out: &mut Vec<u8>) {
        snapshot::encode(self, out)
    }

    /// Decode a snapshot. Validates shape and every invariant; never panics.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Ledger, DecodeError> {
        snapshot::decode(bytes)
    }

    /// SHA-256 of [`Ledger::encode_snapshot`]: equal states have equal digests.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        // Streamed: the encoding is hashed chunk by chunk, never held whole.
        let mut hasher = sha2::Sha256::new();
        let mut buf = Vec::with_capacity(2 * snapshot::CHUNK_BYTES);
        snapshot::encode_chunked(self, &mut buf, &mut |chunk| {
            hasher.update(&chunk[..]);
            chunk.clear();
        });
        hasher.update(&buf);
        let d = hasher.finalize();
        let mut out = [0u8; 32];
        out.copy_from_slice(&d);
        out
    }

    /// Whether `self` and `other` have the same canonical encoding (and so the same
    /// [`Ledger::digest`]), decided by comparing the encodings as they are produced — `other`'s
    /// on a second thread — which costs a fraction of hashing them. Exact: no digest is trusted.
    pub fn same_encoding(&self, other: &Ledger) -> bool {
        compare::same_encoding(self, other)
    }

    /// The cheap invariant (O(assets)): per asset Σ debits = Σ credits, posted and pending. For
    /// every block of a replay; [`Ledger::check_invariants`] is the full check.
    pub fn check_balances(&self) -> Result<(), InvariantViolation> {
        invariants::check_balances(self)
    }

    /// Check every invariant (O(state)): per asset Σ debits = Σ credits (posted and pending), the
    /// accounts sum to the asset totals, no limit exceeded, pending totals equal the sums of live
    /// pending transfers, indexes agree with the data.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        invariants::check(self)
    }

    /// Sequence number of the last applied batch (0: none).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Timestamp of the last event (0: none).
    pub fn last_timestamp(&self) -> Timestamp {
        self.last_timestamp
    }

    /// An asset by id.
    pub fn asset(&self, id: AssetId) -> Option<&Asset> {
        self.assets.get(&id).map(|s| &s.asset)
    }

    /// An asset by code.
    pub fn asset_by_code(&self, code: &str) -> Option<&Asset> {
        self.asset_codes.get(code).and_then(|id| self.asset(*id))
    }

    /// Every asset, in id order.
    pub fn assets(&self) -> Vec<&Asset> {
        let mut v: Vec<&Asset> = self.assets.values().map(|s| &s.asset).collect();
        v.sort_by_key(|a| a.id);
        v
    }

    /// An account by id.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id).map(|s| &s.account)
    }

    /// Every account, in id order.
    pub fn accounts(&self) -> Vec<&Account> {
        let mut v: Vec<&Account> = self.accounts.values().map(|s| &s.account).collect();
        v.sort_by_key(|a| a.id);
        v
    }

    /// An accepted transfer (single-phase, pending, post or void) by id.
    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        match self.transfers.get(&id) {
            Some(TransferSlot { body: Body::Transfer(t), .. }) => Some(t),
            _ => None,
        }
    }

    /// An accepted journal entry by id.
    pub fn entry(&self, id: TransferId) -> Option<&Entry> {
        match self.transfers.get(&id) {
            Some(TransferSlot { body: Body::Entry(e), .. }) => Some(e),
            _ => None,
        }
    }

    /// A page of accounts in id order after `after` (exclusive), at most `limit`, optionally only
    /// of one asset and one kind; with the cursor for the next page (None: no more).
    pub fn accounts_page(
        &self,
        after: Option<AccountId>,
        limit: usize,
        asset: Option<AssetId>,
        kind: Option<crate::types::AccountKind>,
    ) -> (Vec<&Account>, Option<AccountId>) {
        let mut v: Vec<&Account> = self
            .accounts
            .values()
            .map(|s| &s.account)
            .filter(|a| after.is_none_or(|c| a.id > c))
            .filter(|a| asset.is_none_or(|x| a.asset == x) && kind.is_none_or(|k| a.kind == k))
            .collect();
        v.sort_unstable_by_key(|a| a.id);
        let more = v.len() > limit;
        v.truncate(limit);
        let next = if more { v.last().map(|a| a.id) } else { None };
        (v, next)
    }

    /// The position (a [`Ledger::movements_page`] cursor) of the first transfer or entry id used
    /// after `ts`: ids are stored in the order they were first used, with strictly increasing
    /// timestamps, so a time names a position — the cursor a read model can share.
    pub fn movement_position_after(&self, ts: Timestamp) -> u64 {
        let (mut lo, mut hi) = (0, self.transfers.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.transfers.at(mid).timestamp() <= ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo as u64
    }

    /// When the transfer or entry id at `position` was first used (failed ones included).
    pub fn movement_timestamp_at(&self, position: u64) -> Option<Timestamp> {
        let pos = usize::try_from(position).ok()?;
        (pos < self.transfers.len()).then(|| self.transfers.at(pos).timestamp())
    }

    /// A page of accepted transfers and entries in the order they were applied, starting at
    /// position `from` (a cursor: 0 for the first page), at most `limit` of those matching
    /// `filter`, scanning at most `scan_budget` stored ids (so a rare filter cannot make one page
    /// scan the whole ledger). Returns the page and the cursor of the next one (None: the end).
    pub fn movements_page(
        &self,
        from: u64,
        limit: usize,
        scan_budget: usize,
        filter: &MovementFilter,
    ) -> (Vec<Movement<'_>>, Option<u64>) {
        let mut out = Vec::new();
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(self.transfers.len());
        let mut pos = start;
        while pos < self.transfers.len() && out.len() < limit && pos - start < scan_budget {
            let slot = self.transfers.at(pos);
            pos += 1;
            let m = match &slot.body {
                Body::Transfer(t) => Movement::Transfer(t),
                Body::Entry(e) => Movement::Entry(e),
                Body::Failed { .. } => continue,
            };
            if filter.matches(&m) {
                out.push(m);
            }
        }
        let next = (pos < self.transfers.len()).then_some(pos as u64);
        (out, next)
    }

    /// Transfer and entry ids ever used, accepted or failed (each keeps its first outcome).
    pub fn transfer_id_count(&self) -> u64 {
        self.transfers.len() as u64
    }

    /// Accepted transfers and entries.
    pub fn transfer_count(&self) -> u64 {
        self.accepted
    }

    /// Accounts.
    pub fn account_count(&self) -> u64 {
        self.accounts.len() as u64
    }

    /// Pending transfers still holding funds, as (expires_at, id) in expiry order (those without
    /// a timeout are not listed).
    pub fn pending_expiries(&self) -> Vec<(Timestamp, TransferId)> {
        self.expiries.iter().copied().collect()
    }

    /// An account's balances as of a point in history. `None` if the account does not exist,
    /// keeps no history, or did not exist yet at that point.
    pub fn balance_as_of(&self, account: AccountId, as_of: AsOf) -> Option<BalanceAt> {
        let slot = self.accounts.get(&account)?;
        if !slot.account.history {
            return None;
        }
        let (existed, n) = match as_of {
            AsOf::Timestamp(t) => (slot.account.timestamp <= t, slot.history.partition_point(|l| l.timestamp <= t)),
            AsOf::Sequence(s) => (slot.created_seq <= s, slot.history.partition_point(|l| l.seq <= s)),
        };
        if !existed {
            return None;
        }
        Some(match n.checked_sub(1).and_then(|i| slot.history.get(i)) {
            Some(line) => line.after,
            None => BalanceAt {
                debits_pending: 0,
                debits_posted: 0,
                credits_pending: 0,
                credits_posted: 0,
                timestamp: slot.account.timestamp,
            },
        })
    }

    /// The changes to an account with `from ≤ timestamp ≤ to`, in order (empty if the account
    /// does not exist or keeps no history).
    pub fn statement(&self, account: AccountId, from: Timestamp, to: Timestamp) -> Vec<StatementLine> {
        let Some(slot) = self.accounts.get(&account) else { return Vec::new() };
        let lo = slot.history.partition_point(|l| l.timestamp < from);
        let hi = slot.history.partition_point(|l| l.timestamp <= to);
        if lo >= hi { Vec::new() } else { slot.history[lo..hi].to_vec() }
    }

    /// Every account's posted totals (id order) and per-asset sums (asset id order).
    pub fn trial_balance(&self) -> TrialBalance {
        let rows = self
            .accounts()
            .into_iter()
            .map(|a| TrialBalanceRow {
                account: a.id,
                asset: a.asset,
                debits_posted: a.debits_posted,
                credits_posted: a.credits_posted,
            })
            .collect();
        let mut totals: Vec<(AssetId, Amount, Amount)> =
            self.assets.values().map(|s| (s.asset.id, s.totals.debits_posted, s.totals.credits_posted)).collect();
        totals.sort_by_key(|t| t.0);
        TrialBalance { rows, totals }
    }
}
