//! Sources from configuration (TOML or any serde format): [`SourceConfig`] per source, the whole
//! set as [`IngestConfig`], and [`spawn_sources`] to start them. Unknown keys are errors (a typo
//! must not silently fall back to a default), and so are settings the kind does not use.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::RetryPolicy;
use crate::breaker::BreakerPolicy;
use crate::buffer::{DEFAULT_QUEUE_CAPACITY, Overflow};
use crate::clock::Clock;
use crate::error::{ConfigError, ConfigProblem};
use crate::mapping::FieldMap;
use crate::runner::{self, Ingestion, Pace, Policy, SourceSpec};
use crate::source::Source;
use crate::sources::http::DEFAULT_MAX_BODY_BYTES;
use crate::sources::ws::DEFAULT_MAX_FRAME_BYTES;
use crate::sources::{CsvReplaySource, HttpJsonSource, HttpOptions, WebSocketOptions, WebSocketSource};

/// Default poll interval of an HTTP source.
pub const DEFAULT_INTERVAL_MS: u64 = 1_000;
/// Default request/connect timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Default longest silence of a WebSocket stream.
pub const DEFAULT_MESSAGE_TIMEOUT_MS: u64 = 60_000;
/// Default capacity of the shared buffer ([`IngestConfig::buffer_capacity`]).
pub const DEFAULT_BUFFER_CAPACITY: usize = 1_024;

/// What kind of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// [`HttpJsonSource`]: polls `url`.
    Http,
    /// [`WebSocketSource`]: streams from `url`.
    Ws,
    /// [`CsvReplaySource`]: replays `path`.
    Csv,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            SourceKind::Http => "http",
            SourceKind::Ws => "ws",
            SourceKind::Csv => "csv",
        }
    }
}

/// One source, as configured. See `docs/ingest.md` for the TOML shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name (the observations' `source`, the metrics label).
    pub name: String,
    /// `http`, `ws` or `csv`.
    pub kind: SourceKind,
    /// http, ws: the URL.
    #[serde(default)]
    pub url: Option<String>,
    /// csv: the file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// http: ms between the starts of two polls (default [`DEFAULT_INTERVAL_MS`]).
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// Request / connect timeout in ms (default [`DEFAULT_TIMEOUT_MS`]).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// ws: longest silence between frames in ms (default [`DEFAULT_MESSAGE_TIMEOUT_MS`]).
    #[serde(default)]
    pub message_timeout_ms: Option<u64>,
    /// http: response body limit (default [`DEFAULT_MAX_BODY_BYTES`]).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// ws: message limit (default [`DEFAULT_MAX_FRAME_BYTES`]).
    #[serde(default)]
    pub max_frame_bytes: Option<usize>,
    /// ws: text sent after connecting.
    #[serde(default)]
    pub subscribe: Option<String>,
    /// csv: replay speed factor (1 = as recorded); absent = as fast as consumed.
    #[serde(default)]
    pub speed: Option<u32>,
    /// Observations queued per source while the buffer is full (default [`DEFAULT_QUEUE_CAPACITY`]).
    #[serde(default)]
    pub queue_capacity: Option<usize>,
    /// `drop_oldest` (default of http, ws) or `block` (default of csv).
    #[serde(default)]
    pub overflow: Option<Overflow>,
    /// Payload → observation mapping.
    pub fields: FieldMap,
    /// Retries (defaults: [`RetryPolicy::default`]).
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Circuit breaker (defaults: [`BreakerPolicy::default`]).
    #[serde(default)]
    pub breaker: BreakerPolicy,
}

/// A set of sources sharing one buffer: `buffer_capacity = …` and `[[source]]` tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Capacity of the shared buffer (default [`DEFAULT_BUFFER_CAPACITY`]).
    #[serde(default = "default_buffer_capacity")]
    pub buffer_capacity: usize,
    /// The sources.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
}

fn default_buffer_capacity() -> usize {
    DEFAULT_BUFFER_CAPACITY
}

impl IngestConfig {
    /// Start every source (see [`spawn_sources`]).
    pub fn spawn(&self, clock: Arc<dyn Clock>) -> Result<Ingestion, ConfigError> {
        spawn_sources(&self.sources, clock, self.buffer_capacity)
    }
}

impl SourceConfig {
    /// The runnable source, after checking every setting.
    pub fn build(&self) -> Result<SourceSpec, ConfigError> {
        self.build_spec().map_err(|problem| ConfigError::Source { name: self.name.clone(), problem })
    }

    fn build_spec(&self) -> Result<SourceSpec, ConfigProblem> {
        let kind = self.kind.name();
        let unused = |present: bool, setting: &'static str| {
            if present { Err(ConfigProblem::Unused { kind, setting }) } else { Ok(()) }
        };
        let url = || self.url.as_deref().ok_or(ConfigProblem::Missing { kind, setting: "url" });
        let ms = Duration::from_millis;
        let mut policy = Policy {
            timeout: ms(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
            message_timeout: None,
            interval: ms(DEFAULT_INTERVAL_MS),
            retry: self.retry.clone(),
            breaker: self.breaker.clone(),
            queue_capacity: self.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY),
            overflow: self.overflow.unwrap_or(Overflow::DropOldest),
            pace: Pace::AsFastAsConsumed,
        };
        let source = match self.kind {
            SourceKind::Http => {
                unused(self.path.is_some(), "path")?;
                unused(self.message_timeout_ms.is_some(), "message_timeout_ms")?;
                unused(self.max_frame_bytes.is_some(), "max_frame_bytes")?;
                unused(self.subscribe.is_some(), "subscribe")?;
                unused(self.speed.is_some(), "speed")?;
                policy.interval = ms(self.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS));
                let options = HttpOptions {
                    max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
                    ..HttpOptions::default()
                };
                Source::Polled(Box::new(HttpJsonSource::new(url()?, options)?))
            }
            SourceKind::Ws => {
                unused(self.path.is_some(), "path")?;
                unused(self.interval_ms.is_some(), "interval_ms")?;
                unused(self.max_body_bytes.is_some(), "max_body_bytes")?;
                unused(self.speed.is_some(), "speed")?;
                policy.message_timeout = Some(ms(self.message_timeout_ms.unwrap_or(DEFAULT_MESSAGE_TIMEOUT_MS)));
                let options = WebSocketOptions {
                    subscribe: self.subscribe.clone(),
                    max_frame_bytes: self.max_frame_bytes.unwrap_or(DEFAULT_MAX_FRAME_BYTES),
                };
                Source::Streamed(Box::new(WebSocketSource::new(url()?, options)?))
            }
            SourceKind::Csv => {
                unused(self.url.is_some(), "url")?;
                unused(self.interval_ms.is_some(), "interval_ms")?;
                unused(self.message_timeout_ms.is_some(), "message_timeout_ms")?;
                unused(self.max_body_bytes.is_some(), "max_body_bytes")?;
                unused(self.max_frame_bytes.is_some(), "max_frame_bytes")?;
                unused(self.subscribe.is_some(), "subscribe")?;
                policy.overflow = self.overflow.unwrap_or(Overflow::Block);
                if let Some(speed) = self.speed {
                    let speed = NonZeroU32::new(speed).ok_or(ConfigProblem::Limit {
                        setting: "speed",
                        value: 0,
                        min: 1,
                        max: u64::from(u32::MAX),
                    })?;
                    policy.pace = Pace::Speed(speed);
                }
                let path = self.path.as_ref().ok_or(ConfigProblem::Missing { kind, setting: "path" })?;
                Source::Streamed(Box::new(CsvReplaySource::new(path)))
            }
        };
        // Checked here too (start() checks again) so that build() alone reports every problem.
        self.fields.validate()?;
        policy.validate()?;
        Ok(SourceSpec { name: self.name.clone(), source, fields: self.fields.clone(), policy })
    }
}

/// Build and start every configured source, sharing a buffer of `buffer_capacity` observations.
/// Every configuration is checked before anything starts. Must be called inside a tokio runtime.
pub fn spawn_sources(
    configs: &[SourceConfig],
    clock: Arc<dyn Clock>,
    buffer_capacity: usize,
) -> Result<Ingestion, ConfigError> {
    let specs = configs.iter().map(SourceConfig::build).collect::<Result<Vec<_>, _>>()?;
    runner::start(specs, clock, buffer_capacity)
}
