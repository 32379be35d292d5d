//! Metrics per source: counters and gauges in atomics (the source tasks write them without a lock),
//! a consistent-enough [`Metrics::snapshot`] for code and tests, and Prometheus text.
//!
//! Every update also bumps a change counter that [`Metrics::wait_until`] waits on, so a test (or a
//! health check) waits for a condition instead of sleeping and hoping.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::watch;

use crate::breaker::BreakerState;
use crate::error::FailureKind;

/// Upper bounds of the request-duration histogram buckets, in milliseconds (+Inf is implied).
pub const LATENCY_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000];

/// Longest failure message kept in [`LastFailure`] (a hostile source cannot make it grow).
pub const MAX_FAILURE_MESSAGE_CHARS: usize = 512;

/// The metrics of every source of a runner. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sources: RwLock<BTreeMap<String, Arc<SourceCells>>>,
    changed: watch::Sender<u64>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner { sources: RwLock::default(), changed: watch::Sender::new(0) }
    }
}

#[derive(Debug)]
struct SourceCells {
    requests: AtomicU64,
    payloads: AtomicU64,
    observations: AtomicU64,
    failures: [AtomicU64; FailureKind::ALL.len()],
    retries: AtomicU64,
    breaker_state: AtomicU8,
    breaker_opens: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    last_success_ms: AtomicI64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    latency_sum_us: AtomicU64,
    last_failure: Mutex<Option<LastFailure>>,
    finished: AtomicU8,
}

/// Sentinel of `last_success_ms` before any success.
const NEVER: i64 = i64::MIN;

impl Default for SourceCells {
    fn default() -> Self {
        SourceCells {
            requests: AtomicU64::new(0),
            payloads: AtomicU64::new(0),
            observations: AtomicU64::new(0),
            failures: Default::default(),
            retries: AtomicU64::new(0),
            breaker_state: AtomicU8::new(BreakerState::Closed.gauge()),
            breaker_opens: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            last_success_ms: AtomicI64::new(NEVER),
            latency_buckets: Default::default(),
            latency_sum_us: AtomicU64::new(0),
            last_failure: Mutex::new(None),
            finished: AtomicU8::new(0),
        }
    }
}

/// The most recent failure of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastFailure {
    /// Its class.
    pub kind: FailureKind,
    /// When (clock ms).
    pub at_ms: i64,
    /// What and where (source, URL or file, field pointer), truncated to [`MAX_FAILURE_MESSAGE_CHARS`].
    pub message: String,
}

/// Failures by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    /// [`FailureKind::Timeout`]
    pub timeout: u64,
    /// [`FailureKind::Connect`]
    pub connect: u64,
    /// [`FailureKind::HttpStatus`]
    pub http_status: u64,
    /// [`FailureKind::Decode`]
    pub decode: u64,
    /// [`FailureKind::Closed`]
    pub closed: u64,
}

impl Failures {
    /// The count of one kind.
    pub fn get(&self, kind: FailureKind) -> u64 {
        match kind {
            FailureKind::Timeout => self.timeout,
            FailureKind::Connect => self.connect,
            FailureKind::HttpStatus => self.http_status,
            FailureKind::Decode => self.decode,
            FailureKind::Closed => self.closed,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        FailureKind::ALL.iter().map(|&k| self.get(k)).sum()
    }
}

/// Request durations: per-bucket counts (not cumulative), aligned with [`LATENCY_BUCKETS_MS`] plus
/// a last +Inf bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatencyHistogram {
    /// Counts per bucket.
    pub buckets: Vec<u64>,
    /// Sum of all durations, µs.
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// One source's metrics at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSnapshot {
    /// Requests made: HTTP requests, connection attempts, file opens.
    pub requests: u64,
    /// Payloads handed to mapping: HTTP bodies, text frames, CSV rows that parsed (a non-UTF-8
    /// body or frame, or an unreadable row, is a decode failure before it is a payload).
    pub payloads: u64,
    /// Observations that passed mapping and entered the buffer.
    pub observations: u64,
    /// Failures by kind.
    pub failures: Failures,
    /// Retries within a round, and reconnections of a stream.
    pub retries: u64,
    /// The breaker's state.
    pub breaker: BreakerState,
    /// How often the breaker opened.
    pub breaker_opens: u64,
    /// Observations dropped from the source's queue because the buffer was full.
    pub dropped: u64,
    /// Observations waiting in the source's queue.
    pub queued: u64,
    /// Clock time of the last payload that mapped, if any.
    pub last_success_ms: Option<i64>,
    /// Request (HTTP) or connect (WebSocket, file) durations, failed ones included.
    pub latency: LatencyHistogram,
    /// The most recent failure.
    pub last_failure: Option<LastFailure>,
    /// Whether the source has ended (a replay that reached its end, or a runner shut down).
    pub finished: bool,
}

/// Every source's metrics at one moment, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MetricsSnapshot {
    /// By source name.
    pub sources: BTreeMap<String, SourceSnapshot>,
}

impl MetricsSnapshot {
    /// One source's metrics.
    pub fn source(&self, name: &str) -> Option<&SourceSnapshot> {
        self.sources.get(name)
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recorder of source `name` (registered on first use).
    pub fn recorder(&self, name: &str) -> SourceRecorder {
        let cells = Arc::clone(self.inner.sources.write().entry(name.to_string()).or_default());
        SourceRecorder { cells, inner: Arc::clone(&self.inner) }
    }

    /// Every source's metrics now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let sources = self.inner.sources.read();
        MetricsSnapshot { sources: sources.iter().map(|(name, cells)| (name.clone(), cells.snapshot())).collect() }
    }

    /// Wait until `condition` holds for a snapshot (checked now and after every update). Wrap it
    /// in a timeout: it waits for as long as the condition does not hold.
    pub async fn wait_until(&self, mut condition: impl FnMut(&MetricsSnapshot) -> bool) -> MetricsSnapshot {
        let mut changes = self.inner.changed.subscribe();
        loop {
            let snapshot = self.snapshot();
            if condition(&snapshot) {
                return snapshot;
            }
            // The sender lives in `self`, so this only errs if it is dropped, which it cannot be.
            if changes.changed().await.is_err() {
                return snapshot;
            }
        }
    }

    /// The Prometheus text exposition of every source's metrics.
    pub fn render_prometheus(&self) -> String {
        let snapshot = self.snapshot();
        let mut out = String::new();
        let sources: Vec<(String, &SourceSnapshot)> =
            snapshot.sources.iter().map(|(name, s)| (format!("source=\"{}\"", escape_label(name)), s)).collect();
        let simple: [Family; 9] = [
            (
                "aurum_ingest_requests_total",
                "counter",
                "Requests made: HTTP requests, connection attempts, file opens.",
                |s| s.requests.to_string(),
            ),
            (
                "aurum_ingest_payloads_total",
                "counter",
                "Payloads handed to mapping: HTTP bodies, text frames, CSV rows.",
                |s| s.payloads.to_string(),
            ),
            ("aurum_ingest_observations_total", "counter", "Observations mapped and buffered.", |s| {
                s.observations.to_string()
            }),
            ("aurum_ingest_retries_total", "counter", "Retries within a round and stream reconnections.", |s| {
                s.retries.to_string()
            }),
            ("aurum_ingest_breaker_state", "gauge", "Circuit breaker: 0 closed, 1 open, 2 half-open.", |s| {
                s.breaker.gauge().to_string()
            }),
            ("aurum_ingest_breaker_opens_total", "counter", "Times the circuit breaker opened.", |s| {
                s.breaker_opens.to_string()
            }),
            (
                "aurum_ingest_dropped_total",
                "counter",
                "Observations dropped (oldest of the source) because the buffer was full.",
                |s| s.dropped.to_string(),
            ),
            (
                "aurum_ingest_queued",
                "gauge",
                "Observations waiting in the source's queue for room in the buffer.",
                |s| s.queued.to_string(),
            ),
            (
                "aurum_ingest_last_success_timestamp_ms",
                "gauge",
                "Clock time (unix ms) of the last payload that mapped; 0 if none.",
                |s| s.last_success_ms.unwrap_or(0).to_string(),
            ),
        ];
        for (name, kind, help, value) in simple {
            header(&mut out, name, kind, help);
            for (labels, s) in &sources {
                let _ = writeln!(out, "{name}{{{labels}}} {}", value(s));
            }
        }
        let name = "aurum_ingest_failures_total";
        header(&mut out, name, "counter", "Failures by kind: timeout, connect, http_status, decode, closed.");
        for (labels, s) in &sources {
            for kind in FailureKind::ALL {
                let _ = writeln!(out, "{name}{{{labels},kind=\"{}\"}} {}", kind.label(), s.failures.get(kind));
            }
        }
        let name = "aurum_ingest_request_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Duration of requests (HTTP) and connection attempts (WebSocket, file), failed ones included.",
        );
        for (labels, s) in &sources {
            let mut cumulative = 0;
            for (i, count) in s.latency.buckets.iter().enumerate() {
                cumulative += count;
                let le = LATENCY_BUCKETS_MS.get(i).map_or_else(|| "+Inf".to_string(), |&ms| ms_as_seconds(ms));
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let sum = s.latency.sum_us;
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}.{:06}", sum / 1_000_000, sum % 1_000_000);
            let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
        }
        out
    }
}

/// One single-valued metric family: name, type, help, and its value in a source's snapshot.
type Family = (&'static str, &'static str, &'static str, fn(&SourceSnapshot) -> String);

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Milliseconds as a decimal number of seconds, exactly (`250` → `0.25`).
fn ms_as_seconds(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 { s.to_string() } else { format!("{s}.{}", format!("{frac:03}").trim_end_matches('0')) }
}

/// A label value escaped per the exposition format.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl SourceCells {
    fn snapshot(&self) -> SourceSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let f = |k: FailureKind| load(&self.failures[k as usize]);
        let last_success = self.last_success_ms.load(Ordering::Relaxed);
        SourceSnapshot {
            requests: load(&self.requests),
            payloads: load(&self.payloads),
            observations: load(&self.observations),
            failures: Failures {
                timeout: f(FailureKind::Timeout),
                connect: f(FailureKind::Connect),
                http_status: f(FailureKind::HttpStatus),
                decode: f(FailureKind::Decode),
                closed: f(FailureKind::Closed),
            },
            retries: load(&self.retries),
            breaker: match self.breaker_state.load(Ordering::Relaxed) {
                1 => BreakerState::Open,
                2 => BreakerState::HalfOpen,
                _ => BreakerState::Closed,
            },
            breaker_opens: load(&self.breaker_opens),
            dropped: load(&self.dropped),
            queued: load(&self.queued),
            last_success_ms: (last_success != NEVER).then_some(last_success),
            latency: LatencyHistogram {
                buckets: self.latency_buckets.iter().map(load).collect(),
                sum_us: load(&self.latency_sum_us),
            },
            last_failure: self.last_failure.lock().clone(),
            finished: self.finished.load(Ordering::Relaxed) != 0,
        }
    }
}

/// The writer of one source's metrics (held by that source's tasks).
#[derive(Debug, Clone)]
pub struct SourceRecorder {
    cells: Arc<SourceCells>,
    inner: Arc<Inner>,
}

impl SourceRecorder {
    fn add(&self, cell: &AtomicU64, n: u64) {
        cell.fetch_add(n, Ordering::Relaxed);
        self.bump();
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A request (or connection attempt, or file open) is being made.
    pub fn request(&self) {
        self.add(&self.cells.requests, 1);
    }

    /// A payload arrived.
    pub fn payload(&self) {
        self.add(&self.cells.payloads, 1);
    }

    /// Observations entered the source's queue.
    pub fn observations(&self, n: u64) {
        self.add(&self.cells.observations, n);
    }

    /// A payload mapped, at clock time `at_ms`.
    pub fn success(&self, at_ms: i64) {
        self.cells.last_success_ms.store(at_ms, Ordering::Relaxed);
        self.bump();
    }

    /// A failure of `kind` at clock time `at_ms`, described by `message`.
    pub fn failure(&self, kind: FailureKind, at_ms: i64, message: &str) {
        let message = match message.char_indices().nth(MAX_FAILURE_MESSAGE_CHARS) {
            Some((cut, _)) => format!("{}…", &message[..cut]),
            None => message.to_string(),
        };
        *self.cells.last_failure.lock() = Some(LastFailure { kind, at_ms, message });
        self.add(&self.cells.failures[kind as usize], 1);
    }

    /// A retry (or reconnection) is scheduled.
    pub fn retry(&self) {
        self.add(&self.cells.retries, 1);
    }

    /// The breaker is in `state`; `opened` when it just opened.
    pub fn breaker(&self, state: BreakerState, opened: bool) {
        self.cells.breaker_state.store(state.gauge(), Ordering::Relaxed);
        if opened {
            self.cells.breaker_opens.fetch_add(1, Ordering::Relaxed);
        }
        self.bump();
    }

    /// Observations were dropped for want of room.
    pub fn dropped(&self, n: u64) {
        self.add(&self.cells.dropped, n);
    }

    /// The source's queue holds `depth` observations.
    pub fn queued(&self, depth: usize) {
        self.cells.queued.store(depth as u64, Ordering::Relaxed);
        self.bump();
    }

    /// A request (or connect) took `elapsed`.
    pub fn latency(&self, elapsed: Duration) {
        let ms = elapsed.as_millis();
        let bucket = LATENCY_BUCKETS_MS.iter().position(|&b| ms <= u128::from(b)).unwrap_or(LATENCY_BUCKETS_MS.len());
        self.cells.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.cells.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        self.bump();
    }

    /// The source has ended.
    pub fn finished(&self) {
        self.cells.finished.store(1, Ordering::Relaxed);
        self.bump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_family_and_escapes_labels() {
        let m = Metrics::new();
        let r = m.recorder("gold \"a\"");
        r.request();
        r.failure(FailureKind::Timeout, 5, "slow");
        r.latency(Duration::from_millis(30));
        r.latency(Duration::from_secs(60));
        r.breaker(BreakerState::Open, true);
        let text = m.render_prometheus();
        assert!(text.contains("aurum_ingest_requests_total{source=\"gold \\\"a\\\"\"} 1"), "{text}");
        assert!(text.contains("kind=\"timeout\"} 1"));
        assert!(text.contains("aurum_ingest_breaker_state{source=\"gold \\\"a\\\"\"} 1"));
        assert!(text.contains("le=\"0.025\"} 0"));
        assert!(text.contains("le=\"0.05\"} 1"));
        assert!(text.contains("le=\"10\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("aurum_ingest_request_duration_seconds_sum{source=\"gold \\\"a\\\"\"} 60.030000"));
        let snap = m.snapshot();
        let s = snap.source("gold \"a\"").unwrap();
        assert_eq!(s.breaker_opens, 1);
        assert_eq!(s.latency.count(), 2);
        assert_eq!(s.last_failure.as_ref().unwrap().message, "slow");
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(ms_as_seconds(1), "0.001");
        assert_eq!(ms_as_seconds(250), "0.25");
        assert_eq!(ms_as_seconds(2_500), "2.5");
        assert_eq!(ms_as_seconds(10_000), "10");
    }
}
