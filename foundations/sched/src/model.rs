//! What the scheduler runs (DAG and task specs) and what it records (runs, task instances,
//! attempts), with the state machine of both.
//!
//! A task instance moves `scheduled → running → success`, or on a failed attempt to
//! `up_for_retry` (then `running` again once its delay has passed) or, with no attempt left, to
//! `failed` — and every task downstream of it to `upstream_failed`. Runs skipped by the catch-up
//! policy have every task `skipped`. A run is `queued` until its DAG has room
//! (`max_active_runs`), `running` until every task is final, then `success` (all tasks succeeded)
//! or `failed`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aurum_retry::RetryPolicy;
use serde::{Deserialize, Serialize};

use crate::cron::Cron;
use crate::error::SchedError;

/// Longest DAG or task name.
pub const MAX_NAME_BYTES: usize = 64;
/// Most tasks in one DAG.
pub const MAX_TASKS_PER_DAG: usize = 64;
/// Most runs of one DAG that may be active (running) at once.
pub const MAX_ACTIVE_RUNS_LIMIT: u32 = 16;
/// Longest task timeout (one day).
pub const MAX_TIMEOUT_MS: u64 = 24 * 3600 * 1000;
/// Longest output or error message kept per attempt (longer ones are cut, marked `…`).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// What a task's function is given.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The DAG.
    pub dag: String,
    /// The task.
    pub task: String,
    /// The run's logical time (its schedule slot, or when it was triggered), ms since the epoch.
    pub logical_ms: i64,
    /// This attempt's number, from 1.
    pub attempt: u32,
    cancelled: Arc<AtomicBool>,
}

impl JobContext {
    pub(crate) fn new(dag: &str, task: &str, logical_ms: i64, attempt: u32, cancelled: Arc<AtomicBool>) -> Self {
        JobContext { dag: dag.to_string(), task: task.to_string(), logical_ms, attempt, cancelled }
    }

    /// Whether the attempt was given up (timed out, or the scheduler is stopping): a long job
    /// should check it and return early; its result is ignored either way.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// A task's work: `Ok(summary)` or `Err(why)`, both kept in the run history.
pub type JobFn = Arc<dyn Fn(&JobContext) -> Result<String, String> + Send + Sync>;

/// Whether missed schedule slots (the scheduler was down) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Every missed slot gets a run (up to [`crate::MAX_CATCH_UP_RUNS`] at once), oldest first.
    All,
    /// Only the latest missed slot runs; the older ones are recorded as skipped runs.
    LatestOnly,
}

/// One task of a DAG.
#[derive(Clone)]
pub struct TaskSpec {
    /// Unique within the DAG.
    pub name: String,
    /// Tasks that must succeed first.
    pub upstream: Vec<String>,
    /// Attempts (`max_attempts`, the first included) and the delays between them.
    pub retry: RetryPolicy,
    /// An attempt running longer than this fails (and is cancelled).
    pub timeout_ms: u64,
    /// The work.
    pub run: JobFn,
}

impl std::fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .field("upstream", &self.upstream)
            .field("retry", &self.retry)
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

impl TaskSpec {
    /// A task without upstreams, one attempt, a one-hour timeout.
    pub fn new(name: &str, run: impl Fn(&JobContext) -> Result<String, String> + Send + Sync + 'static) -> Self {
        TaskSpec {
            name: name.to_string(),
            upstream: Vec::new(),
            retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
            timeout_ms: 3_600_000,
            run: Arc::new(run),
        }
    }

    /// With these upstream tasks.
    pub fn after(mut self, upstream: &[&str]) -> Self {
        self.upstream = upstream.iter().map(|s| (*s).to_string()).collect();
        self
    }

    /// With this retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// With this timeout.
    pub fn timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = timeout_ms;
        self
    }
}

/// A DAG of tasks with an optional schedule. A job is a DAG of one task.
#[derive(Debug, Clone)]
pub struct DagSpec {
    /// Unique name: 1-64 of `a-z 0-9 . _ -`.
    pub name: String,
    /// When runs are created (`None`: only when triggered).
    pub schedule: Option<Cron>,
    /// What happens to slots missed while the scheduler was down.
    pub catch_up: CatchUp,
    /// Runs of this DAG running at once (later ones wait, queued).
    pub max_active_runs: u32,
    /// The tasks.
    pub tasks: Vec<TaskSpec>,
}

impl DagSpec {
    /// A DAG of one task named after it.
    pub fn job(name: &str, schedule: Option<Cron>, task: TaskSpec) -> DagSpec {
        DagSpec {
            name: name.to_string(),
            schedule,
            catch_up: CatchUp::LatestOnly,
            max_active_runs: 1,
            tasks: vec![task],
        }
    }

    /// Check names, limits, upstream references and that the graph has no cycle.
    pub fn validate(&self) -> Result<(), SchedError> {
        let bad = |reason: String| SchedError::Spec { dag: self.name.clone(), reason };
        check_name(&self.name).map_err(|r| bad(format!("DAG name: {r}")))?;
        if self.tasks.is_empty() || self.tasks.len() > MAX_TASKS_PER_DAG {
            return Err(bad(format!("has {} tasks; 1..={MAX_TASKS_PER_DAG} allowed", self.tasks.len())));
        }
        if !(1..=MAX_ACTIVE_RUNS_LIMIT).contains(&self.max_active_runs) {
            return Err(bad(format!("max_active_runs {} outside 1..={MAX_ACTIVE_RUNS_LIMIT}", self.max_active_runs)));
        }
        let mut names = BTreeSet::new();
        for t in &self.tasks {
            check_name(&t.name).map_err(|r| bad(format!("task name: {r}")))?;
            if !names.insert(t.name.as_str()) {
                return Err(bad(format!("task {:?} appears twice", t.name)));
            }
            t.retry.validate().map_err(|e| bad(format!("task {:?}: {e}", t.name)))?;
            if t.timeout_ms == 0 || t.timeout_ms > MAX_TIMEOUT_MS {
                return Err(bad(format!(
                    "task {:?}: timeout_ms {} outside 1..={MAX_TIMEOUT_MS}",
                    t.name, t.timeout_ms
                )));
            }
        }
        for t in &self.tasks {
            if let Some(u) = t.upstream.iter().find(|u| !names.contains(u.as_str())) {
                return Err(bad(format!("task {:?} waits for {u:?}, which is not a task of this DAG", t.name)));
            }
        }
        self.order().map(|_| ()).map_err(|cycle| bad(format!("the tasks form a cycle through {cycle:?}")))
    }

    /// The tasks in an order where every upstream comes first (Kahn), or a task on a cycle.
    pub fn order(&self) -> Result<Vec<&TaskSpec>, String> {
        let mut waiting: BTreeMap<&str, usize> =
            self.tasks.iter().map(|t| (t.name.as_str(), t.upstream.len())).collect();
        let mut out = Vec::with_capacity(self.tasks.len());
        while out.len() < self.tasks.len() {
            let Some(next) = self.tasks.iter().find(|t| waiting.get(t.name.as_str()) == Some(&0)) else {
                let stuck = waiting.keys().next().copied().unwrap_or_default();
                return Err(stuck.to_string());
            };
            waiting.remove(next.name.as_str());
            for t in &self.tasks {
                if t.upstream.contains(&next.name)
                    && let Some(n) = waiting.get_mut(t.name.as_str())
                {
                    *n -= 1;
                }
            }
            out.push(next);
        }
        Ok(out)
    }

    /// The task named `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// Check a DAG or task name.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(format!("{name:?}: 1-{MAX_NAME_BYTES} of a-z 0-9 . _ -")) }
}

/// Where a task instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for its upstreams or a free slot.
    Scheduled,
    /// An attempt is running.
    Running,
    /// An attempt succeeded.
    Success,
    /// Every attempt failed.
    Failed,
    /// An attempt failed; another runs at `next_try_ms`.
    UpForRetry,
    /// Not run (its run was skipped by the catch-up policy).
    Skipped,
    /// Not run: a task it waits for failed.
    UpstreamFailed,
}

impl TaskState {
    /// No change follows.
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Success | TaskState::Failed | TaskState::Skipped | TaskState::UpstreamFailed)
    }

    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Success => "success",
            TaskState::Failed => "failed",
            TaskState::UpForRetry => "up_for_retry",
            TaskState::Skipped => "skipped",
            TaskState::UpstreamFailed => "upstream_failed",
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for its DAG's `max_active_runs`.
    Queued,
    /// Tasks are running or waiting.
    Running,
    /// Every task succeeded.
    Success,
    /// A task failed (or could not run because one did).
    Failed,
    /// Skipped by the catch-up policy.
    Skipped,
}

impl RunState {
    /// No change follows.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Success | RunState::Failed | RunState::Skipped)
    }

    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Success => "success",
            RunState::Failed => "failed",
            RunState::Skipped => "skipped",
        }
    }
}

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Its schedule slot came.
    Schedule,
    /// Someone asked (`aurum jobs trigger`).
    Manual,
}

/// One attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// From 1.
    pub number: u32,
    /// When it started.
    pub started_ms: i64,
    /// When it ended (`None` while running).
    pub ended_ms: Option<i64>,
    /// Its summary on success.
    pub output: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A task within a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInstance {
    /// The task.
    pub task: String,
    /// Where it is.
    pub state: TaskState,
    /// Its attempts so far, oldest first.
    pub attempts: Vec<Attempt>,
    /// For `up_for_retry`: when the next attempt may start.
    pub next_try_ms: Option<i64>,
}

/// One run of a DAG: its schedule slot (or trigger time) and its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DagRun {
    /// The DAG.
    pub dag: String,
    /// The slot it runs for (or when it was triggered), ms since the epoch; unique per DAG.
    pub logical_ms: i64,
    /// Why it exists.
    pub trigger: Trigger,
    /// Where it is.
    pub state: RunState,
    /// When it was created.
    pub created_ms: i64,
    /// When its last task became final.
    pub ended_ms: Option<i64>,
    /// Its tasks, in the DAG's order.
    pub tasks: Vec<TaskInstance>,
}

impl DagRun {
    /// The instance of `task`.
    pub fn task(&self, task: &str) -> Option<&TaskInstance> {
        self.tasks.iter().find(|t| t.task == task)
    }

    pub(crate) fn task_mut(&mut self, task: &str) -> Option<&mut TaskInstance> {
        self.tasks.iter_mut().find(|t| t.task == task)
    }
}

/// Cut a message to [`MAX_MESSAGE_BYTES`] at a character boundary.
pub(crate) fn bounded(mut s: String) -> String {
    if s.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
