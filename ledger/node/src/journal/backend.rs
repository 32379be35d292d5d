//! The storage seam under the journal: where block records live. [`Journal`](super::Journal) and
//! [`JournalReader`](super::JournalReader) keep every rule of the chain (the head, contiguity,
//! block `s` at offset `s - 1`, poisoning after a failed append, locating damage); a backend only
//! stores and returns records of one ordered, dense, never-truncated partition.
//!
//! Two backends exist: [`LogJournal`](super::LogJournal) on the embedded `aurum-log` (the
//! default), and `KafkaJournal` in the `aurum-kafka` crate. This module names neither.

use super::JournalError;

/// One stored journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Its offset in the partition (block `s` belongs at `s - 1`).
    pub offset: u64,
    /// The record key (the block's seq, 8 bytes big-endian, when written by the journal).
    pub key: Option<Vec<u8>>,
    /// The record value (the encoded block).
    pub value: Option<Vec<u8>>,
}

/// What an acknowledged append promises, weakest first. The journal refuses an acknowledgement
/// weaker than its [`JournalPolicy::min_ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AckStrength {
    /// Stored by one server, in memory or its page cache: survives the writer's crash, not the
    /// server's power loss.
    Acknowledged,
    /// Stored by every in-sync replica (Kafka `acks=all`), not necessarily on disk.
    Replicated,
    /// On stable storage before the acknowledgement (the embedded log's fsync).
    Fsynced,
}

impl AckStrength {
    /// The lowercase name used in configuration (`acknowledged`, `replicated`, `fsynced`).
    pub fn name(self) -> &'static str {
        match self {
            AckStrength::Acknowledged => "acknowledged",
            AckStrength::Replicated => "replicated",
            AckStrength::Fsynced => "fsynced",
        }
    }

    /// Parse a configuration name (see [`AckStrength::name`]).
    pub fn parse(name: &str) -> Option<AckStrength> {
        [AckStrength::Acknowledged, AckStrength::Replicated, AckStrength::Fsynced]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// A backend's acknowledgement of one appended record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalAck {
    /// The offset the record was stored at.
    pub offset: u64,
    /// What the acknowledgement promises.
    pub strength: AckStrength,
}

/// The offsets a backend holds: `[log_start, end)`. `end` is the high watermark — what readers
/// can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalExtent {
    /// The first offset still stored (0 unless records were deleted).
    pub log_start: u64,
    /// One past the last readable offset.
    pub end: u64,
}

/// The records a backend returns, in offset order. After an error the iterator is done.
pub type RecordIter = Box<dyn Iterator<Item = Result<StoredRecord, JournalError>> + Send>;

/// Where journal records are stored. Implementations must keep one partition whose offsets are
/// dense and start at 0, never delete or rewrite a record, and report an error (never skip)
/// when a record cannot be read.
pub trait JournalBackend: Send + Sync + std::fmt::Debug + 'static {
    /// A one-line description for messages ("embedded log, topic ledger.journal"); never a secret.
    fn describe(&self) -> String;

    /// Whether the journal's topic exists. Readers create nothing: an absent topic is an empty
    /// journal.
    fn exists(&self) -> Result<bool, JournalError>;

    /// Writer side: create the topic with the journal's configuration, or check that an existing
    /// one has it ([`JournalError::TopicConfig`] if not).
    fn create_or_check(&self) -> Result<(), JournalError>;

    /// The stored offsets. Only called when [`exists`](JournalBackend::exists) is true.
    fn extent(&self) -> Result<JournalExtent, JournalError>;

    /// Append ONE record (key: `seq` as 8 bytes big-endian) and wait for its acknowledgement.
    /// Called with the journal's writer lock held, so appends never overlap. An `Err` means the
    /// record may or may not have been stored.
    fn append(&self, seq: u64, timestamp_ms: i64, value: &[u8]) -> Result<JournalAck, JournalError>;

    /// The records at offsets `[from, end)` in order. An unreadable record ends the iterator
    /// with [`JournalError::Unreadable`] naming its offset, after every good record before it.
    fn records(&self, from: u64, end: u64) -> Result<RecordIter, JournalError>;
}

/// What a [`Journal`](super::Journal) accepts from its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalPolicy {
    /// The weakest acknowledgement the writer accepts; a weaker one poisons the journal. The
    /// embedded log gives [`AckStrength::Fsynced`]; Kafka gives at most
    /// [`AckStrength::Replicated`], which an operator must accept explicitly.
    pub min_ack: AckStrength,
}

impl Default for JournalPolicy {
    fn default() -> Self {
        JournalPolicy { min_ack: AckStrength::Fsynced }
    }
}
