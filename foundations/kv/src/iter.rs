//! Merging iteration: a k-way merge of sorted sources in internal-key order, and the public
//! iterator that turns versions into the visible key/value pairs of one snapshot.

use std::ops::Bound;

use crate::Error;
use crate::block::key_prefix;
use crate::format::{Entry, cmp_internal};
use crate::memtable::MemIter;
use crate::sstable::TableIter;

/// One sorted source of versions.
pub(crate) enum Source {
    Mem(MemIter),
    Table(TableIter),
}

impl Iterator for Source {
    type Item = Result<Entry, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Source::Mem(it) => it.next().map(Ok),
            Source::Table(it) => it.next(),
        }
    }
}

/// K-way merge of sources, each sorted by internal key. Sources are given newest first; the
/// number of sources is small (memtable + at most `level0_table_limit + 1` tables), so a linear
/// scan for the minimum does no more comparisons than a heap's pop and push would, without
/// the heap's moves. Each head carries its key prefix, so most comparisons touch no key bytes.
pub(crate) struct MergeIter {
    sources: Vec<Source>,
    heads: Vec<Option<(u64, Entry)>>,
    started: bool,
    failed: bool,
}

impl MergeIter {
    pub(crate) fn new(sources: Vec<Source>) -> MergeIter {
        let heads = sources.iter().map(|_| None).collect();
        MergeIter { sources, heads, started: false, failed: false }
    }

    fn fill(&mut self, i: usize) -> Result<(), Error> {
        self.heads[i] = self.sources[i].next().transpose()?.map(|e| (key_prefix(&e.key), e));
        Ok(())
    }
}

impl Iterator for MergeIter {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if let Err(e) = self.fill(i) {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let mut best: Option<(usize, &(u64, Entry))> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                let better = match best {
                    None => true,
                    Some((_, b)) => {
                        h.0.cmp(&b.0).then_with(|| cmp_internal(&h.1.key, h.1.seq, &b.1.key, b.1.seq)).is_lt()
                    }
                };
                if better {
                    best = Some((i, h));
                }
            }
        }
        let i = best?.0;
        let (_, out) = self.heads[i].take().expect("chosen source has a head");
        if let Err(e) = self.fill(i) {
            self.failed = true;
            return Some(Err(e));
        }
        Some(Ok(out))
    }
}

/// Ascending `(key, value)` pairs visible at one snapshot within a key range. Holds references
/// to the tables it reads, so it stays valid across later flushes and compactions.
pub struct Iter {
    merge: MergeIter,
    snapshot_seq: u64,
    end: Bound<Vec<u8>>,
    last_key: Option<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for Iter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").field("snapshot_seq", &self.snapshot_seq).field("done", &self.done).finish()
    }
}

impl Iter {
    pub(crate) fn new(merge: MergeIter, snapshot_seq: u64, end: Bound<Vec<u8>>) -> Iter {
        Iter { merge, snapshot_seq, end, last_key: None, done: false }
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let e = match self.merge.next() {
                None => break,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(e)) => e,
            };
            if e.seq > self.snapshot_seq || self.last_key.as_deref() == Some(e.key.as_slice()) {
                continue; // invisible to this snapshot, or an older version of a key already seen
            }
            let past_end = match &self.end {
                Bound::Included(end) => e.key > *end,
                Bound::Excluded(end) => e.key >= *end,
                Bound::Unbounded => false,
            };
            if past_end {
                break;
            }
            // Reuse the buffer: one allocation per iterator rather than one per key.
            let last = self.last_key.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(&e.key);
            if let Some(v) = e.value {
                return Some(Ok((e.key, v)));
            }
        }
        self.done = true;
        None
    }
}
