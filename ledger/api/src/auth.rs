//! API keys with scopes, hashed at rest.
//!
//! A token looks like `aurum_<id>_<secret>`: `id` is 16 lowercase hex characters (8 random bytes) and
//! names the key; `secret` is 64 lowercase hex characters (32 random bytes) and proves possession. The
//! token is shown once, when the key is created, and never stored: the KV store keeps, under
//! `api/keys/<id>`, a JSON record (see [`StoredKeyV1`]) holding SHA-256 of the secret's 32 bytes. A
//! fast hash is enough because the secret is 256 random bits, not a password: there is nothing to
//! brute-force, so a slow KDF would only cost latency on every request.
//!
//! Invariants: no token or secret appears in any log, error message, `Debug` output or stored value;
//! digests are compared in constant time; a revocation is durable (fsynced KV put) before
//! [`KeyStore::revoke`] returns and is seen by every later [`KeyStore::authenticate`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// KV key prefix of the stored API keys; the full key is the prefix followed by the key id.
pub const KEY_PREFIX: &str = "api/keys/";
/// Token prefix, so tokens are recognisable in config files and by secret scanners.
pub const TOKEN_PREFIX: &str = "aurum_";
/// Length of a key id in hex characters (8 random bytes).
pub const KEY_ID_HEX_CHARS: usize = 16;
/// Length of a secret in bytes (256 bits: unguessable, so a plain SHA-256 at rest suffices).
pub const SECRET_BYTES: usize = 32;
/// Longest key name, in characters.
pub const MAX_KEY_NAME_CHARS: usize = 64;
/// Most keys the store holds, revoked ones included: bounds memory and the admin listing.
pub const MAX_KEYS: usize = 10_000;
/// Longest `Authorization` header we look at, in bytes; anything longer is malformed.
pub const MAX_AUTHORIZATION_HEADER_BYTES: usize = 256;
/// Name of the key [`KeyStore::bootstrap`] creates.
pub const BOOTSTRAP_KEY_NAME: &str = "bootstrap";

/// What a key may do. Ordered: `Admin` ⊇ `Write` ⊇ `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read accounts, transfers, statements, audit status.
    Read,
    /// Everything `Read` may, plus creating transfers, entries, accounts, assets.
    Write,
    /// Everything `Write` may, plus managing API keys.
    Admin,
}

impl Scope {
    /// Whether a key with this scope may do something that needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }

    /// The lowercase name (`read`, `write`, `admin`), as in JSON and on the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// Parse the lowercase name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of the key that authenticated a request. The auth middleware inserts it into the request
/// extensions (for handlers, e.g. to record who created a transfer) AND into the response extensions,
/// because [`crate::logging::request_id_layer`] runs outside it and only sees the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(pub String);

/// Everything about a key except its secret. Safe to log, list and return from admin endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    /// 16 hex characters; the public half of the token.
    pub id: String,
    /// Human label, 1–64 printable characters.
    pub name: String,
    pub scope: Scope,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    pub revoked: bool,
    /// Per-key rate limit in requests per second; `None` means the server default.
    pub rate_limit_per_sec: Option<u32>,
}

/// A freshly created key and its token. The token exists only here: show it once, then drop it.
pub struct NewApiKey {
    pub info: ApiKeyInfo,
    /// `aurum_<id>_<secret>`. Never logged; `Debug` redacts it.
    pub token: String,
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey").field("info", &self.info).field("token", &"<redacted>").finish()
    }
}

/// Why a key could not be authenticated, created or revoked. No message ever contains a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    Missing,
    #[error("malformed Authorization header: expected `Bearer aurum_<id>_<secret>`")]
    Malformed,
    /// No key with that id, or the secret does not match (deliberately indistinguishable).
    #[error("unknown API key")]
    UnknownKey,
    #[error("API key revoked")]
    Revoked,
    /// The KV store failed, or a stored record is corrupt. The message names only key ids.
    #[error("API key store: {0}")]
    Store(String),
    #[error("invalid key name: {0}")]
    InvalidName(String),
    #[error("invalid rate limit: {0} requests per second (must be at least 1)")]
    InvalidRateLimit(u32),
    #[error("too many API keys (limit {MAX_KEYS}); revoked keys count too")]
    TooManyKeys,
}

/// The stored form of a key, JSON under `api/keys/<id>`. Versioned so the encoding can evolve.
/// Example: `{"v":1,"id":"0123456789abcdef","name":"ops","scope":"write","created_at_ms":1700000000000,
/// "revoked":false,"rate_limit_per_sec":null,"secret_sha256":"<64 hex>"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKeyV1 {
    v: u32,
    id: String,
    name: String,
    scope: Scope,
    created_at_ms: i64,
    revoked: bool,
    rate_limit_per_sec: Option<u32>,
    /// Hex SHA-256 of the secret's 32 raw bytes.
    secret_sha256: String,
}

const STORED_VERSION: u32 = 1;

/// One key in memory.
#[derive(Clone)]
struct Entry {
    info: ApiKeyInfo,
    secret_sha256: [u8; 32],
}

struct Inner {
    db: aurum_kv::Db,
    keys: RwLock<HashMap<String, Entry>>,
    /// Serialises create/revoke/bootstrap so "check, write to KV, update memory" is atomic: bootstrap
    /// must not race a create, and two revokes must not interleave their writes.
    mutate: Mutex<()>,
}

/// The API keys: all of them in memory (for lock-cheap authentication), persisted in the KV store.
/// Cheap to clone; clones share one store.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore").field("keys", &self.inner.keys.read().len()).finish()
    }
}

impl KeyStore {
    /// Open the store on `db`, loading every key under `api/keys/` into memory. A corrupt record is an
    /// error (rather than a silently missing key, which could hide a revocation).
    pub fn open(db: aurum_kv::Db) -> Result<KeyStore, AuthError> {
        let mut keys = HashMap::new();
        let iter = db.scan_prefix(KEY_PREFIX.as_bytes()).map_err(store_err)?;
        for item in iter {
            let (k, v) = item.map_err(store_err)?;
            let kv_key = String::from_utf8_lossy(&k).into_owned();
            let entry = decode(&v).ok_or_else(|| AuthError::Store(format!("corrupt record at {kv_key}")))?;
            if kv_key != format!("{KEY_PREFIX}{}", entry.info.id) {
                return Err(AuthError::Store(format!("record at {kv_key} names another id")));
            }
            keys.insert(entry.info.id.clone(), entry);
        }
        Ok(KeyStore { inner: Arc::new(Inner { db, keys: RwLock::new(keys), mutate: Mutex::new(()) }) })
    }

    /// If no key exists at all (revoked ones count), create an admin key named `bootstrap` and return
    /// it — the only time its token is visible. Otherwise `None`: the bootstrap happens once per store.
    pub fn bootstrap(&self) -> Result<Option<NewApiKey>, AuthError> {
        let _guard = self.inner.mutate.lock();
        if !self.inner.keys.read().is_empty() {
            return Ok(None);
        }
        self.create_locked(BOOTSTRAP_KEY_NAME, Scope::Admin, None).map(Some)
    }

    /// Create a key; durable when this returns. The returned token is never stored.
    pub fn create(&self, name: &str, scope: Scope, rate_limit_per_sec: Option<u32>) -> Result<NewApiKey, AuthError> {
        let _guard = self.inner.mutate.lock();
        self.create_locked(name, scope, rate_limit_per_sec)
    }

    fn create_locked(&self, name: &str, scope: Scope, rate_limit_per_sec: Option<u32>) -> Result<NewApiKey, AuthError> {
        validate_name(name)?;
        if let Some(0) = rate_limit_per_sec {
            return Err(AuthError::InvalidRateLimit(0));
        }
        if self.inner.keys.read().len() >= MAX_KEYS {
            return Err(AuthError::TooManyKeys);
        }
        // 64 random bits: a collision is astronomically unlikely, but checking costs nothing.
        let id = loop {
            let id = hex::encode(random_bytes::<{ KEY_ID_HEX_CHARS / 2 }>()?);
            if !self.inner.keys.read().contains_key(&id) {
                break id;
            }
        };
        let secret = random_bytes::<SECRET_BYTES>()?;
        let token = format!("{TOKEN_PREFIX}{id}_{}", hex::encode(secret));
        let info = ApiKeyInfo {
            id: id.clone(),
            name: name.to_owned(),
            scope,
            created_at_ms: now_ms(),
            revoked: false,
            rate_limit_per_sec,
        };
        let entry = Entry { info: info.clone(), secret_sha256: Sha256::digest(secret).into() };
        self.persist(&entry)?;
        self.inner.keys.write().insert(id, entry);
        Ok(NewApiKey { info, token })
    }

    /// Every key (revoked ones included), sorted by creation time then id.
    pub fn list(&self) -> Vec<ApiKeyInfo> {
        let mut out: Vec<ApiKeyInfo> = self.inner.keys.read().values().map(|e| e.info.clone()).collect();
        out.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        out
    }

    /// Revoke key `id`: durable, and refused by `authenticate` from the moment this returns.
    /// `Ok(false)` if there is no such key; revoking twice is `Ok(true)` both times.
    pub fn revoke(&self, id: &str) -> Result<bool, AuthError> {
        let _guard = self.inner.mutate.lock();
        let Some(mut entry) = self.inner.keys.read().get(id).cloned() else {
            return Ok(false);
        };
        if entry.info.revoked {
            return Ok(true);
        }
        entry.info.revoked = true;
        // Persist first: if the write fails the key stays usable in memory AND on disk, never a
        // key that looks revoked now but comes back after a restart.
        self.persist(&entry)?;
        self.inner.keys.write().insert(id.to_owned(), entry);
        Ok(true)
    }

    /// Authenticate an `Authorization` header value of the form `Bearer <token>` (scheme
    /// case-insensitive, per RFC 9110). Returns the key's info; the caller checks its scope.
    pub fn authenticate(&self, authorization_header: Option<&str>) -> Result<ApiKeyInfo, AuthError> {
        let header = authorization_header.ok_or(AuthError::Missing)?;
        let (id, secret) = parse_bearer(header).ok_or(AuthError::Malformed)?;
        let digest: [u8; 32] = Sha256::digest(secret).into();
        let keys = self.inner.keys.read();
        let entry = keys.get(id).ok_or(AuthError::UnknownKey)?;
        if !constant_time_eq(&entry.secret_sha256, &digest) {
            return Err(AuthError::UnknownKey);
        }
        // Checked after the secret, so only a holder of the secret learns the key is revoked.
        if entry.info.revoked {
            return Err(AuthError::Revoked);
        }
        Ok(entry.info.clone())
    }

    fn persist(&self, entry: &Entry) -> Result<(), AuthError> {
        let record = StoredKeyV1 {
            v: STORED_VERSION,
            id: entry.info.id.clone(),
            name: entry.info.name.clone(),
            scope: entry.info.scope,
            created_at_ms: entry.info.created_at_ms,
            revoked: entry.info.revoked,
            rate_limit_per_sec: entry.info.rate_limit_per_sec,
            secret_sha256: hex::encode(entry.secret_sha256),
        };
        let value = serde_json::to_vec(&record).map_err(|e| AuthError::Store(format!("encoding key record: {e}")))?;
        let key = format!("{KEY_PREFIX}{}", entry.info.id);
        self.inner.db.put(key.as_bytes(), &value).map_err(store_err)
    }
}

fn decode(value: &[u8]) -> Option<Entry> {
    let r: StoredKeyV1 = serde_json::from_slice(value).ok()?;
    if r.v != STORED_VERSION || !is_key_id(&r.id) || validate_name(&r.name).is_err() {
        return None;
    }
    let mut secret_sha256 = [0u8; 32];
    hex::decode_to_slice(&r.secret_sha256, &mut secret_sha256).ok()?;
    let info = ApiKeyInfo {
        id: r.id,
        name: r.name,
        scope: r.scope,
        created_at_ms: r.created_at_ms,
        revoked: r.revoked,
        rate_limit_per_sec: r.rate_limit_per_sec,
    };
    Some(Entry { info, secret_sha256 })
}

/// Split `Bearer aurum_<id>_<secret>` into the id and the secret's raw bytes.
fn parse_bearer(header: &str) -> Option<(&str, [u8; SECRET_BYTES])> {
    if header.len() > MAX_AUTHORIZATION_HEADER_BYTES {
        return None;
    }
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = token.trim_start().strip_prefix(TOKEN_PREFIX)?;
    let (id, secret_hex) = rest.split_once('_')?;
    if !is_key_id(id) || secret_hex.len() != SECRET_BYTES * 2 {
        return None;
    }
    let mut secret = [0u8; SECRET_BYTES];
    hex::decode_to_slice(secret_hex, &mut secret).ok()?;
    Some((id, secret))
}

fn is_key_id(s: &str) -> bool {
    s.len() == KEY_ID_HEX_CHARS && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn validate_name(name: &str) -> Result<(), AuthError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_KEY_NAME_CHARS {
        return Err(AuthError::InvalidName(format!("must be 1 to {MAX_KEY_NAME_CHARS} characters, got {chars}")));
    }
    if name.chars().any(char::is_control) {
        return Err(AuthError::InvalidName("must not contain control characters".into()));
    }
    Ok(())
}

/// Equality whose running time does not depend on where the inputs differ: fold the xor of every
/// byte pair, then test once. `black_box` keeps the optimiser from turning it into an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= std::hint::black_box(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Store(format!("system random source: {e}")))?;
    Ok(buf)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn store_err(e: aurum_kv::Error) -> AuthError {
    AuthError::Store(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sim_db(vfs: &aurum_vfs::SimVfs) -> aurum_kv::Db {
        aurum_kv::Db::open(Arc::new(vfs.clone()), Path::new("/kv"), aurum_kv::Options::default()).unwrap()
    }

    fn store() -> (KeyStore, aurum_vfs::SimVfs) {
        let vfs = aurum_vfs::SimVfs::new(7);
        (KeyStore::open(sim_db(&vfs)).unwrap(), vfs)
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn scopes_are_ordered() {
        assert!(Scope::Admin.allows(Scope::Write) && Scope::Admin.allows(Scope::Read));
        assert!(Scope::Write.allows(Scope::Read) && Scope::Write.allows(Scope::Write));
        assert!(!Scope::Write.allows(Scope::Admin) && !Scope::Read.allows(Scope::Write));
        for s in [Scope::Read, Scope::Write, Scope::Admin] {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert_eq!(Scope::parse("Admin"), None);
        assert_eq!(Scope::parse(""), None);
    }

    #[test]
    fn token_format_and_authentication() {
        let (ks, _vfs) = store();
        let k = ks.create("payments", Scope::Write, Some(50)).unwrap();
        let parts: Vec<&str> = k.token.split('_').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "aurum");
        assert_eq!(parts[1], k.info.id);
        assert_eq!(parts[1].len(), 16);
        assert_eq!(parts[2].len(), 64);
        let info = ks.authenticate(Some(&bearer(&k.token))).unwrap();
        assert_eq!(
            (info.id.as_str(), info.scope, info.rate_limit_per_sec),
            (k.info.id.as_str(), Scope::Write, Some(50))
        );
        // Scheme is case-insensitive.
        assert!(ks.authenticate(Some(&format!("bearer {}", k.token))).is_ok());
    }

    #[test]
    fn stored_value_holds_only_the_hash() {
        let (ks, vfs) = store();
        let k = ks.create("ops", Scope::Read, None).unwrap();
        let secret_hex = k.token.rsplit('_').next().unwrap().to_owned();
        let raw = ks.inner.db.get(format!("api/keys/{}", k.info.id).as_bytes()).unwrap().unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(!raw.contains(&k.token) && !raw.contains(&secret_hex), "stored: {raw}");
        let secret = hex::decode(&secret_hex).unwrap();
        assert!(raw.contains(&hex::encode(Sha256::digest(&secret))));
        // And it survives a reopen.
        drop(ks);
        let ks = KeyStore::open(sim_db(&vfs)).unwrap();
        assert_eq!(ks.authenticate(Some(&bearer(&k.token))).unwrap().id, k.info.id);
    }

    #[test]
    fn constant_time_eq_compares_all_bytes() {
        let a = [7u8; 32];
        assert!(constant_time_eq(&a, &a));
        for i in [0, 15, 31] {
            let mut b = a;
            b[i] ^= 1;
            assert!(!constant_time_eq(&a, &b));
        }
    }

    #[test]
    fn bootstrap_only_once() {
        let (ks, vfs) = store();
        let boot = ks.bootstrap().unwrap().expect("first bootstrap creates a key");
        assert_eq!((boot.info.name.as_str(), boot.info.scope), ("bootstrap", Scope::Admin));
        assert!(ks.bootstrap().unwrap().is_none());
        // Not even after the bootstrap key is revoked, nor after a restart.
        assert!(ks.revoke(&boot.info.id).unwrap());
        assert!(ks.bootstrap().unwrap().is_none());
        drop(ks);
        let ks = KeyStore::open(sim_db(&vfs)).unwrap();
        assert!(ks.bootstrap().unwrap().is_none());
        assert_eq!(ks.list().len(), 1);
    }

    #[test]
    fn bootstrap_skipped_when_keys_exist() {
        let (ks, _vfs) = store();
        ks.create("first", Scope::Read, None).unwrap();
        assert!(ks.bootstrap().unwrap().is_none());
    }

    #[test]
    fn revoke_is_immediate_and_durable() {
        let (ks, vfs) = store();
        let k = ks.create("temp", Scope::Write, None).unwrap();
        let other = ks.create("keep", Scope::Write, None).unwrap();
        assert!(ks.revoke(&k.info.id).unwrap());
        assert!(ks.revoke(&k.info.id).unwrap(), "revoking twice is fine");
        assert!(!ks.revoke("0000000000000000").unwrap());
        assert!(matches!(ks.authenticate(Some(&bearer(&k.token))), Err(AuthError::Revoked)));
        assert!(ks.authenticate(Some(&bearer(&other.token))).is_ok());
        drop(ks);
        let ks = KeyStore::open(sim_db(&vfs)).unwrap();
        assert!(matches!(ks.authenticate(Some(&bearer(&k.token))), Err(AuthError::Revoked)));
        let listed = ks.list();
        assert!(listed.iter().find(|i| i.id == k.info.id).unwrap().revoked);
        assert!(!listed.iter().find(|i| i.id == other.info.id).unwrap().revoked);
    }

    #[test]
    fn malformed_and_unknown_tokens() {
        let (ks, _vfs) = store();
        let k = ks.create("x", Scope::Read, None).unwrap();
        assert!(matches!(ks.authenticate(None), Err(AuthError::Missing)));
        let secret = k.token.rsplit('_').next().unwrap();
        let long = format!("Bearer {}", "a".repeat(300));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            k.token.as_str(), // no scheme
            "Bearer aurum_",
            "Bearer aurum_0123456789abcdef",
            "Bearer aurum_0123456789abcdef_zz",
            "Bearer token_0123456789abcdef_00",
            long.as_str(),
        ] {
            assert!(matches!(ks.authenticate(Some(bad)), Err(AuthError::Malformed)), "{bad:?}");
        }
        // Uppercase id or secret: not the canonical form.
        let upper = format!("Bearer aurum_{}_{}", k.info.id.to_uppercase(), secret);
        assert!(ks.authenticate(Some(&upper)).is_err());
        // Unknown id.
        let unknown = format!("Bearer aurum_{}_{}", "0".repeat(16), secret);
        assert!(matches!(ks.authenticate(Some(&unknown)), Err(AuthError::UnknownKey)));
        // Right id, wrong secret: indistinguishable from unknown.
        let mut wrong = secret.to_owned().into_bytes();
        wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
        let wrong = format!("Bearer aurum_{}_{}", k.info.id, String::from_utf8(wrong).unwrap());
        assert!(matches!(ks.authenticate(Some(&wrong)), Err(AuthError::UnknownKey)));
    }

    #[test]
    fn nothing_leaks_a_token() {
        let (ks, _vfs) = store();
        let k = ks.create("x", Scope::Admin, None).unwrap();
        let secret = k.token.rsplit('_').next().unwrap().to_owned();
        let dbg = format!("{k:?} {ks:?} {:?}", ks.list());
        assert!(!dbg.contains(&secret), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        let errors = [
            ks.authenticate(Some(&format!("Bearer aurum_{}_{}", "0".repeat(16), secret))).unwrap_err(),
            ks.authenticate(Some(&format!("Bearer {}x", k.token))).unwrap_err(),
            ks.authenticate(Some(&format!("Basic {}", k.token))).unwrap_err(),
        ];
        for e in errors {
            assert!(!e.to_string().contains(&secret) && !format!("{e:?}").contains(&secret));
        }
    }

    #[test]
    fn names_and_limits_are_validated() {
        let (ks, _vfs) = store();
        assert!(matches!(ks.create("", Scope::Read, None), Err(AuthError::InvalidName(_))));
        assert!(matches!(ks.create(&"n".repeat(65), Scope::Read, None), Err(AuthError::InvalidName(_))));
        assert!(matches!(ks.create("a\nb", Scope::Read, None), Err(AuthError::InvalidName(_))));
        assert!(ks.create(&"é".repeat(64), Scope::Read, None).is_ok(), "64 characters, more bytes");
        assert!(ks.create("treasury bot #2", Scope::Read, None).is_ok());
        assert!(matches!(ks.create("z", Scope::Read, Some(0)), Err(AuthError::InvalidRateLimit(0))));
    }

    #[test]
    fn list_is_sorted_by_creation_then_id() {
        let (ks, _vfs) = store();
        for i in 0..5 {
            ks.create(&format!("k{i}"), Scope::Read, None).unwrap();
        }
        let list = ks.list();
        assert_eq!(list.len(), 5);
        assert!(list.windows(2).all(|w| (w[0].created_at_ms, &w[0].id) <= (w[1].created_at_ms, &w[1].id)));
    }

    #[test]
    fn corrupt_record_fails_open() {
        let vfs = aurum_vfs::SimVfs::new(9);
        let db = sim_db(&vfs);
        db.put(b"api/keys/0123456789abcdef", b"{not json").unwrap();
        let err = KeyStore::open(db).unwrap_err();
        assert!(matches!(err, AuthError::Store(_)), "{err}");
    }

    #[test]
    fn key_store_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<KeyStore>();
    }
}
