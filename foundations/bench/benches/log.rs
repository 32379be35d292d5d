//! Log benchmark: durable append and read throughput of `aurum-log` on the real disk, against
//! the physical limit of the same disk measured in the same run (sequential write + fsync of the
//! same bytes in 1 MiB chunks, straight through `std::fs`).
//!
//! Run: `cargo bench -p aurum-foundations-bench --bench log` (add `-- quick` for a short run).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use aurum_foundations_bench::{Measurement, measure, print_comparison_bytes, print_row};
use aurum_log::{Log, LogOptions, ProducerRecord, TopicConfig};
use aurum_vfs::OsVfs;

/// Bytes per write+fsync of the raw baseline.
const RAW_CHUNK_BYTES: usize = 1 << 20;

/// Write `total_bytes` sequentially in `chunk_bytes` writes, fsyncing every `sync_every_bytes`
/// and at the end: the physical limit of durable sequential writes on this disk.
fn raw_sequential_fsync(dir: &Path, name: &str, total_bytes: u64, sync_every_bytes: u64) -> Measurement {
    let path = dir.join("raw.bin");
    let mut f = OpenOptions::new().create(true).write(true).truncate(true).open(&path).unwrap();
    let chunk = vec![0xA5u8; RAW_CHUNK_BYTES];
    let m = measure(name, || {
        let mut written = 0u64;
        let mut unsynced = 0u64;
        while written < total_bytes {
            f.write_all(&chunk).unwrap();
            written += chunk.len() as u64;
            unsynced += chunk.len() as u64;
            if unsynced >= sync_every_bytes {
                f.sync_data().unwrap();
                unsynced = 0;
            }
        }
        f.sync_data().unwrap();
        (written / 100, written)
    });
    drop(f);
    std::fs::remove_file(path).unwrap();
    m
}

fn raw_sequential_read(dir: &Path, total_bytes: u64) -> Measurement {
    use std::io::Read;
    let path = dir.join("raw-read.bin");
    let chunk = vec![0x5Au8; RAW_CHUNK_BYTES];
    let mut f = OpenOptions::new().create(true).write(true).truncate(true).open(&path).unwrap();
    let mut written = 0u64;
    while written < total_bytes {
        f.write_all(&chunk).unwrap();
        written += chunk.len() as u64;
    }
    f.sync_data().unwrap();
    drop(f);
    let mut f = std::fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; RAW_CHUNK_BYTES];
    let m = measure("raw sequential read, 1 MiB reads", || {
        let mut read = 0u64;
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            read += n as u64;
        }
        (read / 100, read)
    });
    std::fs::remove_file(path).unwrap();
    m
}

fn append_case(
    dir: &Path,
    name: &str,
    record_bytes: usize,
    records_per_append: usize,
    producers: usize,
    total_records: usize,
) -> Measurement {
    let log_dir = dir.join(format!("log-{record_bytes}-{records_per_append}-{producers}"));
    let log = Log::open(Arc::new(OsVfs), &log_dir, LogOptions::default()).unwrap();
    log.create_topic("bench", TopicConfig { segment_bytes: 256 << 20, ..TopicConfig::default() }).unwrap();
    let per_producer = total_records / producers;
    let appends = per_producer / records_per_append;
    let m = measure(name, || {
        std::thread::scope(|s| {
            for p in 0..producers {
                let log = log.clone();
                s.spawn(move || {
                    let batch: Vec<ProducerRecord> = (0..records_per_append)
                        .map(|i| ProducerRecord {
                            key: None,
                            value: Some(vec![(p + i) as u8; record_bytes]),
                            headers: Vec::new(),
                            timestamp_ms: Some(1),
                        })
                        .collect();
                    for _ in 0..appends {
                        log.append("bench", 0, &batch).unwrap();
                    }
                });
            }
        });
        let n = (appends * records_per_append * producers) as u64;
        (n, n * record_bytes as u64)
    });
    drop(log);
    std::fs::remove_dir_all(log_dir).unwrap();
    m
}

fn read_case(dir: &Path, record_bytes: usize, total_records: usize) -> Measurement {
    let log_dir = dir.join("read");
    let log = Log::open(Arc::new(OsVfs), &log_dir, LogOptions::default()).unwrap();
    log.create_topic("bench", TopicConfig { segment_bytes: 256 << 20, ..TopicConfig::default() }).unwrap();
    let batch: Vec<ProducerRecord> = (0..1000).map(|_| ProducerRecord::unkeyed(vec![7u8; record_bytes])).collect();
    for _ in 0..total_records / 1000 {
        log.append("bench", 0, &batch).unwrap();
    }
    let m = measure(format!("aurum-log read {record_bytes} B, 1 MiB fetches"), || {
        let mut offset = 0;
        let mut n = 0u64;
        loop {
            let f = log.read("bench", 0, offset, 1 << 20).unwrap();
            if f.records.is_empty() {
                break;
            }
            n += f.records.len() as u64;
            offset = f.next_offset;
        }
        (n, n * record_bytes as u64)
    });
    drop(log);
    std::fs::remove_dir_all(log_dir).unwrap();
    m
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let scale = if quick { 10 } else { 1 };
    // Benchmarks write to the target directory's disk, not /tmp (often a RAM disk).
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp");
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::tempdir_in(&base).unwrap();
    let n100 = 2_000_000 / scale;
    let n1k = 400_000 / scale;

    println!("== aurum-log durable appends vs the disk's sequential write+fsync limit ==");
    let total = (n100 * 100) as u64;
    print_row(&raw_sequential_fsync(dir.path(), "raw write+fsync every 1 MiB", total, 1 << 20));
    let raw = raw_sequential_fsync(dir.path(), "raw write, one fsync at the end", total, u64::MAX);
    print_row(&raw);
    let cases = [
        ("aurum-log append 100 B, 1000/append, 1 producer", 100, 1000, 1, n100),
        ("aurum-log append 100 B, 1000/append, 8 producers", 100, 1000, 8, n100),
        ("aurum-log append 1 KiB, 100/append, 1 producer", 1024, 100, 1, n1k),
        ("aurum-log append 1 KiB, 100/append, 8 producers", 1024, 100, 8, n1k),
        ("aurum-log append 100 B, 1/append, 1 producer", 100, 1, 1, 20_000 / scale),
        ("aurum-log append 100 B, 1/append, 8 producers", 100, 1, 8, 20_000 / scale),
    ];
    let mut single = None;
    for (name, bytes, per, producers, total) in cases {
        let m = append_case(dir.path(), name, bytes, per, producers, total);
        print_comparison_bytes(&m, &raw);
        if per == 1 && producers == 1 {
            single = Some(m);
        } else if per == 1 {
            let single = single.as_ref().expect("1-producer case runs first");
            println!(
                "  group commit: 8 producers of single-record appends reach {:.2}x the records/s of 1 producer",
                m.ops_per_sec() / single.ops_per_sec()
            );
        }
    }
    println!("== aurum-log reads vs raw sequential reads of a file of the same size ==");
    let raw_read = raw_sequential_read(dir.path(), (n100 * 100) as u64);
    print_row(&raw_read);
    let r = read_case(dir.path(), 100, n100);
    print_comparison_bytes(&r, &raw_read);
}
