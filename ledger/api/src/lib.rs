//! `aurum-api`: the REST transaction API (axum on tokio) in front of the ledger engine.
//!
//! Modules (see each for details):
//! - `server`, `routes`, `error`, `idempotency`, `openapi`, `config`: the HTTP surface;
//! - `auth`, `ratelimit`, `metrics`, `logging`: API keys with scopes, per-key rate limits,
//!   Prometheus metrics, structured JSON logs with request ids.

pub mod auth;
pub mod logging;
pub mod metrics;
pub mod ratelimit;
