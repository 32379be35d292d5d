//! A data block checked and parsed once: its bytes plus where each entry lies. Point lookups
//! binary-search it and iterators read entries in place, so a cached block costs no CRC and no
//! parsing on later reads. Only a block that passed every check exists as a `Block`.

use std::cmp::Ordering;
use std::ops::Bound;

use crate::format::{self, DecodeError, Entry, EntryRef, EntrySpan, cmp_internal};

/// Bookkeeping charged to the block cache per block on top of its bytes and spans (the `Arc`,
/// the map slot and the eviction queue entry).
const BLOCK_OVERHEAD_BYTES: usize = 96;

/// The first 8 bytes of `key` as a big-endian number, zero-padded. If the prefixes of two keys
/// differ, the keys compare the same way (a zero pad sorts like the end of a shorter key);
/// only equal prefixes need the full comparison. Searches compare prefixes kept in one
/// contiguous array, which avoids a cache miss per probe on the scattered key bytes.
pub(crate) fn key_prefix(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// A verified data block.
#[derive(Debug)]
pub(crate) struct Block {
    bytes: Box<[u8]>,
    /// One per entry, in internal-key order; never empty.
    spans: Vec<EntrySpan>,
    /// `key_prefix` of each entry's key, parallel to `spans`.
    prefixes: Vec<u64>,
}

impl Block {
    /// Check `bytes` (CRC, count, entry order; see [`format::decode_block`]) and index its
    /// entries.
    pub(crate) fn decode(bytes: Vec<u8>) -> Result<Block, DecodeError> {
        let spans = format::block_spans(&bytes)?;
        let prefixes = spans.iter().map(|s| key_prefix(&bytes[s.key_start as usize..s.key_end as usize])).collect();
        Ok(Block { bytes: bytes.into_boxed_slice(), spans, prefixes })
    }

    /// Number of entries (at least one).
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Bytes of memory this block holds, as charged against the cache limit.
    pub(crate) fn charge(&self) -> usize {
        self.bytes.len() + self.spans.len() * (std::mem::size_of::<EntrySpan>() + 8) + BLOCK_OVERHEAD_BYTES
    }

    fn key(&self, i: usize) -> &[u8] {
        let s = &self.spans[i];
        &self.bytes[s.key_start as usize..s.key_end as usize]
    }

    /// Entry `i`, borrowed from the block.
    pub(crate) fn entry(&self, i: usize) -> EntryRef<'_> {
        let s = &self.spans[i];
        EntryRef {
            key: self.key(i),
            seq: s.seq,
            value: s.value.map(|(start, end)| &self.bytes[start as usize..end as usize]),
        }
    }

    /// Entry `i`, copied out.
    pub(crate) fn to_entry(&self, i: usize) -> Entry {
        self.entry(i).to_entry()
    }

    /// The last entry (a block is never empty).
    pub(crate) fn last(&self) -> EntryRef<'_> {
        self.entry(self.spans.len() - 1)
    }

    /// Index of the first entry `>= (key, seq)` in internal order (`len()` if none).
    pub(crate) fn seek(&self, key: &[u8], seq: u64) -> usize {
        let prefix = key_prefix(key);
        self.partition(|i, p| {
            p.cmp(&prefix).then_with(|| cmp_internal(self.key(i), self.spans[i].seq, key, seq)).is_lt()
        })
    }

    /// Index of the first entry whose user key is not before `start` (`len()` if none).
    pub(crate) fn seek_start(&self, start: Bound<&[u8]>) -> usize {
        let (s, or_equal) = match start {
            Bound::Unbounded => return 0,
            Bound::Included(s) => (s, false),
            Bound::Excluded(s) => (s, true),
        };
        let prefix = key_prefix(s);
        self.partition(|i, p| match p.cmp(&prefix).then_with(|| self.key(i).cmp(s)) {
            Ordering::Less => true,
            Ordering::Equal => or_equal,
            Ordering::Greater => false,
        })
    }

    /// The first `i` for which `before(i, prefix of key i)` is false; `before` must be true
    /// for a prefix of the entries and false for the rest.
    fn partition(&self, before: impl Fn(usize, u64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.prefixes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(mid, self.prefixes[mid]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_block_entry, finish_block};

    fn block(entries: &[(&str, u64, Option<&str>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, s, v) in entries {
            encode_block_entry(k.as_bytes(), *s, v.map(str::as_bytes), &mut out);
        }
        finish_block(&mut out, 0, entries.len() as u32);
        out
    }

    #[test]
    fn seeks_agree_with_a_linear_scan_and_entries_round_trip() {
        // Keys that share 8-byte prefixes (and a zero byte that pads like a key's end) take the
        // full-comparison path.
        let raw = block(&[
            ("a", 5, Some("a5")),
            ("a", 2, None),
            ("a\0", 3, Some("a0")),
            ("c", 9, Some("")),
            ("common-prefix-1", 4, Some("1")),
            ("common-prefix-2", 4, Some("2")),
            ("common-prefix-2", 1, Some("2")),
            ("d", 1, Some("d1")),
        ]);
        let b = Block::decode(raw.clone()).unwrap();
        let owned = format::decode_block(&raw).unwrap();
        assert_eq!((0..b.len()).map(|i| b.to_entry(i)).collect::<Vec<_>>(), owned);
        assert_eq!(b.last().key, b"d");
        for key in ["", "a", "a\0", "a\0\0", "b", "c", "common-prefix-", "common-prefix-2", "common-prefix-3", "d", "e"]
        {
            for seq in [0, 1, 2, 3, 5, 9, u64::MAX] {
                let linear = owned
                    .iter()
                    .position(|e| cmp_internal(&e.key, e.seq, key.as_bytes(), seq) != Ordering::Less)
                    .unwrap_or(owned.len());
                assert_eq!(b.seek(key.as_bytes(), seq), linear, "seek({key}, {seq})");
            }
            let k = key.as_bytes();
            let incl = owned.iter().position(|e| e.key.as_slice() >= k).unwrap_or(owned.len());
            let excl = owned.iter().position(|e| e.key.as_slice() > k).unwrap_or(owned.len());
            assert_eq!(b.seek_start(Bound::Included(k)), incl);
            assert_eq!(b.seek_start(Bound::Excluded(k)), excl);
        }
        assert_eq!(b.seek_start(Bound::Unbounded), 0);
        assert!(b.charge() > raw.len());
    }

    #[test]
    fn a_damaged_or_empty_block_does_not_decode() {
        let raw = block(&[("a", 5, Some("a5")), ("b", 2, None)]);
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            assert!(Block::decode(bad).is_err(), "flip at {i}");
        }
        assert!(Block::decode(block(&[])).is_err());
    }
}
