//! CSV replay: order, exact values, quoting, bad rows, pacing on the clock.

use std::num::NonZeroU32;
use std::sync::Arc;

use aurum_ingest::{CsvReplaySource, Field, FieldMap, Overflow, Pace, Source, SystemClock, TimestampFormat};

use crate::support::*;

const HISTORY: &str = "\u{feff}timestamp,symbol,price,note\r\n\
2024-11-05T14:30:00Z,XAU/USD,2650.10,\r\n\
2024-11-05T14:31:00Z,XAU/INR,221000.75,\"vault, Mumbai\"\r\n\
2024-11-05T14:32:00.250Z,XAU/USD,-1.5,\"said \"\"halt\"\"\nthen resumed\"\r\n\
\r\n\
2024-11-05T14:33:00Z,RESERVE,0.000000000000000000000000000001,last\r\n";

fn history_fields() -> FieldMap {
    FieldMap::new(Field::pointer("/symbol"), Field::pointer("/timestamp"))
        .value(Field::pointer("/price"))
        .text(Field::pointer("/note"))
        .timestamp_format(TimestampFormat::Rfc3339)
}

fn csv_policy() -> aurum_ingest::Policy {
    let mut policy = test_policy();
    policy.message_timeout = None;
    policy.overflow = Overflow::Block;
    policy
}

fn write(content: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), content).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_rows_in_order_with_exact_values_then_ends() {
    let file = write(HISTORY);
    let source = Source::Streamed(Box::new(CsvReplaySource::new(file.path())));
    let mut ing =
        aurum_ingest::start(vec![spec("history", source, history_fields(), csv_policy())], Arc::new(SystemClock), 16)
            .unwrap();

    let obs = recv_n(&mut ing.observations, 4).await;
    let got: Vec<(&str, Option<&str>, i64, Option<&str>)> =
        obs.iter().map(|o| (o.symbol.as_str(), o.value.as_deref(), o.observed_at_ms, o.text.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("XAU/USD", Some("2650.10"), 1_730_817_000_000, Some("")),
            ("XAU/INR", Some("221000.75"), 1_730_817_060_000, Some("vault, Mumbai")),
            ("XAU/USD", Some("-1.5"), 1_730_817_120_250, Some("said \"halt\"\nthen resumed")),
            ("RESERVE", Some("0.000000000000000000000000000001"), 1_730_817_180_000, Some("last")),
        ]
    );
    // The replay is finite: once it is done, the buffer reports the end.
    assert_eq!(within("the end of the replay", ing.observations.recv()).await, None);
    let s = &ing.metrics.snapshot().sources["history"];
    assert_eq!((s.requests, s.payloads, s.observations, s.failures.total()), (1, 4, 4, 0));
    assert!(s.finished);
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_skipped_and_counted() {
    let file = write(
        "timestamp,symbol,price,note\n\
         2024-11-05T14:30:00Z,XAU/USD,1,a\n\
         2024-11-05T14:30:01Z,XAU/USD,2\n\
         2024-11-05T14:30:02Z,XAU/USD,3.0.0,c\n\
         2024-11-05T14:30:03Z,XAU/USD,\"4\"x,d\n\
         2024-11-05T14:30:04Z,XAU/USD,5,e\n",
    );
    let source = Source::Streamed(Box::new(CsvReplaySource::new(file.path())));
    let mut ing =
        aurum_ingest::start(vec![spec("rows", source, history_fields(), csv_policy())], Arc::new(SystemClock), 16)
            .unwrap();
    let obs = recv_n(&mut ing.observations, 2).await;
    assert_eq!(obs.iter().map(|o| o.value.as_deref().unwrap()).collect::<Vec<_>>(), ["1", "5"]);
    assert_eq!(within("the end of the replay", ing.observations.recv()).await, None);
    let s = &ing.metrics.snapshot().sources["rows"];
    assert_eq!(s.failures.decode, 3);
    let last = s.last_failure.as_ref().unwrap();
    assert!(last.message.contains("line 5: text after a closing quote"), "{}", last.message);
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_fails_after_max_attempts_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let source = Source::Streamed(Box::new(CsvReplaySource::new(dir.path().join("absent.csv"))));
    let mut policy = csv_policy();
    policy.retry.base_ms = 1;
    policy.retry.max_attempts = 2;
    let mut ing =
        aurum_ingest::start(vec![spec("absent", source, history_fields(), policy)], Arc::new(SystemClock), 4).unwrap();
    assert_eq!(within("the end", ing.observations.recv()).await, None);
    let s = &ing.metrics.snapshot().sources["absent"];
    assert_eq!((s.requests, s.failures.connect), (2, 2));
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_replay_follows_the_recorded_gaps_on_the_clock() {
    let file = write(HISTORY);
    let source = Source::Streamed(Box::new(CsvReplaySource::new(file.path())));
    let mut policy = csv_policy();
    // A minute of history per second of clock time.
    policy.pace = Pace::Speed(NonZeroU32::new(60).unwrap());
    let (clock, mut ing) = start_manual(spec("paced", source, history_fields(), policy), 16);
    let obs = recv_driving(&clock, &mut ing, "paced", 4, 4).await;
    let emitted: Vec<i64> = obs.iter().map(|o| o.received_at_ms - T0).collect();
    // Recorded at 0 s, 60 s, 120.25 s, 180 s → emitted 1000 / 60 apart.
    assert_eq!(emitted, [0, 1_000, 2_004, 3_000]);
    ing.runner.shutdown().await;
}
