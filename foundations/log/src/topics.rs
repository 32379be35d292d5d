//! [`Topics`]: what the rest of Aurum needs from a partitioned log, so that the same code runs on
//! the embedded [`Log`] or on a Kafka cluster (`aurum-kafka`'s `KafkaTopics`).
//!
//! The contract, kept by both implementations:
//! - a topic has a fixed number of partitions; offsets in a partition only grow;
//! - [`Topics::produce`] sends a keyed record to partition `crc32c(key) % partitions` (records
//!   without a key go round robin), so both backends place the same record in the same partition;
//! - records appended by one call land in order; the embedded log makes the call atomic, Kafka
//!   (without transactions) only guarantees that what landed is a prefix of them;
//! - [`Topics::read`] returns records at or after the offset asked, in order, and never a record
//!   before it; an offset below the first record kept is [`Error::OffsetOutOfRange`];
//! - committed offsets of a consumer group are "the next offset the group will read".

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use crate::config::TopicConfig;
use crate::error::Result;
use crate::log::{Log, PartitionLag};
use crate::partition::{AppendAck, FetchResult, PartitionOffsets};
use crate::record::ProducerRecord;

/// A partitioned log's topics and consumer-group offsets, wherever they are stored.
pub trait Topics: Send + Sync + Debug + 'static {
    /// Where the topics live, for messages and logs (never a password).
    fn describe(&self) -> String;
    /// Create a topic; creating an existing one is a no-op if its partition count is the same,
    /// else [`crate::Error::TopicConfigMismatch`].
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()>;
    /// Names of the topics (internal ones of the backend left out).
    fn topic_names(&self) -> Result<Vec<String>>;
    /// Number of partitions of a topic.
    fn partition_count(&self, topic: &str) -> Result<u32>;
    /// Bounds of a partition.
    fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets>;
    /// Append `records` to one partition, in order; returns once they are acknowledged.
    fn append(&self, topic: &str, partition: u32, records: &[ProducerRecord]) -> Result<AppendAck>;
    /// Append records, each to the partition of its key; one acknowledgement per partition.
    fn produce(&self, topic: &str, records: Vec<ProducerRecord>) -> Result<Vec<AppendAck>>;
    /// Read from `offset` on, up to about `max_bytes` (at least one record if there is one).
    fn read(&self, topic: &str, partition: u32, offset: u64, max_bytes: usize) -> Result<FetchResult>;
    /// Read, waiting up to `timeout` for records if none are available at `offset`.
    fn read_wait(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<FetchResult>;
    /// Commit a consumer group's offset (the next offset it will read).
    fn commit_offset(&self, group: &str, topic: &str, partition: u32, offset: u64) -> Result<()>;
    /// A group's committed offset.
    fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>>;

    /// Lag of a group on every partition of a topic.
    fn lag(&self, group: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        (0..self.partition_count(topic)?)
            .map(|partition| {
                let o = self.offsets(topic, partition)?;
                let committed = self.committed_offset(group, topic, partition)?;
                let from = committed.unwrap_or(o.log_start).max(o.log_start);
                Ok(PartitionLag {
                    partition,
                    log_end: o.high_watermark,
                    committed,
                    lag: o.high_watermark.saturating_sub(from),
                })
            })
            .collect()
    }
}

/// The partition of a keyed record: CRC-32C of the key modulo the partition count. Every backend
/// places records with it, so a key's records land in the same partition on either.
pub fn key_partition(key: &[u8], partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    crc32c::crc32c(key) % partitions
}

/// Topics shared between components (the embedded log or a Kafka cluster).
pub type SharedTopics = Arc<dyn Topics>;

impl Topics for Log {
    fn describe(&self) -> String {
        format!("embedded log {}", self.root().display())
    }

    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        Log::create_topic(self, name, config)
    }

    fn topic_names(&self) -> Result<Vec<String>> {
        Ok(Log::topics(self))
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        Log::partition_count(self, topic)
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        Log::offsets(self, topic, partition)
    }

    fn append(&self, topic: &str, partition: u32, records: &[ProducerRecord]) -> Result<AppendAck> {
        Log::append(self, topic, partition, records)
    }

    fn produce(&self, topic: &str, records: Vec<ProducerRecord>) -> Result<Vec<AppendAck>> {
        Log::produce(self, topic, records)
    }

    fn read(&self, topic: &str, partition: u32, offset: u64, max_bytes: usize) -> Result<FetchResult> {
        Log::read(self, topic, partition, offset, max_bytes)
    }

    fn read_wait(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<FetchResult> {
        Log::read_wait(self, topic, partition, offset, max_bytes, timeout)
    }

    fn commit_offset(&self, group: &str, topic: &str, partition: u32, offset: u64) -> Result<()> {
        Log::commit_offset(self, group, topic, partition, offset)
    }

    fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        Log::committed_offset(self, group, topic, partition)
    }

    fn lag(&self, group: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        Log::lag(self, group, topic)
    }
}
