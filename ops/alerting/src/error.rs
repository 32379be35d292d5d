//! The alerting crate's one error type.

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// The rules file is not valid TOML or not a rules file.
    #[error("alert rules: {0}")]
    Rules(String),
    /// One rule is unusable.
    #[error("alert rule {rule:?}: {reason}")]
    Rule {
        /// Its name.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}
