//! Per-key token buckets.
//!
//! Each API key id gets a bucket holding up to `rate × burst_secs` tokens (at least 1), refilled at
//! `rate` tokens per second; a request takes one token or is refused with the time until a token will
//! be there (the `Retry-After`). Arithmetic is integer: one token is [`NANOTOKENS_PER_TOKEN`] units, so
//! a bucket refills exactly `rate` units per elapsed nanosecond — no float drift, exact retry-afters.
//!
//! Memory is bounded by [`MAX_TRACKED_KEYS`]: when a shard is full, buckets that have refilled
//! completely are forgotten first (losslessly: a new bucket starts full too), then the least recently
//! used. Time is passed in (`now`), so tests are deterministic and need no sleeps.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Most key ids with a bucket in memory at once, across all shards.
pub const MAX_TRACKED_KEYS: usize = 100_000;
/// Shards, each with its own lock, so concurrent requests from different keys rarely contend.
const SHARDS: usize = 16;
/// Units per token: a bucket refilling at `rate` tokens/s gains `rate` units per nanosecond.
const NANOTOKENS_PER_TOKEN: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens, in units of 1/NANOTOKENS_PER_TOKEN; at most `capacity(rate)`.
    units: u128,
    /// When `units` was last brought up to date; never moves backwards.
    updated: Instant,
    /// The rate this bucket was last used with (a key's limit can change while it is tracked).
    per_sec: u32,
}

/// Token buckets keyed by API key id. `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct RateLimiter {
    default_per_sec: u32,
    burst_secs: u32,
    max_per_shard: usize,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<String, Bucket>>]>,
}

impl RateLimiter {
    /// A limiter allowing `default_per_sec` requests per second per key (for keys without their own
    /// limit), with bursts of up to `burst_secs` seconds' worth (bucket capacity `rate × burst_secs`,
    /// at least one token). A rate of 0 means "no limit": `check` always succeeds for such keys.
    pub fn new(default_per_sec: u32, burst_secs: u32) -> RateLimiter {
        RateLimiter::with_max_tracked_keys(default_per_sec, burst_secs, MAX_TRACKED_KEYS)
    }

    fn with_max_tracked_keys(default_per_sec: u32, burst_secs: u32, max_tracked_keys: usize) -> RateLimiter {
        RateLimiter {
            default_per_sec,
            burst_secs,
            max_per_shard: (max_tracked_keys / SHARDS).max(1),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Take one token for `key_id` at `now`, at `per_sec` (or the default if `None`).
    /// `Err(retry_after)` when the bucket is empty: the wait until one token is available (> 0).
    pub fn check(&self, key_id: &str, per_sec: Option<u32>, now: Instant) -> Result<(), Duration> {
        let rate = per_sec.unwrap_or(self.default_per_sec);
        if rate == 0 {
            return Ok(());
        }
        let capacity = self.capacity(rate);
        let shard = &self.shards[(self.hasher.hash_one(key_id) as usize) % SHARDS];
        let mut buckets = shard.lock();
        let bucket = match buckets.get_mut(key_id) {
            Some(b) => b,
            None => {
                if buckets.len() >= self.max_per_shard {
                    self.evict(&mut buckets, now);
                }
                buckets.entry(key_id.to_owned()).or_insert(Bucket { units: capacity, updated: now, per_sec: rate })
            }
        };
        if bucket.per_sec != rate {
            // The key's limit changed: keep what it has, within the new capacity.
            bucket.per_sec = rate;
            bucket.units = bucket.units.min(capacity);
        }
        refill(bucket, capacity, now);
        if bucket.units >= NANOTOKENS_PER_TOKEN {
            bucket.units -= NANOTOKENS_PER_TOKEN;
            Ok(())
        } else {
            let missing = NANOTOKENS_PER_TOKEN - bucket.units;
            let nanos = missing.div_ceil(u128::from(rate));
            Err(Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)))
        }
    }

    /// How many key ids currently have a bucket (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    fn capacity(&self, rate: u32) -> u128 {
        let tokens = (u128::from(rate) * u128::from(self.burst_secs)).max(1);
        tokens * NANOTOKENS_PER_TOKEN
    }

    /// Make room for one more bucket: drop every bucket that is full by `now` (forgetting it changes
    /// nothing), and if none is, the one used least recently.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        buckets.retain(|_, b| {
            let cap = self.capacity(b.per_sec);
            let mut b = *b;
            refill(&mut b, cap, now);
            b.units < cap
        });
        if buckets.len() >= self.max_per_shard
            && let Some(oldest) = buckets.iter().min_by_key(|(_, b)| b.updated).map(|(k, _)| k.clone())
        {
            buckets.remove(&oldest);
        }
    }
}

fn refill(bucket: &mut Bucket, capacity: u128, now: Instant) {
    // `now` may be slightly older than `updated` when callers take the time before the lock.
    let elapsed = now.saturating_duration_since(bucket.updated).as_nanos();
    if elapsed > 0 {
        bucket.units = (bucket.units + elapsed * u128::from(bucket.per_sec)).min(capacity);
        bucket.updated = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn burst_then_refuse_with_exact_retry_after() {
        let rl = RateLimiter::new(10, 2); // 10/s, capacity 20
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(rl.check("k", None, t0), Ok(()));
        }
        assert_eq!(rl.check("k", None, t0), Err(100 * MS), "one token takes 1/10 s");
        assert_eq!(rl.check("k", None, t0 + 40 * MS), Err(60 * MS));
        assert_eq!(rl.check("k", None, t0 + 100 * MS), Ok(()));
        assert_eq!(rl.check("k", None, t0 + 100 * MS), Err(100 * MS));
    }

    #[test]
    fn refill_is_capped_at_capacity() {
        let rl = RateLimiter::new(5, 1); // capacity 5
        let t0 = Instant::now();
        for _ in 0..5 {
            rl.check("k", None, t0).unwrap();
        }
        assert!(rl.check("k", None, t0).is_err());
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert_eq!(rl.check("k", None, later), Ok(()));
        }
        assert_eq!(rl.check("k", None, later), Err(200 * MS));
    }

    #[test]
    fn steady_rate_is_sustained() {
        let rl = RateLimiter::new(1000, 1);
        let t0 = Instant::now();
        for _ in 0..1000 {
            rl.check("k", None, t0).unwrap();
        }
        // One request per millisecond for ten seconds is exactly the rate: never refused.
        for i in 1..=10_000u32 {
            assert_eq!(rl.check("k", None, t0 + i * MS), Ok(()), "request {i}");
        }
        assert!(rl.check("k", None, t0 + 10_000 * MS).is_err());
    }

    #[test]
    fn capacity_is_at_least_one_token() {
        let rl = RateLimiter::new(3, 0);
        let t0 = Instant::now();
        assert_eq!(rl.check("k", None, t0), Ok(()));
        assert_eq!(rl.check("k", None, t0), Err(Duration::from_nanos(333_333_334)), "rounded up");
    }

    #[test]
    fn per_key_override_and_separate_buckets() {
        let rl = RateLimiter::new(1, 1);
        let t0 = Instant::now();
        assert_eq!(rl.check("a", None, t0), Ok(()));
        assert_eq!(rl.check("a", None, t0), Err(Duration::from_secs(1)));
        // Another key has its own bucket, here with its own rate.
        for _ in 0..100 {
            assert_eq!(rl.check("b", Some(100), t0), Ok(()));
        }
        assert_eq!(rl.check("b", Some(100), t0), Err(10 * MS));
        // Lowering b's limit clamps what it holds to the new capacity.
        assert_eq!(rl.check("b", Some(2), t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(rl.check("b", Some(2), t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(rl.check("b", Some(2), t0 + Duration::from_secs(10)), Err(500 * MS));
    }

    #[test]
    fn zero_rate_means_unlimited() {
        let rl = RateLimiter::new(0, 1);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(rl.check("k", None, t0), Ok(()));
        }
        assert_eq!(rl.tracked_keys(), 0);
    }

    #[test]
    fn time_going_backwards_does_not_refill() {
        let rl = RateLimiter::new(1, 1);
        let t0 = Instant::now() + Duration::from_secs(10);
        rl.check("k", None, t0).unwrap();
        assert!(rl.check("k", None, t0 - Duration::from_secs(5)).is_err());
        assert_eq!(rl.check("k", None, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn tracked_keys_are_bounded() {
        let max = 64;
        let rl = RateLimiter::with_max_tracked_keys(1, 1, max);
        let t0 = Instant::now();
        // All buckets active (empty): eviction falls back to least recently used.
        for i in 0..1000 {
            rl.check(&format!("key{i}"), None, t0 + i * MS).unwrap();
            assert!(rl.tracked_keys() <= max, "{} tracked after {i}", rl.tracked_keys());
        }
        // Once they have refilled, a newcomer sweeps them out.
        let later = t0 + Duration::from_secs(60);
        for i in 0..SHARDS * 8 {
            rl.check(&format!("fresh{i}"), None, later).unwrap();
        }
        assert!(rl.tracked_keys() <= max);
    }

    #[test]
    fn eviction_prefers_full_buckets_then_least_recently_used() {
        let rl = RateLimiter::with_max_tracked_keys(1, 1, SHARDS * 2); // two buckets per shard
        let t0 = Instant::now();
        let empty = |at| Bucket { units: 0, updated: at, per_sec: 1 };
        // "idle" has refilled by t0 + 2 s, "busy" has not: idle goes, busy stays.
        let mut map = HashMap::from([("idle".to_owned(), empty(t0)), ("busy".to_owned(), empty(t0 + 1900 * MS))]);
        rl.evict(&mut map, t0 + Duration::from_secs(2));
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["busy"]);
        // Nothing full: the least recently used goes.
        let mut map = HashMap::from([("old".to_owned(), empty(t0)), ("new".to_owned(), empty(t0 + 10 * MS))]);
        rl.evict(&mut map, t0 + 20 * MS);
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["new"]);
    }

    #[test]
    fn limiter_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<RateLimiter>();
    }
}
