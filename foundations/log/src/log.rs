//! The log: a directory of topics, each a set of partitions, plus consumer groups.
//!
//! Layout under the root directory:
//! ```text
//! topics/<topic>/topic.conf                        configuration (key=value lines)
//! topics/<topic>/<partition>/<base:020>.log        segments (+ .index, .timeindex)
//! groups/<group>.offsets                           committed offsets
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aurum_vfs::{OpenMode, Vfs};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::clock::{Clock, SystemClock};
use crate::config::{Durability, TopicConfig, validate_name};
use crate::error::{Error, IoContext, Result};
use crate::groups::GroupStore;
use crate::partition::{AppendAck, CompactionReport, FetchResult, Partition, PartitionOffsets, RetentionReport};
use crate::record::ProducerRecord;
use crate::segment::Recovery;
use crate::signal::Signal;

/// How long the interval flusher sleeps when no topic uses interval durability.
const IDLE_FLUSH_TICK_MS: u64 = 1000;

/// Options for opening a log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// The clock used for timestamps, rolling and retention.
    pub clock: Arc<dyn Clock>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self { clock: Arc::new(SystemClock) }
    }
}

/// A topic and its partitions.
#[derive(Debug)]
struct Topic {
    config: TopicConfig,
    partitions: Vec<Arc<Partition>>,
    round_robin: AtomicU32,
}

/// What opening the log found and repaired.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// (topic, partition, what recovery did) for every partition whose tail was cut.
    pub truncated: Vec<(String, u32, Recovery)>,
}

/// Lag of one partition for a consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// Partition index.
    pub partition: u32,
    /// High watermark.
    pub log_end: u64,
    /// Committed offset, if the group committed one.
    pub committed: Option<u64>,
    /// `log_end - committed` (or `- log_start` when nothing is committed).
    pub lag: u64,
}

#[derive(Debug)]
struct Shutdown {
    stop: Mutex<bool>,
    cv: Condvar,
}

#[derive(Debug)]
struct Inner {
    vfs: Arc<dyn Vfs>,
    /// Exclusive ownership of `root` while this log is open.
    _dir_lock: aurum_vfs::DirLock,
    root: PathBuf,
    clock: Arc<dyn Clock>,
    /// Shared with the flusher thread, which must never hold `Inner` itself: if it did, the last
    /// reference could drop on that thread and the directory lock would outlive the caller's drop.
    topics: Arc<RwLock<BTreeMap<String, Arc<Topic>>>>,
    groups: GroupStore,
    signal: Arc<Signal>,
    shutdown: Arc<Shutdown>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    open_report: OpenReport,
}

/// A durable, partitioned, append-only log with the semantics of a single Kafka broker.
/// Cheap to clone: clones share the same log.
#[derive(Debug, Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        *self.shutdown.stop.lock() = true;
        self.shutdown.cv.notify_all();
        if let Some(h) = self.flusher.lock().take() {
            let _ = h.join();
        }
    }
}

impl Log {
    /// Open (or create) the log under `root`, recovering every partition.
    pub fn open(vfs: Arc<dyn Vfs>, root: &Path, options: LogOptions) -> Result<Log> {
        let topics_dir = root.join("topics");
        vfs.create_dir_all(&topics_dir).ctx(|| format!("create {}", topics_dir.display()))?;
        // Before anything reads or cuts segments: a second log on the same directory would corrupt it.
        let dir_lock = vfs.lock_dir(root).ctx(|| format!("lock {}", root.display()))?;
        let signal = Arc::new(Signal::default());
        let mut topics = BTreeMap::new();
        let mut report = OpenReport::default();
        for name in vfs.list_dir(&topics_dir).ctx(|| format!("list {}", topics_dir.display()))? {
            let conf_path = topics_dir.join(&name).join("topic.conf");
            if !vfs.exists(&conf_path).ctx(|| format!("stat {}", conf_path.display()))? {
                continue; // a topic whose creation did not finish
            }
            let text = vfs
                .open(&conf_path, OpenMode::Read)
                .and_then(|f| f.read_all())
                .ctx(|| format!("read {}", conf_path.display()))?;
            let text = String::from_utf8(text).map_err(|_| Error::Corrupt {
                file: conf_path.clone(),
                offset: 0,
                reason: "not UTF-8".into(),
            })?;
            let config = TopicConfig::decode(&text)?;
            let (topic, recoveries) = Self::open_topic(&vfs, &options.clock, root, &name, config, &signal)?;
            for (p, rec) in recoveries {
                if rec.truncated_bytes > 0 {
                    report.truncated.push((name.clone(), p, rec));
                }
            }
            topics.insert(name, Arc::new(topic));
        }
        let groups = GroupStore::open(vfs.clone(), root.join("groups"))?;
        let inner = Arc::new(Inner {
            vfs,
            _dir_lock: dir_lock,
            root: root.to_path_buf(),
            clock: options.clock,
            topics: Arc::new(RwLock::new(topics)),
            groups,
            signal,
            shutdown: Arc::new(Shutdown { stop: Mutex::new(false), cv: Condvar::new() }),
            flusher: Mutex::new(None),
            open_report: report,
        });
        let handle = Self::spawn_flusher(inner.topics.clone(), inner.shutdown.clone());
        *inner.flusher.lock() = Some(handle);
        Ok(Log { inner })
    }

    fn open_topic(
        vfs: &Arc<dyn Vfs>,
        clock: &Arc<dyn Clock>,
        root: &Path,
        name: &str,
        config: TopicConfig,
        signal: &Arc<Signal>,
    ) -> Result<(Topic, Vec<(u32, Recovery)>)> {
        let mut partitions = Vec::with_capacity(config.partitions as usize);
        let mut recoveries = Vec::new();
        for p in 0..config.partitions {
            let dir = root.join("topics").join(name).join(p.to_string());
            let (part, rec) = Partition::open(vfs.clone(), clock.clone(), dir, p, config.clone(), signal.clone())?;
            partitions.push(Arc::new(part));
            recoveries.push((p, rec));
        }
        Ok((Topic { config, partitions, round_robin: AtomicU32::new(0) }, recoveries))
    }

    /// The background thread that fsyncs interval-durability topics. It shares only the topic map,
    /// never `Inner`, so the last `Log` always drops on its caller's thread, which stops and joins
    /// the flusher before the directory lock is released.
    fn spawn_flusher(topics: Arc<RwLock<BTreeMap<String, Arc<Topic>>>>, shutdown: Arc<Shutdown>) -> JoinHandle<()> {
        std::thread::Builder::new()
            .name("aurum-log-flusher".into())
            .spawn(move || {
                loop {
                    let tick = {
                        let topics: Vec<Arc<Topic>> = topics.read().values().cloned().collect();
                        let mut tick = IDLE_FLUSH_TICK_MS;
                        for t in topics {
                            if let Durability::Interval { interval_ms } = t.config.durability {
                                tick = tick.min(interval_ms);
                                for p in &t.partitions {
                                    // A failure poisons the partition; appenders see it.
                                    let _ = p.flush();
                                }
                            }
                        }
                        tick
                    };
                    let mut stop = shutdown.stop.lock();
                    if *stop {
                        return;
                    }
                    let deadline = Instant::now() + Duration::from_millis(tick);
                    while !*stop {
                        if shutdown.cv.wait_until(&mut stop, deadline).timed_out() {
                            break;
                        }
                    }
                    if *stop {
                        return;
                    }
                }
            })
            .expect("spawn the log flusher thread")
    }

    /// What recovery repaired when this log was opened.
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.open_report
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Create a topic. Creating an existing topic with the same configuration is a no-op; with a
    /// different one, an error.
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        validate_name("topic", name)?;
        config.validate()?;
        let mut topics = self.inner.topics.write();
        if let Some(t) = topics.get(name) {
            return if t.config == config {
                Ok(())
            } else {
                Err(Error::TopicConfigMismatch { name: name.to_string() })
            };
        }
        let dir = self.inner.root.join("topics").join(name);
        let vfs = &self.inner.vfs;
        vfs.create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let (topic, _) =
            Self::open_topic(vfs, &self.inner.clock, &self.inner.root, name, config.clone(), &self.inner.signal)?;
        // The config file is written last: a topic without one was never created.
        let conf = dir.join("topic.conf");
        aurum_vfs::write_atomic(&**vfs, &conf, config.encode().as_bytes())
            .ctx(|| format!("write {}", conf.display()))?;
        topics.insert(name.to_string(), Arc::new(topic));
        self.inner.shutdown.cv.notify_all(); // let the flusher pick up a shorter interval
        Ok(())
    }

    /// Names of all topics.
    pub fn topics(&self) -> Vec<String> {
        self.inner.topics.read().keys().cloned().collect()
    }

    /// A topic's configuration.
    pub fn topic_config(&self, topic: &str) -> Result<TopicConfig> {
        Ok(self.topic(topic)?.config.clone())
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.inner.topics.read().get(name).cloned().ok_or_else(|| Error::UnknownTopic(name.to_string()))
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        let t = self.topic(topic)?;
        t.partitions.get(partition as usize).cloned().ok_or_else(|| Error::UnknownPartition {
            topic: topic.to_string(),
            partition,
            partitions: t.config.partitions,
        })
    }

    /// Append `records` to one partition as one atomic batch.
    pub fn append(&self, topic: &str, partition: u32, records: &[ProducerRecord]) -> Result<AppendAck> {
        self.partition(topic, partition)?.append(records)
    }

    /// The partition a record goes to: CRC-32C of the key modulo the partition count, or round
    /// robin for records without a key.
    pub fn partition_for(&self, topic: &str, key: Option<&[u8]>) -> Result<u32> {
        let t = self.topic(topic)?;
        let n = t.config.partitions;
        Ok(match key {
            Some(k) => crate::topics::key_partition(k, n),
            None => t.round_robin.fetch_add(1, Ordering::Relaxed) % n,
        })
    }

    /// Append records, each to the partition of its key; records for one partition form one
    /// batch. Returns one acknowledgement per partition written.
    pub fn produce(&self, topic: &str, records: Vec<ProducerRecord>) -> Result<Vec<AppendAck>> {
        let mut by_partition: BTreeMap<u32, Vec<ProducerRecord>> = BTreeMap::new();
        for r in records {
            let p = self.partition_for(topic, r.key.as_deref())?;
            by_partition.entry(p).or_default().push(r);
        }
        by_partition.into_iter().map(|(p, recs)| self.append(topic, p, &recs)).collect()
    }

    /// Read from `offset` on, up to about `max_bytes`.
    pub fn read(&self, topic: &str, partition: u32, offset: u64, max_bytes: usize) -> Result<FetchResult> {
        self.partition(topic, partition)?.read(offset, max_bytes)
    }

    /// Read, waiting up to `timeout` for records to arrive if none are available.
    pub fn read_wait(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<FetchResult> {
        self.partition(topic, partition)?.read_wait(offset, max_bytes, timeout)
    }

    /// First offset whose record has timestamp >= `timestamp_ms`.
    pub fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp_ms: i64) -> Result<Option<u64>> {
        self.partition(topic, partition)?.offset_for_timestamp(timestamp_ms)
    }

    /// Bounds of a partition.
    pub fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        Ok(self.partition(topic, partition)?.offsets())
    }

    /// Number of partitions of a topic.
    pub fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.topic(topic)?.config.partitions)
    }

    /// Durably commit a consumer group's offset (the next offset it will read).
    pub fn commit_offset(&self, group: &str, topic: &str, partition: u32, offset: u64) -> Result<()> {
        self.partition(topic, partition)?;
        self.inner.groups.commit(group, topic, partition, offset)
    }

    /// Durably commit several offsets of a group at once.
    pub fn commit_offsets(&self, group: &str, entries: &[(String, u32, u64)]) -> Result<()> {
        for (t, p, _) in entries {
            self.partition(t, *p)?;
        }
        self.inner.groups.commit_many(group, entries)
    }

    /// A group's committed offset.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        self.inner.groups.committed(group, topic, partition)
    }

    /// Lag of a group on every partition of a topic.
    pub fn lag(&self, group: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        let t = self.topic(topic)?;
        t.partitions
            .iter()
            .map(|p| {
                let o = p.offsets();
                let committed = self.inner.groups.committed(group, topic, p.id())?;
                let from = committed.unwrap_or(o.log_start).max(o.log_start);
                Ok(PartitionLag {
                    partition: p.id(),
                    log_end: o.high_watermark,
                    committed,
                    lag: o.high_watermark.saturating_sub(from),
                })
            })
            .collect()
    }

    /// Apply size and time retention to every topic with the delete policy.
    pub fn enforce_retention(&self) -> Result<RetentionReport> {
        let topics: Vec<Arc<Topic>> = self.inner.topics.read().values().cloned().collect();
        let mut total = RetentionReport::default();
        for t in topics {
            if t.config.cleanup != crate::config::CleanupPolicy::Delete {
                continue;
            }
            for p in &t.partitions {
                let r = p.enforce_retention()?;
                total.segments_deleted += r.segments_deleted;
                total.bytes_deleted += r.bytes_deleted;
            }
        }
        Ok(total)
    }

    /// Compact every partition of a compacted topic.
    pub fn compact(&self, topic: &str) -> Result<CompactionReport> {
        let t = self.topic(topic)?;
        if t.config.cleanup != crate::config::CleanupPolicy::Compact {
            return Err(Error::invalid("topic", format!("{topic:?} is not a compacted topic")));
        }
        let mut total = CompactionReport::default();
        for p in &t.partitions {
            let r = p.compact()?;
            total.segments_cleaned += r.segments_cleaned;
            total.records_removed += r.records_removed;
            total.bytes_freed += r.bytes_freed;
        }
        Ok(total)
    }

    /// Fsync every partition now.
    pub fn flush(&self) -> Result<()> {
        let topics: Vec<Arc<Topic>> = self.inner.topics.read().values().cloned().collect();
        for t in topics {
            for p in &t.partitions {
                p.flush()?;
            }
        }
        Ok(())
    }

    /// Bytes and segments of a partition.
    pub fn partition_size(&self, topic: &str, partition: u32) -> Result<(u64, usize)> {
        let p = self.partition(topic, partition)?;
        Ok((p.size_bytes(), p.segment_count()))
    }

    pub(crate) fn groups(&self) -> &GroupStore {
        &self.inner.groups
    }

    pub(crate) fn signal(&self) -> &Signal {
        &self.inner.signal
    }
}
