//! A broadcast "something changed" signal: a generation counter and a condvar. Consumers that
//! watch several partitions wait on it instead of polling.

use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// A generation counter that waiters can block on.
#[derive(Debug, Default)]
pub struct Signal {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    /// The current generation.
    pub fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Bump the generation and wake every waiter.
    pub fn notify(&self) {
        *self.generation.lock() += 1;
        self.cv.notify_all();
    }

    /// Wait until the generation differs from `seen` or `deadline` passes; returns the generation.
    pub fn wait_past(&self, seen: u64, deadline: Instant) -> u64 {
        let mut g = self.generation.lock();
        while *g == seen {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                break;
            }
        }
        *g
    }
}
