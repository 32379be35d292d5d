//! [`LogJournal`]: the journal on the embedded `aurum-log`, in the single-partition topic
//! [`JOURNAL_TOPIC`], fsynced before every acknowledgement.

use std::collections::VecDeque;

use aurum_log::{AckDurability, CleanupPolicy, Durability, Log, ProducerRecord, Record, TopicConfig};

use super::backend::{AckStrength, JournalAck, JournalBackend, JournalExtent, RecordIter, StoredRecord};
use super::{JOURNAL_PARTITION, JOURNAL_TOPIC, JournalError, READ_CHUNK_BYTES, record_key};

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

/// The journal in an embedded [`Log`].
#[derive(Debug, Clone)]
pub struct LogJournal {
    log: Log,
}

impl LogJournal {
    /// The journal topic of `log` (created only by [`JournalBackend::create_or_check`]).
    pub fn new(log: Log) -> LogJournal {
        LogJournal { log }
    }

    /// The underlying log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    fn log_error(what: &str) -> impl FnOnce(aurum_log::Error) -> JournalError + '_ {
        move |source| JournalError::Log { what: what.to_string(), source }
    }
}

impl JournalBackend for LogJournal {
    fn describe(&self) -> String {
        format!("embedded log, topic {JOURNAL_TOPIC}")
    }

    fn exists(&self) -> Result<bool, JournalError> {
        Ok(self.log.topics().iter().any(|t| t == JOURNAL_TOPIC))
    }

    fn create_or_check(&self) -> Result<(), JournalError> {
        if self.exists()? {
            let config =
                self.log.topic_config(JOURNAL_TOPIC).map_err(Self::log_error("reading the topic configuration"))?;
            check_topic_config(&config)
        } else {
            self.log.create_topic(JOURNAL_TOPIC, journal_topic_config()).map_err(Self::log_error("creating the topic"))
        }
    }

    fn extent(&self) -> Result<JournalExtent, JournalError> {
        let offsets = self.log.offsets(JOURNAL_TOPIC, JOURNAL_PARTITION).map_err(Self::log_error("reading offsets"))?;
        Ok(JournalExtent { log_start: offsets.log_start, end: offsets.high_watermark })
    }

    fn append(&self, seq: u64, timestamp_ms: i64, value: &[u8]) -> Result<JournalAck, JournalError> {
        let record = ProducerRecord {
            timestamp_ms: Some(timestamp_ms),
            ..ProducerRecord::new(record_key(seq).to_vec(), value.to_vec())
        };
        let ack = self
            .log
            .append(JOURNAL_TOPIC, JOURNAL_PARTITION, std::slice::from_ref(&record))
            .map_err(Self::log_error("appending"))?;
        if ack.last_offset != ack.base_offset {
            return Err(JournalError::BadRecord {
                offset: ack.base_offset,
                reason: format!("one record was stored at offsets {}..={}", ack.base_offset, ack.last_offset),
            });
        }
        let strength = match ack.durability {
            AckDurability::Synced => AckStrength::Fsynced,
            AckDurability::Replicated => AckStrength::Replicated,
            AckDurability::Buffered { .. } => AckStrength::Acknowledged,
        };
        Ok(JournalAck { offset: ack.base_offset, strength })
    }

    fn records(&self, from: u64, end: u64) -> Result<RecordIter, JournalError> {
        Ok(Box::new(LogRecords {
            log: self.log.clone(),
            next_offset: from,
            end,
            buffer: VecDeque::new(),
            single: false,
            done: false,
        }))
    }
}

/// Reads in chunks of [`READ_CHUNK_BYTES`]; when a chunk fails it re-reads record by record, so
/// an unreadable record is reported at its own offset, after every good record before it.
struct LogRecords {
    log: Log,
    next_offset: u64,
    end: u64,
    buffer: VecDeque<Record>,
    single: bool,
    done: bool,
}

impl LogRecords {
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
                Err(source) => {
                    return Err(JournalError::Unreadable { offset: self.next_offset, source: Box::new(source) });
                }
            }
        }
    }
}

impl Iterator for LogRecords {
    type Item = Result<StoredRecord, JournalError>;

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
        Some(Ok(StoredRecord { offset: record.offset, key: record.key, value: record.value }))
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
}
