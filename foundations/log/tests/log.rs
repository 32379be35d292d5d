//! Integration tests of the log: semantics, recovery under injected faults and crashes (property
//! tests against a model), a SIGKILL crash test with a real child process, and decoder smoke runs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aurum_log::record::{self, RecordRef};
use aurum_log::{
    AckDurability, CleanupPolicy, Consumer, Durability, Error, Log, LogOptions, ManualClock, ProducerRecord,
    TopicConfig,
};
use aurum_vfs::rng::SplitMix64;
use aurum_vfs::{CrashMode, OsVfs, SimVfs, Vfs};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;

fn sim_log(seed: u64) -> (SimVfs, Arc<ManualClock>, Log) {
    let vfs = SimVfs::new(seed);
    let clock = Arc::new(ManualClock::new(T0));
    let log = Log::open(Arc::new(vfs.clone()), Path::new("/log"), LogOptions { clock: clock.clone() }).unwrap();
    (vfs, clock, log)
}

fn reopen(vfs: &SimVfs, clock: &Arc<ManualClock>) -> Log {
    Log::open(Arc::new(vfs.clone()), Path::new("/log"), LogOptions { clock: clock.clone() }).unwrap()
}

fn values(log: &Log, topic: &str, partition: u32, from: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = from;
    loop {
        let f = log.read(topic, partition, at, 64 << 10).unwrap();
        if f.records.is_empty() {
            return out;
        }
        at = f.next_offset;
        out.extend(f.records.into_iter().map(|r| r.value.unwrap_or_default()));
    }
}

#[test]
fn append_read_offsets_headers_and_timestamps() {
    let (_vfs, clock, log) = sim_log(1);
    log.create_topic("t", TopicConfig { partitions: 3, ..TopicConfig::default() }).unwrap();
    let mut r = ProducerRecord::new("k1", "v1");
    r.headers.push(aurum_log::Header { key: "trace".into(), value: b"abc".to_vec() });
    r.timestamp_ms = Some(T0 - 5);
    let ack = log.append("t", 1, &[r.clone(), ProducerRecord::unkeyed("v2")]).unwrap();
    assert_eq!((ack.partition, ack.base_offset, ack.last_offset), (1, 0, 1));
    assert_eq!(ack.durability, AckDurability::Synced);
    clock.advance(10);
    let ack2 = log.append("t", 1, &[ProducerRecord::new("k3", "v3")]).unwrap();
    assert_eq!(ack2.base_offset, 2, "offsets are dense");
    let f = log.read("t", 1, 0, 1 << 20).unwrap();
    assert_eq!(f.records.len(), 3);
    assert_eq!(f.records[0].headers, r.headers);
    assert_eq!(f.records[0].timestamp_ms, T0 - 5, "producer timestamps are kept");
    assert_eq!(f.records[1].timestamp_ms, T0, "missing timestamps are stamped on append");
    assert_eq!(f.records[1].key, None);
    assert_eq!(f.high_watermark, 3);
    assert_eq!(log.read("t", 1, 2, 1 << 20).unwrap().records[0].value.as_deref(), Some(&b"v3"[..]));
    assert_eq!(log.read("t", 1, 3, 1 << 20).unwrap().records.len(), 0);
    assert!(matches!(log.read("t", 1, 4, 1 << 20), Err(Error::OffsetOutOfRange { .. })));
    assert!(matches!(log.read("t", 3, 0, 1 << 20), Err(Error::UnknownPartition { .. })));
    assert!(matches!(log.read("nope", 0, 0, 1 << 20), Err(Error::UnknownTopic(_))));
    // produce() routes by key hash: the same key always lands on the same partition.
    let acks = log.produce("t", vec![ProducerRecord::new("same", "a"), ProducerRecord::new("same", "b")]).unwrap();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].last_offset - acks[0].base_offset, 1);
}

#[test]
fn bad_input_is_rejected_with_a_reason() {
    let (_vfs, _clock, log) = sim_log(2);
    assert!(matches!(log.create_topic("a/b", TopicConfig::default()), Err(Error::Invalid { .. })));
    assert!(matches!(
        log.create_topic("t", TopicConfig { partitions: 0, ..TopicConfig::default() }),
        Err(Error::Invalid { .. })
    ));
    log.create_topic("t", TopicConfig::default()).unwrap();
    log.create_topic("t", TopicConfig::default()).unwrap();
    assert!(matches!(
        log.create_topic("t", TopicConfig { partitions: 2, ..TopicConfig::default() }),
        Err(Error::TopicConfigMismatch { .. })
    ));
    assert!(matches!(log.append("t", 0, &[]), Err(Error::Invalid { .. })));
    let big = ProducerRecord::new(vec![0u8; record::MAX_KEY_BYTES + 1], "v");
    let err = log.append("t", 0, &[big]).unwrap_err();
    assert!(err.to_string().contains("MAX_KEY_BYTES"), "{err}");
    log.create_topic("c", TopicConfig { cleanup: CleanupPolicy::Compact, ..TopicConfig::default() }).unwrap();
    assert!(log.append("c", 0, &[ProducerRecord::unkeyed("v")]).unwrap_err().to_string().contains("key"));
}

#[test]
fn segments_roll_by_size_and_time_and_survive_reopen() {
    let (vfs, clock, log) = sim_log(3);
    let cfg = TopicConfig {
        segment_bytes: 2048,
        segment_ms: Some(60_000),
        index_interval_bytes: 256,
        ..TopicConfig::default()
    };
    log.create_topic("t", cfg).unwrap();
    for i in 0..100u32 {
        log.append("t", 0, &[ProducerRecord::new(i.to_le_bytes(), vec![i as u8; 50])]).unwrap();
    }
    let (_, segments) = log.partition_size("t", 0).unwrap();
    assert!(segments >= 3, "size rolling made {segments} segments");
    clock.advance(60_000);
    log.append("t", 0, &[ProducerRecord::new("late", "x")]).unwrap();
    assert_eq!(log.partition_size("t", 0).unwrap().1, segments + 1, "time rolling started a segment");
    drop(log);
    let log = reopen(&vfs, &clock);
    let vals = values(&log, "t", 0, 0);
    assert_eq!(vals.len(), 101);
    assert_eq!(vals[42], vec![42u8; 50]);
    // Reads from the middle of any segment use the sparse index.
    for start in [0u64, 17, 55, 99, 100] {
        assert_eq!(log.read("t", 0, start, 1).unwrap().records[0].offset, start);
    }
}

#[test]
fn offsets_by_timestamp() {
    let (_vfs, clock, log) = sim_log(4);
    log.create_topic("t", TopicConfig { segment_bytes: 1024, index_interval_bytes: 128, ..TopicConfig::default() })
        .unwrap();
    for i in 0..60 {
        clock.set(T0 + i * 1000);
        log.append("t", 0, &[ProducerRecord::new("k", vec![0u8; 40])]).unwrap();
    }
    assert_eq!(log.offset_for_timestamp("t", 0, T0 - 1).unwrap(), Some(0));
    assert_eq!(log.offset_for_timestamp("t", 0, T0 + 30_000).unwrap(), Some(30));
    assert_eq!(log.offset_for_timestamp("t", 0, T0 + 30_500).unwrap(), Some(31));
    assert_eq!(log.offset_for_timestamp("t", 0, T0 + 59_000).unwrap(), Some(59));
    assert_eq!(log.offset_for_timestamp("t", 0, T0 + 60_000).unwrap(), None);
}

#[test]
fn retention_by_size_and_time() {
    let (_vfs, clock, log) = sim_log(5);
    let cfg = TopicConfig {
        segment_bytes: 1024,
        retention_bytes: Some(4096),
        retention_ms: Some(3_600_000),
        ..TopicConfig::default()
    };
    log.create_topic("t", cfg).unwrap();
    for _ in 0..200 {
        log.append("t", 0, &[ProducerRecord::new("k", vec![1u8; 60])]).unwrap();
    }
    let (before, _) = log.partition_size("t", 0).unwrap();
    let r = log.enforce_retention().unwrap();
    let (after, _) = log.partition_size("t", 0).unwrap();
    assert!(r.segments_deleted > 0 && after <= 4096 + 1024, "before {before} after {after}");
    let o = log.offsets("t", 0).unwrap();
    assert!(o.log_start > 0);
    assert!(matches!(log.read("t", 0, 0, 100), Err(Error::OffsetOutOfRange { .. })));
    assert_eq!(log.read("t", 0, o.log_start, 100).unwrap().records[0].offset, o.log_start);
    // Time: everything sealed is older than the retention once the clock moves on.
    clock.advance(3_600_001);
    log.append("t", 0, &[ProducerRecord::new("k", "fresh")]).unwrap();
    log.enforce_retention().unwrap();
    let o = log.offsets("t", 0).unwrap();
    assert_eq!(values(&log, "t", 0, o.log_start).last().unwrap(), b"fresh");
    assert_eq!(log.partition_size("t", 0).unwrap().1, 1, "only the active segment is left");
}

#[test]
fn compaction_keeps_the_latest_value_per_key_and_expires_tombstones() {
    let (vfs, clock, log) = sim_log(6);
    let cfg = TopicConfig {
        segment_bytes: 1024,
        cleanup: CleanupPolicy::Compact,
        delete_retention_ms: 1000,
        ..TopicConfig::default()
    };
    log.create_topic("c", cfg).unwrap();
    for round in 0..20u8 {
        for key in 0..5u8 {
            log.append("c", 0, &[ProducerRecord::new(vec![key], vec![round; 20])]).unwrap();
        }
    }
    log.append("c", 0, &[ProducerRecord { key: Some(vec![4]), value: None, ..Default::default() }]).unwrap();
    for _ in 0..30 {
        log.append("c", 0, &[ProducerRecord::new(vec![9], "filler-to-seal-segments")]).unwrap();
    }
    let before = log.partition_size("c", 0).unwrap().0;
    let r = log.compact("c").unwrap();
    assert!(r.records_removed > 50, "{r:?}");
    assert!(log.partition_size("c", 0).unwrap().0 < before);
    let check = |log: &Log, tombstone_expected: bool| {
        let mut latest = std::collections::BTreeMap::new();
        let mut last_offset = None;
        let mut at = 0;
        loop {
            let f = log.read("c", 0, at, 1 << 20).unwrap();
            if f.records.is_empty() {
                break;
            }
            for rec in &f.records {
                assert!(last_offset.is_none_or(|l| rec.offset > l), "offsets increase");
                last_offset = Some(rec.offset);
                latest.insert(rec.key.clone().unwrap(), rec.value.clone());
            }
            at = f.next_offset;
        }
        for key in 0..4u8 {
            assert_eq!(latest[&vec![key]], Some(vec![19u8; 20]), "key {key} keeps its latest value");
        }
        assert_eq!(latest.contains_key(&vec![4u8]), tombstone_expected);
        assert_eq!(last_offset, Some(130), "offsets are preserved");
    };
    check(&log, true);
    drop(log);
    let log = reopen(&vfs, &clock);
    check(&log, true);
    clock.advance(10_000);
    log.append("c", 0, &[ProducerRecord::new(vec![9], "x")]).unwrap();
    log.compact("c").unwrap();
    let mut at = 0;
    let mut keys = std::collections::BTreeSet::new();
    loop {
        let f = log.read("c", 0, at, 1 << 20).unwrap();
        if f.records.is_empty() {
            break;
        }
        keys.extend(f.records.iter().map(|r| r.key.clone().unwrap()));
        at = f.next_offset;
    }
    assert!(!keys.contains(&vec![4u8]), "the expired tombstone is gone");
}

#[test]
fn group_commit_shares_fsyncs_among_concurrent_appends() {
    let (vfs, _clock, log) = sim_log(7);
    log.create_topic("t", TopicConfig::default()).unwrap();
    vfs.set_sync_latency(Duration::from_millis(2));
    let before = vfs.sync_count();
    let threads = 8;
    let per_thread = 200;
    std::thread::scope(|s| {
        for t in 0..threads {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    log.append("t", 0, &[ProducerRecord::new(format!("{t}"), format!("{t}-{i}"))]).unwrap();
                }
            });
        }
    });
    let syncs = vfs.sync_count() - before;
    let appends = threads * per_thread;
    // With a 2 ms device and 8 writers, each fsync covers the appends that queued behind the
    // previous one: far fewer fsyncs than appends.
    assert!(syncs * 2 < appends as u64, "{syncs} fsyncs for {appends} appends: no group commit");
    // Every acknowledged append is durable: a crash right now loses nothing.
    vfs.crash(CrashMode::LoseUnsynced);
    let log = reopen(&vfs, &Arc::new(ManualClock::new(T0)));
    assert_eq!(values(&log, "t", 0, 0).len(), appends);
    vfs.set_sync_latency(Duration::ZERO);
    println!("group commit: {appends} appends, {syncs} fsyncs");
}

#[test]
fn interval_durability_acknowledges_before_fsync_and_says_so() {
    let (vfs, clock, log) = sim_log(8);
    log.create_topic(
        "fast",
        TopicConfig { durability: Durability::Interval { interval_ms: 3_600_000 }, ..TopicConfig::default() },
    )
    .unwrap();
    let ack = log.append("fast", 0, &[ProducerRecord::new("k", "v")]).unwrap();
    assert_eq!(ack.durability, AckDurability::Buffered { interval_ms: 3_600_000 });
    assert_eq!(values(&log, "fast", 0, 0).len(), 1, "visible at once");
    log.flush().unwrap();
    log.append("fast", 0, &[ProducerRecord::new("k", "lost")]).unwrap();
    vfs.crash(CrashMode::LoseUnsynced);
    let log = reopen(&vfs, &clock);
    assert_eq!(values(&log, "fast", 0, 0), vec![b"v".to_vec()], "flushed data survives; the window is lost");
}

#[test]
fn tailing_reads_wake_on_new_data() {
    let (_vfs, _clock, log) = sim_log(9);
    log.create_topic("t", TopicConfig::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            tx.send(()).unwrap();
            let started = Instant::now();
            let f = log.read_wait("t", 0, 0, 1 << 20, Duration::from_secs(60)).unwrap();
            (f, started.elapsed())
        })
    };
    rx.recv().unwrap();
    log.append("t", 0, &[ProducerRecord::new("k", "wake")]).unwrap();
    let (f, waited) = reader.join().unwrap();
    assert_eq!(f.records[0].value.as_deref(), Some(&b"wake"[..]));
    assert!(waited < Duration::from_secs(60), "woken by the append, not the timeout");
    // And a read with nothing to wait for times out with no records.
    let f = log.read_wait("t", 0, 1, 1 << 20, Duration::from_millis(1)).unwrap();
    assert!(f.records.is_empty());
}

#[test]
fn consumer_groups_split_partitions_commit_and_report_lag() {
    let (vfs, clock, log) = sim_log(10);
    log.create_topic("t", TopicConfig { partitions: 4, ..TopicConfig::default() }).unwrap();
    for p in 0..4 {
        for i in 0..10 {
            log.append("t", p, &[ProducerRecord::new(format!("{p}"), format!("{p}-{i}"))]).unwrap();
        }
    }
    let mut a = Consumer::join(&log, "g", "a", &["t"]).unwrap();
    let mut b = Consumer::join(&log, "g", "b", &["t"]).unwrap();
    let got_a = a.poll(1000, Duration::from_secs(10)).unwrap();
    let got_b = b.poll(1000, Duration::from_secs(10)).unwrap();
    assert_eq!(a.assignment().len() + b.assignment().len(), 4);
    assert_eq!(got_a.len() + got_b.len(), 40, "each record to exactly one member");
    a.commit().unwrap();
    let lag = log.lag("g", "t").unwrap();
    let committed_lag: u64 = lag.iter().filter(|l| l.committed.is_some()).map(|l| l.lag).sum();
    assert_eq!(committed_lag, 0);
    assert_eq!(lag.iter().filter(|l| l.committed.is_none()).map(|l| l.lag).sum::<u64>(), got_b.len() as u64);
    drop(b); // b leaves without committing: a takes over all partitions from the committed offsets
    let rest = a.poll(1000, Duration::from_secs(10)).unwrap();
    assert_eq!(rest.len(), got_b.len(), "uncommitted work is redelivered");
    a.commit().unwrap();
    drop(a);
    drop(log);
    let log = reopen(&vfs, &clock);
    assert!(log.lag("g", "t").unwrap().iter().all(|l| l.lag == 0 && l.committed == Some(10)), "commits are durable");
    let mut c = Consumer::join(&log, "g", "c", &["t"]).unwrap();
    assert!(c.poll(10, Duration::from_millis(1)).unwrap().is_empty());
}

#[test]
fn a_failed_fsync_poisons_the_partition_until_reopen() {
    let (vfs, clock, log) = sim_log(11);
    log.create_topic("t", TopicConfig::default()).unwrap();
    log.append("t", 0, &[ProducerRecord::new("k", "ok")]).unwrap();
    vfs.fail_next_syncs(1);
    let err = log.append("t", 0, &[ProducerRecord::new("k", "fails")]).unwrap_err();
    assert!(matches!(err, Error::NotDurable { .. }), "{err}");
    let err = log.append("t", 0, &[ProducerRecord::new("k", "refused")]).unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    assert_eq!(values(&log, "t", 0, 0), vec![b"ok".to_vec()], "reads still work; the failed batch is invisible");
    vfs.crash(CrashMode::LoseUnsynced);
    let log = reopen(&vfs, &clock);
    log.append("t", 0, &[ProducerRecord::new("k", "again")]).unwrap();
    assert_eq!(values(&log, "t", 0, 0), vec![b"ok".to_vec(), b"again".to_vec()]);
}

#[test]
fn corruption_in_a_sealed_segment_is_reported_not_returned() {
    let (vfs, clock, log) = sim_log(12);
    log.create_topic("t", TopicConfig { segment_bytes: 1024, ..TopicConfig::default() }).unwrap();
    for i in 0..50u8 {
        log.append("t", 0, &[ProducerRecord::new("k", vec![i; 40])]).unwrap();
    }
    drop(log);
    let first =
        vfs.file_paths().into_iter().find(|p| p.to_string_lossy().ends_with("00000000000000000000.log")).unwrap();
    vfs.corrupt_byte(&first, 100, 0x01).unwrap();
    let log = reopen(&vfs, &clock);
    let err = log.read("t", 0, 0, 1 << 20).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("00000000000000000000.log"), "{err}");
}

#[test]
fn a_torn_tail_is_truncated_on_open_and_reported() {
    let (vfs, clock, log) = sim_log(13);
    log.create_topic("t", TopicConfig::default()).unwrap();
    log.append("t", 0, &[ProducerRecord::new("k", "kept")]).unwrap();
    drop(log);
    let seg = vfs.file_paths().into_iter().find(|p| p.to_string_lossy().ends_with(".log")).unwrap();
    let f = vfs.open(&seg, aurum_vfs::OpenMode::ReadWriteCreate).unwrap();
    let len = f.len().unwrap();
    f.write_at(b"garbage that is not a batch header at all..", len).unwrap();
    f.sync().unwrap();
    let log = reopen(&vfs, &clock);
    assert_eq!(log.open_report().truncated.len(), 1);
    assert_eq!(values(&log, "t", 0, 0), vec![b"kept".to_vec()]);
    log.append("t", 0, &[ProducerRecord::new("k", "next")]).unwrap();
    assert_eq!(log.offsets("t", 0).unwrap().log_end, 2);
}

#[test]
fn damage_inside_written_data_is_cut_but_kept_as_evidence() {
    let (vfs, clock, log) = sim_log(14);
    log.create_topic("t", TopicConfig::default()).unwrap();
    for i in 0..10u8 {
        log.append("t", 0, &[ProducerRecord::new("k", vec![i; 30])]).unwrap();
    }
    drop(log);
    let seg = vfs.file_paths().into_iter().find(|p| p.to_string_lossy().ends_with("0.log")).unwrap();
    let bytes = vfs.open(&seg, aurum_vfs::OpenMode::Read).unwrap().read_all().unwrap();
    let batches = record::scan_batches(&bytes, 0).batches;
    let (pos, _) = batches[4];
    vfs.corrupt_byte(&seg, pos + 50, 0x04).unwrap();
    let log = reopen(&vfs, &clock);
    let (_, _, rec) = &log.open_report().truncated[0];
    assert_eq!(rec.cut_at, pos, "cut at the damaged batch");
    let kept = rec.preserved.clone().expect("valid batches after the damage: the cut bytes are kept");
    let kept_bytes = vfs.open(&kept, aurum_vfs::OpenMode::Read).unwrap().read_all().unwrap();
    let mut damaged = bytes.clone();
    damaged[pos as usize + 50] ^= 0x04;
    assert_eq!(kept_bytes, damaged[pos as usize..], "the evidence is byte for byte what was cut");
    assert_eq!(values(&log, "t", 0, 0).len(), 4);
    // A torn tail (garbage at the very end, nothing valid after) is cut without keeping anything.
    drop(log);
    let f = vfs.open(&seg, aurum_vfs::OpenMode::ReadWriteCreate).unwrap();
    let len = f.len().unwrap();
    f.write_at(&[0xAB; 17], len).unwrap();
    f.sync().unwrap();
    let log = reopen(&vfs, &clock);
    assert!(log.open_report().truncated[0].2.preserved.is_none());
}

// ---- property test: the log against a model, with faults and crashes ----

#[derive(Debug, Clone)]
enum Op {
    Append { partition: u32, count: usize, len: usize },
    Read { partition: u32 },
    FailNextSync,
    PartialWrites,
    Crash { torn: bool },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2u32, 1..6usize, 0..300usize).prop_map(|(partition, count, len)| Op::Append { partition, count, len }),
        2 => (0..2u32).prop_map(|partition| Op::Read { partition }),
        1 => Just(Op::FailNextSync),
        1 => Just(Op::PartialWrites),
        1 => any::<bool>().prop_map(|torn| Op::Crash { torn }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Default, Clone)]
struct Model {
    acked: Vec<Vec<u8>>,
    /// Batches whose append failed with an I/O error: they may or may not survive a crash,
    /// but only whole and only in order.
    uncertain: Vec<Vec<Vec<u8>>>,
}

fn check_recovered(model: &mut Model, got: Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    prop_assert!(got.len() >= model.acked.len(), "lost acknowledged records: {} < {}", got.len(), model.acked.len());
    prop_assert_eq!(&got[..model.acked.len()], &model.acked[..]);
    let mut rest = &got[model.acked.len()..];
    for batch in &model.uncertain {
        if rest.is_empty() {
            break;
        }
        prop_assert!(
            rest.len() >= batch.len() && rest[..batch.len()] == batch[..],
            "a partial or foreign batch survived"
        );
        rest = &rest[batch.len()..];
    }
    prop_assert!(rest.is_empty(), "records nobody wrote appeared");
    model.acked = got;
    model.uncertain.clear();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model_under_faults_and_crashes(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..60)) {
        let vfs = SimVfs::new(seed);
        let clock = Arc::new(ManualClock::new(T0));
        let cfg = TopicConfig { partitions: 2, segment_bytes: 1024, index_interval_bytes: 200, ..TopicConfig::default() };
        let mut log = reopen(&vfs, &clock);
        log.create_topic("t", cfg).unwrap();
        let mut models = [Model::default(), Model::default()];
        let mut counter = 0u64;
        for op in ops {
            match op {
                Op::Append { partition, count, len } => {
                    let batch: Vec<Vec<u8>> = (0..count).map(|_| { counter += 1; let mut v = counter.to_le_bytes().to_vec(); v.resize(len.max(8), 7); v }).collect();
                    let recs: Vec<ProducerRecord> = batch.iter().map(|v| ProducerRecord::new("k", v.clone())).collect();
                    clock.advance(1);
                    match log.append("t", partition, &recs) {
                        Ok(ack) => {
                            let m = &mut models[partition as usize];
                            prop_assert!(m.uncertain.is_empty(), "a poisoned partition acknowledged a write");
                            prop_assert_eq!(ack.base_offset, m.acked.len() as u64);
                            m.acked.extend(batch);
                        }
                        Err(Error::Poisoned { .. }) => {}
                        Err(Error::Io { .. } | Error::NotDurable { .. }) => models[partition as usize].uncertain.push(batch),
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                    vfs.clear_faults();
                }
                Op::Read { partition } => {
                    prop_assert_eq!(values(&log, "t", partition, 0), models[partition as usize].acked.clone());
                }
                Op::FailNextSync => vfs.fail_next_syncs(1),
                Op::PartialWrites => vfs.set_partial_write_rate(1, 2),
                Op::Crash { torn } => {
                    drop(log);
                    vfs.clear_faults();
                    vfs.crash(if torn { CrashMode::Torn } else { CrashMode::LoseUnsynced });
                    log = reopen(&vfs, &clock);
                    for p in 0..2 {
                        check_recovered(&mut models[p as usize], values(&log, "t", p, 0))?;
                    }
                    // Recovery is deterministic: opening the same disk again finds the same records.
                    let again = reopen(&vfs, &clock);
                    for p in 0..2 {
                        prop_assert_eq!(values(&again, "t", p, 0), models[p as usize].acked.clone());
                    }
                }
                Op::Reopen => {
                    drop(log);
                    vfs.clear_faults();
                    log = reopen(&vfs, &clock);
                    for p in 0..2 {
                        check_recovered(&mut models[p as usize], values(&log, "t", p, 0))?;
                    }
                }
            }
        }
    }
}

// ---- property test: compaction under faults and crashes keeps the latest value per key ----

#[derive(Debug, Clone)]
enum CompactOp {
    Put { key: u8, len: usize },
    Delete { key: u8 },
    Compact { faulty: bool },
    Crash { torn: bool },
}

fn compact_op() -> impl Strategy<Value = CompactOp> {
    prop_oneof![
        8 => (0..6u8, 0..120usize).prop_map(|(key, len)| CompactOp::Put { key, len }),
        2 => (0..6u8).prop_map(|key| CompactOp::Delete { key }),
        2 => any::<bool>().prop_map(|faulty| CompactOp::Compact { faulty }),
        1 => any::<bool>().prop_map(|torn| CompactOp::Crash { torn }),
    ]
}

type Entry = (u8, Option<Vec<u8>>);

fn fold(entries: &[Entry]) -> std::collections::BTreeMap<u8, Option<Vec<u8>>> {
    entries.iter().cloned().collect()
}

fn read_fold(log: &Log) -> std::collections::BTreeMap<u8, Option<Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut at = 0;
    let mut last = None;
    loop {
        let f = log.read("c", 0, at, 1 << 20).unwrap();
        if f.records.is_empty() {
            return out;
        }
        for r in f.records {
            assert!(last.is_none_or(|l| r.offset > l), "offsets increase");
            last = Some(r.offset);
            out.insert(r.key.unwrap()[0], r.value);
        }
        at = f.next_offset;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn compaction_under_faults_and_crashes_keeps_the_latest_value_per_key(
        seed in any::<u64>(),
        ops in proptest::collection::vec(compact_op(), 1..80),
    ) {
        let vfs = SimVfs::new(seed);
        let clock = Arc::new(ManualClock::new(T0));
        let cfg = TopicConfig {
            segment_bytes: 1024,
            cleanup: CleanupPolicy::Compact,
            delete_retention_ms: u64::MAX / 4,
            ..TopicConfig::default()
        };
        let mut log = reopen(&vfs, &clock);
        log.create_topic("c", cfg).unwrap();
        let mut acked: Vec<Entry> = Vec::new();
        let mut uncertain: Vec<Entry> = Vec::new();
        let mut counter = 0u64;
        for op in ops {
            let entry = match op {
                CompactOp::Put { key, len } => {
                    counter += 1;
                    let mut v = counter.to_le_bytes().to_vec();
                    v.resize(len.max(8), key);
                    Some((key, Some(v)))
                }
                CompactOp::Delete { key } => Some((key, None)),
                CompactOp::Compact { faulty } => {
                    if faulty {
                        vfs.set_partial_write_rate(1, 3);
                        vfs.set_sync_failure_rate(1, 3);
                    }
                    let result = log.compact("c");
                    vfs.clear_faults();
                    prop_assert!(faulty || result.is_ok(), "compaction failed without a fault: {:?}", result);
                    // Whatever happened, readers see the latest value of every key.
                    prop_assert_eq!(read_fold(&log), fold(&acked));
                    None
                }
                CompactOp::Crash { torn } => {
                    drop(log);
                    vfs.crash(if torn { CrashMode::Torn } else { CrashMode::LoseUnsynced });
                    log = reopen(&vfs, &clock);
                    let got = read_fold(&log);
                    let k = (0..=uncertain.len()).find(|&k| {
                        let mut all = acked.clone();
                        all.extend_from_slice(&uncertain[..k]);
                        fold(&all) == got
                    });
                    prop_assert!(k.is_some(), "after recovery the latest values match no prefix of the writes");
                    acked.extend_from_slice(&uncertain[..k.unwrap_or(0)]);
                    uncertain.clear();
                    None
                }
            };
            if let Some((key, value)) = entry {
                let rec = ProducerRecord { key: Some(vec![key]), value: value.clone(), ..Default::default() };
                clock.advance(1);
                match log.append("c", 0, &[rec]) {
                    Ok(_) => {
                        prop_assert!(uncertain.is_empty());
                        acked.push((key, value));
                    }
                    Err(Error::NotDurable { .. } | Error::Io { .. }) => uncertain.push((key, value)),
                    Err(Error::Poisoned { .. }) => {}
                    Err(e) => prop_assert!(false, "unexpected error {}", e),
                }
            }
        }
    }
}

// ---- crash test: a real child process killed with SIGKILL ----

const CHILD_ENV: &str = "AURUM_LOG_CRASH_CHILD";
const CRASH_TOPIC: &str = "crash";

/// Not a test on its own: when `AURUM_LOG_CRASH_CHILD` names a directory, this runs as the child
/// of `sigkill_crash_loses_no_acknowledged_record`, appending under load and printing one line per
/// acknowledged batch until it is killed.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let iteration: u64 = std::env::var("AURUM_CRASH_ITERATION").unwrap().parse().unwrap();
    let log = Log::open(Arc::new(OsVfs), Path::new(&dir), LogOptions::default()).unwrap();
    log.create_topic(CRASH_TOPIC, TopicConfig { partitions: 2, segment_bytes: 64 << 10, ..TopicConfig::default() })
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    for thread in 0..4u64 {
        let log = log.clone();
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut rng = SplitMix64::new(iteration * 31 + thread);
            for seq in 0.. {
                let n = rng.range_inclusive(1, 8);
                let recs: Vec<ProducerRecord> = (0..n)
                    .map(|i| ProducerRecord::new(format!("{thread}"), format!("{iteration}:{thread}:{seq}:{i}")))
                    .collect();
                let p = (thread % 2) as u32;
                let ack = log.append(CRASH_TOPIC, p, &recs).unwrap();
                tx.send(format!("ack {p} {} {n} {iteration}:{thread}:{seq}", ack.base_offset)).unwrap();
            }
        });
    }
    drop(tx);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in rx {
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_crash_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = SplitMix64::new(0xC0FFEE);
    let iterations = 50;
    let started = Instant::now();
    let mut verified = 0usize;
    for iteration in 0..iterations {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("AURUM_CRASH_ITERATION", iteration.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("ack ") && tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill after a random number of acknowledgements (sometimes before the first one).
        let kill_after = rng.below(120) as usize;
        let mut acks = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acks.len() < kill_after {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => acks.push(line),
                Err(_) => break,
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acks.extend(rx.try_iter());
        let log = Log::open(Arc::new(OsVfs), dir.path(), LogOptions::default()).unwrap();
        for line in &acks {
            let parts: Vec<&str> = line.split(' ').collect();
            let (p, base, n, tag): (u32, u64, u64, &str) =
                (parts[1].parse().unwrap(), parts[2].parse().unwrap(), parts[3].parse().unwrap(), parts[4]);
            let f = log.read(CRASH_TOPIC, p, base, 1 << 16).unwrap();
            for i in 0..n {
                let r = &f.records[i as usize];
                assert_eq!(r.offset, base + i);
                assert_eq!(r.value.as_deref(), Some(format!("{tag}:{i}").as_bytes()), "iteration {iteration}: {line}");
            }
            verified += 1;
        }
        // The log accepts writes again after every crash.
        if log.topics().contains(&CRASH_TOPIC.to_string()) {
            log.append(CRASH_TOPIC, 0, &[ProducerRecord::new("parent", "after-crash")]).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(300), "crash test exceeded its time bound");
    }
    println!("log crash test: {iterations} SIGKILLs, {verified} acknowledged batches verified");
    assert!(verified > 0);
}

// ---- decoder smoke: random and mutated inputs never panic ----

#[test]
fn decoders_never_panic_on_random_or_mutated_input() {
    let mut rng = SplitMix64::new(99);
    let recs: Vec<aurum_log::Record> = (0..5)
        .map(|i| aurum_log::Record {
            offset: 10 + i * 2,
            timestamp_ms: T0 + i as i64,
            key: Some(vec![i as u8; 3]),
            value: if i == 3 { None } else { Some(vec![7; 20]) },
            headers: vec![aurum_log::Header { key: "h".into(), value: vec![1, 2] }],
        })
        .collect();
    let refs: Vec<RecordRef<'_>> = recs.iter().map(RecordRef::from).collect();
    let mut valid = Vec::new();
    record::encode_batch(&mut valid, &refs);
    record::encode_batch(
        &mut valid,
        &refs.iter().map(|r| RecordRef { offset: r.offset + 100, ..*r }).collect::<Vec<_>>(),
    );
    let oi = aurum_log::index::encode_offset_index(&[
        aurum_log::index::OffsetEntry { relative_offset: 0, position: 0 },
        aurum_log::index::OffsetEntry { relative_offset: 9, position: 300 },
    ]);
    let mut offsets = aurum_log::groups::Offsets::new();
    offsets.insert(("t".into(), 1), 5);
    let go = aurum_log::groups::encode_offsets(&offsets);
    for i in 0..4000 {
        let mut input = match i % 3 {
            0 => valid.clone(),
            1 => oi.clone(),
            _ => go.clone(),
        };
        if i % 4 == 0 {
            input = vec![0; rng.below(200) as usize];
            rng.fill(&mut input);
        } else {
            for _ in 0..=rng.below(4) {
                match rng.below(3) {
                    0 if !input.is_empty() => {
                        let at = rng.below(input.len() as u64) as usize;
                        input[at] ^= 1 << rng.below(8);
                    }
                    1 => input.truncate(rng.below(input.len() as u64 + 1) as usize),
                    _ => input.push(rng.next_u64() as u8),
                }
            }
        }
        let _ = record::decode_batch(&input);
        let _ = record::scan_batches(&input, 10);
        let _ = aurum_log::index::decode_offset_index(&input);
        let _ = aurum_log::index::decode_time_index(&input);
        let _ = aurum_log::groups::decode_offsets(&input);
        let _ = TopicConfig::decode(&String::from_utf8_lossy(&input));
    }
}

#[test]
fn sim_vfs_is_the_seam_used() {
    // The engine runs on any Vfs: open a log on the OS file system too.
    let dir = tempfile::tempdir().unwrap();
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs);
    let log = Log::open(vfs, dir.path(), LogOptions::default()).unwrap();
    log.create_topic("t", TopicConfig::default()).unwrap();
    log.append("t", 0, &[ProducerRecord::new("k", "v")]).unwrap();
    assert_eq!(values(&log, "t", 0, 0), vec![b"v".to_vec()]);
}

/// A second log on an open directory is refused; once the first is dropped, it opens again.
#[test]
fn a_directory_is_owned_by_one_open_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = Log::open(Arc::new(OsVfs), tmp.path(), LogOptions::default()).unwrap();
    let err = Log::open(Arc::new(OsVfs), tmp.path(), LogOptions::default()).unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
    drop(log);
    Log::open(Arc::new(OsVfs), tmp.path(), LogOptions::default()).unwrap();
}
