//! Time as the runner sees it: injected so that schedules (poll intervals, backoff delays, breaker
//! cool-downs, replay pacing) and timestamps are testable without sleeping. A test drives a
//! [`ManualClock`] and waits for the runner to be *parked on it* ([`ManualClock::next_sleeper`])
//! instead of guessing how long the runner needs.
//!
//! Request and message timeouts are deliberately not on this clock: they bound real I/O with a real
//! peer, so they run on tokio's timer (see `docs/ingest.md`).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A boxed, sendable future (what the object-safe traits of this crate return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Wall-clock time in unix milliseconds, and waiting on it.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Now, in ms since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// A future that resolves once [`Clock::now_ms`] ≥ `deadline_ms`.
    fn sleep_until(&self, deadline_ms: i64) -> BoxFuture<'static, ()>;

    /// A future that resolves after `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep_until(self.now_ms().saturating_add(duration_ms(duration)))
    }
}

/// A duration in whole milliseconds, saturating.
pub fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The system clock; waits run on tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, duration_ms)
    }

    fn sleep_until(&self, deadline_ms: i64) -> BoxFuture<'static, ()> {
        let wait = deadline_ms.saturating_sub(self.now_ms()).max(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(wait as u64)))
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        // Monotonic: a wall-clock step does not stretch a relative wait.
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to. Every pending wait is registered with its deadline, so a
/// test can see that the runner is parked and jump exactly to where it is waiting.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    now: watch::Sender<i64>,
    /// Pending waits: id → deadline.
    sleepers: watch::Sender<BTreeMap<u64, i64>>,
    next_id: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        ManualClock {
            inner: Arc::new(ManualInner {
                now: watch::Sender::new(now_ms),
                sleepers: watch::Sender::new(BTreeMap::new()),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// Set the time (waits whose deadline has come resolve).
    pub fn set(&self, now_ms: i64) {
        self.inner.now.send_replace(now_ms);
    }

    /// Move the time forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.inner.now.send_modify(|t| *t = t.saturating_add(ms));
    }

    /// Deadlines of the pending waits, earliest first.
    pub fn sleepers(&self) -> Vec<i64> {
        let mut d: Vec<i64> = self.inner.sleepers.borrow().values().copied().collect();
        d.sort_unstable();
        d
    }

    /// Wait until some task waits on this clock for a time still to come; the earliest such
    /// deadline. (A wait whose deadline has come is resolving by itself and is not counted.)
    pub async fn next_sleeper(&self) -> i64 {
        let pending = |m: &BTreeMap<u64, i64>| {
            let now = self.now_ms();
            m.values().copied().filter(|&d| d > now).min()
        };
        let mut rx = self.inner.sleepers.subscribe();
        loop {
            if let Some(deadline) = pending(&rx.borrow_and_update()) {
                return deadline;
            }
            // The sender lives in `self.inner`, so this cannot fail while `self` exists.
            if rx.changed().await.is_err() {
                return self.now_ms();
            }
        }
    }

    /// Wait until some task waits on this clock, then move the time to the earliest pending
    /// deadline (never backwards). Returns the new time.
    pub async fn advance_to_next_sleeper(&self) -> i64 {
        let deadline = self.next_sleeper().await;
        self.inner.now.send_modify(|t| *t = (*t).max(deadline));
        self.now_ms()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.inner.now.borrow()
    }

    fn sleep_until(&self, deadline_ms: i64) -> BoxFuture<'static, ()> {
        // Registered now, not at first poll: once `sleep_until` returns, a test can see the wait.
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.sleepers.send_modify(|m| {
            m.insert(id, deadline_ms);
        });
        let guard = Registration { inner: Arc::clone(&self.inner), id };
        let mut now = self.inner.now.subscribe();
        Box::pin(async move {
            let _ = now.wait_for(|t| *t >= deadline_ms).await;
            drop(guard);
        })
    }
}

/// Removes a wait from the registry when it resolves or is dropped (cancelled).
struct Registration {
    inner: Arc<ManualInner>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.inner.sleepers.send_modify(|m| {
            m.remove(&self.id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleeps_resolve_only_when_time_reaches_them() {
        let clock = ManualClock::new(1_000);
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        let task = tokio::spawn(async move {
            c.sleep(Duration::from_millis(500)).await;
            c.now_ms()
        });
        assert_eq!(clock.next_sleeper().await, 1_500);
        clock.advance(499);
        assert_eq!(clock.sleepers(), vec![1_500]);
        assert_eq!(clock.advance_to_next_sleeper().await, 1_500);
        assert_eq!(task.await.unwrap(), 1_500);
        assert!(clock.sleepers().is_empty());
    }

    #[test]
    fn dropped_sleeps_unregister() {
        let clock = ManualClock::new(0);
        let wait = clock.sleep_until(10);
        assert_eq!(clock.sleepers(), vec![10]);
        drop(wait);
        assert!(clock.sleepers().is_empty());
    }
}
