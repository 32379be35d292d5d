//! The scheduler's one error type.

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// A DAG's specification is unusable.
    #[error("DAG {dag:?}: {reason}")]
    Spec {
        /// The DAG.
        dag: String,
        /// What is wrong.
        reason: String,
    },
    /// No DAG of that name is registered.
    #[error("no DAG named {0:?}")]
    UnknownDag(String),
    /// The KV store failed.
    #[error("scheduler store: {0}")]
    Store(#[from] aurum_kv::Error),
    /// A stored record does not decode.
    #[error("scheduler store: record {key:?} does not decode: {reason}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A task thread could not be started.
    #[error("could not start a thread for {dag}/{task}: {source}")]
    Spawn {
        /// The DAG.
        dag: String,
        /// The task.
        task: String,
        /// The OS error.
        source: std::io::Error,
    },
}
