//! `Idempotency-Key` for batch requests.
//!
//! After the engine acknowledged a batch, the server stores, in the KV store under
//! `api/idem/<api key id>/<idempotency key>`, the SHA-256 of the request body, the response status
//! and the response body. A later request by the same API key with the same `Idempotency-Key`:
//! - with the same body gets the stored response again, with `Idempotent-Replayed: true`;
//! - with a different body gets 409 `idempotency_key_reused`;
//! - while the first is still in flight gets 409 `idempotency_key_in_use`.
//!
//! Keys are 1–255 visible ASCII characters and are scoped per API key. Records are kept for
//! [`IDEMPOTENCY_RETENTION_SECS`] (24 h): an older record is ignored and overwritten, and the
//! server deletes expired records every [`SWEEP_INTERVAL`] (at most [`MAX_SWEEP_DELETES_PER_WRITE`]
//! per KV write), so the store does not grow with every key ever used. Requests
//! rejected before reaching the ledger (malformed JSON, validation errors) store nothing. The
//! ledger's own ids stay idempotent forever, independently of this header.
//!
//! Record layout (version 1): `[1u8][created_ms u64 BE][sha256 32 bytes][status u16 BE][body]`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aurum_kv::Db;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::config::{IDEMPOTENCY_RETENTION_SECS, MAX_IDEMPOTENCY_KEY_BYTES};
use crate::error::ApiError;

/// How often the server deletes expired records.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Most records deleted by one KV write of a sweep.
pub const MAX_SWEEP_DELETES_PER_WRITE: usize = 10_000;

/// The request header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// KV key prefix of the records.
pub const RECORD_PREFIX: &str = "api/idem/";
const RECORD_VERSION: u8 = 1;
const HEADER_BYTES: usize = 1 + 8 + 32 + 2;

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
    /// Its content type is `application/problem+json` (else `application/json`).
    pub problem: bool,
}

/// What to do with a request that carries an `Idempotency-Key`.
#[derive(Debug)]
pub enum Lookup {
    /// First time (or the record expired): process it, then [`IdempotencyStore::store`].
    Fresh(InFlight),
    /// Seen with the same body: answer with this.
    Replay(StoredResponse),
}

/// A claim on a key while its request is processed; released on drop.
#[derive(Debug)]
pub struct InFlight {
    record_key: Vec<u8>,
    body_sha256: [u8; 32],
    claims: Arc<Mutex<HashSet<Vec<u8>>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.claims.lock().remove(&self.record_key);
    }
}

/// The records, in the engine's KV store.
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    db: Db,
    claims: Arc<Mutex<HashSet<Vec<u8>>>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `Idempotency-Key` header, validated: absent → None.
pub fn header_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY_HEADER) else { return Ok(None) };
    let bytes = v.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_IDEMPOTENCY_KEY_BYTES || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(ApiError::IdempotencyKeyInvalid(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"
        )));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

impl IdempotencyStore {
    /// Records in `db`.
    pub fn new(db: Db) -> IdempotencyStore {
        IdempotencyStore { db, claims: Arc::new(Mutex::new(HashSet::new())) }
    }

    /// Look up (and claim) `key` of `api_key_id` for a request with `body`.
    pub async fn begin(&self, api_key_id: &str, key: &str, body: &[u8]) -> Result<Lookup, ApiError> {
        let record_key = format!("{RECORD_PREFIX}{api_key_id}/{key}").into_bytes();
        let body_sha256: [u8; 32] = Sha256::digest(body).into();
        if !self.claims.lock().insert(record_key.clone()) {
            return Err(ApiError::IdempotencyKeyInUse);
        }
        let claim = InFlight { record_key: record_key.clone(), body_sha256, claims: self.claims.clone() };
        let db = self.db.clone();
        let stored = tokio::task::spawn_blocking(move || db.get(&record_key))
            .await
            .map_err(|e| ApiError::Internal(format!("idempotency lookup task: {e}")))??;
        let Some(stored) = stored.as_deref().and_then(decode) else { return Ok(Lookup::Fresh(claim)) };
        let (created_ms, sha, response) = stored;
        if now_ms().saturating_sub(created_ms) > IDEMPOTENCY_RETENTION_SECS * 1000 {
            return Ok(Lookup::Fresh(claim));
        }
        if sha != body_sha256 {
            return Err(ApiError::IdempotencyKeyReused);
        }
        Ok(Lookup::Replay(response))
    }

    /// Store the response to a claimed request (durably, before it is sent).
    pub async fn store(&self, claim: InFlight, response: &StoredResponse) -> Result<(), ApiError> {
        let value = encode(now_ms(), &claim.body_sha256, response);
        let db = self.db.clone();
        let key = claim.record_key.clone();
        tokio::task::spawn_blocking(move || db.put(&key, &value))
            .await
            .map_err(|e| ApiError::Internal(format!("idempotency store task: {e}")))??;
        drop(claim);
        Ok(())
    }
}

impl IdempotencyStore {
    /// Deletes every record created more than [`IDEMPOTENCY_RETENTION_SECS`] before `now_ms` (and any record that
    /// does not decode: it could never be replayed); returns how many were deleted. Records claimed by a request
    /// in flight are left alone. Blocking: call from a blocking thread.
    pub fn sweep(&self, now_ms: u64) -> Result<usize, aurum_kv::Error> {
        let cutoff = now_ms.saturating_sub(IDEMPOTENCY_RETENTION_SECS * 1000);
        let mut deleted = 0;
        let mut batch = aurum_kv::WriteBatch::new();
        for item in self.db.scan_prefix(RECORD_PREFIX.as_bytes())? {
            let (key, value) = item?;
            let expired = decode(&value).is_none_or(|(created_ms, _, _)| created_ms < cutoff);
            if !expired || self.claims.lock().contains(&key) {
                continue;
            }
            batch.delete(&key);
            deleted += 1;
            if batch.len() == MAX_SWEEP_DELETES_PER_WRITE {
                self.db.write(std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            self.db.write(batch)?;
        }
        Ok(deleted)
    }

    /// Sweeps every [`SWEEP_INTERVAL`] until the store's last handle is dropped (a background task of the server).
    pub async fn sweep_periodically(self) {
        let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let store = self.clone();
            match tokio::task::spawn_blocking(move || store.sweep(now_ms())).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(deleted = n, "swept expired idempotency records"),
                Ok(Err(e)) => tracing::warn!(error = %e, "sweeping idempotency records failed"),
                Err(e) => tracing::warn!(error = %e, "idempotency sweep task failed"),
            }
        }
    }
}

fn encode(created_ms: u64, body_sha256: &[u8; 32], response: &StoredResponse) -> Vec<u8> {
    let mut value = Vec::with_capacity(HEADER_BYTES + response.body.len());
    value.push(RECORD_VERSION);
    value.extend_from_slice(&created_ms.to_be_bytes());
    value.extend_from_slice(body_sha256);
    let status = response.status | if response.problem { 0x8000 } else { 0 };
    value.extend_from_slice(&status.to_be_bytes());
    value.extend_from_slice(&response.body);
    value
}

fn decode(v: &[u8]) -> Option<(u64, [u8; 32], StoredResponse)> {
    if v.len() < HEADER_BYTES || v[0] != RECORD_VERSION {
        return None;
    }
    let created_ms = u64::from_be_bytes(v[1..9].try_into().ok()?);
    let sha: [u8; 32] = v[9..41].try_into().ok()?;
    let status = u16::from_be_bytes(v[41..43].try_into().ok()?);
    let response =
        StoredResponse { status: status & 0x7fff, problem: status & 0x8000 != 0, body: v[HEADER_BYTES..].to_vec() };
    Some((created_ms, sha, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sweep_deletes_expired_and_undecodable_records_but_not_claimed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(Arc::new(aurum_vfs::OsVfs), dir.path(), aurum_kv::Options::default()).unwrap();
        let store = IdempotencyStore::new(db.clone());
        let now = now_ms(); // begin() judges expiry by the real clock
        let hour = 3_600_000u64;
        let response = StoredResponse { status: 201, body: b"{}".to_vec(), problem: false };
        let put = |name: &str, created: u64| {
            db.put(format!("{RECORD_PREFIX}k1/{name}").as_bytes(), &encode(created, &[0; 32], &response)).unwrap()
        };
        put("old", now - 25 * hour);
        put("fresh", now - hour);
        put("claimed-old", now - 30 * hour);
        db.put(format!("{RECORD_PREFIX}k1/garbage").as_bytes(), b"\x09nonsense").unwrap();
        db.put(b"api/keys/unrelated", b"kept").unwrap();
        // A request in flight holds "claimed-old": the sweep must not pull the record from under it.
        let claim = match store.begin("k1", "claimed-old", b"body").await.unwrap() {
            Lookup::Fresh(claim) => claim,
            Lookup::Replay(_) => panic!("an expired record is not replayed"),
        };
        assert_eq!(store.sweep(now).unwrap(), 2);
        let left: Vec<Vec<u8>> = db.scan_prefix(RECORD_PREFIX.as_bytes()).unwrap().map(|i| i.unwrap().0).collect();
        assert_eq!(left, vec![b"api/idem/k1/claimed-old".to_vec(), b"api/idem/k1/fresh".to_vec()]);
        assert_eq!(db.get(b"api/keys/unrelated").unwrap().as_deref(), Some(&b"kept"[..]));
        drop(claim);
        assert_eq!(store.sweep(now).unwrap(), 1, "released, the expired record goes too");
        assert_eq!(store.sweep(now + 24 * hour).unwrap(), 1, "a day later the fresh one has expired as well");
    }
}
