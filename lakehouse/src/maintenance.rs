//! Maintenance: snapshot expiry, and deleting the orphaned data files of crashed batches.
//!
//! iceberg-rust 0.10's `expire_snapshots` rewrites the table metadata without the expired snapshots
//! but deletes no file. In these append-only tables every snapshot's manifest list carries all
//! earlier manifests forward, so the only files an expiry orphans are the expired snapshots' own
//! manifest lists (`metadata/snap-*.avro`): this job deletes exactly those, after the commit that
//! stopped referencing them. Data files and manifests are never deleted (every live snapshot still
//! references them); old `*.metadata.json` versions are kept as the table's history.
//!
//! A sink that dies between writing a micro-batch's data files and committing them leaves files
//! no snapshot references (the batch is redone under new names). `delete_orphan_files` finds them
//! — Parquet files under the table's `data/` that no manifest of any live snapshot names — and
//! deletes those older than a grace period (a writer in another process could be about to commit
//! younger ones; the data directory's lock keeps the sink out while the CLI runs, the grace period
//! guards everything else).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use iceberg::transaction::{ApplyTransactionAction, Transaction};

use crate::catalog::Lake;
use crate::error::LakeError;
use crate::tables::LakeTable;

/// What an expiry did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Snapshots before.
    pub snapshots_before: usize,
    /// Snapshots removed.
    pub expired: usize,
    /// Manifest lists deleted (one per expired snapshot).
    pub files_deleted: usize,
}

/// Expire `table`'s snapshots older than `older_than_ms` (ms since the epoch), keeping at least
/// the newest `retain_last` (≥ 1; the current snapshot is never expired).
pub async fn expire_snapshots(
    lake: &Lake,
    which: LakeTable,
    older_than_ms: i64,
    retain_last: usize,
) -> Result<ExpiryReport, LakeError> {
    assert!(retain_last >= 1, "retain_last must be at least 1");
    let table = lake.table(which).await?;
    let before: Vec<(i64, String)> =
        table.metadata().snapshots().map(|s| (s.snapshot_id(), s.manifest_list().to_string())).collect();
    if before.len() <= retain_last {
        return Ok(ExpiryReport { snapshots_before: before.len(), ..ExpiryReport::default() });
    }
    let tx = Transaction::new(&table);
    let table = tx
        .expire_snapshots()
        .expire_older_than_ms(older_than_ms)
        .retain_last(retain_last)
        .apply(tx)?
        .commit(lake.catalog().as_ref())
        .await?;
    let kept: BTreeSet<i64> = table.metadata().snapshots().map(|s| s.snapshot_id()).collect();
    let live_lists: BTreeSet<String> = table.metadata().snapshots().map(|s| s.manifest_list().to_string()).collect();
    let mut report = ExpiryReport { snapshots_before: before.len(), ..ExpiryReport::default() };
    for (id, list) in before {
        if kept.contains(&id) {
            continue;
        }
        report.expired += 1;
        if !live_lists.contains(&list) && table.file_io().exists(&list).await? {
            table.file_io().delete(&list).await?;
            report.files_deleted += 1;
        }
    }
    Ok(report)
}

/// What an orphan sweep found in one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanReport {
    /// Data files the live snapshots reference.
    pub referenced: usize,
    /// Parquet files under `data/` that none references and that are older than the grace period.
    pub orphans: usize,
    /// Their bytes.
    pub orphan_bytes: u64,
    /// Files deleted (0 in a dry run).
    pub deleted: usize,
}

fn local_path(location: &str) -> Option<PathBuf> {
    location.strip_prefix("file://").map(PathBuf::from)
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LakeError> {
    let io = |source| LakeError::Io { path: dir.display().to_string(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// Delete (unless `dry_run`) the Parquet files under `table`'s `data/` that no live snapshot
/// references and that were last modified before `older_than_ms` (ms since the epoch). Only local
/// warehouses (`file://`) are swept.
pub async fn delete_orphan_files(
    lake: &Lake,
    which: LakeTable,
    older_than_ms: i64,
    dry_run: bool,
) -> Result<OrphanReport, LakeError> {
    let table = lake.table(which).await?;
    let Some(root) = local_path(table.metadata().location()) else { return Ok(OrphanReport::default()) };
    let mut referenced = HashSet::new();
    for snapshot in table.metadata().snapshots() {
        let list = table.manifest_list_reader(snapshot).load().await?;
        for manifest in list.entries() {
            for entry in manifest.load_manifest(table.file_io()).await?.entries() {
                if let Some(p) = local_path(entry.file_path()) {
                    referenced.insert(p);
                }
            }
        }
    }
    let mut files = Vec::new();
    parquet_files(&root.join("data"), &mut files)?;
    let cutoff = std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::from_millis(older_than_ms.max(0) as u64))
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u32::MAX as u64 * 16));
    let mut report = OrphanReport { referenced: referenced.len(), ..OrphanReport::default() };
    for path in files {
        if referenced.contains(&path) {
            continue;
        }
        let io = |source| LakeError::Io { path: path.display().to_string(), source };
        let meta = std::fs::metadata(&path).map_err(io)?;
        if meta.modified().map_err(io)? >= cutoff {
            continue; // young: a writer may be about to commit it
        }
        report.orphans += 1;
        report.orphan_bytes += meta.len();
        if !dry_run {
            std::fs::remove_file(&path).map_err(io)?;
            report.deleted += 1;
        }
    }
    Ok(report)
}
