//! SSTables on disk: writing one from sorted entries, and reading one (point lookups through
//! the bloom filter and index, ordered iteration). Every block is CRC-checked on every read,
//! so a damaged block yields [`Error::Corrupt`], never wrong data.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aurum_vfs::{File, OpenMode, Vfs};

use crate::Error;
use crate::files::table_path;
use crate::format::{
    self, Bloom, DecodeError, Entry, FOOTER_BYTES, IndexEntry, TableBuilder, block_entries, cmp_internal,
};

/// Drain the table builder to disk whenever this many bytes of finished blocks are pending.
const WRITE_CHUNK_BYTES: usize = 1 << 20;

/// An open, immutable SSTable. Shared through `Arc` by the live version and by snapshots; once
/// compaction has replaced it, the last holder to drop it deletes the file, so a snapshot can
/// keep reading a table that is no longer live.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) number: u64,
    path: PathBuf,
    file: Arc<dyn File>,
    index: Vec<IndexEntry>,
    bloom: Bloom,
    pub(crate) file_bytes: u64,
    vfs: Arc<dyn Vfs>,
    obsolete: AtomicBool,
}

fn corrupt(path: &Path, base: u64, e: DecodeError) -> Error {
    Error::Corrupt { file: path.to_path_buf(), offset: base.saturating_add(e.offset), reason: e.reason }
}

impl Table {
    /// Open table `number` in `dir`, reading and checking its footer, index and bloom filter.
    pub(crate) fn open(vfs: &Arc<dyn Vfs>, dir: &Path, number: u64) -> Result<Table, Error> {
        let path = table_path(dir, number);
        let ctx = |what: &str| format!("{what} table {}", path.display());
        let file = vfs.open(&path, OpenMode::Read).map_err(|e| Error::io(ctx("opening"), e))?;
        let file_bytes = file.len().map_err(|e| Error::io(ctx("sizing"), e))?;
        if file_bytes < FOOTER_BYTES as u64 {
            return Err(corrupt(&path, 0, DecodeError { offset: 0, reason: "too short for a footer".into() }));
        }
        let footer_at = file_bytes - FOOTER_BYTES as u64;
        let mut tail = vec![0u8; FOOTER_BYTES];
        file.read_exact_at(&mut tail, footer_at).map_err(|e| Error::io(ctx("reading the footer of"), e))?;
        let footer = format::decode_footer(&tail, file_bytes).map_err(|e| corrupt(&path, footer_at, e))?;
        let mut index_bytes = vec![0u8; footer.index_len as usize];
        file.read_exact_at(&mut index_bytes, footer.index_offset)
            .map_err(|e| Error::io(ctx("reading the index of"), e))?;
        let index = format::decode_index(&index_bytes, footer.index_offset)
            .map_err(|e| corrupt(&path, footer.index_offset, e))?;
        let mut bloom_bytes = vec![0u8; footer.bloom_len as usize];
        file.read_exact_at(&mut bloom_bytes, footer.bloom_offset)
            .map_err(|e| Error::io(ctx("reading the bloom filter of"), e))?;
        let bloom = Bloom::decode(&bloom_bytes).map_err(|e| corrupt(&path, footer.bloom_offset, e))?;
        Ok(Table { number, path, file, index, bloom, file_bytes, vfs: vfs.clone(), obsolete: AtomicBool::new(false) })
    }

    /// Delete the file once the last reference is dropped (it has left the live version).
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    fn read_block(&self, i: usize) -> Result<Vec<u8>, Error> {
        let ie = &self.index[i];
        let mut buf = vec![0u8; ie.len as usize];
        self.file
            .read_exact_at(&mut buf, ie.offset)
            .map_err(|e| Error::io(format!("reading block at offset {} of {}", ie.offset, self.path.display()), e))?;
        Ok(buf)
    }

    /// The newest version of `key` with seq <= `snapshot_seq`: `Some(None)` is a tombstone.
    pub(crate) fn get(&self, key: &[u8], snapshot_seq: u64) -> Result<Option<Option<Vec<u8>>>, Error> {
        if !self.bloom.may_contain(key) {
            return Ok(None);
        }
        // The first block whose last internal key is >= (key, snapshot_seq) holds the first
        // entry >= it, which is the newest visible version of `key` if there is one.
        let i = self.index.partition_point(|ie| {
            cmp_internal(&ie.last_key, ie.last_seq, key, snapshot_seq) == std::cmp::Ordering::Less
        });
        if i == self.index.len() {
            return Ok(None);
        }
        let block = self.read_block(i)?;
        let base = self.index[i].offset;
        for e in block_entries(&block).map_err(|e| corrupt(&self.path, base, e))? {
            let e = e.map_err(|e| corrupt(&self.path, base, e))?;
            if cmp_internal(e.key, e.seq, key, snapshot_seq) != std::cmp::Ordering::Less {
                return Ok((e.key == key).then(|| e.value.map(<[u8]>::to_vec)));
            }
        }
        // The index promised an entry >= the probe in this block; its absence is corruption.
        Err(corrupt(&self.path, base, DecodeError { offset: 0, reason: "block does not match its index entry".into() }))
    }

    fn decode_block_at(&self, i: usize) -> Result<Vec<Entry>, Error> {
        let block = self.read_block(i)?;
        let base = self.index[i].offset;
        let entries = format::decode_block(&block).map_err(|e| corrupt(&self.path, base, e))?;
        let last = entries.last().expect("decode_block rejects empty blocks");
        if last.key != self.index[i].last_key || last.seq != self.index[i].last_seq {
            return Err(corrupt(
                &self.path,
                base,
                DecodeError { offset: 0, reason: "block does not match its index entry".into() },
            ));
        }
        Ok(entries)
    }

    /// Iterate every version whose user key is at or after `start`, in internal-key order.
    pub(crate) fn iter(self: &Arc<Self>, start: Bound<&[u8]>) -> TableIter {
        let first_block = match start {
            Bound::Unbounded => 0,
            Bound::Included(k) | Bound::Excluded(k) => self.index.partition_point(|ie| ie.last_key.as_slice() < k),
        };
        TableIter {
            table: self.clone(),
            next_block: first_block,
            block: Vec::new().into_iter(),
            start: match start {
                Bound::Included(k) => Bound::Included(k.to_vec()),
                Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
                Bound::Unbounded => Bound::Unbounded,
            },
            failed: false,
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // Best effort: a file that survives (crash, I/O error) is an orphan, deleted on open.
            let _ = self.vfs.remove_file(&self.path);
        }
    }
}

/// Ordered iterator over one table, loading one block at a time.
pub(crate) struct TableIter {
    table: Arc<Table>,
    next_block: usize,
    block: std::vec::IntoIter<Entry>,
    start: Bound<Vec<u8>>,
    failed: bool,
}

impl Iterator for TableIter {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(e) = self.block.next() {
                let before_start = match &self.start {
                    Bound::Included(s) => e.key < *s,
                    Bound::Excluded(s) => e.key <= *s,
                    Bound::Unbounded => false,
                };
                if before_start {
                    continue;
                }
                self.start = Bound::Unbounded;
                return Some(Ok(e));
            }
            if self.next_block >= self.table.index.len() {
                return None;
            }
            match self.table.decode_block_at(self.next_block) {
                Ok(entries) => self.block = entries.into_iter(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
            self.next_block += 1;
        }
    }
}

/// Write table `number` from entries in ascending internal-key order, sync it and its
/// directory, and open it. Returns `None` (and leaves no file) if there were no entries.
pub(crate) fn write_table(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    number: u64,
    entries: impl Iterator<Item = Result<Entry, Error>>,
    block_bytes: usize,
    bloom_bits_per_key: usize,
) -> Result<Option<Table>, Error> {
    let path = table_path(dir, number);
    let ctx = |what: &str| format!("{what} table {}", path.display());
    let file = vfs.open(&path, OpenMode::CreateNew).map_err(|e| Error::io(ctx("creating"), e))?;
    let mut builder = TableBuilder::new(block_bytes, bloom_bits_per_key);
    let mut offset = 0u64;
    let write = |bytes: Vec<u8>, offset: &mut u64| -> Result<(), Error> {
        file.write_at(&bytes, *offset).map_err(|e| Error::io(ctx("writing"), e))?;
        *offset += bytes.len() as u64;
        Ok(())
    };
    for e in entries {
        let e = e?;
        builder.add(&e.key, e.seq, e.value.as_deref());
        if builder.ready_bytes() >= WRITE_CHUNK_BYTES {
            write(builder.take_ready(), &mut offset)?;
        }
    }
    if builder.entry_count() == 0 {
        drop(file);
        vfs.remove_file(&path).map_err(|e| Error::io(ctx("removing empty"), e))?;
        return Ok(None);
    }
    let rest = builder.take_ready();
    write(rest, &mut offset)?;
    write(builder.finish(), &mut offset)?;
    file.sync().map_err(|e| Error::io(ctx("syncing"), e))?;
    vfs.sync_dir(dir).map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))?;
    drop(file);
    Table::open(vfs, dir, number).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurum_vfs::SimVfs;

    fn setup(n: u32) -> (SimVfs, Arc<dyn Vfs>, Arc<Table>) {
        let sim = SimVfs::new(1);
        let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        vfs.create_dir_all(dir).unwrap();
        let entries = (0..n).map(|i| {
            Ok(Entry {
                key: format!("k{:05}", i / 2).into_bytes(),
                seq: u64::from(1000 - i),
                value: (i % 5 != 4).then(|| format!("v{i}").into_bytes()),
            })
        });
        // Keys k00000 (seq 1000, 999), k00001 (998, 997), ...: two versions per key.
        let t = write_table(&vfs, dir, 3, entries, 128, 10).unwrap().unwrap();
        (sim, vfs, Arc::new(t))
    }

    #[test]
    fn point_lookups_respect_snapshots_and_tombstones() {
        let (_sim, _vfs, t) = setup(200);
        assert_eq!(t.get(b"k00000", u64::MAX).unwrap(), Some(Some(b"v0".to_vec())));
        assert_eq!(t.get(b"k00000", 999).unwrap(), Some(Some(b"v1".to_vec())));
        assert_eq!(t.get(b"k00000", 998).unwrap(), None);
        assert_eq!(t.get(b"k00002", u64::MAX).unwrap(), Some(None), "i = 4 is a tombstone");
        assert_eq!(t.get(b"k00002", 995).unwrap(), Some(Some(b"v5".to_vec())));
        assert_eq!(t.get(b"zzz", u64::MAX).unwrap(), None);
        let all: Vec<Entry> = t.iter(Bound::Unbounded).map(Result::unwrap).collect();
        assert_eq!(all.len(), 200);
        let from: Vec<Entry> = t.iter(Bound::Excluded(b"k00050")).map(Result::unwrap).collect();
        assert_eq!(from.first().unwrap().key, b"k00051");
    }

    #[test]
    fn a_flipped_byte_yields_corrupt_not_wrong_data() {
        let (sim, _vfs, t) = setup(200);
        let path = table_path(Path::new("/db"), 3);
        sim.corrupt_byte(&path, 10, 0x04).unwrap();
        assert!(matches!(t.get(b"k00000", u64::MAX), Err(Error::Corrupt { .. })));
        assert!(t.iter(Bound::Unbounded).any(|r| matches!(r, Err(Error::Corrupt { .. }))));
    }

    #[test]
    fn obsolete_tables_delete_their_file_when_the_last_reference_drops() {
        let (sim, _vfs, t) = setup(10);
        let path = table_path(Path::new("/db"), 3);
        let held = t.clone();
        t.mark_obsolete();
        drop(t);
        assert!(sim.file_paths().contains(&path));
        drop(held);
        assert!(!sim.file_paths().contains(&path));
    }
}
