//! The runner: one task per source that applies the policies (timeout, retries with backoff, the
//! circuit breaker, replay pacing), maps payloads to observations, and queues them; one forwarder
//! task per source that moves them into the shared buffer ([`crate::buffer`]).
//!
//! Per source, one *attempt* is one request (polled) or one connection, and every outcome of every
//! attempt — a request, a connection, each frame — feeds the breaker: a success closes it, a failure
//! counts toward opening it. Polled sources work in *rounds* (one per `interval`, fixed rate): up
//! to `max_attempts` attempts, the next one after a backoff delay, stopping early when the error is
//! not worth retrying or the breaker opened. Streams reconnect after a backoff delay that grows
//! with the disconnections that delivered nothing; a file replay opens up to `max_attempts` times
//! and ends at the end of the file.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::backoff::{Backoff, RetryPolicy, seed_for};
use crate::breaker::{Admission, Breaker, BreakerPolicy};
use crate::buffer::{
    self, Closed, DEFAULT_QUEUE_CAPACITY, MAX_BUFFER_CAPACITY, MAX_QUEUE_CAPACITY, Overflow, SourceQueue,
};
use crate::clock::{Clock, duration_ms};
use crate::error::{ConfigError, ConfigProblem, SourceError};
use crate::mapping::FieldMap;
use crate::metrics::{Metrics, SourceRecorder};
use crate::observation::Observation;
use crate::source::{PayloadStream, PolledSource, Source, StreamSource};

/// Longest source name.
pub const MAX_SOURCE_NAME_CHARS: usize = 64;
/// Longest request, connect or message timeout (ten minutes).
pub const MAX_TIMEOUT_MS: u64 = 600_000;
/// Longest poll interval (one day).
pub const MAX_INTERVAL_MS: u64 = 86_400_000;

/// How the runner drives one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Bound on one request (HTTP: connect, headers and body) or one connection attempt
    /// (WebSocket handshake and subscribe; file open). Real time: it bounds real I/O.
    pub timeout: Duration,
    /// Streams: the longest silence between two frames before the connection is considered dead
    /// and replaced (counted as a timeout); `None` waits forever. Real time.
    pub message_timeout: Option<Duration>,
    /// Polled sources: time between the starts of two rounds (clock time).
    pub interval: Duration,
    /// Retries and their delays.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub breaker: BreakerPolicy,
    /// Observations the source may queue while the shared buffer is full.
    pub queue_capacity: usize,
    /// What happens when that queue is full.
    pub overflow: Overflow,
    /// Replay pacing.
    pub pace: Pace,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(5),
            message_timeout: Some(Duration::from_secs(60)),
            interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            overflow: Overflow::DropOldest,
            pace: Pace::AsFastAsConsumed,
        }
    }
}

/// How fast a replay emits its observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as the consumer takes them (with [`Overflow::Block`], nothing is lost).
    AsFastAsConsumed,
    /// The gaps between the observations' own timestamps, divided by this factor, in clock time
    /// (1 = as it happened, 60 = a minute per second).
    Speed(NonZeroU32),
}

impl Policy {
    /// Check the limits.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        check_limit("timeout_ms", ms(self.timeout), 1, MAX_TIMEOUT_MS)?;
        if let Some(t) = self.message_timeout {
            check_limit("message_timeout_ms", ms(t), 1, MAX_TIMEOUT_MS)?;
        }
        check_limit("interval_ms", ms(self.interval), 1, MAX_INTERVAL_MS)?;
        check_limit("queue_capacity", self.queue_capacity as u64, 1, MAX_QUEUE_CAPACITY as u64)?;
        self.retry.validate()?;
        self.breaker.validate()?;
        Ok(())
    }
}

pub(crate) fn check_limit(setting: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigProblem> {
    if (min..=max).contains(&value) { Ok(()) } else { Err(ConfigProblem::Limit { setting, value, min, max }) }
}

/// A source to run: its name, what it is, how its payloads map, and its policy.
#[derive(Debug)]
pub struct SourceSpec {
    /// Unique name; becomes [`Observation::source`] and the metrics label.
    pub name: String,
    /// The source.
    pub source: Source,
    /// Payload → observations.
    pub fields: FieldMap,
    /// Timeouts, retries, breaker, queue.
    pub policy: Policy,
}

/// Running sources: the consumer's end of the buffer, the metrics, and the runner that owns the
/// tasks.
#[derive(Debug)]
pub struct Ingestion {
    /// Observations of every source. Yields `None` once every source has ended (only replays end
    /// by themselves) or the runner has shut down.
    pub observations: mpsc::Receiver<Observation>,
    /// Per-source metrics.
    pub metrics: Metrics,
    /// The tasks. Dropping it stops every source.
    pub runner: Runner,
}

/// Owns the source and forwarder tasks. Dropping it stops them (at their next await point).
#[derive(Debug)]
#[must_use = "dropping the Runner stops every source"]
pub struct Runner {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    metrics: Metrics,
}

impl Runner {
    /// The metrics of the sources.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether every task has ended.
    pub fn is_finished(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }

    /// Stop every source and wait for its tasks. Observations already in the shared buffer stay
    /// readable; those still in a source's queue are discarded.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Start `specs`, sharing a buffer of `buffer_capacity` observations. Validates everything first:
/// on an error nothing has been started. Must be called inside a tokio runtime.
pub fn start(specs: Vec<SourceSpec>, clock: Arc<dyn Clock>, buffer_capacity: usize) -> Result<Ingestion, ConfigError> {
    if !(1..=MAX_BUFFER_CAPACITY).contains(&buffer_capacity) {
        return Err(ConfigError::BufferCapacity(buffer_capacity));
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
    let mut names = std::collections::BTreeSet::new();
    for spec in &specs {
        let invalid = |problem| ConfigError::Source { name: spec.name.clone(), problem };
        if spec.name.is_empty()
            || spec.name.chars().count() > MAX_SOURCE_NAME_CHARS
            || spec.name.chars().any(char::is_control)
        {
            return Err(invalid(ConfigProblem::Name));
        }
        if !names.insert(spec.name.as_str()) {
            return Err(ConfigError::DuplicateName(spec.name.clone()));
        }
        spec.fields.validate().map_err(|e| invalid(e.into()))?;
        spec.policy.validate().map_err(invalid)?;
    }

    let (tx, rx) = mpsc::channel(buffer_capacity);
    let metrics = Metrics::new();
    let (shutdown, _) = watch::channel(false);
    let recorders: Vec<SourceRecorder> = specs.iter().map(|s| metrics.recorder(&s.name)).collect();
    let mut tasks = Vec::with_capacity(specs.len() * 2);
    for (spec, recorder) in specs.into_iter().zip(recorders) {
        let queue = Arc::new(SourceQueue::new(spec.policy.queue_capacity, spec.policy.overflow, recorder.clone()));
        let seed = spec.policy.retry.seed.unwrap_or_else(|| seed_for(&spec.name));
        let mut driver = Driver {
            target: spec.source.target().to_string(),
            backoff: Backoff::new(spec.policy.retry.clone(), seed),
            breaker: Breaker::new(spec.policy.breaker.clone()),
            name: spec.name,
            fields: spec.fields,
            policy: spec.policy,
            clock: Arc::clone(&clock),
            metrics: recorder,
            queue: Arc::clone(&queue),
            pace_anchor: None,
        };
        let mut source = spec.source;
        let stop = shutdown.subscribe();
        tasks.push(runtime.spawn(async move {
            tokio::select! {
                () = stopped(stop) => {}
                _ = driver.run(&mut source) => {}
            }
            driver.queue.close();
            driver.metrics.finished();
        }));
        let stop = shutdown.subscribe();
        let tx = tx.clone();
        tasks.push(runtime.spawn(async move {
            tokio::select! {
                () = stopped(stop) => {}
                () = buffer::forward(queue, tx) => {}
            }
        }));
    }
    Ok(Ingestion { observations: rx, metrics: metrics.clone(), runner: Runner { shutdown, tasks, metrics } })
}

/// Resolves when the runner shuts down (or is dropped).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// How a connection of a stream ended.
enum StreamEnd {
    /// A finite source reached its end.
    Finished,
    /// The connection was lost or dropped; `delivered` if it yielded data first.
    Lost { delivered: bool },
}

/// One source's task state.
struct Driver {
    name: String,
    target: String,
    fields: FieldMap,
    policy: Policy,
    clock: Arc<dyn Clock>,
    metrics: SourceRecorder,
    queue: Arc<SourceQueue>,
    backoff: Backoff,
    breaker: Breaker,
    /// Replay pacing: (first observation's timestamp, clock time it was emitted).
    pace_anchor: Option<(i64, i64)>,
}

impl Driver {
    /// Drive the source until the consumer is gone (or a finite source ends).
    async fn run(&mut self, source: &mut Source) -> Result<(), Closed> {
        match source {
            Source::Polled(s) => self.run_polled(s.as_mut()).await,
            Source::Streamed(s) => self.run_streamed(s.as_mut()).await,
        }
    }

    async fn run_polled(&mut self, source: &mut dyn PolledSource) -> Result<(), Closed> {
        let interval_ms = duration_ms(self.policy.interval);
        loop {
            let first_request_at = self.round(source).await?;
            // Fixed rate from the round's first request (not from before a breaker wait, which would
            // make the poll after a recovery immediate); a round that overran its interval is
            // followed at once, never by a burst of catch-up polls.
            let next = first_request_at.saturating_add(interval_ms);
            if next > self.clock.now_ms() {
                self.clock.sleep_until(next).await;
            }
        }
    }

    /// One round of a polled source: attempts until one succeeds, the error is not retryable,
    /// the breaker opens, or `max_attempts` is reached. Returns the clock time of its first request.
    async fn round(&mut self, source: &mut dyn PolledSource) -> Result<i64, Closed> {
        let max_attempts = self.backoff.policy().max_attempts;
        let mut first_request_at = None;
        for attempt in 1..=max_attempts {
            self.admit().await;
            first_request_at.get_or_insert(self.clock.now_ms());
            self.metrics.request();
            let started = Instant::now();
            let fetched = match tokio::time::timeout(self.policy.timeout, source.fetch()).await {
                Ok(result) => result,
                Err(_) => Err(self.timeout_error(self.policy.timeout)),
            };
            self.metrics.latency(started.elapsed());
            let error = match fetched {
                Ok(payload) => match self.deliver(payload).await? {
                    Ok(()) => break,
                    Err(e) => e,
                },
                Err(e) => e,
            };
            let opened = self.fail(&error);
            if opened || !error.is_retryable() || attempt == max_attempts {
                break;
            }
            self.metrics.retry();
            let delay = self.backoff.delay(attempt);
            self.clock.sleep(delay).await;
        }
        Ok(first_request_at.unwrap_or_else(|| self.clock.now_ms()))
    }

    async fn run_streamed(&mut self, source: &mut dyn StreamSource) -> Result<(), Closed> {
        let finite = source.is_finite();
        let max_attempts = self.backoff.policy().max_attempts;
        // Consecutive connections that delivered nothing: the backoff exponent.
        let mut fruitless = 0u32;
        loop {
            self.admit().await;
            self.metrics.request();
            let started = Instant::now();
            let connected = match tokio::time::timeout(self.policy.timeout, source.connect()).await {
                Ok(result) => result,
                Err(_) => Err(self.timeout_error(self.policy.timeout)),
            };
            self.metrics.latency(started.elapsed());
            match connected {
                Ok(mut stream) => {
                    let end = self.read_stream(stream.as_mut(), finite).await?;
                    // A finite source is never reopened once read from: it would replay from the start.
                    if finite {
                        return Ok(());
                    }
                    if let StreamEnd::Lost { delivered: true } = end {
                        fruitless = 0;
                    }
                }
                Err(error) => {
                    self.fail(&error);
                }
            }
            fruitless = fruitless.saturating_add(1);
            if finite && fruitless >= max_attempts {
                return Ok(());
            }
            self.metrics.retry();
            let delay = self.backoff.delay(fruitless);
            self.clock.sleep(delay).await;
        }
    }

    /// Read one connection until it ends, is lost, or must be dropped.
    async fn read_stream(&mut self, stream: &mut dyn PayloadStream, finite: bool) -> Result<StreamEnd, Closed> {
        let mut delivered = false;
        loop {
            let next = match self.policy.message_timeout {
                Some(limit) => match tokio::time::timeout(limit, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => Some(Err(self.timeout_error(limit))),
                },
                None => stream.next().await,
            };
            let error = match next {
                None if finite => return Ok(StreamEnd::Finished),
                None => SourceError::Closed { target: self.target.clone(), reason: "the peer ended the stream".into() },
                Some(Ok(payload)) => match self.deliver(payload).await? {
                    Ok(()) => {
                        delivered = true;
                        continue;
                    }
                    Err(e) => e,
                },
                Some(Err(e)) => e,
            };
            // An open breaker means the source is not to be used: the connection goes too.
            let opened = self.fail(&error);
            if opened || error.ends_stream() {
                return Ok(StreamEnd::Lost { delivered });
            }
        }
    }

    /// Map a payload and queue its observations. The outer `Err` means the consumer is gone; the
    /// inner one that the payload did not map (nothing of it was queued).
    async fn deliver(&mut self, payload: String) -> Result<Result<(), SourceError>, Closed> {
        self.metrics.payload();
        let received_at_ms = self.clock.now_ms();
        let observations = match self.fields.apply(&payload, &self.name, received_at_ms) {
            Ok(obs) => obs,
            Err(error) => return Ok(Err(SourceError::Mapping { target: self.target.clone(), error })),
        };
        let count = observations.len() as u64;
        for mut obs in observations {
            if let Pace::Speed(speed) = self.policy.pace {
                obs.received_at_ms = self.pace(obs.observed_at_ms, speed).await;
            }
            let dropped = self.queue.push(obs).await?;
            if dropped > 0 {
                self.metrics.dropped(dropped);
            }
        }
        self.metrics.observations(count);
        self.breaker.on_success();
        self.metrics.breaker(self.breaker.state(), false);
        self.metrics.success(received_at_ms);
        Ok(Ok(()))
    }

    /// Wait until the clock time at which an observation timed `observed_at_ms` is due; returns
    /// that time. Anchored at the first observation, so waits do not accumulate drift.
    async fn pace(&mut self, observed_at_ms: i64, speed: NonZeroU32) -> i64 {
        let now = self.clock.now_ms();
        let Some((first_observed, first_emitted)) = self.pace_anchor else {
            self.pace_anchor = Some((observed_at_ms, now));
            return now;
        };
        let due = first_emitted.saturating_add(observed_at_ms.saturating_sub(first_observed) / i64::from(speed.get()));
        if due > now {
            self.clock.sleep_until(due).await;
        }
        self.clock.now_ms()
    }

    /// Wait until the breaker lets a request through (while open: no requests, just the wait).
    async fn admit(&mut self) {
        loop {
            match self.breaker.admit(self.clock.now_ms()) {
                Admission::Go => {
                    self.metrics.breaker(self.breaker.state(), false);
                    return;
                }
                Admission::WaitUntil(until_ms) => self.clock.sleep_until(until_ms).await,
            }
        }
    }

    /// Count a failure; returns whether it opened the breaker.
    fn fail(&mut self, error: &SourceError) -> bool {
        let now = self.clock.now_ms();
        self.metrics.failure(error.kind(), now, &format!("source {:?}: {error}", self.name));
        let opened = self.breaker.on_failure(now);
        self.metrics.breaker(self.breaker.state(), opened);
        opened
    }

    fn timeout_error(&self, after: Duration) -> SourceError {
        SourceError::Timeout {
            target: self.target.clone(),
            after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        }
    }
}
