//! The node's ed25519 signing key: it signs every journal block's hash (docs/journal-format.md).
//!
//! The key is created from 32 bytes of the operating system's randomness on first start and kept
//! in the node's KV store under [`NODE_KEY_KV_KEY`]. The secret never appears in a `Debug` or
//! `Display` output, a log line or an error message; only the public key is exported.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// KV key under which the node key is stored.
pub const NODE_KEY_KV_KEY: &[u8] = b"node/ed25519-signing-key";
/// Format version of the stored key value.
pub const STORED_KEY_VERSION: u8 = 1;
/// Size of the stored key value: version (1 byte), secret seed (32), public key (32).
pub const STORED_KEY_BYTES: usize = 1 + SECRET_KEY_BYTES + PUBLIC_KEY_BYTES;
/// Size of an ed25519 secret seed.
pub const SECRET_KEY_BYTES: usize = 32;
/// Size of an ed25519 public key.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Size of an ed25519 signature.
pub const SIGNATURE_BYTES: usize = 64;

fn kv_key_name() -> &'static str {
    // NODE_KEY_KV_KEY is ASCII.
    std::str::from_utf8(NODE_KEY_KV_KEY).unwrap_or("node key")
}

/// Why the node key could not be loaded or created. No variant carries secret bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The KV store failed.
    #[error("node key {key:?} in the KV store: {op} failed: {source}")]
    Kv {
        /// The KV key.
        key: &'static str,
        /// `get` or `put`.
        op: &'static str,
        /// The store's error.
        #[source]
        source: aurum_kv::Error,
    },
    /// The operating system's random number generator failed.
    #[error("creating the node key: the OS random number generator failed: {0}")]
    Random(String),
    /// The stored value is not a valid key.
    #[error("node key {key:?} in the KV store is corrupt: {reason}")]
    Corrupt {
        /// The KV key.
        key: &'static str,
        /// What is wrong (never the secret).
        reason: String,
    },
}

/// The node's ed25519 signing key.
pub struct NodeKey {
    signing: SigningKey,
    public: [u8; PUBLIC_KEY_BYTES],
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey").field("public_key", &self.public_key_hex()).finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A key from a 32-byte secret seed (RFC 8032 §5.1.5). For tests and key import.
    pub fn from_seed(seed: [u8; SECRET_KEY_BYTES]) -> NodeKey {
        let signing = SigningKey::from_bytes(&seed);
        let public = signing.verifying_key().to_bytes();
        NodeKey { signing, public }
    }

    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<NodeKey, KeyError> {
        let mut seed = [0u8; SECRET_KEY_BYTES];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = NodeKey::from_seed(seed);
        seed.fill(0);
        Ok(key)
    }

    /// Load the node key from `db`, or create, store (durably) and return a new one on first start.
    ///
    /// Stored value (under [`NODE_KEY_KV_KEY`]): version `1` (1 byte), the 32-byte secret seed, the
    /// 32-byte public key. On load the public key is derived again from the seed and must match.
    pub fn load_or_create(db: &aurum_kv::Db) -> Result<NodeKey, KeyError> {
        let key = kv_key_name();
        match db.get(NODE_KEY_KV_KEY).map_err(|source| KeyError::Kv { key, op: "get", source })? {
            Some(value) => NodeKey::decode_stored(&value),
            None => {
                let node_key = NodeKey::generate()?;
                let mut value = node_key.encode_stored();
                let put = db.put(NODE_KEY_KV_KEY, &value);
                value.fill(0);
                put.map_err(|source| KeyError::Kv { key, op: "put", source })?;
                Ok(node_key)
            }
        }
    }

    /// Store this key in `db` as the node key (durably): how a provisioned key is imported, for
    /// instance on a second machine that must sign the same journal. Refuses to replace a
    /// different key already stored — that would orphan every block it signed.
    pub fn store(&self, db: &aurum_kv::Db) -> Result<(), KeyError> {
        let key = kv_key_name();
        if let Some(existing) = db.get(NODE_KEY_KV_KEY).map_err(|source| KeyError::Kv { key, op: "get", source })? {
            let existing = NodeKey::decode_stored(&existing)?;
            if existing.public != self.public {
                return Err(KeyError::Corrupt {
                    key: kv_key_name(),
                    reason: format!(
                        "a different node key ({}) is already stored; it is never replaced",
                        existing.public_key_hex()
                    ),
                });
            }
            return Ok(());
        }
        let mut value = self.encode_stored();
        let put = db.put(NODE_KEY_KV_KEY, &value);
        value.fill(0);
        put.map_err(|source| KeyError::Kv { key: kv_key_name(), op: "put", source })
    }

    fn encode_stored(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(STORED_KEY_BYTES);
        value.push(STORED_KEY_VERSION);
        value.extend_from_slice(&self.signing.to_bytes());
        value.extend_from_slice(&self.public);
        value
    }

    fn decode_stored(value: &[u8]) -> Result<NodeKey, KeyError> {
        let key = kv_key_name();
        if value.len() != STORED_KEY_BYTES {
            return Err(KeyError::Corrupt {
                key,
                reason: format!("value is {} bytes, expected {STORED_KEY_BYTES}", value.len()),
            });
        }
        if value[0] != STORED_KEY_VERSION {
            return Err(KeyError::Corrupt {
                key,
                reason: format!("unknown version {}, expected {STORED_KEY_VERSION}", value[0]),
            });
        }
        let mut seed = [0u8; SECRET_KEY_BYTES];
        seed.copy_from_slice(&value[1..1 + SECRET_KEY_BYTES]);
        let node_key = NodeKey::from_seed(seed);
        seed.fill(0);
        if node_key.public[..] != value[1 + SECRET_KEY_BYTES..] {
            return Err(KeyError::Corrupt {
                key,
                reason: "stored public key does not match the one derived from the secret".into(),
            });
        }
        Ok(node_key)
    }

    /// The 32-byte ed25519 public key (RFC 8032 encoding).
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_BYTES] {
        self.public
    }

    /// The public key as 64 lower-case hex digits: what `aurum` exports for outside verifiers.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public)
    }

    /// Sign a 32-byte message (a block hash): pure ed25519, RFC 8032, no context.
    pub fn sign(&self, message: &[u8; 32]) -> [u8; SIGNATURE_BYTES] {
        self.signing.sign(message).to_bytes()
    }
}

/// Whether `signature` is a valid ed25519 signature of the 32-byte `message` by `public_key`.
/// Strict verification: rejects non-canonical and small-order encodings (never panics).
pub fn verify(public_key: &[u8; PUBLIC_KEY_BYTES], message: &[u8; 32], signature: &[u8; SIGNATURE_BYTES]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
}

/// Parse a public key given as 64 hex digits (as exported by [`NodeKey::public_key_hex`]).
pub fn parse_public_key_hex(text: &str) -> Option<[u8; PUBLIC_KEY_BYTES]> {
    let mut out = [0u8; PUBLIC_KEY_BYTES];
    hex::decode_to_slice(text.trim(), &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = NodeKey::from_seed([7; 32]);
        let msg = [42u8; 32];
        let sig = key.sign(&msg);
        assert!(verify(&key.public_key(), &msg, &sig));
        let mut other = msg;
        other[0] ^= 1;
        assert!(!verify(&key.public_key(), &other, &sig));
        for bit in 0..512 {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify(&key.public_key(), &msg, &bad), "flipped signature bit {bit} accepted");
        }
        let forger = NodeKey::from_seed([8; 32]);
        assert!(!verify(&key.public_key(), &msg, &forger.sign(&msg)));
        assert!(!verify(&[0xff; 32], &msg, &sig));
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1 (empty message): checks that we use plain ed25519.
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let key = NodeKey::from_seed(seed.try_into().unwrap());
        assert_eq!(key.public_key_hex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let seed = [0xabu8; 32];
        let key = NodeKey::from_seed(seed);
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains(&key.public_key_hex()));
        assert!(!shown.to_lowercase().contains(&hex::encode(seed)));
        assert!(!shown.contains("171, 171"));
    }

    #[test]
    fn stored_form_round_trips_and_detects_damage() {
        let key = NodeKey::from_seed([3; 32]);
        let stored = key.encode_stored();
        assert_eq!(stored.len(), STORED_KEY_BYTES);
        assert_eq!(NodeKey::decode_stored(&stored).unwrap().public_key(), key.public_key());
        let mut bad = stored.clone();
        bad[40] ^= 1;
        let err = NodeKey::decode_stored(&bad).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
        assert!(!err.contains(&hex::encode([3u8; 32])));
        assert!(NodeKey::decode_stored(&stored[..10]).is_err());
        let mut v2 = stored;
        v2[0] = 2;
        assert!(NodeKey::decode_stored(&v2).is_err());
    }

    #[test]
    fn public_key_hex_parses_back() {
        let key = NodeKey::from_seed([9; 32]);
        assert_eq!(parse_public_key_hex(&key.public_key_hex()), Some(key.public_key()));
        assert_eq!(parse_public_key_hex("zz"), None);
    }
}
