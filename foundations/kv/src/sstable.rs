//! SSTables on disk: writing one from sorted entries, and reading one (point lookups through
//! the bloom filter, the in-memory index and a binary search of one block; ordered iteration).
//! Every block is CRC-checked when it is read from the file, before it can enter the block
//! cache, so a damaged block yields [`Error::Corrupt`], never wrong data.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aurum_vfs::{File, OpenMode, Vfs};

use crate::Error;
use crate::block::{Block, key_prefix};
use crate::cache::BlockCache;
use crate::files::table_path;
use crate::format::{self, Bloom, DecodeError, Entry, FOOTER_BYTES, IndexEntry, TableBuilder, cmp_internal};

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
    /// `key_prefix` of each index entry's key: lookups search these first (see `key_prefix`).
    index_prefixes: Vec<u64>,
    bloom: Bloom,
    pub(crate) file_bytes: u64,
    vfs: Arc<dyn Vfs>,
    cache: Arc<BlockCache>,
    obsolete: AtomicBool,
}

fn corrupt(path: &Path, base: u64, e: DecodeError) -> Error {
    Error::Corrupt { file: path.to_path_buf(), offset: base.saturating_add(e.offset), reason: e.reason }
}

impl Table {
    /// Open table `number` in `dir`, reading and checking its footer, index and bloom filter.
    /// Its data blocks are read on demand through `cache`.
    pub(crate) fn open(vfs: &Arc<dyn Vfs>, dir: &Path, number: u64, cache: &Arc<BlockCache>) -> Result<Table, Error> {
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
        Ok(Table {
            number,
            path,
            file,
            index_prefixes: index.iter().map(|ie| key_prefix(&ie.last_key)).collect(),
            index,
            bloom,
            file_bytes,
            vfs: vfs.clone(),
            cache: cache.clone(),
            obsolete: AtomicBool::new(false),
        })
    }

    /// Delete the file once the last reference is dropped (it has left the live version).
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    /// The first index entry for which `before` is false, where `before` must hold exactly for
    /// the entries below some point at or around `key`: entries whose key prefix is below
    /// `key`'s are before it, those whose prefix is above are not, and `before` decides among
    /// the entries sharing the prefix. The prefixes are one contiguous array, so most of the
    /// search touches no key bytes.
    fn index_partition(&self, key: &[u8], before: impl Fn(&IndexEntry) -> bool) -> usize {
        let prefix = key_prefix(key);
        let lo = self.index_prefixes.partition_point(|&p| p < prefix);
        let hi = lo + self.index_prefixes[lo..].partition_point(|&p| p == prefix);
        lo + self.index[lo..hi].partition_point(before)
    }

    /// Data block `i`, from the cache or else read from the file and verified: its CRC and
    /// structure, and that its last entry is the one the index names. Only a verified block is
    /// cached (and only if `fill_cache`), so the cache never holds a corrupt block.
    fn block(&self, i: usize, fill_cache: bool) -> Result<Arc<Block>, Error> {
        let ie = &self.index[i];
        let key = (self.number, ie.offset);
        if let Some(block) = self.cache.get(key) {
            return Ok(block);
        }
        let mut buf = vec![0u8; ie.len as usize];
        self.file
            .read_exact_at(&mut buf, ie.offset)
            .map_err(|e| Error::io(format!("reading block at offset {} of {}", ie.offset, self.path.display()), e))?;
        let block = Block::decode(buf).map_err(|e| corrupt(&self.path, ie.offset, e))?;
        let last = block.last();
        if last.key != ie.last_key || last.seq != ie.last_seq {
            return Err(corrupt(
                &self.path,
                ie.offset,
                DecodeError { offset: 0, reason: "block does not match its index entry".into() },
            ));
        }
        let block = Arc::new(block);
        if fill_cache {
            self.cache.insert(key, block.clone());
        }
        Ok(block)
    }

    /// The newest version of `key` with seq <= `snapshot_seq`: `Some(None)` is a tombstone.
    pub(crate) fn get(&self, key: &[u8], snapshot_seq: u64) -> Result<Option<Option<Vec<u8>>>, Error> {
        if !self.bloom.may_contain(key) {
            return Ok(None);
        }
        // The first block whose last internal key is >= (key, snapshot_seq) holds the first
        // entry >= it, which is the newest visible version of `key` if there is one.
        let i = self.index_partition(key, |ie| {
            cmp_internal(&ie.last_key, ie.last_seq, key, snapshot_seq) == std::cmp::Ordering::Less
        });
        if i == self.index.len() {
            return Ok(None);
        }
        let block = self.block(i, true)?;
        // `block` checked that its last entry is the index entry, which is >= the probe, so
        // the seek lands on an entry of the block.
        let e = block.entry(block.seek(key, snapshot_seq));
        Ok((e.key == key).then(|| e.value.map(<[u8]>::to_vec)))
    }

    /// Iterate every version whose user key is at or after `start`, in internal-key order.
    /// Blocks it reads enter the cache only if `fill_cache`: compaction reads every block once
    /// and would otherwise push the blocks that readers use out of the cache.
    pub(crate) fn iter(self: &Arc<Self>, start: Bound<&[u8]>, fill_cache: bool) -> TableIter {
        let first_block = match start {
            Bound::Unbounded => 0,
            Bound::Included(k) | Bound::Excluded(k) => self.index_partition(k, |ie| ie.last_key.as_slice() < k),
        };
        TableIter {
            table: self.clone(),
            next_block: first_block,
            block: None,
            pos: 0,
            start: start.map(<[u8]>::to_vec),
            fill_cache,
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

/// Ordered iterator over one table, holding one block at a time and copying out only the
/// entries it yields.
pub(crate) struct TableIter {
    table: Arc<Table>,
    next_block: usize,
    block: Option<Arc<Block>>,
    /// Next entry of `block` to yield.
    pos: usize,
    /// Entries before this are skipped; `Unbounded` once an entry past it has been found.
    start: Bound<Vec<u8>>,
    fill_cache: bool,
    failed: bool,
}

impl Iterator for TableIter {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(block) = &self.block
                && self.pos < block.len()
            {
                self.pos += 1;
                return Some(Ok(block.to_entry(self.pos - 1)));
            }
            if self.next_block >= self.table.index.len() {
                return None;
            }
            match self.table.block(self.next_block, self.fill_cache) {
                Ok(block) => {
                    self.pos = block.seek_start(self.start.as_ref().map(Vec::as_slice));
                    if self.pos < block.len() {
                        // Everything after this entry is past the start. (A block with none
                        // past it can be followed by more versions of the start key itself.)
                        self.start = Bound::Unbounded;
                    }
                    self.block = Some(block);
                }
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
    cache: &Arc<BlockCache>,
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
    Table::open(vfs, dir, number, cache).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurum_vfs::SimVfs;

    fn setup(n: u32, cache_bytes: usize) -> (SimVfs, Arc<BlockCache>, Arc<Table>) {
        setup_with_keys(n, cache_bytes, "k")
    }

    /// Keys `{prefix}{i:05}` for i = 0..n/2, two versions each.
    fn setup_with_keys(n: u32, cache_bytes: usize, prefix: &str) -> (SimVfs, Arc<BlockCache>, Arc<Table>) {
        let sim = SimVfs::new(1);
        let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        vfs.create_dir_all(dir).unwrap();
        let entries = (0..n).map(|i| {
            Ok(Entry {
                key: format!("{prefix}{:05}", i / 2).into_bytes(),
                seq: u64::from(1000 - i),
                value: (i % 5 != 4).then(|| format!("v{i}").into_bytes()),
            })
        });
        // Keys k00000 (seq 1000, 999), k00001 (998, 997), ...: two versions per key.
        let cache = Arc::new(BlockCache::new(cache_bytes));
        let t = write_table(&vfs, dir, 3, entries, 128, 10, &cache).unwrap().unwrap();
        (sim, cache, Arc::new(t))
    }

    #[test]
    fn point_lookups_respect_snapshots_and_tombstones() {
        let (_sim, _cache, t) = setup(200, 1 << 20);
        assert_eq!(t.get(b"k00000", u64::MAX).unwrap(), Some(Some(b"v0".to_vec())));
        assert_eq!(t.get(b"k00000", 999).unwrap(), Some(Some(b"v1".to_vec())));
        assert_eq!(t.get(b"k00000", 998).unwrap(), None);
        assert_eq!(t.get(b"k00002", u64::MAX).unwrap(), Some(None), "i = 4 is a tombstone");
        assert_eq!(t.get(b"k00002", 995).unwrap(), Some(Some(b"v5".to_vec())));
        assert_eq!(t.get(b"zzz", u64::MAX).unwrap(), None);
        let all: Vec<Entry> = t.iter(Bound::Unbounded, true).map(Result::unwrap).collect();
        assert_eq!(all.len(), 200);
        let from: Vec<Entry> = t.iter(Bound::Excluded(b"k00050"), true).map(Result::unwrap).collect();
        assert_eq!(from.first().unwrap().key, b"k00051");
        // Every start key, including keys whose two versions straddle a block boundary.
        for k in 0..101u32 {
            let key = format!("k{k:05}").into_bytes();
            let incl: Vec<Entry> = t.iter(Bound::Included(&key), true).map(Result::unwrap).collect();
            let excl: Vec<Entry> = t.iter(Bound::Excluded(&key), true).map(Result::unwrap).collect();
            assert_eq!(incl, all.iter().filter(|e| e.key >= key).cloned().collect::<Vec<_>>(), "from k{k:05}");
            assert_eq!(excl, all.iter().filter(|e| e.key > key).cloned().collect::<Vec<_>>(), "after k{k:05}");
        }
    }

    #[test]
    fn point_lookups_agree_with_iteration_at_every_sequence_number() {
        // Once with a cache too small for the table, so lookups keep evicting and reloading;
        // once with keys longer than the 8-byte prefixes the searches compare first.
        for (cache_bytes, prefix) in [(0, "k"), (2048, "k"), (1 << 20, "k"), (2048, "a-long-shared-prefix/")] {
            let (_sim, cache, t) = setup_with_keys(200, cache_bytes, prefix);
            let all: Vec<Entry> = t.iter(Bound::Unbounded, true).map(Result::unwrap).collect();
            for snapshot_seq in (790..=1001).chain([u64::MAX]) {
                for k in 0..101u32 {
                    let key = format!("{prefix}{k:05}").into_bytes();
                    let want = all.iter().find(|e| e.key == key && e.seq <= snapshot_seq).map(|e| e.value.clone());
                    assert_eq!(t.get(&key, snapshot_seq).unwrap(), want, "{prefix}{k:05} at {snapshot_seq}");
                }
            }
            for k in 0..101u32 {
                let key = format!("{prefix}{k:05}").into_bytes();
                let from: Vec<Entry> = t.iter(Bound::Included(&key), true).map(Result::unwrap).collect();
                assert_eq!(from, all.iter().filter(|e| e.key >= key).cloned().collect::<Vec<_>>());
            }
            assert!(cache.bytes() <= cache_bytes);
        }
    }

    #[test]
    fn a_flipped_byte_yields_corrupt_not_wrong_data_and_never_enters_the_cache() {
        let (sim, cache, t) = setup(200, 1 << 20);
        let path = table_path(Path::new("/db"), 3);
        sim.corrupt_byte(&path, 10, 0x04).unwrap();
        for _ in 0..2 {
            assert!(matches!(t.get(b"k00000", u64::MAX), Err(Error::Corrupt { .. })));
        }
        assert_eq!(cache.bytes(), 0, "the corrupt block was not cached");
        assert_eq!(cache.misses(), 2, "the second read went back to the file");
        assert!(t.iter(Bound::Unbounded, true).any(|r| matches!(r, Err(Error::Corrupt { .. }))));
        assert!(matches!(t.get(b"k00000", u64::MAX), Err(Error::Corrupt { .. })));
        assert_eq!(t.get(b"k00090", u64::MAX).unwrap(), Some(Some(b"v180".to_vec())), "other blocks read fine");
        assert!(cache.bytes() > 0);
    }

    #[test]
    fn compaction_reads_do_not_fill_the_cache() {
        let (_sim, cache, t) = setup(200, 1 << 20);
        assert_eq!(t.iter(Bound::Unbounded, false).count(), 200);
        assert_eq!(cache.bytes(), 0);
        assert_eq!(t.iter(Bound::Unbounded, true).count(), 200);
        let filled = cache.bytes();
        assert!(filled > 0);
        assert_eq!(t.iter(Bound::Unbounded, true).count(), 200);
        assert_eq!(cache.bytes(), filled, "a second pass is served from the cache");
    }

    #[test]
    fn obsolete_tables_delete_their_file_when_the_last_reference_drops() {
        let (sim, _cache, t) = setup(10, 0);
        let path = table_path(Path::new("/db"), 3);
        let held = t.clone();
        t.mark_obsolete();
        drop(t);
        assert!(sim.file_paths().contains(&path));
        drop(held);
        assert!(!sim.file_paths().contains(&path));
    }
}
