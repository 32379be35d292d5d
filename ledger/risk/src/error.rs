//! The crate's error type.

/// What can go wrong in risk scoring's configuration and plumbing. Scoring itself cannot fail.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// The rules file is invalid; nothing of it was applied.
    #[error("rules file {origin}: {message}")]
    Rules {
        /// The file (or "built-in").
        origin: String,
        /// What is wrong, and where.
        message: String,
    },
    /// A structuring threshold does not fit an asset.
    #[error("structuring threshold for {asset}: {message}")]
    Threshold {
        /// Asset code.
        asset: String,
        /// What is wrong.
        message: String,
    },
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be read.
    #[error("journal: {0}")]
    Journal(#[from] aurum_ledger_node::journal::JournalError),
    /// The log (alerts topic) failed.
    #[error("log: {0}")]
    Log(#[from] aurum_log::Error),
    /// The KV store (cursor) failed.
    #[error("kv: {0}")]
    Kv(#[from] aurum_kv::Error),
}
