//! Run history in the KV store.
//!
//! ```text
//! sched/dag/<dag>                          DagState: first seen, the last schedule slot created
//! sched/run/<dag>/<logical_ms:020>         DagRun (JSON), rewritten on every state change
//! ```
//! A new scheduled run and its DAG's `last_scheduled_ms` are written in one batch: a slot is
//! created exactly once, whatever the crash. Every state change of a run is one put of the whole
//! run, written before the work it announces starts (a `running` attempt is recorded before its
//! thread is spawned).

use aurum_kv::{Db, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::error::SchedError;
use crate::model::DagRun;

const DAG_PREFIX: &str = "sched/dag/";
const RUN_PREFIX: &str = "sched/run/";

/// What the scheduler remembers of a DAG between restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DagState {
    /// When the scheduler first saw the DAG (slots before it are never created).
    pub first_seen_ms: i64,
    /// The latest schedule slot a run was created for.
    pub last_scheduled_ms: Option<i64>,
}

fn run_key(dag: &str, logical_ms: i64) -> String {
    // Logical times are ≥ 0 (the scheduler refuses clocks before the epoch): they sort as text.
    format!("{RUN_PREFIX}{dag}/{:020}", logical_ms.max(0))
}

fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], bytes: &[u8]) -> Result<T, SchedError> {
    serde_json::from_slice(bytes)
        .map_err(|e| SchedError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("scheduler records serialize")
}

/// The scheduler's records in a KV store.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Over `db` (shared with the rest of the node; the keys are under `sched/`).
    pub fn new(db: Db) -> Store {
        Store { db }
    }

    /// A DAG's state.
    pub fn dag_state(&self, dag: &str) -> Result<Option<DagState>, SchedError> {
        let key = format!("{DAG_PREFIX}{dag}");
        self.db.get(key.as_bytes())?.map(|v| decode(key.as_bytes(), &v)).transpose()
    }

    /// Record a DAG's state.
    pub fn put_dag_state(&self, dag: &str, state: &DagState) -> Result<(), SchedError> {
        self.db.put(format!("{DAG_PREFIX}{dag}").as_bytes(), &encode(state))?;
        Ok(())
    }

    /// Whether a run exists for `dag` at `logical_ms`.
    pub fn run_exists(&self, dag: &str, logical_ms: i64) -> Result<bool, SchedError> {
        Ok(self.db.get(run_key(dag, logical_ms).as_bytes())?.is_some())
    }

    /// Create runs for schedule slots and move the DAG's state past them, atomically.
    pub fn create_scheduled(&self, runs: &[DagRun], state: &DagState) -> Result<(), SchedError> {
        let mut batch = WriteBatch::new();
        for run in runs {
            batch.put(run_key(&run.dag, run.logical_ms).as_bytes(), &encode(run));
        }
        if let Some(run) = runs.first() {
            batch.put(format!("{DAG_PREFIX}{}", run.dag).as_bytes(), &encode(state));
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// Write a run as it is now.
    pub fn put_run(&self, run: &DagRun) -> Result<(), SchedError> {
        self.db.put(run_key(&run.dag, run.logical_ms).as_bytes(), &encode(run))?;
        Ok(())
    }

    /// Every run of `dag` (or of every DAG), oldest first within a DAG.
    pub fn runs(&self, dag: Option<&str>) -> Result<Vec<DagRun>, SchedError> {
        let prefix = match dag {
            Some(d) => format!("{RUN_PREFIX}{d}/"),
            None => RUN_PREFIX.to_string(),
        };
        let mut out = Vec::new();
        for item in self.db.scan_prefix(prefix.as_bytes())? {
            let (k, v) = item?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    /// Delete all but the newest `keep` final runs of `dag`.
    pub fn trim(&self, dag: &str, keep: usize) -> Result<usize, SchedError> {
        let finals: Vec<DagRun> = self.runs(Some(dag))?.into_iter().filter(|r| r.state.is_final()).collect();
        let excess = finals.len().saturating_sub(keep);
        if excess == 0 {
            return Ok(0);
        }
        let mut batch = WriteBatch::new();
        for r in &finals[..excess] {
            batch.delete(run_key(&r.dag, r.logical_ms).as_bytes());
        }
        self.db.write(batch)?;
        Ok(excess)
    }
}
