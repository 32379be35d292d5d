//! aurum-kv against redb (the baseline) and sled, same workload, same run, same machine.
//!
//! Workloads (16-byte keys, 100-byte values):
//! (a) random puts, each individually durable (fsync per op);
//! (b) 100k random keys in batches of 1000, durable per batch;
//! (c) random point gets over the 100k loaded keys;
//! (d) range scans of 100 consecutive keys;
//! (e) the gets of (c) again after closing and reopening every store (cold caches).
//!
//! Run: `cargo bench -p aurum-foundations-bench --bench kv`.

use std::path::Path;
use std::sync::Arc;

use aurum_foundations_bench::{Measurement, measure, print_comparison, print_row};
use aurum_kv::{Db, Options, WriteBatch};
use aurum_vfs::OsVfs;
use aurum_vfs::rng::SplitMix64;
use redb::{ReadableDatabase, TableDefinition};

const DURABLE_PUTS: usize = 1_000;
const LOAD_KEYS: usize = 100_000;
const BATCH: usize = 1_000;
const GETS: usize = 100_000;
const SCANS: usize = 1_000;
const SCAN_LEN: usize = 100;
const VALUE_BYTES: usize = 100;
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

fn keys(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| format!("{:016x}", rng.next_u64()).into_bytes()).collect()
}

fn value(i: usize) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(VALUE_BYTES, b'x');
    v
}

/// One engine under test.
trait Engine {
    fn name(&self) -> &'static str;
    fn put_durable(&self, k: &[u8], v: &[u8]);
    fn write_batch_durable(&self, kvs: &[(Vec<u8>, Vec<u8>)]);
    fn get(&self, k: &[u8]) -> Option<Vec<u8>>;
    /// Returns the number of entries read.
    fn scan(&self, from: &[u8], n: usize) -> usize;
}

struct Aurum(Db);
struct Redb(redb::Database);
struct Sled(sled::Db);

impl Engine for Aurum {
    fn name(&self) -> &'static str {
        "aurum-kv"
    }
    fn put_durable(&self, k: &[u8], v: &[u8]) {
        self.0.put(k, v).unwrap();
    }
    fn write_batch_durable(&self, kvs: &[(Vec<u8>, Vec<u8>)]) {
        let mut b = WriteBatch::new();
        for (k, v) in kvs {
            b.put(k, v);
        }
        self.0.write(b).unwrap();
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.0.get(k).unwrap()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        self.0.range(from..).unwrap().take(n).filter(|r| !r.as_ref().unwrap().1.is_empty()).count()
    }
}

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb"
    }
    fn put_durable(&self, k: &[u8], v: &[u8]) {
        let tx = self.0.begin_write().unwrap();
        tx.open_table(TABLE).unwrap().insert(k, v).unwrap();
        tx.commit().unwrap();
    }
    fn write_batch_durable(&self, kvs: &[(Vec<u8>, Vec<u8>)]) {
        let tx = self.0.begin_write().unwrap();
        {
            let mut t = tx.open_table(TABLE).unwrap();
            for (k, v) in kvs {
                t.insert(k.as_slice(), v.as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        let tx = self.0.begin_read().unwrap();
        let t = tx.open_table(TABLE).unwrap();
        t.get(k).unwrap().map(|g| g.value().to_vec())
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        let tx = self.0.begin_read().unwrap();
        let t = tx.open_table(TABLE).unwrap();
        t.range(from..).unwrap().take(n).filter(|r| !r.as_ref().unwrap().1.value().is_empty()).count()
    }
}

impl Engine for Sled {
    fn name(&self) -> &'static str {
        "sled"
    }
    fn put_durable(&self, k: &[u8], v: &[u8]) {
        self.0.insert(k, v).unwrap();
        self.0.flush().unwrap();
    }
    fn write_batch_durable(&self, kvs: &[(Vec<u8>, Vec<u8>)]) {
        let mut b = sled::Batch::default();
        for (k, v) in kvs {
            b.insert(k.as_slice(), v.as_slice());
        }
        self.0.apply_batch(b).unwrap();
        self.0.flush().unwrap();
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.0.get(k).unwrap().map(|v| v.to_vec())
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        self.0.range(from..).take(n).filter(|r| !r.as_ref().unwrap().1.is_empty()).count()
    }
}

fn open_all(dir: &Path) -> Vec<Box<dyn Engine>> {
    let aurum = Db::open(Arc::new(OsVfs), &dir.join("aurum"), Options::default()).unwrap();
    let redb = redb::Database::create(dir.join("redb.db")).unwrap();
    {
        // Create the table up front so reads never race its creation.
        let tx = redb.begin_write().unwrap();
        tx.open_table(TABLE).unwrap();
        tx.commit().unwrap();
    }
    let sled = sled::open(dir.join("sled")).unwrap();
    vec![Box::new(Aurum(aurum)), Box::new(Redb(redb)), Box::new(Sled(sled))]
}

/// Run one workload on every engine and print aurum and sled against redb.
fn compare(label: &str, engines: &[Box<dyn Engine>], mut f: impl FnMut(&dyn Engine) -> (u64, u64)) {
    let ms: Vec<Measurement> =
        engines.iter().map(|e| measure(format!("{} {label}", e.name()), || f(e.as_ref()))).collect();
    let (aurum, redb, sled) = (&ms[0], &ms[1], &ms[2]);
    print_row(redb);
    print_comparison(aurum, redb);
    print_comparison(sled, redb);
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = open_all(tmp.path());
    let entry_bytes = (16 + VALUE_BYTES) as u64;

    let durable_keys = keys(DURABLE_PUTS, 1);
    compare(&format!("put x{DURABLE_PUTS}, fsync each"), &engines, |e| {
        for (i, k) in durable_keys.iter().enumerate() {
            e.put_durable(k, &value(i));
        }
        (DURABLE_PUTS as u64, DURABLE_PUTS as u64 * entry_bytes)
    });

    let load: Vec<(Vec<u8>, Vec<u8>)> =
        keys(LOAD_KEYS, 2).into_iter().enumerate().map(|(i, k)| (k, value(i))).collect();
    compare(&format!("load {LOAD_KEYS} in batches of {BATCH}, fsync each"), &engines, |e| {
        for chunk in load.chunks(BATCH) {
            e.write_batch_durable(chunk);
        }
        (LOAD_KEYS as u64, LOAD_KEYS as u64 * entry_bytes)
    });

    let mut rng = SplitMix64::new(3);
    let probes: Vec<usize> = (0..GETS).map(|_| rng.below(LOAD_KEYS as u64) as usize).collect();
    compare(&format!("random get x{GETS}"), &engines, |e| {
        for &i in &probes {
            assert!(e.get(&load[i].0).is_some());
        }
        (GETS as u64, GETS as u64 * entry_bytes)
    });

    let starts: Vec<usize> = (0..SCANS).map(|_| rng.below(LOAD_KEYS as u64) as usize).collect();
    compare(&format!("range scan x{SCANS} of {SCAN_LEN} keys"), &engines, |e| {
        let mut n = 0;
        for &i in &starts {
            n += e.scan(&load[i].0, SCAN_LEN);
        }
        (n as u64, n as u64 * entry_bytes)
    });

    drop(engines);
    let engines = open_all(tmp.path());
    compare(&format!("random get x{GETS} after reopen"), &engines, |e| {
        for &i in &probes {
            assert!(e.get(&load[i].0).is_some());
        }
        (GETS as u64, GETS as u64 * entry_bytes)
    });
}
