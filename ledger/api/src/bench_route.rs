//! The load benchmark's baseline handlers (`benches/http.rs`), mounted only when
//! `ServerConfig::bench_routes` is on.
//!
//! They do everything the real transfer handlers do before the ledger — same middleware stack
//! (request id + log, body limit, metrics, auth, scope, rate limit) and the same typed JSON parse
//! through `ApiJson` — and then answer a fixed small JSON instead of submitting to the engine. So
//! `ledger / baseline` in the benchmark is the ledger's own cost (commands, journal fsync), not
//! HTTP's or JSON's.
//!
//! WIRING (server.rs, owned by the HTTP-surface engineer): in `router_with`, replace
//! `v1.route("/v1/_bench/noop", post(bench_noop))` by `v1.merge(crate::bench_route::bench_routes())`
//! (before `route_layer(authorize)`, so the routes get auth and rate limits like the real ones), and
//! add `pub mod bench_route;` to lib.rs. Until then the benchmark falls back to the existing
//! `/v1/_bench/noop`, which does not read the body, and says so in its output.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use crate::routes::extract::ApiJson;
use crate::routes::json;
use crate::routes::transfers::{CreateTransferRequest, TransferBatchRequest};
use crate::server::AppState;

/// `POST /v1/_bench/noop` (body: a transfer, as for `POST /v1/transfers`) and
/// `POST /v1/_bench/noop/batch` (body: a batch, as for `POST /v1/transfers/batch`).
pub fn bench_routes() -> Router<AppState> {
    Router::new().route("/v1/_bench/noop", post(noop_transfer)).route("/v1/_bench/noop/batch", post(noop_batch))
}

async fn noop_transfer(body: ApiJson<CreateTransferRequest>) -> Response {
    // `parsed` tells the benchmark that this handler (not a body-ignoring stand-in) answered.
    std::hint::black_box(&body.value);
    json(StatusCode::OK, &serde_json::json!({"ok": true, "parsed": 1}))
}

async fn noop_batch(body: ApiJson<TransferBatchRequest>) -> Response {
    let n = body.value.transfers.len();
    json(StatusCode::OK, &serde_json::json!({"ok": true, "parsed": n}))
}
