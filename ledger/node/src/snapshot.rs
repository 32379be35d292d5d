//! Signed snapshots of the ledger state in the KV store, for fast restart (restart = latest valid
//! snapshot + replay of the journal tail) and for audits that start from a snapshot.
//!
//! Layout in the KV store (all under `ledger/snapshot/`):
//! ```text
//! ledger/snapshot/<seq:020>/chunk/<i:08>   the state encoding, in chunks of SNAPSHOT_CHUNK_BYTES
//! ledger/snapshot/<seq:020>/meta           written last: the commit point of the snapshot
//! ```
//! `meta` (little-endian): u32 magic "ASN1" | u64 seq | [32] block hash at seq | [32] state digest
//! (SHA-256 of the whole encoding) | u64 encoding length | u32 chunk count | [64] ed25519 signature
//! by the node key over SHA-256("aurum-snapshot-v1" ‖ the 88 bytes before the signature).
//!
//! A snapshot is valid only if its meta verifies under the node's public key and its chunks hash
//! to the digest. Loading takes the newest valid one; a damaged one is skipped, never trusted.

use aurum_kv::{Db, WriteBatch};
use aurum_ledger::Ledger;
use sha2::{Digest, Sha256};

use crate::keys::{self, NodeKey};

/// Bytes per snapshot chunk (each chunk is one KV value; the KV's MAX_VALUE_BYTES is 8 MiB).
pub const SNAPSHOT_CHUNK_BYTES: usize = 4 << 20;
/// Chunks per KV write batch (the KV's MAX_BATCH_BYTES is 32 MiB).
const CHUNKS_PER_WRITE: usize = 4;
/// Snapshots kept; older ones are deleted after a new one is complete.
pub const SNAPSHOTS_KEPT: usize = 2;
const PREFIX: &str = "ledger/snapshot/";
const META_MAGIC: u32 = 0x314E_5341; // "ASN1"
const META_BYTES: usize = 4 + 8 + 32 + 32 + 8 + 4 + 64;
const SIGNING_DOMAIN: &[u8] = b"aurum-snapshot-v1";

/// Snapshot errors.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The KV store failed.
    #[error("snapshot store: {0}")]
    Kv(#[from] aurum_kv::Error),
    /// A snapshot failed validation.
    #[error("snapshot at seq {seq} is invalid: {reason}")]
    Invalid {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// A snapshot's signed description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Sequence number of the last block applied.
    pub seq: u64,
    /// Hash of that block.
    pub block_hash: [u8; 32],
    /// SHA-256 of the state encoding.
    pub digest: [u8; 32],
    /// Length of the state encoding.
    pub len: u64,
    /// Number of chunks.
    pub chunks: u32,
    /// Node signature.
    pub signature: [u8; 64],
}

impl SnapshotMeta {
    fn unsigned_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(META_BYTES);
        out.extend_from_slice(&META_MAGIC.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.block_hash);
        out.extend_from_slice(&self.digest);
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.chunks.to_le_bytes());
        out
    }

    fn signing_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(SIGNING_DOMAIN);
        h.update(self.unsigned_bytes());
        h.finalize().into()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = self.unsigned_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    fn decode(bytes: &[u8]) -> Option<SnapshotMeta> {
        if bytes.len() != META_BYTES || bytes[0..4] != META_MAGIC.to_le_bytes() {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Some(SnapshotMeta {
            seq: u64_at(4),
            block_hash: bytes[12..44].try_into().expect("32 bytes"),
            digest: bytes[44..76].try_into().expect("32 bytes"),
            len: u64_at(76),
            chunks: u32::from_le_bytes(bytes[84..88].try_into().expect("4 bytes")),
            signature: bytes[88..152].try_into().expect("64 bytes"),
        })
    }
}

fn seq_prefix(seq: u64) -> String {
    format!("{PREFIX}{seq:020}/")
}

/// Write a signed snapshot of `ledger` (whose last block is `seq` with hash `block_hash`); then
/// delete snapshots beyond the newest [`SNAPSHOTS_KEPT`].
pub fn write(db: &Db, key: &NodeKey, ledger: &Ledger, block_hash: [u8; 32]) -> Result<SnapshotMeta, SnapshotError> {
    store(db, key, &Encoded::of(ledger, block_hash))
}

/// A ledger state encoded for a snapshot: what must be taken while the state is held still. The
/// rest (hashing, signing, writing to the KV store) can happen elsewhere while writers go on.
#[derive(Debug)]
pub struct Encoded {
    seq: u64,
    block_hash: [u8; 32],
    bytes: Vec<u8>,
}

impl Encoded {
    /// Encode `ledger`, whose last block is `block_hash`.
    pub fn of(ledger: &Ledger, block_hash: [u8; 32]) -> Encoded {
        let mut bytes = Vec::new();
        ledger.encode_snapshot(&mut bytes);
        Encoded { seq: ledger.last_seq(), block_hash, bytes }
    }

    /// The block the state includes.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// Hash, sign and store an encoded snapshot, then prune old ones.
pub fn store(db: &Db, key: &NodeKey, encoded: &Encoded) -> Result<SnapshotMeta, SnapshotError> {
    let Encoded { seq, block_hash, bytes } = encoded;
    let (seq, block_hash) = (*seq, *block_hash);
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    let chunks: Vec<&[u8]> = bytes.chunks(SNAPSHOT_CHUNK_BYTES).collect();
    let prefix = seq_prefix(seq);
    for (n, group) in chunks.chunks(CHUNKS_PER_WRITE).enumerate() {
        let mut batch = WriteBatch::new();
        for (j, chunk) in group.iter().enumerate() {
            let i = n * CHUNKS_PER_WRITE + j;
            batch.put(format!("{prefix}chunk/{i:08}").as_bytes(), chunk);
        }
        db.write(batch)?;
    }
    let mut meta = SnapshotMeta {
        seq,
        block_hash,
        digest,
        len: bytes.len() as u64,
        chunks: u32::try_from(chunks.len()).expect("chunk count fits u32"),
        signature: [0; 64],
    };
    meta.signature = key.sign(&meta.signing_hash());
    db.put(format!("{prefix}meta").as_bytes(), &meta.encode())?;
    prune(db)?;
    Ok(meta)
}

/// Every snapshot meta present (valid or not), newest first.
pub fn list(db: &Db) -> Result<Vec<(u64, Option<SnapshotMeta>)>, SnapshotError> {
    let mut out = Vec::new();
    for item in db.scan_prefix(PREFIX.as_bytes())? {
        let (k, v) = item?;
        let key = String::from_utf8_lossy(&k);
        if let Some(rest) = key.strip_prefix(PREFIX)
            && let Some(seq) = rest.strip_suffix("/meta")
            && let Ok(seq) = seq.parse::<u64>()
        {
            out.push((seq, SnapshotMeta::decode(&v)));
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    Ok(out)
}

/// Load and verify the snapshot at `seq`.
pub fn load(db: &Db, public_key: &[u8; 32], seq: u64) -> Result<(SnapshotMeta, Ledger), SnapshotError> {
    let invalid = |reason: String| SnapshotError::Invalid { seq, reason };
    let prefix = seq_prefix(seq);
    let meta_bytes = db.get(format!("{prefix}meta").as_bytes())?.ok_or_else(|| invalid("no meta".into()))?;
    let meta = SnapshotMeta::decode(&meta_bytes).ok_or_else(|| invalid("meta does not decode".into()))?;
    if meta.seq != seq {
        return Err(invalid(format!("meta names seq {}", meta.seq)));
    }
    if !keys::verify(public_key, &meta.signing_hash(), &meta.signature) {
        return Err(invalid("signature does not verify under the node key".into()));
    }
    let len = usize::try_from(meta.len).map_err(|_| invalid("length too large".into()))?;
    let mut bytes = Vec::with_capacity(len.min(1 << 30));
    for i in 0..meta.chunks {
        let chunk =
            db.get(format!("{prefix}chunk/{i:08}").as_bytes())?.ok_or_else(|| invalid(format!("chunk {i} missing")))?;
        bytes.extend_from_slice(&chunk);
    }
    if bytes.len() != len {
        return Err(invalid(format!("chunks hold {} bytes, meta says {len}", bytes.len())));
    }
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if digest != meta.digest {
        return Err(invalid("chunks do not hash to the signed digest".into()));
    }
    let ledger = Ledger::decode_snapshot(&bytes).map_err(|e| invalid(format!("state does not decode: {e}")))?;
    if ledger.last_seq() != seq {
        return Err(invalid(format!("state is at seq {}", ledger.last_seq())));
    }
    Ok((meta, ledger))
}

/// The newest valid snapshot (if any), and the damaged ones skipped on the way.
pub type Latest = (Option<(SnapshotMeta, Ledger)>, Vec<SnapshotError>);

/// The newest snapshot that verifies, skipping (and reporting) damaged ones.
pub fn load_latest(db: &Db, public_key: &[u8; 32]) -> Result<Latest, SnapshotError> {
    let mut skipped = Vec::new();
    for (seq, _) in list(db)? {
        match load(db, public_key, seq) {
            Ok(found) => return Ok((Some(found), skipped)),
            Err(e @ SnapshotError::Invalid { .. }) => skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok((None, skipped))
}

fn prune(db: &Db) -> Result<(), SnapshotError> {
    let metas = list(db)?;
    for (seq, _) in metas.into_iter().skip(SNAPSHOTS_KEPT) {
        let prefix = seq_prefix(seq);
        // The meta goes first: a half-deleted snapshot must never look complete.
        db.delete(format!("{prefix}meta").as_bytes())?;
        let keys: Vec<Vec<u8>> =
            db.scan_prefix(prefix.as_bytes())?.map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
        let mut batch = WriteBatch::new();
        for k in keys {
            batch.delete(&k);
        }
        if !batch.is_empty() {
            db.write(batch)?;
        }
    }
    Ok(())
}
