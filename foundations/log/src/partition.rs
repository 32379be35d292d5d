//! One partition: an ordered list of segments, a single appender, group commit, readers.
//!
//! Concurrency design:
//! - `writer` serialises appends (offset assignment, segment roll, the `write` syscall);
//! - `sync` runs group commit: the first appender to need durability becomes the leader and
//!   fsyncs the active segment outside every other lock; appenders that arrive meanwhile wait
//!   on `sync_cv` and are covered by the next fsync, so N concurrent appends share one fsync;
//! - `visible` is the high watermark: the end of what readers may see (durable data under
//!   `EveryBatch`, written data under `Interval`). Tailing readers wait on `visible_cv`;
//! - `segments` is a copy-on-write list, swapped under `writer` (roll, retention, compaction),
//!   so readers never block appenders;
//! - `maintenance` serialises retention and compaction.
//!
//! A failed write or fsync poisons the partition: appends are refused until reopen, because after
//! an fsync error the kernel may have dropped the dirty pages and a retried fsync could lie.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aurum_vfs::Vfs;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::clock::Clock;
use crate::config::{CleanupPolicy, Durability, TopicConfig};
use crate::error::{Error, IoContext, Result};
use crate::record::{self, ProducerRecord, Record, RecordRef};
use crate::segment::{self, Recovery, Segment};
use crate::signal::Signal;

/// How an acknowledged append is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDurability {
    /// The records were fsynced before the acknowledgement.
    Synced,
    /// Every in-sync replica of a Kafka cluster has the records (`acks=all`); whether they are on
    /// disk is up to the brokers' flush settings.
    Replicated,
    /// The records are written but will be fsynced within `interval_ms`.
    Buffered {
        /// The flush period.
        interval_ms: u64,
    },
}

/// The acknowledgement of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendAck {
    /// Partition written.
    pub partition: u32,
    /// Offset of the first record.
    pub base_offset: u64,
    /// Offset of the last record.
    pub last_offset: u64,
    /// How the records are protected.
    pub durability: AckDurability,
}

/// The result of a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResult {
    /// Records, in offset order.
    pub records: Vec<Record>,
    /// Where the next fetch should start.
    pub next_offset: u64,
    /// The partition's high watermark at the time of the fetch.
    pub high_watermark: u64,
    /// First offset still held.
    pub log_start: u64,
}

/// The offsets that bound a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// First offset still held.
    pub log_start: u64,
    /// End of what readers may see.
    pub high_watermark: u64,
    /// Next offset to be assigned.
    pub log_end: u64,
}

/// Where the data ends: an offset and the byte in a segment where its batch ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    next_offset: u64,
    segment_base: u64,
    byte: u64,
}

#[derive(Debug)]
struct Writer {
    next_offset: u64,
    scratch: Vec<u8>,
    dirty: bool,
}

#[derive(Debug)]
struct SyncState {
    durable: u64,
    syncing: bool,
}

/// What retention removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments deleted.
    pub segments_deleted: u64,
    /// Bytes freed.
    pub bytes_deleted: u64,
}

/// What compaction removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Segments rewritten.
    pub segments_cleaned: u64,
    /// Records dropped (shadowed by a later record with the same key, or expired tombstones).
    pub records_removed: u64,
    /// Bytes freed.
    pub bytes_freed: u64,
}

/// Records per batch when compaction rewrites a segment.
const COMPACTION_BATCH_RECORDS: usize = 1000;

/// A partition of a topic.
#[derive(Debug)]
pub struct Partition {
    id: u32,
    dir: PathBuf,
    config: TopicConfig,
    vfs: Arc<dyn Vfs>,
    clock: Arc<dyn Clock>,
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    writer: Mutex<Writer>,
    sync: Mutex<SyncState>,
    sync_cv: Condvar,
    visible: Mutex<Position>,
    visible_cv: Condvar,
    poisoned: AtomicBool,
    poison_cause: Mutex<Option<String>>,
    maintenance: Mutex<()>,
    signal: Arc<Signal>,
}

impl Partition {
    /// Open (or create) the partition in `dir`, recovering the active segment's tail.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        clock: Arc<dyn Clock>,
        dir: PathBuf,
        id: u32,
        config: TopicConfig,
        signal: Arc<Signal>,
    ) -> Result<(Partition, Recovery)> {
        vfs.create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let now = clock.now_ms();
        let names = vfs.list_dir(&dir).ctx(|| format!("list {}", dir.display()))?;
        for name in &names {
            // Left over from an interrupted compaction or atomic write: the original is intact.
            // (Preserved `.cut-N` evidence files are kept.)
            if name.ends_with(".cleaned") || name.ends_with(".tmp") {
                let p = dir.join(name);
                vfs.remove_file(&p).ctx(|| format!("remove {}", p.display()))?;
            }
        }
        let mut bases: Vec<u64> = names.iter().filter_map(|n| segment::parse_segment_name(n)).collect();
        bases.sort_unstable();
        let mut segments = Vec::with_capacity(bases.len().max(1));
        let mut recovery = Recovery::default();
        let interval = config.index_interval_bytes;
        if bases.is_empty() {
            segments.push(Arc::new(Segment::create(&*vfs, &dir, 0, interval, now)?));
        } else {
            for (i, &base) in bases.iter().enumerate() {
                if let Some(&next) = bases.get(i + 1) {
                    segments.push(Arc::new(Segment::open_sealed(&*vfs, &dir, base, next, interval, now)?));
                } else {
                    let (seg, rec) = Segment::recover_active(&*vfs, &dir, base, interval, now)?;
                    recovery = rec;
                    segments.push(Arc::new(seg));
                }
            }
        }
        let active = segments.last().expect("at least one segment");
        let end = Position { next_offset: active.next_offset(), segment_base: active.base_offset, byte: active.size() };
        let partition = Partition {
            id,
            dir,
            config,
            vfs,
            clock,
            segments: RwLock::new(Arc::new(segments)),
            writer: Mutex::new(Writer { next_offset: end.next_offset, scratch: Vec::new(), dirty: false }),
            sync: Mutex::new(SyncState { durable: end.next_offset, syncing: false }),
            sync_cv: Condvar::new(),
            visible: Mutex::new(end),
            visible_cv: Condvar::new(),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            maintenance: Mutex::new(()),
            signal,
        };
        Ok((partition, recovery))
    }

    /// This partition's index.
    pub fn id(&self) -> u32 {
        self.id
    }

    fn check_poison(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            let cause = self.poison_cause.lock().clone().unwrap_or_default();
            return Err(Error::Poisoned { cause });
        }
        Ok(())
    }

    fn poison(&self, err: Error) -> Error {
        let mut cause = self.poison_cause.lock();
        if cause.is_none() {
            *cause = Some(err.to_string());
        }
        self.poisoned.store(true, Ordering::Release);
        err
    }

    fn publish(&self, pos: Position) {
        let mut v = self.visible.lock();
        if pos.next_offset > v.next_offset {
            *v = pos;
            self.visible_cv.notify_all();
            drop(v);
            self.signal.notify();
        }
    }

    fn active(&self) -> Arc<Segment> {
        self.segments.read().last().expect("a partition always has an active segment").clone()
    }

    /// Append `records` as one batch. Returns once the batch is as durable as the topic's
    /// durability policy promises.
    pub fn append(&self, records: &[ProducerRecord]) -> Result<AppendAck> {
        if records.is_empty() {
            return Err(Error::invalid("records", "an append needs at least one record"));
        }
        if records.len() > record::MAX_BATCH_RECORDS {
            return Err(Error::invalid(
                "records",
                format!("{} records; the limit is MAX_BATCH_RECORDS = {}", records.len(), record::MAX_BATCH_RECORDS),
            ));
        }
        for (i, r) in records.iter().enumerate() {
            record::validate_producer_record(r)
                .map_err(|reason| Error::invalid("record", format!("record {i}: {reason}")))?;
            if self.config.cleanup == CleanupPolicy::Compact && r.key.is_none() {
                return Err(Error::invalid("record", format!("record {i}: a compacted topic needs a key")));
            }
        }
        let now = self.clock.now_ms();
        let (ack, end) = {
            let mut w = self.writer.lock();
            self.check_poison()?;
            let base = w.next_offset;
            let refs: Vec<RecordRef<'_>> = records
                .iter()
                .enumerate()
                .map(|(i, r)| RecordRef {
                    offset: base + i as u64,
                    timestamp_ms: r.timestamp_ms.unwrap_or(now),
                    key: r.key.as_deref(),
                    value: r.value.as_deref(),
                    headers: &r.headers,
                })
                .collect();
            let size = record::encoded_batch_bytes(refs.iter().copied());
            if size > record::MAX_BATCH_BYTES {
                return Err(Error::invalid(
                    "records",
                    format!(
                        "batch encodes to {size} bytes; the limit is MAX_BATCH_BYTES = {}",
                        record::MAX_BATCH_BYTES
                    ),
                ));
            }
            let mut buf = std::mem::take(&mut w.scratch);
            buf.clear();
            record::encode_batch(&mut buf, &refs);
            let header = record::decode_batch_header(&buf).expect("just encoded");
            let result =
                self.roll_if_needed(size as u64, now).and_then(|active| active.append(&buf, &header).map(|()| active));
            w.scratch = buf;
            let active = result.map_err(|e| self.poison(e))?;
            w.next_offset = header.next_offset();
            w.dirty = true;
            let end = Position { next_offset: w.next_offset, segment_base: active.base_offset, byte: active.size() };
            let durability = match self.config.durability {
                Durability::EveryBatch => AckDurability::Synced,
                Durability::Interval { interval_ms } => {
                    self.publish(end);
                    AckDurability::Buffered { interval_ms }
                }
            };
            (AppendAck { partition: self.id, base_offset: base, last_offset: header.last_offset(), durability }, end)
        };
        if self.config.durability == Durability::EveryBatch {
            self.wait_durable(end.next_offset)?;
        }
        Ok(ack)
    }

    /// Seal the active segment and start a new one if `incoming` bytes would overflow it or it
    /// is too old. Called with the writer lock held. Returns the segment to append to.
    fn roll_if_needed(&self, incoming: u64, now: i64) -> Result<Arc<Segment>> {
        let active = self.active();
        let too_big = active.size() > 0 && active.size() + incoming > self.config.segment_bytes;
        let too_old = active.size() > 0
            && self.config.segment_ms.is_some_and(|ms| now.saturating_sub(active.created_ms()) >= ms as i64);
        if !(too_big || too_old) {
            return Ok(active);
        }
        // Seal: data durable before the new segment exists, so only the last segment can ever
        // have a torn tail.
        active.sync()?;
        active.write_indexes(&*self.vfs)?;
        let next = Arc::new(Segment::create(
            &*self.vfs,
            &self.dir,
            active.next_offset(),
            self.config.index_interval_bytes,
            now,
        )?);
        let mut segs = self.segments.write();
        let mut list: Vec<Arc<Segment>> = segs.as_ref().clone();
        list.push(next.clone());
        *segs = Arc::new(list);
        Ok(next)
    }

    /// Group commit: wait until `end` is durable, fsyncing as the leader if nobody else is.
    fn wait_durable(&self, end: u64) -> Result<()> {
        let mut s = self.sync.lock();
        loop {
            if s.durable >= end {
                return Ok(());
            }
            if self.poisoned.load(Ordering::Acquire) {
                let cause = self.poison_cause.lock().clone().unwrap_or_default();
                return Err(Error::NotDurable { cause });
            }
            if s.durable >= end {
                return Ok(());
            }
            if s.syncing {
                self.sync_cv.wait(&mut s);
                continue;
            }
            s.syncing = true;
            drop(s);
            let result = self.sync_active();
            s = self.sync.lock();
            s.syncing = false;
            match result {
                Ok(Some(pos)) => {
                    s.durable = s.durable.max(pos.next_offset);
                    self.publish(pos);
                }
                Ok(None) => {}
                Err(e) => {
                    self.poison(e);
                }
            }
            self.sync_cv.notify_all();
        }
    }

    /// Fsync the active segment; returns the position now durable (None if nothing was dirty).
    fn sync_active(&self) -> Result<Option<Position>> {
        let (active, pos) = {
            let mut w = self.writer.lock();
            if !w.dirty {
                return Ok(None);
            }
            w.dirty = false;
            let active = self.active();
            let pos = Position { next_offset: w.next_offset, segment_base: active.base_offset, byte: active.size() };
            (active, pos)
        };
        active.sync()?;
        Ok(Some(pos))
    }

    /// Fsync whatever is written (the interval flusher, and `Log::flush`).
    pub fn flush(&self) -> Result<()> {
        self.check_poison()?;
        let mut s = self.sync.lock();
        while s.syncing {
            self.sync_cv.wait(&mut s);
        }
        s.syncing = true;
        drop(s);
        let result = self.sync_active();
        let mut s = self.sync.lock();
        s.syncing = false;
        self.sync_cv.notify_all();
        match result {
            Ok(Some(pos)) => {
                s.durable = s.durable.max(pos.next_offset);
                drop(s);
                self.publish(pos);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(self.poison(e)),
        }
    }

    /// The partition's bounds.
    pub fn offsets(&self) -> PartitionOffsets {
        let hw = self.visible.lock().next_offset;
        let log_start = self.segments.read().first().map_or(0, |s| s.base_offset);
        let log_end = self.writer.lock().next_offset;
        PartitionOffsets { log_start, high_watermark: hw, log_end }
    }

    /// Read records from `offset` on, up to about `max_bytes` of batches (at least one batch
    /// when one is available). Only records below the high watermark are returned.
    pub fn read(&self, offset: u64, max_bytes: usize) -> Result<FetchResult> {
        let vis = *self.visible.lock();
        let segs = self.segments.read().clone();
        let log_start = segs.first().map_or(0, |s| s.base_offset);
        if offset < log_start || offset > vis.next_offset {
            return Err(Error::OffsetOutOfRange { requested: offset, log_start, log_end: vis.next_offset });
        }
        let mut records = Vec::new();
        let first = segs.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
        let mut consumed = 0usize;
        for seg in &segs[first..] {
            if offset >= vis.next_offset || seg.base_offset > vis.segment_base {
                break;
            }
            let limit = if seg.base_offset == vis.segment_base { vis.byte } else { seg.size() };
            let from = records.last().map_or(offset, |r: &Record| r.offset + 1);
            let (recs, n) = seg.read(from, max_bytes.saturating_sub(consumed).max(1), limit)?;
            consumed += n;
            records.extend(recs);
            if consumed >= max_bytes && !records.is_empty() {
                break;
            }
        }
        records.retain(|r| r.offset < vis.next_offset);
        let next_offset = match records.last() {
            Some(r) => r.offset + 1,
            None => vis.next_offset.max(offset),
        };
        Ok(FetchResult { records, next_offset, high_watermark: vis.next_offset, log_start })
    }

    /// Like [`read`](Partition::read), but if nothing is available yet, wait (without polling)
    /// up to `timeout` for new records.
    pub fn read_wait(&self, offset: u64, max_bytes: usize, timeout: Duration) -> Result<FetchResult> {
        let deadline = Instant::now() + timeout;
        loop {
            let result = self.read(offset, max_bytes)?;
            if !result.records.is_empty() || result.next_offset > offset {
                return Ok(result);
            }
            let mut v = self.visible.lock();
            while v.next_offset <= offset {
                if self.visible_cv.wait_until(&mut v, deadline).timed_out() {
                    drop(v);
                    return self.read(offset, max_bytes);
                }
            }
        }
    }

    /// The offset of the first record with timestamp >= `timestamp_ms`, if any is visible.
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<u64>> {
        let vis = *self.visible.lock();
        let segs = self.segments.read().clone();
        for seg in segs.iter() {
            if seg.base_offset > vis.segment_base {
                break;
            }
            if seg.max_timestamp_ms().is_none_or(|m| m < timestamp_ms) {
                continue;
            }
            let mut from = seg.time_lookup_offset(timestamp_ms).max(segs[0].base_offset);
            let limit = if seg.base_offset == vis.segment_base { vis.byte } else { seg.size() };
            loop {
                let (recs, _) = seg.read(from, 1 << 20, limit)?;
                let Some(last) = recs.last() else { break };
                if let Some(r) = recs.iter().find(|r| r.timestamp_ms >= timestamp_ms) {
                    return Ok(Some(r.offset));
                }
                from = last.offset + 1;
            }
        }
        Ok(None)
    }

    /// Delete sealed segments beyond the size or time limits.
    pub fn enforce_retention(&self) -> Result<RetentionReport> {
        let _m = self.maintenance.lock();
        let now = self.clock.now_ms();
        let mut report = RetentionReport::default();
        let doomed: Vec<Arc<Segment>> = {
            let _w = self.writer.lock();
            let mut segs = self.segments.write();
            let list = segs.as_ref().clone();
            let mut total: u64 = list.iter().map(|s| s.size()).sum();
            let mut cut = 0;
            for seg in &list[..list.len() - 1] {
                let over_size = self.config.retention_bytes.is_some_and(|limit| total > limit);
                let expired = self
                    .config
                    .retention_ms
                    .is_some_and(|ms| seg.max_timestamp_ms().is_none_or(|m| m < now.saturating_sub(ms as i64)));
                if !(over_size || expired) {
                    break;
                }
                total -= seg.size();
                cut += 1;
            }
            *segs = Arc::new(list[cut..].to_vec());
            list[..cut].to_vec()
        };
        for seg in doomed {
            report.segments_deleted += 1;
            report.bytes_deleted += seg.size();
            seg.delete_files(&*self.vfs)?;
        }
        Ok(report)
    }

    /// Keep only the latest record per key in sealed segments; drop tombstones older than
    /// `delete_retention_ms`. Offsets are preserved, so compacted partitions have gaps.
    pub fn compact(&self) -> Result<CompactionReport> {
        let _m = self.maintenance.lock();
        let mut report = CompactionReport::default();
        let now = self.clock.now_ms();
        let vis = *self.visible.lock();
        let segs = self.segments.read().clone();
        // Latest offset per key over everything visible, the active segment included.
        let mut latest: HashMap<Vec<u8>, u64> = HashMap::new();
        for seg in segs.iter().take_while(|s| s.base_offset <= vis.segment_base) {
            let limit = if seg.base_offset == vis.segment_base { vis.byte } else { seg.size() };
            for r in seg.read_all(limit)? {
                if let Some(k) = r.key {
                    latest.insert(k, r.offset);
                }
            }
        }
        for seg in segs.iter().take(segs.len() - 1) {
            let records = seg.read_all(seg.size())?;
            let tombstone_expired =
                seg.max_timestamp_ms().is_some_and(|m| m < now.saturating_sub(self.config.delete_retention_ms as i64));
            let keep: Vec<&Record> = records
                .iter()
                .filter(|r| {
                    let newest = r.key.as_ref().is_none_or(|k| latest.get(k) == Some(&r.offset));
                    newest && !(r.value.is_none() && tombstone_expired)
                })
                .collect();
            if keep.len() == records.len() {
                continue;
            }
            let mut bytes = Vec::new();
            for chunk in keep.chunks(COMPACTION_BATCH_RECORDS) {
                let refs: Vec<RecordRef<'_>> = chunk.iter().map(|r| RecordRef::from(*r)).collect();
                record::encode_batch(&mut bytes, &refs);
            }
            let stem = segment::segment_stem(seg.base_offset);
            let cleaned = self.dir.join(format!("{stem}{}.cleaned", segment::LOG_SUFFIX));
            // A compaction that failed earlier may have left its output behind; the original
            // segment is intact, so the leftover is garbage.
            if self.vfs.exists(&cleaned).ctx(|| format!("stat {}", cleaned.display()))? {
                self.vfs.remove_file(&cleaned).ctx(|| format!("remove {}", cleaned.display()))?;
            }
            let f = self
                .vfs
                .open(&cleaned, aurum_vfs::OpenMode::CreateNew)
                .ctx(|| format!("create {}", cleaned.display()))?;
            f.write_at(&bytes, 0).ctx(|| format!("write {}", cleaned.display()))?;
            f.sync().ctx(|| format!("fsync {}", cleaned.display()))?;
            drop(f);
            // Old indexes go first: an index must never describe a file it was not built from.
            seg.remove_indexes(&*self.vfs)?;
            let next_base = {
                let list = self.segments.read();
                let i = list.iter().position(|s| s.base_offset == seg.base_offset).expect("segment still listed");
                list[i + 1].base_offset
            };
            self.vfs.rename(&cleaned, &seg.log_path()).ctx(|| format!("rename {}", cleaned.display()))?;
            self.vfs.sync_dir(&self.dir).ctx(|| format!("sync directory {}", self.dir.display()))?;
            let fresh = Arc::new(Segment::open_sealed(
                &*self.vfs,
                &self.dir,
                seg.base_offset,
                next_base,
                self.config.index_interval_bytes,
                now,
            )?);
            {
                let _w = self.writer.lock();
                let mut list = self.segments.write();
                let mut v = list.as_ref().clone();
                if let Some(slot) = v.iter_mut().find(|s| s.base_offset == seg.base_offset) {
                    *slot = fresh.clone();
                }
                *list = Arc::new(v);
            }
            report.segments_cleaned += 1;
            report.records_removed += (records.len() - keep.len()) as u64;
            report.bytes_freed += seg.size().saturating_sub(fresh.size());
        }
        Ok(report)
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().iter().map(|s| s.size()).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.read().len()
    }
}
