//! The read model's errors: what failed, and where (table, seq, migration).

/// Errors of the PostgreSQL read model.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The database failed or refused a statement.
    #[error("postgresql: {what}: {source}")]
    Db {
        /// What the read model was doing.
        what: String,
        /// sqlx's error (never includes the password: sqlx does not print URLs).
        #[source]
        source: sqlx::Error,
    },
    /// The configuration cannot be used (bad URL, bad schema name).
    #[error("postgresql read model configuration: {0}")]
    Config(String),
    /// The database holds a migration this build does not know, or one whose text changed.
    #[error("postgresql schema: {0}")]
    Migration(String),
    /// Reading the journal failed.
    #[error("journal: {0}")]
    Journal(#[from] aurum_ledger_node::journal::JournalError),
    /// The journal does not continue what the database holds (a different or rewritten journal),
    /// or a block does not replay to its recorded outcomes.
    #[error("projection {name:?} at block {seq}: {reason}")]
    Diverged {
        /// The projection.
        name: String,
        /// The block.
        seq: u64,
        /// What does not match.
        reason: String,
    },
    /// A value read back from the database is not what the projection writes.
    #[error("postgresql table {table}: {reason}")]
    BadValue {
        /// The table.
        table: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl PgError {
    /// A closure turning a sqlx error into [`PgError::Db`] saying what was being done.
    pub(crate) fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> PgError {
        let what = what.into();
        move |source| PgError::Db { what, source }
    }
}
