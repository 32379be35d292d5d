//! Review records of held transfers, in the engine's KV store.
//!
//! Layout (JSON values, `version` 1):
//! - `risk/review/<transfer id, 39 digits>` → [`ReviewRecord`]: the assessment, what the hold
//!   changed in the client's command, who created it, its state and how it was closed;
//! - `risk/open/<created ns, 20 digits>/<transfer id, 39 digits>` → empty: present exactly while
//!   the review is open, so the open queue lists oldest first without scanning closed reviews.
//!
//! Both keys change in one KV write batch. A record is written **before** its transfer is
//! submitted (write-ahead): whatever happens next, a retry of the same transfer finds the record
//! and rebuilds exactly the command that was submitted, so the ledger's idempotency (same id, same
//! fields → the first outcome) holds for held transfers too. If the ledger refuses the transfer,
//! the record is kept in state `failed` for the same reason.
//!
//! Every read-modify-write of a record (release, void, failure, a client's void) runs under
//! [`ReviewStore::lock`], so two reviewers never both act on one open review.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use aurum_kv::{Db, WriteBatch};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::risk::{DecisionJson, ReasonView, RiskView};
use crate::routes::model::Id;

/// KV prefix of review records.
pub const REVIEW_PREFIX: &str = "risk/review/";
/// KV prefix of the open-review index.
pub const OPEN_PREFIX: &str = "risk/open/";
/// Longest cursor this API issues for review lists, in bytes.
const MAX_CURSOR_BYTES: usize = 64;
/// Version of the record format written.
pub const RECORD_VERSION: u8 = 1;

/// Where a review is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for a reviewer; the transfer is pending.
    Open,
    /// Released: posted by a reviewer (or, for a transfer the client created pending, approved
    /// for the client to post).
    Released,
    /// Voided (by a reviewer or by the client): the hold was released, nothing moved.
    Voided,
    /// The pending transfer's timeout passed before a reviewer acted.
    Expired,
    /// The ledger refused the transfer when it was submitted: there is nothing to review.
    Failed,
}

impl ReviewState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Open => "open",
            ReviewState::Released => "released",
            ReviewState::Voided => "voided",
            ReviewState::Expired => "expired",
            ReviewState::Failed => "failed",
        }
    }
}

/// How a review was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionAction {
    /// `POST /v1/risk/reviews/{id}/release`.
    Release,
    /// `POST /v1/risk/reviews/{id}/void`.
    Void,
    /// The client voided its own held transfer (`POST /v1/transfers/{id}/void`).
    ClientVoid,
    /// The ledger said so when a reviewer acted (expired, or already posted or voided), or when
    /// the transfer was submitted (failed).
    Ledger,
}

/// Who closed a review, when, how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// What closed it.
    pub action: ResolutionAction,
    /// The posting or voiding transfer's id, when one was submitted.
    pub transfer: Option<Id>,
    /// Id of the API key that acted (none when the ledger decided).
    pub by: Option<String>,
    /// When (ns since the Unix epoch, server clock).
    pub at_ns: u64,
    /// The reviewer's note.
    pub note: Option<String>,
    /// The ledger's result code, when the ledger decided (`pending_transfer_expired`, ...).
    pub result: Option<String>,
}

/// A stored review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRecord {
    /// Record format version.
    pub version: u8,
    /// The held transfer.
    pub transfer: Id,
    /// Its debit account.
    pub debit_account: Id,
    /// Its credit account.
    pub credit_account: Id,
    /// Its asset id.
    pub asset: u32,
    /// Its asset code.
    pub asset_code: String,
    /// The asset's scale.
    pub scale: u8,
    /// Amount requested, in base units (decimal string: exact).
    pub amount_units: String,
    /// The assessment's score.
    pub score: f64,
    /// The assessment's decision (`hold`).
    pub decision: DecisionJson,
    /// Why.
    pub reasons: Vec<ReasonView>,
    /// The server made the transfer pending (true), or the client asked for a pending transfer
    /// and it was left as sent (false).
    pub held_by_risk: bool,
    /// The timeout the hold set (0 when `held_by_risk` is false).
    pub timeout_secs: u32,
    /// The metadata the hold added (`aurum.risk`, `aurum.risk_score`, as many as fit).
    pub added_metadata: BTreeMap<String, String>,
    /// Id of the API key that submitted the transfer.
    pub created_by: String,
    /// When it was assessed (ns since the Unix epoch, server clock).
    pub created_at_ns: u64,
    /// Where the review is.
    pub state: ReviewState,
    /// How it was closed.
    pub resolution: Option<Resolution>,
}

impl ReviewRecord {
    /// The assessment, as the API shows it.
    pub fn risk_view(&self) -> RiskView {
        RiskView { score: self.score, decision: self.decision, reasons: self.reasons.clone() }
    }

    /// Make `command` what was submitted when the transfer was held (a retry must be identical).
    pub fn rebuild(&self, command: &mut aurum_ledger::CreateTransfer) {
        if self.held_by_risk {
            command.flags.pending = true;
            command.timeout_secs = self.timeout_secs;
            command.metadata.extend(self.added_metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    /// This record closed: `state`, with its resolution.
    pub fn closed(&self, state: ReviewState, resolution: Resolution) -> ReviewRecord {
        debug_assert!(state != ReviewState::Open);
        ReviewRecord { state, resolution: Some(resolution), ..self.clone() }
    }
}

fn review_key(id: u128) -> Vec<u8> {
    format!("{REVIEW_PREFIX}{id:039}").into_bytes()
}

fn open_key(created_at_ns: u64, id: u128) -> Vec<u8> {
    format!("{OPEN_PREFIX}{created_at_ns:020}/{id:039}").into_bytes()
}

fn decode(key: &[u8], value: &[u8]) -> Result<ReviewRecord, ApiError> {
    serde_json::from_slice::<ReviewRecord>(value)
        .map_err(|e| ApiError::Internal(format!("review record {} does not decode: {e}", String::from_utf8_lossy(key))))
}

/// The smallest key after every key starting with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    let last = end.last_mut().expect("non-empty prefix");
    *last += 1;
    end
}

/// Check a `cursor` query parameter: the key suffix of the last item of a page.
fn cursor_key(prefix: &str, cursor: Option<&str>) -> Result<Bound<Vec<u8>>, ApiError> {
    match cursor {
        None => Ok(Bound::Included(prefix.as_bytes().to_vec())),
        Some(c)
            if !c.is_empty() && c.len() <= MAX_CURSOR_BYTES && c.bytes().all(|b| b.is_ascii_digit() || b == b'/') =>
        {
            Ok(Bound::Excluded(format!("{prefix}{c}").into_bytes()))
        }
        Some(_) => Err(ApiError::query("cursor", "cursor is not one this API issued")),
    }
}

/// The reviews: the set of transfer ids that have a record (to know, without a KV read, which
/// transfers need one), and the lock of every read-modify-write.
#[derive(Debug)]
pub struct ReviewStore {
    reviewed: Mutex<HashSet<u128>>,
    lock: tokio::sync::Mutex<()>,
}

impl ReviewStore {
    /// Load the ids of every stored review (blocking).
    pub fn open(db: &Db) -> Result<ReviewStore, aurum_kv::Error> {
        let mut reviewed = HashSet::new();
        for item in db.scan_prefix(REVIEW_PREFIX.as_bytes())? {
            let (key, _) = item?;
            if let Some(id) = std::str::from_utf8(&key[REVIEW_PREFIX.len()..]).ok().and_then(|s| s.parse::<u128>().ok())
            {
                reviewed.insert(id);
            }
        }
        Ok(ReviewStore { reviewed: Mutex::new(reviewed), lock: tokio::sync::Mutex::new(()) })
    }

    /// Does this transfer have a review record?
    pub fn has(&self, id: u128) -> bool {
        self.reviewed.lock().contains(&id)
    }

    /// Number of reviews (every state).
    pub fn len(&self) -> usize {
        self.reviewed.lock().len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serialises every read-modify-write of records.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// A record (blocking).
    pub fn get(db: &Db, id: u128) -> Result<Option<ReviewRecord>, ApiError> {
        let key = review_key(id);
        db.get(&key)?.map(|v| decode(&key, &v)).transpose()
    }

    /// Write records, each replacing `before` (None: new), with their open-index entries, in one
    /// KV batch (blocking; durable when it returns).
    pub fn write(&self, db: &Db, changes: &[(Option<&ReviewRecord>, &ReviewRecord)]) -> Result<(), ApiError> {
        let mut batch = WriteBatch::new();
        for (before, after) in changes {
            debug_assert!(before.is_none_or(|b| b.transfer == after.transfer));
            let id = after.transfer.0;
            let value = serde_json::to_vec(after).map_err(|e| ApiError::Internal(format!("review record: {e}")))?;
            batch.put(&review_key(id), &value);
            if let Some(b) = before
                && b.state == ReviewState::Open
                && (after.state != ReviewState::Open || after.created_at_ns != b.created_at_ns)
            {
                batch.delete(&open_key(b.created_at_ns, id));
            }
            if after.state == ReviewState::Open {
                batch.put(&open_key(after.created_at_ns, id), b"");
            }
        }
        db.write(batch)?;
        let mut reviewed = self.reviewed.lock();
        reviewed.extend(changes.iter().map(|(_, r)| r.transfer.0));
        Ok(())
    }

    /// Delete records and their open-index entries (blocking): for a review whose transfer id
    /// turned out to belong to another transfer.
    pub fn delete(&self, db: &Db, records: &[ReviewRecord]) -> Result<(), ApiError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        for r in records {
            batch.delete(&review_key(r.transfer.0));
            if r.state == ReviewState::Open {
                batch.delete(&open_key(r.created_at_ns, r.transfer.0));
            }
        }
        db.write(batch)?;
        let mut reviewed = self.reviewed.lock();
        for r in records {
            reviewed.remove(&r.transfer.0);
        }
        Ok(())
    }

    /// A page of open reviews, oldest first (blocking).
    pub fn page_open(
        db: &Db,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ReviewRecord>, Option<String>), ApiError> {
        let start = cursor_key(OPEN_PREFIX, cursor)?;
        let mut out = Vec::new();
        let mut last = None;
        for item in db.range((start, Bound::Excluded(prefix_end(OPEN_PREFIX))))? {
            let (key, _) = item?;
            if out.len() == limit {
                return Ok((out, last));
            }
            let suffix = String::from_utf8_lossy(&key[OPEN_PREFIX.len()..]).into_owned();
            let id = suffix.rsplit('/').next().and_then(|s| s.parse::<u128>().ok());
            let record = match id {
                Some(id) => ReviewStore::get(db, id)?,
                None => None,
            };
            // An index entry without an open record is a leftover of a crash between two
            // writes that never happen apart (one batch); skip it rather than fail the list.
            if let Some(r) = record.filter(|r| r.state == ReviewState::Open) {
                out.push(r);
            }
            last = Some(suffix);
        }
        Ok((out, None))
    }

    /// A page of reviews in transfer id order, optionally in one state (blocking). Scans at most
    /// `budget` records; a page may then be short (even empty) with a cursor.
    pub fn page_all(
        db: &Db,
        state: Option<ReviewState>,
        cursor: Option<&str>,
        limit: usize,
        budget: usize,
    ) -> Result<(Vec<ReviewRecord>, Option<String>), ApiError> {
        let start = cursor_key(REVIEW_PREFIX, cursor)?;
        let mut out = Vec::new();
        let mut last = None;
        for (scanned, item) in db.range((start, Bound::Excluded(prefix_end(REVIEW_PREFIX))))?.enumerate() {
            let (key, value) = item?;
            if out.len() == limit || scanned == budget {
                return Ok((out, last));
            }
            let record = decode(&key, &value)?;
            if state.is_none_or(|s| s == record.state) {
                out.push(record);
            }
            last = Some(String::from_utf8_lossy(&key[REVIEW_PREFIX.len()..]).into_owned());
        }
        Ok((out, None))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::risk::{DecisionJson, RiskSideJson};

    fn record(id: u128, created: u64, state: ReviewState) -> ReviewRecord {
        ReviewRecord {
            version: RECORD_VERSION,
            transfer: Id(id),
            debit_account: Id(1),
            credit_account: Id(2),
            asset: 1,
            asset_code: "XAU".into(),
            scale: 3,
            amount_units: "1000".into(),
            score: 0.8,
            decision: DecisionJson::Hold,
            reasons: vec![ReasonView {
                rule: "velocity_burst".into(),
                pattern: "velocity".into(),
                side: RiskSideJson::Sender,
                account: Id(1),
                score: 0.8,
                text: "5 transfers".into(),
            }],
            held_by_risk: true,
            timeout_secs: 60,
            added_metadata: BTreeMap::from([("aurum.risk".to_string(), "held".to_string())]),
            created_by: "k1".into(),
            created_at_ns: created,
            state,
            resolution: None,
        }
    }

    #[test]
    fn open_queue_is_oldest_first_and_follows_state_changes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(Arc::new(aurum_vfs::OsVfs), dir.path(), aurum_kv::Options::default()).unwrap();
        let store = ReviewStore::open(&db).unwrap();
        let (a, b, c) = (
            record(30, 100, ReviewState::Open),
            record(10, 200, ReviewState::Open),
            record(20, 300, ReviewState::Open),
        );
        store.write(&db, &[(None, &a), (None, &b), (None, &c)]).unwrap();
        assert!(store.has(10) && store.has(20) && store.has(30) && !store.has(40));
        let (page, next) = ReviewStore::page_open(&db, None, 2).unwrap();
        assert_eq!(page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), [30, 10]);
        let (page, end) = ReviewStore::page_open(&db, next.as_deref(), 2).unwrap();
        assert_eq!((page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), end), (vec![20], None));

        let released = b.closed(
            ReviewState::Released,
            Resolution {
                action: ResolutionAction::Release,
                transfer: Some(Id(11)),
                by: Some("k2".into()),
                at_ns: 400,
                note: None,
                result: None,
            },
        );
        store.write(&db, &[(Some(&b), &released)]).unwrap();
        let (page, _) = ReviewStore::page_open(&db, None, 10).unwrap();
        assert_eq!(page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), [30, 20]);
        assert_eq!(ReviewStore::get(&db, 10).unwrap(), Some(released));
        let (page, _) = ReviewStore::page_all(&db, Some(ReviewState::Released), None, 10, 1000).unwrap();
        assert_eq!(page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), [10]);
        let (page, next) = ReviewStore::page_all(&db, None, None, 10, 2).unwrap();
        assert_eq!(page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), [10, 20], "id order, budget of 2");
        let (page, end) = ReviewStore::page_all(&db, None, next.as_deref(), 10, 2).unwrap();
        assert_eq!((page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), end), (vec![30], None));
        assert!(ReviewStore::page_all(&db, None, Some("x"), 10, 2).is_err());

        drop(store);
        let reopened = ReviewStore::open(&db).unwrap();
        assert_eq!(reopened.len(), 3);
        reopened.delete(&db, &[c]).unwrap();
        assert!(!reopened.has(20) && ReviewStore::get(&db, 20).unwrap().is_none());
        let (page, _) = ReviewStore::page_open(&db, None, 10).unwrap();
        assert_eq!(page.iter().map(|r| r.transfer.0).collect::<Vec<_>>(), [30], "its open-index entry went too");
    }
}
