//! The write-ahead log: one file per memtable generation, each write batch one CRC-protected
//! record. Appends are positional; durability comes from [`Wal::sync`], which the commit leader
//! calls once per group of batches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aurum_vfs::{File, OpenMode, Vfs};

use crate::Error;
use crate::files::wal_path;
use crate::format::{self, WalRecord};

/// An open WAL file being appended to.
#[derive(Debug)]
pub(crate) struct Wal {
    pub(crate) number: u64,
    path: PathBuf,
    file: Arc<dyn File>,
    /// Bytes of complete records; the next record goes here.
    len: u64,
}

impl Wal {
    /// Create WAL `number` (it must not exist) and make its directory entry durable.
    pub(crate) fn create(vfs: &dyn Vfs, dir: &Path, number: u64) -> Result<Wal, Error> {
        let path = wal_path(dir, number);
        let file = vfs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| Error::io(format!("creating WAL {}", path.display()), e))?;
        vfs.sync_dir(dir).map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))?;
        Ok(Wal { number, path, file, len: 0 })
    }

    /// Read WAL `number`, cut off a torn tail (a record that fails its CRC or is incomplete, and
    /// everything after it — never acknowledged when writes sync), and open it for appending.
    /// A bad record followed by a good one is corruption, not a torn write: an error.
    pub(crate) fn recover(vfs: &dyn Vfs, dir: &Path, number: u64) -> Result<(Wal, Vec<WalRecord>), Error> {
        let path = wal_path(dir, number);
        let ctx = |what: &str| format!("{what} WAL {}", path.display());
        let file = vfs.open(&path, OpenMode::ReadWriteCreate).map_err(|e| Error::io(ctx("opening"), e))?;
        let data = file.read_all().map_err(|e| Error::io(ctx("reading"), e))?;
        let scan = format::scan_wal(&data);
        if let Some(err) = &scan.tail_error {
            if scan.valid_record_after_error {
                return Err(Error::Corrupt {
                    file: path.clone(),
                    offset: err.offset,
                    reason: format!("{} (followed by valid records, so not a torn write)", err.reason),
                });
            }
            file.truncate(scan.valid_bytes).map_err(|e| Error::io(ctx("truncating the torn tail of"), e))?;
        }
        // Sync even without a torn tail: records whose fsync failed before a restart may sit in
        // the page cache; once replayed (and visible) they must not vanish in a later crash.
        file.sync().map_err(|e| Error::io(ctx("syncing"), e))?;
        Ok((Wal { number, path, file, len: scan.valid_bytes }, scan.records))
    }

    /// Append encoded records. Not durable until [`Wal::sync`].
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.file
            .write_at(bytes, self.len)
            .map_err(|e| Error::io(format!("appending to WAL {}", self.path.display()), e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Make every appended record durable.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        self.file.sync().map_err(|e| Error::io(format!("syncing WAL {}", self.path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{BatchOp, encode_wal_record};
    use aurum_vfs::{CrashMode, SimVfs};

    #[test]
    fn recovery_truncates_a_torn_tail_and_appends_after_it() {
        let sim = SimVfs::new(3);
        let dir = Path::new("/db");
        sim.create_dir_all(dir).unwrap();
        let mut wal = Wal::create(&sim, dir, 1).unwrap();
        let op = vec![BatchOp { key: b"k".to_vec(), value: Some(b"v".to_vec()) }];
        let mut rec = Vec::new();
        encode_wal_record(1, &op, &mut rec);
        wal.append(&rec).unwrap();
        wal.sync().unwrap();
        wal.append(&rec[..rec.len() - 2]).unwrap(); // a torn second record, never synced
        drop(wal);
        let (mut wal, records) = Wal::recover(&sim, dir, 1).unwrap();
        assert_eq!(records.len(), 1);
        let mut rec2 = Vec::new();
        encode_wal_record(2, &op, &mut rec2);
        wal.append(&rec2).unwrap();
        wal.sync().unwrap();
        sim.crash(CrashMode::LoseUnsynced);
        let (_, records) = Wal::recover(&sim, dir, 1).unwrap();
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn mid_file_corruption_is_an_error_not_a_silent_truncation() {
        let sim = SimVfs::new(4);
        let dir = Path::new("/db");
        sim.create_dir_all(dir).unwrap();
        let mut wal = Wal::create(&sim, dir, 1).unwrap();
        let op = vec![BatchOp { key: b"k".to_vec(), value: Some(b"v".to_vec()) }];
        let mut rec = Vec::new();
        encode_wal_record(1, &op, &mut rec);
        encode_wal_record(2, &op, &mut rec);
        wal.append(&rec).unwrap();
        wal.sync().unwrap();
        drop(wal);
        sim.corrupt_byte(&wal_path(dir, 1), 12, 0x80).unwrap();
        assert!(matches!(Wal::recover(&sim, dir, 1), Err(Error::Corrupt { .. })));
    }
}
