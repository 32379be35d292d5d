//! One segment of a partition: a file of record batches plus its sparse indexes.
//!
//! Files: `<base_offset:020>.log`, `.index`, `.timeindex`. Only the last segment of a partition is
//! ever appended to; the others are sealed (data and indexes synced) and immutable, except that
//! compaction may atomically replace a sealed segment's file with a cleaned copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aurum_vfs::{File, OpenMode, Vfs};
use parking_lot::RwLock;

use crate::error::{Error, IoContext, Result};
use crate::index::{self, OffsetEntry, TimeEntry};
use crate::record::{self, BATCH_HEADER_BYTES, BatchHeader, Record};

/// Suffix of segment data files.
pub const LOG_SUFFIX: &str = ".log";
/// Suffix of offset index files.
pub const INDEX_SUFFIX: &str = ".index";
/// Suffix of time index files.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Bytes read at once when serving fetches.
const READ_CHUNK_BYTES: usize = 256 << 10;

/// The file name stem of a segment.
pub fn segment_stem(base_offset: u64) -> String {
    format!("{base_offset:020}")
}

/// Parse a segment data file name back to its base offset.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(LOG_SUFFIX)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[derive(Debug)]
struct SegmentState {
    size: u64,
    next_offset: u64,
    max_timestamp_ms: Option<i64>,
    offset_index: Vec<OffsetEntry>,
    time_index: Vec<TimeEntry>,
    bytes_since_index_entry: u64,
    created_ms: i64,
}

/// A segment file and its in-memory indexes.
#[derive(Debug)]
pub struct Segment {
    /// Offset of the first record this segment may hold (its file name).
    pub base_offset: u64,
    dir: PathBuf,
    file: Arc<dyn File>,
    index_interval_bytes: u64,
    state: RwLock<SegmentState>,
}

/// What recovery did to a segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from a torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Why the tail was cut.
    pub reason: Option<String>,
    /// Where the cut bytes were kept, when they held a valid batch after the bad one (corruption
    /// or out-of-order writeback rather than a torn write): evidence for an investigation.
    pub preserved: Option<PathBuf>,
    /// Byte position of the first bad batch.
    pub cut_at: u64,
}

impl Segment {
    fn path(dir: &Path, base: u64, suffix: &str) -> PathBuf {
        dir.join(format!("{}{suffix}", segment_stem(base)))
    }

    /// Path of the data file.
    pub fn log_path(&self) -> PathBuf {
        Self::path(&self.dir, self.base_offset, LOG_SUFFIX)
    }

    /// Create a new, empty segment.
    pub fn create(
        vfs: &dyn Vfs,
        dir: &Path,
        base_offset: u64,
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> Result<Segment> {
        let path = Self::path(dir, base_offset, LOG_SUFFIX);
        let file = vfs.open(&path, OpenMode::CreateNew).ctx(|| format!("create segment {}", path.display()))?;
        vfs.sync_dir(dir).ctx(|| format!("sync directory {}", dir.display()))?;
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            file,
            index_interval_bytes,
            state: RwLock::new(SegmentState {
                size: 0,
                next_offset: base_offset,
                max_timestamp_ms: None,
                offset_index: Vec::new(),
                time_index: Vec::new(),
                bytes_since_index_entry: 0,
                created_ms: now_ms,
            }),
        })
    }

    /// Open the active (last) segment: scan every batch, cut a torn or corrupt tail, rebuild the
    /// indexes. Acknowledged data is never cut: it was synced, so it scans clean.
    pub fn recover_active(
        vfs: &dyn Vfs,
        dir: &Path,
        base_offset: u64,
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> Result<(Segment, Recovery)> {
        let path = Self::path(dir, base_offset, LOG_SUFFIX);
        let file = vfs.open(&path, OpenMode::ReadWriteCreate).ctx(|| format!("open segment {}", path.display()))?;
        let bytes = file.read_all().ctx(|| format!("read segment {}", path.display()))?;
        let scan = record::scan_batches(&bytes, base_offset);
        let mut recovery = Recovery::default();
        if scan.valid_bytes < bytes.len() as u64 {
            recovery.truncated_bytes = bytes.len() as u64 - scan.valid_bytes;
            recovery.reason = scan.stopped.map(|e| e.0);
            recovery.cut_at = scan.valid_bytes;
            // A torn write leaves garbage only at the very end. A valid batch after the bad one
            // means damage inside written data: the tail is still cut (nothing after a hole can be
            // served in order), but the cut bytes are kept beside the segment as evidence, and
            // whoever acknowledged records there (the ledger's head anchor) notices they are gone.
            let cut = &bytes[scan.valid_bytes as usize..];
            if record::find_valid_batch(cut).is_some() {
                let kept = dir.join(format!("{}{LOG_SUFFIX}.cut-{}", segment_stem(base_offset), scan.valid_bytes));
                let f = vfs.open(&kept, OpenMode::ReadWriteCreate).ctx(|| format!("create {}", kept.display()))?;
                f.truncate(0).ctx(|| format!("truncate {}", kept.display()))?;
                f.write_at(cut, 0).ctx(|| format!("write {}", kept.display()))?;
                f.sync().ctx(|| format!("sync {}", kept.display()))?;
                vfs.sync_dir(dir).ctx(|| format!("sync directory {}", dir.display()))?;
                recovery.preserved = Some(kept);
            }
            file.truncate(scan.valid_bytes).ctx(|| format!("truncate {}", path.display()))?;
        }
        // What recovery found may sit only in the page cache (a previous process wrote it and
        // died before its fsync): make it durable before serving it, or readers could see
        // records that a power loss later takes back.
        file.sync().ctx(|| format!("sync {}", path.display()))?;
        let seg = Segment::from_scan(dir, base_offset, file, index_interval_bytes, &scan.batches, now_ms);
        seg.state.write().size = scan.valid_bytes;
        Ok((seg, recovery))
    }

    /// Open a sealed segment whose successor starts at `next_offset`, trusting its index files
    /// when they validate and rebuilding them otherwise.
    pub fn open_sealed(
        vfs: &dyn Vfs,
        dir: &Path,
        base_offset: u64,
        next_offset: u64,
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> Result<Segment> {
        let path = Self::path(dir, base_offset, LOG_SUFFIX);
        let file = vfs.open(&path, OpenMode::Read).ctx(|| format!("open segment {}", path.display()))?;
        let size = file.len().ctx(|| format!("stat {}", path.display()))?;
        if let Some(seg) =
            Self::load_indexes(vfs, dir, base_offset, &file, size, next_offset, index_interval_bytes, now_ms)
        {
            return Ok(seg);
        }
        let bytes = file.read_all().ctx(|| format!("read segment {}", path.display()))?;
        let scan = record::scan_batches(&bytes, base_offset);
        let seg = Segment::from_scan(dir, base_offset, file, index_interval_bytes, &scan.batches, now_ms);
        {
            let mut st = seg.state.write();
            st.size = size;
            st.next_offset = st.next_offset.max(next_offset);
        }
        seg.write_indexes(vfs)?;
        Ok(seg)
    }

    #[allow(clippy::too_many_arguments)]
    fn load_indexes(
        vfs: &dyn Vfs,
        dir: &Path,
        base_offset: u64,
        file: &Arc<dyn File>,
        size: u64,
        next_offset: u64,
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> Option<Segment> {
        let read = |suffix| -> Option<Vec<u8>> {
            let f = vfs.open(&Self::path(dir, base_offset, suffix), OpenMode::Read).ok()?;
            f.read_all().ok()
        };
        let offset_index = index::decode_offset_index(&read(INDEX_SUFFIX)?).ok()?;
        let time_index = index::decode_time_index(&read(TIME_INDEX_SUFFIX)?).ok()?;
        // An index must describe this very file: its last entry must point at a valid batch
        // header with the expected base offset (compaction replaces files under old indexes only
        // after deleting those indexes, so a mismatch means damage, and we rebuild).
        if let Some(last) = offset_index.last() {
            let mut hdr = [0u8; BATCH_HEADER_BYTES];
            file.read_exact_at(&mut hdr, u64::from(last.position)).ok()?;
            let h = record::decode_batch_header(&hdr).ok()?;
            if h.base_offset != base_offset + u64::from(last.relative_offset) {
                return None;
            }
        } else if size > 0 {
            return None;
        }
        let max_timestamp_ms = time_index.last().map(|e| e.timestamp_ms);
        Some(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            file: file.clone(),
            index_interval_bytes,
            state: RwLock::new(SegmentState {
                size,
                next_offset,
                max_timestamp_ms,
                offset_index,
                time_index,
                bytes_since_index_entry: 0,
                created_ms: now_ms,
            }),
        })
    }

    fn from_scan(
        dir: &Path,
        base_offset: u64,
        file: Arc<dyn File>,
        index_interval_bytes: u64,
        batches: &[(u64, BatchHeader)],
        now_ms: i64,
    ) -> Segment {
        let seg = Segment {
            base_offset,
            dir: dir.to_path_buf(),
            file,
            index_interval_bytes,
            state: RwLock::new(SegmentState {
                size: 0,
                next_offset: base_offset,
                max_timestamp_ms: None,
                offset_index: Vec::new(),
                time_index: Vec::new(),
                bytes_since_index_entry: 0,
                created_ms: now_ms,
            }),
        };
        {
            let mut st = seg.state.write();
            for (pos, h) in batches {
                Self::index_batch(&mut st, base_offset, index_interval_bytes, *pos, h);
            }
        }
        seg
    }

    fn index_batch(st: &mut SegmentState, base_offset: u64, index_interval_bytes: u64, pos: u64, h: &BatchHeader) {
        let rel = u32::try_from(h.base_offset - base_offset).expect("relative offset fits u32");
        let pos32 = u32::try_from(pos).expect("segment position fits u32");
        if st.offset_index.is_empty() || st.bytes_since_index_entry >= index_interval_bytes {
            st.offset_index.push(OffsetEntry { relative_offset: rel, position: pos32 });
            st.bytes_since_index_entry = 0;
        }
        st.bytes_since_index_entry += h.total_bytes() as u64;
        let running_max = st.max_timestamp_ms.map_or(h.max_timestamp_ms, |m| m.max(h.max_timestamp_ms));
        if st.time_index.last().is_none_or(|e| running_max > e.timestamp_ms) {
            // Point time lookups at an indexed batch so positions are cheap to find.
            let indexed_rel = st.offset_index.last().map_or(rel, |e| e.relative_offset);
            if st.time_index.last().is_none_or(|e| indexed_rel > e.relative_offset) {
                st.time_index.push(TimeEntry { timestamp_ms: running_max, relative_offset: indexed_rel });
            } else if let Some(last) = st.time_index.last_mut() {
                last.timestamp_ms = running_max;
            }
        }
        st.max_timestamp_ms = Some(running_max);
        st.next_offset = h.next_offset();
        st.size = pos + h.total_bytes() as u64;
    }

    /// Append one encoded, validated batch at the end of the file. Not durable until [`sync`].
    ///
    /// [`sync`]: Segment::sync
    pub fn append(&self, batch: &[u8], header: &BatchHeader) -> Result<()> {
        let mut st = self.state.write();
        assert!(header.base_offset >= st.next_offset, "offsets only go forward in a segment");
        let pos = st.size;
        self.file.write_at(batch, pos).ctx(|| format!("append to {}", self.log_path().display()))?;
        Self::index_batch(&mut st, self.base_offset, self.index_interval_bytes, pos, header);
        Ok(())
    }

    /// Make the segment's data durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync().ctx(|| format!("fsync {}", self.log_path().display()))
    }

    /// Write both index files atomically and durably (on seal, and after rebuilding).
    pub fn write_indexes(&self, vfs: &dyn Vfs) -> Result<()> {
        let (oi, ti) = {
            let st = self.state.read();
            (index::encode_offset_index(&st.offset_index), index::encode_time_index(&st.time_index))
        };
        for (suffix, bytes) in [(INDEX_SUFFIX, oi), (TIME_INDEX_SUFFIX, ti)] {
            let p = Self::path(&self.dir, self.base_offset, suffix);
            aurum_vfs::write_atomic(vfs, &p, &bytes).ctx(|| format!("write index {}", p.display()))?;
        }
        Ok(())
    }

    /// Remove this segment's index files (before its data file is replaced).
    pub fn remove_indexes(&self, vfs: &dyn Vfs) -> Result<()> {
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let p = Self::path(&self.dir, self.base_offset, suffix);
            if vfs.exists(&p).ctx(|| format!("stat {}", p.display()))? {
                vfs.remove_file(&p).ctx(|| format!("remove {}", p.display()))?;
            }
        }
        vfs.sync_dir(&self.dir).ctx(|| format!("sync directory {}", self.dir.display()))
    }

    /// Delete the segment's files.
    pub fn delete_files(&self, vfs: &dyn Vfs) -> Result<()> {
        self.remove_indexes(vfs)?;
        let p = self.log_path();
        vfs.remove_file(&p).ctx(|| format!("remove {}", p.display()))?;
        vfs.sync_dir(&self.dir).ctx(|| format!("sync directory {}", self.dir.display()))
    }

    /// Bytes in the file.
    pub fn size(&self) -> u64 {
        self.state.read().size
    }

    /// Offset after the last record appended.
    pub fn next_offset(&self) -> u64 {
        self.state.read().next_offset
    }

    /// Largest record timestamp, if any record was appended.
    pub fn max_timestamp_ms(&self) -> Option<i64> {
        self.state.read().max_timestamp_ms
    }

    /// Wall time the segment was created (or opened), for time-based rolling.
    pub fn created_ms(&self) -> i64 {
        self.state.read().created_ms
    }

    /// Where to start scanning for the first record with timestamp >= `timestamp_ms`.
    pub fn time_lookup_offset(&self, timestamp_ms: i64) -> u64 {
        let st = self.state.read();
        self.base_offset + u64::from(index::lookup_time(&st.time_index, timestamp_ms))
    }

    /// Records with offset >= `from_offset`, reading batches that end at or before byte `limit`,
    /// stopping once `max_bytes` of batches have been returned (but always returning at least one
    /// batch's worth when there is one). Returns the records and the bytes consumed.
    pub fn read(&self, from_offset: u64, max_bytes: usize, limit: u64) -> Result<(Vec<Record>, usize)> {
        let start = {
            let st = self.state.read();
            let rel = from_offset.saturating_sub(self.base_offset).min(u64::from(u32::MAX)) as u32;
            u64::from(index::lookup_position(&st.offset_index, rel))
        };
        let mut records = Vec::new();
        let mut consumed = 0usize;
        let mut pos = start;
        let mut buf = Vec::new();
        while pos < limit && (consumed < max_bytes || records.is_empty()) {
            let want = ((limit - pos) as usize).min(READ_CHUNK_BYTES.max(max_bytes.saturating_sub(consumed)));
            buf.resize(want, 0);
            self.file.read_exact_at(&mut buf, pos).map_err(|e| self.corrupt(pos, format!("read failed: {e}")))?;
            let mut at = 0usize;
            while at < buf.len() {
                let rest = &buf[at..];
                if rest.len() < BATCH_HEADER_BYTES {
                    break;
                }
                let h = record::decode_batch_header(rest).map_err(|e| self.corrupt(pos + at as u64, e.0))?;
                if pos + (at + h.total_bytes()) as u64 > limit {
                    return Err(self.corrupt(pos + at as u64, "batch runs past the readable end".into()));
                }
                if h.total_bytes() > rest.len() {
                    if at == 0 {
                        // A batch larger than the chunk: read exactly it.
                        buf.resize(h.total_bytes(), 0);
                        self.file
                            .read_exact_at(&mut buf, pos)
                            .map_err(|e| self.corrupt(pos, format!("read failed: {e}")))?;
                        continue;
                    }
                    break;
                }
                let n = h.total_bytes();
                if h.next_offset() > from_offset {
                    let (_, recs) = record::decode_batch(&rest[..n]).map_err(|e| self.corrupt(pos + at as u64, e.0))?;
                    records.extend(recs.into_iter().filter(|r| r.offset >= from_offset));
                    consumed += n;
                }
                at += n;
                if consumed >= max_bytes && !records.is_empty() {
                    break;
                }
            }
            if at == 0 {
                return Err(self.corrupt(pos, "partial batch header before the readable end".into()));
            }
            pos += at as u64;
        }
        Ok((records, consumed))
    }

    fn corrupt(&self, offset: u64, reason: String) -> Error {
        Error::Corrupt { file: self.log_path(), offset, reason }
    }

    /// Every record in the segment up to byte `limit` (for compaction).
    pub fn read_all(&self, limit: u64) -> Result<Vec<Record>> {
        let (records, _) = self.read(self.base_offset, usize::MAX, limit)?;
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(parse_segment_name(&format!("{}{LOG_SUFFIX}", segment_stem(42))), Some(42));
        assert_eq!(parse_segment_name("42.log"), None);
        assert_eq!(parse_segment_name("00000000000000000042.index"), None);
    }
}
