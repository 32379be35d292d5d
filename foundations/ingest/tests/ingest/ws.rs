//! WebSocket sources against a real local server: a stream, a dropped connection, garbage frames.

use std::sync::Arc;
use std::time::Duration;

use aurum_ingest::{BreakerState, Source, SystemClock, WebSocketOptions, WebSocketSource};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

fn ws(url: &str, subscribe: Option<&str>) -> Source {
    let options = WebSocketOptions { subscribe: subscribe.map(str::to_string), ..WebSocketOptions::default() };
    Source::Streamed(Box::new(WebSocketSource::new(url, options).unwrap()))
}

/// Real-time policy: reconnect after ~10 ms.
fn ws_policy() -> aurum_ingest::Policy {
    let mut policy = test_policy();
    policy.retry.base_ms = 10;
    policy.retry.max_delay_ms = 50;
    policy
}

fn values(obs: &[aurum_ingest::Observation]) -> Vec<String> {
    obs.iter().map(|o| o.value.clone().unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_observations_after_a_subscribe_message() {
    let (subscribed_tx, mut subscribed_rx) = mpsc::unbounded_channel();
    let url = ws_server(move |_, mut socket| {
        let subscribed = subscribed_tx.clone();
        async move {
            // The source subscribes first; answer with a stream (one frame holds an array).
            if let Some(Ok(Message::Text(t))) = socket.next().await {
                let _ = subscribed.send(t.to_string());
            }
            for i in 1..=3 {
                socket.send(Message::text(price_json(&format!("2650.{i}"), 1_700_000_000_000 + i))).await.unwrap();
            }
            let batch =
                format!("[{}, {}]", price_json("2651.0", 1_700_000_000_010), price_json("-1.5", 1_700_000_000_011));
            socket.send(Message::text(batch)).await.unwrap();
            // Keep the connection open until the client goes.
            while socket.next().await.is_some() {}
        }
    })
    .await;
    let spec = spec("stream", ws(&url, Some(r#"{"op":"subscribe","channel":"XAU"}"#)), price_fields(), ws_policy());
    let mut ing = aurum_ingest::start(vec![spec], Arc::new(SystemClock), 16).unwrap();

    let obs = recv_n(&mut ing.observations, 5).await;
    assert_eq!(values(&obs), ["2650.1", "2650.2", "2650.3", "2651.0", "-1.5"]);
    assert!(obs.iter().all(|o| o.source == "stream" && o.signature.as_deref() == Some("ab01")));
    assert_eq!(within("subscribe", subscribed_rx.recv()).await.unwrap(), r#"{"op":"subscribe","channel":"XAU"}"#);
    let snap = within("metrics", ing.metrics.wait_until(|s| s.sources["stream"].observations == 5)).await;
    let s = &snap.sources["stream"];
    assert_eq!((s.requests, s.payloads, s.failures.total()), (1, 4, 0));
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_reconnects_and_the_stream_continues() {
    let url = ws_server(|conn, mut socket| async move {
        // Connection 0 sends 1..=3 then vanishes without a close handshake; connection 1 sends 4..=6.
        let range = if conn == 0 { 1..=3 } else { 4..=6 };
        for i in range {
            socket.send(Message::text(price_json(&i.to_string(), 1_700_000_000_000 + i))).await.unwrap();
        }
        if conn == 0 {
            drop(socket);
        } else {
            while socket.next().await.is_some() {}
        }
    })
    .await;
    let spec = spec("reconnecting", ws(&url, None), price_fields(), ws_policy());
    let mut ing = aurum_ingest::start(vec![spec], Arc::new(SystemClock), 16).unwrap();

    let obs = recv_n(&mut ing.observations, 6).await;
    assert_eq!(values(&obs), ["1", "2", "3", "4", "5", "6"], "in order, nothing lost or repeated");
    let snap = within("metrics", ing.metrics.wait_until(|s| s.sources["reconnecting"].observations == 6)).await;
    let s = &snap.sources["reconnecting"];
    assert_eq!(s.requests, 2, "one reconnection");
    assert_eq!(s.retries, 1);
    assert_eq!(s.failures.closed, 1);
    assert_eq!(s.failures.total(), 1);
    assert_eq!(s.breaker, BreakerState::Closed);
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_are_counted_not_fatal() {
    let url = ws_server(|_, mut socket| async move {
        let frames = vec![
            Message::text(price_json("1", 1_700_000_000_001)),
            Message::text("not json at all"),
            Message::text(price_json("2", 1_700_000_000_002)),
            Message::binary(vec![0xff, 0xfe, 0x00]),
            Message::text(r#"{"price": 0.30000000000000004, "ts": 1700000000003, "sig": "ab"}"#),
            Message::text(r#"{"price": "3", "sig": "ab"}"#),
            Message::text(price_json("3", 1_700_000_000_003)),
        ];
        for frame in frames {
            socket.send(frame).await.unwrap();
        }
        while socket.next().await.is_some() {}
    })
    .await;
    let spec = spec("noisy", ws(&url, None), price_fields(), ws_policy());
    let mut ing = aurum_ingest::start(vec![spec], Arc::new(SystemClock), 16).unwrap();

    let obs = recv_n(&mut ing.observations, 3).await;
    assert_eq!(values(&obs), ["1", "2", "3"]);
    let snap = within("metrics", ing.metrics.wait_until(|s| s.sources["noisy"].observations == 3)).await;
    let s = &snap.sources["noisy"];
    assert_eq!(s.failures.decode, 4);
    assert_eq!(s.failures.total(), 4);
    assert_eq!(s.requests, 1, "still the first connection");
    assert_eq!(s.breaker, BreakerState::Closed);
    assert_eq!(s.payloads, 6, "the binary frame never became a payload");
    ing.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stream_is_replaced_after_the_message_timeout() {
    let url = ws_server(|conn, mut socket| async move {
        if conn > 0 {
            socket.send(Message::text(price_json("7", 1_700_000_000_007))).await.unwrap();
        }
        // Then say nothing, but keep the connection.
        while socket.next().await.is_some() {}
    })
    .await;
    let mut policy = ws_policy();
    policy.message_timeout = Some(Duration::from_millis(100));
    let spec = spec("quiet", ws(&url, None), price_fields(), policy);
    let mut ing = aurum_ingest::start(vec![spec], Arc::new(SystemClock), 16).unwrap();
    let obs = recv_n(&mut ing.observations, 1).await;
    assert_eq!(values(&obs), ["7"]);
    let s = &ing.metrics.snapshot().sources["quiet"];
    assert!(s.failures.timeout >= 1 && s.requests >= 2, "{s:?}");
    ing.runner.shutdown().await;
}
