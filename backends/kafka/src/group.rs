//! Journal consumers in a consumer group, for projections that keep their own exactly-once
//! position (the PostgreSQL read model stores its next seq in the same transaction as its rows).
//!
//! The group's committed offset says where a consumer (re)starts: after block `s` (offset
//! `s - 1`) it commits `s`, the next offset to read, and only **after** the projection committed
//! its own transaction. So a consumer killed mid-batch leaves the committed offset at or behind
//! the projection's position; its successor re-reads from there and skips what the projection
//! already holds ([`GroupConsumer::blocks`] starts at the projection's position, never before).
//! Offsets are committed synchronously; on close the consumer unsubscribes and leaves the group.

use std::time::{Duration, Instant};

use aurum_ledger_node::block::Block;
use aurum_ledger_node::journal::{JournalError, RawBlock};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::journal::{backend_error, reader_config};

/// Most blocks one [`GroupConsumer::blocks`] call returns.
pub const MAX_POLL_BLOCKS: usize = 4096;
/// How long a group member may be silent before the broker gives its partition to another
/// (librdkafka's default is 45 s: a killed consumer's successor would wait that long).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Longest a member may go between polls (librdkafka's default is 5 min). It is also the
/// rebalance timeout a member sends when it joins, which a coordinator may wait out for a dead
/// member to rejoin before handing its partition on: bounded here so a killed consumer's successor
/// waits at most this long. A projector polls after every batch, well within it.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(20);

/// A member of a consumer group reading the journal topic.
pub struct GroupConsumer {
    consumer: Option<BaseConsumer>,
    topic: String,
    timeout: Duration,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer").field("topic", &self.topic).finish()
    }
}

impl GroupConsumer {
    /// Join `group` on the journal topic of `config`. Offsets are never committed automatically;
    /// a group without a committed offset starts at the beginning.
    pub fn join(config: &KafkaConfig, group: &str) -> Result<GroupConsumer, JournalError> {
        let consumer: BaseConsumer = reader_config(config)
            .set("group.id", group)
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", SESSION_TIMEOUT.as_millis().to_string())
            .set("heartbeat.interval.ms", "1000")
            .set("max.poll.interval.ms", MAX_POLL_INTERVAL.as_millis().to_string())
            .create()
            .map_err(backend_error(format!("creating a consumer of group {group}")))?;
        consumer.subscribe(&[&config.topic]).map_err(backend_error(format!("subscribing to {}", config.topic)))?;
        Ok(GroupConsumer { consumer: Some(consumer), topic: config.topic.clone(), timeout: config.timeout })
    }

    fn consumer(&self) -> &BaseConsumer {
        self.consumer.as_ref().expect("present until dropped")
    }

    /// The group's committed offset on the journal partition (the next offset to read), if any.
    pub fn committed(&self) -> Result<Option<u64>, JournalError> {
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(&self.topic, 0);
        let committed = self
            .consumer()
            .committed_offsets(wanted, self.timeout)
            .map_err(backend_error("reading the committed offset"))?;
        let offset = committed.find_partition(&self.topic, 0).map(|e| e.offset());
        // Drop the list before anything else (a list outliving its consumer hangs the drop).
        drop(committed);
        Ok(match offset {
            Some(Offset::Offset(o)) if o >= 0 => Some(o as u64),
            _ => None,
        })
    }

    /// Commit `next_offset` (the next offset to read: after block `s`, that is `s`) for the
    /// group, synchronously. Call only after the projection committed those blocks.
    pub fn commit(&self, next_offset: u64) -> Result<(), JournalError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.topic, 0, Offset::Offset(next_offset as i64))
            .map_err(backend_error("building the offset to commit"))?;
        self.consumer()
            .commit(&tpl, CommitMode::Sync)
            .map_err(backend_error(format!("committing offset {next_offset}")))
    }

    /// The blocks from seq `from_seq` (the projection's position) up to the partition's high
    /// watermark as it is now, at most [`MAX_POLL_BLOCKS`]. Waits for the group to assign the
    /// partition (up to the rebalance timeout and the session timeout of a dead predecessor, plus
    /// the request timeout);
    /// records before `from_seq` (already projected) are skipped; a gap is an error.
    pub fn blocks(&mut self, from_seq: u64) -> Result<Vec<RawBlock>, JournalError> {
        let from = from_seq.max(1) - 1;
        let (_, high) = self
            .consumer()
            .fetch_watermarks(&self.topic, 0, self.timeout)
            .map_err(backend_error(format!("reading the watermarks of {}", self.topic)))?;
        let end = (high.max(0) as u64).min(from + MAX_POLL_BLOCKS as u64);
        let mut out = Vec::new();
        let wait = MAX_POLL_INTERVAL + SESSION_TIMEOUT + self.timeout;
        let deadline = Instant::now() + wait;
        let mut positioned = false;
        while from + (out.len() as u64) < end {
            if Instant::now() > deadline {
                return Err(JournalError::Unreadable {
                    offset: from + out.len() as u64,
                    source: format!("group consumer got no record within {wait:?}").into(),
                });
            }
            let Some(message) = self.consumer().poll(Duration::from_millis(200)) else { continue };
            let message = message.map_err(|e| JournalError::Unreadable { offset: from, source: Box::new(e) })?;
            let offset = message.offset() as u64;
            let want = from + out.len() as u64;
            if offset < want {
                continue;
            }
            if offset > want {
                if !positioned && out.is_empty() {
                    // The group's committed offset is ahead of the projection (it lost a
                    // transaction it had acknowledged?): never skip blocks — read from where the
                    // projection stands.
                    drop(message);
                    self.consumer()
                        .seek(&self.topic, 0, Offset::Offset(want as i64), self.timeout)
                        .map_err(backend_error(format!("seeking back to offset {want}")))?;
                    positioned = true;
                    continue;
                }
                return Err(JournalError::Unreadable {
                    offset: want,
                    source: format!("the broker skipped to offset {offset}").into(),
                });
            }
            let bytes = message.payload().map(<[u8]>::to_vec).unwrap_or_default();
            let key = message.key().map(<[u8]>::to_vec);
            drop(message);
            let block = Block::decode(&bytes);
            out.push(RawBlock { offset, key, bytes, block });
        }
        Ok(out)
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            // Leave the group now rather than after the session timeout (the drop closes the
            // consumer, which sends LeaveGroup).
            consumer.unsubscribe();
            drop(consumer);
        }
    }
}
