//! The journal: blocks stored as records of one ordered partition, one record per block (key:
//! seq as 8 bytes big-endian; value: the encoded block). Where the records live is a
//! [`JournalBackend`]: the single-partition topic [`JOURNAL_TOPIC`] of the embedded `aurum-log`
//! ([`LogJournal`], the default), or a Kafka topic (`aurum-kafka`).
//!
//! Offsets are dense and the topic has no retention, so **the block with seq `s` is the record at
//! offset `s - 1`**. The writer checks this on every append (from the backend's acknowledgement,
//! which must also be as strong as its [`JournalPolicy`] demands); readers and the audit check it
//! on every record.
//!
//! [`Journal`] is the writer (one per node). [`JournalReader`] only reads: it never creates the
//! topic and opens even when the last block is damaged, which is what the audit needs.

use std::sync::Arc;

use aurum_log::Log;
use parking_lot::Mutex;

use crate::block::{Block, BlockError, GENESIS_PREV_HASH, HASH_BYTES, MAX_BLOCK_BYTES};

mod backend;
mod embedded;

pub use backend::{AckStrength, JournalAck, JournalBackend, JournalExtent, JournalPolicy, RecordIter, StoredRecord};
pub use embedded::{LogJournal, journal_topic_config};

/// A backend's error, boxed so that this crate names no backend's error type.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// The journal's topic.
pub const JOURNAL_TOPIC: &str = "ledger.journal";
/// The journal topic's only partition.
pub const JOURNAL_PARTITION: u32 = 0;
/// Bytes asked of the log per fetch when reading blocks in order.
pub const READ_CHUNK_BYTES: usize = 1 << 20;
/// Size of a journal record key: the block's seq as a big-endian u64.
pub const RECORD_KEY_BYTES: usize = 8;

/// The record key of block `seq`.
pub fn record_key(seq: u64) -> [u8; RECORD_KEY_BYTES] {
    seq.to_be_bytes()
}

/// Journal errors. Messages say what and where (topic, log offset, seq).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The log failed while opening, creating or inspecting the journal topic.
    #[error("journal topic {JOURNAL_TOPIC:?}: {what}: {source}")]
    Log {
        /// What the journal was doing.
        what: String,
        /// The log's error.
        #[source]
        source: aurum_log::Error,
    },
    /// A backend other than the embedded log failed (Kafka, for instance).
    #[error("journal: {what}: {source}")]
    Backend {
        /// What the journal was doing, and on which backend.
        what: String,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// The record at `offset` could not be read (bad CRC or framing, I/O error).
    #[error("journal: record at log offset {offset} (block seq {}) is unreadable: {source}", offset + 1)]
    Unreadable {
        /// Log offset of the record.
        offset: u64,
        /// The backend's error (`aurum_log::Error::Corrupt` names file and byte).
        #[source]
        source: BackendError,
    },
    /// The topic exists with a configuration the journal cannot use.
    #[error("journal topic has an unusable configuration: {reason}")]
    TopicConfig {
        /// What is wrong.
        reason: String,
    },
    /// A record that should hold a block does not.
    #[error("journal: record at log offset {offset}: {reason}")]
    BadRecord {
        /// Log offset of the record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The block does not continue the chain (an engine bug: nothing was written).
    #[error("journal append refused: {reason}")]
    NotContiguous {
        /// Expected and found seq or prev_hash.
        reason: String,
    },
    /// The encoded block does not fit one log record (nothing was written).
    #[error("journal append refused: block {seq} is {bytes} bytes, more than the limit {max}")]
    BlockTooLarge {
        /// The block.
        seq: u64,
        /// Its encoded size.
        bytes: usize,
        /// [`MAX_BLOCK_BYTES`].
        max: usize,
    },
    /// The append of block `seq` failed: it may or may not be in the log, so the journal refuses
    /// further appends until it is reopened (and the head re-read).
    #[error("journal append of block {seq} failed ({cause}); the journal refuses appends until reopened")]
    AppendFailed {
        /// The block.
        seq: u64,
        /// What failed.
        cause: String,
    },
    /// An earlier append failed.
    #[error("journal is poisoned after a failed append of block {seq}; reopen it to recover")]
    Poisoned {
        /// The block whose append failed.
        seq: u64,
    },
}

/// One journal record as read, with where it is and whether it decodes, so that a reader can
/// report damage precisely (log offset and expected seq).
#[derive(Debug, Clone)]
pub struct RawBlock {
    /// Log offset of the record (the block with seq `s` belongs at offset `s - 1`).
    pub offset: u64,
    /// The record key (should be the block's seq, 8 bytes big-endian).
    pub key: Option<Vec<u8>>,
    /// The record value: the encoded block (empty for a record without a value).
    pub bytes: Vec<u8>,
    /// The decoded block, or why the bytes are not one.
    pub block: Result<Block, BlockError>,
}

impl RawBlock {
    /// The seq a block at this record's offset must have.
    pub fn expected_seq(&self) -> u64 {
        self.offset + 1
    }
}

/// Read-only access to a journal.
#[derive(Debug, Clone)]
pub struct JournalReader {
    backend: Arc<dyn JournalBackend>,
}

impl JournalReader {
    /// Read the journal in the embedded `log`. Creates nothing; a log without the journal topic
    /// is an empty journal.
    pub fn new(log: Log) -> JournalReader {
        JournalReader::from_backend(Arc::new(LogJournal::new(log)))
    }

    /// Read the journal stored in `backend`.
    pub fn from_backend(backend: Arc<dyn JournalBackend>) -> JournalReader {
        JournalReader { backend }
    }

    /// The backend the records are read from.
    pub fn backend(&self) -> &Arc<dyn JournalBackend> {
        &self.backend
    }

    /// Number of records readers can see (the high watermark): the seq of the last block when
    /// the journal is intact.
    pub fn record_count(&self) -> Result<u64, JournalError> {
        if !self.backend.exists()? {
            return Ok(0);
        }
        Ok(self.backend.extent()?.end)
    }

    /// The record that should hold block `seq` (`seq >= 1`), or `None` if the journal has fewer
    /// records.
    pub fn read_block(&self, seq: u64) -> Result<Option<RawBlock>, JournalError> {
        if seq == 0 || seq > self.record_count()? {
            return Ok(None);
        }
        let mut it = self.read_range(seq - 1, seq)?;
        it.next().transpose()
    }

    /// The blocks from `from_seq` (≥ 1; 0 is read as 1) to the end of the journal as it is when
    /// this is called, in log order. An unreadable record is reported at its own offset
    /// ([`JournalError::Unreadable`]), after every good record before it; the iterator ends after
    /// the first error. Fails up front only if the journal's extent cannot be read.
    pub fn read_blocks(&self, from_seq: u64) -> Result<Blocks, JournalError> {
        let end = self.record_count()?;
        self.read_range(from_seq.max(1) - 1, end)
    }

    fn read_range(&self, start: u64, end: u64) -> Result<Blocks, JournalError> {
        let records = if start < end { Some(self.backend.records(start, end)?) } else { None };
        Ok(Blocks { records })
    }
}

/// Iterator over journal records, from [`JournalReader::read_blocks`]: each record with its
/// block decoded (or why it does not decode).
pub struct Blocks {
    records: Option<RecordIter>,
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks").field("done", &self.records.is_none()).finish()
    }
}

impl Iterator for Blocks {
    type Item = Result<RawBlock, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.records.as_mut()?.next();
        match item {
            None => {
                self.records = None;
                None
            }
            Some(Err(e)) => {
                self.records = None;
                Some(Err(e))
            }
            Some(Ok(record)) => {
                let bytes = record.value.unwrap_or_default();
                let block = Block::decode(&bytes);
                Some(Ok(RawBlock { offset: record.offset, key: record.key, bytes, block }))
            }
        }
    }
}

#[derive(Debug)]
struct WriterState {
    head: Option<(u64, [u8; HASH_BYTES])>,
    poisoned: Option<u64>,
}

/// The journal writer: appends blocks durably and keeps the head of the chain.
#[derive(Debug)]
pub struct Journal {
    reader: JournalReader,
    policy: JournalPolicy,
    state: Mutex<WriterState>,
}

impl Journal {
    /// Open the journal in the embedded `log`, fsynced before every acknowledgement (see
    /// [`Journal::open_backend`]).
    pub fn open(log: Log) -> Result<Journal, JournalError> {
        Journal::open_backend(Arc::new(LogJournal::new(log)), JournalPolicy::default())
    }

    /// Open the journal in `backend`, creating its topic if it does not exist (an existing one
    /// must have the journal's configuration). The journal must start at offset 0 (no block was
    /// ever deleted); the head is read from the last record, which must decode and sit at offset
    /// `seq - 1`.
    pub fn open_backend(backend: Arc<dyn JournalBackend>, policy: JournalPolicy) -> Result<Journal, JournalError> {
        backend.create_or_check()?;
        let extent = backend.extent()?;
        if extent.log_start != 0 {
            return Err(JournalError::TopicConfig {
                reason: format!("log starts at offset {}, not 0: blocks were deleted", extent.log_start),
            });
        }
        let reader = JournalReader::from_backend(backend);
        let head = if extent.end == 0 {
            None
        } else {
            let last = extent.end - 1;
            let raw = reader.read_block(last + 1)?.ok_or_else(|| JournalError::BadRecord {
                offset: last,
                reason: "the last record is not readable".into(),
            })?;
            let block = raw.block.map_err(|e| JournalError::BadRecord {
                offset: last,
                reason: format!("the last block does not decode: {e}"),
            })?;
            if block.seq != last + 1 {
                return Err(JournalError::BadRecord {
                    offset: last,
                    reason: format!("holds block seq {}, expected {}", block.seq, last + 1),
                });
            }
            Some((block.seq, block.hash))
        };
        Ok(Journal { reader, policy, state: Mutex::new(WriterState { head, poisoned: None }) })
    }

    /// The last block appended (or found on open): (seq, hash). `None` for an empty journal.
    pub fn head(&self) -> Option<(u64, [u8; HASH_BYTES])> {
        self.state.lock().head
    }

    /// The seq and prev_hash the next block must have.
    pub fn next_position(&self) -> (u64, [u8; HASH_BYTES]) {
        match self.head() {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_PREV_HASH),
        }
    }

    /// What this journal accepts from its backend.
    pub fn policy(&self) -> JournalPolicy {
        self.policy
    }

    /// Append a block. Durable as the policy demands when this returns `Ok`. The block must
    /// continue the chain: seq = head seq + 1 and prev_hash = head hash (else nothing is
    /// written). After a failed append the journal refuses appends until reopened: the block
    /// may or may not be stored, and only a reopen re-reads the head.
    pub fn append(&self, block: &Block) -> Result<(), JournalError> {
        let mut st = self.state.lock();
        if let Some(seq) = st.poisoned {
            return Err(JournalError::Poisoned { seq });
        }
        let (want_seq, want_prev) = match st.head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_PREV_HASH),
        };
        if block.seq != want_seq {
            return Err(JournalError::NotContiguous {
                reason: format!("block seq {} but the next seq is {want_seq}", block.seq),
            });
        }
        if block.prev_hash != want_prev {
            return Err(JournalError::NotContiguous {
                reason: format!(
                    "block {} prev_hash {} but the head hash is {}",
                    block.seq,
                    hex::encode(block.prev_hash),
                    hex::encode(want_prev)
                ),
            });
        }
        let bytes = block.encode();
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(JournalError::BlockTooLarge { seq: block.seq, bytes: bytes.len(), max: MAX_BLOCK_BYTES });
        }
        debug_assert_eq!(crate::block::hash_of_encoded(&bytes), Some(block.hash), "block hash is stale");
        let timestamp_ms = i64::try_from(block.timestamp.0 / 1_000_000).unwrap_or(i64::MAX);
        let ack = match self.reader.backend.append(block.seq, timestamp_ms, &bytes) {
            Ok(ack) => ack,
            Err(e) => {
                st.poisoned = Some(block.seq);
                return Err(JournalError::AppendFailed { seq: block.seq, cause: e.to_string() });
            }
        };
        if ack.offset != block.seq - 1 {
            st.poisoned = Some(block.seq);
            return Err(JournalError::AppendFailed {
                seq: block.seq,
                cause: format!(
                    "{} stored it at offset {}, expected offset {}",
                    self.reader.backend.describe(),
                    ack.offset,
                    block.seq - 1
                ),
            });
        }
        if ack.strength < self.policy.min_ack {
            st.poisoned = Some(block.seq);
            return Err(JournalError::AppendFailed {
                seq: block.seq,
                cause: format!(
                    "{} acknowledged it as {}, and the journal requires at least {}",
                    self.reader.backend.describe(),
                    ack.strength.name(),
                    self.policy.min_ack.name()
                ),
            });
        }
        st.head = Some((block.seq, block.hash));
        Ok(())
    }

    /// The reader over this journal.
    pub fn reader(&self) -> &JournalReader {
        &self.reader
    }

    /// Shorthand for `self.reader().read_blocks(from_seq)`.
    pub fn read_blocks(&self, from_seq: u64) -> Result<Blocks, JournalError> {
        self.reader.read_blocks(from_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_key_is_big_endian_seq() {
        assert_eq!(record_key(1), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(record_key(0x0102), [0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
