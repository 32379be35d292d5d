//! A fast, deterministic hasher for the ledger's in-memory maps.
//!
//! Keys are ids (u32/u128). `std`'s SipHash costs ~20 ns per u128 key; this folded multiply costs
//! ~1 ns. It is deterministic (no per-process seed), which is safe for *results* because the ledger
//! never lets map iteration order influence an outcome or an encoding (encodings sort). The price
//! is that a client choosing ids adversarially could make buckets collide (HashDoS); ids come from
//! authenticated clients and the API rate-limits them (docs/ledger.md, "Data structures").

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A HashMap keyed by ids with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const K0: u64 = 0x243F_6A88_85A3_08D3; // digits of pi: arbitrary, fixed forever
const K1: u64 = 0x1319_8A2E_0370_7344;
const K2: u64 = 0xA409_3822_299F_31D0;

/// log2 of the run of consecutive ids kept in consecutive buckets (see `write_u128`).
const RUN_BITS: u32 = 8;
const RUN: u64 = 1 << RUN_BITS;

/// Folded 64×64→128 multiply: mixes every input bit into both halves of the output.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = fold(self.0 ^ u64::from_le_bytes(w) ^ K0, K2 ^ chunk.len() as u64);
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = fold(self.0 ^ v ^ K0, K1);
    }

    /// Ids are mixed in runs of [`RUN`]: the id's low bits select its place within a run, the rest
    /// is folded. Clients often choose consecutive ids (counters, ULID-style ids with a counter in the low
    /// bits); consecutive ids then land in consecutive buckets, so inserting or looking up a stream of
    /// new ids walks the table's memory instead of missing the cache once per id (measured: the
    /// miss on the control bytes was the largest single cost of applying a new transfer). Ids
    /// that differ above the run are spread as before, and ids inside one run never share a
    /// bucket, so strided or random ids are no worse off.
    #[inline]
    fn write_u128(&mut self, v: u128) {
        let lo = v as u64;
        let mixed = fold(self.0 ^ (lo >> RUN_BITS) ^ K0, ((v >> 64) as u64) ^ K1);
        self.0 = mixed.wrapping_add(lo & (RUN - 1));
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}
