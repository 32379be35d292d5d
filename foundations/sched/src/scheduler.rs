//! The scheduler: creates runs when their slots come, starts tasks when their upstreams have
//! succeeded and a slot is free, retries failed attempts after a backoff, fails attempts that
//! overrun their timeout, and records every change in the KV store before acting on it.
//!
//! It is driven by [`Scheduler::tick`] with the time of its [`Clock`], so tests move a manual
//! clock and tick; [`Scheduler::run_until_stopped`] is the daemon loop. Task attempts run on
//! their own threads and report back through a channel that the next tick reads.
//!
//! **Never twice.** A schedule slot becomes a run in the same write that moves its DAG's
//! `last_scheduled_ms` past it, so no slot is created twice. An attempt is recorded `running`
//! before its thread starts; an attempt found `running` when the scheduler opens was interrupted
//! by a stop or crash and counts as failed (its result is unknown) — it is retried only if the
//! task's retry policy has an attempt left, like any failure, and never silently re-run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use aurum_kv::Db;
use aurum_retry::{Backoff, seed_for};

use crate::error::SchedError;
use crate::model::{
    Attempt, CatchUp, DagRun, DagSpec, JobContext, JobFn, RunState, TaskInstance, TaskState, Trigger, bounded,
};
use crate::store::{DagState, Store};

/// Most runs one tick creates for one DAG's missed slots (the rest follow on later ticks with
/// [`CatchUp::All`]; with [`CatchUp::LatestOnly`] older skipped slots beyond it are not recorded).
pub const MAX_CATCH_UP_RUNS: usize = 1000;
/// Most task attempts running at once that a configuration may ask for.
pub const MAX_PARALLEL_TASKS_LIMIT: usize = 64;
/// Final runs kept per DAG by default (older ones are deleted as new ones finish).
pub const DEFAULT_HISTORY_PER_DAG: usize = 500;
/// Longest the daemon loop sleeps between ticks (it wakes sooner for a slot, a retry, a timeout
/// or a finished attempt).
pub const MAX_IDLE_WAIT: Duration = Duration::from_secs(30);

// The scheduler's time: the log's `Clock` (ms since the epoch), so one manual clock drives
// both in a test.
pub use aurum_log::{Clock, ManualClock, SystemClock};

/// Limits and seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Task attempts running at once, over all DAGs (1 ..= [`MAX_PARALLEL_TASKS_LIMIT`]).
    pub max_parallel_tasks: usize,
    /// Seed of the retry jitter (delays are a function of it, the task and the attempt).
    pub seed: u64,
    /// Final runs kept per DAG.
    pub history_per_dag: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig { max_parallel_tasks: 4, seed: 0x5eed, history_per_dag: DEFAULT_HISTORY_PER_DAG }
    }
}

/// What one tick (or several) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Runs created for schedule slots or triggers.
    pub created: usize,
    /// Runs recorded as skipped by the catch-up policy.
    pub skipped: usize,
    /// Older skipped slots not recorded (beyond [`MAX_CATCH_UP_RUNS`]).
    pub skipped_unrecorded: usize,
    /// Attempts started.
    pub started: usize,
    /// Attempts that succeeded.
    pub succeeded: usize,
    /// Attempts that failed (timeouts and interruptions included).
    pub failed: usize,
    /// Attempts failed for overrunning their timeout.
    pub timed_out: usize,
    /// Runs that became final.
    pub finished: usize,
}

impl TickReport {
    fn add(&mut self, o: TickReport) {
        self.created += o.created;
        self.skipped += o.skipped;
        self.skipped_unrecorded += o.skipped_unrecorded;
        self.started += o.started;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.timed_out += o.timed_out;
        self.finished += o.finished;
    }

    /// Whether anything happened.
    pub fn changed(&self) -> bool {
        *self != TickReport::default()
    }
}

/// An attempt's end, sent by its thread.
struct Report {
    dag: String,
    logical_ms: i64,
    task: String,
    attempt: u32,
    result: Result<String, String>,
}

/// An attempt in flight.
struct InFlight {
    attempt: u32,
    deadline_ms: i64,
    cancelled: Arc<AtomicBool>,
}

type RunKey = (String, i64);
type AttemptKey = (String, i64, String);

/// Runs DAGs; see the module documentation.
pub struct Scheduler {
    store: Store,
    clock: Arc<dyn Clock>,
    config: SchedulerConfig,
    dags: BTreeMap<String, DagSpec>,
    states: BTreeMap<String, DagState>,
    /// Runs not yet final.
    active: BTreeMap<RunKey, DagRun>,
    in_flight: HashMap<AttemptKey, InFlight>,
    /// Attempts given up (timed out) whose threads have not yet returned: they still count
    /// against `max_parallel_tasks`, and their task is not retried until they do.
    abandoned: HashMap<AttemptKey, u32>,
    tx: Sender<Report>,
    rx: Receiver<Report>,
    /// Reports received while waiting, for the next tick.
    received: Vec<Report>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("dags", &self.dags.keys().collect::<Vec<_>>())
            .field("active_runs", &self.active.len())
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // Attempts still running are given up: their threads see the flag; their results, if
        // they come, go nowhere. The next scheduler counts them as interrupted.
        for f in self.in_flight.values() {
            f.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

impl Scheduler {
    /// A scheduler for `dags`, its history in `db`: runs left unfinished by the last one are
    /// resumed, and attempts it left running are counted as interrupted.
    pub fn open(
        db: Db,
        clock: Arc<dyn Clock>,
        config: SchedulerConfig,
        dags: Vec<DagSpec>,
    ) -> Result<Scheduler, SchedError> {
        if !(1..=MAX_PARALLEL_TASKS_LIMIT).contains(&config.max_parallel_tasks) {
            return Err(SchedError::Spec {
                dag: "*".into(),
                reason: format!(
                    "max_parallel_tasks {} outside 1..={MAX_PARALLEL_TASKS_LIMIT}",
                    config.max_parallel_tasks
                ),
            });
        }
        let mut by_name = BTreeMap::new();
        for dag in dags {
            dag.validate()?;
            let name = dag.name.clone();
            if by_name.insert(name.clone(), dag).is_some() {
                return Err(SchedError::Spec { dag: name, reason: "registered twice".into() });
            }
        }
        let store = Store::new(db);
        let now = clock.now_ms().max(0);
        let mut states = BTreeMap::new();
        for name in by_name.keys() {
            let state = match store.dag_state(name)? {
                Some(s) => s,
                None => {
                    let s = DagState { first_seen_ms: now, last_scheduled_ms: None };
                    store.put_dag_state(name, &s)?;
                    s
                }
            };
            states.insert(name.clone(), state);
        }
        let (tx, rx) = channel();
        let mut s = Scheduler {
            store,
            clock,
            config,
            dags: by_name,
            states,
            active: BTreeMap::new(),
            in_flight: HashMap::new(),
            abandoned: HashMap::new(),
            tx,
            rx,
            received: Vec::new(),
        };
        for mut run in s.store.runs(None)? {
            if run.state.is_final() {
                continue;
            }
            let Some(spec) = s.dags.get(&run.dag) else { continue };
            if reconcile(&mut run, spec, now) {
                s.store.put_run(&run)?;
            }
            if !run.state.is_final() {
                s.active.insert((run.dag.clone(), run.logical_ms), run);
            }
        }
        // Attempts the last scheduler left running ended without a result.
        let interrupted: Vec<(RunKey, String)> = s
            .active
            .iter()
            .flat_map(|(k, r)| {
                r.tasks.iter().filter(|t| t.state == TaskState::Running).map(move |t| (k.clone(), t.task.clone()))
            })
            .collect();
        let mut report = TickReport::default();
        for (key, task) in interrupted {
            s.fail_attempt(&key, &task, "interrupted: the scheduler stopped while it ran".into(), now, &mut report)?;
        }
        Ok(s)
    }

    /// The registered DAGs.
    pub fn dags(&self) -> impl Iterator<Item = &DagSpec> {
        self.dags.values()
    }

    /// The next schedule slot of `dag` not yet created (`None`: unscheduled, or unknown).
    pub fn next_slot_ms(&self, dag: &str) -> Option<i64> {
        let spec = self.dags.get(dag)?;
        let state = self.states.get(dag)?;
        spec.schedule.as_ref()?.next_after(state.last_scheduled_ms.unwrap_or(state.first_seen_ms))
    }

    /// Runs of `dag` (or of every DAG), oldest first within a DAG, as recorded.
    pub fn runs(&self, dag: Option<&str>) -> Result<Vec<DagRun>, SchedError> {
        if let Some(d) = dag
            && !self.dags.contains_key(d)
        {
            return Err(SchedError::UnknownDag(d.to_string()));
        }
        self.store.runs(dag)
    }

    /// Attempts running now (given-up attempts whose threads still run included).
    pub fn running(&self) -> usize {
        self.in_flight.len() + self.abandoned.len()
    }

    /// Create a run of `dag` now (it starts at the next tick, if its DAG has room). Returns its
    /// logical time.
    pub fn trigger(&mut self, dag: &str) -> Result<i64, SchedError> {
        let spec = self.dags.get(dag).ok_or_else(|| SchedError::UnknownDag(dag.to_string()))?;
        let now = self.clock.now_ms().max(0);
        // Unique per DAG: a trigger in the same ms as another run moves on a ms; and never on a
        // whole minute, where a schedule slot may fall (a slot's run is created by the schedule).
        let mut logical = if now % 60_000 == 0 { now + 1 } else { now };
        while self.active.contains_key(&(dag.to_string(), logical)) || self.store.run_exists(dag, logical)? {
            logical += 1;
        }
        let run = new_run(spec, logical, Trigger::Manual, now);
        self.store.put_run(&run)?;
        self.active.insert((dag.to_string(), logical), run);
        Ok(logical)
    }

    /// One step at the clock's time: read finished attempts, fail overrunning ones, create due
    /// runs, start what can start.
    pub fn tick(&mut self) -> Result<TickReport, SchedError> {
        self.tick_focused(None)
    }

    /// A tick that, given a `focus` DAG, creates no scheduled runs and starts only that DAG's
    /// tasks (every attempt already running still reports and times out).
    fn tick_focused(&mut self, focus: Option<&str>) -> Result<TickReport, SchedError> {
        let now = self.clock.now_ms().max(0);
        let mut report = TickReport::default();
        let mut reports = std::mem::take(&mut self.received);
        reports.extend(self.rx.try_iter());
        for r in reports {
            self.finish_attempt(r, now, &mut report)?;
        }
        let overrun: Vec<AttemptKey> =
            self.in_flight.iter().filter(|(_, f)| f.deadline_ms <= now).map(|(k, _)| k.clone()).collect();
        for key in overrun {
            let f = self.in_flight.remove(&key).expect("listed above");
            f.cancelled.store(true, Ordering::Relaxed);
            self.abandoned.insert(key.clone(), f.attempt);
            let timeout = self.dags[&key.0].task(&key.2).map_or(0, |t| t.timeout_ms);
            report.timed_out += 1;
            let run_key = (key.0.clone(), key.1);
            self.fail_attempt(&run_key, &key.2, format!("timed out after {timeout} ms"), now, &mut report)?;
        }
        if focus.is_none() {
            let scheduled: Vec<String> =
                self.dags.values().filter(|d| d.schedule.is_some()).map(|d| d.name.clone()).collect();
            for dag in scheduled {
                self.create_due(&dag, now, &mut report)?;
            }
        }
        self.start_ready(now, focus, &mut report)?;
        Ok(report)
    }

    /// When the next tick has something to do without an attempt finishing first: the next
    /// slot, retry or timeout (`None`: nothing is due ever, unless triggered).
    pub fn next_wakeup_ms(&self) -> Option<i64> {
        let slots = self.dags.keys().filter_map(|d| self.next_slot_ms(d));
        let retries = self.active.values().flat_map(|r| r.tasks.iter().filter_map(|t| t.next_try_ms));
        let timeouts = self.in_flight.values().map(|f| f.deadline_ms);
        slots.chain(retries).chain(timeouts).min()
    }

    /// Block until an attempt reports or `timeout` passes (real time); true if one reported.
    pub fn wait_for_report(&mut self, timeout: Duration) -> bool {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => {
                self.received.push(r);
                true
            }
            Err(_) => false,
        }
    }

    /// Tick until nothing more can happen at the clock's current time: every started attempt
    /// has reported and a tick changes nothing. Waits for attempts in real time, at most
    /// `wall_limit` in all (then returns with attempts still running).
    pub fn run_until_idle(&mut self, wall_limit: Duration) -> Result<TickReport, SchedError> {
        self.run_until_idle_focused(None, wall_limit)
    }

    /// Like [`Scheduler::run_until_idle`], for the runs of `dag` alone: no scheduled run is
    /// created and no other DAG's task starts, so a manual trigger runs what was asked for
    /// (after the runs of the same DAG ahead of it, oldest first as always) and leaves other
    /// jobs' due slots to the scheduler's loop. Waits only for `dag`'s attempts.
    pub fn run_until_idle_only(&mut self, dag: &str, wall_limit: Duration) -> Result<TickReport, SchedError> {
        if !self.dags.contains_key(dag) {
            return Err(SchedError::UnknownDag(dag.to_string()));
        }
        self.run_until_idle_focused(Some(dag), wall_limit)
    }

    fn run_until_idle_focused(&mut self, focus: Option<&str>, wall_limit: Duration) -> Result<TickReport, SchedError> {
        let deadline = Instant::now() + wall_limit;
        let mut total = TickReport::default();
        loop {
            let r = self.tick_focused(focus)?;
            total.add(r);
            if !self.in_flight.keys().any(|k| focus.is_none_or(|dag| k.0 == dag)) {
                if !r.changed() {
                    return Ok(total);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.wait_for_report(left) {
                return Ok(total);
            }
        }
    }

    /// The daemon loop: tick, then sleep until the next slot, retry or timeout, or until an
    /// attempt reports, until `stop` is set. Attempts still running then are given up.
    pub fn run_until_stopped(&mut self, stop: &AtomicBool) -> Result<(), SchedError> {
        while !stop.load(Ordering::Relaxed) {
            self.tick()?;
            let now = self.clock.now_ms();
            let wait = self.next_wakeup_ms().map_or(MAX_IDLE_WAIT, |t| {
                Duration::from_millis(u64::try_from(t.saturating_sub(now)).unwrap_or(0)).min(MAX_IDLE_WAIT)
            });
            // Short naps, so that a stop is seen within a second.
            self.wait_for_report(wait.min(Duration::from_secs(1)));
        }
        Ok(())
    }

    fn create_due(&mut self, dag: &str, now: i64, report: &mut TickReport) -> Result<(), SchedError> {
        let spec = &self.dags[dag];
        let cron = spec.schedule.as_ref().expect("scheduled DAGs only");
        let state = self.states[dag];
        let mut slots = Vec::new();
        let mut unrecorded = 0;
        let mut t = cron.next_after(state.last_scheduled_ms.unwrap_or(state.first_seen_ms));
        while let Some(slot) = t.filter(|s| *s <= now) {
            if slots.len() == MAX_CATCH_UP_RUNS {
                if spec.catch_up == CatchUp::All {
                    break; // the rest on the next tick
                }
                slots.remove(0);
                unrecorded += 1;
            }
            slots.push(slot);
            t = cron.next_after(slot);
        }
        let Some(&last) = slots.last() else { return Ok(()) };
        let mut runs = Vec::with_capacity(slots.len());
        for (i, slot) in slots.iter().enumerate() {
            if self.store.run_exists(dag, *slot)? {
                continue; // a trigger took this ms
            }
            let mut run = new_run(spec, *slot, Trigger::Schedule, now);
            if spec.catch_up == CatchUp::LatestOnly && i + 1 < slots.len() {
                run.state = RunState::Skipped;
                run.ended_ms = Some(now);
                for t in &mut run.tasks {
                    t.state = TaskState::Skipped;
                }
                report.skipped += 1;
            } else {
                report.created += 1;
            }
            runs.push(run);
        }
        let state = DagState { last_scheduled_ms: Some(last), ..state };
        self.store.create_scheduled(&runs, &state)?;
        self.states.insert(dag.to_string(), state);
        report.skipped_unrecorded += unrecorded;
        for run in runs.into_iter().filter(|r| !r.state.is_final()) {
            self.active.insert((run.dag.clone(), run.logical_ms), run);
        }
        if report.skipped > 0 {
            self.store.trim(dag, self.config.history_per_dag)?;
        }
        Ok(())
    }

    fn start_ready(&mut self, now: i64, focus: Option<&str>, report: &mut TickReport) -> Result<(), SchedError> {
        // Queued runs start, oldest first, while their DAG has room.
        let keys: Vec<RunKey> = self.active.keys().filter(|k| focus.is_none_or(|dag| k.0 == dag)).cloned().collect();
        for key in &keys {
            let running_of_dag =
                self.active.values().filter(|r| r.dag == key.0 && r.state == RunState::Running).count();
            let run = self.active.get_mut(key).expect("listed above");
            if run.state == RunState::Queued && running_of_dag < self.dags[&key.0].max_active_runs as usize {
                run.state = RunState::Running;
                self.store.put_run(run)?;
            }
        }
        // Ready tasks start while attempts are under the limit.
        for key in keys {
            if self.active[&key].state != RunState::Running {
                continue;
            }
            let spec = self.dags[&key.0].clone();
            for task in spec.order().expect("validated DAGs have an order") {
                if self.in_flight.len() + self.abandoned.len() >= self.config.max_parallel_tasks {
                    return Ok(());
                }
                // A failed thread start may have finished the run already.
                let Some(run) = self.active.get(&key) else { break };
                let Some(ti) = run.task(&task.name) else { continue };
                if self.abandoned.contains_key(&(key.0.clone(), key.1, task.name.clone())) {
                    continue; // its last attempt's thread still runs: no second one beside it
                }
                let upstream_done =
                    task.upstream.iter().all(|u| run.task(u).is_some_and(|t| t.state == TaskState::Success));
                let ready = match ti.state {
                    TaskState::Scheduled => upstream_done,
                    TaskState::UpForRetry => ti.next_try_ms.is_some_and(|t| t <= now),
                    _ => false,
                };
                if ready {
                    self.start_attempt(&key, &task.name, task.timeout_ms, task.run.clone(), now, report)?;
                }
            }
        }
        Ok(())
    }

    fn start_attempt(
        &mut self,
        key: &RunKey,
        task: &str,
        timeout_ms: u64,
        run_fn: JobFn,
        now: i64,
        report: &mut TickReport,
    ) -> Result<(), SchedError> {
        let run = self.active.get_mut(key).expect("active run");
        let ti = run.task_mut(task).expect("task of the run");
        let number = ti.attempts.len() as u32 + 1;
        ti.state = TaskState::Running;
        ti.next_try_ms = None;
        ti.attempts.push(Attempt { number, started_ms: now, ended_ms: None, output: None, error: None });
        // Recorded before the work starts: a crash from here on is an interrupted attempt.
        self.store.put_run(run)?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let ctx = JobContext::new(&key.0, task, key.1, number, cancelled.clone());
        let tx = self.tx.clone();
        let (dag, logical_ms, task_name) = (key.0.clone(), key.1, task.to_string());
        let spawned = std::thread::Builder::new().name(format!("job-{task}")).spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_fn(&ctx)))
                .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&p))));
            let _ = tx.send(Report { dag, logical_ms, task: task_name, attempt: number, result });
        });
        report.started += 1;
        match spawned {
            Ok(_) => {
                let deadline_ms = now.saturating_add(i64::try_from(timeout_ms).unwrap_or(i64::MAX));
                self.in_flight.insert(
                    (key.0.clone(), key.1, task.to_string()),
                    InFlight { attempt: number, deadline_ms, cancelled },
                );
                Ok(())
            }
            Err(e) => self.fail_attempt(key, task, format!("could not start a thread: {e}"), now, report),
        }
    }

    fn finish_attempt(&mut self, r: Report, now: i64, report: &mut TickReport) -> Result<(), SchedError> {
        let key = (r.dag.clone(), r.logical_ms, r.task.clone());
        if self.abandoned.get(&key) == Some(&r.attempt) {
            self.abandoned.remove(&key); // its thread is done: its slot and its task are free
        }
        // A report for an attempt no longer in flight (timed out, or of an earlier scheduler)
        // is ignored: that attempt already failed.
        match self.in_flight.get(&key) {
            Some(f) if f.attempt == r.attempt => {}
            _ => return Ok(()),
        }
        self.in_flight.remove(&key);
        let run_key = (r.dag, r.logical_ms);
        match r.result {
            Ok(output) => {
                let run = self.active.get_mut(&run_key).expect("an attempt in flight has an active run");
                let ti = run.task_mut(&r.task).expect("task of the run");
                ti.state = TaskState::Success;
                let attempt = ti.attempts.last_mut().expect("a running task has an attempt");
                attempt.ended_ms = Some(now);
                attempt.output = Some(bounded(output));
                report.succeeded += 1;
                self.after_change(&run_key, now, report)
            }
            Err(error) => self.fail_attempt(&run_key, &r.task, error, now, report),
        }
    }

    /// The running attempt of `task` failed: retry after a backoff if attempts are left, else
    /// fail the task and everything downstream of it.
    fn fail_attempt(
        &mut self,
        key: &RunKey,
        task: &str,
        error: String,
        now: i64,
        report: &mut TickReport,
    ) -> Result<(), SchedError> {
        let spec = &self.dags[&key.0];
        let policy = spec.task(task).expect("task of the DAG").retry.clone();
        let run = self.active.get_mut(key).expect("active run");
        let ti = run.task_mut(task).expect("task of the run");
        let attempt = ti.attempts.last_mut().expect("a failing task has an attempt");
        attempt.ended_ms = Some(now);
        attempt.error = Some(bounded(error));
        report.failed += 1;
        let made = ti.attempts.len() as u32;
        if made < policy.max_attempts {
            // Deterministic per (seed, DAG, task, slot, retry), whatever else ran.
            let seed = self.config.seed
                ^ seed_for(&format!("{}/{task}", key.0))
                ^ key.1 as u64
                ^ u64::from(made).rotate_left(32);
            let delay = Backoff::new(policy, seed).delay(made);
            ti.state = TaskState::UpForRetry;
            ti.next_try_ms = Some(now.saturating_add(delay.as_millis() as i64));
        } else {
            ti.state = TaskState::Failed;
            let downstream = downstream_of(spec, task);
            for t in &mut run.tasks {
                if downstream.contains(&t.task) && !t.state.is_final() {
                    t.state = TaskState::UpstreamFailed;
                    t.next_try_ms = None;
                }
            }
        }
        self.after_change(key, now, report)
    }

    /// Persist a run after a change; finish it if every task is final.
    fn after_change(&mut self, key: &RunKey, now: i64, report: &mut TickReport) -> Result<(), SchedError> {
        let run = self.active.get_mut(key).expect("active run");
        if run.tasks.iter().all(|t| t.state.is_final()) {
            let ok = run.tasks.iter().all(|t| matches!(t.state, TaskState::Success | TaskState::Skipped));
            run.state = if ok { RunState::Success } else { RunState::Failed };
            run.ended_ms = Some(now);
            report.finished += 1;
        }
        self.store.put_run(run)?;
        if run.state.is_final() {
            self.active.remove(key);
            self.store.trim(&key.0, self.config.history_per_dag)?;
        }
        Ok(())
    }
}

/// Bring an unfinished run made under an earlier version of its DAG in line with the current one:
/// tasks added since get an instance (scheduled); tasks removed since are skipped if they had not
/// ended (a running one counts as interrupted first). Returns whether the run changed.
fn reconcile(run: &mut DagRun, spec: &DagSpec, now: i64) -> bool {
    let mut changed = false;
    for t in &mut run.tasks {
        if spec.task(&t.task).is_none() && !t.state.is_final() {
            if let Some(a) = t.attempts.last_mut().filter(|a| a.ended_ms.is_none()) {
                a.ended_ms = Some(now);
                a.error = Some("interrupted: the task was removed from its DAG".into());
            }
            t.state = TaskState::Skipped;
            t.next_try_ms = None;
            changed = true;
        }
    }
    let order = spec.order().expect("validated DAGs have an order");
    for t in order {
        if run.task(&t.name).is_none() {
            run.tasks.push(TaskInstance {
                task: t.name.clone(),
                state: TaskState::Scheduled,
                attempts: Vec::new(),
                next_try_ms: None,
            });
            changed = true;
        }
    }
    if changed && run.tasks.iter().all(|t| t.state.is_final()) {
        let ok = run.tasks.iter().all(|t| matches!(t.state, TaskState::Success | TaskState::Skipped));
        run.state = if ok { RunState::Success } else { RunState::Failed };
        run.ended_ms = Some(now);
    }
    changed
}

/// Every task that waits, directly or not, for `task`.
fn downstream_of(spec: &DagSpec, task: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut frontier = vec![task.to_string()];
    while let Some(t) = frontier.pop() {
        for d in spec.tasks.iter().filter(|d| d.upstream.contains(&t)) {
            if !out.contains(&d.name) {
                out.push(d.name.clone());
                frontier.push(d.name.clone());
            }
        }
    }
    out
}

fn new_run(spec: &DagSpec, logical_ms: i64, trigger: Trigger, now: i64) -> DagRun {
    let tasks = spec
        .order()
        .expect("validated DAGs have an order")
        .into_iter()
        .map(|t| TaskInstance {
            task: t.name.clone(),
            state: TaskState::Scheduled,
            attempts: Vec::new(),
            next_try_ms: None,
        })
        .collect();
    DagRun {
        dag: spec.name.clone(),
        logical_ms,
        trigger,
        state: RunState::Queued,
        created_ms: now,
        ended_ms: None,
        tasks,
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}
