//! The log's one error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the log. Messages say what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the log was doing, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Bytes on disk failed validation (CRC, length, offsets).
    #[error("corrupt data in {}: at byte {offset}: {reason}", file.display())]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Byte position of the bad batch or entry.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// An earlier write or fsync failed; the partition refuses writes until the log is reopened.
    #[error("log is poisoned after a failed write or fsync ({cause}); reopen it to recover")]
    Poisoned {
        /// The failure that poisoned the log.
        cause: String,
    },
    /// The batch was written but could not be made durable (its fsync failed, or an earlier one
    /// did). It was not acknowledged: it may or may not be present after a restart.
    #[error("records were written but not made durable ({cause}); they may or may not survive a restart")]
    NotDurable {
        /// The failure.
        cause: String,
    },
    /// No such topic.
    #[error("topic {0:?} does not exist")]
    UnknownTopic(String),
    /// The topic exists with another configuration.
    #[error("topic {name:?} already exists with a different configuration")]
    TopicConfigMismatch {
        /// Topic name.
        name: String,
    },
    /// The partition index is out of range.
    #[error("topic {topic:?} has {partitions} partitions; partition {partition} does not exist")]
    UnknownPartition {
        /// Topic name.
        topic: String,
        /// Requested partition.
        partition: u32,
        /// Number of partitions.
        partitions: u32,
    },
    /// A fetch asked for an offset outside the partition's range.
    #[error("offset {requested} is out of range: the partition holds [{log_start}, {log_end})")]
    OffsetOutOfRange {
        /// Requested offset.
        requested: u64,
        /// First offset still held (after retention).
        log_start: u64,
        /// Next offset to be written.
        log_end: u64,
    },
    /// A backend other than the embedded log (a Kafka cluster) failed.
    #[error("{what}: {source}")]
    Backend {
        /// What was being done, with the topic and the broker.
        what: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The caller passed something invalid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid { what, reason: reason.into() }
    }
}

/// Attach a context to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(f(), e))
    }
}
