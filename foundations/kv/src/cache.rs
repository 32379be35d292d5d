//! The block cache: verified data blocks kept in memory, keyed by (table number, block offset),
//! bounded by a byte limit. A block enters the cache only after its CRC and structure checked
//! out (it is a [`Block`]), so a hit is never corrupt and costs neither a read nor a CRC.
//!
//! Eviction is CLOCK (second chance): a hit sets the block's reference bit; when space is
//! needed the oldest block is dropped unless its bit is set, in which case the bit is cleared
//! and the block goes to the back of the queue. This approximates LRU with O(1) work per hit
//! and no reordering. The cache is split into shards, each behind its own mutex, so concurrent
//! readers rarely meet on a lock.
//!
//! Table numbers are never reused while a `Db` is open (one counter hands out every file
//! number), so a key cannot name a different block. Blocks of a deleted table are not purged:
//! nothing references them again, so they lose their bit and are evicted first.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::block::Block;

/// A shard gets at least this many bytes of the limit; a small cache is therefore one shard,
/// so its limit is not split into slices too small to hold a block.
const MIN_SHARD_BYTES: usize = 1 << 20;
/// Most shards a cache is split into (enough to keep lock contention rare on a few cores).
const MAX_SHARDS: usize = 16;

/// (table number, block offset in the table file).
pub(crate) type BlockKey = (u64, u64);

#[derive(Debug)]
struct Cached {
    block: Arc<Block>,
    charge: usize,
    referenced: bool,
}

/// Hashes a [`BlockKey`] with [`mix`]: the keys are not attacker-chosen (they are file numbers
/// and offsets), so the DoS resistance of the default SipHash buys nothing and costs a lookup's
/// worth of time.
#[derive(Debug, Default)]
struct BlockKeyHasher(u64);

impl Hasher for BlockKeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = mix(self.0 ^ x);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<BlockKey, Cached, BuildHasherDefault<BlockKeyHasher>>,
    /// Every key in `map`, exactly once, oldest first.
    clock: VecDeque<BlockKey>,
    bytes: usize,
}

impl Shard {
    /// Evict until `need` more bytes fit under `limit`.
    fn make_room(&mut self, need: usize, limit: usize) {
        while self.bytes + need > limit {
            let Some(key) = self.clock.pop_front() else { return };
            let c = self.map.get_mut(&key).expect("the clock and the map hold the same keys");
            if c.referenced {
                c.referenced = false;
                self.clock.push_back(key);
            } else {
                self.bytes -= c.charge;
                self.map.remove(&key);
            }
        }
    }
}

/// The SplitMix64 finalizer: every input bit affects every output bit, so block offsets (which
/// share their low bits) and small table numbers still spread evenly over the shards.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A bounded, sharded cache of verified blocks. Shared by the tables of one `Db`.
#[derive(Debug)]
pub(crate) struct BlockCache {
    shards: Box<[Mutex<Shard>]>,
    shard_limit: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BlockCache {
    /// A cache holding at most `limit_bytes` (as charged by [`Block::charge`]); 0 disables it.
    pub(crate) fn new(limit_bytes: usize) -> BlockCache {
        let shards = (limit_bytes / MIN_SHARD_BYTES).clamp(1, MAX_SHARDS);
        BlockCache {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            shard_limit: limit_bytes / shards,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: BlockKey) -> &Mutex<Shard> {
        let h = mix(key.0 ^ mix(key.1));
        &self.shards[(h % self.shards.len() as u64) as usize]
    }

    /// The cached block, if any (counts a hit or a miss).
    pub(crate) fn get(&self, key: BlockKey) -> Option<Arc<Block>> {
        let found = self.shard(key).lock().map.get_mut(&key).map(|c| {
            c.referenced = true;
            c.block.clone()
        });
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Cache a verified block, evicting others to stay under the limit. A block larger than a
    /// shard's share of the limit is not cached.
    pub(crate) fn insert(&self, key: BlockKey, block: Arc<Block>) {
        let charge = block.charge();
        if charge > self.shard_limit {
            return;
        }
        let mut shard = self.shard(key).lock();
        if shard.map.contains_key(&key) {
            return; // another reader loaded the same block concurrently
        }
        shard.make_room(charge, self.shard_limit);
        shard.bytes += charge;
        shard.map.insert(key, Cached { block, charge, referenced: false });
        shard.clock.push_back(key);
    }

    /// Bytes currently charged (never more than the limit).
    pub(crate) fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    /// Lookups that found their block since the cache was created.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_block_entry, finish_block};

    /// A block with one entry whose value has `value_bytes` bytes.
    fn block(value_bytes: usize) -> Arc<Block> {
        let mut out = Vec::new();
        encode_block_entry(b"k", 1, Some(&vec![7u8; value_bytes]), &mut out);
        finish_block(&mut out, 0, 1);
        Arc::new(Block::decode(out).unwrap())
    }

    #[test]
    fn stays_under_its_byte_limit_and_keeps_referenced_blocks() {
        let charge = block(400).charge();
        let cache = BlockCache::new(10 * charge);
        for i in 0..10 {
            cache.insert((1, i), block(400));
        }
        assert_eq!(cache.bytes(), 10 * charge);
        // Touch block 0: the next insert must evict block 1 (the oldest unreferenced) instead.
        assert!(cache.get((1, 0)).is_some());
        cache.insert((1, 10), block(400));
        assert!(cache.get((1, 0)).is_some(), "a referenced block gets a second chance");
        assert!(cache.get((1, 1)).is_none(), "the oldest unreferenced block is evicted");
        for i in 11..100 {
            cache.insert((2, i), block(400));
            assert!(cache.bytes() <= 10 * charge);
        }
        assert_eq!(cache.bytes(), 10 * charge);
        assert!(cache.get((2, 99)).is_some());
        assert_eq!((cache.hits(), cache.misses()), (3, 1));
    }

    #[test]
    fn oversized_blocks_and_a_zero_limit_cache_nothing() {
        let cache = BlockCache::new(0);
        cache.insert((1, 0), block(10));
        assert!(cache.get((1, 0)).is_none());
        assert_eq!(cache.bytes(), 0);
        let cache = BlockCache::new(2 * MIN_SHARD_BYTES);
        cache.insert((1, 0), block(MIN_SHARD_BYTES + 1));
        assert!(cache.get((1, 0)).is_none());
        cache.insert((1, 0), block(10));
        cache.insert((1, 0), block(20)); // a second insert of one key keeps the first block
        assert_eq!(cache.bytes(), block(10).charge());
    }

    #[test]
    fn large_caches_are_sharded_and_each_shard_respects_its_share() {
        let cache = BlockCache::new(64 << 20);
        assert_eq!(cache.shards.len(), MAX_SHARDS);
        for i in 0..20_000u64 {
            cache.insert((i % 7, i * 4096), block(4000));
        }
        assert!(cache.bytes() <= 64 << 20);
        assert!(cache.shards.iter().all(|s| s.lock().bytes <= cache.shard_limit));
        assert!(cache.shards.iter().all(|s| s.lock().bytes > 0), "keys spread over every shard");
    }
}
