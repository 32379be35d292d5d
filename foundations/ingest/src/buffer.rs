//! The bounded buffer between the sources and the consumer, in two tiers:
//!
//! 1. one shared `tokio::sync::mpsc` channel of `buffer_capacity` observations, which the consumer
//!    reads;
//! 2. before it, one small queue per source of `queue_capacity` observations, moved into the
//!    channel by that source's forwarder task as room appears.
//!
//! When the channel is full, a source's observations wait in its own queue; when that queue is full
//! too, the policy of the source decides ([`Overflow`]): a live source **drops its own oldest
//! observation** and counts it (a price is worth less the older it is, and one flooding source
//! never evicts another's data), a replay **waits** (backpressure: a backtest must not lose rows).
//! Memory is bounded by `buffer_capacity + Σ queue_capacity` observations.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};

use crate::metrics::SourceRecorder;
use crate::observation::Observation;

/// Largest shared buffer accepted.
pub const MAX_BUFFER_CAPACITY: usize = 1_000_000;
/// Largest per-source queue accepted.
pub const MAX_QUEUE_CAPACITY: usize = 100_000;
/// Per-source queue capacity when none is configured.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;

/// What a source does when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Drop the source's oldest queued observation and count it (`dropped`). The default of live
    /// sources (HTTP, WebSocket).
    DropOldest,
    /// Wait until there is room (the source stops reading). The default of replays (CSV).
    Block,
}

/// The consumer is gone (or the runner shut down): nothing will be read any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// One source's queue. One producer (the source task) and one consumer (its forwarder).
#[derive(Debug)]
pub struct SourceQueue {
    capacity: usize,
    /// The `queued` gauge, written under the lock so that it is never left stale.
    metrics: SourceRecorder,
    overflow: Overflow,
    state: Mutex<State>,
    /// An item was pushed or the queue closed (for the forwarder).
    ready: Notify,
    /// An item was popped or the queue closed (for a blocked producer).
    room: Notify,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Observation>,
    closed: bool,
}

impl SourceQueue {
    /// A queue of `capacity` (≥ 1) observations whose depth is reported to `metrics`.
    pub fn new(capacity: usize, overflow: Overflow, metrics: SourceRecorder) -> Self {
        SourceQueue {
            capacity: capacity.max(1),
            metrics,
            overflow,
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            room: Notify::new(),
        }
    }

    /// Queue `obs`, applying the overflow policy. Returns how many observations were dropped to
    /// make room (0 or 1).
    pub async fn push(&self, obs: Observation) -> Result<u64, Closed> {
        let mut obs = Some(obs);
        loop {
            {
                let mut state = self.state.lock();
                if state.closed {
                    return Err(Closed);
                }
                let mut dropped = 0;
                if state.items.len() >= self.capacity {
                    match self.overflow {
                        Overflow::DropOldest => {
                            state.items.pop_front();
                            dropped = 1;
                        }
                        Overflow::Block => {}
                    }
                }
                if state.items.len() < self.capacity {
                    if let Some(obs) = obs.take() {
                        state.items.push_back(obs);
                    }
                    self.metrics.queued(state.items.len());
                    drop(state);
                    self.ready.notify_one();
                    return Ok(dropped);
                }
            }
            // Only `Block` gets here. `notify_one` stores a permit if the forwarder popped between
            // the check above and this wait, so no wake-up is lost.
            self.room.notified().await;
        }
    }

    /// Wait for an item; `false` once the queue is closed and empty.
    pub async fn wait_ready(&self) -> bool {
        loop {
            {
                let state = self.state.lock();
                if !state.items.is_empty() {
                    return true;
                }
                if state.closed {
                    return false;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Take the oldest item.
    pub fn pop(&self) -> Option<Observation> {
        let item = {
            let mut state = self.state.lock();
            let item = state.items.pop_front();
            self.metrics.queued(state.items.len());
            item
        };
        self.room.notify_one();
        item
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.state.lock().items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more pushes: the producer ended, or nothing will be consumed any more.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_one();
        self.room.notify_one();
    }

    /// Close and discard what is queued (the consumer is gone).
    fn close_and_clear(&self) {
        {
            let mut state = self.state.lock();
            state.closed = true;
            state.items.clear();
            self.metrics.queued(0);
        }
        self.ready.notify_one();
        self.room.notify_one();
    }
}

/// Move a source's queued observations into the shared channel, oldest first, as room appears.
/// Room is reserved *before* an observation leaves the queue, so while the channel is full every
/// waiting observation stays where the drop-oldest policy can reach it. Ends when the queue is
/// closed and drained, or when the consumer is gone.
pub async fn forward(queue: Arc<SourceQueue>, tx: mpsc::Sender<Observation>) {
    while queue.wait_ready().await {
        let Ok(permit) = tx.reserve().await else {
            queue.close_and_clear();
            break;
        };
        // Only this task pops, and a drop-oldest push leaves the queue non-empty, so this is the
        // item `wait_ready` saw or an older one's successor.
        if let Some(obs) = queue.pop() {
            permit.send(obs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    fn queue(capacity: usize, overflow: Overflow) -> SourceQueue {
        SourceQueue::new(capacity, overflow, Metrics::new().recorder("s"))
    }

    fn obs(i: i64) -> Observation {
        Observation {
            source: "s".into(),
            symbol: "X".into(),
            value: Some(i.to_string()),
            text: None,
            observed_at_ms: i,
            received_at_ms: i,
            signature: None,
        }
    }

    #[tokio::test]
    async fn drop_oldest_keeps_the_newest() {
        let q = queue(2, Overflow::DropOldest);
        assert_eq!(q.push(obs(1)).await, Ok(0));
        assert_eq!(q.push(obs(2)).await, Ok(0));
        assert_eq!(q.push(obs(3)).await, Ok(1));
        assert_eq!(q.pop().map(|o| o.observed_at_ms), Some(2));
        assert_eq!(q.pop().map(|o| o.observed_at_ms), Some(3));
        q.close();
        assert!(!q.wait_ready().await);
        assert_eq!(q.push(obs(4)).await, Err(Closed));
    }

    #[tokio::test]
    async fn block_waits_for_room() {
        let q = Arc::new(queue(1, Overflow::Block));
        q.push(obs(1)).await.unwrap();
        let q2 = Arc::clone(&q);
        let producer = tokio::spawn(async move { q2.push(obs(2)).await });
        // The producer cannot finish until there is room; popping makes room.
        assert!(q.wait_ready().await);
        assert_eq!(q.pop().map(|o| o.observed_at_ms), Some(1));
        assert_eq!(producer.await.unwrap(), Ok(0));
        assert_eq!(q.pop().map(|o| o.observed_at_ms), Some(2));
    }
}
