//! Deterministic hashing for join keys. No random seed anywhere: the same input builds the same tables on every
//! run and every machine. A hash only chooses where to look; every candidate found through one is re-checked
//! against the real fields, so a collision (accidental or crafted) costs time, never a wrong match.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Base of the polynomial reference hash (odd, so multiplication is invertible mod 2^64).
const REF_BASE: u64 = 0x0000_0100_0000_01b3;

/// Mixes 64 bits thoroughly (MurmurHash3's finaliser), so that keys made of small integers spread over a table.
pub(crate) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Folds one more component into a composite key.
pub(crate) fn combine(key: u64, component: u64) -> u64 {
    fmix64(key.rotate_left(23) ^ component ^ 0x9e37_79b9_7f4a_7c15)
}

/// Folds an i128 (an amount) into a composite key.
pub(crate) fn combine_i128(key: u64, value: i128) -> u64 {
    let bits = value as u128;
    combine(combine(key, bits as u64), (bits >> 64) as u64)
}

/// The value one byte contributes to a reference hash: references compare ASCII-case-insensitively. The `+ 1`
/// keeps a leading zero byte from vanishing.
fn ref_byte(b: u8) -> u64 {
    u64::from(b.to_ascii_uppercase()) + 1
}

/// Polynomial hash of a (trimmed) reference, ASCII-case-insensitive. Polynomial so that every substring of one
/// length can be hashed in one rolling pass (see [`RollingRef`]) and compared with whole-reference hashes.
pub(crate) fn ref_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |h, &b| h.wrapping_mul(REF_BASE).wrapping_add(ref_byte(b)))
}

/// Hashes of every window of `len` bytes of `bytes`, left to right, each equal to [`ref_hash`] of the window.
pub(crate) struct RollingRef<'b> {
    bytes: &'b [u8],
    len: usize,
    next_start: usize,
    hash: u64,
    /// REF_BASE^(len-1): the weight of the byte leaving the window.
    top: u64,
}

impl<'b> RollingRef<'b> {
    /// Windows of `len` (≥ 1) bytes.
    pub(crate) fn new(bytes: &'b [u8], len: usize) -> RollingRef<'b> {
        debug_assert!(len >= 1);
        let top = (1..len).fold(1u64, |t, _| t.wrapping_mul(REF_BASE));
        RollingRef { bytes, len, next_start: 0, hash: 0, top }
    }
}

impl Iterator for RollingRef<'_> {
    /// (start offset, hash of `bytes[start..start + len]`)
    type Item = (usize, u64);

    fn next(&mut self) -> Option<(usize, u64)> {
        let start = self.next_start;
        let end = start.checked_add(self.len)?;
        if end > self.bytes.len() {
            return None;
        }
        if start == 0 {
            self.hash = ref_hash(&self.bytes[..self.len]);
        } else {
            let out = ref_byte(self.bytes[start - 1]).wrapping_mul(self.top);
            self.hash = self.hash.wrapping_sub(out).wrapping_mul(REF_BASE).wrapping_add(ref_byte(self.bytes[end - 1]));
        }
        self.next_start += 1;
        Some((start, self.hash))
    }
}

/// A `Hasher` for keys that are already well-mixed u64s: it passes them through.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by the engine's u64 keys; kept correct for any other key type.
        for &b in bytes {
            self.0 = fmix64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A map keyed by a pre-mixed u64. Only ever looked up, never iterated into an output, so its order cannot leak.
pub(crate) type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_windows_equal_direct_hashes_case_insensitively() {
        let text = b"Payout inv-001 and INV-002";
        for len in 1..=text.len() {
            for (start, h) in RollingRef::new(text, len) {
                assert_eq!(h, ref_hash(&text[start..start + len]), "len {len} start {start}");
            }
            assert_eq!(RollingRef::new(text, len).count(), text.len() - len + 1);
        }
        assert_eq!(ref_hash(b"inv-001"), ref_hash(b"INV-001"));
        assert_ne!(ref_hash(b"INV-001"), ref_hash(b"INV-002"));
        assert_eq!(RollingRef::new(b"ab", 3).count(), 0);
    }
}
