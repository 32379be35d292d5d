//! The memtable: recent writes, ordered by internal key, readable at any sequence number.

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use parking_lot::RwLock;

use crate::block::key_prefix;
use crate::format::Entry;

/// Per-entry bookkeeping counted against the memtable size limit (map node, key prefix, seq,
/// lengths).
const ENTRY_OVERHEAD_BYTES: usize = 56;

/// An internal key: user key ascending, then sequence number descending, so the newest version
/// of a key comes first and a lookup at `(key, snapshot_seq)` lands on the newest visible one.
///
/// `prefix` (see [`key_prefix`]) sits inline in the map's nodes, so most comparisons during a
/// search are decided without following the pointer to the key bytes. Field order matters:
/// the derived order compares `prefix`, then `key`, then `seq`, which is (key, seq descending).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct InternalKey {
    prefix: u64,
    key: Vec<u8>,
    seq: Reverse<u64>,
}

impl InternalKey {
    fn new(key: Vec<u8>, seq: u64) -> InternalKey {
        InternalKey { prefix: key_prefix(&key), key, seq: Reverse(seq) }
    }
}

/// An ordered in-memory map of versions. Writers insert under a write lock (one writer at a
/// time, the commit leader); readers filter by their snapshot's sequence number, so a reader
/// never sees part of a batch committed after its snapshot.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    map: RwLock<BTreeMap<InternalKey, Option<Vec<u8>>>>,
    bytes: AtomicUsize,
}

impl Memtable {
    pub(crate) fn new() -> Memtable {
        Memtable::default()
    }

    /// Insert versions; each `(key, seq)` is new (sequence numbers are never reused).
    pub(crate) fn insert_all(&self, entries: impl IntoIterator<Item = Entry>) {
        let mut map = self.map.write();
        let mut added = 0;
        for e in entries {
            added += ENTRY_OVERHEAD_BYTES + e.key.len() + e.value.as_ref().map_or(0, Vec::len);
            let old = map.insert(InternalKey::new(e.key, e.seq), e.value);
            assert!(old.is_none(), "sequence number reused in the memtable");
        }
        self.bytes.fetch_add(added, AtomicOrdering::Relaxed);
    }

    /// Approximate memory use in bytes.
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.bytes.load(AtomicOrdering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }

    /// The newest version of `key` with seq <= `snapshot_seq`: `Some(None)` is a tombstone.
    pub(crate) fn get(&self, key: &[u8], snapshot_seq: u64) -> Option<Option<Vec<u8>>> {
        let map = self.map.read();
        let probe = InternalKey::new(key.to_vec(), snapshot_seq);
        let (k, v) = map.range(probe..).next()?;
        (k.key == key).then(|| v.clone())
    }

    /// Versions with seq <= `snapshot_seq` whose user key lies in the bounds, in internal order.
    pub(crate) fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>, snapshot_seq: u64) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut lower = lower_bound(start);
        while let Some(next) = self.chunk(&lower, end, snapshot_seq, usize::MAX, &mut out) {
            lower = next;
        }
        out
    }

    /// Copy up to `limit` visible versions at or after `lower` (and within `end`) into `out`;
    /// returns where to continue, or `None` when the range is exhausted. Copying in chunks lets
    /// iterators hold no lock between chunks and pay only for what they read.
    fn chunk(
        &self,
        lower: &Bound<InternalKey>,
        end: Bound<&[u8]>,
        snapshot_seq: u64,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Option<Bound<InternalKey>> {
        let map = self.map.read();
        let mut seen = 0usize;
        for (k, v) in map.range((lower.clone(), Bound::Unbounded)) {
            let past_end = match end {
                Bound::Included(e) => k.key.as_slice().cmp(e) == Ordering::Greater,
                Bound::Excluded(e) => k.key.as_slice() >= e,
                Bound::Unbounded => false,
            };
            if past_end {
                return None;
            }
            if k.seq.0 <= snapshot_seq {
                out.push(Entry { key: k.key.clone(), seq: k.seq.0, value: v.clone() });
            }
            seen += 1;
            if seen >= limit {
                return Some(Bound::Excluded(k.clone()));
            }
        }
        None
    }

    /// Every version, in internal order (for flushing).
    pub(crate) fn all(&self) -> Vec<Entry> {
        self.range(Bound::Unbounded, Bound::Unbounded, u64::MAX)
    }
}

fn lower_bound(start: Bound<&[u8]>) -> Bound<InternalKey> {
    match start {
        Bound::Included(k) => Bound::Included(InternalKey::new(k.to_vec(), u64::MAX)),
        Bound::Excluded(k) => Bound::Excluded(InternalKey::new(k.to_vec(), 0)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Versions an iterator copies on its first lock acquisition: a short scan (or one that mostly
/// reads tables) copies little it will not use.
const ITER_FIRST_CHUNK_ENTRIES: usize = 16;
/// Most versions an iterator copies per lock acquisition; chunks double up to this.
const ITER_CHUNK_ENTRIES: usize = 128;

/// A lazy, ordered iterator over one memtable at one snapshot.
pub(crate) struct MemIter {
    mem: Arc<Memtable>,
    next: Option<Bound<InternalKey>>,
    end: Bound<Vec<u8>>,
    snapshot_seq: u64,
    buf: std::vec::IntoIter<Entry>,
    chunk_entries: usize,
}

impl MemIter {
    pub(crate) fn new(mem: Arc<Memtable>, start: Bound<&[u8]>, end: Bound<&[u8]>, snapshot_seq: u64) -> MemIter {
        let end = match end {
            Bound::Included(e) => Bound::Included(e.to_vec()),
            Bound::Excluded(e) => Bound::Excluded(e.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        MemIter {
            mem,
            next: Some(lower_bound(start)),
            end,
            snapshot_seq,
            buf: Vec::new().into_iter(),
            chunk_entries: ITER_FIRST_CHUNK_ENTRIES,
        }
    }
}

impl Iterator for MemIter {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(e) = self.buf.next() {
                return Some(e);
            }
            let lower = self.next.take()?;
            let mut out = Vec::new();
            let end = match &self.end {
                Bound::Included(e) => Bound::Included(e.as_slice()),
                Bound::Excluded(e) => Bound::Excluded(e.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            };
            self.next = self.mem.chunk(&lower, end, self.snapshot_seq, self.chunk_entries, &mut out);
            self.chunk_entries = (self.chunk_entries * 2).min(ITER_CHUNK_ENTRIES);
            self.buf = out.into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &str, seq: u64, v: Option<&str>) -> Entry {
        Entry { key: k.as_bytes().to_vec(), seq, value: v.map(|v| v.as_bytes().to_vec()) }
    }

    #[test]
    fn reads_see_the_newest_version_at_their_sequence_number() {
        let m = Memtable::new();
        m.insert_all([e("a", 1, Some("1")), e("a", 3, None), e("a", 5, Some("5")), e("b", 2, Some("b"))]);
        assert_eq!(m.get(b"a", 0), None);
        assert_eq!(m.get(b"a", 2), Some(Some(b"1".to_vec())));
        assert_eq!(m.get(b"a", 4), Some(None));
        assert_eq!(m.get(b"a", 9), Some(Some(b"5".to_vec())));
        assert_eq!(m.get(b"c", 9), None);
        let r = m.range(Bound::Excluded(b"a"), Bound::Unbounded, 9);
        assert_eq!(r, vec![e("b", 2, Some("b"))]);
        let r = m.range(Bound::Included(b"a"), Bound::Excluded(b"b"), 4);
        assert_eq!(r, vec![e("a", 3, None), e("a", 1, Some("1"))]);
        assert!(m.approximate_bytes() > 0);
        assert_eq!(m.all().len(), 4);
        let m = Arc::new(m);
        let lazy: Vec<Entry> = MemIter::new(m.clone(), Bound::Unbounded, Bound::Unbounded, 4).collect();
        assert_eq!(lazy, m.range(Bound::Unbounded, Bound::Unbounded, 4));
        let many = Arc::new(Memtable::new());
        many.insert_all((0..1000u64).map(|i| e(&format!("k{i:04}"), i + 1, Some("v"))));
        let got: Vec<Entry> =
            MemIter::new(many.clone(), Bound::Excluded(b"k0100"), Bound::Included(b"k0900"), 500).collect();
        assert_eq!(got.len(), 399);
        assert_eq!(got[0].key, b"k0101");
    }
}
