//! Merging iteration: a k-way merge of sorted sources in internal-key order, and the public
//! iterator that turns versions into the visible key/value pairs of one snapshot.

use std::ops::Bound;

use crate::Error;
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
/// number of sources is small (memtable + a bounded number of tables), so a linear scan for the
/// minimum beats a heap.
pub(crate) struct MergeIter {
    sources: Vec<Source>,
    heads: Vec<Option<Entry>>,
    started: bool,
    failed: bool,
}

impl MergeIter {
    pub(crate) fn new(sources: Vec<Source>) -> MergeIter {
        let heads = sources.iter().map(|_| None).collect();
        MergeIter { sources, heads, started: false, failed: false }
    }

    fn fill(&mut self, i: usize) -> Result<(), Error> {
        self.heads[i] = self.sources[i].next().transpose()?;
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
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let bh = self.heads[b].as_ref().expect("best has a head");
                        cmp_internal(&h.key, h.seq, &bh.key, bh.seq) == std::cmp::Ordering::Less
                    }
                };
                if better {
                    best = Some(i);
                }
            }
        }
        let i = best?;
        let out = self.heads[i].take().expect("chosen source has a head");
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
            self.last_key = Some(e.key.clone());
            if let Some(v) = e.value {
                return Some(Ok((e.key, v)));
            }
        }
        self.done = true;
        None
    }
}
