//! Aurum's ingestion framework for external data: gold prices, reserve attestations, events.
//!
//! The model (see `docs/ingest.md`): a **source** (HTTP JSON polling, a WebSocket stream, a CSV
//! replay) delivers payloads; a **field map** turns each payload into [`Observation`]s with exact
//! decimal values; the **runner** drives every source on its own task with a timeout, retries with
//! seeded exponential backoff, a circuit breaker and metrics; a **bounded buffer** carries the
//! observations to the **consumer** (the oracle), dropping a live source's oldest observation when
//! full, or holding back a replay.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let config: aurum_ingest::IngestConfig = toml::from_str(&std::fs::read_to_string("ingest.toml")?)?;
//! let mut ingestion = config.spawn(Arc::new(aurum_ingest::SystemClock))?;
//! while let Some(observation) = ingestion.observations.recv().await {
//!     println!("{} {} {:?}", observation.source, observation.symbol, observation.value);
//! }
//! # Ok(()) }
//! ```

pub mod backoff;
pub mod breaker;
pub mod buffer;
pub mod clock;
pub mod config;
pub mod decimal;
pub mod error;
pub mod json;
pub mod mapping;
pub mod metrics;
pub mod observation;
pub mod runner;
pub mod source;
pub mod sources;
pub mod timestamp;

pub use backoff::{Backoff, RetryPolicy};
pub use breaker::{Breaker, BreakerPolicy, BreakerState};
pub use buffer::Overflow;
pub use clock::{BoxFuture, Clock, ManualClock, SystemClock};
pub use config::{IngestConfig, SourceConfig, SourceKind, spawn_sources};
pub use error::{ConfigError, ConfigProblem, FailureKind, SourceError};
pub use mapping::{Field, FieldMap, MappingError};
pub use metrics::{Metrics, MetricsSnapshot, SourceSnapshot};
pub use observation::Observation;
pub use runner::{Ingestion, Pace, Policy, Runner, SourceSpec, start};
pub use source::{PayloadStream, PolledSource, Source, StreamSource};
pub use sources::{CsvReplaySource, HttpJsonSource, HttpOptions, WebSocketOptions, WebSocketSource};
pub use timestamp::TimestampFormat;
