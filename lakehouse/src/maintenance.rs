//! Maintenance: snapshot expiry.
//!
//! iceberg-rust 0.10's `expire_snapshots` rewrites the table metadata without the expired snapshots
//! but deletes no file. In these append-only tables every snapshot's manifest list carries all
//! earlier manifests forward, so the only files an expiry orphans are the expired snapshots' own
//! manifest lists (`metadata/snap-*.avro`): this job deletes exactly those, after the commit that
//! stopped referencing them. Data files and manifests are never deleted (every live snapshot still
//! references them); old `*.metadata.json` versions are kept as the table's history.

use std::collections::BTreeSet;

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
