//! The quality crate's one error type.

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    /// The checks file is not valid TOML or not a checks file.
    #[error("checks file: {0}")]
    File(String),
    /// One check is unusable.
    #[error("{check}: {reason}")]
    Check {
        /// Which (position and name).
        check: String,
        /// What is wrong.
        reason: String,
    },
    /// The engine refused or failed a query.
    #[error("{message} (query: {sql})")]
    Engine {
        /// The query.
        sql: String,
        /// The engine's message.
        message: String,
    },
}
