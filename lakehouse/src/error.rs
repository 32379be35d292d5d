//! The crate's error type.

/// What can go wrong in the lakehouse.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The Iceberg library failed (catalog, metadata, files).
    #[error("iceberg: {0}")]
    Iceberg(#[from] iceberg::Error),
    /// DataFusion failed (planning or running a query).
    #[error("sql: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Building Arrow data failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The journal could not be read.
    #[error("journal: {0}")]
    Journal(#[from] aurum_ledger_node::journal::JournalError),
    /// The ledger engine refused a read.
    #[error("ledger: {0}")]
    Engine(#[from] aurum_ledger_node::engine::EngineError),
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An amount does not fit the lakehouse's decimal(38, 18).
    #[error("transfer {transfer}: amount {units} at scale {scale} does not fit decimal(38, 18)")]
    AmountTooLarge {
        /// The transfer.
        transfer: String,
        /// Base units.
        units: u128,
        /// The asset's scale.
        scale: u8,
    },
    /// A journal block is damaged or out of order.
    #[error("journal block at log offset {offset}: {reason}")]
    BadBlock {
        /// Log offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A topic record that should hold an event does not.
    #[error("topic {topic} partition {partition} offset {offset}: {reason}")]
    BadRecord {
        /// The topic.
        topic: &'static str,
        /// The partition.
        partition: u32,
        /// The offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The lake's configuration is unusable (catalog URI, names).
    #[error("lake configuration: {0}")]
    Config(String),
    /// A sink built a row its table cannot hold (a bug in the sink, caught before writing).
    #[error("table {table}, column {column}: {reason}")]
    BadRow {
        /// The table.
        table: &'static str,
        /// The column (`*` for the row as a whole).
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// The chain indexer's store could not be read.
    #[error("chain index: {0}")]
    Chain(#[from] aurum_chain::indexer::IndexerError),
    /// A final chain log that claims to be a known event does not decode.
    #[error("chain {chain_id}: {source}")]
    ChainEvent {
        /// The chain.
        chain_id: u64,
        /// Why.
        #[source]
        source: aurum_chain::events::DecodeError,
    },
    /// The log failed.
    #[error("log: {0}")]
    Log(#[from] aurum_log::Error),
    /// A snapshot summary holds a value the sink cannot read.
    #[error("table {table}: snapshot property {key} = {value:?} is not a block sequence")]
    BadOffset {
        /// The table.
        table: &'static str,
        /// The property.
        key: &'static str,
        /// Its value.
        value: String,
    },
}
