//! Exact comparison of two states' canonical encodings without hashing them.
//!
//! The audit ends by comparing the replayed state with the live one. Hashing both encodings
//! (SHA-256 over hundreds of MB) costs several times more than producing them, so when both
//! states are at hand the encodings are compared byte for byte instead: `other`'s is produced on
//! a second thread in [`CHUNK_BYTES`] pieces and compared with `self`'s as it is produced. Equal
//! encodings mean equal [`Ledger::digest`]s, so a caller that already holds one state's digest
//! knows the other's.

use std::sync::mpsc;

use super::Ledger;
use super::snapshot::{CHUNK_BYTES, encode_chunked};

/// Chunks of `other`'s encoding in flight between the two threads (a bound on memory:
/// about `IN_FLIGHT × 2 × CHUNK_BYTES`).
const IN_FLIGHT: usize = 8;

/// Whether `a` and `b` encode to the same bytes.
pub(crate) fn same_encoding(a: &Ledger, b: &Ledger) -> bool {
    std::thread::scope(|s| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        // Emptied buffers go back to the producer: no allocation per chunk.
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        s.spawn(move || {
            let mut out = Vec::with_capacity(2 * CHUNK_BYTES);
            encode_chunked(b, &mut out, &mut |chunk| {
                let next = empty_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(2 * CHUNK_BYTES));
                // A send fails once the comparison has stopped at a difference: the rest is
                // produced unread (no early exit from the encoder), bounded by one encoding.
                let _ = full_tx.send(std::mem::replace(chunk, next));
            });
            let _ = full_tx.send(out);
        });
        let mut theirs = Stream { rx: full_rx, recycle: empty_tx, chunk: Vec::new(), at: 0 };
        let mut equal = true;
        let mut out = Vec::with_capacity(2 * CHUNK_BYTES);
        encode_chunked(a, &mut out, &mut |chunk| {
            equal = equal && theirs.consume(chunk);
            chunk.clear();
        });
        equal = equal && theirs.consume(&out) && theirs.at_end();
        drop(theirs); // unblocks the producer if it is still sending
        equal
    })
}

/// The other encoding, as a byte stream over the chunks received.
struct Stream {
    rx: mpsc::Receiver<Vec<u8>>,
    recycle: mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Stream {
    /// Whether the next `mine.len()` bytes of the stream equal `mine`.
    fn consume(&mut self, mut mine: &[u8]) -> bool {
        while !mine.is_empty() {
            if self.at == self.chunk.len() && !self.next_chunk() {
                return false; // theirs is shorter
            }
            let n = mine.len().min(self.chunk.len() - self.at);
            if mine[..n] != self.chunk[self.at..self.at + n] {
                return false;
            }
            self.at += n;
            mine = &mine[n..];
        }
        true
    }

    /// Whether every byte of the stream has been consumed.
    fn at_end(&mut self) -> bool {
        while self.at == self.chunk.len() {
            if !self.next_chunk() {
                return true;
            }
        }
        false
    }

    fn next_chunk(&mut self) -> bool {
        match self.rx.recv() {
            Ok(next) => {
                let mut done = std::mem::replace(&mut self.chunk, next);
                done.clear();
                let _ = self.recycle.send(done);
                self.at = 0;
                true
            }
            Err(_) => false,
        }
    }
}
