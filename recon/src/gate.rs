//! Secure-mint gating: the platform refuses to mint while the last reconciliation has unexplained breaks.
//!
//! Each reconciliation that is not a dry run records its outcome in the KV store under [`LAST_KEY`]; the mint path
//! asks [`check_mint_allowed`] before it sends a mint. No reconciliation yet (a new program) allows minting; a
//! record that cannot be read refuses it (failing closed).

use aurum_kv::Db;
use serde::{Deserialize, Serialize};

/// KV key of the last reconciliation's outcome.
pub const LAST_KEY: &[u8] = b"recon/last";

/// What the gate remembers of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// Chain id.
    pub chain_id: u64,
    /// The final block reconciled.
    pub block: u64,
    /// The journal sequence.
    pub journal_seq: u64,
    /// Unexplained breaks.
    pub breaks: usize,
    /// Where the report files are.
    pub report_dir: String,
    /// When it ran (RFC 3339).
    pub generated_at: String,
}

/// Why minting is refused, or the gate could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The last reconciliation found breaks nobody explained.
    #[error(
        "minting is refused: the last reconciliation (chain {chain_id}, block {block}) has {breaks} unexplained \
         break(s); see {report_dir}, resolve them and reconcile again"
    )]
    UnexplainedBreaks {
        /// Chain id.
        chain_id: u64,
        /// Block.
        block: u64,
        /// How many.
        breaks: usize,
        /// The report.
        report_dir: String,
    },
    /// The record is unreadable: refuse rather than guess.
    #[error("minting is refused: the last reconciliation's record is unreadable: {0}")]
    Corrupt(String),
    /// The KV store failed.
    #[error("kv store: {0}")]
    Kv(#[from] aurum_kv::Error),
}

/// Records `run` as the last reconciliation.
pub fn record(db: &Db, run: &LastRun) -> Result<(), GateError> {
    let bytes = serde_json::to_vec(run).map_err(|e| GateError::Corrupt(e.to_string()))?;
    db.put(LAST_KEY, &bytes)?;
    Ok(())
}

/// The last reconciliation, if any.
pub fn last(db: &Db) -> Result<Option<LastRun>, GateError> {
    match db.get(LAST_KEY)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| GateError::Corrupt(e.to_string())),
    }
}

/// Whether the platform may mint now.
pub fn check_mint_allowed(db: &Db) -> Result<(), GateError> {
    match last(db)? {
        Some(run) if run.breaks > 0 => Err(GateError::UnexplainedBreaks {
            chain_id: run.chain_id,
            block: run.block,
            breaks: run.breaks,
            report_dir: run.report_dir,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn minting_follows_the_last_reconciliation() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(Arc::new(aurum_vfs::OsVfs), dir.path(), aurum_kv::Options::default()).unwrap();
        check_mint_allowed(&db).expect("a new program may mint");
        let mut run = LastRun {
            chain_id: 31337,
            block: 25,
            journal_seq: 40,
            breaks: 2,
            report_dir: "recon/x".into(),
            generated_at: "2026-11-26T00:00:00Z".into(),
        };
        record(&db, &run).unwrap();
        let err = check_mint_allowed(&db).unwrap_err();
        assert!(err.to_string().contains("2 unexplained"), "{err}");
        run.breaks = 0;
        record(&db, &run).unwrap();
        check_mint_allowed(&db).expect("a clean reconciliation allows minting");
        db.put(LAST_KEY, b"{not json").unwrap();
        assert!(matches!(check_mint_allowed(&db), Err(GateError::Corrupt(_))), "an unreadable record fails closed");
    }
}
