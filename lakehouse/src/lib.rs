//! Aurum's lakehouse: Iceberg tables in a local warehouse (iceberg-rust, the SQL catalog on
//! SQLite), fed exactly once from the ledger's journal, queried with DataFusion SQL.
//!
//! - [`catalog`]: the warehouse, the catalog, table creation;
//! - [`tables`]: every table's schema and partitioning;
//! - [`rows`]: journal blocks to Arrow record batches (exact decimals);
//! - [`sink`]: micro-batches committed with their journal position in the snapshot summary;
//! - [`topics`]: the same for the log's topics (risk alerts and scores, oracle rounds,
//!   reconciliation runs);
//! - [`chain`]: the same for the chain indexer's final logs;
//! - [`balances`]: daily closing balances, materialised from postings as days close;
//! - [`columns`]: rows built cell by cell and checked against the table's schema;
//! - [`sql`]: a DataFusion session over the catalog, plans and partition pruning;
//! - [`analytics`]: named queries registered as views;
//! - [`maintenance`]: snapshot expiry.
//!
//! iceberg-rust 0.10 can only fast-append (no overwrite, delete or compaction), so every table is
//! an append-only log of facts; corrections are new rows, never rewrites (see ARCHITECTURE.md).

pub mod analytics;
pub mod balances;
pub mod catalog;
pub mod chain;
pub mod columns;
pub mod error;
pub mod maintenance;
pub mod quality;
pub mod rows;
pub mod sink;
pub mod sql;
pub mod tables;
pub mod topics;

pub use catalog::{CatalogConfig, Lake};
pub use error::LakeError;
pub use tables::LakeTable;
