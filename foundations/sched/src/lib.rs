//! `aurum-sched`: Aurum's job scheduler.
//!
//! - [`cron`]: five-field cron schedules in UTC (and `@daily`-style macros), parsed with errors
//!   that name the field;
//! - [`model`]: DAGs of tasks ([`DagSpec`], [`TaskSpec`]: upstreams, a retry policy from
//!   `aurum-retry`, a timeout), and the runs, task instances and attempts recorded for them, with
//!   their state machine (`scheduled`, `running`, `success`, `failed`, `up_for_retry`, `skipped`,
//!   `upstream_failed`);
//! - [`store`]: the run history in the KV store, each change written before it takes effect;
//! - [`scheduler`]: [`Scheduler`], ticked by its [`Clock`] (a [`ManualClock`] in tests): schedule
//!   slots become runs exactly once, missed slots follow the DAG's [`CatchUp`] policy, tasks start
//!   when their upstreams succeeded and the parallelism limit allows, failed attempts retry with
//!   exponential backoff and jitter up to a cap, overrunning ones time out, and a restart counts
//!   attempts it finds running as interrupted — never runs them a second time unasked.
//!
//! ```
//! use std::sync::Arc;
//! use aurum_sched::{Cron, DagSpec, ManualClock, Scheduler, SchedulerConfig, TaskSpec, TaskState};
//! let dir = tempfile::tempdir().unwrap();
//! let db = aurum_kv::Db::open(Arc::new(aurum_vfs::OsVfs), dir.path(), Default::default()).unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let job = DagSpec::job("hello", Some(Cron::parse("@hourly").unwrap()), TaskSpec::new("hello", |_| Ok("hi".into())));
//! let mut s = Scheduler::open(db, clock.clone(), SchedulerConfig::default(), vec![job]).unwrap();
//! clock.set(3_600_000); // the first slot
//! s.run_until_idle(std::time::Duration::from_secs(30)).unwrap();
//! let runs = s.runs(Some("hello")).unwrap();
//! assert_eq!(runs[0].tasks[0].state, TaskState::Success);
//! ```

pub mod cron;
pub mod error;
pub mod model;
pub mod scheduler;
pub mod store;

pub use cron::{Cron, CronError};
pub use error::SchedError;
pub use model::{
    Attempt, CatchUp, DagRun, DagSpec, JobContext, JobFn, RunState, TaskInstance, TaskSpec, TaskState, Trigger,
};
pub use scheduler::{Clock, MAX_CATCH_UP_RUNS, ManualClock, Scheduler, SchedulerConfig, SystemClock, TickReport};
