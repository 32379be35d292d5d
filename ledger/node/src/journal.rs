//! The journal: blocks stored as records of the single-partition topic [`JOURNAL_TOPIC`] of
//! `aurum-log`, one record per block (key: seq as 8 bytes big-endian; value: the encoded block).
//!
//! Offsets are dense and the topic has no retention, so **the block with seq `s` is the record at
//! log offset `s - 1`**. The writer checks this on every append (from the log's acknowledgement);
//! readers and the audit check it on every record.
//!
//! [`Journal`] is the writer (one per node). [`JournalReader`] only reads: it never creates the
//! topic and opens even when the last block is damaged, which is what the audit needs.

use std::collections::VecDeque;

use aurum_log::{AckDurability, CleanupPolicy, Durability, Log, ProducerRecord, Record, TopicConfig};
use parking_lot::Mutex;

use crate::block::{Block, BlockError, GENESIS_PREV_HASH, HASH_BYTES, MAX_BLOCK_BYTES};

/// The journal's topic.
pub const JOURNAL_TOPIC: &str = "ledger.journal";
/// The journal topic's only partition.
pub const JOURNAL_PARTITION: u32 = 0;
/// Bytes asked of the log per fetch when reading blocks in order.
pub const READ_CHUNK_BYTES: usize = 1 << 20;
/// Size of a journal record key: the block's seq as a big-endian u64.
pub const RECORD_KEY_BYTES: usize = 8;

/// The configuration the journal topic is created with: one partition, kept forever (no
/// retention by time or size, delete policy — never compacted), fsynced before every
/// acknowledgement.
pub fn journal_topic_config() -> TopicConfig {
    TopicConfig {
        partitions: 1,
        retention_ms: None,
        retention_bytes: None,
        cleanup: CleanupPolicy::Delete,
        durability: Durability::EveryBatch,
        ..TopicConfig::default()
    }
}

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
    /// The record at `offset` could not be read (bad CRC or framing, I/O error).
    #[error("journal topic {JOURNAL_TOPIC:?}: record at log offset {offset} (block seq {}) is unreadable: {source}", offset + 1)]
    Unreadable {
        /// Log offset of the record.
        offset: u64,
        /// The log's error (`aurum_log::Error::Corrupt` names file and byte).
        #[source]
        source: aurum_log::Error,
    },
    /// The topic exists with a configuration the journal cannot use.
    #[error("journal topic {JOURNAL_TOPIC:?} has an unusable configuration: {reason}")]
    TopicConfig {
        /// What is wrong.
        reason: String,
    },
    /// A record that should hold a block does not.
    #[error("journal topic {JOURNAL_TOPIC:?}: record at log offset {offset}: {reason}")]
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

/// Read-only access to a journal topic.
#[derive(Debug, Clone)]
pub struct JournalReader {
    log: Log,
}

impl JournalReader {
    /// Read the journal in `log`. Creates nothing; a log without the journal topic is an empty
    /// journal.
    pub fn new(log: Log) -> JournalReader {
        JournalReader { log }
    }

    /// The underlying log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    fn topic_exists(&self) -> bool {
        self.log.topics().iter().any(|t| t == JOURNAL_TOPIC)
    }

    /// Number of records readers can see (the high watermark): the seq of the last block when
    /// the journal is intact.
    pub fn record_count(&self) -> Result<u64, JournalError> {
        if !self.topic_exists() {
            return Ok(0);
        }
        let offsets = self
            .log
            .offsets(JOURNAL_TOPIC, JOURNAL_PARTITION)
            .map_err(|source| JournalError::Log { what: "reading offsets".into(), source })?;
        Ok(offsets.high_watermark)
    }

    /// The record that should hold block `seq` (`seq >= 1`), or `None` if the journal has fewer
    /// records.
    pub fn read_block(&self, seq: u64) -> Result<Option<RawBlock>, JournalError> {
        if seq == 0 || seq > self.record_count()? {
            return Ok(None);
        }
        let mut it = self.read_range(seq - 1, seq);
        it.single = true;
        it.next().transpose()
    }

    /// The blocks from `from_seq` (≥ 1; 0 is read as 1) to the end of the journal as it is when
    /// this is called, in log order. Reads in chunks of [`READ_CHUNK_BYTES`]; when a chunk fails
    /// it re-reads record by record, so an unreadable record is reported at its own offset
    /// ([`JournalError::Unreadable`]), after every good record before it. The iterator ends after
    /// the first error. Fails up front only if the journal's extent cannot be read.
    pub fn read_blocks(&self, from_seq: u64) -> Result<Blocks, JournalError> {
        let end = self.record_count()?;
        Ok(self.read_range(from_seq.max(1) - 1, end))
    }

    fn read_range(&self, start: u64, end: u64) -> Blocks {
        Blocks { log: self.log.clone(), next_offset: start, end, buffer: VecDeque::new(), single: false, done: false }
    }
}

/// Iterator over journal records, from [`JournalReader::read_blocks`].
#[derive(Debug)]
pub struct Blocks {
    log: Log,
    next_offset: u64,
    end: u64,
    buffer: VecDeque<Record>,
    single: bool,
    done: bool,
}

impl Blocks {
    fn fill(&mut self) -> Result<(), JournalError> {
        loop {
            let max_bytes = if self.single { 1 } else { READ_CHUNK_BYTES };
            match self.log.read(JOURNAL_TOPIC, JOURNAL_PARTITION, self.next_offset, max_bytes) {
                Ok(fetch) => {
                    let end = self.end;
                    self.buffer.extend(fetch.records.into_iter().filter(|r| r.offset < end));
                    return Ok(());
                }
                Err(_) if !self.single => {
                    // Locate the damage: re-read one record at a time.
                    self.single = true;
                }
                Err(source) => return Err(JournalError::Unreadable { offset: self.next_offset, source }),
            }
        }
    }
}

impl Iterator for Blocks {
    type Item = Result<RawBlock, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.buffer.is_empty() {
            if self.next_offset >= self.end {
                self.done = true;
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
            if self.buffer.is_empty() {
                // Nothing visible below `end` (cannot happen without retention): stop.
                self.done = true;
                return None;
            }
        }
        let record = self.buffer.pop_front()?;
        self.next_offset = record.offset + 1;
        let bytes = record.value.unwrap_or_default();
        let block = Block::decode(&bytes);
        Some(Ok(RawBlock { offset: record.offset, key: record.key, bytes, block }))
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
    state: Mutex<WriterState>,
}

impl Journal {
    /// Open the journal in `log`, creating the topic with [`journal_topic_config`] if it does not
    /// exist. An existing topic must have one partition, no retention, the delete policy and
    /// every-batch durability (other settings, e.g. segment size, may differ). The head is read
    /// from the last record, which must decode and sit at offset `seq - 1`.
    pub fn open(log: Log) -> Result<Journal, JournalError> {
        let reader = JournalReader::new(log);
        if reader.topic_exists() {
            let config = reader
                .log
                .topic_config(JOURNAL_TOPIC)
                .map_err(|source| JournalError::Log { what: "reading the topic configuration".into(), source })?;
            check_topic_config(&config)?;
        } else {
            reader
                .log
                .create_topic(JOURNAL_TOPIC, journal_topic_config())
                .map_err(|source| JournalError::Log { what: "creating the topic".into(), source })?;
        }
        let offsets = reader
            .log
            .offsets(JOURNAL_TOPIC, JOURNAL_PARTITION)
            .map_err(|source| JournalError::Log { what: "reading offsets".into(), source })?;
        if offsets.log_start != 0 {
            return Err(JournalError::TopicConfig {
                reason: format!("log starts at offset {}, not 0: blocks were deleted", offsets.log_start),
            });
        }
        let head = if offsets.high_watermark == 0 {
            None
        } else {
            let last = offsets.high_watermark - 1;
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
        Ok(Journal { reader, state: Mutex::new(WriterState { head, poisoned: None }) })
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

    /// Append a block. Durable when this returns `Ok` (the log fsyncs before acknowledging).
    /// The block must continue the chain: seq = head seq + 1 and prev_hash = head hash (else
    /// nothing is written). After a failed append the journal refuses appends until reopened.
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
        let record = ProducerRecord {
            timestamp_ms: Some(i64::try_from(block.timestamp.0 / 1_000_000).unwrap_or(i64::MAX)),
            ..ProducerRecord::new(record_key(block.seq).to_vec(), bytes)
        };
        let ack = match self.reader.log.append(JOURNAL_TOPIC, JOURNAL_PARTITION, std::slice::from_ref(&record)) {
            Ok(ack) => ack,
            Err(e) => {
                st.poisoned = Some(block.seq);
                return Err(JournalError::AppendFailed { seq: block.seq, cause: e.to_string() });
            }
        };
        if ack.base_offset != block.seq - 1 || ack.last_offset != ack.base_offset {
            st.poisoned = Some(block.seq);
            return Err(JournalError::AppendFailed {
                seq: block.seq,
                cause: format!(
                    "the log stored it at offsets {}..={}, expected offset {}",
                    ack.base_offset,
                    ack.last_offset,
                    block.seq - 1
                ),
            });
        }
        if ack.durability != AckDurability::Synced {
            st.poisoned = Some(block.seq);
            return Err(JournalError::AppendFailed {
                seq: block.seq,
                cause: format!("the log acknowledged {:?}, not an fsync", ack.durability),
            });
        }
        st.head = Some((block.seq, block.hash));
        Ok(())
    }

    /// The reader over this journal.
    pub fn reader(&self) -> &JournalReader {
        &self.reader
    }

    /// The underlying log.
    pub fn log(&self) -> &Log {
        &self.reader.log
    }

    /// Shorthand for `self.reader().read_blocks(from_seq)`.
    pub fn read_blocks(&self, from_seq: u64) -> Result<Blocks, JournalError> {
        self.reader.read_blocks(from_seq)
    }
}

fn check_topic_config(config: &TopicConfig) -> Result<(), JournalError> {
    let mut problems = Vec::new();
    if config.partitions != 1 {
        problems.push(format!("{} partitions (needs 1)", config.partitions));
    }
    if config.retention_ms.is_some() || config.retention_bytes.is_some() {
        problems.push("a retention limit (needs none: blocks are kept forever)".to_string());
    }
    if config.cleanup != CleanupPolicy::Delete {
        problems.push("compaction (needs the delete policy)".to_string());
    }
    if config.durability != Durability::EveryBatch {
        problems.push("interval durability (needs every_batch)".to_string());
    }
    if problems.is_empty() { Ok(()) } else { Err(JournalError::TopicConfig { reason: problems.join("; ") }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_config_is_checked() {
        assert!(check_topic_config(&journal_topic_config()).is_ok());
        let bad = TopicConfig { partitions: 2, ..journal_topic_config() };
        assert!(check_topic_config(&bad).unwrap_err().to_string().contains("2 partitions"));
        let bad = TopicConfig { retention_ms: Some(1), ..journal_topic_config() };
        assert!(check_topic_config(&bad).is_err());
        let bad = TopicConfig { cleanup: CleanupPolicy::Compact, ..journal_topic_config() };
        assert!(check_topic_config(&bad).is_err());
        let bad = TopicConfig { durability: Durability::Interval { interval_ms: 5 }, ..journal_topic_config() };
        assert!(check_topic_config(&bad).is_err());
        let ok = TopicConfig { segment_bytes: 4096, ..journal_topic_config() };
        assert!(check_topic_config(&ok).is_ok());
    }

    #[test]
    fn record_key_is_big_endian_seq() {
        assert_eq!(record_key(1), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(record_key(0x0102), [0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
