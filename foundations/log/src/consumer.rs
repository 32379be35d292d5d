//! A consumer in a consumer group: joins, gets a range assignment, polls its partitions
//! (blocking on the log's signal instead of polling in a loop), and commits its positions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::log::Log;
use crate::record::Record;

/// A record with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// The record.
    pub record: Record,
}

/// Most bytes one poll fetches from one partition.
pub const MAX_POLL_BYTES_PER_PARTITION: usize = 1 << 20;

/// A member of a consumer group.
#[derive(Debug)]
pub struct Consumer {
    log: Log,
    group: String,
    member: String,
    topics: Vec<String>,
    generation: u64,
    positions: BTreeMap<(String, u32), u64>,
}

impl Consumer {
    /// Join `group` as `member`, subscribed to `topics`.
    pub fn join(log: &Log, group: &str, member: &str, topics: &[&str]) -> Result<Consumer> {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        for t in &topics {
            log.partition_count(t)?;
        }
        log.groups().join(group, member, &topics)?;
        let mut c = Consumer {
            log: log.clone(),
            group: group.to_string(),
            member: member.to_string(),
            topics,
            generation: 0,
            positions: BTreeMap::new(),
        };
        c.rebalance()?;
        Ok(c)
    }

    fn rebalance(&mut self) -> Result<()> {
        let log = self.log.clone();
        let (generation, assigned) =
            self.log.groups().assignment(&self.group, &self.member, |t| log.partition_count(t).ok())?;
        let mut positions = BTreeMap::new();
        for (topic, partition) in assigned {
            let bounds = self.log.offsets(&topic, partition)?;
            let committed = self.log.committed_offset(&self.group, &topic, partition)?;
            // Like Kafka's auto.offset.reset=earliest, also when the commit fell off retention.
            let pos = committed.unwrap_or(bounds.log_start).max(bounds.log_start);
            positions.insert((topic, partition), pos);
        }
        self.generation = generation;
        self.positions = positions;
        Ok(())
    }

    /// The partitions currently assigned to this member.
    pub fn assignment(&self) -> Vec<(String, u32)> {
        self.positions.keys().cloned().collect()
    }

    /// Fetch up to `max_records` from the assigned partitions, waiting up to `timeout` when
    /// nothing is available. Positions advance past what is returned; call [`commit`] to make
    /// them durable.
    ///
    /// [`commit`]: Consumer::commit
    pub fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log.groups().generation(&self.group)? != self.generation {
                self.rebalance()?;
            }
            let seen = self.log.signal().generation();
            let mut out = Vec::new();
            let keys: Vec<(String, u32)> = self.positions.keys().cloned().collect();
            for (topic, partition) in keys {
                if out.len() >= max_records {
                    break;
                }
                let pos = self.positions[&(topic.clone(), partition)];
                let fetched = match self.log.read(&topic, partition, pos, MAX_POLL_BYTES_PER_PARTITION) {
                    Ok(f) => f,
                    Err(Error::OffsetOutOfRange { log_start, .. }) if pos < log_start => {
                        self.positions.insert((topic, partition), log_start);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let mut next = fetched.next_offset;
                for r in fetched.records {
                    if out.len() >= max_records {
                        next = r.offset;
                        break;
                    }
                    out.push(ConsumerRecord { topic: topic.clone(), partition, record: r });
                }
                self.positions.insert((topic, partition), next);
            }
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
            self.log.signal().wait_past(seen, deadline);
        }
    }

    /// Durably commit the current positions of every assigned partition.
    pub fn commit(&self) -> Result<()> {
        let entries: Vec<(String, u32, u64)> = self.positions.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect();
        self.log.commit_offsets(&self.group, &entries)
    }

    /// Move the position of one assigned partition.
    pub fn seek(&mut self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        let key = (topic.to_string(), partition);
        if !self.positions.contains_key(&key) {
            return Err(Error::invalid("partition", format!("{topic}/{partition} is not assigned to this consumer")));
        }
        self.positions.insert(key, offset);
        Ok(())
    }

    /// Subscribed topics.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.log.groups().leave(&self.group, &self.member);
    }
}
