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
//! [`IDEMPOTENCY_RETENTION_SECS`] (24 h): an older record is ignored and overwritten. Requests
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
        let mut value = Vec::with_capacity(HEADER_BYTES + response.body.len());
        value.push(RECORD_VERSION);
        value.extend_from_slice(&now_ms().to_be_bytes());
        value.extend_from_slice(&claim.body_sha256);
        let status = response.status | if response.problem { 0x8000 } else { 0 };
        value.extend_from_slice(&status.to_be_bytes());
        value.extend_from_slice(&response.body);
        let db = self.db.clone();
        let key = claim.record_key.clone();
        tokio::task::spawn_blocking(move || db.put(&key, &value))
            .await
            .map_err(|e| ApiError::Internal(format!("idempotency store task: {e}")))??;
        drop(claim);
        Ok(())
    }
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
