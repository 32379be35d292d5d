//! Integration tests of aurum-kv: a model-based property test with crashes and injected faults,
//! corruption detection, group commit, snapshots across compaction, a real kill -9 crash loop,
//! and decoder robustness.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aurum_kv::format::{self, BatchOp, Entry, Manifest};
use aurum_kv::{Db, Error, MAX_KEY_BYTES, MAX_VALUE_BYTES, Options, WriteBatch};
use aurum_vfs::rng::SplitMix64;
use aurum_vfs::{CrashMode, File, OpenMode, OsVfs, SimVfs, Vfs};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn dir() -> &'static Path {
    Path::new("/db")
}

/// Block cache limit of the model test: room for a handful of 256-byte blocks, so reads keep
/// evicting and reloading blocks.
const SMALL_CACHE_BYTES: usize = 2048;

fn small_opts() -> Options {
    Options {
        memtable_bytes_limit: 2048,
        block_bytes: 256,
        level0_table_limit: 3,
        block_cache_bytes: SMALL_CACHE_BYTES,
        ..Options::default()
    }
}

fn contents(db: &Db) -> Result<Model, Error> {
    db.range(..)?.collect()
}

fn key(k: u8) -> Vec<u8> {
    format!("key{k:02}").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// 1. Model-based property test
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Put(u8, usize),
    Delete(u8),
    Batch(Vec<(u8, Option<usize>)>),
    Get(u8),
    Range(u8, u8),
    Prefix(u8),
    Snapshot,
    CheckSnapshots,
    Flush,
    Compact,
    Crash { torn: bool },
    Reopen,
    FaultyWrite { key: u8, sync_fails: bool },
    FaultyMaintenance { compact: bool, sync_fails: bool },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..24, 1usize..160).prop_map(|(k, n)| Op::Put(k, n)),
        3 => (0u8..24).prop_map(Op::Delete),
        3 => prop::collection::vec((0u8..24, prop::option::of(1usize..100)), 1..6).prop_map(Op::Batch),
        2 => (0u8..24).prop_map(Op::Get),
        1 => (0u8..24, 0u8..24).prop_map(|(a, b)| Op::Range(a, b)),
        1 => (0u8..3).prop_map(Op::Prefix),
        1 => Just(Op::Snapshot),
        1 => Just(Op::CheckSnapshots),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => any::<bool>().prop_map(|torn| Op::Crash { torn }),
        1 => Just(Op::Reopen),
        1 => (0u8..24, any::<bool>()).prop_map(|(key, sync_fails)| Op::FaultyWrite { key, sync_fails }),
        1 => (any::<bool>(), any::<bool>())
            .prop_map(|(compact, sync_fails)| Op::FaultyMaintenance { compact, sync_fails }),
    ]
}

struct Harness {
    sim: SimVfs,
    db: Option<Db>,
    model: Model,
    /// A batch whose write failed: after recovery it is either wholly present or wholly absent.
    uncertain: Option<Vec<BatchOp>>,
    snapshots: Vec<(aurum_kv::Snapshot, Model)>,
    poisoned: bool,
    counter: u64,
    tally: Tally,
}

/// What the model test exercised, printed so a reader can see the coverage.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    ops: u64,
    recoveries: u64,
    recovered_with_failed_batch: u64,
    faults: u64,
    flushes: u64,
    compactions: u64,
    cache_hits: u64,
    cache_misses: u64,
}

impl Harness {
    fn new(seed: u64) -> Harness {
        let sim = SimVfs::new(seed);
        let db = Db::open(Arc::new(sim.clone()), dir(), small_opts()).unwrap();
        Harness {
            sim,
            db: Some(db),
            model: Model::new(),
            uncertain: None,
            snapshots: Vec::new(),
            poisoned: false,
            counter: 0,
            tally: Tally::default(),
        }
    }

    fn db(&self) -> &Db {
        self.db.as_ref().unwrap()
    }

    fn value(&mut self, k: u8, len: usize) -> Vec<u8> {
        self.counter += 1;
        let mut v = format!("v{k}-{}-", self.counter).into_bytes();
        v.resize(len.max(v.len()), b'.');
        v
    }

    fn apply(model: &mut Model, ops: &[BatchOp]) {
        for op in ops {
            match &op.value {
                Some(v) => model.insert(op.key.clone(), v.clone()),
                None => model.remove(&op.key),
            };
        }
    }

    fn write(&mut self, ops: Vec<BatchOp>) {
        let mut b = WriteBatch::new();
        for op in &ops {
            match &op.value {
                Some(v) => b.put(&op.key, v),
                None => b.delete(&op.key),
            };
        }
        let r = self.db().write(b);
        if self.poisoned {
            assert!(matches!(r, Err(Error::Poisoned { .. })), "poisoned db accepted a write: {r:?}");
        } else {
            r.unwrap();
            Self::apply(&mut self.model, &ops);
        }
    }

    fn check_contents(&self) {
        let got = contents(self.db()).unwrap();
        assert_eq!(got, self.model, "db contents differ from the model");
        self.check_gets();
    }

    /// Point lookups (which skip the merge) agree with the model, and so with the scan.
    fn check_gets(&self) {
        for k in 0..24 {
            assert_eq!(self.db().get(&key(k)).unwrap(), self.model.get(&key(k)).cloned(), "get key{k:02}");
        }
        assert!(self.db().stats().block_cache_bytes <= SMALL_CACHE_BYTES);
    }

    fn reopen(&mut self, crash: Option<CrashMode>) {
        self.snapshots.clear();
        let stats = self.db().stats();
        self.tally.flushes += stats.flushes;
        self.tally.compactions += stats.compactions;
        self.tally.cache_hits += stats.block_cache_hits;
        self.tally.cache_misses += stats.block_cache_misses;
        self.tally.recoveries += 1;
        if let Some(mode) = crash {
            self.sim.crash(mode);
        }
        self.db = None;
        let vfs: Arc<dyn Vfs> = Arc::new(self.sim.clone());
        let db = Db::open(vfs.clone(), dir(), small_opts()).unwrap();
        let got = contents(&db).unwrap();
        if got != self.model {
            let ops = self.uncertain.as_ref().expect("lost or invented data with no failed write pending");
            let mut with = self.model.clone();
            Self::apply(&mut with, ops);
            assert_eq!(got, with, "recovered state is neither without nor with the failed batch");
            self.model = with;
            self.tally.recovered_with_failed_batch += 1;
        }
        self.uncertain = None;
        self.poisoned = false;
        drop(db);
        // Recovery is deterministic: opening the same disk again gives the same contents.
        let db = Db::open(vfs, dir(), small_opts()).unwrap();
        assert_eq!(contents(&db).unwrap(), self.model, "second recovery differs");
        self.db = Some(db);
        self.check_gets();
    }

    fn inject(&mut self, sync_fails: bool) {
        self.tally.faults += 1;
        if sync_fails {
            self.sim.fail_next_syncs(1);
        } else {
            self.sim.set_partial_write_rate(1, 1);
        }
    }

    fn assert_poisoned_now(&mut self) {
        assert!(matches!(self.db().put(b"probe", b"x"), Err(Error::Poisoned { .. })));
        assert!(self.db().stats().poisoned);
        self.poisoned = true;
    }

    fn step(&mut self, op: Op) {
        self.tally.ops += 1;
        match op {
            Op::Put(k, n) => {
                let v = self.value(k, n);
                self.write(vec![BatchOp { key: key(k), value: Some(v) }]);
            }
            Op::Delete(k) => self.write(vec![BatchOp { key: key(k), value: None }]),
            Op::Batch(items) => {
                let ops = items
                    .into_iter()
                    .map(|(k, v)| BatchOp { key: key(k), value: v.map(|n| self.value(k, n)) })
                    .collect();
                self.write(ops);
            }
            Op::Get(k) => {
                let got = self.db().get(&key(k)).unwrap();
                assert_eq!(got, self.model.get(&key(k)).cloned());
                let scanned: Vec<_> = self.db().range(key(k)..=key(k)).unwrap().collect::<Result<_, _>>().unwrap();
                assert_eq!(scanned, got.map(|v| (key(k), v)).into_iter().collect::<Vec<_>>(), "get and scan differ");
            }
            Op::Range(a, b) => {
                let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                let got: Model = self
                    .db()
                    .range((Bound::Excluded(lo.as_slice()), Bound::Included(hi.as_slice())))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let want: Model = self
                    .model
                    .range::<Vec<u8>, _>((Bound::Excluded(lo), Bound::Included(hi)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Prefix(p) => {
                let prefix = format!("key{p}").into_bytes();
                let got: Model = self.db().scan_prefix(&prefix).unwrap().collect::<Result<_, _>>().unwrap();
                let want: Model = self
                    .model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Snapshot => {
                if self.snapshots.len() >= 3 {
                    self.snapshots.remove(0);
                }
                self.snapshots.push((self.db().snapshot(), self.model.clone()));
            }
            Op::CheckSnapshots => {
                for (snap, model) in &self.snapshots {
                    let got: Model = snap.range(..).unwrap().collect::<Result<_, _>>().unwrap();
                    assert_eq!(&got, model, "snapshot changed under later writes");
                    for k in 0..24 {
                        assert_eq!(snap.get(&key(k)).unwrap(), model.get(&key(k)).cloned());
                    }
                }
            }
            Op::Flush => {
                let r = self.db().flush();
                assert_eq!(r.is_ok(), !self.poisoned, "{r:?}");
            }
            Op::Compact => {
                let r = self.db().compact();
                assert_eq!(r.is_ok(), !self.poisoned, "{r:?}");
            }
            Op::Crash { torn } => self.reopen(Some(if torn { CrashMode::Torn } else { CrashMode::LoseUnsynced })),
            Op::Reopen => self.reopen(None),
            Op::FaultyWrite { key: k, sync_fails } => {
                if self.poisoned {
                    return self.step(Op::Put(k, 10));
                }
                let v = self.value(k, 20);
                let ops = vec![BatchOp { key: key(k), value: Some(v.clone()) }];
                self.inject(sync_fails);
                let r = self.db().put(&key(k), &v);
                self.sim.clear_faults();
                assert!(matches!(r, Err(Error::Io { .. })), "a write under an injected fault returned {r:?}");
                self.uncertain = Some(ops);
                self.assert_poisoned_now();
                // Reads still work and show only acknowledged writes.
                self.check_contents();
            }
            Op::FaultyMaintenance { compact, sync_fails } => {
                if self.poisoned {
                    return;
                }
                let stats = self.db().stats();
                let has_work = if compact { stats.tables > 0 } else { stats.memtable_bytes > 0 };
                self.inject(sync_fails);
                let r = if compact { self.db().compact() } else { self.db().flush() };
                self.sim.clear_faults();
                if has_work {
                    assert!(r.is_err(), "maintenance under an injected fault succeeded");
                    self.assert_poisoned_now();
                } else {
                    r.unwrap();
                }
                self.check_contents();
            }
        }
    }
}

#[test]
fn model_based_random_ops_with_crashes_and_faults() {
    let started = Instant::now();
    let config = Config { cases: 300, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let strategy = (any::<u64>(), prop::collection::vec(op_strategy(), 1..90));
    let total = std::cell::Cell::new(Tally::default());
    runner
        .run(&strategy, |(seed, ops)| {
            let mut h = Harness::new(seed);
            for op in ops {
                h.step(op);
            }
            h.reopen(Some(CrashMode::Torn));
            let (mut t, h) = (total.get(), h.tally);
            t.ops += h.ops;
            t.recoveries += h.recoveries;
            t.recovered_with_failed_batch += h.recovered_with_failed_batch;
            t.faults += h.faults;
            t.flushes += h.flushes;
            t.compactions += h.compactions;
            t.cache_hits += h.cache_hits;
            t.cache_misses += h.cache_misses;
            total.set(t);
            Ok(())
        })
        .unwrap();
    let t = total.get();
    println!("model test: 300 cases in {:?}: {t:?}", started.elapsed());
    assert!(t.faults > 50 && t.flushes > 100 && t.compactions > 20 && t.recoveries > 300, "{t:?}");
    assert!(t.cache_hits > 1000 && t.cache_misses > 1000, "reads both hit and missed the small cache: {t:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. Corruption
// ---------------------------------------------------------------------------------------------

#[test]
fn a_flipped_byte_in_a_table_yields_corrupt_never_wrong_data() {
    let sim = SimVfs::new(11);
    let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let opts = Options { block_bytes: 256, ..Options::default() };
    let db = Db::open(vfs.clone(), dir(), opts.clone()).unwrap();
    for i in 0..500u32 {
        db.put(format!("k{i:04}").as_bytes(), format!("value-{i}").as_bytes()).unwrap();
    }
    db.flush().unwrap();
    let table = sim.file_paths().into_iter().find(|p| p.extension().is_some_and(|e| e == "sst")).unwrap();
    sim.corrupt_byte(&table, 20, 0x10).unwrap(); // inside the first data block (k0000...)
    assert!(matches!(db.get(b"k0000"), Err(Error::Corrupt { .. })), "{:?}", db.get(b"k0000"));
    assert_eq!(db.get(b"k0400").unwrap(), Some(b"value-400".to_vec()), "other blocks still readable");
    let scan: Vec<_> = db.range(..).unwrap().collect();
    assert_eq!(scan.len(), 1, "the corrupt first block stops the scan before any data");
    assert!(matches!(scan[0], Err(Error::Corrupt { .. })));
    drop(db);
    // The footer and index are intact, so the store opens; the bad block still reads as corrupt.
    let db = Db::open(vfs, dir(), opts).unwrap();
    let err = db.get(b"k0001").unwrap_err();
    assert!(err.to_string().contains(".sst"), "the error names the file: {err}");
}

#[test]
fn the_block_cache_stays_under_its_limit_and_never_holds_a_corrupt_block() {
    let sim = SimVfs::new(13);
    let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let cache_bytes = 4096;
    let opts = Options { block_bytes: 256, block_cache_bytes: cache_bytes, ..Options::default() };
    let db = Db::open(vfs.clone(), dir(), opts.clone()).unwrap();
    let value = |i: u32| format!("value-{i}").into_bytes();
    for i in 0..500u32 {
        db.put(format!("k{i:04}").as_bytes(), &value(i)).unwrap();
    }
    db.flush().unwrap();
    let table_bytes = db.stats().table_bytes;
    assert!(table_bytes > 4 * cache_bytes as u64, "the table is much larger than the cache");
    for pass in 0..2 {
        let misses = db.stats().block_cache_misses;
        for i in 0..500u32 {
            assert_eq!(db.get(format!("k{i:04}").as_bytes()).unwrap(), Some(value(i)));
            assert!(db.stats().block_cache_bytes <= cache_bytes);
        }
        let s = db.stats();
        assert!(s.block_cache_hits > 0 && s.block_cache_bytes > cache_bytes / 2, "pass {pass}: {s:?}");
        // Each pass reads more blocks than fit, so the second pass has to reload evicted ones.
        assert!(s.block_cache_misses - misses > (table_bytes / 256 / 2), "pass {pass}: {s:?}");
    }
    let scan: Vec<_> = db.range(..).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(scan.len(), 500);
    assert!(db.stats().block_cache_bytes <= cache_bytes);

    // A block that was verified and cached before the disk went bad keeps serving the data
    // it verified; a damaged block that is not cached is an error on every read, because it
    // never enters the cache.
    assert_eq!(db.get(b"k0499").unwrap(), Some(value(499)));
    let table = sim.file_paths().into_iter().find(|p| p.extension().is_some_and(|e| e == "sst")).unwrap();
    sim.corrupt_byte(&table, 20, 0x10).unwrap(); // inside the first data block (k0000...)
    assert_eq!(db.get(b"k0499").unwrap(), Some(value(499)));
    drop(db);
    let db = Db::open(vfs, dir(), opts).unwrap();
    for _ in 0..3 {
        assert!(matches!(db.get(b"k0000"), Err(Error::Corrupt { .. })));
        assert!(matches!(db.range(..).unwrap().next(), Some(Err(Error::Corrupt { .. }))));
    }
    let s = db.stats();
    assert_eq!((s.block_cache_bytes, s.block_cache_hits, s.block_cache_misses), (0, 0, 6), "{s:?}");
    assert_eq!(db.get(b"k0499").unwrap(), Some(value(499)));
    assert!(db.stats().block_cache_bytes > 0);
}

#[test]
fn a_corrupt_manifest_is_an_error_not_an_empty_database() {
    let sim = SimVfs::new(12);
    let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let db = Db::open(vfs.clone(), dir(), Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.flush().unwrap();
    drop(db);
    sim.corrupt_byte(&dir().join("MANIFEST"), 30, 0x01).unwrap();
    assert!(matches!(Db::open(vfs, dir(), Options::default()), Err(Error::Corrupt { .. })));
}

// ---------------------------------------------------------------------------------------------
// 3. Group commit, snapshots, limits, orphans
// ---------------------------------------------------------------------------------------------

/// A SimVfs whose fsync takes a millisecond, like a real disk, so concurrent writers overlap.
#[derive(Debug)]
struct SlowSync(SimVfs);

#[derive(Debug)]
struct SlowFile(Arc<dyn File>);

impl Vfs for SlowSync {
    fn create_dir_all(&self, p: &Path) -> std::io::Result<()> {
        self.0.create_dir_all(p)
    }
    fn open(&self, p: &Path, m: OpenMode) -> std::io::Result<Arc<dyn File>> {
        Ok(Arc::new(SlowFile(self.0.open(p, m)?)))
    }
    fn list_dir(&self, p: &Path) -> std::io::Result<Vec<String>> {
        self.0.list_dir(p)
    }
    fn remove_file(&self, p: &Path) -> std::io::Result<()> {
        self.0.remove_file(p)
    }
    fn rename(&self, a: &Path, b: &Path) -> std::io::Result<()> {
        self.0.rename(a, b)
    }
    fn exists(&self, p: &Path) -> std::io::Result<bool> {
        self.0.exists(p)
    }
    fn sync_dir(&self, p: &Path) -> std::io::Result<()> {
        self.0.sync_dir(p)
    }
}

impl File for SlowFile {
    fn read_at(&self, b: &mut [u8], o: u64) -> std::io::Result<usize> {
        self.0.read_at(b, o)
    }
    fn write_at(&self, b: &[u8], o: u64) -> std::io::Result<()> {
        self.0.write_at(b, o)
    }
    fn sync(&self) -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(1));
        self.0.sync()
    }
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn truncate(&self, l: u64) -> std::io::Result<()> {
        self.0.truncate(l)
    }
}

#[test]
fn group_commit_shares_fsyncs_between_concurrent_writers() {
    let sim = SimVfs::new(13);
    let db = Db::open(Arc::new(SlowSync(sim.clone())), dir(), Options::default()).unwrap();
    let syncs_before = sim.sync_count();
    const THREADS: u32 = 8;
    const PER_THREAD: u32 = 100;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    db.put(format!("t{t}-{i}").as_bytes(), b"v").unwrap();
                }
            });
        }
    });
    let writes = u64::from(THREADS * PER_THREAD);
    let syncs = sim.sync_count() - syncs_before;
    let stats = db.stats();
    println!("group commit: {writes} durable writes, {syncs} fsyncs, {} commit groups", stats.commit_groups);
    assert_eq!(stats.batches_committed, writes);
    assert!(syncs < writes / 2, "{syncs} fsyncs for {writes} writes: no grouping");
    // Every write is durable: a crash that drops all unsynced bytes loses none of them.
    drop(db);
    sim.crash(CrashMode::LoseUnsynced);
    let db = Db::open(Arc::new(sim), dir(), Options::default()).unwrap();
    assert_eq!(contents(&db).unwrap().len() as u64, writes);
}

#[test]
fn snapshots_see_their_data_across_flush_and_compaction() {
    let sim = SimVfs::new(14);
    let db = Db::open(Arc::new(sim.clone()), dir(), small_opts()).unwrap();
    for i in 0..100u32 {
        db.put(format!("k{i:03}").as_bytes(), b"old").unwrap();
    }
    let snap = db.snapshot();
    let before: Model = snap.range(..).unwrap().collect::<Result<_, _>>().unwrap();
    for i in 0..100u32 {
        if i % 2 == 0 {
            db.delete(format!("k{i:03}").as_bytes()).unwrap();
        } else {
            db.put(format!("k{i:03}").as_bytes(), b"new").unwrap();
        }
    }
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(db.stats().tables, 1);
    assert_eq!(snap.get(b"k000").unwrap(), Some(b"old".to_vec()));
    let after: Model = snap.range(..).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(before, after);
    assert_eq!(db.get(b"k000").unwrap(), None);
    assert_eq!(db.scan_prefix(b"k00").unwrap().count(), 5);
    // The snapshot pins replaced tables; dropping it deletes their files.
    let ssts = || sim.file_paths().iter().filter(|p| p.extension().is_some_and(|e| e == "sst")).count();
    assert!(ssts() > 1);
    drop(snap);
    assert_eq!(ssts(), 1);
}

#[test]
fn limits_are_enforced_with_clear_errors_and_do_not_poison() {
    let db = Db::open(Arc::new(SimVfs::new(15)), dir(), Options::default()).unwrap();
    let e = db.put(&vec![0; MAX_KEY_BYTES + 1], b"v").unwrap_err();
    assert!(matches!(e, Error::KeyTooLarge { .. }) && e.to_string().contains("16384"), "{e}");
    let e = db.put(b"k", &vec![0; MAX_VALUE_BYTES + 1]).unwrap_err();
    assert!(matches!(e, Error::ValueTooLarge { .. }), "{e}");
    let mut b = WriteBatch::new();
    for _ in 0..5 {
        b.put(b"k", &vec![0; MAX_VALUE_BYTES]);
    }
    assert!(matches!(db.write(b), Err(Error::BatchTooLarge { .. })));
    db.put(b"k", b"v").unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    db.write(WriteBatch::new()).unwrap();
}

#[test]
fn orphans_are_deleted_on_open_and_foreign_files_are_left_alone() {
    let sim = SimVfs::new(16);
    let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let db = Db::open(vfs.clone(), dir(), Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.flush().unwrap();
    drop(db);
    for name in ["0000000000000099.sst", "MANIFEST.tmp", "notes.txt", "wal-0000000000000001.log"] {
        vfs.open(&dir().join(name), OpenMode::ReadWriteCreate).unwrap().write_at(b"junk", 0).unwrap();
    }
    let db = Db::open(vfs.clone(), dir(), Options::default()).unwrap();
    let names = vfs.list_dir(dir()).unwrap();
    assert!(!names.iter().any(|n| n == "0000000000000099.sst" || n == "MANIFEST.tmp"), "{names:?}");
    assert!(!names.iter().any(|n| n == "wal-0000000000000001.log"), "WAL older than the manifest: {names:?}");
    assert!(names.iter().any(|n| n == "notes.txt"));
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
}

// ---------------------------------------------------------------------------------------------
// 4. Real crashes: kill -9 a child process that writes under load
// ---------------------------------------------------------------------------------------------

const CHILD_DIR_ENV: &str = "AURUM_KV_CRASH_CHILD";
const CHILD_ROUND_ENV: &str = "AURUM_KV_CRASH_ROUND";
const CHILD_THREADS: u32 = 4;

fn crash_opts() -> Options {
    Options { memtable_bytes_limit: 16 << 10, block_bytes: 1024, level0_table_limit: 4, ..Options::default() }
}

fn crash_value(key: &str) -> Vec<u8> {
    format!("value-of-{key}|").repeat(3).into_bytes()
}

/// Child side of the crash test: a writer loop on the real file system, printing one line per
/// acknowledged key. Returns at once unless the parent set the environment variable.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else { return };
    let round: u64 = std::env::var(CHILD_ROUND_ENV).unwrap().parse().unwrap();
    let db = Db::open(Arc::new(OsVfs), Path::new(&dir), crash_opts()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20); // a safety net; the parent kills us
    std::thread::scope(|s| {
        for t in 0..CHILD_THREADS {
            let db = db.clone();
            s.spawn(move || {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let n = if i.is_multiple_of(3) { 3 } else { 1 };
                    let keys: Vec<String> = (0..n).map(|j| format!("r{round:03}-t{t}-{i:07}-{j}")).collect();
                    let mut b = WriteBatch::new();
                    for k in &keys {
                        b.put(k.as_bytes(), &crash_value(k));
                    }
                    db.write(b).unwrap();
                    let mut out = std::io::stdout().lock();
                    for k in &keys {
                        writeln!(out, "ack {k}").unwrap();
                    }
                    out.flush().unwrap();
                    i += 1;
                }
            });
        }
    });
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_write() {
    if std::env::var(CHILD_DIR_ENV).is_ok() {
        return;
    }
    const KILLS: u64 = 60;
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let db_dir: PathBuf = tmp.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = SplitMix64::new(0x5EED_C0DE);
    let mut acked: Vec<String> = Vec::new();
    let mut checked_reads = 0u64;
    for round in 0..KILLS {
        let want_acks = rng.below(60) as usize;
        let extra_delay = Duration::from_millis(rng.below(20));
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, &db_dir)
            .env(CHILD_ROUND_ENV, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(k) = line.strip_prefix("ack ") {
                    let _ = tx.send(k.to_string());
                }
            }
        });
        let mut got = 0usize;
        let wait_until = Instant::now() + Duration::from_secs(10);
        while got < want_acks && Instant::now() < wait_until {
            if let Ok(k) = rx.recv_timeout(Duration::from_millis(50)) {
                acked.push(k);
                got += 1;
            }
        }
        std::thread::sleep(extra_delay);
        assert!(child.try_wait().unwrap().is_none(), "round {round}: the child exited on its own");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter()); // lines the child flushed before it died were acknowledged

        let db = Db::open(Arc::new(OsVfs), &db_dir, crash_opts()).unwrap();
        let all: HashMap<Vec<u8>, Vec<u8>> = db.range(..).unwrap().collect::<Result<_, _>>().unwrap();
        for k in &acked {
            assert_eq!(all.get(k.as_bytes()), Some(&crash_value(k)), "round {round}: acked key {k} lost");
        }
        for k in acked.iter().rev().take(20) {
            assert_eq!(db.get(k.as_bytes()).unwrap(), Some(crash_value(k)));
            checked_reads += 1;
        }
        let probe = format!("parent-{round}");
        db.put(probe.as_bytes(), b"ok").unwrap();
        assert_eq!(db.get(probe.as_bytes()).unwrap(), Some(b"ok".to_vec()));
        drop(db);
    }
    println!(
        "crash test: {KILLS} kills, {} acknowledged keys verified after the last one ({checked_reads} point reads), {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(acked.len() > 100, "the child should have acknowledged writes in most rounds");
}

// ---------------------------------------------------------------------------------------------
// 5. Decoders never panic
// ---------------------------------------------------------------------------------------------

fn decode_all(data: &[u8]) {
    let _ = format::decode_wal_records(data);
    let _ = format::scan_wal(data);
    let _ = format::decode_block(data);
    let _ = format::decode_table(data);
    let _ = format::decode_footer(data, data.len() as u64);
    let _ = format::decode_manifest(data);
}

#[test]
fn decoders_survive_random_and_mutated_input() {
    let mut rng = SplitMix64::new(0xF0F0);
    let mut wal = Vec::new();
    for seq in [1u64, 4, 9] {
        let ops = vec![
            BatchOp { key: b"alpha".to_vec(), value: Some(vec![7; 30]) },
            BatchOp { key: b"beta".to_vec(), value: None },
            BatchOp { key: b"gamma".to_vec(), value: Some(vec![]) },
        ];
        format::encode_wal_record(seq, &ops, &mut wal);
    }
    let entries: Vec<Entry> = (0..40u32)
        .map(|i| Entry {
            key: format!("k{i:03}").into_bytes(),
            seq: 100 - u64::from(i),
            value: (i % 4 != 0).then(|| vec![1; 9]),
        })
        .collect();
    let table = format::encode_table(&entries, 96, 10);
    let mut block = Vec::new();
    for e in &entries[..5] {
        format::encode_block_entry(&e.key, e.seq, e.value.as_deref(), &mut block);
    }
    format::finish_block(&mut block, 0, 5);
    let manifest = Manifest { last_seq: 77, next_file_number: 12, wal_number: 11, tables: vec![10, 8, 3] }.encode();

    assert_eq!(format::decode_wal_records(&wal).unwrap().len(), 3);
    assert_eq!(format::decode_table(&table).unwrap(), entries);
    assert_eq!(format::decode_block(&block).unwrap().len(), 5);
    assert_eq!(format::decode_manifest(&manifest).unwrap().tables, vec![10, 8, 3]);

    let valid = [&wal, &table, &block, &manifest];
    for i in 0..4000u64 {
        let mut data = if i % 4 == 0 {
            let mut d = vec![0u8; rng.below(300) as usize];
            rng.fill(&mut d);
            d
        } else {
            valid[rng.below(4) as usize].clone()
        };
        match rng.below(4) {
            0 if !data.is_empty() => {
                // One flipped bit: every encoding is fully CRC-covered, so this must be caught.
                let bit = rng.below(data.len() as u64 * 8) as usize;
                data[bit / 8] ^= 1 << (bit % 8);
                if i % 4 != 0 {
                    assert!(format::decode_wal_records(&data).is_err());
                    assert!(format::decode_block(&data).is_err());
                    assert!(format::decode_table(&data).is_err());
                    assert!(format::decode_manifest(&data).is_err());
                }
            }
            1 => data.truncate(rng.below(data.len() as u64 + 1) as usize),
            2 if !data.is_empty() => {
                for _ in 0..rng.range_inclusive(1, 8) {
                    let at = rng.below(data.len() as u64) as usize;
                    data[at] = rng.next_u64() as u8;
                }
            }
            _ => {
                let at = rng.below(data.len() as u64 + 1) as usize;
                let mut junk = vec![0u8; rng.below(16) as usize];
                rng.fill(&mut junk);
                data.splice(at..at, junk);
            }
        }
        decode_all(&data);
    }
}

/// A second store on an open directory is refused (it would overwrite the first one's WAL and tables); once the
/// first is dropped, the directory opens again with its data.
#[test]
fn a_directory_is_owned_by_one_open_store() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(Arc::new(OsVfs), tmp.path(), Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    let clone = db.clone();
    let err = Db::open(Arc::new(OsVfs), tmp.path(), Options::default()).unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
    drop(db);
    assert!(Db::open(Arc::new(OsVfs), tmp.path(), Options::default()).is_err(), "a clone still owns it");
    drop(clone);
    let reopened = Db::open(Arc::new(OsVfs), tmp.path(), Options::default()).unwrap();
    assert_eq!(reopened.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}
