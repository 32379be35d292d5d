//! Reserve attestations: the custodian signs (ed25519) a digest of the bar list it holds and the total fine weight
//! of the bars it allocates to the program; the connector verifies the signature, recomputes the digest and the
//! total from the bar list itself, and only then updates the reserve feed that the token's secure mint reads.
//!
//! Canonical message (UTF-8, `\n`-separated): `aurum-reserve/v1`, custodian, bar list SHA-256 (hex), total fine
//! weight (troy oz, exactly 3 decimals), allocation (empty: every allocated bar), as-of (Unix ms).

use aurum_chain::AggregatorFeed;
use aurum_chain::alloy::primitives::{I256, TxHash};
use aurum_chain::alloy::providers::DynProvider;
use aurum_chain::send;
use aurum_ledger::decimal::{format_amount, parse_amount};
use aurum_recon::barlist::{self, BarStatus};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Domain separation of the message.
pub const DOMAIN: &str = "aurum-reserve/v1";

/// A custodian's signed statement of the reserve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The custodian's name.
    pub custodian: String,
    /// SHA-256 of the bar list file's bytes (hex).
    pub bar_list_sha256: String,
    /// Σ fine weight of the allocated bars, troy oz with 3 decimals (`"1997.840"`).
    pub fine_oz: String,
    /// The allocation counted (empty: every allocated bar).
    pub allocation: String,
    /// When (Unix ms).
    pub as_of_ms: i64,
    /// ed25519 signature of the canonical message (hex).
    pub signature: String,
}

/// Why an attestation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The signature does not verify under the custodian's key.
    #[error("the attestation's signature does not verify under custodian {0:?}'s key (forged or altered)")]
    BadSignature(String),
    /// The bar list is not the one attested.
    #[error("the bar list's SHA-256 is {actual}, the attestation names {attested}")]
    DigestMismatch {
        /// Of the file given.
        actual: String,
        /// In the attestation.
        attested: String,
    },
    /// The total does not follow from the bar list.
    #[error("the attestation states {attested} oz but the bar list's allocated bars weigh {actual} oz")]
    TotalMismatch {
        /// Stated.
        attested: String,
        /// Recomputed.
        actual: String,
    },
    /// The bar list does not parse.
    #[error(transparent)]
    BarList(#[from] barlist::BarListError),
    /// A field is malformed.
    #[error("malformed attestation: {0}")]
    Malformed(String),
    /// Updating the feed failed.
    #[error(transparent)]
    Chain(#[from] aurum_chain::Error),
}

fn message(a: &Attestation) -> Vec<u8> {
    format!("{DOMAIN}\n{}\n{}\n{}\n{}\n{}", a.custodian, a.bar_list_sha256, a.fine_oz, a.allocation, a.as_of_ms)
        .into_bytes()
}

/// Σ fine weight (thousandths of an ounce) of the bars of `list` allocated to `allocation` (all if empty),
/// counting each bar key once.
pub fn allocated_fine(list: &barlist::BarList, allocation: &str) -> u128 {
    let mut seen = std::collections::BTreeSet::new();
    list.bars
        .iter()
        .filter(|b| b.status == BarStatus::Allocated)
        .filter(|b| allocation.is_empty() || b.allocation.eq_ignore_ascii_case(allocation))
        .filter(|b| seen.insert(b.key()))
        .map(|b| b.fine_milli_oz)
        .sum()
}

/// What a custodian does: attest `bar_list_bytes` (its digest and allocated total) at `as_of_ms`.
pub fn attest(
    key: &SigningKey,
    custodian: &str,
    bar_list_bytes: &[u8],
    allocation: &str,
    as_of_ms: i64,
) -> Result<Attestation, AttestError> {
    let list = barlist::parse(bar_list_bytes)?;
    let mut a = Attestation {
        custodian: custodian.to_string(),
        bar_list_sha256: list.sha256.clone(),
        fine_oz: format_amount(allocated_fine(&list, allocation), 3),
        allocation: allocation.to_string(),
        as_of_ms,
        signature: String::new(),
    };
    a.signature = hex::encode(key.sign(&message(&a)).to_bytes());
    Ok(a)
}

/// Verifies `a` against the custodian's `key` and the bar list's bytes; returns the attested total in
/// thousandths of an ounce.
pub fn verify(a: &Attestation, key: &VerifyingKey, bar_list_bytes: &[u8]) -> Result<u128, AttestError> {
    let sig: [u8; 64] = hex::decode(a.signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AttestError::Malformed("the signature is not 128 hex digits".into()))?;
    key.verify(&message(a), &Signature::from_bytes(&sig))
        .map_err(|_| AttestError::BadSignature(a.custodian.clone()))?;
    let list = barlist::parse(bar_list_bytes)?;
    if list.sha256 != a.bar_list_sha256 {
        return Err(AttestError::DigestMismatch { actual: list.sha256, attested: a.bar_list_sha256.clone() });
    }
    let attested =
        parse_amount(&a.fine_oz, 3).map_err(|e| AttestError::Malformed(format!("fine_oz {:?}: {e}", a.fine_oz)))?;
    let actual = allocated_fine(&list, &a.allocation);
    if attested != actual {
        return Err(AttestError::TotalMismatch { attested: a.fine_oz.clone(), actual: format_amount(actual, 3) });
    }
    Ok(actual)
}

/// Verifies `a` and, if it holds, posts its total on the reserve feed (answer = oz × 10^decimals). The provider
/// must sign as an updater of the feed.
pub async fn verify_and_publish(
    a: &Attestation,
    key: &VerifyingKey,
    bar_list_bytes: &[u8],
    reserve_feed: &AggregatorFeed::AggregatorFeedInstance<DynProvider>,
) -> Result<(u128, TxHash), AttestError> {
    let milli_oz = verify(a, key, bar_list_bytes)?;
    let decimals = u32::from(reserve_feed.decimals().call().await.map_err(aurum_chain::Error::from)?);
    let answer = if decimals >= 3 {
        milli_oz.checked_mul(10u128.pow(decimals - 3))
    } else {
        // A feed coarser than the bars: refuse rather than round the reserve.
        (milli_oz % 10u128.pow(3 - decimals) == 0).then(|| milli_oz / 10u128.pow(3 - decimals))
    }
    .ok_or_else(|| {
        AttestError::Malformed(format!("the reserve does not fit the feed's {decimals} decimals exactly"))
    })?;
    let answer = I256::try_from(answer).map_err(|_| AttestError::Malformed("the reserve overflows".into()))?;
    let receipt = send(reserve_feed.updateAnswer(answer)).await?;
    Ok((milli_oz, receipt.transaction_hash))
}
