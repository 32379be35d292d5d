//! [`KafkaTopics`]: the platform's topics (risk alerts and scores, oracle rounds, reconciliation
//! runs, payments) on a Kafka cluster, behind the same [`Topics`] trait as the embedded log.
//!
//! - **Writing.** An idempotent producer (`acks=all`); keyed records go to partition
//!   `crc32c(key) % partitions`, the embedded log's rule, chosen here rather than by librdkafka's
//!   partitioner so that both backends place a record alike. One append waits for every record's
//!   delivery; the idempotent producer keeps them in order and without duplicates, but without
//!   Kafka transactions (which the brokers tested here do not commit) a failed append may leave a
//!   prefix of its records. A short linger lets one append's records share one produce request.
//! - **Reading.** One consumer per partition read, assigned (never subscribed) and kept between
//!   reads: a read that continues where the last one stopped just polls on; another offset
//!   re-assigns. A read never waits for records beyond the high watermark taken at its start,
//!   except [`Topics::read_wait`], which waits up to its timeout.
//! - **Consumer-group offsets.** Committed through the group coordinator by a consumer that
//!   carries the group's id but never joins it (Kafka's "simple consumer" commits), so the
//!   offsets are the cluster's own: `kafka-consumer-groups` shows them.
//! - **Names.** Every topic is stored as `prefix` + its name (`kafka://…?prefix=P`), and only
//!   the topics with the prefix are listed: deployments sharing a cluster with prefixes that are
//!   not prefixes of each other (`eu.` and `us.`, not `eu.` and `eu.prod.`) never see each
//!   other's topics. Partition counts are cached: a topic is never recreated with another count
//!   under a running node.
//! - **Configuration.** Partitions, the cleanup policy and retention map to the topic's Kafka
//!   configuration. Segment sizes and the embedded durability setting do not: on Kafka an
//!   acknowledgement means "every in-sync replica has it" ([`AckDurability::Replicated`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aurum_log::config::validate_name;
use aurum_log::record::validate_producer_record;
use aurum_log::{
    AckDurability, AppendAck, CleanupPolicy, Error, FetchResult, Header, PartitionOffsets, ProducerRecord, Record,
    Result, TopicConfig, Topics, key_partition,
};
use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header as KafkaHeader, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::{KafkaConfig, MAX_MESSAGE_BYTES};
use crate::journal::{base_config, reader_config};

/// Group id of the reading consumers: librdkafka needs one to assign; nothing is ever committed
/// under it and it is never joined.
const READER_GROUP: &str = "aurum-topic-reader";
/// How long an append lets librdkafka gather its records into one produce request.
const LINGER_MS: &str = "2";
/// Most records of one append (the producer's queue holds them all until they are delivered).
pub const MAX_APPEND_RECORDS: usize = 100_000;
/// Most partition readers kept between reads (each holds a consumer, its connections and its
/// prefetch queue); beyond it one is closed to make room.
pub const MAX_CACHED_READERS: usize = 32;
/// Prefetched data a reader may queue, in KiB (librdkafka's default is 64 MiB per consumer).
const READER_QUEUE_KBYTES: &str = "16384";

/// A closure turning an rdkafka error into [`Error::Backend`] saying what was being done.
fn backend(what: impl Into<String>) -> impl FnOnce(KafkaError) -> Error {
    let what = what.into();
    move |e| Error::Backend { what, source: Box::new(e) }
}

/// A partition's reading consumer and the offset its next message will have.
struct Reader {
    consumer: BaseConsumer,
    next: u64,
}

/// The platform's topics on a Kafka cluster.
pub struct KafkaTopics {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// Metadata and watermarks.
    probe: BaseConsumer,
    /// Partition counts seen (a topic's count never shrinks; it is re-read when unknown).
    partitions: Mutex<HashMap<String, u32>>,
    /// Readers kept between reads, by (topic, partition); taken out while in use.
    readers: Mutex<HashMap<(String, u32), Reader>>,
    /// One committing consumer per group.
    groups: Mutex<HashMap<String, std::sync::Arc<BaseConsumer>>>,
    round_robin: AtomicU32,
}

impl std::fmt::Debug for KafkaTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTopics").field("bootstrap", &self.config.bootstrap).finish_non_exhaustive()
    }
}

impl KafkaTopics {
    /// Clients for the cluster at `config.bootstrap` (its `topic` is the journal's and is not
    /// used here). Nothing is contacted yet: the first call that needs the broker fails after
    /// `config.timeout`.
    pub fn connect(config: &KafkaConfig) -> Result<KafkaTopics> {
        let producer: FutureProducer = base_config(config)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", LINGER_MS)
            .set("message.timeout.ms", config.timeout.as_millis().to_string())
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .set("queue.buffering.max.messages", MAX_APPEND_RECORDS.to_string())
            .create()
            .map_err(backend("creating the topics' producer"))?;
        let admin = base_config(config).create().map_err(backend("creating the topics' admin client"))?;
        let probe = reader_config(config).create().map_err(backend("creating the topics' metadata client"))?;
        Ok(KafkaTopics {
            config: config.clone(),
            producer,
            admin,
            probe,
            partitions: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            round_robin: AtomicU32::new(0),
        })
    }

    /// The name a topic has on the cluster.
    fn full(&self, topic: &str) -> String {
        format!("{}{topic}", self.config.prefix)
    }

    /// Every topic's partition count by its name without the prefix, from the cluster's metadata
    /// (all topics: asking for one by name may create it on brokers that auto-create topics).
    fn metadata(&self) -> Result<HashMap<String, u32>> {
        let metadata = self
            .probe
            .fetch_metadata(None, self.config.timeout)
            .map_err(backend(format!("reading metadata from {}", self.config.bootstrap)))?;
        let all: HashMap<String, u32> = metadata
            .topics()
            .iter()
            .filter(|t| !t.partitions().is_empty())
            .filter_map(|t| {
                let name = t.name().strip_prefix(self.config.prefix.as_str())?;
                Some((name.to_string(), t.partitions().len() as u32))
            })
            .collect();
        self.partitions.lock().extend(all.iter().map(|(k, v)| (k.clone(), *v)));
        Ok(all)
    }

    fn known_partitions(&self, topic: &str) -> Result<Option<u32>> {
        if let Some(n) = self.partitions.lock().get(topic) {
            return Ok(Some(*n));
        }
        Ok(self.metadata()?.get(topic).copied())
    }

    fn check_partition(&self, topic: &str, partition: u32) -> Result<()> {
        let partitions = self.partition_count(topic)?;
        if partition >= partitions {
            return Err(Error::UnknownPartition { topic: topic.to_string(), partition, partitions });
        }
        Ok(())
    }

    fn group_consumer(&self, group: &str) -> Result<std::sync::Arc<BaseConsumer>> {
        validate_name("consumer group", group)?;
        let mut groups = self.groups.lock();
        if let Some(c) = groups.get(group) {
            return Ok(c.clone());
        }
        let consumer: BaseConsumer = reader_config(&self.config)
            .set("group.id", group)
            .create()
            .map_err(backend(format!("creating a client of group {group}")))?;
        let consumer = std::sync::Arc::new(consumer);
        groups.insert(group.to_string(), consumer.clone());
        Ok(consumer)
    }

    fn new_reader(&self, topic: &str, partition: u32, offset: u64) -> Result<Reader> {
        let consumer: BaseConsumer = reader_config(&self.config)
            .set("group.id", READER_GROUP)
            .set("queued.max.messages.kbytes", READER_QUEUE_KBYTES)
            .create()
            .map_err(backend(format!("creating a reader of {topic}/{partition}")))?;
        let mut reader = Reader { consumer, next: offset };
        assign(&mut reader, &self.full(topic), partition, offset)?;
        Ok(reader)
    }

    /// Records from `offset` to at most `max_bytes` (at least one if any). Without `wait`, stops
    /// at the high watermark read first; with it, waits that long for a record at the end.
    fn read_from(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
        wait: Option<Duration>,
    ) -> Result<FetchResult> {
        let bounds = self.offsets(topic, partition)?;
        if offset < bounds.log_start || offset > bounds.high_watermark {
            return Err(Error::OffsetOutOfRange {
                requested: offset,
                log_start: bounds.log_start,
                log_end: bounds.high_watermark,
            });
        }
        if offset == bounds.high_watermark && wait.is_none() {
            return Ok(FetchResult {
                records: Vec::new(),
                next_offset: offset,
                high_watermark: bounds.high_watermark,
                log_start: bounds.log_start,
            });
        }
        let key = (topic.to_string(), partition);
        let cached = self.readers.lock().remove(&key);
        let mut reader = match cached {
            Some(mut r) => {
                if r.next != offset {
                    assign(&mut r, &self.full(topic), partition, offset)?;
                }
                r
            }
            None => self.new_reader(topic, partition, offset)?,
        };
        // The first record is waited for: up to `wait` at the end (read_wait), else up to the
        // request timeout (it exists: it is below the high watermark). The rest is what the
        // consumer has already fetched, taken without waiting.
        let at_end = offset == bounds.high_watermark;
        let first_deadline = Instant::now() + if at_end { wait.unwrap_or_default() } else { self.config.timeout };
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let result = loop {
            if bytes >= max_bytes || (!at_end && reader.next >= bounds.high_watermark) {
                break Ok(());
            }
            let poll_for = if records.is_empty() {
                let left = first_deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break if at_end {
                        Ok(())
                    } else {
                        Err(Error::Backend {
                            what: format!("reading {topic}/{partition}"),
                            source: format!("no record at offset {offset} within {:?}", self.config.timeout).into(),
                        })
                    };
                }
                left.min(Duration::from_millis(200))
            } else {
                Duration::ZERO
            };
            match reader.consumer.poll(poll_for) {
                None if records.is_empty() => continue,
                None => break Ok(()),
                Some(Err(e)) => break Err(backend(format!("reading {topic}/{partition} at {}", reader.next))(e)),
                Some(Ok(m)) => {
                    let Ok(at) = u64::try_from(m.offset()) else { continue };
                    if at < reader.next {
                        continue; // fetched before a re-assignment
                    }
                    // Offsets may skip (compaction, transaction markers), never go back.
                    let record = record_of(&m, at);
                    bytes += record.value.as_ref().map_or(0, Vec::len) + record.key.as_ref().map_or(0, Vec::len);
                    records.push(record);
                    reader.next = at + 1;
                }
            }
        };
        // After an error the reader is dropped: the next read starts afresh.
        result?;
        let mut readers = self.readers.lock();
        if readers.len() >= MAX_CACHED_READERS
            && let Some(evict) = readers.keys().next().cloned()
        {
            readers.remove(&evict);
        }
        readers.insert(key, reader);
        drop(readers);
        let next_offset = records.last().map_or(offset, |r| r.offset + 1);
        Ok(FetchResult {
            records,
            next_offset,
            high_watermark: bounds.high_watermark.max(next_offset),
            log_start: bounds.log_start,
        })
    }
}

fn assign(reader: &mut Reader, topic: &str, partition: u32, offset: u64) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))
        .map_err(backend(format!("positioning a reader of {topic}/{partition}")))?;
    reader.consumer.assign(&tpl).map_err(backend(format!("assigning a reader of {topic}/{partition}")))?;
    reader.next = offset;
    Ok(())
}

fn record_of(m: &BorrowedMessage<'_>, offset: u64) -> Record {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| Header { key: h.key.to_string(), value: h.value.map(<[u8]>::to_vec).unwrap_or_default() })
                .collect()
        })
        .unwrap_or_default();
    Record {
        offset,
        timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
    }
}

/// The Kafka configuration of a topic created from `config`.
fn kafka_settings(config: &TopicConfig) -> Vec<(&'static str, String)> {
    let limit = |v: Option<u64>| v.map_or("-1".to_string(), |v| v.to_string());
    vec![
        (
            "cleanup.policy",
            match config.cleanup {
                CleanupPolicy::Delete => "delete",
                CleanupPolicy::Compact => "compact",
            }
            .to_string(),
        ),
        ("retention.ms", limit(config.retention_ms)),
        ("retention.bytes", limit(config.retention_bytes)),
        ("delete.retention.ms", config.delete_retention_ms.to_string()),
        ("max.message.bytes", MAX_MESSAGE_BYTES.to_string()),
    ]
}

impl Topics for KafkaTopics {
    fn describe(&self) -> String {
        format!("kafka {} prefix {:?}", self.config.bootstrap, self.config.prefix)
    }

    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        validate_name("topic", &self.full(name))?;
        config.validate()?;
        if let Some(n) = self.metadata()?.get(name) {
            // Only the partition count is compared: brokers differ in which settings they report.
            return if *n == config.partitions {
                Ok(())
            } else {
                Err(Error::TopicConfigMismatch { name: name.to_string() })
            };
        }
        let settings = kafka_settings(&config);
        let full = self.full(name);
        let mut topic =
            NewTopic::new(&full, config.partitions as i32, TopicReplication::Fixed(self.config.replication));
        for (k, v) in &settings {
            topic = topic.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(self.config.timeout));
        let results = futures::executor::block_on(self.admin.create_topics([&topic], &opts))
            .map_err(backend(format!("creating topic {name}")))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(backend(format!("creating topic {topic}"))(KafkaError::AdminOp(code)));
                }
            }
        }
        // Metadata propagates after creation: wait until the topic is visible.
        let deadline = Instant::now() + self.config.timeout;
        loop {
            match self.metadata()?.get(name) {
                Some(n) if *n == config.partitions => return Ok(()),
                Some(_) => return Err(Error::TopicConfigMismatch { name: name.to_string() }),
                None if Instant::now() > deadline => {
                    return Err(Error::Backend {
                        what: format!("creating topic {name}"),
                        source: format!("created but not visible after {:?}", self.config.timeout).into(),
                    });
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn topic_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.metadata()?.into_keys().filter(|n| !n.starts_with("__")).collect();
        names.sort();
        Ok(names)
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        self.known_partitions(topic)?.ok_or_else(|| Error::UnknownTopic(topic.to_string()))
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        self.check_partition(topic, partition)?;
        let (low, high) = self
            .probe
            .fetch_watermarks(&self.full(topic), partition as i32, self.config.timeout)
            .map_err(backend(format!("reading the watermarks of {topic}/{partition}")))?;
        let (log_start, high_watermark) = (low.max(0) as u64, high.max(0) as u64);
        Ok(PartitionOffsets { log_start, high_watermark, log_end: high_watermark })
    }

    fn append(&self, topic: &str, partition: u32, records: &[ProducerRecord]) -> Result<AppendAck> {
        if records.is_empty() || records.len() > MAX_APPEND_RECORDS {
            return Err(Error::Invalid {
                what: "records",
                reason: format!("an append takes 1 to {MAX_APPEND_RECORDS} records, not {}", records.len()),
            });
        }
        for r in records {
            validate_producer_record(r).map_err(|reason| Error::Invalid { what: "record", reason })?;
        }
        self.check_partition(topic, partition)?;
        let full = self.full(topic);
        let mut deliveries = Vec::with_capacity(records.len());
        for r in records {
            let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
            for h in &r.headers {
                headers = headers.insert(KafkaHeader { key: &h.key, value: Some(&h.value) });
            }
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&full).partition(partition as i32).headers(headers);
            if let Some(k) = &r.key {
                record = record.key(k);
            }
            if let Some(v) = &r.value {
                record = record.payload(v);
            }
            if let Some(ts) = r.timestamp_ms {
                record = record.timestamp(ts);
            }
            let delivery = self
                .producer
                .send_result(record)
                .map_err(|(e, _)| backend(format!("queueing a record for {topic}/{partition}"))(e))?;
            deliveries.push(delivery);
        }
        let mut offsets = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match futures::executor::block_on(delivery) {
                Ok(Ok(d)) => offsets.push(d.offset.max(0) as u64),
                Ok(Err((e, _))) => return Err(backend(format!("delivering to {topic}/{partition}"))(e)),
                Err(_) => return Err(backend(format!("delivering to {topic}/{partition}"))(KafkaError::Canceled)),
            }
        }
        debug_assert!(offsets.windows(2).all(|w| w[0] < w[1]), "one producer's records land in order");
        Ok(AppendAck {
            partition,
            base_offset: offsets[0],
            last_offset: offsets[offsets.len() - 1],
            durability: AckDurability::Replicated,
        })
    }

    fn produce(&self, topic: &str, records: Vec<ProducerRecord>) -> Result<Vec<AppendAck>> {
        let partitions = self.partition_count(topic)?;
        let mut by_partition: std::collections::BTreeMap<u32, Vec<ProducerRecord>> = Default::default();
        for r in records {
            let p = match &r.key {
                Some(k) => key_partition(k, partitions),
                None => self.round_robin.fetch_add(1, Ordering::Relaxed) % partitions,
            };
            by_partition.entry(p).or_default().push(r);
        }
        by_partition.into_iter().map(|(p, recs)| self.append(topic, p, &recs)).collect()
    }

    fn read(&self, topic: &str, partition: u32, offset: u64, max_bytes: usize) -> Result<FetchResult> {
        self.read_from(topic, partition, offset, max_bytes, None)
    }

    fn read_wait(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<FetchResult> {
        self.read_from(topic, partition, offset, max_bytes, Some(timeout))
    }

    fn commit_offset(&self, group: &str, topic: &str, partition: u32, offset: u64) -> Result<()> {
        self.check_partition(topic, partition)?;
        let consumer = self.group_consumer(group)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.full(topic), partition as i32, Offset::Offset(offset as i64))
            .map_err(backend(format!("committing {group} on {topic}/{partition}")))?;
        consumer.commit(&tpl, CommitMode::Sync).map_err(backend(format!("committing {group} on {topic}/{partition}")))
    }

    fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        self.check_partition(topic, partition)?;
        let consumer = self.group_consumer(group)?;
        let full = self.full(topic);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&full, partition as i32);
        let what = || format!("reading the offset of {group} on {topic}/{partition}");
        let committed = consumer.committed_offsets(tpl, self.config.timeout).map_err(backend(what()))?;
        // The list must be dropped before its consumer: it is, at the end of this scope.
        let offset = committed.find_partition(&full, partition as i32).map(|e| e.offset());
        Ok(match offset {
            Some(Offset::Offset(o)) if o >= 0 => Some(o as u64),
            _ => None,
        })
    }
}

impl Drop for KafkaTopics {
    fn drop(&mut self) {
        // Appends wait for their deliveries, so nothing is queued; flush regardless.
        let _ = self.producer.flush(self.config.timeout);
    }
}
