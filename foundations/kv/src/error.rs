//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the KV store. Messages say what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the store was doing, including the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Stored bytes failed a checksum or structural check. Never returned as data.
    #[error("corrupt data in {} at byte offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Where in the file.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// An earlier write or fsync failed, so the store refuses all writes until it is reopened:
    /// after a failed fsync the state of the disk is unknown, and retrying could falsely succeed.
    #[error("database is poisoned and refuses writes until reopened; first failure: {cause}")]
    Poisoned {
        /// The failure that poisoned the store.
        cause: String,
    },
    /// A key longer than [`crate::MAX_KEY_BYTES`].
    #[error("key of {len} bytes exceeds the limit of {limit} bytes")]
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A value longer than [`crate::MAX_VALUE_BYTES`].
    #[error("value of {len} bytes exceeds the limit of {limit} bytes")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A batch whose encoding exceeds [`crate::MAX_BATCH_BYTES`] or which has more than
    /// [`crate::MAX_BATCH_OPS`] ops.
    #[error("batch of {ops} ops and {bytes} bytes exceeds the limits of {ops_limit} ops and {bytes_limit} bytes")]
    BatchTooLarge {
        /// Ops in the batch.
        ops: usize,
        /// Encoded bytes of the batch.
        bytes: usize,
        /// [`crate::MAX_BATCH_OPS`].
        ops_limit: usize,
        /// [`crate::MAX_BATCH_BYTES`].
        bytes_limit: usize,
    },
    /// The options passed to [`crate::Db::open`] are unusable.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }

    /// A copy to hand to every writer of a failed commit group (io::Error is not Clone).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { context, source } => {
                Error::Io { context: context.clone(), source: io::Error::new(source.kind(), source.to_string()) }
            }
            Error::Corrupt { file, offset, reason } => {
                Error::Corrupt { file: file.clone(), offset: *offset, reason: reason.clone() }
            }
            Error::Poisoned { cause } => Error::Poisoned { cause: cause.clone() },
            Error::KeyTooLarge { len, limit } => Error::KeyTooLarge { len: *len, limit: *limit },
            Error::ValueTooLarge { len, limit } => Error::ValueTooLarge { len: *len, limit: *limit },
            Error::BatchTooLarge { ops, bytes, ops_limit, bytes_limit } => {
                Error::BatchTooLarge { ops: *ops, bytes: *bytes, ops_limit: *ops_limit, bytes_limit: *bytes_limit }
            }
            Error::InvalidOptions(s) => Error::InvalidOptions(s.clone()),
        }
    }
}
