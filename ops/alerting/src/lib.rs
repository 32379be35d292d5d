//! `aurum-alerting`: alert rules over Aurum's own Prometheus metrics, evaluated in process.
//!
//! - [`rules`]: the rules file (`metric{labels} OP threshold`, `for`, severity, summary);
//! - [`samples`]: the Prometheus text format parsed back, so rules see exactly what `/metrics`
//!   exports;
//! - [`eval`]: the state machine (pending → firing → resolved) with for-durations, one
//!   notification per transition, its state plain data to persist (no duplicate after a restart);
//! - [`notify`]: a Slack-compatible webhook, an ordered outbox with retries and backoff.
//!
//! docs/alerting.md has the rules format and the metrics to write rules on.

pub mod error;
pub mod eval;
pub mod notify;
pub mod rules;
pub mod samples;

pub use error::AlertError;
pub use eval::{AlertState, AlertStates, Notification, Phase, evaluate};
pub use notify::{Outbox, Webhook, payload};
pub use rules::{Rule, parse};
pub use samples::{Sample, parse as parse_samples};
