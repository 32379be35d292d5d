//! `aurum-api`: the REST transaction API (axum on tokio) in front of the ledger engine.
//!
//! Modules (see each for details):
//! - `server`, `routes`, `error`, `idempotency`, `openapi`, `config`: the HTTP surface;
//! - `auth`, `ratelimit`, `metrics`, `logging`: API keys with scopes, per-key rate limits,
//!   Prometheus metrics, structured JSON logs with request ids;
//! - `risk`: risk scoring at admission (allow, hold for review, reject), review records, alerts
//!   and their webhook (routes in `routes::risk`).

pub mod auth;
pub mod bench_route;
pub mod config;
pub mod error;
pub mod idempotency;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod ratelimit;
pub mod read_model;
pub mod risk;
pub mod routes;
pub mod server;

pub use config::{RiskSettings, ServerConfig, WebhookLimits};
pub use server::{AppState, RunningServer, ServeError, router, serve, start};
