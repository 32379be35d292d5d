//! Operations: an alert rule fires and resolves through a real webhook receiver (an HTTP server
//! started here); the health gauges, the overview and the dashboard page are served.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{fixture, harness_with, transfer};

async fn receive(State(tx): State<mpsc::UnboundedSender<Value>>, Json(body): Json<Value>) -> StatusCode {
    let _ = tx.send(body);
    StatusCode::OK
}

/// Generous: the evaluator runs every 100 ms; this bounds a loaded machine, it is no sleep.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_on_the_journal_fires_and_resolves_through_a_real_webhook_receiver() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let rules = aurum_alerting::parse(
        r#"
        [[rules]]
        name = "JournalIdle"
        expr = "aurum_journal_head_age_seconds > 2"
        severity = "page"
        summary = "no block for {{value}} s"
        "#,
    )
    .unwrap();
    let h = harness_with(|c| {
        c.alerts = Some(aurum_api::operations::AlertSettings {
            rules,
            webhook_url: Some(url),
            interval: Duration::from_millis(100),
        });
    })
    .await;
    fixture(&h.api, &h.admin).await;
    // No block for more than 2 s: firing.
    let firing = tokio::time::timeout(WAIT, rx.recv()).await.expect("fired").unwrap();
    let text = firing["text"].as_str().unwrap();
    assert!(text.contains("[FIRING] JournalIdle") && text.contains("no block for"), "{text}");
    assert_eq!(firing["aurum"]["severity"], "page");
    // A block: the age drops, the alert resolves.
    let r = h.api.post("/v1/transfers", &h.admin, transfer(1, 1, 3, "1.000")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let resolved = tokio::time::timeout(WAIT, rx.recv()).await.expect("resolved").unwrap();
    assert!(resolved["text"].as_str().unwrap().contains("[RESOLVED] JournalIdle"), "{resolved}");

    // The gauges are in /metrics; the overview has the ledger and the delivered notifications.
    let metrics = reqwest::get(format!("{}/metrics", h.api.base)).await.unwrap().text().await.unwrap();
    for gauge in ["aurum_journal_head_seq ", "aurum_journal_head_age_seconds ", "aurum_alerts_firing "] {
        assert!(metrics.contains(gauge), "{gauge} missing from /metrics");
    }
    let deadline = std::time::Instant::now() + WAIT;
    let overview = loop {
        let o = h.api.get("/v1/ops/overview", &h.admin).await;
        assert_eq!(o.status, 200, "{}", o.body);
        if o.body["alerts"]["delivered"].as_u64() >= Some(2) {
            break o.body;
        }
        assert!(std::time::Instant::now() < deadline, "{}", o.body);
    };
    assert!(overview["journal"]["head_seq"].as_u64().unwrap() >= 8, "{overview}");
    let xau = overview["ledger"]["trial_balance"]["totals"].as_array().unwrap().iter().find(|t| t["asset"] == "XAU");
    assert_eq!(xau.map(|t| (&t["debits"], &t["balanced"])), Some((&json!("1.000"), &json!(true))), "{overview}");
    assert_eq!(overview["recon"]["mint_allowed"], true);
    // A read key suffices; none does not.
    assert_eq!(h.api.raw(reqwest::Method::GET, "/v1/ops/overview", None, None, &[]).await.status, 401);
    let page = reqwest::get(format!("{}/dashboard", h.api.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Aurum operations"));
}
