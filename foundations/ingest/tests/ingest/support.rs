//! Shared test machinery: real servers on 127.0.0.1:0, and waits on channels and metrics with a
//! generous bound (never a sleep as synchronisation).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aurum_ingest::{
    BreakerPolicy, Field, FieldMap, Ingestion, ManualClock, Metrics, MetricsSnapshot, Observation, Overflow, Pace,
    Policy, RetryPolicy, Source, SourceSpec,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;

/// How long any wait may take before the test fails: generous, because a noisy 2-core machine can
/// stall a task for seconds; a passing run waits only as long as the behaviour takes.
pub const WAIT: Duration = Duration::from_secs(30);

/// The manual clock's starting time (2024-11-05T14:30:00Z).
pub const T0: i64 = 1_730_817_000_000;

/// `future`, or a panic naming `what` after [`WAIT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Serve `router` on 127.0.0.1:0; the base URL.
pub async fn http_server(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// A server that accepts connections and never answers (nor closes them); the base URL.
pub async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// A WebSocket server: `handler(connection_index, socket)` runs for every connection; the URL.
pub async fn ws_server<F, Fut>(handler: F) -> String
where
    F: Fn(usize, WebSocketStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        let mut index = 0;
        while let Ok((socket, _)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            let i = index;
            index += 1;
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(socket).await {
                    handler(i, ws).await;
                }
            });
        }
    });
    format!("ws://{addr}")
}

/// The price payload the test servers serve.
pub fn price_json(price: &str, ts_ms: i64) -> String {
    format!(r#"{{"price": "{price}", "ts": {ts_ms}, "sig": "ab01"}}"#)
}

/// `{"price": "<decimal>", "ts": <ms>, "sig": "<hex>"}` → XAU/USD.
pub fn price_fields() -> FieldMap {
    FieldMap::new(Field::fixed("XAU/USD"), Field::pointer("/ts"))
        .value(Field::pointer("/price"))
        .signature(Field::pointer("/sig"))
}

/// A policy for tests on a [`ManualClock`]: short real timeouts, clock-time schedules, no jitter
/// (so delays are exact).
pub fn test_policy() -> Policy {
    Policy {
        timeout: Duration::from_secs(10),
        message_timeout: Some(Duration::from_secs(10)),
        interval: Duration::from_millis(1_000),
        retry: RetryPolicy { base_ms: 100, max_delay_ms: 1_000, max_attempts: 3, jitter_percent: 0, seed: Some(1) },
        breaker: BreakerPolicy { failure_threshold: 5, cooldown_ms: 10_000 },
        queue_capacity: 64,
        overflow: Overflow::DropOldest,
        pace: Pace::AsFastAsConsumed,
    }
}

/// A spec.
pub fn spec(name: &str, source: Source, fields: FieldMap, policy: Policy) -> SourceSpec {
    SourceSpec { name: name.to_string(), source, fields, policy }
}

/// Start one source on a fresh manual clock.
pub fn start_manual(spec: SourceSpec, buffer_capacity: usize) -> (ManualClock, Ingestion) {
    let clock = ManualClock::new(T0);
    let ingestion = aurum_ingest::start(vec![spec], Arc::new(clock.clone()), buffer_capacity).unwrap();
    (clock, ingestion)
}

/// Advance `clock` whenever the runner waits on it, until `condition` holds for the metrics.
pub async fn drive_until(
    clock: &ManualClock,
    metrics: &Metrics,
    what: &str,
    mut condition: impl FnMut(&MetricsSnapshot) -> bool,
) -> MetricsSnapshot {
    within(what, async {
        loop {
            tokio::select! {
                biased;
                snapshot = metrics.wait_until(&mut condition) => return snapshot,
                _ = clock.advance_to_next_sleeper() => {}
            }
        }
    })
    .await
}

/// Advance `clock` whenever the runner waits on it until source `name` has buffered `total`
/// observations, then receive `n` of them. (Driving on the metrics, not on the channel: the runner
/// counts an observation before it next waits on the clock, so the clock never moves past the
/// point the test asked for.)
pub async fn recv_driving(
    clock: &ManualClock,
    ing: &mut Ingestion,
    name: &str,
    total: u64,
    n: usize,
) -> Vec<Observation> {
    drive_until(clock, &ing.metrics, &format!("{total} observations of {name}"), |s| {
        s.sources[name].observations >= total
    })
    .await;
    recv_n(&mut ing.observations, n).await
}

/// Receive `n` observations (real time).
pub async fn recv_n(rx: &mut mpsc::Receiver<Observation>, n: usize) -> Vec<Observation> {
    within(&format!("{n} observations"), async {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.push(rx.recv().await.expect("the sources ended early"));
        }
        out
    })
    .await
}
