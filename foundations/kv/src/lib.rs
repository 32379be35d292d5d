//! `aurum-kv`: an embedded, crash-safe, ordered key-value store — a small LSM tree.
//!
//! Writes go to a write-ahead log (one CRC32C-protected record per batch, fsynced by group
//! commit) and then to an in-memory ordered memtable. A full memtable is written out as an
//! immutable SSTable; a manifest, replaced atomically, names the live tables and where WAL
//! replay starts. Too many tables are merged into one. Reads look at the memtable, then the
//! tables newest first. Snapshots read at a sequence number and pin what they read.
//!
//! Codemap:
//! - [`db`](crate::Db): open/recovery, the group-commit write path, flush, compaction, reads;
//! - `wal`: the log file; `memtable`: the in-memory map; `sstable`: table files;
//! - `block`: a data block verified and parsed once; `cache`: the bounded block cache;
//! - [`format`]: every on-disk encoding, with decoders that are safe on any input (fuzzed);
//! - `iter`: k-way merge and the snapshot iterator; `files`: file naming.
//!
//! Invariants worth knowing: no write is acknowledged before its WAL record is synced (with
//! [`Options::sync`]); no table is named by a manifest before it is synced; no file named by
//! the live manifest is ever deleted; no write is accepted after a failed write or fsync
//! ([`Error::Poisoned`]). All I/O goes through [`aurum_vfs::Vfs`].
//! See docs/kv-design.md and docs/kv-format.md.

mod batch;
mod block;
mod cache;
mod db;
mod error;
mod files;
pub mod format;
mod iter;
mod memtable;
mod range;
mod sstable;
mod wal;

pub use batch::WriteBatch;
pub use db::{Db, Options, Snapshot, Stats};
pub use error::Error;
pub use iter::Iter;
pub use range::KeyRange;

/// Largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 16 * 1024;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;
/// Largest write batch, in encoded bytes (keys + values + 9 bytes of framing per op). Also the
/// most a commit group writes to the WAL in one go.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
/// Most ops in one write batch.
pub const MAX_BATCH_OPS: usize = 1 << 20;

#[cfg(test)]
mod static_checks {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_handles_are_send_and_sync() {
        assert_send_sync::<crate::Db>();
        assert_send_sync::<crate::Snapshot>();
        fn assert_send<T: Send>() {}
        assert_send::<crate::Iter>();
    }
}
