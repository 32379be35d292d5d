//! The audit: replay the journal from genesis (or from a snapshot) through a fresh state machine,
//! check every block's framing, sequence, chain link, hash and signature, re-execute every
//! command, compare every expiry and outcome with what the block recorded, check the ledger's
//! invariants after every block, and compare the final state and head with what the live node
//! holds. It stops at the first divergence and reports it precisely: block seq, log offset,
//! command index, expected and found.
//!
//! Checks per block, in this order (the first failing one is the divergence):
//! 1. the record is readable (log CRC and framing) — [`DivergenceKind::Unreadable`];
//! 2. the record sits at the next log offset and the block decodes — `SequenceGap`, `Undecodable`;
//! 3. its seq is the next seq and the record key is that seq — `SequenceGap`, `RecordKeyMismatch`;
//! 4. its prev_hash is the previous block's hash (or the snapshot's) — `PrevHashMismatch`;
//! 5. SHA-256 of its bytes before the hash field equals its hash — `HashMismatch`;
//! 6. its signature verifies under the node's public key — `BadSignature`;
//! 7. re-executing its commands gives the same expiries and outcomes — `ExpiryMismatch`,
//!    `OutcomeMismatch`;
//! 8. the ledger's invariants hold — `InvariantViolated` (after every block by default:
//!    [`AuditConfig::invariants_every_blocks`]; always after the last block).
//!
//! At the end: the journal must reach the expected head (a truncated tail is detected here) and the
//! replayed state must equal the live state: their canonical encodings are compared byte for byte,
//! and only if they differ is the replayed state hashed for the report (equal encodings have the
//! live state's digest).

use std::fmt;
use std::time::{Duration, Instant};

use aurum_ledger::codec::fingerprint_with;
use aurum_ledger::{BatchContext, Expiry, Ledger, Outcome};

use crate::block::{GENESIS_PREV_HASH, HASH_BYTES, hash_of_encoded};
use crate::journal::{JournalError, JournalReader, record_key};
use crate::keys;

/// Where the replay starts.
// Built once per audit and moved straight into the replay: boxing the ledger would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum AuditStart {
    /// From an empty ledger, at block 1.
    Genesis,
    /// From a (verified) snapshot of the state after block `seq`, whose hash is `hash`.
    Snapshot {
        /// The state after block `seq`.
        ledger: Ledger,
        /// The last block the snapshot includes.
        seq: u64,
        /// That block's hash.
        hash: [u8; HASH_BYTES],
    },
}

/// What to audit against.
#[derive(Debug, Clone)]
pub struct AuditConfig<'a> {
    /// The node's ed25519 public key.
    pub public_key: [u8; 32],
    /// Genesis or a snapshot.
    pub start: AuditStart,
    /// The live ledger, whose digest the replayed state must equal at the end.
    pub live: Option<&'a Ledger>,
    /// The head (seq, hash) the node acknowledged: the journal must contain this block with this
    /// hash (a journal that ends before it lost acknowledged blocks).
    pub expected_head: Option<(u64, [u8; HASH_BYTES])>,
    /// Run the full invariant check (O(state)) after every this many blocks (1: every block);
    /// always after the last. Σ debits = Σ credits per asset is checked after every block.
    pub invariants_every_blocks: u64,
}

impl AuditConfig<'_> {
    /// Audit from genesis against `public_key`, with no expectations about the end.
    pub fn new(public_key: [u8; 32]) -> AuditConfig<'static> {
        AuditConfig {
            public_key,
            start: AuditStart::Genesis,
            live: None,
            expected_head: None,
            invariants_every_blocks: 1,
        }
    }
}

/// What kind of divergence the audit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivergenceKind {
    /// The log could not return the record (CRC or framing error, I/O error).
    Unreadable,
    /// The record's bytes are not a valid block.
    Undecodable,
    /// A block is missing, repeated or out of order (seq or log offset not the next one).
    SequenceGap,
    /// The record key is not the block's seq.
    RecordKeyMismatch,
    /// The block's prev_hash is not the previous block's hash.
    PrevHashMismatch,
    /// The block's stored hash is not the hash of its bytes.
    HashMismatch,
    /// The signature does not verify under the node key.
    BadSignature,
    /// Re-executing the batch expired different pending transfers.
    ExpiryMismatch,
    /// Re-executing a command gave a different outcome.
    OutcomeMismatch,
    /// The replayed ledger broke an invariant.
    InvariantViolated,
    /// The journal ends before the head the node acknowledged.
    TruncatedTail,
    /// The block at the acknowledged head's seq has another hash.
    HeadMismatch,
    /// The snapshot the audit started from is not the state after the seq it claims.
    SnapshotMismatch,
    /// The replayed state differs from the live state.
    StateMismatch,
}

impl DivergenceKind {
    /// Stable snake_case name (used in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            DivergenceKind::Unreadable => "unreadable",
            DivergenceKind::Undecodable => "undecodable",
            DivergenceKind::SequenceGap => "sequence_gap",
            DivergenceKind::RecordKeyMismatch => "record_key_mismatch",
            DivergenceKind::PrevHashMismatch => "prev_hash_mismatch",
            DivergenceKind::HashMismatch => "hash_mismatch",
            DivergenceKind::BadSignature => "bad_signature",
            DivergenceKind::ExpiryMismatch => "expiry_mismatch",
            DivergenceKind::OutcomeMismatch => "outcome_mismatch",
            DivergenceKind::InvariantViolated => "invariant_violated",
            DivergenceKind::TruncatedTail => "truncated_tail",
            DivergenceKind::HeadMismatch => "head_mismatch",
            DivergenceKind::SnapshotMismatch => "snapshot_mismatch",
            DivergenceKind::StateMismatch => "state_mismatch",
        }
    }
}

impl fmt::Display for DivergenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first place where the journal and the replay disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The block: the seq expected at this point of the chain (for a misplaced block, the seq
    /// that should have been there; `found` says what was).
    pub seq: u64,
    /// Log offset of the record (`seq - 1` where the block belongs); `None` when the divergence
    /// is about the whole state rather than one record.
    pub log_offset: Option<u64>,
    /// Index of the command within the block, for outcome mismatches.
    pub command_index: Option<usize>,
    /// What kind.
    pub kind: DivergenceKind,
    /// What should have been there (for outcomes and expiries: what the block recorded).
    pub expected: String,
    /// What was found (for outcomes and expiries: what re-execution produced).
    pub found: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at block {}", self.kind, self.seq)?;
        if let Some(offset) = self.log_offset {
            write!(f, " (log offset {offset})")?;
        }
        if let Some(i) = self.command_index {
            write!(f, ", command {i}")?;
        }
        write!(f, ": expected {}, found {}", self.expected, self.found)
    }
}

/// The audit's result.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// Seq of the first block replayed (1 from genesis, snapshot seq + 1 from a snapshot).
    pub first_seq: u64,
    /// Blocks that passed every check.
    pub blocks_checked: u64,
    /// Commands re-executed and compared, in blocks that passed every check.
    pub commands_checked: u64,
    /// Expiries re-derived and compared, in blocks that passed every check.
    pub expiries_checked: u64,
    /// Invariant checks run.
    pub invariant_checks: u64,
    /// The last block that passed every check (or the snapshot's): (seq, hash).
    pub head: Option<(u64, [u8; HASH_BYTES])>,
    /// Digest of the replayed state at the end (`Ledger::digest`: SHA-256 of the canonical
    /// snapshot encoding); `None` if the audit stopped early.
    pub final_digest: Option<[u8; HASH_BYTES]>,
    /// Digest of the live state, if one was given.
    pub live_digest: Option<[u8; HASH_BYTES]>,
    /// Wall time of the audit.
    pub elapsed: Duration,
    /// The first divergence; `None` means the journal is intact.
    pub first_divergence: Option<Divergence>,
    /// What storage recovery found on the way (e.g. bytes the log cut from a damaged segment and
    /// where it kept them), to explain a divergence.
    pub notes: Vec<String>,
}

impl AuditReport {
    /// Whether the journal passed every check.
    pub fn is_clean(&self) -> bool {
        self.first_divergence.is_none()
    }

    /// Commands and expiries re-executed per second.
    pub fn events_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs <= 0.0 { 0.0 } else { (self.commands_checked + self.expiries_checked) as f64 / secs }
    }

    /// The report as a JSON value (for `aurum audit --json`). Hashes are lower-case hex.
    pub fn to_json_value(&self) -> serde_json::Value {
        let head = self.head.map(|(seq, hash)| serde_json::json!({ "seq": seq, "hash": hex::encode(hash) }));
        let divergence = self.first_divergence.as_ref().map(|d| {
            serde_json::json!({
                "seq": d.seq,
                "log_offset": d.log_offset,
                "command_index": d.command_index,
                "kind": d.kind.as_str(),
                "expected": d.expected,
                "found": d.found,
            })
        });
        serde_json::json!({
            "ok": self.is_clean(),
            "first_seq": self.first_seq,
            "blocks_checked": self.blocks_checked,
            "commands_checked": self.commands_checked,
            "expiries_checked": self.expiries_checked,
            "invariant_checks": self.invariant_checks,
            "head": head,
            "final_digest": self.final_digest.map(hex::encode),
            "live_digest": self.live_digest.map(hex::encode),
            "elapsed_ms": self.elapsed.as_secs_f64() * 1000.0,
            "events_per_sec": self.events_per_sec(),
            "first_divergence": divergence,
            "notes": self.notes,
        })
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first_divergence {
            None => writeln!(f, "journal OK")?,
            Some(d) => writeln!(f, "journal DIVERGES: {d}")?,
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        writeln!(
            f,
            "checked {} blocks from seq {}: {} commands, {} expiries, {} invariant checks",
            self.blocks_checked, self.first_seq, self.commands_checked, self.expiries_checked, self.invariant_checks
        )?;
        match self.head {
            Some((seq, hash)) => writeln!(f, "verified head: block {seq}, hash {}", hex::encode(hash))?,
            None => writeln!(f, "verified head: none (empty journal)")?,
        }
        if let Some(d) = self.final_digest {
            writeln!(f, "replayed state digest: {}", hex::encode(d))?;
        }
        if let Some(d) = self.live_digest {
            writeln!(f, "live state digest:     {}", hex::encode(d))?;
        }
        write!(f, "{:.3} s, {:.0} events/s", self.elapsed.as_secs_f64(), self.events_per_sec())
    }
}

/// The audit could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The public key is not a valid ed25519 point.
    #[error("audit: public key {0} is not a valid ed25519 public key")]
    InvalidPublicKey(String),
}

/// Largest block timestamp the audit re-executes: `i64::MAX` ns after the epoch (year 2262). A
/// larger one could overflow the state machine's event timestamps (a precondition of
/// `Ledger::apply`), so it is reported as undecodable instead of replayed.
pub const MAX_BLOCK_TIMESTAMP_NS: u64 = i64::MAX as u64;

fn short_hash(hash: &[u8; HASH_BYTES]) -> String {
    hex::encode(hash)
}

fn fmt_outcome(o: &Outcome) -> String {
    let amount = o.amount.map_or_else(|| "none".to_string(), |a| a.to_string());
    format!("{} at {} (amount {amount}, replayed {})", o.code.as_str(), o.timestamp.0, o.replayed)
}

fn fmt_expiries(e: &[Expiry]) -> String {
    let items: Vec<String> = e.iter().map(|x| format!("{} at {}", x.transfer.0, x.timestamp.0)).collect();
    format!("[{}]", items.join(", "))
}

/// Audit the journal read by `journal` under `config`. See the module docs for what is checked.
pub fn audit(journal: &JournalReader, config: AuditConfig<'_>) -> Result<AuditReport, AuditError> {
    audit_keep_state(journal, config).map(|(report, _)| report)
}

/// [`audit`], also returning the replayed ledger (the state after the last block that passed).
pub fn audit_keep_state(journal: &JournalReader, config: AuditConfig<'_>) -> Result<(AuditReport, Ledger), AuditError> {
    if ed25519_dalek::VerifyingKey::from_bytes(&config.public_key).is_err() {
        return Err(AuditError::InvalidPublicKey(hex::encode(config.public_key)));
    }
    let started = Instant::now();
    let AuditConfig { public_key, start, live, expected_head, invariants_every_blocks } = config;
    let every = invariants_every_blocks.max(1);
    let (mut ledger, start_seq, start_hash) = match start {
        // With the live state at hand, size the replay for it: no arena copies or index rehashes
        // while millions of transfers are replayed.
        AuditStart::Genesis => {
            let ledger = live.map_or_else(Ledger::new, |l| {
                let ids = usize::try_from(l.transfer_id_count()).unwrap_or(0);
                Ledger::with_capacity(ids, usize::try_from(l.account_count()).unwrap_or(0))
            });
            (ledger, 0, GENESIS_PREV_HASH)
        }
        AuditStart::Snapshot { ledger, seq, hash } => (ledger, seq, hash),
    };
    let mut report = AuditReport {
        first_seq: start_seq + 1,
        blocks_checked: 0,
        commands_checked: 0,
        expiries_checked: 0,
        invariant_checks: 0,
        head: (start_seq > 0).then_some((start_seq, start_hash)),
        final_digest: None,
        live_digest: None,
        elapsed: Duration::ZERO,
        first_divergence: None,
        notes: Vec::new(),
    };
    let chain = Chain { public_key, start_seq, start_hash, every, expected_head };
    // The two end-of-audit digests each encode and hash the whole state (O(state)), so neither
    // waits for the end if it need not: the live state cannot change while the audit runs (the
    // caller holds it), so its digest is computed by a second thread while the replay runs; the
    // replayed state is then compared with it encoding against encoding (no second hash when
    // they are equal), alongside the last full invariant check. (If the replay
    // diverges, the live digest was wasted work, bounded by what a clean audit spends anyway.)
    let divergence = std::thread::scope(|s| {
        let live_digest = live.map(|l| s.spawn(move || l.digest()));
        let finished = match replay(journal, &chain, &mut ledger, &mut report) {
            Ok(finished) => finished,
            Err(d) => return Some(d),
        };
        let ledger = &ledger;
        // The replayed state's digest: with the live state at hand, the two encodings are
        // compared byte for byte (a fraction of the cost of hashing one) and, when equal, the
        // live digest is the replayed one too; otherwise (or offline) it is hashed.
        let digest = s.spawn(move || match live {
            Some(live) if ledger.same_encoding(live) => None,
            _ => Some(ledger.digest()),
        });
        if let Some(last) = finished.unchecked_last {
            report.invariant_checks += 1;
            if let Err(v) = ledger.check_invariants() {
                return Some(Divergence {
                    seq: last,
                    log_offset: Some(last - 1),
                    command_index: None,
                    kind: DivergenceKind::InvariantViolated,
                    expected: "every ledger invariant holds".into(),
                    found: v.0,
                });
            }
        }
        let digest = digest.join().expect("digest thread");
        let live = live.zip(live_digest.map(|h| h.join().expect("live digest thread")));
        let digest = match (digest, live) {
            (Some(digest), _) => digest,
            (None, Some((_, live_digest))) => live_digest,
            (None, None) => unreachable!("the encodings are compared only with a live state"),
        };
        check_end(expected_head, live, digest, &mut report).err()
    });
    report.first_divergence = divergence;
    report.elapsed = started.elapsed();
    Ok((report, ledger))
}

/// Where the replay starts and what it checks against.
struct Chain {
    public_key: [u8; 32],
    start_seq: u64,
    start_hash: [u8; HASH_BYTES],
    every: u64,
    expected_head: Option<(u64, [u8; HASH_BYTES])>,
}

/// How a replay without divergence ended.
struct Finished {
    /// The last block replayed, if the full invariant check has not run since it (the caller runs
    /// it, alongside the state digest).
    unchecked_last: Option<u64>,
}

fn replay(
    journal: &JournalReader,
    chain: &Chain,
    ledger: &mut Ledger,
    report: &mut AuditReport,
) -> Result<Finished, Divergence> {
    let Chain { public_key, start_seq, start_hash, every, expected_head } = *chain;
    let public_key = &public_key;
    let diverge = |seq: u64, command_index: Option<usize>, kind, expected: String, found: String| Divergence {
        seq,
        log_offset: Some(seq - 1),
        command_index,
        kind,
        expected,
        found,
    };
    if ledger.last_seq() != start_seq {
        return Err(Divergence {
            seq: start_seq,
            log_offset: None,
            command_index: None,
            kind: DivergenceKind::SnapshotMismatch,
            expected: format!("a ledger state after block {start_seq}"),
            found: format!("a ledger state after block {}", ledger.last_seq()),
        });
    }
    let mut seq = start_seq + 1;
    let mut prev_hash = start_hash;
    let mut last_invariant_check = start_seq;
    let blocks = match journal.read_blocks(seq) {
        Ok(blocks) => blocks,
        Err(e) => {
            return Err(diverge(
                seq,
                None,
                DivergenceKind::Unreadable,
                format!("a readable journal from block {seq}"),
                e.to_string(),
            ));
        }
    };
    // Pipeline: a second thread reads, decodes, hashes and checks the signature of the next blocks
    // while this one re-executes the current one; the channel bounds how far it runs ahead.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Verified>(AUDIT_READ_AHEAD_BLOCKS);
        scope.spawn(move || {
            let mut scratch = Vec::new();
            for item in blocks {
                let (computed, signature_ok, fingerprints) = match &item {
                    Ok(raw) => match &raw.block {
                        Ok(block) => (
                            hash_of_encoded(&raw.bytes),
                            keys::verify(public_key, &block.hash, &block.signature),
                            block.commands.iter().map(|c| fingerprint_with(c, &mut scratch)).collect(),
                        ),
                        Err(_) => (None, false, Vec::new()),
                    },
                    Err(_) => (None, false, Vec::new()),
                };
                if tx.send(Verified { item, computed, signature_ok, fingerprints }).is_err() {
                    return; // the replay stopped at a divergence
                }
            }
        });
        for Verified { item, computed, signature_ok, fingerprints } in rx {
            let raw = match item {
                Ok(raw) => raw,
                Err(JournalError::Unreadable { offset, source }) => {
                    return Err(Divergence {
                        seq: offset + 1,
                        log_offset: Some(offset),
                        command_index: None,
                        kind: DivergenceKind::Unreadable,
                        expected: format!("a readable record holding block {}", offset + 1),
                        found: source.to_string(),
                    });
                }
                Err(e) => {
                    return Err(diverge(
                        seq,
                        None,
                        DivergenceKind::Unreadable,
                        format!("a readable record holding block {seq}"),
                        e.to_string(),
                    ));
                }
            };
            if raw.offset != seq - 1 {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::SequenceGap,
                    format!("block {seq} at log offset {}", seq - 1),
                    format!("next record at log offset {}", raw.offset),
                ));
            }
            let block = match raw.block {
                Ok(block) => block,
                Err(e) => {
                    return Err(diverge(
                        seq,
                        None,
                        DivergenceKind::Undecodable,
                        format!("a valid block ({} bytes read)", raw.bytes.len()),
                        e.to_string(),
                    ));
                }
            };
            if block.seq != seq {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::SequenceGap,
                    format!("block {seq}"),
                    format!("block {}", block.seq),
                ));
            }
            let key = record_key(seq);
            if raw.key.as_deref() != Some(&key[..]) {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::RecordKeyMismatch,
                    format!("record key {}", hex::encode(key)),
                    raw.key.map_or_else(|| "no key".to_string(), hex::encode),
                ));
            }
            if block.prev_hash != prev_hash {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::PrevHashMismatch,
                    format!("prev_hash {}", short_hash(&prev_hash)),
                    format!("prev_hash {}", short_hash(&block.prev_hash)),
                ));
            }
            // Decoding succeeded, so the bytes hold a whole trailer.
            let computed = computed.unwrap_or([0; HASH_BYTES]);
            if computed != block.hash {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::HashMismatch,
                    format!("hash {} (SHA-256 of the block's bytes)", short_hash(&computed)),
                    format!("stored hash {}", short_hash(&block.hash)),
                ));
            }
            if !signature_ok {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::BadSignature,
                    format!("an ed25519 signature of the hash by {}", hex::encode(public_key)),
                    format!("signature {} does not verify", hex::encode(block.signature)),
                ));
            }
            if block.timestamp.0 > MAX_BLOCK_TIMESTAMP_NS {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::Undecodable,
                    format!("a timestamp of at most {MAX_BLOCK_TIMESTAMP_NS} ns"),
                    format!("timestamp {} ns", block.timestamp.0),
                ));
            }
            let replayed = ledger.apply_fingerprinted(
                BatchContext { seq, timestamp: block.timestamp },
                &block.commands,
                &fingerprints,
            );
            if replayed.expired != block.result.expired {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::ExpiryMismatch,
                    format!("expiries {}", fmt_expiries(&block.result.expired)),
                    format!("expiries {}", fmt_expiries(&replayed.expired)),
                ));
            }
            let n = block.result.outcomes.len().max(replayed.outcomes.len());
            for i in 0..n {
                let recorded = block.result.outcomes.get(i);
                let got = replayed.outcomes.get(i);
                if recorded != got {
                    return Err(diverge(
                        seq,
                        Some(i),
                        DivergenceKind::OutcomeMismatch,
                        recorded.map_or_else(|| "no outcome".to_string(), fmt_outcome),
                        got.map_or_else(|| "no outcome".to_string(), fmt_outcome),
                    ));
                }
            }
            // Σ debits = Σ credits per asset after every block (cheap); the full O(state) check at
            // the configured cadence and after the last block.
            if let Err(v) = ledger.check_balances() {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::InvariantViolated,
                    "debits equal credits per asset".into(),
                    v.0,
                ));
            }
            if (seq - start_seq) % every == 0 {
                report.invariant_checks += 1;
                last_invariant_check = seq;
                if let Err(v) = ledger.check_invariants() {
                    return Err(diverge(
                        seq,
                        None,
                        DivergenceKind::InvariantViolated,
                        "every ledger invariant holds".into(),
                        v.0,
                    ));
                }
            }
            if let Some((want_seq, want_hash)) = expected_head
                && want_seq == seq
                && want_hash != block.hash
            {
                return Err(diverge(
                    seq,
                    None,
                    DivergenceKind::HeadMismatch,
                    format!("the acknowledged head: block {want_seq} with hash {}", short_hash(&want_hash)),
                    format!("hash {}", short_hash(&block.hash)),
                ));
            }
            report.blocks_checked += 1;
            report.commands_checked += block.commands.len() as u64;
            report.expiries_checked += block.result.expired.len() as u64;
            report.head = Some((seq, block.hash));
            prev_hash = block.hash;
            seq += 1;
        }
        let last = seq - 1;
        Ok(Finished { unchecked_last: (last != last_invariant_check).then_some(last) })
    })
}

/// Blocks the audit's reader thread may decode and verify ahead of the replay.
const AUDIT_READ_AHEAD_BLOCKS: usize = 4;

/// A block read, decoded, hashed and signature-checked by the reader thread, with its commands'
/// fingerprints (the idempotency keys the replay needs, computed off the replay's thread).
struct Verified {
    item: Result<crate::journal::RawBlock, JournalError>,
    computed: Option<[u8; HASH_BYTES]>,
    signature_ok: bool,
    fingerprints: Vec<u128>,
}

/// The end of a clean replay: the journal reaches the expected head, and the replayed state's
/// `digest` equals the live state's (`live`: the live ledger and its digest).
fn check_end(
    expected_head: Option<(u64, [u8; HASH_BYTES])>,
    live: Option<(&Ledger, [u8; 32])>,
    digest: [u8; 32],
    report: &mut AuditReport,
) -> Result<(), Divergence> {
    let (head_seq, head_hash) = report.head.unwrap_or((0, GENESIS_PREV_HASH));
    if let Some((want_seq, want_hash)) = expected_head {
        if want_seq > head_seq {
            return Err(Divergence {
                seq: head_seq + 1,
                log_offset: Some(head_seq),
                command_index: None,
                kind: DivergenceKind::TruncatedTail,
                expected: format!("blocks up to {want_seq} (hash {})", short_hash(&want_hash)),
                found: if head_seq == 0 {
                    "an empty journal".to_string()
                } else {
                    format!("the journal ends after block {head_seq}")
                },
            });
        }
        if want_seq == head_seq && want_hash != head_hash {
            // Only reachable when the snapshot is the head (replayed blocks are checked in replay).
            return Err(Divergence {
                seq: head_seq,
                log_offset: head_seq.checked_sub(1),
                command_index: None,
                kind: DivergenceKind::HeadMismatch,
                expected: format!("the acknowledged head: block {want_seq} with hash {}", short_hash(&want_hash)),
                found: format!("hash {}", short_hash(&head_hash)),
            });
        }
    }
    report.final_digest = Some(digest);
    if let Some((live, live_digest)) = live {
        report.live_digest = Some(live_digest);
        if live_digest != digest {
            return Err(Divergence {
                seq: head_seq,
                log_offset: None,
                command_index: None,
                kind: DivergenceKind::StateMismatch,
                expected: format!("live state after block {} (digest {})", live.last_seq(), hex::encode(live_digest)),
                found: format!("replayed state after block {head_seq} (digest {})", hex::encode(digest)),
            });
        }
    }
    Ok(())
}
