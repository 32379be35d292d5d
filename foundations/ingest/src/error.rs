//! What goes wrong while a source runs, classified for metrics, retries and stream recovery.

use crate::mapping::MappingError;

/// The failure classes counted per source (`aurum_ingest_failures_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No answer (or no frame) within the timeout.
    Timeout,
    /// Could not reach or open the source: TCP, WebSocket handshake, file open.
    Connect,
    /// An HTTP answer with a non-2xx status.
    HttpStatus,
    /// The payload, frame or row could not be read or mapped (not JSON, not UTF-8, too large, a
    /// field missing or inexact).
    Decode,
    /// An established connection or stream ended or broke.
    Closed,
}

impl FailureKind {
    /// Every kind, in label order.
    pub const ALL: [FailureKind; 5] =
        [FailureKind::Timeout, FailureKind::Connect, FailureKind::HttpStatus, FailureKind::Decode, FailureKind::Closed];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Connect => "connect",
            FailureKind::HttpStatus => "http_status",
            FailureKind::Decode => "decode",
            FailureKind::Closed => "closed",
        }
    }
}

/// One failure of a source, saying where (`target`: its URL or file) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The request, connection or frame wait exceeded its timeout.
    #[error("{target}: no answer within {after_ms} ms")]
    Timeout {
        /// URL or path.
        target: String,
        /// The timeout.
        after_ms: u64,
    },
    /// Could not connect, hand-shake or open.
    #[error("{target}: cannot connect: {reason}")]
    Connect {
        /// URL or path.
        target: String,
        /// Why.
        reason: String,
    },
    /// A non-2xx HTTP status.
    #[error("{target}: HTTP status {status}")]
    HttpStatus {
        /// URL.
        target: String,
        /// The status code.
        status: u16,
    },
    /// An HTTP body beyond the configured limit.
    #[error("{target}: response body exceeds the limit of {limit_bytes} bytes (max_body_bytes)")]
    BodyTooLarge {
        /// URL.
        target: String,
        /// The limit.
        limit_bytes: usize,
    },
    /// A WebSocket message beyond the configured limit (the connection is dropped: the protocol
    /// cannot skip it).
    #[error("{target}: frame exceeds the limit of {limit_bytes} bytes (max_frame_bytes)")]
    FrameTooLarge {
        /// URL.
        target: String,
        /// The limit.
        limit_bytes: usize,
    },
    /// A payload that is not text (a non-UTF-8 body or binary frame).
    #[error("{target}: payload is not UTF-8 text")]
    NotText {
        /// URL.
        target: String,
    },
    /// A CSV row that cannot be read; the row is skipped.
    #[error("{target}: line {line}: {reason}")]
    CsvRow {
        /// Path.
        target: String,
        /// Line where the row starts (1-based).
        line: u64,
        /// Why.
        reason: String,
    },
    /// A CSV file that cannot be read further (no header, a record beyond the limit, an I/O error).
    #[error("{target}: {reason}")]
    CsvFile {
        /// Path.
        target: String,
        /// Why.
        reason: String,
    },
    /// The connection or stream ended or broke.
    #[error("{target}: connection closed: {reason}")]
    Closed {
        /// URL.
        target: String,
        /// How.
        reason: String,
    },
    /// The payload did not map to observations; nothing of it was emitted.
    #[error("{target}: {error}")]
    Mapping {
        /// URL or path.
        target: String,
        /// What and where in the payload.
        error: MappingError,
    },
}

impl SourceError {
    /// Its class.
    pub fn kind(&self) -> FailureKind {
        match self {
            SourceError::Timeout { .. } => FailureKind::Timeout,
            SourceError::Connect { .. } => FailureKind::Connect,
            SourceError::HttpStatus { .. } => FailureKind::HttpStatus,
            SourceError::BodyTooLarge { .. }
            | SourceError::FrameTooLarge { .. }
            | SourceError::NotText { .. }
            | SourceError::CsvRow { .. }
            | SourceError::Mapping { .. } => FailureKind::Decode,
            SourceError::CsvFile { .. } | SourceError::Closed { .. } => FailureKind::Closed,
        }
    }

    /// Whether retrying the same request soon could succeed. A payload that did not decode will
    /// decode no better a few milliseconds later, and a 4xx is the request's fault; both wait for
    /// the next round instead.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Timeout { .. } | SourceError::Connect { .. } | SourceError::Closed { .. } => true,
            SourceError::HttpStatus { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }

    /// Whether a stream can go on after this error (a bad frame or row is skipped) or must be
    /// dropped and reconnected.
    pub fn ends_stream(&self) -> bool {
        !matches!(self, SourceError::NotText { .. } | SourceError::CsvRow { .. } | SourceError::Mapping { .. })
    }
}

/// Why sources could not be started (found before anything runs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not called inside a tokio runtime.
    #[error("sources must be started inside a tokio runtime")]
    NoRuntime,
    /// The shared buffer's capacity is out of bounds.
    #[error("buffer_capacity = {0} must be within 1..={max}", max = crate::buffer::MAX_BUFFER_CAPACITY)]
    BufferCapacity(usize),
    /// Two sources share a name (metrics and observations are keyed by it).
    #[error("two sources are named {0:?}")]
    DuplicateName(String),
    /// One source's configuration is unusable.
    #[error("source {name:?}: {problem}")]
    Source {
        /// The source's name as configured.
        name: String,
        /// What is wrong.
        problem: ConfigProblem,
    },
}

/// What is wrong with one source's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// The name is empty, too long or has control characters.
    #[error("a source name must be 1 to {max} characters without control characters", max = crate::runner::MAX_SOURCE_NAME_CHARS)]
    Name,
    /// The field map.
    #[error("field map: {0}")]
    FieldMap(#[from] crate::mapping::FieldMapError),
    /// The retry policy.
    #[error(transparent)]
    Retry(#[from] crate::backoff::RetryPolicyError),
    /// The breaker policy.
    #[error(transparent)]
    Breaker(#[from] crate::breaker::BreakerPolicyError),
    /// A numeric setting outside its limits.
    #[error("{setting} = {value} must be within {min}..={max}")]
    Limit {
        /// The setting's name.
        setting: &'static str,
        /// Its value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A setting the kind needs is absent.
    #[error("kind {kind} needs `{setting}`")]
    Missing {
        /// The source kind.
        kind: &'static str,
        /// The setting.
        setting: &'static str,
    },
    /// A setting the kind does not use is present (a likely mistake).
    #[error("kind {kind} does not use `{setting}`")]
    Unused {
        /// The source kind.
        kind: &'static str,
        /// The setting.
        setting: &'static str,
    },
    /// A URL that is not usable.
    #[error("url {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}
