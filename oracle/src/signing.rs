//! Signed observations. A source signs the canonical message of each observation with its ed25519 key; the
//! connector verifies it against the key configured for that source name, so a value that was altered in transit,
//! or served by an impostor, is dropped. (On chain the connector signs with secp256k1, the EVM's scheme; ed25519
//! is between sources and the connector.)
//!
//! Canonical message (UTF-8, fields separated by `\n`, no trailing newline):
//! `aurum-oracle/v1`, source, symbol, value (exact decimal text, empty for an event), text (empty if none),
//! observed_at_ms (decimal). The signature is 64 bytes, hex-encoded in transport.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Domain separation of the canonical message (never reuse a key's signatures across protocols).
pub const DOMAIN: &str = "aurum-oracle/v1";

/// One observation as a source serves it (the ingestion framework's type: fields mapped, value exact).
pub use aurum_ingest::Observation;

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No key is configured for the source.
    #[error("no key is configured for source {0:?}")]
    UnknownSource(String),
    /// The observation carries no signature.
    #[error("source {0:?} sent no signature")]
    Missing(String),
    /// The signature is not 64 hex-encoded bytes.
    #[error("source {name:?}: the signature is not 128 hex digits")]
    Malformed {
        /// The source.
        name: String,
    },
    /// The signature does not verify: forged, or the observation was altered.
    #[error("source {0:?}: the signature does not verify (forged or altered)")]
    Invalid(String),
}

/// The canonical bytes a source signs.
pub fn message(o: &Observation) -> Vec<u8> {
    format!(
        "{DOMAIN}\n{}\n{}\n{}\n{}\n{}",
        o.source,
        o.symbol,
        o.value.as_deref().unwrap_or(""),
        o.text.as_deref().unwrap_or(""),
        o.observed_at_ms
    )
    .into_bytes()
}

/// Signs `o` with `key` (what a source does); returns the hex signature.
pub fn sign(key: &SigningKey, o: &Observation) -> String {
    hex::encode(key.sign(&message(o)).to_bytes())
}

/// The sources' public keys, by source name.
#[derive(Debug, Clone, Default)]
pub struct SourceKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl SourceKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `source`'s key given as 64 hex digits; errors say which source and why.
    pub fn insert_hex(&mut self, source: &str, hex_key: &str) -> Result<(), String> {
        let bytes: [u8; 32] = hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("source {source:?}: the public key is not 64 hex digits"))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|e| format!("source {source:?}: invalid public key: {e}"))?;
        self.keys.insert(source.to_string(), key);
        Ok(())
    }

    /// Adds `source`'s key.
    pub fn insert(&mut self, source: &str, key: VerifyingKey) {
        self.keys.insert(source.to_string(), key);
    }

    /// Verifies `o`'s signature against its source's key.
    pub fn verify(&self, o: &Observation) -> Result<(), SignatureError> {
        let key = self.keys.get(&o.source).ok_or_else(|| SignatureError::UnknownSource(o.source.clone()))?;
        let sig = o.signature.as_deref().ok_or_else(|| SignatureError::Missing(o.source.clone()))?;
        let bytes: [u8; 64] = hex::decode(sig.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SignatureError::Malformed { name: o.source.clone() })?;
        key.verify(&message(o), &Signature::from_bytes(&bytes)).map_err(|_| SignatureError::Invalid(o.source.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> Observation {
        Observation {
            source: "lbma".into(),
            symbol: "XAU/USD".into(),
            value: Some("2650.12".into()),
            text: None,
            observed_at_ms: 1_795_000_000_000,
            received_at_ms: 1_795_000_000_100,
            signature: None,
        }
    }

    #[test]
    fn signed_observations_verify_and_any_change_breaks_them() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut keys = SourceKeys::new();
        keys.insert_hex("lbma", &hex::encode(key.verifying_key().to_bytes())).unwrap();
        let mut o = obs();
        assert_eq!(keys.verify(&o), Err(SignatureError::Missing("lbma".into())));
        o.signature = Some(sign(&key, &o));
        keys.verify(&o).unwrap();
        // received_at is the connector's, not signed: it may differ.
        o.received_at_ms += 5;
        keys.verify(&o).unwrap();
        for tamper in [
            |o: &mut Observation| o.value = Some("2650.13".into()),
            |o: &mut Observation| o.symbol = "XAU/INR".into(),
            |o: &mut Observation| o.observed_at_ms += 1,
            |o: &mut Observation| o.text = Some("x".into()),
        ] {
            let mut t = o.clone();
            tamper(&mut t);
            assert_eq!(keys.verify(&t), Err(SignatureError::Invalid("lbma".into())));
        }
        let forged = SigningKey::from_bytes(&[8; 32]);
        let mut f = obs();
        f.signature = Some(sign(&forged, &f));
        assert_eq!(keys.verify(&f), Err(SignatureError::Invalid("lbma".into())));
        let mut m = obs();
        m.signature = Some("zz".into());
        assert!(matches!(keys.verify(&m), Err(SignatureError::Malformed { .. })));
        let mut u = obs();
        u.source = "nobody".into();
        assert_eq!(keys.verify(&u), Err(SignatureError::UnknownSource("nobody".into())));
    }
}
