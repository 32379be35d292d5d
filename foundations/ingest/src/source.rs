//! The source abstraction. A source only moves bytes: it returns *payloads* (JSON text; a CSV row
//! is rendered as a JSON object of column → text). Mapping, timeouts, retries, the breaker,
//! buffering and metrics are the runner's, so every source gets the same policies.

use crate::clock::BoxFuture;
use crate::error::SourceError;

/// A source the runner asks for data on a schedule (HTTP polling).
pub trait PolledSource: Send + 'static {
    /// What it reads (a URL), for messages.
    fn target(&self) -> &str;

    /// One request: the payload it returned. The runner bounds it with the timeout and may drop
    /// it at any await point (it must be cancel-safe).
    fn fetch(&mut self) -> BoxFuture<'_, Result<String, SourceError>>;
}

/// A source that pushes payloads over a long-lived connection (WebSocket, file replay).
pub trait StreamSource: Send + 'static {
    /// What it reads (a URL or a path), for messages.
    fn target(&self) -> &str;

    /// Whether the end of a stream is the end of the source (a file: the runner stops it) rather
    /// than a lost connection (a network: the runner reconnects).
    fn is_finite(&self) -> bool {
        false
    }

    /// Open a connection (or the file).
    fn connect(&mut self) -> BoxFuture<'_, Result<Box<dyn PayloadStream>, SourceError>>;
}

/// An open connection of a [`StreamSource`].
pub trait PayloadStream: Send {
    /// The next payload; `None` at the end of the stream. After an error for which
    /// [`SourceError::ends_stream`] is false (a bad frame or row) the stream is still usable.
    fn next(&mut self) -> BoxFuture<'_, Option<Result<String, SourceError>>>;
}

/// Any source the runner can drive.
pub enum Source {
    /// Asked on a schedule.
    Polled(Box<dyn PolledSource>),
    /// Pushes over a connection.
    Streamed(Box<dyn StreamSource>),
}

impl Source {
    /// What it reads, for messages.
    pub fn target(&self) -> &str {
        match self {
            Source::Polled(s) => s.target(),
            Source::Streamed(s) => s.target(),
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Polled(s) => write!(f, "Polled({})", s.target()),
            Source::Streamed(s) => write!(f, "Streamed({})", s.target()),
        }
    }
}
