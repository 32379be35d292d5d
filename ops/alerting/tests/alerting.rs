//! An alert fires and resolves through a real webhook receiver (an HTTP server started here);
//! a receiver that fails is retried, in order, without duplicates.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aurum_alerting::{AlertStates, Outbox, Webhook, evaluate, parse, parse_samples};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tokio::sync::mpsc;

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<serde_json::Value>,
    /// Requests to refuse (503) before accepting.
    refuse: Arc<AtomicUsize>,
    /// Bodies containing this are answered 400 (a payload the receiver will never take).
    reject: Option<&'static str>,
}

async fn receive(State(r): State<Receiver>, Json(body): Json<serde_json::Value>) -> StatusCode {
    if r.reject.is_some_and(|s| body.to_string().contains(s)) {
        return StatusCode::BAD_REQUEST;
    }
    if r.refuse.load(Ordering::SeqCst) > 0 {
        r.refuse.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let _ = r.tx.send(body);
    StatusCode::OK
}

async fn receiver(refuse: usize) -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    receiver_with(refuse, None).await
}

async fn receiver_with(
    refuse: usize,
    reject: Option<&'static str>,
) -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(Receiver {
        tx,
        refuse: Arc::new(AtomicUsize::new(refuse)),
        reject,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

const RULES: &str = r#"
[[rules]]
name = "ConsumerLag"
expr = 'aurum_consumer_lag{topic="risk.alerts"} > 100'
for = "30s"
severity = "page"
summary = "{{labels.group}} is {{value}} alerts behind"
"#;

/// An outbox holding one firing (lag over the threshold for 30 s) and its resolve, not yet sent.
fn fired_and_resolved() -> Outbox {
    let rules = parse(RULES).unwrap();
    let (mut states, mut outbox) = (AlertStates::new(), Outbox::default());
    outbox.push(evaluate(&rules, &parse_samples(&metrics(500)), &mut states, 0));
    outbox.push(evaluate(&rules, &parse_samples(&metrics(500)), &mut states, 30_000));
    outbox.push(evaluate(&rules, &parse_samples(&metrics(0)), &mut states, 31_000));
    outbox
}

fn metrics(lag: u64) -> String {
    format!(
        "# TYPE aurum_consumer_lag gauge\naurum_consumer_lag{{group=\"aurum-risk-webhook\",topic=\"risk.alerts\",partition=\"0\"}} {lag}\n"
    )
}

#[tokio::test]
async fn an_alert_fires_and_resolves_through_a_real_webhook_receiver() {
    let (url, mut rx) = receiver(0).await;
    let rules = parse(RULES).unwrap();
    let hook = Webhook::new(&url, 100, 1_000).unwrap();
    let (mut states, mut outbox) = (AlertStates::new(), Outbox::default());
    let step = |lag: u64, now_ms: i64, states: &mut AlertStates, outbox: &mut Outbox| {
        outbox.push(evaluate(&rules, &parse_samples(&metrics(lag)), states, now_ms));
    };
    step(500, 0, &mut states, &mut outbox);
    assert_eq!(hook.flush(&mut outbox, 0).await, 0, "pending for 30 s: nothing sent");
    step(600, 30_000, &mut states, &mut outbox);
    assert_eq!(hook.flush(&mut outbox, 30_000).await, 1);
    let firing = rx.recv().await.unwrap();
    let text = firing["text"].as_str().unwrap();
    assert!(
        text.contains("[FIRING] ConsumerLag") && text.contains("aurum-risk-webhook is 600 alerts behind"),
        "{text}"
    );
    assert_eq!(firing["attachments"][0]["fields"][0]["value"], "page");
    // Still lagging: no second message.
    step(700, 40_000, &mut states, &mut outbox);
    assert_eq!(hook.flush(&mut outbox, 40_000).await, 0);
    // Caught up: resolved.
    step(0, 50_000, &mut states, &mut outbox);
    assert_eq!(hook.flush(&mut outbox, 50_000).await, 1);
    let resolved = rx.recv().await.unwrap();
    assert!(resolved["text"].as_str().unwrap().contains("[RESOLVED] ConsumerLag"), "{resolved}");
    assert!(rx.try_recv().is_err(), "exactly two messages");
    assert_eq!(outbox.delivered, 2);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_in_order_after_a_backoff() {
    let (url, mut rx) = receiver(2).await;
    let hook = Webhook::new(&url, 1_000, 8_000).unwrap();
    let mut outbox = fired_and_resolved();
    assert_eq!(outbox.queue.len(), 2, "a firing and its resolve");
    assert_eq!(hook.flush(&mut outbox, 31_000).await, 0, "refused");
    let retry_at = outbox.retry_at_ms;
    assert!((31_500..=32_000).contains(&retry_at), "{retry_at}");
    assert_eq!(hook.flush(&mut outbox, retry_at - 1).await, 0, "not before the backoff");
    assert_eq!(hook.flush(&mut outbox, retry_at).await, 0, "refused again");
    let retry_at = outbox.retry_at_ms;
    assert_eq!(hook.flush(&mut outbox, retry_at).await, 2);
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    assert!(first["text"].as_str().unwrap().contains("FIRING"));
    assert!(second["text"].as_str().unwrap().contains("RESOLVED"), "the resolve never overtakes its firing");
}

#[tokio::test]
async fn a_notification_the_receiver_rejects_for_good_is_dropped_not_retried_for_ever() {
    let (url, mut rx) = receiver_with(0, Some("FIRING")).await;
    let hook = Webhook::new(&url, 1_000, 8_000).unwrap();
    let mut outbox = fired_and_resolved();
    assert_eq!(hook.flush(&mut outbox, 31_000).await, 1, "the resolve is delivered behind the rejected firing");
    assert_eq!((outbox.rejected, outbox.queue.len()), (1, 0));
    assert!(rx.recv().await.unwrap()["text"].as_str().unwrap().contains("RESOLVED"));
}
