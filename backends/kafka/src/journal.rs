//! [`KafkaJournal`]: the journal's records in a one-partition Kafka topic.
//!
//! - **Writing.** An idempotent producer (`enable.idempotence`, hence `acks=all`), `linger.ms=0`,
//!   and one block in flight: the journal's writer lock is held until the delivery report, so the
//!   records' order is the blocks' order by construction, and the offset the broker reports is
//!   checked against the block's seq by the journal. Offsets stay dense because no transactions
//!   (whose markers take offsets) are ever used on the topic.
//! - **Reading.** A consumer without a group, assigned to partition 0 at the wanted offset, polls
//!   until the end given (the high watermark read first); a record missing or out of order is an
//!   error naming its offset, never a skip.
//! - **The topic.** Created with one partition, no retention by time or size, the delete policy
//!   and a message limit above the largest block; an existing topic with more partitions, a
//!   retention limit or compaction is refused, and so is one whose first offset is not 0.

use std::time::{Duration, Instant};

use aurum_ledger_node::journal::{
    AckStrength, JournalAck, JournalBackend, JournalError, JournalExtent, RecordIter, StoredRecord, record_key,
};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::{KafkaConfig, MAX_MESSAGE_BYTES};

/// The journal's only partition.
const PARTITION: i32 = 0;

/// A closure turning an rdkafka error into [`JournalError::Backend`] saying what was being done.
pub(crate) fn backend_error(what: impl Into<String>) -> impl FnOnce(KafkaError) -> JournalError {
    let what = what.into();
    move |e| JournalError::Backend { what, source: Box::new(e) }
}

pub(crate) fn base_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.bootstrap)
        .set("socket.timeout.ms", config.timeout.as_millis().to_string())
        .set_log_level(RDKafkaLogLevel::Error);
    c
}

/// A reading consumer: no group (nothing committed, nothing to leave), no auto-commit, fetches
/// large enough for the largest block.
pub(crate) fn reader_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = base_config(config);
    c.set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.message.max.bytes", MAX_MESSAGE_BYTES.to_string())
        // librdkafka requires receive.message.max.bytes ≥ fetch.max.bytes + 512.
        .set("fetch.max.bytes", (2 * MAX_MESSAGE_BYTES).to_string())
        .set("receive.message.max.bytes", (2 * MAX_MESSAGE_BYTES + (1 << 20)).to_string());
    c
}

/// The journal in a Kafka topic.
pub struct KafkaJournal {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// For metadata and watermarks (no group, never subscribed).
    probe: BaseConsumer,
}

impl std::fmt::Debug for KafkaJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaJournal")
            .field("bootstrap", &self.config.bootstrap)
            .field("topic", &self.config.topic)
            .finish()
    }
}

impl KafkaJournal {
    /// Clients for the journal described by `config` (nothing is contacted yet: librdkafka
    /// connects lazily; the first call that needs the broker fails after `config.timeout`).
    pub fn connect(config: &KafkaConfig) -> Result<KafkaJournal, JournalError> {
        let producer: FutureProducer = base_config(config)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", config.timeout.as_millis().to_string())
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .create()
            .map_err(backend_error("creating the producer"))?;
        let admin = base_config(config).create().map_err(backend_error("creating the admin client"))?;
        let probe = reader_config(config).create().map_err(backend_error("creating the metadata client"))?;
        Ok(KafkaJournal { config: config.clone(), producer, admin, probe })
    }

    /// Its configuration.
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    fn partitions(&self) -> Result<Option<usize>, JournalError> {
        // All topics' metadata: asking for one topic by name may create it on brokers that
        // auto-create topics.
        let metadata = self
            .probe
            .fetch_metadata(None, self.config.timeout)
            .map_err(backend_error(format!("reading metadata from {}", self.config.bootstrap)))?;
        Ok(metadata.topics().iter().find(|t| t.name() == self.config.topic).map(|t| t.partitions().len()))
    }

    fn check_config(&self) -> Result<(), JournalError> {
        let opts = AdminOptions::new().request_timeout(Some(self.config.timeout));
        let specifier = ResourceSpecifier::Topic(&self.config.topic);
        let results = futures::executor::block_on(self.admin.describe_configs([&specifier], &opts))
            .map_err(backend_error("describing the topic's configuration"))?;
        let mut problems = Vec::new();
        for result in results {
            // A broker that cannot describe configurations leaves them unchecked (the partition
            // count and the first offset still are).
            let Ok(resource) = result else { continue };
            let entries = resource.entry_map();
            let value = |name: &str| entries.get(name).and_then(|e| e.value.clone());
            if value("cleanup.policy").is_some_and(|v| v.contains("compact")) {
                problems.push("compaction (needs cleanup.policy=delete)".to_string());
            }
            for limit in ["retention.ms", "retention.bytes"] {
                if let Some(v) = value(limit).filter(|v| v != "-1") {
                    problems.push(format!("{limit}={v} (needs -1: blocks are kept forever)"));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(JournalError::TopicConfig { reason: problems.join("; ") }) }
    }
}

impl JournalBackend for KafkaJournal {
    fn describe(&self) -> String {
        format!("kafka {} topic {}", self.config.bootstrap, self.config.topic)
    }

    fn exists(&self) -> Result<bool, JournalError> {
        Ok(self.partitions()?.is_some())
    }

    fn create_or_check(&self) -> Result<(), JournalError> {
        if self.partitions()?.is_none() {
            let max_bytes = MAX_MESSAGE_BYTES.to_string();
            let topic = NewTopic::new(&self.config.topic, 1, TopicReplication::Fixed(self.config.replication))
                .set("retention.ms", "-1")
                .set("retention.bytes", "-1")
                .set("cleanup.policy", "delete")
                .set("max.message.bytes", &max_bytes)
                .set("unclean.leader.election.enable", "false");
            let opts = AdminOptions::new().operation_timeout(Some(self.config.timeout));
            let results = futures::executor::block_on(self.admin.create_topics([&topic], &opts))
                .map_err(backend_error(format!("creating topic {}", self.config.topic)))?;
            for result in results {
                match result {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        return Err(JournalError::Backend {
                            what: format!("creating topic {name}"),
                            source: Box::new(KafkaError::AdminOp(code)),
                        });
                    }
                }
            }
            // Metadata propagates after creation: wait until the topic is visible.
            let deadline = Instant::now() + self.config.timeout;
            while self.partitions()?.is_none() {
                if Instant::now() > deadline {
                    return Err(JournalError::TopicConfig {
                        reason: format!(
                            "topic {} was created but is not visible after {:?}",
                            self.config.topic, self.config.timeout
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        match self.partitions()? {
            Some(1) => {}
            Some(n) => return Err(JournalError::TopicConfig { reason: format!("{n} partitions (needs 1)") }),
            None => return Err(JournalError::TopicConfig { reason: "the topic vanished".into() }),
        }
        self.check_config()
    }

    fn extent(&self) -> Result<JournalExtent, JournalError> {
        let (low, high) = self
            .probe
            .fetch_watermarks(&self.config.topic, PARTITION, self.config.timeout)
            .map_err(backend_error(format!("reading the watermarks of {}", self.config.topic)))?;
        let offset = |v: i64| {
            u64::try_from(v)
                .map_err(|_| JournalError::TopicConfig { reason: format!("the broker reports watermark {v}") })
        };
        Ok(JournalExtent { log_start: offset(low)?, end: offset(high)? })
    }

    fn append(&self, seq: u64, timestamp_ms: i64, value: &[u8]) -> Result<JournalAck, JournalError> {
        let key = record_key(seq);
        let record = FutureRecord::to(&self.config.topic)
            .partition(PARTITION)
            .key(&key[..])
            .payload(value)
            .timestamp(timestamp_ms);
        let delivery = self.producer.send_result(record).map_err(|(e, _)| backend_error("queueing a block")(e))?;
        match futures::executor::block_on(delivery) {
            Ok(Ok(d)) if d.partition == PARTITION => Ok(JournalAck {
                offset: u64::try_from(d.offset).map_err(|_| JournalError::BadRecord {
                    offset: 0,
                    reason: format!("the broker acknowledged block {seq} at offset {}", d.offset),
                })?,
                // acks=all: every in-sync replica has it; not necessarily on disk.
                strength: AckStrength::Replicated,
            }),
            Ok(Ok(d)) => Err(JournalError::BadRecord {
                offset: d.offset.max(0) as u64,
                reason: format!("block {seq} was delivered to partition {}", d.partition),
            }),
            Ok(Err((e, _))) => Err(backend_error(format!("delivering block {seq}"))(e)),
            Err(_) => Err(backend_error(format!("delivering block {seq}"))(KafkaError::Canceled)),
        }
    }

    fn records(&self, from: u64, end: u64) -> Result<RecordIter, JournalError> {
        // librdkafka refuses assign() without a group id; assigning never joins the group, and
        // nothing is ever committed to it.
        let consumer: BaseConsumer = reader_config(&self.config)
            .set("group.id", "aurum-journal-reader")
            .create()
            .map_err(backend_error("creating a journal reader"))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.config.topic, PARTITION, Offset::Offset(from as i64))
            .map_err(backend_error("positioning a journal reader"))?;
        consumer.assign(&tpl).map_err(backend_error("assigning a journal reader"))?;
        Ok(Box::new(KafkaRecords { consumer, next: from, end, timeout: self.config.timeout, done: false }))
    }
}

impl Drop for KafkaJournal {
    fn drop(&mut self) {
        // Deliver anything still queued (nothing is: appends wait for their delivery).
        let _ = self.producer.flush(self.config.timeout);
    }
}

/// Records `[next, end)` polled from an assigned consumer.
struct KafkaRecords {
    consumer: BaseConsumer,
    next: u64,
    end: u64,
    timeout: Duration,
    done: bool,
}

impl Iterator for KafkaRecords {
    type Item = Result<StoredRecord, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next >= self.end {
            return None;
        }
        let deadline = Instant::now() + self.timeout;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(JournalError::Unreadable {
                    offset: self.next,
                    source: format!("no record at offset {} within {:?}", self.next, self.timeout).into(),
                });
            }
            match self.consumer.poll(left.min(Duration::from_millis(500))) {
                None => continue,
                Some(Err(e)) => break Err(JournalError::Unreadable { offset: self.next, source: Box::new(e) }),
                Some(Ok(m)) => {
                    let offset = m.offset();
                    if offset < self.next as i64 {
                        continue; // a re-delivery of what was read
                    }
                    if offset != self.next as i64 {
                        break Err(JournalError::Unreadable {
                            offset: self.next,
                            source: format!("the broker skipped to offset {offset}").into(),
                        });
                    }
                    break Ok(StoredRecord {
                        offset: self.next,
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                    });
                }
            }
        };
        match &result {
            Ok(_) => self.next += 1,
            Err(_) => self.done = true,
        }
        Some(result)
    }
}
