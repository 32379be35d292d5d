//! The scheduler against a manual clock: slots, catch-up, retries and backoff, timeouts, DAG
//! order and upstream failure, concurrency limits, restarts. Attempts run on real threads; tests
//! wait for their reports (events), never for time to pass.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aurum_kv::Db;
use aurum_retry::RetryPolicy;
use aurum_sched::{
    CatchUp, Cron, DagSpec, ManualClock, RunState, SchedError, Scheduler, SchedulerConfig, TaskSpec, TaskState, Trigger,
};
use aurum_vfs::OsVfs;

const HOUR_MS: i64 = 3_600_000;
/// 2026-11-26T00:00:00Z.
const T0: i64 = 1_795_651_200_000;
/// Generous: a report on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(60);

fn db(dir: &Path) -> Db {
    Db::open(Arc::new(OsVfs), dir, aurum_kv::Options::default()).unwrap()
}

fn open(dir: &Path, clock: &Arc<ManualClock>, dags: Vec<DagSpec>) -> Scheduler {
    Scheduler::open(db(dir), clock.clone(), SchedulerConfig::default(), dags).unwrap()
}

fn counting(name: &str, counter: &Arc<AtomicUsize>) -> TaskSpec {
    let c = counter.clone();
    TaskSpec::new(name, move |ctx| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(format!("slot {}", ctx.logical_ms))
    })
}

fn hourly(name: &str, task: TaskSpec, catch_up: CatchUp) -> DagSpec {
    DagSpec { catch_up, ..DagSpec::job(name, Some(Cron::parse("0 * * * *").unwrap()), task) }
}

/// A task that blocks each attempt until the test sends on the returned sender; `started` counts
/// attempts begun.
fn gated(name: &str, started: &Arc<AtomicUsize>) -> (TaskSpec, SyncSender<Result<String, String>>) {
    let (tx, rx) = sync_channel::<Result<String, String>>(16);
    let rx = Arc::new(Mutex::new(rx));
    let s = started.clone();
    let task = TaskSpec::new(name, move |_| {
        s.fetch_add(1, Ordering::SeqCst);
        let rx: std::sync::MutexGuard<'_, Receiver<_>> = rx.lock().unwrap();
        rx.recv_timeout(WAIT).unwrap_or_else(|_| Err("the test never released it".into()))
    });
    (task, tx)
}

/// Wait (bounded by [`WAIT`]) until `n` gated attempts have begun on their threads.
fn wait_until_started(started: &AtomicUsize, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while started.load(Ordering::SeqCst) < n {
        assert!(std::time::Instant::now() < deadline, "{n} attempts did not start within {WAIT:?}");
        std::thread::yield_now();
    }
}

#[test]
fn each_schedule_slot_runs_once_and_a_restart_neither_reruns_nor_loses_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 10_000));
    let count = Arc::new(AtomicUsize::new(0));
    let dag = || hourly("hourly", counting("work", &count), CatchUp::All);
    let mut s = open(dir.path(), &clock, vec![dag()]);
    assert_eq!(s.next_slot_ms("hourly"), Some(T0 + HOUR_MS));
    assert!(!s.run_until_idle(WAIT).unwrap().changed(), "nothing is due before the first slot");
    for slot in 1..=2 {
        clock.set(T0 + slot * HOUR_MS);
        let r = s.run_until_idle(WAIT).unwrap();
        assert_eq!((r.created, r.succeeded, r.finished), (1, 1, 1), "slot {slot}: {r:?}");
    }
    drop(s);
    // A restart at the same time: both slots are done, nothing runs again.
    let mut s = open(dir.path(), &clock, vec![dag()]);
    assert!(!s.run_until_idle(WAIT).unwrap().changed());
    assert_eq!(count.load(Ordering::SeqCst), 2);
    // The next slot comes while it is down: the restarted scheduler runs it once.
    drop(s);
    clock.set(T0 + 3 * HOUR_MS + 5);
    let mut s = open(dir.path(), &clock, vec![dag()]);
    s.run_until_idle(WAIT).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let runs = s.runs(Some("hourly")).unwrap();
    let slots: Vec<i64> = runs.iter().map(|r| r.logical_ms).collect();
    assert_eq!(slots, [T0 + HOUR_MS, T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS]);
    assert!(runs.iter().all(|r| r.state == RunState::Success && r.trigger == Trigger::Schedule));
    assert_eq!(runs[2].tasks[0].attempts[0].output.as_deref(), Some(&*format!("slot {}", T0 + 3 * HOUR_MS)));
}

#[test]
fn catch_up_all_runs_every_missed_slot_in_order_and_latest_only_skips_the_older_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let (all, latest) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let slots_run = Arc::new(Mutex::new(Vec::new()));
    let (a, seen) = (all.clone(), slots_run.clone());
    let in_order = TaskSpec::new("work", move |ctx| {
        a.fetch_add(1, Ordering::SeqCst);
        seen.lock().unwrap().push(ctx.logical_ms);
        Ok(String::new())
    });
    let dags = vec![
        hourly("every-slot", in_order, CatchUp::All),
        hourly("latest-only", counting("work", &latest), CatchUp::LatestOnly),
    ];
    let mut s = open(dir.path(), &clock, dags);
    clock.set(T0 + 5 * HOUR_MS + 1); // five slots missed
    let r = s.run_until_idle(WAIT).unwrap();
    assert_eq!((r.created, r.skipped), (6, 4), "{r:?}");
    assert_eq!((all.load(Ordering::SeqCst), latest.load(Ordering::SeqCst)), (5, 1));
    // One active run at a time, oldest slot first.
    assert_eq!(*slots_run.lock().unwrap(), (1..=5).map(|h| T0 + h * HOUR_MS).collect::<Vec<_>>());
    let latest = s.runs(Some("latest-only")).unwrap();
    let states: Vec<RunState> = latest.iter().map(|r| r.state).collect();
    use RunState::{Skipped, Success};
    assert_eq!(states, [Skipped, Skipped, Skipped, Skipped, Success]);
    assert!(latest[..4].iter().all(|r| r.tasks[0].state == TaskState::Skipped));
}

#[test]
fn failed_attempts_retry_after_capped_exponential_backoff_with_seeded_jitter() {
    let policy = RetryPolicy { base_ms: 1_000, max_delay_ms: 4_000, max_attempts: 5, jitter_percent: 50, seed: None };
    let run_once = |dir: &Path| {
        let clock = Arc::new(ManualClock::new(T0));
        let tries = Arc::new(AtomicUsize::new(0));
        let t = tries.clone();
        let task = TaskSpec::new("flaky", move |ctx| {
            t.fetch_add(1, Ordering::SeqCst);
            if ctx.attempt < 4 { Err(format!("attempt {} failed", ctx.attempt)) } else { Ok("done".into()) }
        })
        .retry(policy.clone());
        let mut s = open(dir, &clock, vec![DagSpec::job("flaky", None, task)]);
        s.trigger("flaky").unwrap();
        let mut delays = Vec::new();
        loop {
            s.run_until_idle(WAIT).unwrap();
            let run = s.runs(Some("flaky")).unwrap().pop().unwrap();
            let ti = &run.tasks[0];
            match ti.state {
                TaskState::UpForRetry => {
                    let next = ti.next_try_ms.unwrap();
                    delays.push(next - ti.attempts.last().unwrap().ended_ms.unwrap());
                    // One ms early: not yet.
                    clock.set(next - 1);
                    assert_eq!(s.run_until_idle(WAIT).unwrap().started, 0);
                    clock.set(next);
                }
                TaskState::Success => return (run, delays, tries.load(Ordering::SeqCst)),
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (run, delays, tries) = run_once(a.path());
    assert_eq!(tries, 4);
    assert_eq!(run.state, RunState::Success);
    let errors: Vec<_> = run.tasks[0].attempts.iter().map(|a| a.error.clone()).collect();
    assert_eq!(
        errors[..3],
        [Some("attempt 1 failed".into()), Some("attempt 2 failed".into()), Some("attempt 3 failed".into())]
    );
    for (retry, (delay, ceiling)) in delays.iter().zip([1_000, 2_000, 4_000]).enumerate() {
        assert!(
            (ceiling / 2..=ceiling).contains(delay),
            "retry {}: {delay} ms not in [{}, {ceiling}]",
            retry + 1,
            ceiling / 2
        );
    }
    // The same seed, the same delays.
    assert_eq!(run_once(b.path()).1, delays);
}

#[test]
fn the_last_failed_attempt_fails_the_task_and_everything_downstream_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let step = |name: &'static str, fail: bool| {
        let order = order.clone();
        TaskSpec::new(name, move |_| {
            order.lock().unwrap().push(name);
            if fail { Err(format!("{name} broke")) } else { Ok(String::new()) }
        })
    };
    let dag = DagSpec {
        name: "etl".into(),
        schedule: None,
        catch_up: CatchUp::All,
        max_active_runs: 1,
        tasks: vec![
            step("load", false).after(&["clean", "enrich"]),
            step("extract", false),
            step("clean", false).after(&["extract"]),
            step("enrich", true).after(&["extract"]),
            step("report", false).after(&["load"]),
        ],
    };
    let mut s = open(dir.path(), &clock, vec![dag]);
    s.trigger("etl").unwrap();
    s.run_until_idle(WAIT).unwrap();
    let ran = order.lock().unwrap().clone();
    assert_eq!(ran[0], "extract");
    assert_eq!(ran.len(), 3, "load and report never ran: {ran:?}");
    let run = s.runs(Some("etl")).unwrap().pop().unwrap();
    let state = |t: &str| run.task(t).unwrap().state;
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        [state("extract"), state("clean"), state("enrich"), state("load"), state("report")],
        [
            TaskState::Success,
            TaskState::Success,
            TaskState::Failed,
            TaskState::UpstreamFailed,
            TaskState::UpstreamFailed
        ]
    );
    assert_eq!(run.task("enrich").unwrap().attempts[0].error.as_deref(), Some("enrich broke"));
}

#[test]
fn an_attempt_over_its_timeout_fails_is_retried_and_its_late_result_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let started = Arc::new(AtomicUsize::new(0));
    let (task, release) = gated("slow", &started);
    let retry = RetryPolicy { base_ms: 1_000, max_delay_ms: 1_000, max_attempts: 2, jitter_percent: 0, seed: None };
    let mut s = open(dir.path(), &clock, vec![DagSpec::job("slow", None, task.timeout_ms(10_000).retry(retry))]);
    s.trigger("slow").unwrap();
    assert_eq!(s.tick().unwrap().started, 1);
    clock.advance(9_999);
    assert_eq!(s.tick().unwrap().timed_out, 0, "not yet");
    clock.advance(1);
    let r = s.tick().unwrap();
    assert_eq!((r.timed_out, r.failed), (1, 1));
    let run = s.runs(Some("slow")).unwrap().pop().unwrap();
    assert_eq!(run.tasks[0].state, TaskState::UpForRetry);
    assert_eq!(run.tasks[0].attempts[0].error.as_deref(), Some("timed out after 10000 ms"));
    // The retry is due, but the given-up attempt's thread still runs: no second one beside it.
    clock.advance(1_000);
    assert_eq!(s.tick().unwrap().started, 0);
    assert_eq!(s.running(), 1, "the abandoned thread still counts");
    // The first attempt ends late, successfully: ignored, the attempt already failed.
    release.send(Ok("too late".into())).unwrap();
    assert!(s.wait_for_report(WAIT));
    let r = s.tick().unwrap();
    assert_eq!((r.succeeded, r.started), (0, 1), "its thread is done: the retry starts");
    // The retry succeeds in time.
    release.send(Ok("in time".into())).unwrap();
    s.run_until_idle(WAIT).unwrap();
    let run = s.runs(Some("slow")).unwrap().pop().unwrap();
    assert_eq!((run.state, run.tasks[0].attempts.len()), (RunState::Success, 2));
    assert_eq!(run.tasks[0].attempts[1].output.as_deref(), Some("in time"));
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

#[test]
fn a_restart_counts_a_running_attempt_as_interrupted_and_runs_it_again_only_if_retries_allow() {
    for (max_attempts, expect_state, expect_started) in [(1, RunState::Failed, 1), (2, RunState::Success, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let started = Arc::new(AtomicUsize::new(0));
        let retry = RetryPolicy { base_ms: 500, max_delay_ms: 500, max_attempts, jitter_percent: 0, seed: None };
        let (task, release) = gated("once", &started);
        let dag = || DagSpec::job("once", Some(Cron::parse("0 * * * *").unwrap()), task.clone().retry(retry.clone()));
        let mut s = open(dir.path(), &clock, vec![dag()]);
        clock.set(T0 + HOUR_MS);
        assert_eq!(s.tick().unwrap().started, 1);
        // The crash must come while the attempt runs: its thread has begun (on a busy machine it
        // may not have been scheduled yet when `tick` returns, and then it counted too late).
        wait_until_started(&started, 1);
        drop(s); // a crash while the attempt runs
        release.send(Ok("finished after the crash".into())).unwrap();
        let mut s = open(dir.path(), &clock, vec![dag()]);
        let run = s.runs(Some("once")).unwrap().pop().unwrap();
        let error = run.tasks[0].attempts[0].error.clone().unwrap();
        assert!(error.contains("interrupted"), "{error}");
        clock.advance(500);
        release.send(Ok("the retry".into())).unwrap();
        s.run_until_idle(WAIT).unwrap();
        let runs = s.runs(Some("once")).unwrap();
        assert_eq!(runs.len(), 1, "the slot was not created again");
        assert_eq!(runs[0].state, expect_state, "max_attempts {max_attempts}: {:?}", runs[0]);
        assert_eq!(started.load(Ordering::SeqCst), expect_started, "max_attempts {max_attempts}");
    }
}

#[test]
fn parallel_attempts_and_active_runs_stay_within_their_limits() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let started = Arc::new(AtomicUsize::new(0));
    let (tasks, releases): (Vec<TaskSpec>, Vec<_>) = (0..4).map(|i| gated(&format!("t{i}"), &started)).unzip();
    let dag = DagSpec { name: "wide".into(), schedule: None, catch_up: CatchUp::All, max_active_runs: 1, tasks };
    let config = SchedulerConfig { max_parallel_tasks: 2, ..SchedulerConfig::default() };
    let mut s = Scheduler::open(db(dir.path()), clock.clone(), config, vec![dag]).unwrap();
    s.trigger("wide").unwrap();
    clock.advance(1);
    s.trigger("wide").unwrap();
    assert_eq!(s.tick().unwrap().started, 2);
    assert_eq!(s.running(), 2);
    let states: Vec<RunState> = s.runs(Some("wide")).unwrap().iter().map(|r| r.state).collect();
    assert_eq!(states, [RunState::Running, RunState::Queued], "one active run at a time");
    // Each release frees a slot for the next task; the second run starts after the first ends.
    for r in releases.iter().cycle().take(8) {
        r.send(Ok(String::new())).unwrap();
    }
    let mut seen_max = 0;
    while s.runs(Some("wide")).unwrap().iter().any(|r| !r.state.is_final()) {
        s.tick().unwrap();
        seen_max = seen_max.max(s.running());
        if s.running() > 0 {
            assert!(s.wait_for_report(WAIT));
        }
    }
    assert_eq!(seen_max, 2);
    assert_eq!(started.load(Ordering::SeqCst), 8);
    assert!(s.runs(Some("wide")).unwrap().iter().all(|r| r.state == RunState::Success));
}

#[test]
fn running_one_dag_alone_leaves_due_slots_and_other_dags_to_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 10_000));
    let (hourly_count, manual_count, other_count) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let dags = vec![
        hourly("hourly", counting("tick", &hourly_count), CatchUp::All),
        DagSpec::job("manual", None, counting("work", &manual_count)),
        DagSpec::job("other", None, counting("work", &other_count)),
    ];
    let mut s = open(dir.path(), &clock, dags);
    // The hourly slot is due, another job was triggered, and so was this job, twice: the earlier
    // run of the same job goes first (oldest first, one active run at a time), the rest waits.
    clock.set(T0 + HOUR_MS + 5);
    s.trigger("other").unwrap();
    let earlier = s.trigger("manual").unwrap();
    clock.advance(1);
    let logical = s.trigger("manual").unwrap();
    let r = s.run_until_idle_only("manual", WAIT).unwrap();
    assert_eq!((r.created, r.started, r.succeeded, r.finished), (0, 2, 2, 2), "{r:?}");
    let runs = s.runs(Some("manual")).unwrap();
    assert!(runs.iter().all(|r| r.state == RunState::Success), "{runs:?}");
    let ended = |at: i64| runs.iter().find(|r| r.logical_ms == at).unwrap().ended_ms.unwrap();
    assert!(ended(earlier) <= ended(logical));
    assert_eq!(manual_count.load(Ordering::SeqCst), 2);
    assert_eq!((hourly_count.load(Ordering::SeqCst), other_count.load(Ordering::SeqCst)), (0, 0));
    assert!(s.runs(Some("hourly")).unwrap().is_empty(), "the due slot was not created");
    assert_eq!(s.runs(Some("other")).unwrap()[0].state, RunState::Queued);
    assert!(matches!(s.run_until_idle_only("ghost", WAIT), Err(SchedError::UnknownDag(_))));
    // The loop then does the rest: the slot and the other run, and nothing of `manual` again.
    let r = s.run_until_idle(WAIT).unwrap();
    assert_eq!((r.created, r.succeeded), (1, 2), "{r:?}");
    assert_eq!(
        [&hourly_count, &manual_count, &other_count].map(|c| c.load(Ordering::SeqCst)),
        [1, 2, 1],
        "each ran once per run"
    );
}

#[test]
fn a_panicking_task_fails_its_attempt_with_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let task = TaskSpec::new("boom", |_| panic!("the disk is on fire"));
    let mut s = open(dir.path(), &clock, vec![DagSpec::job("boom", None, task)]);
    s.trigger("boom").unwrap();
    s.run_until_idle(WAIT).unwrap();
    let run = s.runs(Some("boom")).unwrap().pop().unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(run.tasks[0].attempts[0].error.as_deref(), Some("panicked: the disk is on fire"));
}

#[test]
fn bad_specs_and_unknown_dags_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let ok = || TaskSpec::new("a", |_| Ok(String::new()));
    let cases: Vec<(DagSpec, &str)> = vec![
        (DagSpec::job("Bad Name", None, ok()), "a-z 0-9"),
        (
            DagSpec {
                tasks: vec![ok().after(&["b"]), TaskSpec::new("b", |_| Ok(String::new())).after(&["a"])],
                ..DagSpec::job("cycle", None, ok())
            },
            "cycle",
        ),
        (
            DagSpec { tasks: vec![ok().after(&["ghost"])], ..DagSpec::job("orphan", None, ok()) },
            "\"ghost\", which is not a task",
        ),
        (DagSpec { tasks: vec![ok(), ok()], ..DagSpec::job("twice", None, ok()) }, "appears twice"),
        (DagSpec::job("slow", None, ok().timeout_ms(0)), "timeout_ms"),
        (DagSpec { max_active_runs: 0, ..DagSpec::job("none", None, ok()) }, "max_active_runs"),
    ];
    for (dag, says) in cases {
        let name = dag.name.clone();
        let err = Scheduler::open(db(dir.path()), clock.clone(), SchedulerConfig::default(), vec![dag]).unwrap_err();
        assert!(matches!(err, SchedError::Spec { .. }) && err.to_string().contains(says), "{name}: {err}");
    }
    let mut s = open(dir.path(), &clock, vec![DagSpec::job("real", None, ok())]);
    assert!(matches!(s.trigger("ghost"), Err(SchedError::UnknownDag(_))));
    assert!(matches!(s.runs(Some("ghost")), Err(SchedError::UnknownDag(_))));
}

#[test]
fn an_unfinished_run_follows_its_dag_when_tasks_are_added_or_removed_before_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let started = Arc::new(AtomicUsize::new(0));
    let (extract, _release) = gated("extract", &started);
    let old = DagSpec {
        name: "etl".into(),
        schedule: None,
        catch_up: CatchUp::All,
        max_active_runs: 1,
        tasks: vec![extract],
    };
    let mut s = open(dir.path(), &clock, vec![old]);
    s.trigger("etl").unwrap();
    assert_eq!(s.tick().unwrap().started, 1);
    drop(s); // a crash while `extract` runs; then a release drops it and adds `load`
    let loads = Arc::new(AtomicUsize::new(0));
    let new = DagSpec {
        name: "etl".into(),
        schedule: None,
        catch_up: CatchUp::All,
        max_active_runs: 1,
        tasks: vec![counting("load", &loads)],
    };
    let mut s = open(dir.path(), &clock, vec![new]);
    s.run_until_idle(WAIT).unwrap();
    let run = s.runs(Some("etl")).unwrap().pop().unwrap();
    assert_eq!(run.state, RunState::Success, "{run:?}");
    assert_eq!(run.task("extract").unwrap().state, TaskState::Skipped);
    assert!(run.task("extract").unwrap().attempts[0].error.as_deref().unwrap().contains("removed"));
    assert_eq!((run.task("load").unwrap().state, loads.load(Ordering::SeqCst)), (TaskState::Success, 1));
}
