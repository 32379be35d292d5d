//! The bounded buffer under a slow consumer: a live source drops its oldest observations (counted,
//! memory bounded); a replay waits and loses nothing.

use std::fmt::Write as _;
use std::sync::Arc;

use aurum_ingest::{
    CsvReplaySource, Field, FieldMap, Overflow, Source, SystemClock, WebSocketOptions, WebSocketSource,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

const FRAMES: u64 = 1_000;
const BUFFER: usize = 4;
const QUEUE: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_source_slow_consumer_drops_the_oldest_and_counts() {
    let url = ws_server(|_, mut socket| async move {
        for i in 1..=FRAMES {
            socket.feed(Message::text(price_json(&i.to_string(), i as i64))).await.unwrap();
        }
        socket.flush().await.unwrap();
        while socket.next().await.is_some() {}
    })
    .await;
    let source = Source::Streamed(Box::new(WebSocketSource::new(&url, WebSocketOptions::default()).unwrap()));
    let mut policy = test_policy();
    policy.queue_capacity = QUEUE;
    policy.overflow = Overflow::DropOldest;
    let mut ing =
        aurum_ingest::start(vec![spec("firehose", source, price_fields(), policy)], Arc::new(SystemClock), BUFFER)
            .unwrap();

    // The consumer reads nothing until the source has mapped every frame.
    let snap =
        within("every frame mapped", ing.metrics.wait_until(|s| s.sources["firehose"].observations == FRAMES)).await;
    let dropped = snap.sources["firehose"].dropped;
    let kept = FRAMES - dropped;
    assert!(kept <= (BUFFER + QUEUE) as u64, "at most buffer + queue observations are held: kept {kept}");
    assert!(dropped > 0);

    // Now consume what was kept: every observation is either delivered or counted as dropped.
    let obs = recv_n(&mut ing.observations, kept as usize).await;
    let values: Vec<u64> = obs.iter().map(|o| o.value.as_deref().unwrap().parse().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "order is kept: {values:?}");
    assert_eq!(values.last(), Some(&FRAMES), "the newest observation is never the one dropped");
    assert!(ing.observations.try_recv().is_err(), "nothing beyond what was kept");
    let s = &ing.metrics.snapshot().sources["firehose"];
    assert_eq!(s.dropped, dropped, "drops happen only when the queue is full");
    assert_eq!(s.queued, 0);
    assert!(
        ing.metrics
            .render_prometheus()
            .contains(&format!("aurum_ingest_dropped_total{{source=\"firehose\"}} {dropped}"))
    );
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_blocks_instead_of_dropping() {
    const ROWS: u64 = 500;
    let mut csv = String::from("t,p\n");
    for i in 1..=ROWS {
        let _ = writeln!(csv, "{i},{i}.5");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), csv).unwrap();
    let fields = FieldMap::new(Field::fixed("XAU/USD"), Field::pointer("/t")).value(Field::pointer("/p"));
    let mut policy = test_policy();
    policy.message_timeout = None;
    policy.queue_capacity = 2;
    policy.overflow = Overflow::Block;
    let source = Source::Streamed(Box::new(CsvReplaySource::new(file.path())));
    let mut ing =
        aurum_ingest::start(vec![spec("backtest", source, fields, policy)], Arc::new(SystemClock), 2).unwrap();

    // With nothing consumed, the source gets exactly buffer + queue rows ahead, then waits.
    let snap = within("the replay to block", ing.metrics.wait_until(|s| s.sources["backtest"].observations == 4)).await;
    assert_eq!(snap.sources["backtest"].queued, 2);
    let mut n = 0;
    while let Some(o) = within("the next row", ing.observations.recv()).await {
        n += 1;
        assert_eq!(o.value, Some(format!("{n}.5")));
    }
    assert_eq!(n, ROWS);
    assert_eq!(ing.metrics.snapshot().sources["backtest"].dropped, 0);
    ing.runner.shutdown().await;
}
