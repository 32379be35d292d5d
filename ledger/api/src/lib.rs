//! `aurum-api`: the REST transaction API (axum on tokio) in front of the ledger engine.
//!
//! Modules (see each for details):
//! - `server`, `routes`, `error`, `idempotency`, `openapi`, `config`: the HTTP surface;
//! - `auth`, `ratelimit`, `metrics`, `logging`: API keys with scopes, per-key rate limits,
//!   Prometheus metrics, structured JSON logs with request ids.

pub mod auth;
pub mod bench_route;
pub mod config;
pub mod error;
pub mod idempotency;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod server;

pub use config::ServerConfig;
pub use server::{AppState, RunningServer, ServeError, router, serve, start};
