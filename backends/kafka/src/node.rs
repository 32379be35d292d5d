//! A ledger engine whose journal is on Kafka: the journal's records in the topic, and the rest of
//! the node local under its data directory — `kv/` (the node key, the signed head anchor, the
//! snapshots) and `log/` (the other topics: risk alerts, oracle rounds, ...).
//!
//! The anchor stays local on purpose: it is how a restart detects a topic that lost
//! acknowledged blocks (an unclean leader election, a recreated topic). Losing `kv/` loses the
//! node key with it; at scale provision the key (`NodeKey::from_seed` + `NodeKey::store`).

use std::path::Path;
use std::sync::Arc;

use aurum_ledger_node::engine::{Engine, EngineConfig, EngineError, OpenReport};
use aurum_vfs::Vfs;

use crate::config::KafkaConfig;
use crate::journal::KafkaJournal;

/// Open the ledger under `data_dir` with its journal on Kafka, under `kafka`'s policy.
pub fn open_engine(
    vfs: Arc<dyn Vfs>,
    data_dir: &Path,
    kafka: &KafkaConfig,
    config: EngineConfig,
) -> Result<(Engine, OpenReport), EngineError> {
    let journal = Arc::new(KafkaJournal::connect(kafka)?);
    Engine::open_dir_with_journal(vfs, data_dir, journal, kafka.policy(), config)
}
