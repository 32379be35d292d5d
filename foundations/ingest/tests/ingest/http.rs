//! HTTP JSON sources against real local servers: healthy, flapping, slow, lying, silent, refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aurum_ingest::{
    BreakerPolicy, BreakerState, FailureKind, HttpJsonSource, HttpOptions, RetryPolicy, Source, SourceSpec,
};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::mpsc::error::TryRecvError;

use crate::support::*;

fn http(url: &str) -> Source {
    Source::Polled(Box::new(HttpJsonSource::new(url, HttpOptions::default()).unwrap()))
}

fn http_spec(name: &str, url: &str) -> SourceSpec {
    spec(name, http(url), price_fields(), test_policy())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_source_polls_on_the_clock_and_emits_exact_values() {
    let hits = Arc::new(AtomicU64::new(0));
    let h = Arc::clone(&hits);
    let base = http_server(Router::new().route(
        "/price",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst) as i64;
            async move { price_json(&format!("2650.1{n}"), 1_700_000_000_000 + n) }
        }),
    ))
    .await;
    let (clock, mut ing) = start_manual(http_spec("lbma", &format!("{base}/price")), 16);

    let obs = recv_driving(&clock, &mut ing, "lbma", 3, 3).await;
    for (i, o) in obs.iter().enumerate() {
        assert_eq!(o.source, "lbma");
        assert_eq!(o.symbol, "XAU/USD");
        assert_eq!(o.value.as_deref(), Some(format!("2650.1{i}").as_str()), "exact decimal strings pass through");
        assert_eq!(o.observed_at_ms, 1_700_000_000_000 + i as i64);
        // One poll per interval of clock time, received when polled.
        assert_eq!(o.received_at_ms, T0 + 1_000 * i as i64);
        assert_eq!(o.signature.as_deref(), Some("ab01"));
    }
    let snap = within("metrics", ing.metrics.wait_until(|s| s.sources["lbma"].observations == 3)).await;
    let s = &snap.sources["lbma"];
    assert_eq!(s.requests, 3);
    assert_eq!(s.payloads, 3);
    assert_eq!(s.failures.total(), 0);
    assert_eq!(s.retries, 0);
    assert_eq!(s.breaker, BreakerState::Closed);
    assert_eq!(s.last_success_ms, Some(T0 + 2_000));
    assert_eq!(s.latency.count(), 3);
    let text = ing.metrics.render_prometheus();
    assert!(text.contains("aurum_ingest_observations_total{source=\"lbma\"} 3"), "{text}");
    assert!(text.contains("aurum_ingest_request_duration_seconds_count{source=\"lbma\"} 3"), "{text}");
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_source_recovers_by_retrying_and_counts_failures() {
    // Odd requests fail with 500, even ones succeed.
    let hits = Arc::new(AtomicU64::new(0));
    let h = Arc::clone(&hits);
    let base = http_server(Router::new().route(
        "/price",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                if n.is_multiple_of(2) {
                    Err(StatusCode::INTERNAL_SERVER_ERROR)
                } else {
                    Ok(price_json("2650.12", 1_700_000_000_000 + n as i64))
                }
            }
        }),
    ))
    .await;
    let (clock, mut ing) = start_manual(http_spec("flappy", &format!("{base}/price")), 16);

    let obs = recv_driving(&clock, &mut ing, "flappy", 3, 3).await;
    assert!(obs.iter().all(|o| o.value.as_deref() == Some("2650.12")));
    // Each round: 500, a retry 100 ms later (base delay, no jitter), then 200.
    let received: Vec<i64> = obs.iter().map(|o| o.received_at_ms - T0).collect();
    assert_eq!(received, [100, 1_100, 2_100]);
    let snap = within("metrics", ing.metrics.wait_until(|s| s.sources["flappy"].observations == 3)).await;
    let s = &snap.sources["flappy"];
    assert_eq!(s.requests, 6);
    assert_eq!(s.failures.http_status, 3);
    assert_eq!(s.failures.total(), 3);
    assert_eq!(s.retries, 3);
    assert_eq!(s.breaker, BreakerState::Closed, "failures never came 5 in a row");
    assert_eq!(s.breaker_opens, 0);
    let last = s.last_failure.as_ref().unwrap();
    assert_eq!(last.kind, FailureKind::HttpStatus);
    assert!(last.message.contains("HTTP status 500") && last.message.contains("flappy"), "{}", last.message);
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_source_times_out_opens_the_breaker_half_opens_after_the_cooldown_and_closes_on_success() {
    let slow = Arc::new(AtomicBool::new(true));
    let hits = Arc::new(AtomicU64::new(0));
    let (s2, h2) = (Arc::clone(&slow), Arc::clone(&hits));
    let base = http_server(Router::new().route(
        "/price",
        get(move || {
            let (slow, hits) = (Arc::clone(&s2), Arc::clone(&h2));
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                if slow.load(Ordering::SeqCst) {
                    // Far beyond the source's timeout: the answer comes too late to count.
                    tokio::time::sleep(Duration::from_secs(20)).await;
                }
                price_json("2650.12", 1_700_000_000_000)
            }
        }),
    ))
    .await;
    let mut policy = test_policy();
    policy.timeout = Duration::from_millis(100);
    policy.retry.max_attempts = 2;
    policy.breaker = BreakerPolicy { failure_threshold: 3, cooldown_ms: 10_000 };
    let (clock, mut ing) = start_manual(spec("slow", http(&format!("{base}/price")), price_fields(), policy), 16);
    let metrics = ing.metrics.clone();

    // Round 1: timeout, retry, timeout. Round 2: timeout → third in a row → open.
    let snap =
        drive_until(&clock, &metrics, "the breaker to open", |s| s.sources["slow"].breaker == BreakerState::Open).await;
    let s = &snap.sources["slow"];
    assert_eq!((s.requests, s.failures.timeout, s.failures.total(), s.retries, s.breaker_opens), (3, 3, 3, 1, 1));
    let last = s.last_failure.as_ref().unwrap();
    assert_eq!(last.kind, FailureKind::Timeout);
    assert!(last.message.contains("no answer within 100 ms"), "{}", last.message);
    let open_until = last.at_ms + 10_000;

    // While open: the runner waits for the end of the cool-down and makes no request.
    clock.set(open_until - 1);
    assert_eq!(within("the runner to wait for the cool-down", clock.next_sleeper()).await, open_until);
    let s = &metrics.snapshot().sources["slow"];
    assert_eq!((s.requests, s.breaker), (3, BreakerState::Open));
    let hits_while_open = hits.load(Ordering::SeqCst);
    assert!(hits_while_open <= 3);

    // Cool-down over: one probe (half-open). It times out too → open again.
    clock.set(open_until);
    let snap = within("the probe to fail", metrics.wait_until(|s| s.sources["slow"].breaker_opens == 2)).await;
    let s = &snap.sources["slow"];
    assert_eq!((s.requests, s.failures.timeout, s.breaker), (4, 4, BreakerState::Open));
    let reopen_until = s.last_failure.as_ref().unwrap().at_ms + 10_000;

    // The source recovers; the next probe succeeds and closes the breaker.
    slow.store(false, Ordering::SeqCst);
    let obs = recv_driving(&clock, &mut ing, "slow", 1, 1).await;
    assert_eq!(obs[0].value.as_deref(), Some("2650.12"));
    assert_eq!(obs[0].received_at_ms, reopen_until, "the probe went exactly at the end of the cool-down");
    let snap =
        within("the breaker to close", metrics.wait_until(|s| s.sources["slow"].breaker == BreakerState::Closed)).await;
    let s = &snap.sources["slow"];
    assert_eq!((s.requests, s.breaker_opens, s.observations), (5, 2, 1));
    assert!(ing.metrics.render_prometheus().contains("aurum_ingest_breaker_opens_total{source=\"slow\"} 2"));
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_source_is_refused_with_the_pointer_named_and_nothing_emitted() {
    let bodies = [
        (
            r#"{"price": "26x0.12", "ts": 1700000000000, "sig": "ab"}"#,
            r#"field value at pointer "/price": "26x0.12" is not a plain decimal"#,
        ),
        (
            r#"{"price": 2650.1234567890123, "ts": 1700000000000, "sig": "ab"}"#,
            r#"field value at pointer "/price": JSON number 2650.1234567890123 has 17 significant digits"#,
        ),
        (r#"{"price": 2650.12000000000000001, "ts": 1700000000000, "sig": "ab"}"#, "has 21 significant digits"),
        (r#"{"ts": 1700000000000, "sig": "ab"}"#, r#"field value at pointer "/price" is missing"#),
        (r#"{"price": "1", "sig": "ab"}"#, r#"field timestamp at pointer "/ts" is missing"#),
        (
            r#"{"price": "1", "ts": "yesterday", "sig": "ab"}"#,
            r#"field timestamp at pointer "/ts": "yesterday" is not a UnixMillis timestamp"#,
        ),
        (r#"{"price": "1", "ts": 1700000000000}"#, r#"field signature at pointer "/sig" is missing"#),
        (r#"{"price": "1", "price": "2", "ts": 1700000000000, "sig": "ab"}"#, r#"key "price" appears twice"#),
        (r#"<html>503</html>"#, "payload is not valid JSON"),
    ];
    let hits = Arc::new(AtomicU64::new(0));
    let h = Arc::clone(&hits);
    let base = http_server(Router::new().route(
        "/price",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst) as usize;
            async move { bodies[n % bodies.len()].0 }
        }),
    ))
    .await;
    let mut policy = test_policy();
    policy.breaker.failure_threshold = 100;
    let (clock, mut ing) = start_manual(spec("liar", http(&format!("{base}/price")), price_fields(), policy), 16);

    for (i, (_, want)) in bodies.iter().enumerate() {
        let snap =
            drive_until(&clock, &ing.metrics, "a decode failure", |s| s.sources["liar"].failures.decode > i as u64)
                .await;
        let s = &snap.sources["liar"];
        let last = s.last_failure.as_ref().unwrap();
        assert_eq!(last.kind, FailureKind::Decode);
        assert!(last.message.contains(want), "payload {i}: {:?} should contain {want:?}", last.message);
        assert!(last.message.contains("source \"liar\""), "{}", last.message);
    }
    let s = &ing.metrics.snapshot().sources["liar"];
    assert_eq!(s.observations, 0);
    assert_eq!(s.retries, 0, "a payload that does not decode is not retried within the round");
    assert_eq!(s.requests, bodies.len() as u64);
    assert_eq!(s.last_success_ms, None);
    assert_eq!(ing.observations.try_recv(), Err(TryRecvError::Empty), "nothing emitted");
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_element_refuses_the_whole_array() {
    let base = http_server(Router::new().route(
        "/prices",
        get(|| async {
            r#"{"data": [{"s": "XAU/USD", "p": "2650.12", "t": 1700000000000},
                         {"s": "XAU/INR", "p": 1e999, "t": 1700000000000}]}"#
        }),
    ))
    .await;
    let fields = aurum_ingest::FieldMap::new(aurum_ingest::Field::pointer("/s"), aurum_ingest::Field::pointer("/t"))
        .items("/data")
        .value(aurum_ingest::Field::pointer("/p"));
    let (clock, mut ing) = start_manual(spec("arr", http(&format!("{base}/prices")), fields, test_policy()), 16);
    let snap = drive_until(&clock, &ing.metrics, "a decode failure", |s| s.sources["arr"].failures.decode == 1).await;
    let message = &snap.sources["arr"].last_failure.as_ref().unwrap().message;
    assert!(message.contains(r#"pointer "/data/1/p""#), "{message}");
    assert_eq!(ing.observations.try_recv(), Err(TryRecvError::Empty));
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_is_a_timeout() {
    let base = silent_server().await;
    let mut policy = test_policy();
    policy.timeout = Duration::from_millis(100);
    policy.retry.max_attempts = 2;
    let (clock, mut ing) = start_manual(spec("mute", http(&format!("{base}/price")), price_fields(), policy), 16);
    let snap = drive_until(&clock, &ing.metrics, "two timeouts", |s| s.sources["mute"].failures.timeout == 2).await;
    let s = &snap.sources["mute"];
    assert_eq!(s.failures.total(), 2);
    assert_eq!(s.retries, 1);
    assert_eq!(s.latency.count(), 2);
    // Each timed-out request took at least the timeout.
    assert!(s.latency.sum_us >= 200_000, "{}", s.latency.sum_us);
    assert_eq!(ing.observations.try_recv(), Err(TryRecvError::Empty));
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_and_oversized_body_are_classified() {
    // A port with nothing listening.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/price", listener.local_addr().unwrap());
    drop(listener);
    let big = "x".repeat(4096);
    let base = http_server(Router::new().route("/big", get(move || async move { big }))).await;
    let oversized =
        HttpJsonSource::new(&format!("{base}/big"), HttpOptions { max_body_bytes: 1024, ..HttpOptions::default() })
            .unwrap();
    let mut policy = test_policy();
    policy.retry = RetryPolicy { max_attempts: 1, ..policy.retry };
    let specs = vec![
        spec("dead", http(&dead), price_fields(), policy.clone()),
        spec("big", Source::Polled(Box::new(oversized)), price_fields(), policy),
    ];
    let clock = aurum_ingest::ManualClock::new(T0);
    let ing = aurum_ingest::start(specs, Arc::new(clock.clone()), 16).unwrap();
    let snap = drive_until(&clock, &ing.metrics, "both failures", |s| {
        s.sources["dead"].failures.connect >= 1 && s.sources["big"].failures.decode >= 1
    })
    .await;
    let big = snap.sources["big"].last_failure.as_ref().unwrap();
    assert!(big.message.contains("exceeds the limit of 1024 bytes"), "{}", big.message);
    let dead = snap.sources["dead"].last_failure.as_ref().unwrap();
    assert!(dead.message.contains("cannot connect"), "{}", dead.message);
    ing.runner.shutdown().await;
}
