//! The REST API over real HTTP on loopback: every route, every error code, auth and scopes, rate
//! limits, idempotency, atomic and independent batches, many concurrent clients, graceful shutdown,
//! and live responses validated against /openapi.json. Risk scoring at admission: `api/risk.rs`
//! (a module of this one test binary).

#[path = "api/ops.rs"]
mod ops;
#[path = "api/risk.rs"]
mod risk;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aurum_api::{RunningServer, ServerConfig, start};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    async fn get(&self, path: &str, token: &str) -> Resp {
        self.raw(Method::GET, path, Some(token), None, &[]).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.raw(Method::POST, path, Some(token), Some(("application/json", body.to_string().into_bytes())), &[]).await
    }

    async fn post_with(&self, path: &str, token: &str, body: &Value, extra: &[(&str, &str)]) -> Resp {
        self.raw(Method::POST, path, Some(token), Some(("application/json", body.to_string().into_bytes())), extra)
            .await
    }
}

struct Harness {
    server: RunningServer,
    api: Api,
    admin: String,
    dir: tempfile::TempDir,
}

async fn launch_in(dir: &std::path::Path, tweak: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        log_filter: None,
        print_bootstrap_token: false,
        ..ServerConfig::default()
    };
    tweak(&mut config);
    start(config).await.expect("server starts")
}

fn api_for(server: &RunningServer) -> Api {
    Api { base: format!("http://{}", server.addr()), http: reqwest::Client::new() }
}

async fn harness_with(tweak: impl FnOnce(&mut ServerConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let server = launch_in(dir.path(), tweak).await;
    let admin = server.admin_token().expect("first start creates the admin key").to_string();
    let api = api_for(&server);
    Harness { server, api, admin, dir }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

/// XAU (scale 3), INR (scale 2); accounts: 1 vault (asset), 2 wallet (liability, must not go
/// negative), 3 customer (liability, no limit), 4 INR cash, 5 without history.
async fn fixture(api: &Api, token: &str) {
    for (id, code, scale) in [(1, "XAU", 3), (2, "INR", 2)] {
        let r = api.post("/v1/assets", token, json!({"id": id, "code": code, "scale": scale})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let accounts = [
        json!({"id": "1", "asset": "XAU", "kind": "asset", "metadata": {"name": "vault"}}),
        json!({"id": "2", "asset": "XAU", "kind": "liability", "limit": "debits_must_not_exceed_credits"}),
        json!({"id": "3", "asset": "XAU", "kind": "liability"}),
        json!({"id": "4", "asset": "INR", "kind": "asset"}),
        json!({"id": "5", "asset": "XAU", "kind": "liability", "history": false}),
    ];
    for a in accounts {
        let r = api.post("/v1/accounts", token, a).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

fn transfer(id: u128, from: u128, to: u128, amount: &str) -> Value {
    json!({"id": id.to_string(), "debit_account": from.to_string(), "credit_account": to.to_string(),
           "amount": amount, "asset": "XAU"})
}

async fn new_key(api: &Api, admin: &str, scope: &str, rate: Option<u32>) -> (String, String) {
    let r = api
        .post(
            "/v1/admin/api-keys",
            admin,
            json!({"name": format!("{scope} key"), "scope": scope, "rate_limit_per_sec": rate}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (r.body["id"].as_str().unwrap().to_string(), r.body["token"].as_str().unwrap().to_string())
}

fn assert_problem(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "expected {status} {code}, got {}", r.body);
    assert_eq!(r.code(), code, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", r.body);
    assert_eq!(r.body["type"], format!("https://aurum.dev/problems/{code}"));
    assert_eq!(r.body["status"], status);
    assert!(r.body["title"].is_string() && r.body["detail"].is_string(), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_openapi_need_no_key() {
    let h = harness().await;
    let r = h.api.raw(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    assert!(r.header("x-request-id").is_some(), "request id echoed");
    let r = h.api.raw(Method::GET, "/readyz", None, None, &[("x-request-id", "my-req-1")]).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
    assert_eq!(r.header("x-request-id"), Some("my-req-1"));
    let _ = h.api.get("/v1/assets", &h.admin).await;
    let r = h.api.raw(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap().to_string();
    assert!(text.contains("/v1/assets"), "metrics by route template: {text}");
    let r = h.api.raw(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works() {
    let h = harness().await;
    let (api, t) = (&h.api, h.admin.as_str());
    fixture(api, t).await;

    // Assets.
    let r = api.get("/v1/assets", t).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = api.get("/v1/assets/XAU", t).await;
    assert_eq!((r.status, r.body["scale"].as_u64()), (200, Some(3)));
    assert_problem(&api.get("/v1/assets/GBP", t).await, 404, "asset_not_found");

    // Transfers: fund the wallet, move, hold, post, void.
    let r = api.post("/v1/transfers", t, transfer(100, 1, 2, "10.5")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], "10.500");
    assert_eq!(r.body["metadata"]["aurum.api_key"].as_str().map(str::len), Some(16), "creating key recorded");
    let seq_after_funding = api.get("/v1/journal/head", t).await.body["seq"].as_u64().unwrap();
    let r = api.post("/v1/transfers", t, transfer(101, 2, 3, "2.25")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut hold = transfer(102, 2, 3, "1");
    hold["pending"] = json!(true);
    hold["timeout_secs"] = json!(3600);
    let r = api.post("/v1/transfers", t, hold).await;
    assert_eq!((r.status, r.body["pending_state"].as_str()), (201, Some("pending")), "{}", r.body);
    assert!(r.body["expires_at_ns"].as_u64().is_some());
    let r = api.get("/v1/accounts/2", t).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["balance"].as_str(), r.body["available"].as_str(), r.body["debits_pending"].as_str()),
        (Some("8.250"), Some("7.250"), Some("1.000"))
    );
    let r = api.post("/v1/transfers/102/post", t, json!({"id": "103", "amount": "0.4"})).await;
    assert_eq!(
        (r.status, r.body["kind"].as_str(), r.body["amount"].as_str()),
        (201, Some("post_pending"), Some("0.400")),
        "{}",
        r.body
    );
    assert_eq!(r.body["pending_id"], "102");
    let r = api.get("/v1/transfers/102", t).await;
    assert_eq!(r.body["pending_state"], "posted");
    let mut hold2 = transfer(104, 2, 3, "1");
    hold2["pending"] = json!(true);
    assert_eq!(api.post("/v1/transfers", t, hold2).await.status, 201);
    let r = api.post("/v1/transfers/104/void", t, json!({"id": "105"})).await;
    assert_eq!(
        (r.status, r.body["kind"].as_str(), r.body["amount"].as_str()),
        (201, Some("void_pending"), Some("1.000")),
        "{}",
        r.body
    );
    assert_problem(&api.get("/v1/transfers/999", t).await, 404, "transfer_not_found");

    // Transfer lists with filters and cursor.
    let r = api.get("/v1/transfers?account=3&limit=2", t).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2, "{}", r.body);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r2 = api.get(&format!("/v1/transfers?account=3&limit=2&cursor={cursor}"), t).await;
    let mut seen: Vec<String> =
        r.body["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect();
    seen.extend(r2.body["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()));
    assert_eq!(seen, ["101", "102", "103", "104"]);
    let r = api.get("/v1/transfers?kind=pending&asset=XAU", t).await;
    let ids: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["102", "104"]);

    // Entries.
    let entry = json!({"id": "200", "postings": [
        {"account": "1", "side": "debit", "amount": "5"},
        {"account": "3", "side": "credit", "amount": "5.000"}], "metadata": {"memo": "deposit"}});
    let r = api.post("/v1/entries", t, entry).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["postings"][1]["amount"], "5.000");
    assert_eq!(api.get("/v1/entries/200", t).await.body, r.body, "get returns what create returned");
    assert_problem(&api.get("/v1/entries/101", t).await, 404, "entry_not_found");
    let r = api.get("/v1/entries?account=3", t).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let batch = json!({"atomic": true, "entries": [
        {"id": "201", "postings": [{"account": "1", "side": "debit", "amount": "1"}, {"account": "3", "side": "credit", "amount": "1"}]},
        {"id": "202", "postings": [{"account": "1", "side": "debit", "amount": "2"}, {"account": "3", "side": "credit", "amount": "2"}]}]});
    let r = api.post("/v1/entries/batch", t, batch).await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Accounts: list with filters and cursor, balance now and as of, statement.
    let r = api.get("/v1/accounts?asset=XAU&kind=liability&limit=2", t).await;
    let ids: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["2", "3"]);
    let r = api
        .get(&format!("/v1/accounts?asset=XAU&kind=liability&cursor={}", r.body["next_cursor"].as_str().unwrap()), t)
        .await;
    assert_eq!(r.body["data"][0]["id"], "5");
    assert!(r.body["next_cursor"].is_null());
    let r = api.get("/v1/accounts/2/balance", t).await;
    assert_eq!((r.status, r.body["balance"].as_str()), (200, Some("7.850")), "{}", r.body);
    let r = api.get(&format!("/v1/accounts/2/balance?as_of_seq={seq_after_funding}"), t).await;
    assert_eq!((r.status, r.body["balance"].as_str()), (200, Some("10.500")), "{}", r.body);
    let r = api.get("/v1/accounts/2/balance?as_of=1970-01-01T00:00:00Z", t).await;
    assert_problem(&r, 404, "no_balance_at_that_point");
    let r = api.get("/v1/accounts/2/balance?as_of=2500-01-01T00:00:00.5%2B05:30", t).await;
    assert_eq!((r.status, r.body["balance"].as_str()), (200, Some("7.850")), "{}", r.body);
    let r = api.get("/v1/accounts/2/statement?limit=2", t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lines"].as_array().unwrap().len(), 2);
    let next = r.body["next_from"].as_str().unwrap().to_string();
    let r = api.get(&format!("/v1/accounts/2/statement?from={next}&to=18446744073709551615"), t).await;
    assert_eq!(r.body["lines"].as_array().unwrap().last().unwrap()["balance"], "7.850", "{}", r.body);

    // Close an empty account.
    let r = api.post("/v1/accounts", t, json!({"id": "9", "asset": "INR", "kind": "income"})).await;
    assert_eq!(r.status, 201);
    let r = api.raw(Method::POST, "/v1/accounts/9/close", Some(t), None, &[]).await;
    assert_eq!((r.status, r.body["closed"].as_bool()), (200, Some(true)), "{}", r.body);
    assert_problem(
        &api.raw(Method::POST, "/v1/accounts/9/close", Some(t), None, &[]).await,
        409,
        "account_already_closed",
    );

    // Trial balance, head, audit.
    let r = api.get("/v1/trial-balance", t).await;
    assert_eq!(r.status, 200);
    assert!(r.body["totals"].as_array().unwrap().iter().all(|x| x["balanced"] == true));
    assert_eq!(r.body["rows"][0]["name"], "vault");
    let r = api.get("/v1/journal/head", t).await;
    assert_eq!(r.body["public_key"].as_str().unwrap().len(), 64);
    let r = api.get("/v1/audit", t).await;
    assert_eq!((r.body["running"].as_bool(), r.body["last"].is_null()), (Some(false), true));
    let r = api.raw(Method::POST, "/v1/audit?from=genesis", Some(t), None, &[]).await;
    assert_eq!((r.status, r.body["ok"].as_bool()), (200, Some(true)), "{}", r.body);
    let r = api.get("/v1/audit", t).await;
    assert_eq!(r.body["last"]["ok"], true);

    // Admin keys: create, list, revoke.
    let (id, token) = new_key(api, t, "read", None).await;
    assert_eq!(api.get("/v1/assets", &token).await.status, 200);
    let r = api.get("/v1/admin/api-keys", t).await;
    assert!(r.body["data"].as_array().unwrap().iter().any(|k| k["id"] == id.as_str()));
    assert!(!r.body.to_string().contains(&token[token.len() - 20..]), "no secret listed");
    let r = api.raw(Method::DELETE, &format!("/v1/admin/api-keys/{id}"), Some(t), None, &[]).await;
    assert_eq!(r.status, 204);
    assert_problem(&api.get("/v1/assets", &token).await, 401, "unauthorized");
    assert_problem(
        &api.raw(Method::DELETE, "/v1/admin/api-keys/ffffffffffffffff", Some(t), None, &[]).await,
        404,
        "api_key_not_found",
    );
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_mistake_is_a_4xx_problem() {
    let h = harness_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_batch_items = 10;
    })
    .await;
    let (api, t) = (&h.api, h.admin.as_str());
    fixture(api, t).await;
    let raw = |s: &str| Some(("application/json", s.as_bytes().to_vec()));
    let post = Method::POST;

    let r = api.raw(post.clone(), "/v1/transfers", Some(t), raw("{\"id\": "), &[]).await;
    assert_problem(&r, 400, "malformed_json");
    let r = api.raw(post.clone(), "/v1/transfers", Some(t), raw("not json"), &[]).await;
    assert_problem(&r, 400, "malformed_json");
    let r = api.raw(post.clone(), "/v1/transfers", Some(t), Some(("text/plain", b"{}".to_vec())), &[]).await;
    assert_problem(&r, 415, "unsupported_media_type");

    let mut unknown = transfer(1, 1, 2, "1");
    unknown["colour"] = json!("red");
    let r = api.post("/v1/transfers", t, unknown).await;
    assert_problem(&r, 422, "unknown_field");
    assert_eq!(r.body["field"], "/colour");
    let r = api.post("/v1/transfers", t, json!({"id": "1", "debit_account": "1", "amount": "1", "asset": "XAU"})).await;
    assert_problem(&r, 422, "missing_field");
    assert_eq!(r.body["field"], "/credit_account");
    let mut wrong = transfer(1, 1, 2, "1");
    wrong["pending"] = json!("yes");
    let r = api.post("/v1/transfers", t, wrong).await;
    assert_problem(&r, 422, "invalid_type");
    assert_eq!(r.body["field"], "/pending");
    let mut number = transfer(1, 1, 2, "1");
    number["amount"] = json!(1.5);
    let r = api.post("/v1/transfers", t, number).await;
    assert_problem(&r, 422, "amount_must_be_a_string");
    assert_eq!(r.body["field"], "/amount");
    let r = api.post("/v1/transfers", t, transfer(1, 1, 2, "1.2345")).await;
    assert_problem(&r, 422, "amount_too_precise");
    assert_eq!(r.body["field"], "/amount");
    let r = api.post("/v1/transfers", t, transfer(1, 1, 2, "-1")).await;
    assert_problem(&r, 422, "amount_invalid");
    let r = api.post("/v1/transfers", t, transfer(1, 1, 2, &"9".repeat(39))).await;
    assert_problem(&r, 422, "amount_too_large");
    let mut bad_id = transfer(1, 1, 2, "1");
    bad_id["debit_account"] = json!(7);
    let r = api.post("/v1/transfers", t, bad_id).await;
    assert_problem(&r, 422, "invalid_id");
    assert_eq!(r.body["field"], "/debit_account");
    let mut bad_id = transfer(1, 1, 2, "1");
    bad_id["id"] = json!("12x");
    assert_problem(&api.post("/v1/transfers", t, bad_id).await, 422, "invalid_id");
    let mut reserved = transfer(1, 1, 2, "1");
    reserved["metadata"] = json!({"aurum.api_key": "someone-else"});
    let r = api.post("/v1/transfers", t, reserved).await;
    assert_problem(&r, 422, "reserved_metadata_key");
    assert_eq!(r.body["field"], "/metadata/aurum.api_key");
    let r = api.post("/v1/accounts", t, json!({"id": "77", "asset": "XAU", "kind": "wizard"})).await;
    assert_problem(&r, 422, "invalid_value");
    assert_eq!(r.body["field"], "/kind");
    let r = api.post("/v1/accounts", t, json!({"id": "77", "asset": "XAU", "kind": "asset", "overdraft": "1"})).await;
    assert_problem(&r, 422, "invalid_value");
    let mut unknown_asset = transfer(1, 1, 2, "1");
    unknown_asset["asset"] = json!("GBP");
    let r = api.post("/v1/transfers", t, unknown_asset).await;
    assert_problem(&r, 422, "asset_not_found");
    assert_eq!((r.body["result_code"].as_u64(), r.body["field"].as_str()), (Some(10), Some("/asset")));

    // Metadata beyond the journal's limits never reaches the ledger (a block holding it could
    // not be read back): refused with the field at fault.
    let long_memo = json!({"id": "1", "debit_account": "1", "credit_account": "2", "amount": "1", "asset": "XAU",
                           "metadata": {"memo": "x".repeat(257)}});
    let r = api.post("/v1/transfers", t, long_memo).await;
    assert_problem(&r, 422, "invalid_value");
    assert_eq!(r.body["field"], "/metadata/memo");

    // Sizes: body and batch.
    let big = json!({"id": "1", "debit_account": "1", "credit_account": "2", "amount": "1", "asset": "XAU",
                     "metadata": {"memo": "x".repeat(70 * 1024)}});
    assert_problem(&api.post("/v1/transfers", t, big).await, 413, "body_too_large");
    let items: Vec<Value> = (0..11).map(|i| transfer(1000 + i, 1, 2, "1")).collect();
    let r = api.post("/v1/transfers/batch", t, json!({"transfers": items})).await;
    assert_problem(&r, 422, "batch_too_large");
    assert_eq!(r.body["field"], "/transfers");
    assert_problem(&api.post("/v1/transfers/batch", t, json!({"transfers": []})).await, 422, "batch_empty");
    let r = api
        .post("/v1/transfers/batch", t, json!({"transfers": [transfer(1, 1, 2, "1"), transfer(2, 1, 2, "0.0001")]}))
        .await;
    assert_problem(&r, 422, "amount_too_precise");
    assert_eq!(r.body["field"], "/transfers/1/amount");
    // A batch item's pointers are built only for a problem; they still name the item.
    let mut reserved = transfer(3, 1, 2, "1");
    reserved["metadata"] = json!({"aurum.api_key": "forged"});
    let r = api
        .post(
            "/v1/transfers/batch",
            t,
            json!({"transfers": [transfer(1, 1, 2, "1"), transfer(2, 1, 2, "1"), reserved]}),
        )
        .await;
    assert_problem(&r, 422, "reserved_metadata_key");
    assert_eq!(r.body["field"], "/transfers/2/metadata/aurum.api_key");
    let mut long = transfer(4, 1, 2, "1");
    long["metadata"] = json!({"memo": "x".repeat(257)});
    let r = api.post("/v1/transfers/batch", t, json!({"transfers": [long]})).await;
    assert_problem(&r, 422, "invalid_value");
    assert_eq!(r.body["field"], "/transfers/0/metadata/memo");
    let r = api
        .post("/v1/entries", t, json!({"id": "300", "postings": [{"account": "1", "side": "up", "amount": "1"}]}))
        .await;
    assert_problem(&r, 422, "invalid_value");
    assert_eq!(r.body["field"], "/postings/0/side");
    let r = api.post("/v1/entries", t, json!({"id": "300", "postings": [{"account": "42", "side": "debit", "amount": "1"}, {"account": "1", "side": "credit", "amount": "1"}]})).await;
    assert_problem(&r, 422, "posting_account_not_found");
    assert_eq!(r.body["field"], "/postings/0/account");

    // Routes, methods, path and query parameters.
    assert_problem(&api.get("/v1/nothing-here", t).await, 404, "route_not_found");
    let r = api.raw(Method::DELETE, "/v1/transfers", Some(t), None, &[]).await;
    assert_problem(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST,GET,HEAD"), "a 405 names the allowed methods");
    assert_problem(&api.get("/v1/accounts/abc", t).await, 400, "invalid_path_parameter");
    assert_problem(&api.get("/v1/accounts/12345", t).await, 404, "account_not_found");
    let r = api.get("/v1/accounts?limit=0", t).await;
    assert_problem(&r, 400, "invalid_query_parameter");
    assert_eq!(r.body["field"], "limit");
    let r = api.get("/v1/accounts?colour=red", t).await;
    assert_problem(&r, 400, "invalid_query_parameter");
    assert_eq!(r.body["field"], "colour");
    assert_problem(&api.get("/v1/accounts?kind=wizard", t).await, 400, "invalid_query_parameter");
    assert_problem(&api.get("/v1/transfers?cursor=zzz", t).await, 400, "invalid_query_parameter");
    assert_problem(&api.get("/v1/accounts/2/balance?as_of=yesterday", t).await, 400, "invalid_query_parameter");
    assert_problem(&api.get("/v1/accounts/2/balance?as_of=1&as_of_seq=1", t).await, 400, "invalid_query_parameter");
    assert_problem(&api.get("/v1/accounts/5/balance?as_of_seq=1", t).await, 422, "account_keeps_no_history");
    assert_problem(&api.get("/v1/accounts/5/statement", t).await, 422, "account_keeps_no_history");
    let long_key = "k".repeat(256);
    let body = json!({"transfers": [transfer(1, 1, 2, "1")]});
    let r = api.post_with("/v1/transfers/batch", t, &body, &[("idempotency-key", &long_key)]).await;
    assert_problem(&r, 400, "idempotency_key_invalid");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_rejections_and_idempotent_retries() {
    let h = harness().await;
    let (api, t) = (&h.api, h.admin.as_str());
    fixture(api, t).await;
    // The wallet has nothing: exceeds_credits, with the numeric code and the field.
    let r = api.post("/v1/transfers", t, transfer(10, 2, 3, "1")).await;
    assert_problem(&r, 422, "exceeds_credits");
    assert_eq!((r.body["result_code"].as_u64(), r.body["field"].as_str()), (Some(28), Some("/debit_account")));
    // Retrying the same failed id returns the same failure, marked replayed.
    let again = api.post("/v1/transfers", t, transfer(10, 2, 3, "1")).await;
    assert_eq!((again.status, &again.body), (r.status, &r.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    let first = api.post("/v1/transfers", t, transfer(11, 1, 2, "3")).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = api.post("/v1/transfers", t, transfer(11, 1, 2, "3")).await;
    assert_eq!((retry.status, &retry.body), (201, &first.body), "a retry gets the first response");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let r = api.post("/v1/transfers", t, transfer(11, 1, 2, "4")).await;
    assert_problem(&r, 409, "id_exists_with_different_fields");
    // The creating key is part of the fingerprint: the same body from another key conflicts.
    let (_, writer) = new_key(api, t, "write", None).await;
    assert_problem(
        &api.post("/v1/transfers", &writer, transfer(11, 1, 2, "3")).await,
        409,
        "id_exists_with_different_fields",
    );

    assert_problem(&api.post("/v1/transfers", t, transfer(0, 1, 2, "1")).await, 422, "id_must_not_be_zero");
    assert_problem(&api.post("/v1/transfers", t, transfer(12, 1, 1, "1")).await, 422, "accounts_must_be_different");
    assert_problem(&api.post("/v1/transfers", t, transfer(13, 1, 99, "1")).await, 422, "credit_account_not_found");
    assert_problem(&api.post("/v1/transfers", t, transfer(14, 1, 2, "0")).await, 422, "amount_must_not_be_zero");
    let mut inr = transfer(15, 1, 2, "1");
    inr["asset"] = json!("INR");
    assert_problem(&api.post("/v1/transfers", t, inr).await, 422, "asset_mismatch");
    assert_problem(
        &api.post("/v1/assets", t, json!({"id": 3, "code": "XAU", "scale": 2})).await,
        409,
        "asset_code_taken",
    );
    assert_problem(
        &api.post("/v1/assets", t, json!({"id": 4, "code": "BIG", "scale": 19})).await,
        422,
        "asset_scale_too_large",
    );
    assert_problem(
        &api.post("/v1/accounts", t, json!({"id": "50", "asset": "ZZZ", "kind": "asset"})).await,
        422,
        "asset_not_found",
    );
    let r = api.post("/v1/transfers/424242/post", t, json!({"id": "16"})).await;
    assert_problem(&r, 404, "pending_transfer_not_found");
    assert_eq!(r.body["field"], "id");
    let mut hold = transfer(17, 1, 3, "1");
    hold["pending"] = json!(true);
    assert_eq!(api.post("/v1/transfers", t, hold).await.status, 201);
    let r = api.post("/v1/transfers/17/post", t, json!({"id": "18", "amount": "5"})).await;
    assert_problem(&r, 422, "exceeds_pending_transfer_amount");
    assert_eq!(api.post("/v1/transfers/17/void", t, json!({"id": "19"})).await.status, 201);
    let replay = api.post("/v1/transfers/17/void", t, json!({"id": "19"})).await;
    assert_eq!((replay.status, replay.header("idempotent-replayed")), (201, Some("true")));
    assert_problem(
        &api.post("/v1/transfers/17/post", t, json!({"id": "20"})).await,
        409,
        "pending_transfer_already_voided",
    );
    assert_problem(
        &api.post("/v1/transfers/11/void", t, json!({"id": "21"})).await,
        422,
        "pending_transfer_not_pending",
    );
    let r = api.post("/v1/entries", t, json!({"id": "22", "postings": [{"account": "1", "side": "debit", "amount": "1"}, {"account": "3", "side": "credit", "amount": "2"}]})).await;
    assert_problem(&r, 422, "entry_unbalanced");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_scopes_and_rate_limits() {
    let h = harness().await;
    let (api, t) = (&h.api, h.admin.as_str());
    let r = api.raw(Method::GET, "/v1/assets", None, None, &[]).await;
    assert_problem(&r, 401, "unauthorized");
    assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")));
    assert_problem(&api.get("/v1/assets", "aurum_0000000000000000_00").await, 401, "unauthorized");
    assert_problem(&api.get("/v1/assets", "not-a-token").await, 401, "unauthorized");

    let (_, reader) = new_key(api, t, "read", None).await;
    let (_, writer) = new_key(api, t, "write", None).await;
    assert_eq!(api.get("/v1/assets", &reader).await.status, 200);
    assert_problem(
        &api.post("/v1/assets", &reader, json!({"id": 1, "code": "XAU", "scale": 3})).await,
        403,
        "insufficient_scope",
    );
    assert_eq!(api.post("/v1/assets", &writer, json!({"id": 1, "code": "XAU", "scale": 3})).await.status, 201);
    assert_problem(&api.get("/v1/admin/api-keys", &writer).await, 403, "insufficient_scope");
    assert_problem(&api.raw(Method::POST, "/v1/audit", Some(&writer), None, &[]).await, 403, "insufficient_scope");
    assert_eq!(api.get("/v1/audit", &reader).await.status, 200);

    let (_, slow) = new_key(api, t, "read", Some(1)).await;
    let mut limited = None;
    for _ in 0..20 {
        let r = api.get("/v1/assets", &slow).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a key limited to 1 request/s is throttled");
    assert_problem(&r, 429, "rate_limited");
    let secs: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
    assert_eq!(api.get("/v1/assets", t).await.status, 200, "other keys are not limited");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_atomic_independent_and_idempotency_keys() {
    let h = harness().await;
    let (api, t) = (&h.api, h.admin.as_str());
    fixture(api, t).await;
    assert_eq!(api.post("/v1/transfers", t, transfer(1, 1, 2, "5")).await.status, 201);

    // Atomic: the third overdraws the wallet, so none is applied.
    let atomic = json!({"atomic": true, "transfers": [transfer(10, 2, 3, "1"), transfer(11, 2, 3, "1"), transfer(12, 2, 3, "100")]});
    let r = api.post("/v1/transfers/batch", t, atomic).await;
    assert_problem(&r, 422, "exceeds_credits");
    assert_eq!(r.body["field"], "/transfers/2/debit_account");
    let results: Vec<&str> =
        r.body["results"].as_array().unwrap().iter().map(|x| x["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["linked_event_failed", "linked_event_failed", "exceeds_credits"]);
    assert_eq!(api.get("/v1/accounts/2", t).await.body["balance"], "5.000", "nothing applied");
    assert_problem(&api.get("/v1/transfers/10", t).await, 404, "transfer_not_found");

    // Independent: the same shape applies the two that fit.
    let independent =
        json!({"transfers": [transfer(20, 2, 3, "1"), transfer(21, 2, 3, "1"), transfer(22, 2, 3, "100")]});
    let r = api.post("/v1/transfers/batch", t, independent).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let statuses: Vec<u64> =
        r.body["results"].as_array().unwrap().iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [201, 201, 422]);
    assert_eq!(api.get("/v1/accounts/2", t).await.body["balance"], "3.000");

    // Atomic success.
    let ok = json!({"atomic": true, "transfers": [transfer(30, 1, 2, "1"), transfer(31, 2, 3, "0.5")]});
    let r = api.post("/v1/transfers/batch", t, ok).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["results"][1]["amount"], "0.500");

    // Idempotency-Key: same body → the stored response; different body → 409.
    let body = json!({"transfers": [transfer(40, 1, 2, "1"), transfer(41, 1, 3, "2")]});
    let key = [("idempotency-key", "order-7")];
    let first = api.post_with("/v1/transfers/batch", t, &body, &key).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = api.post_with("/v1/transfers/batch", t, &body, &key).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = json!({"transfers": [transfer(42, 1, 2, "1")]});
    assert_problem(&api.post_with("/v1/transfers/batch", t, &other, &key).await, 409, "idempotency_key_reused");
    // Keys are per API key: another key may use the same Idempotency-Key.
    let (_, writer) = new_key(api, t, "write", None).await;
    let r = api.post_with("/v1/transfers/batch", &writer, &other, &key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Without the header, a retried batch replays per item through the ledger's ids.
    let r = api.post("/v1/transfers/batch", t, body).await;
    assert!(r.body["results"].as_array().unwrap().iter().all(|x| x["replayed"] == true), "{}", r.body);
    h.server.shutdown().await.unwrap();
}

fn units(s: &str) -> i128 {
    // Amounts are rendered with exactly the asset's scale: drop the point.
    s.replace('.', "").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_lose_and_duplicate_nothing() {
    const TASKS: u128 = 32;
    const PER_TASK: u128 = 50;
    const ACCOUNTS: u128 = 8;
    let h = harness().await;
    let t = h.admin.clone();
    h.api.post("/v1/assets", &t, json!({"id": 1, "code": "XAU", "scale": 3})).await;
    for a in 1..=ACCOUNTS {
        let r = h.api.post("/v1/accounts", &t, json!({"id": a.to_string(), "asset": "XAU", "kind": "liability"})).await;
        assert_eq!(r.status, 201);
    }
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (api, t) = (h.api.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            for i in 0..PER_TASK {
                let id = 1_000_000 + task * 1000 + i;
                let from = 1 + (task + i) % ACCOUNTS;
                let to = 1 + (task + i + 1 + i % 3) % ACCOUNTS;
                let amount = format!("{}.{:03}", 1 + i % 7, (task * 37 + i) % 1000);
                let body = transfer(id, from, to, &amount);
                let r = api.post("/v1/transfers", &t, body.clone()).await;
                assert_eq!(r.status, 201, "{}", r.body);
                if i % 5 == 0 {
                    let again = api.post("/v1/transfers", &t, body).await;
                    assert_eq!((again.status, &again.body), (201, &r.body));
                    assert_eq!(again.header("idempotent-replayed"), Some("true"));
                }
                accepted.push((id, from, to, units(r.body["amount"].as_str().unwrap())));
            }
            accepted
        }));
    }
    let mut expected: HashMap<u128, (u128, u128, i128)> = HashMap::new();
    for task in tasks {
        for (id, from, to, amount) in task.await.unwrap() {
            assert!(expected.insert(id, (from, to, amount)).is_none());
        }
    }
    // Every accepted transfer is listed exactly once.
    let mut listed = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/transfers?limit=1000&cursor={c}"),
            None => "/v1/transfers?limit=1000".to_string(),
        };
        let r = h.api.get(&path, &t).await;
        for x in r.body["data"].as_array().unwrap() {
            let id: u128 = x["id"].as_str().unwrap().parse().unwrap();
            let (from, to, amount) = expected[&id];
            assert_eq!(
                (
                    x["debit_account"].as_str().unwrap().parse::<u128>().unwrap(),
                    x["credit_account"].as_str().unwrap().parse::<u128>().unwrap()
                ),
                (from, to)
            );
            assert_eq!(units(x["amount"].as_str().unwrap()), amount);
            assert!(listed.insert(id), "transfer {id} listed twice");
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(listed.len(), (TASKS * PER_TASK) as usize, "no lost or duplicated transfers");
    // Every balance equals the sum of its accepted transfers (credit-normal accounts).
    let mut balances: BTreeMap<u128, i128> = BTreeMap::new();
    for (from, to, amount) in expected.values() {
        *balances.entry(*from).or_default() -= amount;
        *balances.entry(*to).or_default() += amount;
    }
    for a in 1..=ACCOUNTS {
        let r = h.api.get(&format!("/v1/accounts/{a}"), &t).await;
        assert_eq!(units(r.body["balance"].as_str().unwrap()), balances.get(&a).copied().unwrap_or(0), "account {a}");
    }
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_keeps_every_acknowledged_transfer() {
    let h = harness().await;
    let t = h.admin.clone();
    h.api.post("/v1/assets", &t, json!({"id": 1, "code": "XAU", "scale": 3})).await;
    for a in 1..=2 {
        h.api.post("/v1/accounts", &t, json!({"id": a.to_string(), "asset": "XAU", "kind": "liability"})).await;
    }
    let acked = Arc::new(parking_lot_free::Acked::default());
    let mut tasks = Vec::new();
    for task in 0..16u128 {
        let (api, t, acked) = (h.api.clone(), t.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..1000u128 {
                let id = 1 + task * 10_000 + i;
                let req = api
                    .http
                    .post(format!("{}/v1/transfers", api.base))
                    .bearer_auth(&t)
                    .json(&transfer(id, 1, 2, "0.001"))
                    .send()
                    .await;
                match req {
                    Ok(r) if r.status().as_u16() == 201 => acked.push(id),
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.server.shutdown().await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.take();
    assert!(!acked.is_empty(), "some transfers were acknowledged before shutdown");

    let server = launch_in(h.dir.path(), |_| {}).await;
    assert!(server.admin_token().is_none(), "the admin key is bootstrapped once");
    let api = api_for(&server);
    for id in &acked {
        let r = api.get(&format!("/v1/transfers/{id}"), &t).await;
        assert_eq!(r.status, 200, "acknowledged transfer {id} lost: {}", r.body);
    }
    let r = api.get("/v1/accounts/2", &t).await;
    assert!(units(r.body["balance"].as_str().unwrap()) >= acked.len() as i128);
    server.shutdown().await.unwrap();
}

mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Acked(Mutex<Vec<u128>>);

    impl Acked {
        pub fn push(&self, id: u128) {
            self.0.lock().unwrap().push(id);
        }
        pub fn take(&self) -> Vec<u128> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }
}

fn validate(doc: &Value, schema_name: &str, instance: &Value) {
    let schemas = &doc["components"]["schemas"];
    assert!(schemas.get(schema_name).is_some(), "schema {schema_name} missing from the OpenAPI document");
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema_name}"),
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("the component schemas compile");
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "{schema_name} does not describe {instance}: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_responses_match_the_openapi_document() {
    let h = harness().await;
    let (api, t) = (&h.api, h.admin.as_str());
    let doc = api.raw(Method::GET, "/openapi.json", None, None, &[]).await.body;
    for path in [
        "/v1/assets",
        "/v1/assets/{code}",
        "/v1/accounts",
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/balance",
        "/v1/accounts/{id}/statement",
        "/v1/accounts/{id}/close",
        "/v1/transfers",
        "/v1/transfers/batch",
        "/v1/transfers/{id}",
        "/v1/transfers/{id}/post",
        "/v1/transfers/{id}/void",
        "/v1/entries",
        "/v1/entries/batch",
        "/v1/entries/{id}",
        "/v1/trial-balance",
        "/v1/journal/head",
        "/v1/audit",
        "/v1/admin/api-keys",
        "/v1/admin/api-keys/{id}",
        "/v1/risk/assess",
        "/v1/risk/reviews",
        "/v1/risk/reviews/{transfer_id}",
        "/v1/risk/reviews/{transfer_id}/release",
        "/v1/risk/reviews/{transfer_id}/void",
        "/v1/risk/alerts",
        "/v1/risk/top",
        "/v1/risk/drift",
        "/v1/risk/rules",
        "/v1/risk/rules/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    let r = api.post("/v1/assets", t, json!({"id": 1, "code": "XAU", "scale": 3})).await;
    validate(&doc, "AssetView", &r.body);
    fixture_accounts_only(api, t).await;
    validate(&doc, "AssetList", &api.get("/v1/assets", t).await.body);
    validate(&doc, "AccountView", &api.get("/v1/accounts/2", t).await.body);
    validate(&doc, "AccountPage", &api.get("/v1/accounts?limit=1", t).await.body);
    let r = api.post("/v1/transfers", t, transfer(1, 1, 2, "1")).await;
    validate(&doc, "TransferView", &r.body);
    validate(&doc, "TransferView", &api.get("/v1/transfers/1", t).await.body);
    validate(&doc, "TransferPage", &api.get("/v1/transfers", t).await.body);
    let r = api
        .post("/v1/transfers/batch", t, json!({"transfers": [transfer(2, 1, 2, "1"), transfer(3, 2, 1, "9")]}))
        .await;
    validate(&doc, "BatchResponse", &r.body);
    let r = api
        .post(
            "/v1/transfers/batch",
            t,
            json!({"atomic": true, "transfers": [transfer(4, 1, 2, "1"), transfer(5, 2, 1, "9")]}),
        )
        .await;
    assert_eq!(r.status, 422);
    validate(&doc, "Problem", &r.body);
    let r = api.post("/v1/entries", t, json!({"id": "6", "postings": [{"account": "1", "side": "debit", "amount": "1"}, {"account": "2", "side": "credit", "amount": "1"}]})).await;
    validate(&doc, "EntryView", &r.body);
    validate(&doc, "EntryPage", &api.get("/v1/entries", t).await.body);
    validate(&doc, "BalanceView", &api.get("/v1/accounts/2/balance?as_of_seq=1000", t).await.body);
    validate(&doc, "BalanceView", &api.get("/v1/accounts/2/balance", t).await.body);
    validate(&doc, "StatementView", &api.get("/v1/accounts/2/statement", t).await.body);
    validate(&doc, "TrialBalanceView", &api.get("/v1/trial-balance", t).await.body);
    validate(&doc, "HeadView", &api.get("/v1/journal/head", t).await.body);
    validate(&doc, "AuditView", &api.raw(Method::POST, "/v1/audit", Some(t), None, &[]).await.body);
    validate(&doc, "AuditStatusView", &api.get("/v1/audit", t).await.body);
    let r = api.post("/v1/admin/api-keys", t, json!({"name": "ci", "scope": "read"})).await;
    validate(&doc, "ApiKeyCreated", &r.body);
    validate(&doc, "ApiKeyList", &api.get("/v1/admin/api-keys", t).await.body);
    validate(&doc, "StatusView", &api.raw(Method::GET, "/healthz", None, None, &[]).await.body);
    for problem in [
        api.post("/v1/transfers", t, transfer(7, 2, 1, "100")).await.body,
        api.post("/v1/transfers", t, json!({"id": 1})).await.body,
        api.get("/v1/nope", t).await.body,
        api.raw(Method::GET, "/v1/assets", None, None, &[]).await.body,
    ] {
        validate(&doc, "Problem", &problem);
    }
    h.server.shutdown().await.unwrap();
}

async fn fixture_accounts_only(api: &Api, t: &str) {
    for (id, kind, limit) in [("1", "asset", "none"), ("2", "liability", "debits_must_not_exceed_credits")] {
        let r = api.post("/v1/accounts", t, json!({"id": id, "asset": "XAU", "kind": kind, "limit": limit})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

/// A ledger whose journal write failed stops (it never serves state that is not durable): the API
/// answers 503 `engine_unavailable` — a server-side condition, not a client mistake — and
/// /readyz turns 503 while /healthz stays 200. Runs the real router over a simulated disk that
/// fails the journal's fsync.
#[tokio::test]
async fn a_stopped_ledger_answers_503_and_fails_readiness() {
    use aurum_ledger_node::engine::{Engine, EngineConfig};
    let vfs = aurum_vfs::SimVfs::new(11);
    let (engine, _) =
        Engine::open(Arc::new(vfs.clone()), std::path::Path::new("/aurum"), EngineConfig::default()).unwrap();
    let keys = aurum_api::auth::KeyStore::open(engine.db().clone()).unwrap();
    let admin = keys.bootstrap().unwrap().expect("a fresh store bootstraps").token;
    let config = ServerConfig { log_filter: None, ..ServerConfig::default() };
    let app = aurum_api::router(aurum_api::AppState::new(engine, keys, &config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api { base: format!("http://{}", listener.local_addr().unwrap()), http: reqwest::Client::new() };
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let r = api.post("/v1/assets", &admin, json!({"id": 1, "code": "XAU", "scale": 3})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(api.raw(Method::GET, "/readyz", None, None, &[]).await.status, 200);
    vfs.fail_next_syncs(1);
    let r = api.post("/v1/assets", &admin, json!({"id": 2, "code": "INR", "scale": 2})).await;
    assert_problem(&r, 503, "engine_unavailable");
    let r = api.get("/v1/assets/XAU", &admin).await;
    assert_problem(&r, 503, "engine_unavailable");
    assert_eq!(api.raw(Method::GET, "/readyz", None, None, &[]).await.status, 503);
    assert_eq!(api.raw(Method::GET, "/healthz", None, None, &[]).await.status, 200);
    server.abort();
}

/// Backpressure over HTTP: while the journal's fsync is stuck, the writer holds a request or two and the queue
/// two; the rest are answered at once with 503 `engine_overloaded` and a Retry-After, and every request that was
/// accepted completes with 201 once the disk answers — nothing accepted is lost, nothing refused is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_engine_queue_answers_503_engine_overloaded() {
    use aurum_ledger_node::engine::{Engine, EngineConfig};
    let vfs = aurum_vfs::SimVfs::new(13);
    let engine_config = EngineConfig {
        queue_capacity: 2,
        max_batch_commands: 1,
        snapshot_on_shutdown: false,
        ..EngineConfig::default()
    };
    let (engine, _) = Engine::open(Arc::new(vfs.clone()), std::path::Path::new("/aurum"), engine_config).unwrap();
    let probe = engine.clone();
    let keys = aurum_api::auth::KeyStore::open(engine.db().clone()).unwrap();
    let admin = keys.bootstrap().unwrap().expect("a fresh store bootstraps").token;
    let config = ServerConfig { log_filter: None, ..ServerConfig::default() };
    let app = aurum_api::router(aurum_api::AppState::new(engine, keys, &config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api { base: format!("http://{}", listener.local_addr().unwrap()), http: reqwest::Client::new() };
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // Released on every path, a failed assertion included, so the writer never stays stuck.
    struct Release(aurum_vfs::SimVfs);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.release_syncs();
        }
    }
    let release = Release(vfs.clone());
    vfs.hold_syncs();

    const REQUESTS: u32 = 8;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 1..=REQUESTS {
        let (api, admin, tx) = (api.clone(), admin.clone(), tx.clone());
        tokio::spawn(async move {
            let r = api.post("/v1/assets", &admin, json!({"id": i, "code": format!("A{i}"), "scale": 2})).await;
            let _ = tx.send((i, r));
        });
    }
    drop(tx);
    // Accepted requests wait for the stuck fsync, so the first answer is a refusal.
    let wait = std::time::Duration::from_secs(120);
    let (_, first) = tokio::time::timeout(wait, rx.recv()).await.expect("an answer").expect("a response");
    assert_problem(&first, 503, "engine_overloaded");
    let retry: u64 = first.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!(retry >= 1);
    // Each request is either refused (answered at once) or accepted (in flight, waiting for the
    // stuck fsync). Release the disk only once every request is one or the other: on a loaded
    // machine a client may not even have sent its request yet, and after the release it would
    // find a drained queue and be accepted.
    let mut refused = 1;
    let in_flight = || probe.stats().in_flight_requests.load(std::sync::atomic::Ordering::Relaxed) as u32;
    let deadline = tokio::time::Instant::now() + wait;
    while refused + in_flight() < REQUESTS {
        match tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv()).await {
            Ok(Some((_, r))) => {
                assert_problem(&r, 503, "engine_overloaded");
                refused += 1;
            }
            Ok(None) => panic!("every request answers"),
            Err(_) => assert!(tokio::time::Instant::now() < deadline, "requests still undecided"),
        }
    }

    drop(release);
    let mut created = vec![];
    while let Some((i, r)) = tokio::time::timeout(wait, rx.recv()).await.expect("every request answers") {
        match r.status {
            201 => created.push(i),
            503 => {
                assert_problem(&r, 503, "engine_overloaded");
                refused += 1;
            }
            other => panic!("request {i}: unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(created.len() as u32 + refused, REQUESTS);
    assert!(!created.is_empty(), "the requests the engine accepted complete");
    // One request in the writer (stuck in fsync), one it may carry over for its next block, two queued.
    assert!(refused >= REQUESTS - 4, "at most 4 accepted, the rest refused: {refused} refused");
    let listed = api.get("/v1/assets", &admin).await;
    let mut ids: Vec<u32> =
        listed.body["data"].as_array().unwrap().iter().map(|a| a["id"].as_u64().unwrap() as u32).collect();
    ids.sort_unstable();
    created.sort_unstable();
    assert_eq!(ids, created, "exactly the accepted requests were applied");
    server.abort();
}

/// The last reconciliation over HTTP: 404 `recon_not_found` before any run; then its JSON report with the mint
/// gate's state, its HTML page and its CSV of findings, each with its content type; read scope suffices.
#[tokio::test]
async fn the_last_reconciliation_is_served() {
    use aurum_ledger_node::engine::{Engine, EngineConfig};
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::open(Arc::new(aurum_vfs::OsVfs), dir.path(), EngineConfig::default()).unwrap();
    let keys = aurum_api::auth::KeyStore::open(engine.db().clone()).unwrap();
    let admin = keys.bootstrap().unwrap().expect("a fresh store bootstraps").token;
    let db = engine.db().clone();
    let config = ServerConfig { log_filter: None, ..ServerConfig::default() };
    let app = aurum_api::router(aurum_api::AppState::new(engine, keys, &config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api { base: format!("http://{}", listener.local_addr().unwrap()), http: reqwest::Client::new() };
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (_, reader) = new_key(&api, &admin, "read", None).await;

    assert_problem(&api.get("/v1/recon/latest", &reader).await, 404, "recon_not_found");

    let reports = dir.path().join("recon/31337-b25-s23");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("report.json"), r#"{"kind":"three_way","summary":{"breaks":1}}"#).unwrap();
    std::fs::write(reports.join("report.html"), "<!doctype html><p>1 unexplained break</p>").unwrap();
    std::fs::write(reports.join("breaks.csv"), "class,subject\nunauthorised_mint,mint clearing\n").unwrap();
    let run = aurum_recon::gate::LastRun {
        chain_id: 31337,
        block: 25,
        journal_seq: 23,
        breaks: 1,
        report_dir: reports.display().to_string(),
        generated_at: "2026-11-26T09:00:00.000Z".into(),
    };
    tokio::task::spawn_blocking(move || aurum_recon::gate::record(&db, &run)).await.unwrap().unwrap();

    let r = api.get("/v1/recon/latest", &reader).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["report"]["summary"]["breaks"], 1);
    assert_eq!(r.body["last"]["block"], 25);
    assert_eq!(r.body["mint_allowed"], false);
    assert!(r.body["mint_refused_because"].as_str().unwrap().contains("1 unexplained"));
    let html = api.raw(Method::GET, "/v1/recon/latest/report.html", Some(&reader), None, &[]).await;
    assert_eq!((html.status, html.header("content-type")), (200, Some("text/html; charset=utf-8")));
    let csv = api.raw(Method::GET, "/v1/recon/latest/breaks.csv", Some(&reader), None, &[]).await;
    assert_eq!((csv.status, csv.header("content-type")), (200, Some("text/csv; charset=utf-8")));
    server.abort();
}
