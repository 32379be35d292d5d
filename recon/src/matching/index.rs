//! A join table with sorted runs: entries grouped by a composite key, each group sorted by a scan value (a date
//! or an amount) then canonical rank, so a probe finds its window by binary search and walks outward, nearest
//! first. Slots hold a copy of the entry, so walking a run touches one contiguous block of memory.
//!
//! Runs are found by a cursor that only moves forward when probes come in key order (a merge join: sequential
//! memory access), or through a hash map when they cannot (substring probes).

use super::hash::KeyMap;
use super::prepare::Entry;

/// One indexed item: its scan value and its entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub scan: i128,
    pub entry: Entry,
}

/// Items grouped by key.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: Vec<u64>,
    slots: Vec<Slot>,
    map: Option<KeyMap<(u32, u32)>>,
}

impl Index {
    /// Builds from `(key, scan value, rank, position)` of `entries`; `with_map` adds a hash map for probes in
    /// arbitrary key order. Deterministic: sorted by key, scan value, rank.
    pub(crate) fn build(mut rows: Vec<(u64, i128, u32, u32)>, entries: &[Entry], with_map: bool) -> Index {
        rows.sort_unstable();
        let keys: Vec<u64> = rows.iter().map(|r| r.0).collect();
        let slots: Vec<Slot> = rows.iter().map(|r| Slot { scan: r.1, entry: entries[r.3 as usize] }).collect();
        let map = with_map.then(|| {
            let mut map = KeyMap::default();
            let mut start = 0usize;
            for run in keys.chunk_by(|a, b| a == b) {
                map.insert(run[0], (start as u32, (start + run.len()) as u32));
                start += run.len();
            }
            map
        });
        Index { keys, slots, map }
    }

    /// The run of `key`; empty when absent.
    pub(crate) fn run(&self, key: u64) -> &[Slot] {
        match &self.map {
            Some(map) => match map.get(&key) {
                Some(&(start, end)) => &self.slots[start as usize..end as usize],
                None => &[],
            },
            None => {
                let start = self.keys.partition_point(|&k| k < key);
                let end = start + self.keys[start..].partition_point(|&k| k == key);
                &self.slots[start..end]
            }
        }
    }

    /// The run of `key` for probes in ascending key order: `cursor` (start at 0) only moves forward, galloping.
    pub(crate) fn run_from(&self, key: u64, cursor: &mut usize) -> &[Slot] {
        let keys = &self.keys;
        let mut step = 1usize;
        let mut low = *cursor;
        // Gallop to a position at or past the key, then binary search the last stride.
        while low + step < keys.len() && keys[low + step] < key {
            low += step;
            step *= 2;
        }
        let high = (low + step + 1).min(keys.len());
        let start = low + keys[low.min(keys.len())..high].partition_point(|&k| k < key);
        let end = start + keys[start..].iter().take_while(|&&k| k == key).count();
        *cursor = start;
        &self.slots[start..end]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// The slots of a run whose scan value is within `radius` of `center`, nearest first (ties: the lower value
/// first, then the lower rank).
pub(crate) struct Nearest<'r> {
    run: &'r [Slot],
    /// Next candidate below the center (exclusive upper end of the unvisited lower part).
    below: usize,
    /// Next candidate at or above the center.
    above: usize,
    center: i128,
    radius: u128,
}

impl<'r> Nearest<'r> {
    pub(crate) fn new(run: &'r [Slot], center: i128, radius: u128) -> Nearest<'r> {
        let split = run.partition_point(|s| s.scan < center);
        Nearest { run, below: split, above: split, center, radius }
    }
}

impl<'r> Iterator for Nearest<'r> {
    type Item = &'r Slot;

    fn next(&mut self) -> Option<&'r Slot> {
        let low = self.below.checked_sub(1).map(|i| (i, self.run[i].scan.abs_diff(self.center)));
        let high = self.run.get(self.above).map(|s| (self.above, s.scan.abs_diff(self.center)));
        let pick = match (low, high) {
            (Some(l), Some(h)) => {
                if l.1 <= h.1 {
                    l
                } else {
                    h
                }
            }
            (Some(l), None) => l,
            (None, Some(h)) => h,
            (None, None) => return None,
        };
        if pick.1 > self.radius {
            return None; // the nearer side is already out of the window, so is everything else
        }
        if pick.0 < self.above {
            self.below -= 1;
        } else {
            self.above += 1;
        }
        Some(&self.run[pick.0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u32) -> Vec<Entry> {
        (0..n)
            .map(|pos| Entry {
                amount: 0,
                at: 0,
                ref_hash: 0,
                ref_head: [0; 16],
                ref_len: 0,
                currency: 0,
                rank: pos,
                pos,
            })
            .collect()
    }

    #[test]
    fn runs_and_nearest_first_windows() {
        let rows = vec![(7, 50, 4, 4), (7, 10, 1, 1), (9, 0, 2, 2), (7, 30, 3, 3), (7, 30, 0, 0)];
        for with_map in [false, true] {
            let index = Index::build(rows.clone(), &entries(5), with_map);
            let positions = |run: &[Slot]| run.iter().map(|s| s.entry.pos).collect::<Vec<_>>();
            assert_eq!(positions(index.run(7)), [1, 0, 3, 4]);
            assert!(index.run(8).is_empty());
            let near: Vec<u32> = Nearest::new(index.run(7), 28, 20).map(|s| s.entry.pos).collect();
            assert_eq!(near, [0, 3, 1]); // 30 (×2, by rank), then 10 (distance 18); 50 is 22 away
            let all: Vec<u32> = Nearest::new(index.run(7), 30, u128::MAX).map(|s| s.entry.pos).collect();
            assert_eq!(all, [0, 3, 1, 4]); // 10 and 50 are both 20 away: the lower first
        }
    }

    #[test]
    fn forward_cursor_finds_every_run() {
        let rows: Vec<(u64, i128, u32, u32)> = (0..200u32).map(|i| (u64::from(i / 3) * 2, 0, i, i)).collect();
        let index = Index::build(rows, &entries(200), false);
        let mut cursor = 0;
        for key in 0..140u64 {
            let run = index.run_from(key, &mut cursor);
            assert_eq!(
                run.len(),
                if key % 2 == 0 && key / 2 < 67 { (200 - 3 * (key / 2) as usize).min(3) } else { 0 },
                "{key}"
            );
            assert_eq!(run.len(), index.run(key).len());
        }
    }
}
