//! Each side with its join fields precomputed once, and its canonical order. The canonical order — time, then
//! id, then every other field — is what makes the outcome independent of input order: every tie-break and the
//! output order use canonical ranks, never input positions. Two items equal in every field are
//! interchangeable, so it does not matter which of them gets the lower rank.
//!
//! Entries stay in input order (so the passes scan memory sequentially) and carry their rank; references are
//! copied into the entry (hash, length and the first [`REF_HEAD_BYTES`] bytes, upper-cased) so that most
//! reference comparisons never leave the entry.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::Item;
use super::hash::ref_hash;

/// Up to this many distinct currencies on a side, codes are looked up by linear search.
const LINEAR_CODES: usize = 16;

/// Bytes of a reference kept inside its entry.
pub(crate) const REF_HEAD_BYTES: usize = 16;

/// Currency codes of both sides interned as small integers (in code order, so the numbering is canonical).
#[derive(Debug)]
pub(crate) struct Currencies {
    ids: BTreeMap<String, u32>,
}

impl Currencies {
    /// The union of each side's codes.
    pub(crate) fn of(sides: [&[&str]; 2]) -> Currencies {
        let codes: std::collections::BTreeSet<&str> = sides.iter().flat_map(|side| side.iter().copied()).collect();
        Currencies { ids: codes.iter().enumerate().map(|(i, c)| (c.to_string(), i as u32)).collect() }
    }

    /// The id of `code`, if any item has that currency.
    pub(crate) fn id(&self, code: &str) -> Option<u32> {
        self.ids.get(code).copied()
    }
}

/// One item's precomputed fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub amount: i128,
    pub at: i64,
    /// [`ref_hash`] of the trimmed reference (0 when empty).
    pub ref_hash: u64,
    /// The first bytes of the trimmed reference, ASCII upper-cased, zero-padded.
    pub ref_head: [u8; REF_HEAD_BYTES],
    /// Length of the trimmed reference in bytes.
    pub ref_len: u32,
    pub currency: u32,
    /// Canonical rank (0 = first in canonical order).
    pub rank: u32,
    /// Position in the caller's slice.
    pub pos: u32,
}

/// One side.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    items: &'a [Item],
    /// In input order.
    entries: Vec<Entry>,
    /// Input positions in canonical order.
    by_rank: Vec<u32>,
}

/// Both sides.
#[derive(Debug)]
pub(crate) struct Sides<'a> {
    pub ledger: Prepared<'a>,
    pub statement: Prepared<'a>,
}

/// The first 8 bytes of an id, big-endian, zero-padded: comparing these compares the ids' prefixes, so most
/// canonical-sort comparisons never touch the strings.
fn id_prefix(id: &str) -> u64 {
    let mut buf = [0u8; 8];
    let n = id.len().min(8);
    buf[..n].copy_from_slice(&id.as_bytes()[..n]);
    u64::from_be_bytes(buf)
}

fn full_order(a: &Item, b: &Item) -> Ordering {
    (a.at_secs, &a.id, a.amount, &a.currency, &a.reference, &a.description, a.kind).cmp(&(
        b.at_secs,
        &b.id,
        b.amount,
        &b.currency,
        &b.reference,
        &b.description,
        b.kind,
    ))
}

impl<'a> Prepared<'a> {
    /// Prepares one side with currencies numbered locally (in order of appearance); returns the local codes, for
    /// [`Currencies::of`] and then [`Prepared::renumber_currencies`]. Each side reads its items once, so the
    /// two sides can be prepared on two threads.
    pub(crate) fn new(items: &'a [Item]) -> (Prepared<'a>, Vec<&'a str>) {
        let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
        let mut codes: Vec<&'a str> = Vec::new();
        let mut code_ids: BTreeMap<&'a str, u32> = BTreeMap::new();
        let mut last_currency: Option<(&str, u32)> = None;
        for (pos, item) in items.iter().enumerate() {
            let reference = item.reference.trim_ascii().as_bytes();
            let mut ref_head = [0u8; REF_HEAD_BYTES];
            for (h, b) in ref_head.iter_mut().zip(reference) {
                *h = b.to_ascii_uppercase();
            }
            let currency = match last_currency {
                Some((code, id)) if code == item.currency => id, // runs of one currency are the common case
                _ => {
                    // A handful of currencies is the rule: a linear search beats a map until there are many.
                    let code = item.currency.as_str();
                    let found = if codes.len() <= LINEAR_CODES {
                        codes.iter().position(|c| *c == code).map(|i| i as u32)
                    } else {
                        code_ids.get(code).copied()
                    };
                    let id = found.unwrap_or_else(|| {
                        codes.push(code);
                        code_ids.insert(code, codes.len() as u32 - 1);
                        codes.len() as u32 - 1
                    });
                    last_currency = Some((code, id));
                    id
                }
            };
            entries.push(Entry {
                amount: item.amount,
                at: item.at_secs,
                ref_hash: if reference.is_empty() { 0 } else { ref_hash(reference) },
                ref_head,
                ref_len: reference.len() as u32,
                currency,
                rank: 0,
                pos: pos as u32,
            });
        }
        let by_rank = canonical_order(items, &entries);
        for (rank, &pos) in by_rank.iter().enumerate() {
            entries[pos as usize].rank = rank as u32;
        }
        (Prepared { items, entries, by_rank }, codes)
    }

    /// Replaces local currency numbers (indexes into `local_codes`) by the shared ones.
    pub(crate) fn renumber_currencies(&mut self, local_codes: &[&str], currencies: &Currencies) {
        let shared: Vec<u32> = local_codes.iter().map(|c| currencies.id(c).unwrap_or(u32::MAX)).collect();
        for e in &mut self.entries {
            e.currency = shared[e.currency as usize];
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn entry(&self, pos: u32) -> &Entry {
        &self.entries[pos as usize]
    }

    /// Entries in input order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Input positions in canonical order.
    pub(crate) fn by_rank(&self) -> &[u32] {
        &self.by_rank
    }

    pub(crate) fn item(&self, pos: u32) -> &'a Item {
        &self.items[pos as usize]
    }

    /// The trimmed reference of the item at `pos`.
    pub(crate) fn reference(&self, pos: u32) -> &'a [u8] {
        self.items[pos as usize].reference.trim_ascii().as_bytes()
    }
}

/// Widest time range (in bits of seconds) sorted by radix; wider ranges (centuries) use a comparison sort.
const RADIX_MAX_BITS: u32 = 44;
/// Bits per radix pass: 2048 counters stay in cache.
const RADIX_BITS: u32 = 11;

/// Input positions in canonical order. Times are sorted by a least-significant-digit radix sort over the
/// range actually present (a 30-day statement needs two passes), far cheaper than a comparison sort of a
/// million items; the rare items sharing a second are then ordered by every field.
fn canonical_order(items: &[Item], entries: &[Entry]) -> Vec<u32> {
    let Some(min) = entries.iter().map(|e| e.at).min() else { return Vec::new() };
    let mut keys: Vec<(u64, u32)> = entries.iter().map(|e| (e.at.abs_diff(min), e.pos)).collect();
    let widest = keys.iter().map(|k| k.0).max().unwrap_or(0);
    let bits = u64::BITS - widest.leading_zeros();
    if bits > RADIX_MAX_BITS {
        keys.sort_unstable();
    } else {
        let mut scratch = vec![(0u64, 0u32); keys.len()];
        let mask = (1u64 << RADIX_BITS) - 1;
        for pass in 0..bits.div_ceil(RADIX_BITS) {
            let shift = pass * RADIX_BITS;
            let mut starts = vec![0usize; 1 << RADIX_BITS];
            for k in &keys {
                starts[((k.0 >> shift) & mask) as usize] += 1;
            }
            let mut total = 0;
            for slot in &mut starts {
                (*slot, total) = (total, total + *slot);
            }
            for &k in &keys {
                let digit = ((k.0 >> shift) & mask) as usize;
                scratch[starts[digit]] = k;
                starts[digit] += 1;
            }
            std::mem::swap(&mut keys, &mut scratch);
        }
    }
    let mut order: Vec<u32> = keys.iter().map(|k| k.1).collect();
    let mut start = 0;
    for run in keys.chunk_by(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            order[start..start + run.len()].sort_by(|&a, &b| {
                let (x, y) = (&items[a as usize], &items[b as usize]);
                id_prefix(&x.id).cmp(&id_prefix(&y.id)).then_with(|| full_order(x, y))
            });
        }
        start += run.len();
    }
    order
}

/// Whether two entries' references are equal (trimmed, ASCII-case-insensitive); `a_side`/`b_side` are consulted
/// only for references longer than the inline head.
pub(crate) fn same_reference(a: &Entry, a_side: &Prepared, b: &Entry, b_side: &Prepared) -> bool {
    if a.ref_len != b.ref_len || a.ref_hash != b.ref_hash || a.ref_head != b.ref_head {
        return false;
    }
    a.ref_len as usize <= REF_HEAD_BYTES || a_side.reference(a.pos).eq_ignore_ascii_case(b_side.reference(b.pos))
}
