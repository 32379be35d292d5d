//! Exact top-K ranking of keys whose scores only grow, in O(log K) per update.
//!
//! [`TopK`] is an indexed binary min-heap of at most `capacity` entries plus a map from key to
//! heap position, so a key already in the heap can be found and re-sifted after its value changes.
//!
//! # Why the heap is exact under the monotone contract
//!
//! The caller promises that each key's value only increases from one offer to the next (for
//! example a running total, or [`DecayedSum::rank_key`](crate::DecayedSum::rank_key)). Under that
//! promise the heap holds exactly the `capacity` largest current values, because of one invariant:
//!
//! > every key outside the heap has a current value ≤ the heap minimum.
//!
//! - A key is left out only when it was offered a value ≤ the minimum at that moment, or was
//!   evicted as the minimum itself; either way its value was ≤ the minimum then.
//! - Its value cannot change without being offered again, and an offer re-runs this decision.
//! - The minimum never decreases: keys inside only increase, and a replacement swaps the minimum
//!   for a strictly larger value.
//!
//! So nothing outside can beat anything inside. Without the promise the set can go stale: if a
//! kept key drops below a key evicted earlier, the evicted key should be back in but the heap
//! no longer knows it. Decreases are still applied correctly (the heap stays a valid heap and
//! every kept value is the latest one offered); only the choice of keys loses exactness.
//!
//! Ties at the boundary are kept first-come: a value equal to the minimum does not displace it.
//! The multiset of kept values is exact; which of several equal boundary keys is kept is not
//! specified.

use std::collections::HashMap;
use std::hash::Hash;

/// Largest supported capacity, in entries. Both the heap and the index are preallocated to the
/// capacity, so this bounds memory per ranking (a few MB); a larger K is not a "top" any more and
/// wants a sorted store instead.
pub const MAX_TOP_K_CAPACITY: usize = 100_000;

#[derive(Debug, Clone)]
struct Entry<K> {
    key: K,
    value: f64,
}

/// The `capacity` largest values among keys offered so far (exact for monotone keys; see the
/// module docs).
#[derive(Debug, Clone)]
pub struct TopK<K> {
    capacity: usize,
    /// Binary min-heap by `value`: `heap[parent(i)].value <= heap[i].value`.
    heap: Vec<Entry<K>>,
    /// `index[&heap[i].key] == i` for every `i`, and nothing else. The default SipHash is kept on
    /// purpose: keys (accounts, addresses) can be chosen by an adversary.
    index: HashMap<K, usize>,
    /// Offers dropped because the value was NaN or infinite.
    non_finite_rejected: u64,
}

impl<K: Eq + Hash + Clone> TopK<K> {
    /// An empty ranking keeping at most `capacity` keys. Panics unless
    /// `1 <= capacity <= MAX_TOP_K_CAPACITY`.
    pub fn new(capacity: usize) -> TopK<K> {
        assert!(capacity >= 1, "TopK capacity must be at least 1");
        assert!(capacity <= MAX_TOP_K_CAPACITY, "TopK capacity {capacity} exceeds MAX_TOP_K_CAPACITY");
        TopK {
            capacity,
            heap: Vec::with_capacity(capacity),
            index: HashMap::with_capacity(capacity),
            non_finite_rejected: 0,
        }
    }

    /// Record that `key` now has `value`. O(log K).
    ///
    /// A key already kept is updated in place (and moved up or down as needed, so decreases keep
    /// the heap valid too). A new key is kept if there is room, or if it beats the current
    /// minimum, which it then evicts.
    ///
    /// NaN and infinite values are dropped (counted in [`non_finite_rejected`](Self::non_finite_rejected)).
    /// This is not an assertion because values are usually computed, and one overflowing or 0/0
    /// score must not crash the scorer; but a NaN must never enter the heap, where every
    /// comparison with it is false and would silently break the heap order.
    pub fn offer(&mut self, key: K, value: f64) {
        if !value.is_finite() {
            self.non_finite_rejected += 1;
            return;
        }
        // -0.0 becomes +0.0, so `<` in the heap and `total_cmp` in `sorted` agree on ties.
        let value = value + 0.0;

        if let Some(&pos) = self.index.get(&key) {
            let old = self.heap[pos].value;
            self.heap[pos].value = value;
            if value > old {
                self.sift_down(pos);
            } else if value < old {
                self.sift_up(pos);
            }
        } else if self.heap.len() < self.capacity {
            let pos = self.heap.len();
            self.index.insert(key.clone(), pos);
            self.heap.push(Entry { key, value });
            self.sift_up(pos);
        } else if value > self.heap[0].value {
            let evicted = std::mem::replace(&mut self.heap[0], Entry { key: key.clone(), value });
            let removed = self.index.remove(&evicted.key);
            debug_assert_eq!(removed, Some(0), "evicted key must have been indexed at the root");
            self.index.insert(key, 0);
            self.sift_down(0);
        }
        debug_assert!(self.heap.len() <= self.capacity);
        debug_assert_eq!(self.heap.len(), self.index.len());
    }

    /// The smallest kept entry: the value a new key must beat to get in once the ranking is full.
    pub fn min(&self) -> Option<(&K, f64)> {
        self.heap.first().map(|e| (&e.key, e.value))
    }

    /// Number of keys kept (≤ capacity).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing has been kept yet.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The most keys this ranking keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The kept value of `key`, or `None` if it is not in the top K.
    pub fn get(&self, key: &K) -> Option<f64> {
        self.index.get(key).map(|&pos| self.heap[pos].value)
    }

    /// How many offers were dropped for being NaN or infinite.
    pub fn non_finite_rejected(&self) -> u64 {
        self.non_finite_rejected
    }

    /// Panic if the structure is inconsistent: size within capacity, min-heap order, every value
    /// finite, and the index mapping exactly the heap's keys to their positions. O(K); for tests.
    pub fn check_invariants(&self) {
        assert!(self.heap.len() <= self.capacity, "heap holds {} > capacity {}", self.heap.len(), self.capacity);
        assert_eq!(self.index.len(), self.heap.len(), "index and heap sizes differ");
        for (i, entry) in self.heap.iter().enumerate() {
            assert!(entry.value.is_finite(), "non-finite value at heap position {i}");
            assert!(!(entry.value == 0.0 && entry.value.is_sign_negative()), "-0.0 stored at heap position {i}");
            assert_eq!(self.index.get(&entry.key), Some(&i), "index does not point at heap position {i}");
            if i > 0 {
                let parent = (i - 1) / 2;
                assert!(
                    self.heap[parent].value <= entry.value,
                    "heap order broken: parent {parent} has {} > child {i} with {}",
                    self.heap[parent].value,
                    entry.value
                );
            }
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.heap[parent].value <= self.heap[pos].value {
                break;
            }
            self.swap(parent, pos);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let smallest = if right < len && self.heap[right].value < self.heap[left].value { right } else { left };
            if self.heap[pos].value <= self.heap[smallest].value {
                break;
            }
            self.swap(pos, smallest);
            pos = smallest;
        }
    }

    /// Swap two heap slots and keep the index pointing at them.
    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        for pos in [a, b] {
            let slot = self.index.get_mut(&self.heap[pos].key).expect("every heap key is indexed");
            *slot = pos;
        }
    }
}

impl<K: Eq + Hash + Clone + Ord> TopK<K> {
    /// The kept entries, largest value first; equal values by key ascending so the output does
    /// not depend on heap layout or hash order. O(K log K).
    pub fn sorted(&self) -> Vec<(K, f64)> {
        let mut out: Vec<(K, f64)> = self.heap.iter().map(|e| (e.key.clone(), e.value)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_one_keeps_the_maximum() {
        let mut top = TopK::new(1);
        for (k, v) in [("a", 1.0), ("b", 3.0), ("c", 2.0), ("a", 4.0)] {
            top.offer(k, v);
            top.check_invariants();
        }
        assert_eq!(top.sorted(), vec![("a", 4.0)]);
    }

    #[test]
    fn negative_zero_is_stored_as_positive_zero() {
        let mut top = TopK::new(2);
        top.offer(1u32, -0.0);
        top.offer(2u32, 0.0);
        top.check_invariants();
        assert!(top.get(&1).unwrap().is_sign_positive());
        assert_eq!(top.sorted(), vec![(1, 0.0), (2, 0.0)]);
    }

    #[test]
    #[should_panic(expected = "at least 1")]
    fn zero_capacity_is_rejected() {
        let _ = TopK::<u32>::new(0);
    }

    #[test]
    #[should_panic(expected = "exceeds MAX_TOP_K_CAPACITY")]
    fn capacity_above_limit_is_rejected() {
        let _ = TopK::<u32>::new(MAX_TOP_K_CAPACITY + 1);
    }
}
