//! Risk scoring at admission over real HTTP: holds and their review (release, void, retries),
//! refusals (single and batch), hot reload of the rules file, alerts in the topic and through a
//! webhook that fails at first, a restart that keeps the scorer warm and delivers nothing twice,
//! the riskiest accounts, drift, scopes and 404s, and live responses against /openapi.json.
//!
//! The tests use their own rules file: a velocity rule on a sliding 10-minute window (the built-in
//! one also compares with the busiest earlier *clock hour*, which a test running across an hour
//! boundary could see differently) and an amount rule that refuses, with the anomaly model off —
//! so every decision below follows from the transfers the test makes, on any machine, any time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aurum_api::{RiskSettings, WebhookLimits};

use super::*;

const RULES: &str = r#"
[policy]
alert_at = 0.5
hold_at = 0.75
reject_at = 0.95
hold_timeout_secs = 3600

[model]
weight = 0.0

[[rule]]
name = "velocity_burst"
pattern = "velocity"
side = "sender"
when = "out_count_10m >= 5"
score = 0.8
reason = "{out_count_10m} transfers out within 10 minutes"

[[rule]]
name = "huge_amount"
pattern = "amount"
side = "sender"
when = "amount >= 1000"
score = 1.0
reason = "amount {amount} is at or above the limit"
"#;

/// Generous: the machine is loaded; nothing waits this long when things work.
const WAIT: Duration = Duration::from_secs(60);

fn rules_with_limit(limit: &str) -> String {
    RULES.replace("amount >= 1000", &format!("amount >= {limit}"))
}

/// Replace the rules file atomically (the server polls it: it must never see half a file).
fn write_rules(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn settings(rules: &Path, webhook: Option<String>) -> RiskSettings {
    RiskSettings {
        rules_file: Some(rules.to_path_buf()),
        webhook_url: webhook,
        webhook: WebhookLimits {
            retry_base_delay: Duration::from_millis(20),
            max_retry_delay: Duration::from_millis(200),
            poll_wait: Duration::from_millis(100),
            ..WebhookLimits::default()
        },
        ..RiskSettings::default()
    }
}

struct RiskHarness {
    h: Harness,
    rules: PathBuf,
    _rules_dir: tempfile::TempDir,
}

async fn risk_harness(webhook: Option<String>) -> RiskHarness {
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = rules_dir.path().join("rules.toml");
    write_rules(&rules, RULES);
    let s = settings(&rules, webhook);
    let h = harness_with(|c| c.risk = Some(s)).await;
    fixture(&h.api, &h.admin).await;
    // Extra senders, each with its own history: liabilities without a limit.
    for id in 10..=19 {
        let r = h
            .api
            .post("/v1/accounts", &h.admin, json!({"id": id.to_string(), "asset": "XAU", "kind": "liability"}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    RiskHarness { h, rules, _rules_dir: rules_dir }
}

fn pending(mut t: Value, timeout_secs: u32) -> Value {
    t["pending"] = json!(true);
    t["timeout_secs"] = json!(timeout_secs);
    t
}

async fn balance(api: &Api, t: &str, account: u32) -> (String, String) {
    let r = api.get(&format!("/v1/accounts/{account}"), t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (r.body["credits_posted"].as_str().unwrap().to_string(), r.body["credits_pending"].as_str().unwrap().to_string())
}

/// Four allowed transfers from `from`, then the fifth within 10 minutes is held.
async fn burst(api: &Api, t: &str, first_id: u128, from: u128, to: u128) -> Resp {
    for id in first_id..first_id + 4 {
        let r = api.post("/v1/transfers", t, transfer(id, from, to, "1")).await;
        assert_eq!((r.status, r.header("aurum-risk-decision")), (201, Some("allow")), "{id}: {}", r.body);
        assert_eq!(r.header("aurum-risk-score"), Some("0.0000"));
        assert_eq!(r.body["kind"], "posted");
    }
    let r = api.post("/v1/transfers", t, transfer(first_id + 4, from, to, "1")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_holds_a_velocity_burst_and_reviewers_release_or_void_it() {
    let RiskHarness { h, _rules_dir, .. } = risk_harness(None).await;
    let (api, t) = (&h.api, h.admin.as_str());

    // The fifth transfer out of account 1 within 10 minutes is held: created pending, marked.
    let held = burst(api, t, 101, 1, 3).await;
    assert_eq!(
        (held.header("aurum-risk-decision"), held.header("aurum-risk-score"), held.header("aurum-risk-rules")),
        (Some("hold"), Some("0.8000"), Some("velocity_burst"))
    );
    assert_eq!((held.body["kind"].as_str(), held.body["pending_state"].as_str()), (Some("pending"), Some("pending")));
    assert_eq!(held.body["metadata"]["aurum.risk"], "held");
    assert_eq!(held.body["metadata"]["aurum.risk_score"], "0.8000");
    let ts = held.body["timestamp_ns"].as_u64().unwrap();
    assert_eq!(held.body["expires_at_ns"].as_u64(), Some(ts + 3600 * 1_000_000_000), "the policy's hold timeout");
    assert_eq!(balance(api, t, 3).await, ("4.000".to_string(), "1.000".to_string()), "held, not moved");

    // The reviewers' queue.
    let r = api.get("/v1/risk/reviews?state=open", t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let open = r.body["data"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{}", r.body);
    assert_eq!(
        (open[0]["transfer_id"].as_str(), open[0]["state"].as_str(), open[0]["pending_state"].as_str()),
        (Some("105"), Some("open"), Some("pending"))
    );
    assert_eq!((open[0]["held_by_risk"].as_bool(), open[0]["amount"].as_str()), (Some(true), Some("1.000")));
    assert_eq!(open[0]["risk"]["reasons"][0]["rule"], "velocity_burst");
    assert_eq!(open[0]["risk"]["reasons"][0]["account"], "1");
    assert!(open[0]["risk"]["reasons"][0]["text"].as_str().unwrap().starts_with("5 transfers out"), "{}", r.body);
    assert!(r.body["next_cursor"].is_null());

    // The client cannot post its own held transfer; a reviewer releases it.
    assert_problem(&api.post("/v1/transfers/105/post", t, json!({"id": "200"})).await, 409, "risk_held");
    let release = json!({"id": "201", "note": "customer confirmed by phone"});
    let r = api.post("/v1/risk/reviews/105/release", t, release.clone()).await;
    assert_eq!((r.status, r.body["state"].as_str()), (200, Some("released")), "{}", r.body);
    assert_eq!(
        (r.body["resolution"]["action"].as_str(), r.body["resolution"]["transfer"].as_str()),
        (Some("release"), Some("201"))
    );
    assert_eq!(r.body["resolution"]["note"], "customer confirmed by phone");
    assert_eq!(r.body["pending_state"], "posted");
    let released = r.body.clone();
    assert_eq!(balance(api, t, 3).await, ("5.000".to_string(), "0.000".to_string()), "posted in full");
    let r = api.get("/v1/transfers/201", t).await;
    assert_eq!((r.body["kind"].as_str(), r.body["pending_id"].as_str()), (Some("post_pending"), Some("105")));
    assert_eq!(r.body["metadata"]["aurum.risk"], "released");

    // The same release again: the same answer; another id, or a void: the review is not open.
    let r = api.post("/v1/risk/reviews/105/release", t, release).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (200, Some("true")), "{}", r.body);
    assert_eq!(r.body, released);
    assert_problem(&api.post("/v1/risk/reviews/105/release", t, json!({"id": "202"})).await, 409, "review_not_open");
    assert_problem(&api.post("/v1/risk/reviews/105/void", t, json!({"id": "202"})).await, 409, "review_not_open");
    assert_eq!(api.get("/v1/transfers/202", t).await.status, 404, "nothing was submitted");

    // The sixth is held too, and voided: the hold goes, nothing moves.
    let r = api.post("/v1/transfers", t, transfer(106, 1, 3, "1")).await;
    assert_eq!((r.status, r.header("aurum-risk-decision")), (201, Some("hold")), "{}", r.body);
    assert_eq!(balance(api, t, 3).await.1, "1.000");
    let r = api.post("/v1/risk/reviews/106/void", t, json!({"id": "203"})).await;
    assert_eq!(
        (r.status, r.body["state"].as_str(), r.body["pending_state"].as_str()),
        (200, Some("voided"), Some("voided"))
    );
    assert_eq!(balance(api, t, 3).await, ("5.000".to_string(), "0.000".to_string()));
    assert_problem(&api.post("/v1/risk/reviews/106/release", t, json!({"id": "204"})).await, 409, "review_not_open");

    // Retries of creates: a held one replays as first created (never re-scored, never held
    // twice), an allowed one replays as it was (no risk headers: nothing governs it but the ledger).
    let r = api.post("/v1/transfers", t, transfer(105, 1, 3, "1")).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, Some("true")), "{}", r.body);
    assert_eq!(r.body, held.body, "the first response, byte for byte");
    assert_eq!(r.header("aurum-risk-decision"), Some("hold"));
    let r = api.post("/v1/transfers", t, transfer(101, 1, 3, "1")).await;
    assert_eq!((r.status, r.header("idempotent-replayed"), r.header("aurum-risk-decision")), (201, Some("true"), None));
    assert_eq!(r.body["kind"], "posted");
    let r = api.post("/v1/transfers", t, transfer(105, 1, 3, "2")).await;
    assert_problem(&r, 409, "id_exists_with_different_fields");

    // A transfer the client asked to be pending: left as sent, reviewed; the client may post it
    // once a reviewer released (approved) it.
    burst(api, t, 301, 10, 11).await; // 305 held
    let r = api.post("/v1/transfers", t, pending(transfer(306, 10, 11, "1"), 600)).await;
    assert_eq!((r.status, r.header("aurum-risk-decision")), (201, Some("hold")), "{}", r.body);
    assert!(r.body["metadata"].get("aurum.risk").is_none(), "left as sent: {}", r.body);
    let ts = r.body["timestamp_ns"].as_u64().unwrap();
    assert_eq!(r.body["expires_at_ns"].as_u64(), Some(ts + 600 * 1_000_000_000), "the client's timeout");
    assert_problem(&api.post("/v1/transfers/306/post", t, json!({"id": "307"})).await, 409, "risk_held");
    let r = api.post("/v1/risk/reviews/306/release", t, json!({"id": "308"})).await;
    assert_eq!(
        (r.status, r.body["state"].as_str(), r.body["held_by_risk"].as_bool()),
        (200, Some("released"), Some(false))
    );
    assert!(r.body["resolution"]["transfer"].is_null(), "approved, not posted: {}", r.body);
    assert_eq!(r.body["pending_state"], "pending");
    let r = api.post("/v1/transfers/306/post", t, json!({"id": "307"})).await;
    assert_eq!((r.status, r.body["kind"].as_str()), (201, Some("post_pending")), "{}", r.body);

    // The client may give up on its held transfer: voiding it closes the review.
    let r = api.post("/v1/transfers/305/void", t, json!({"id": "309"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.get("/v1/risk/reviews/305", t).await;
    assert_eq!(
        (r.body["state"].as_str(), r.body["resolution"]["action"].as_str()),
        (Some("voided"), Some("client_void"))
    );
    assert_eq!(r.body["resolution"]["transfer"], "309");

    // Lists: the open queue is empty now; by state; every review in id order, paged.
    assert!(api.get("/v1/risk/reviews?state=open", t).await.body["data"].as_array().unwrap().is_empty());
    let r = api.get("/v1/risk/reviews?state=voided", t).await;
    let ids: Vec<&str> =
        r.body["data"].as_array().unwrap().iter().map(|x| x["transfer_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["106", "305"]);
    let r = api.get("/v1/risk/reviews?limit=2", t).await;
    let mut ids: Vec<String> =
        r.body["data"].as_array().unwrap().iter().map(|x| x["transfer_id"].as_str().unwrap().to_string()).collect();
    let r = api.get(&format!("/v1/risk/reviews?limit=2&cursor={}", r.body["next_cursor"].as_str().unwrap()), t).await;
    ids.extend(r.body["data"].as_array().unwrap().iter().map(|x| x["transfer_id"].as_str().unwrap().to_string()));
    assert_eq!(ids, ["105", "106", "305", "306"]);
    assert!(r.body["next_cursor"].is_null());

    // Scopes: reviewers' actions need admin; reading needs read.
    let (_, reader) = new_key(api, t, "read", None).await;
    let (_, writer) = new_key(api, t, "write", None).await;
    let r = api.post("/v1/transfers", t, transfer(107, 1, 3, "1")).await;
    assert_eq!(r.header("aurum-risk-decision"), Some("hold"));
    for key in [&reader, &writer] {
        assert_problem(
            &api.post("/v1/risk/reviews/107/release", key, json!({"id": "210"})).await,
            403,
            "insufficient_scope",
        );
        assert_problem(
            &api.post("/v1/risk/reviews/107/void", key, json!({"id": "210"})).await,
            403,
            "insufficient_scope",
        );
        assert_problem(
            &api.raw(Method::POST, "/v1/risk/rules/reload", Some(key), None, &[]).await,
            403,
            "insufficient_scope",
        );
    }
    assert_eq!(api.get("/v1/risk/reviews/107", &reader).await.status, 200);
    assert_eq!(api.get("/v1/risk/reviews/107", &reader).await.body["state"], "open");

    // Not found, bad parameters.
    assert_problem(&api.get("/v1/risk/reviews/999", t).await, 404, "review_not_found");
    assert_problem(&api.post("/v1/risk/reviews/999/release", t, json!({"id": "211"})).await, 404, "review_not_found");
    assert_problem(&api.post("/v1/risk/reviews/101/void", t, json!({"id": "211"})).await, 404, "review_not_found");
    assert_problem(&api.get("/v1/risk/reviews/abc", t).await, 400, "invalid_path_parameter");
    assert_problem(&api.get("/v1/risk/reviews?state=maybe", t).await, 400, "invalid_query_parameter");
    assert_problem(&api.get("/v1/risk/reviews?cursor=zz", t).await, 400, "invalid_query_parameter");
    let r = api.post("/v1/risk/reviews/107/release", t, json!({"id": "211", "note": "x".repeat(2000)})).await;
    assert_problem(&r, 422, "invalid_value");
    assert_eq!(r.body["field"], "/note");
    assert_problem(&api.post("/v1/risk/reviews/107/release", t, json!({"note": "no id"})).await, 422, "missing_field");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_rejections_refuse_the_transfer_or_the_whole_batch() {
    let RiskHarness { h, _rules_dir, .. } = risk_harness(None).await;
    let (api, t) = (&h.api, h.admin.as_str());
    let doc = api.raw(Method::GET, "/openapi.json", None, None, &[]).await.body;

    let r = api.post("/v1/transfers", t, transfer(500, 1, 3, "1000")).await;
    assert_problem(&r, 422, "risk_rejected");
    assert_eq!((r.body["risk"]["decision"].as_str(), r.body["risk"]["score"].as_f64()), (Some("reject"), Some(1.0)));
    assert_eq!(r.body["risk"]["reasons"][0]["rule"], "huge_amount");
    assert_eq!(r.body["risk"]["reasons"][0]["pattern"], "amount");
    assert_eq!(r.body["risk"]["reasons"][0]["side"], "sender");
    assert!(r.body["risk"]["reasons"][0]["text"].as_str().unwrap().contains("1000"), "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("huge_amount"), "{}", r.body);
    assert!(r.body.get("field").is_none(), "the whole transfer: {}", r.body);
    validate(&doc, "Problem", &r.body);
    assert_problem(&api.get("/v1/transfers/500", t).await, 404, "transfer_not_found");
    assert_eq!(balance(api, t, 3).await, ("0.000".to_string(), "0.000".to_string()), "the ledger never saw it");
    // Refused again on retry: a refusal is not an outcome of the id.
    assert_problem(&api.post("/v1/transfers", t, transfer(500, 1, 3, "1000")).await, 422, "risk_rejected");

    // One refused item refuses the batch, with its pointer; nothing of it is applied.
    let batch =
        json!({"transfers": [transfer(501, 1, 3, "1"), transfer(502, 1, 3, "2"), transfer(503, 10, 3, "5000")]});
    let r = api.post_with("/v1/transfers/batch", t, &batch, &[("idempotency-key", "b-1")]).await;
    assert_problem(&r, 422, "risk_rejected");
    assert_eq!(r.body["field"], "/transfers/2");
    assert_eq!(r.body["risk"]["reasons"][0]["account"], "10");
    for id in [501, 502, 503] {
        assert_eq!(api.get(&format!("/v1/transfers/{id}"), t).await.status, 404, "{id} applied");
    }
    let r = api.post_with("/v1/transfers/batch", t, &batch, &[("idempotency-key", "b-1")]).await;
    assert_problem(&r, 422, "risk_rejected");
    assert!(r.header("idempotent-replayed").is_none(), "a refusal is not stored under the key");

    // Applied batches report each item's assessment.
    let batch = json!({"atomic": true, "transfers": [transfer(504, 1, 3, "1"), transfer(505, 1, 3, "2")]});
    let r = api.post("/v1/transfers/batch", t, batch).await;
    assert_eq!(r.status, 201, "{}", r.body);
    for item in r.body["results"].as_array().unwrap() {
        assert_eq!((item["risk"]["decision"].as_str(), item["risk"]["score"].as_f64()), (Some("allow"), Some(0.0)));
    }
    validate(&doc, "BatchResponse", &r.body);
    // An independent batch: the ledger refuses one item (account 2 has nothing), risk allowed it.
    let batch = json!({"transfers": [transfer(506, 1, 3, "1"), transfer(507, 2, 3, "1")]});
    let r = api.post("/v1/transfers/batch", t, batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["results"][1]["result"].as_str(), r.body["results"][1]["risk"]["decision"].as_str()),
        (Some("exceeds_credits"), Some("allow"))
    );
    // Account 1 has sent 504, 505, 506: 508 and 509 are scored together against that (fourth
    // outflow each), so both are allowed; 510 is then the sixth within 10 minutes, and held.
    let batch = json!({"transfers": [transfer(508, 1, 3, "1"), transfer(509, 1, 3, "1")]});
    let r = api.post("/v1/transfers/batch", t, batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["risk"]["decision"], "allow", "{}", r.body);
    assert_eq!(r.body["results"][1]["risk"]["decision"], "allow", "{}", r.body);
    let r = api.post("/v1/transfers/batch", t, json!({"transfers": [transfer(510, 1, 3, "1")]})).await;
    assert_eq!(r.body["results"][0]["risk"]["decision"], "hold", "{}", r.body);
    assert_eq!(r.body["results"][0]["risk"]["reasons"][0]["rule"], "velocity_burst");
    assert_eq!(api.get("/v1/transfers/510", t).await.body["pending_state"], "pending");
    validate(&doc, "BatchResponse", &r.body);

    // Refused and held transfers are alerts, in order.
    let r = api.get("/v1/risk/alerts", t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    validate(&doc, "AlertPage", &r.body);
    let alerts: Vec<(&str, &str)> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["transfer"].as_str().unwrap(), a["decision"].as_str().unwrap()))
        .collect();
    assert_eq!(alerts, [("500", "reject"), ("500", "reject"), ("503", "reject"), ("503", "reject"), ("510", "hold")]);
    let first = r.body["data"][0]["offset"].as_u64().unwrap();
    let r = api.get(&format!("/v1/risk/alerts?after={}&limit=2", first + 1), t).await;
    let offsets: Vec<u64> = r.body["data"].as_array().unwrap().iter().map(|a| a["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, [first + 2, first + 3]);
    assert_eq!(r.body["last_offset"].as_u64(), Some(first + 3));
    let r = api.get("/v1/risk/alerts?after=1000", t).await;
    assert_eq!((r.body["data"].as_array().unwrap().len(), r.body["last_offset"].is_null()), (0, true));

    let text = api.raw(Method::GET, "/metrics", None, None, &[]).await.body.as_str().unwrap().to_string();
    for line in [
        "aurum_risk_decisions_total{decision=\"reject\"} 4",
        "aurum_risk_decisions_total{decision=\"hold\"} 1",
        "aurum_risk_alerts_total 5",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(text.contains("aurum_risk_scoring_seconds_count"));

    // A held transfer the ledger refuses (no such credit account): its review is `failed`, and a
    // retry rebuilds the same command and gets the same refusal.
    let r = api.post("/v1/transfers", t, transfer(511, 1, 99, "1")).await;
    assert_problem(&r, 422, "credit_account_not_found");
    assert_eq!(r.header("aurum-risk-decision"), Some("hold"));
    let r = api.get("/v1/risk/reviews/511", t).await;
    assert_eq!(
        (r.body["state"].as_str(), r.body["resolution"]["result"].as_str()),
        (Some("failed"), Some("credit_account_not_found")),
        "{}",
        r.body
    );
    assert!(r.body["pending_state"].is_null());
    validate(&doc, "ReviewView", &r.body);
    let r = api.post("/v1/transfers", t, transfer(511, 1, 99, "1")).await;
    assert_problem(&r, 422, "credit_account_not_found");
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_problem(&api.post("/v1/risk/reviews/511/release", t, json!({"id": "512"})).await, 409, "review_not_open");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_a_hold_that_expires_in_the_ledger_closes_its_review_as_expired() {
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = rules_dir.path().join("rules.toml");
    write_rules(&rules, &RULES.replace("hold_timeout_secs = 3600", "hold_timeout_secs = 1"));
    let s = settings(&rules, None);
    let h = harness_with(|c| c.risk = Some(s)).await;
    let (api, t) = (&h.api, h.admin.as_str());
    fixture(api, t).await;
    let held = burst(api, t, 101, 1, 3).await;
    assert_eq!(held.header("aurum-risk-decision"), Some("hold"));
    let expires_at_ns = held.body["expires_at_ns"].as_u64().unwrap();
    // Not synchronisation: the ledger's clock has to pass the hold's deadline.
    let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    tokio::time::sleep(Duration::from_nanos(expires_at_ns.saturating_sub(now_ns)) + Duration::from_millis(50)).await;
    let r = api.post("/v1/risk/reviews/105/release", t, json!({"id": "200"})).await;
    assert_problem(&r, 409, "pending_transfer_expired");
    assert_eq!(r.body["field"], "transfer_id");
    let r = api.get("/v1/risk/reviews/105", t).await;
    assert_eq!(
        (r.body["state"].as_str(), r.body["pending_state"].as_str()),
        (Some("expired"), Some("expired")),
        "{}",
        r.body
    );
    assert_eq!(
        (r.body["resolution"]["action"].as_str(), r.body["resolution"]["result"].as_str()),
        (Some("ledger"), Some("pending_transfer_expired"))
    );
    assert_eq!(balance(api, t, 3).await, ("4.000".to_string(), "0.000".to_string()), "the hold is gone, nothing moved");
    assert_problem(&api.post("/v1/risk/reviews/105/void", t, json!({"id": "201"})).await, 409, "review_not_open");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_rules_reload_on_request_and_a_bad_file_changes_nothing() {
    let RiskHarness { h, rules, _rules_dir } = risk_harness(None).await;
    let (api, t) = (&h.api, h.admin.as_str());
    let doc = api.raw(Method::GET, "/openapi.json", None, None, &[]).await.body;

    let r = api.get("/v1/risk/rules", t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    validate(&doc, "RulesView", &r.body);
    assert_eq!(r.body["source"], rules.display().to_string());
    let names: Vec<&str> = r.body["rules"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["velocity_burst", "huge_amount"]);
    assert_eq!(
        (r.body["policy"]["hold_at"].as_f64(), r.body["policy"]["hold_timeout_secs"].as_u64()),
        (Some(0.75), Some(3600))
    );

    let r = api.post("/v1/transfers", t, transfer(600, 1, 3, "500")).await;
    assert_eq!((r.status, r.header("aurum-risk-decision")), (201, Some("allow")), "{}", r.body);

    // A lower limit: the same transfer is now refused.
    write_rules(&rules, &rules_with_limit("100"));
    let r = api.raw(Method::POST, "/v1/risk/rules/reload", Some(t), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["reloads"].as_u64().unwrap() >= 1, "{}", r.body);
    assert!(r.body["last_error"].is_null());
    validate(&doc, "RulesView", &r.body);
    assert_problem(&api.post("/v1/transfers", t, transfer(601, 1, 3, "500")).await, 422, "risk_rejected");

    // A bad file is refused with the rule and the column; the rules in force stay.
    write_rules(&rules, &rules_with_limit("100").replace("amount >= 100", "amount >="));
    let r = api.raw(Method::POST, "/v1/risk/rules/reload", Some(t), None, &[]).await;
    assert_problem(&r, 422, "risk_rules_invalid");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("rule 2 (\"huge_amount\")") && detail.contains("column"), "{detail}");
    assert!(api.get("/v1/risk/rules", t).await.body["last_error"].as_str().unwrap().contains("huge_amount"));
    assert_problem(&api.post("/v1/transfers", t, transfer(602, 1, 3, "500")).await, 422, "risk_rejected");
    let r = api.post("/v1/transfers", t, transfer(603, 1, 3, "50")).await;
    assert_eq!((r.status, r.header("aurum-risk-decision")), (201, Some("allow")), "{}", r.body);

    // Fixed again: reloaded.
    write_rules(&rules, RULES);
    let r = api.raw(Method::POST, "/v1/risk/rules/reload", Some(t), None, &[]).await;
    assert_eq!((r.status, r.body["last_error"].is_null()), (200, true), "{}", r.body);
    let r = api.post("/v1/transfers", t, transfer(604, 1, 3, "500")).await;
    assert_eq!((r.status, r.header("aurum-risk-decision")), (201, Some("allow")), "{}", r.body);
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_observability_assess_top_drift_and_live_responses_match_the_openapi_document() {
    let RiskHarness { h, _rules_dir, .. } = risk_harness(None).await;
    let (api, t) = (&h.api, h.admin.as_str());
    let doc = api.raw(Method::GET, "/openapi.json", None, None, &[]).await.body;

    let held = burst(api, t, 101, 1, 3).await;
    validate(&doc, "TransferView", &held.body);
    for id in [106, 107] {
        let r = api.post("/v1/transfers", t, transfer(id, 1, 3, "1")).await;
        assert_eq!(r.header("aurum-risk-decision"), Some("hold"));
    }
    let held = burst(api, t, 201, 10, 11).await;
    assert_eq!(held.header("aurum-risk-decision"), Some("hold"));

    // The riskiest accounts: 1 (three holds) before 10 (one).
    let r = api.get("/v1/risk/top?k=5", t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    validate(&doc, "TopView", &r.body);
    let top: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|x| x["account"].as_str().unwrap()).collect();
    assert_eq!(top, ["1", "10"]);
    let risks: Vec<f64> = r.body["data"].as_array().unwrap().iter().map(|x| x["risk"].as_f64().unwrap()).collect();
    assert!((risks[0] - 2.4).abs() < 0.01 && (risks[1] - 0.8).abs() < 0.01, "{risks:?}");
    assert_problem(&api.get("/v1/risk/top?k=0", t).await, 400, "invalid_query_parameter");
    assert_problem(&api.get("/v1/risk/top?k=101", t).await, 400, "invalid_query_parameter");

    // Drift: still collecting its reference sample with this little traffic.
    let r = api.get("/v1/risk/drift", t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    validate(&doc, "DriftView", &r.body);
    assert_eq!((r.body["collecting"].as_bool(), r.body["windows"].as_u64()), (Some(true), Some(0)));
    assert_eq!(r.body["observed"].as_u64(), Some(12));
    assert!(r.body["features"].as_array().unwrap().is_empty());

    // A dry run (read scope): scored as admission would, nothing submitted, nothing learned.
    let (_, reader) = new_key(api, t, "read", None).await;
    let r = api.post("/v1/risk/assess", &reader, transfer(900, 1, 3, "1")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    validate(&doc, "AssessmentView", &r.body);
    assert_eq!((r.body["decision"].as_str(), r.body["alert"].as_bool()), (Some("hold"), Some(true)));
    assert_eq!(r.body["features"]["out_count_10m"].as_f64(), Some(8.0));
    assert_eq!(r.body["features"]["amount"].as_f64(), Some(1.0));
    assert_eq!(api.post("/v1/risk/assess", &reader, transfer(901, 1, 3, "5000")).await.body["decision"], "reject");
    assert_problem(&api.get("/v1/transfers/900", t).await, 404, "transfer_not_found");
    assert_eq!(api.get("/v1/risk/drift", t).await.body["observed"].as_u64(), Some(12), "a dry run learns nothing");
    let r = api.post("/v1/risk/assess", &reader, transfer(902, 1, 3, "1.0001")).await;
    assert_problem(&r, 422, "amount_too_precise");
    let mut bad = transfer(903, 1, 3, "1");
    bad["asset"] = json!("GBP");
    assert_problem(&api.post("/v1/risk/assess", &reader, bad).await, 422, "asset_not_found");

    // Every risk response against the document.
    validate(&doc, "ReviewPage", &api.get("/v1/risk/reviews", t).await.body);
    validate(&doc, "ReviewPage", &api.get("/v1/risk/reviews?state=open&limit=1", t).await.body);
    validate(&doc, "ReviewView", &api.get("/v1/risk/reviews/105", t).await.body);
    let r = api.post("/v1/risk/reviews/105/release", t, json!({"id": "300"})).await;
    validate(&doc, "ReviewView", &r.body);
    validate(&doc, "ReviewView", &api.post("/v1/risk/reviews/106/void", t, json!({"id": "301"})).await.body);
    validate(&doc, "AlertPage", &api.get("/v1/risk/alerts", t).await.body);
    validate(&doc, "RulesView", &api.get("/v1/risk/rules", t).await.body);
    for problem in [
        api.post("/v1/risk/reviews/105/void", t, json!({"id": "302"})).await.body,
        api.get("/v1/risk/reviews/1", t).await.body,
        api.post("/v1/transfers/107/post", t, json!({"id": "303"})).await.body,
    ] {
        validate(&doc, "Problem", &problem);
    }
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_routes_answer_risk_disabled_when_off_and_built_in_rules_do_not_reload() {
    let h = harness().await;
    for path in [
        "/v1/risk/rules",
        "/v1/risk/reviews",
        "/v1/risk/reviews/1",
        "/v1/risk/alerts",
        "/v1/risk/top",
        "/v1/risk/drift",
    ] {
        assert_problem(&h.api.get(path, &h.admin).await, 404, "risk_disabled");
    }
    assert_problem(
        &h.api.raw(Method::POST, "/v1/risk/rules/reload", Some(&h.admin), None, &[]).await,
        404,
        "risk_disabled",
    );
    fixture(&h.api, &h.admin).await;
    let r = h.api.post("/v1/transfers", &h.admin, transfer(1, 1, 3, "5000")).await;
    assert_eq!((r.status, r.header("aurum-risk-decision")), (201, None), "no scoring: {}", r.body);
    h.server.shutdown().await.unwrap();

    let h = harness_with(|c| c.risk = Some(RiskSettings::default())).await;
    let r = h.api.get("/v1/risk/rules", &h.admin).await;
    assert_eq!((r.status, r.body["source"].as_str()), (200, Some("built-in")), "{}", r.body);
    assert!(r.body["rules"].as_array().unwrap().iter().any(|x| x["name"] == "velocity_burst"));
    assert_problem(
        &h.api.raw(Method::POST, "/v1/risk/rules/reload", Some(&h.admin), None, &[]).await,
        409,
        "risk_rules_built_in",
    );
    h.server.shutdown().await.unwrap();

    // A webhook this build cannot reach is refused at startup, naming no secret.
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        log_filter: None,
        print_bootstrap_token: false,
        risk: Some(RiskSettings {
            webhook_url: Some("https://hooks.example/T0/B0/s3cret".into()),
            ..RiskSettings::default()
        }),
        ..ServerConfig::default()
    };
    let e = start(config).await.unwrap_err().to_string();
    assert!(e.contains("http://") && !e.contains("s3cret"), "{e}");
}

/// A webhook receiver on loopback: answers 500 to the first `fail_first` requests, then records
/// each request (its `Aurum-Alert-Id` and JSON body) and answers 200.
struct Receiver {
    url: String,
    attempts: Arc<AtomicU32>,
    delivered: tokio::sync::mpsc::UnboundedReceiver<(String, Value)>,
    task: tokio::task::JoinHandle<()>,
}

async fn receiver(fail_first: u32) -> Receiver {
    let attempts = Arc::new(AtomicU32::new(0));
    let (tx, delivered) = tokio::sync::mpsc::unbounded_channel();
    let counter = attempts.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (counter, tx) = (counter.clone(), tx.clone());
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < fail_first {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let id = headers.get("aurum-alert-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let _ = tx.send((id, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver { url, attempts, delivered, task }
}

impl Receiver {
    async fn next(&mut self) -> (String, Value) {
        tokio::time::timeout(WAIT, self.delivered.recv()).await.expect("a webhook delivery in time").expect("open")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_alerts_reach_the_webhook_with_retries_and_a_restart_keeps_the_scorer_warm() {
    let mut hook = receiver(2).await;
    let RiskHarness { h, rules, _rules_dir } = risk_harness(Some(hook.url.clone())).await;
    let t = h.admin.clone();

    // A held transfer: its alert is delivered after two failed attempts, nothing skipped.
    let held = burst(&h.api, &t, 701, 1, 3).await;
    assert_eq!(held.header("aurum-risk-decision"), Some("hold"));
    let (id, body) = hook.next().await;
    assert_eq!(id, "risk.alerts-0-0");
    assert_eq!((body["alert"]["transfer"].as_str(), body["alert"]["decision"].as_str()), (Some("705"), Some("hold")));
    assert_eq!(body["alert"]["source"], "admission");
    assert_eq!(body["alert"]["reasons"][0]["rule"], "velocity_burst");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("hold") && text.contains("705") && text.contains("velocity_burst") && !text.contains('\n'),
        "{text}"
    );
    assert_eq!(hook.attempts.load(Ordering::SeqCst), 3, "two failures, then delivered");
    let metrics = h.api.raw(Method::GET, "/metrics", None, None, &[]).await.body.as_str().unwrap().to_string();
    assert!(metrics.contains("aurum_risk_webhook_deliveries_total{result=\"failed\"} 2"), "{metrics}");

    // A refused transfer is an alert too.
    assert_problem(&h.api.post("/v1/transfers", &t, transfer(706, 10, 3, "2000")).await, 422, "risk_rejected");
    let (id, body) = hook.next().await;
    assert_eq!(
        (id.as_str(), body["alert"]["transfer"].as_str(), body["alert"]["decision"].as_str()),
        ("risk.alerts-0-1", Some("706"), Some("reject"))
    );
    h.server.shutdown().await.unwrap();

    // Restart on the same data: the scorer is warm from the journal, the review is still open,
    // and the webhook resumes after what it delivered.
    let server = launch_in(h.dir.path(), |c| c.risk = Some(settings(&rules, Some(hook.url.clone())))).await;
    let api = api_for(&server);
    let r = api.get("/v1/risk/reviews/705", &t).await;
    assert_eq!(
        (r.status, r.body["state"].as_str(), r.body["pending_state"].as_str()),
        (200, Some("open"), Some("pending"))
    );
    let r = api.post("/v1/transfers", &t, transfer(707, 1, 3, "1")).await;
    assert_eq!(
        (r.status, r.header("aurum-risk-decision")),
        (201, Some("hold")),
        "held at once, no re-learning: {}",
        r.body
    );
    let (id, body) = hook.next().await;
    assert_eq!(
        (id.as_str(), body["alert"]["transfer"].as_str()),
        ("risk.alerts-0-2", Some("707")),
        "nothing delivered twice"
    );
    assert_eq!(hook.attempts.load(Ordering::SeqCst), 5);
    let r = api.get("/v1/risk/alerts", &t).await;
    let transfers: Vec<&str> =
        r.body["data"].as_array().unwrap().iter().map(|a| a["transfer"].as_str().unwrap()).collect();
    assert_eq!(transfers, ["705", "706", "707"]);
    // The released review survives too.
    let r = api.post("/v1/risk/reviews/705/release", &t, json!({"id": "800"})).await;
    assert_eq!((r.status, r.body["state"].as_str()), (200, Some("released")), "{}", r.body);
    server.shutdown().await.unwrap();
    hook.task.abort();
}
