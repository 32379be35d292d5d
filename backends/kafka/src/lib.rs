//! `aurum-kafka`: Aurum's journal on Kafka, for when the embedded log's single disk is not
//! where the journal should live.
//!
//! - [`config`]: `kafka://host:port?topic=…&min_ack=…&replication=…` and its limits;
//! - [`journal`]: [`KafkaJournal`], a `JournalBackend`: one partition, an idempotent `acks=all`
//!   producer with one block in flight, reads by assignment up to the high watermark;
//! - [`node`]: a ledger engine whose journal is on Kafka while its key, anchor and snapshots
//!   stay in the local KV store (the anchor is how a topic that lost acknowledged blocks is
//!   detected);
//! - [`topics`]: [`KafkaTopics`], the platform's other topics (risk, oracle, reconciliation,
//!   payments) behind the same `aurum_log::Topics` trait as the embedded log;
//! - [`group`]: journal consumers in a consumer group with committed offsets, for projections
//!   that keep their own exactly-once position (the PostgreSQL read model).
//!
//! Kafka's acknowledgement is "stored by every in-sync replica", not "fsynced": the engine
//! accepts it only with an explicit [`JournalPolicy`](aurum_ledger_node::journal::JournalPolicy)
//! (`min_ack=replicated`). Kafka transactions are not used (the brokers this is tested on do not
//! commit them); exactly-once comes from positions stored atomically with each projection.
//!
//! This is the only crate that links librdkafka.

pub mod config;
pub mod group;
pub mod journal;
pub mod node;
pub mod topics;

pub use config::{KafkaConfig, KafkaConfigError};
pub use journal::KafkaJournal;
pub use topics::KafkaTopics;
