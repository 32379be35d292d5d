//! The database: open and recovery, the group-commit write path, flushes, compaction, reads
//! and snapshots.
//!
//! Locks, in the only order they are ever nested: `queue` (briefly, to join or lead a commit
//! group) is never held while taking another; `writer` (the WAL and manifest: held by the
//! commit leader, flush and compaction) may be held while taking `version` (briefly, to read
//! or swap the live memtable and table list) and `poison`.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aurum_vfs::{OpenMode, Vfs, write_atomic};
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

use crate::cache::BlockCache;
use crate::files::{FileKind, MANIFEST_NAME, parse_name, table_path, wal_path};
use crate::format::{self, Entry, Manifest, encode_wal_record};
use crate::iter::{Iter, MergeIter, Source};
use crate::memtable::{MemIter, Memtable};
use crate::sstable::{Table, write_table};
use crate::wal::Wal;
use crate::{Error, KeyRange, MAX_BATCH_BYTES, WriteBatch};

/// Tuning knobs. `Default` gives production settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Flush the memtable to an SSTable once it holds about this many bytes. Default 4 MiB.
    pub memtable_bytes_limit: usize,
    /// Target size of an SSTable data block. Default 4 KiB.
    pub block_bytes: usize,
    /// Merge all tables into one when a flush leaves more than this many. Default 8.
    pub level0_table_limit: usize,
    /// Bloom filter bits per key (0 disables the filter). Default 10 (about 1% false positives).
    pub bloom_bits_per_key: usize,
    /// Memory for verified data blocks kept between reads, in bytes (0 disables the cache:
    /// every table read then goes to the file and checks the block's CRC). Default 64 MiB.
    pub block_cache_bytes: usize,
    /// Whether a write is durable (fsynced) when it returns. Default true. With `false` a crash
    /// may lose recent writes, but never leaves a batch half applied.
    pub sync: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            memtable_bytes_limit: 4 << 20,
            block_bytes: 4 << 10,
            level0_table_limit: 8,
            bloom_bits_per_key: 10,
            block_cache_bytes: 64 << 20,
            sync: true,
        }
    }
}

/// Counters and sizes, for monitoring and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sequence number of the last committed op.
    pub last_seq: u64,
    /// Approximate bytes in the memtable.
    pub memtable_bytes: usize,
    /// Number of live SSTables.
    pub tables: usize,
    /// Total bytes of live SSTables.
    pub table_bytes: u64,
    /// Batches committed since open.
    pub batches_committed: u64,
    /// Commit groups (each one WAL write and, with `sync`, one fsync) since open.
    pub commit_groups: u64,
    /// Memtable flushes since open.
    pub flushes: u64,
    /// Compactions since open.
    pub compactions: u64,
    /// Whether the store refuses writes after a failure.
    pub poisoned: bool,
    /// Bytes held by the block cache (at most [`Options::block_cache_bytes`]).
    pub block_cache_bytes: usize,
    /// Table block reads served by the block cache since open.
    pub block_cache_hits: u64,
    /// Table block reads that went to the file since open.
    pub block_cache_misses: u64,
}

/// The live memtable and tables (newest first). Cloned by readers under a brief read lock.
#[derive(Debug, Clone)]
struct Version {
    mem: Arc<Memtable>,
    tables: Arc<Vec<Arc<Table>>>,
}

/// State owned by whoever writes: the commit leader, a flush or a compaction.
#[derive(Debug)]
struct Writer {
    wal: Wal,
    /// WAL files replayed at open that are older than `wal`; deleted by the next flush.
    older_wals: Vec<u64>,
    /// The manifest as last written.
    manifest: Manifest,
}

impl Writer {
    fn allocate_file_number(&mut self) -> u64 {
        let n = self.manifest.next_file_number;
        self.manifest.next_file_number += 1;
        n
    }
}

/// Writers waiting to be committed, and results for writers whose group a leader committed.
#[derive(Debug, Default)]
struct Queue {
    pending: Vec<(u64, WriteBatch)>,
    next_ticket: u64,
    leader_active: bool,
    done: HashMap<u64, Result<(), Error>>,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    groups: AtomicU64,
    flushes: AtomicU64,
    compactions: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    vfs: Arc<dyn Vfs>,
    /// Exclusive ownership of `dir` while this store is open.
    _dir_lock: aurum_vfs::DirLock,
    dir: PathBuf,
    opts: Options,
    /// Shared by every table this store opens or writes.
    cache: Arc<BlockCache>,
    version: RwLock<Version>,
    /// Last committed sequence number; published after the memtable holds the whole group.
    last_seq: AtomicU64,
    writer: Mutex<Writer>,
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    poisoned: AtomicBool,
    poison_cause: Mutex<Option<String>>,
    counters: Counters,
}

/// An embedded, crash-safe, ordered key-value store. Cheap to clone; clones share one store.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// A consistent, read-only, point-in-time view. Later writes, flushes and compactions do not
/// change what it sees; it pins the memtable and tables it needs until dropped.
#[derive(Debug, Clone)]
pub struct Snapshot {
    seq: u64,
    version: Version,
}

impl Db {
    /// Open (or create) the store in `dir`: read the manifest, open its tables, replay the WALs
    /// newer than it (cutting off a torn tail), and delete files the manifest does not need.
    pub fn open(vfs: Arc<dyn Vfs>, dir: &Path, opts: Options) -> Result<Db, Error> {
        if opts.memtable_bytes_limit == 0 || opts.block_bytes == 0 || opts.level0_table_limit == 0 {
            return Err(Error::InvalidOptions(
                "memtable_bytes_limit, block_bytes and level0_table_limit must be positive".into(),
            ));
        }
        let dir = dir.to_path_buf();
        vfs.create_dir_all(&dir).map_err(|e| Error::io(format!("creating directory {}", dir.display()), e))?;
        // Before anything reads or deletes files: a second store on the same directory would corrupt it.
        let dir_lock = vfs.lock_dir(&dir).map_err(|e| Error::io(format!("locking {}", dir.display()), e))?;
        let manifest_path = dir.join(MANIFEST_NAME);
        let exists =
            vfs.exists(&manifest_path).map_err(|e| Error::io(format!("checking {}", manifest_path.display()), e))?;
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let (writer, version, last_seq) =
            if exists { recover(&vfs, &dir, &manifest_path, &cache)? } else { create(&vfs, &dir, &manifest_path)? };
        let inner = Inner {
            vfs,
            _dir_lock: dir_lock,
            dir,
            opts,
            cache,
            version: RwLock::new(version),
            last_seq: AtomicU64::new(last_seq),
            writer: Mutex::new(writer),
            queue: Mutex::new(Queue::default()),
            queue_cv: Condvar::new(),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            counters: Counters::default(),
        };
        Ok(Db { inner: Arc::new(inner) })
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.snapshot().get(key)
    }

    /// Set `key` to `value`; durable on return when [`Options::sync`] is set.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Remove `key`; durable on return when [`Options::sync`] is set.
    pub fn delete(&self, key: &[u8]) -> Result<(), Error> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Apply a batch atomically: all of it or none of it is ever visible, also across crashes.
    ///
    /// Group commit: concurrent writers queue their batches; one of them (the leader) writes
    /// every queued batch to the WAL and syncs once for all, then wakes the others. A writer
    /// returns only after its own batch is durable (or the group failed).
    pub fn write(&self, batch: WriteBatch) -> Result<(), Error> {
        batch.validate()?;
        let inner = &*self.inner;
        inner.check_poisoned()?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut q = inner.queue.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push((ticket, batch));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if q.leader_active {
                inner.queue_cv.wait(&mut q);
                continue;
            }
            q.leader_active = true;
            let group = take_group(&mut q.pending);
            let tickets: Vec<u64> = group.iter().map(|(t, _)| *t).collect();
            let batches = group.into_iter().map(|(_, b)| b).collect();
            let outcome = MutexGuard::unlocked(&mut q, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.commit_group(batches)))
            });
            q.leader_active = false;
            let result = match &outcome {
                Ok(r) => r.as_ref().map(|_| ()).map_err(Error::duplicate),
                Err(_) => Err(inner.poison(Error::Poisoned { cause: "panic in the commit path".into() })),
            };
            for t in tickets {
                q.done.insert(t, result.as_ref().map(|_| ()).map_err(Error::duplicate));
            }
            inner.queue_cv.notify_all();
            if let Err(panic) = outcome {
                drop(q);
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// A consistent point-in-time view.
    pub fn snapshot(&self) -> Snapshot {
        // Read the sequence number under the version lock: a flush swaps the version only
        // while no commit is in flight, so every op <= seq is in this memtable or these tables.
        let version = self.inner.version.read();
        let seq = self.inner.last_seq.load(Ordering::Acquire);
        Snapshot { seq, version: version.clone() }
    }

    /// Ascending `(key, value)` pairs with keys in `range`, as of now.
    pub fn range<R: KeyRange>(&self, range: R) -> Result<Iter, Error> {
        self.snapshot().range(range)
    }

    /// Ascending `(key, value)` pairs whose key starts with `prefix`, as of now.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Iter, Error> {
        self.snapshot().scan_prefix(prefix)
    }

    /// Write the memtable to an SSTable (no-op if empty).
    pub fn flush(&self) -> Result<(), Error> {
        let mut w = self.inner.writer.lock();
        self.inner.check_poisoned()?;
        self.inner.flush_locked(&mut w)
    }

    /// Merge all tables into one, dropping shadowed versions and tombstones. Snapshots keep
    /// the tables they pinned, so no version needs keeping for them.
    pub fn compact(&self) -> Result<(), Error> {
        let mut w = self.inner.writer.lock();
        self.inner.check_poisoned()?;
        self.inner.compact_locked(&mut w)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        let v = self.inner.version.read().clone();
        let c = &self.inner.counters;
        Stats {
            last_seq: self.inner.last_seq.load(Ordering::Acquire),
            memtable_bytes: v.mem.approximate_bytes(),
            tables: v.tables.len(),
            table_bytes: v.tables.iter().map(|t| t.file_bytes).sum(),
            batches_committed: c.batches.load(Ordering::Relaxed),
            commit_groups: c.groups.load(Ordering::Relaxed),
            flushes: c.flushes.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            poisoned: self.inner.poisoned.load(Ordering::Acquire),
            block_cache_bytes: self.inner.cache.bytes(),
            block_cache_hits: self.inner.cache.hits(),
            block_cache_misses: self.inner.cache.misses(),
        }
    }
}

/// Take queued batches for one commit group, up to [`MAX_BATCH_BYTES`] in total (at least one).
fn take_group(pending: &mut Vec<(u64, WriteBatch)>) -> Vec<(u64, WriteBatch)> {
    let mut bytes = 0;
    let mut n = 0;
    for (_, b) in pending.iter() {
        if n > 0 && bytes + b.encoded_bytes() > MAX_BATCH_BYTES {
            break;
        }
        bytes += b.encoded_bytes();
        n += 1;
    }
    let rest = pending.split_off(n);
    std::mem::replace(pending, rest)
}

impl Inner {
    fn check_poisoned(&self) -> Result<(), Error> {
        if self.poisoned.load(Ordering::Acquire) {
            let cause = self.poison_cause.lock().clone().unwrap_or_default();
            return Err(Error::Poisoned { cause });
        }
        Ok(())
    }

    /// Refuse all further writes; returns `err` for the caller to report.
    fn poison(&self, err: Error) -> Error {
        let mut cause = self.poison_cause.lock();
        if cause.is_none() {
            *cause = Some(err.to_string());
        }
        self.poisoned.store(true, Ordering::Release);
        err
    }

    fn commit_group(&self, batches: Vec<WriteBatch>) -> Result<(), Error> {
        let mut w = self.writer.lock();
        self.check_poisoned()?;
        let first_seq = self.last_seq.load(Ordering::Acquire) + 1;
        let mut seq = first_seq;
        let mut buf = Vec::with_capacity(batches.iter().map(|b| b.encoded_bytes() + 20).sum());
        let mut entries = Vec::with_capacity(batches.iter().map(WriteBatch::len).sum());
        let n_batches = batches.len() as u64;
        for b in batches {
            encode_wal_record(seq, &b.ops, &mut buf);
            for op in b.ops {
                entries.push(Entry { key: op.key, seq, value: op.value });
                seq += 1;
            }
        }
        let last = seq - 1;
        w.wal.append(&buf).map_err(|e| self.poison(e))?;
        if self.opts.sync {
            w.wal.sync().map_err(|e| self.poison(e))?;
        }
        let mem = self.version.read().mem.clone();
        mem.insert_all(entries);
        self.last_seq.store(last, Ordering::Release);
        self.counters.batches.fetch_add(n_batches, Ordering::Relaxed);
        self.counters.groups.fetch_add(1, Ordering::Relaxed);
        // The group is durable. A failed flush or compaction below poisons the store but does
        // not un-acknowledge these writes: they stay in the WAL until a flush succeeds.
        if mem.approximate_bytes() >= self.opts.memtable_bytes_limit && self.flush_locked(&mut w).is_ok() {
            let tables = self.version.read().tables.len();
            if tables > self.opts.level0_table_limit {
                let _ = self.compact_locked(&mut w);
            }
        }
        Ok(())
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<(), Error> {
        let path = self.dir.join(MANIFEST_NAME);
        write_atomic(&*self.vfs, &path, &manifest.encode())
            .map_err(|e| Error::io(format!("writing manifest {}", path.display()), e))
    }

    /// Memtable -> SSTable, then a new WAL, then the manifest (the commit point), then the
    /// in-memory swap, then deletion of the old WAL. A crash anywhere leaves either the old
    /// state (WAL replayed, new table an orphan) or the new one.
    fn flush_locked(&self, w: &mut Writer) -> Result<(), Error> {
        let v = self.version.read().clone();
        if v.mem.is_empty() {
            return Ok(());
        }
        self.check_poisoned()?;
        self.flush_inner(w, &v).map_err(|e| self.poison(e))
    }

    fn flush_inner(&self, w: &mut Writer, v: &Version) -> Result<(), Error> {
        let table_number = w.allocate_file_number();
        let wal_number = w.allocate_file_number();
        let entries = v.mem.all();
        let max_seq = entries.iter().map(|e| e.seq).max().expect("memtable is not empty");
        assert!(max_seq > w.manifest.last_seq, "memtable holds only ops newer than the tables");
        let table = write_table(
            &self.vfs,
            &self.dir,
            table_number,
            entries.into_iter().map(Ok),
            self.opts.block_bytes,
            self.opts.bloom_bits_per_key,
            &self.cache,
        )?
        .expect("a non-empty memtable makes a non-empty table");
        let new_wal = Wal::create(&*self.vfs, &self.dir, wal_number)?;
        let mut tables = vec![Arc::new(table)];
        tables.extend(v.tables.iter().cloned());
        let manifest = Manifest {
            last_seq: max_seq,
            next_file_number: w.manifest.next_file_number,
            wal_number,
            tables: tables.iter().map(|t| t.number).collect(),
        };
        self.write_manifest(&manifest)?;
        w.manifest = manifest;
        *self.version.write() = Version { mem: Arc::new(Memtable::new()), tables: Arc::new(tables) };
        let old_wal = std::mem::replace(&mut w.wal, new_wal);
        for n in w.older_wals.drain(..).chain([old_wal.number]) {
            // Obsolete now; a failed delete leaves an orphan that the next open removes.
            let _ = self.vfs.remove_file(&wal_path(&self.dir, n));
        }
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn compact_locked(&self, w: &mut Writer) -> Result<(), Error> {
        let v = self.version.read().clone();
        if v.tables.is_empty() {
            return Ok(());
        }
        self.check_poisoned()?;
        self.compact_inner(w, &v).map_err(|e| self.poison(e))
    }

    /// Merge every table into one. All tables take part, so the output is the bottom of the
    /// tree: only the newest version of each key is kept, and tombstones have nothing left to
    /// shadow and are dropped.
    fn compact_inner(&self, w: &mut Writer, v: &Version) -> Result<(), Error> {
        let sources = v.tables.iter().map(|t| Source::Table(t.iter(Bound::Unbounded, false))).collect();
        let mut merged = MergeIter::new(sources);
        let mut last_key: Option<Vec<u8>> = None;
        let newest_live = std::iter::from_fn(move || {
            loop {
                match merged.next()? {
                    Err(e) => return Some(Err(e)),
                    Ok(e) => {
                        if last_key.as_deref() == Some(e.key.as_slice()) {
                            continue;
                        }
                        last_key = Some(e.key.clone());
                        if e.value.is_some() {
                            return Some(Ok(e));
                        }
                    }
                }
            }
        });
        let number = w.allocate_file_number();
        let out = write_table(
            &self.vfs,
            &self.dir,
            number,
            newest_live,
            self.opts.block_bytes,
            self.opts.bloom_bits_per_key,
            &self.cache,
        )?;
        let tables: Vec<Arc<Table>> = out.into_iter().map(Arc::new).collect();
        let manifest = Manifest {
            tables: tables.iter().map(|t| t.number).collect(),
            next_file_number: w.manifest.next_file_number,
            ..w.manifest.clone()
        };
        self.write_manifest(&manifest)?;
        w.manifest = manifest;
        {
            let mut live = self.version.write();
            live.tables = Arc::new(tables);
        }
        for t in v.tables.iter() {
            t.mark_obsolete(); // deleted when the last snapshot holding it goes away
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Without per-write sync, make a clean shutdown durable (best effort).
        if !self.opts.sync && !self.poisoned.load(Ordering::Acquire) {
            let _ = self.writer.get_mut().wal.sync();
        }
    }
}

type Opened = (Writer, Version, u64);

/// A fresh store: a first WAL, then the manifest that names it (so a manifest never names a
/// missing WAL).
fn create(vfs: &Arc<dyn Vfs>, dir: &Path, manifest_path: &Path) -> Result<Opened, Error> {
    // Leftovers of a creation that crashed before its manifest existed; nothing was acknowledged.
    remove_files(vfs, dir, |_| true)?;
    let wal = Wal::create(&**vfs, dir, 1)?;
    let manifest = Manifest { last_seq: 0, next_file_number: 2, wal_number: 1, tables: Vec::new() };
    write_atomic(&**vfs, manifest_path, &manifest.encode())
        .map_err(|e| Error::io(format!("writing manifest {}", manifest_path.display()), e))?;
    let version = Version { mem: Arc::new(Memtable::new()), tables: Arc::new(Vec::new()) };
    Ok((Writer { wal, older_wals: Vec::new(), manifest }, version, 0))
}

fn remove_files(vfs: &Arc<dyn Vfs>, dir: &Path, doomed: impl Fn(FileKind) -> bool) -> Result<(), Error> {
    let names = vfs.list_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for name in names {
        if let Some(kind) = parse_name(&name)
            && doomed(kind)
        {
            let path = dir.join(&name);
            vfs.remove_file(&path).map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        }
    }
    Ok(())
}

fn recover(vfs: &Arc<dyn Vfs>, dir: &Path, manifest_path: &Path, cache: &Arc<BlockCache>) -> Result<Opened, Error> {
    let bytes = vfs
        .open(manifest_path, OpenMode::Read)
        .and_then(|f| f.read_all())
        .map_err(|e| Error::io(format!("reading manifest {}", manifest_path.display()), e))?;
    let mut manifest = format::decode_manifest(&bytes).map_err(|e| Error::Corrupt {
        file: manifest_path.to_path_buf(),
        offset: e.offset,
        reason: e.reason,
    })?;
    let tables = manifest
        .tables
        .iter()
        .map(|&n| Table::open(vfs, dir, n, cache).map(Arc::new))
        .collect::<Result<Vec<_>, Error>>()?;

    let names = vfs.list_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let kinds: Vec<FileKind> = names.iter().filter_map(|n| parse_name(n)).collect();
    let mut wals: Vec<u64> = kinds
        .iter()
        .filter_map(|k| match k {
            FileKind::Wal(n) if *n >= manifest.wal_number => Some(*n),
            _ => None,
        })
        .collect();
    wals.sort_unstable();
    if wals.first() != Some(&manifest.wal_number) {
        return Err(Error::Corrupt {
            file: wal_path(dir, manifest.wal_number),
            offset: 0,
            reason: "the WAL named by the manifest is missing".into(),
        });
    }
    // A crash between creating a WAL and writing the manifest that counts it leaves a file
    // numbered at or past `next_file_number`; never hand that number out again.
    let max_seen = kinds
        .iter()
        .map(|k| match k {
            FileKind::Table(n) | FileKind::Wal(n) => *n,
            FileKind::Temp => 0,
        })
        .max()
        .unwrap_or(0);
    manifest.next_file_number = manifest.next_file_number.max(max_seen + 1);

    let mem = Memtable::new();
    let mut last_seq = manifest.last_seq;
    let mut active = None;
    for &n in &wals {
        let (wal, records) = Wal::recover(&**vfs, dir, n)?;
        for rec in records {
            if rec.last_seq() <= manifest.last_seq {
                continue; // already in a table
            }
            if rec.seq != last_seq + 1 {
                return Err(Error::Corrupt {
                    file: wal_path(dir, n),
                    offset: 0,
                    reason: format!("record sequence {} does not follow {last_seq}", rec.seq),
                });
            }
            last_seq = rec.last_seq();
            mem.insert_all(rec.ops.into_iter().enumerate().map(|(i, op)| Entry {
                key: op.key,
                seq: rec.seq + i as u64,
                value: op.value,
            }));
        }
        active = Some(wal);
    }
    let wal = active.expect("at least the manifest's WAL was recovered");
    let older_wals = wals[..wals.len() - 1].to_vec();

    let live: Vec<u64> = manifest.tables.clone();
    let wal_floor = manifest.wal_number;
    remove_files(vfs, dir, |k| match k {
        FileKind::Table(n) => !live.contains(&n),
        FileKind::Wal(n) => n < wal_floor,
        FileKind::Temp => true,
    })?;
    vfs.sync_dir(dir).map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))?;
    // Never reuse a removed orphan's number for a file of different content in the same run.
    debug_assert!(manifest.tables.iter().all(|&t| vfs.exists(&table_path(dir, t)).unwrap_or(true)));
    let version = Version { mem: Arc::new(mem), tables: Arc::new(tables) };
    Ok((Writer { wal, older_wals, manifest }, version, last_seq))
}

impl Snapshot {
    /// The sequence number this snapshot reads at.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The value of `key` at this snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        if let Some(v) = self.version.mem.get(key, self.seq) {
            return Ok(v);
        }
        for t in self.version.tables.iter() {
            if let Some(v) = t.get(key, self.seq)? {
                return Ok(v);
            }
        }
        Ok(None)
    }

    /// Ascending `(key, value)` pairs with keys in `range` at this snapshot.
    pub fn range<R: KeyRange>(&self, range: R) -> Result<Iter, Error> {
        let (start, end) = range.bounds();
        let mut sources = vec![Source::Mem(MemIter::new(self.version.mem.clone(), start, end, self.seq))];
        sources.extend(self.version.tables.iter().map(|t| Source::Table(t.iter(start, true))));
        let end = match end {
            Bound::Included(e) => Bound::Included(e.to_vec()),
            Bound::Excluded(e) => Bound::Excluded(e.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Ok(Iter::new(MergeIter::new(sources), self.seq, end))
    }

    /// Ascending `(key, value)` pairs whose key starts with `prefix` at this snapshot.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Iter, Error> {
        match prefix_successor(prefix) {
            Some(end) => self.range((Bound::Included(prefix), Bound::Excluded(end.as_slice()))),
            None => self.range(prefix..),
        }
    }
}

/// The smallest key greater than every key starting with `prefix` (None: no such key).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurum_vfs::SimVfs;

    fn small() -> Options {
        Options { memtable_bytes_limit: 1024, block_bytes: 128, level0_table_limit: 3, ..Options::default() }
    }

    #[test]
    fn prefix_successor_handles_ff() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn writes_survive_flush_compaction_and_reopen() {
        let sim = SimVfs::new(9);
        let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        let db = Db::open(vfs.clone(), dir, small()).unwrap();
        for i in 0..300u32 {
            db.put(format!("k{i:04}").as_bytes(), &[i as u8; 20]).unwrap();
            if i % 3 == 0 {
                db.delete(format!("k{:04}", i / 2).as_bytes()).unwrap();
            }
        }
        let s = db.stats();
        assert!(s.flushes > 0 && s.compactions > 0, "{s:?}");
        let before: Vec<_> = db.range(..).unwrap().map(Result::unwrap).collect();
        drop(db);
        let db = Db::open(vfs, dir, small()).unwrap();
        let after: Vec<_> = db.range(..).unwrap().map(Result::unwrap).collect();
        assert_eq!(before, after);
        assert_eq!(db.get(b"k0299").unwrap(), Some(vec![43u8; 20]));
    }

    #[test]
    fn a_failed_sync_poisons_writes_but_not_reads() {
        let sim = SimVfs::new(10);
        let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
        let db = Db::open(vfs, Path::new("/db"), Options::default()).unwrap();
        db.put(b"a", b"1").unwrap();
        sim.fail_next_syncs(1);
        assert!(matches!(db.put(b"b", b"2"), Err(Error::Io { .. })));
        assert!(matches!(db.put(b"c", b"3"), Err(Error::Poisoned { .. })));
        assert!(matches!(db.flush(), Err(Error::Poisoned { .. })));
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.get(b"b").unwrap(), None);
        assert!(db.stats().poisoned);
    }
}
