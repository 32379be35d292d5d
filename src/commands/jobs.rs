//! `aurum jobs`: the scheduler (`aurum-sched`) with Aurum's maintenance jobs wired in, their
//! history in the data directory's KV store.
//!
//! | job                | default schedule (UTC) | tasks                                        |
//! |--------------------|------------------------|----------------------------------------------|
//! | `ledger-snapshot`  | `0 2 * * *`            | a signed ledger snapshot                     |
//! | `lake-maintenance` | `30 3 * * *`           | `sync` (journal, topics, chain → Iceberg) → `health` (rows and last commit per table, for the dashboard) and `expire` (old snapshots) |
//! | `recon-nightly`    | `0 1 * * *`            | three-way reconciliation of every chain with a manifest in the data directory (registered only if there is one) |
//! | `oracle-heartbeat` | `*/5 * * * *`          | `rounds`: a few rounds of the oracle connector of `<data-dir>/oracle.toml` (or `config = …`): prices journalled, feeds pushed on deviation or heartbeat; fails when no round publishes a price (registered only if the file exists) |
//! | `data-quality`     | `0 * * * *`            | the checks of `<data-dir>/quality.toml` (or `checks = …`); fails on a failed check (registered only if the file exists) |
//!
//! A TOML file (`--config`, default `<data-dir>/jobs.toml` when present) changes schedules,
//! retries, timeouts and parameters, or disables a job; see docs/scheduler.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_retry::RetryPolicy;
use aurum_sched::cron::format_utc;
use aurum_sched::{CatchUp, Cron, DagRun, DagSpec, Scheduler, SchedulerConfig, SystemClock, TaskSpec};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CliResult, Context};
use crate::output::print_json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long `aurum jobs trigger` and `run --until-idle` wait for attempts, in all.
const FOREGROUND_LIMIT: Duration = Duration::from_secs(6 * 3600);

/// `aurum jobs …`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The jobs: schedule, tasks, next slot, last run.
    List(ConfigArg),
    /// Run history, newest first.
    Runs {
        /// Only this job.
        job: Option<String>,
        /// Most runs shown.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run a job now, in this process, and show how it went (exit status 1 if it failed).
    Trigger {
        /// The job.
        job: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run the scheduler: every job at its slots, until Ctrl-C (or, with --until-idle, until
    /// what is due now has run).
    Run {
        /// Run what is due now (missed slots by each job's catch-up policy), then exit.
        #[arg(long)]
        until_idle: bool,
        /// Serve Prometheus metrics (each job's last run, runs by state) at http://ADDR/metrics.
        #[arg(long)]
        metrics_addr: Option<std::net::SocketAddr>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// `--config FILE`.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The jobs file (TOML); default `<data-dir>/jobs.toml` if it exists.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The jobs file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsFile {
    #[serde(default)]
    scheduler: SchedulerSection,
    #[serde(default)]
    jobs: BTreeMap<String, JobSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedulerSection {
    max_parallel_tasks: Option<usize>,
    history_per_job: Option<usize>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSection {
    enabled: Option<bool>,
    schedule: Option<String>,
    catch_up: Option<CatchUp>,
    /// Attempts after the first.
    retries: Option<u32>,
    retry_base_ms: Option<u64>,
    max_retry_delay_ms: Option<u64>,
    timeout_ms: Option<u64>,
    // lake-maintenance
    older_than_hours: Option<u64>,
    retain_last: Option<usize>,
    // data-quality
    checks: Option<PathBuf>,
    // oracle-heartbeat
    config: Option<PathBuf>,
    rounds: Option<u64>,
}

const JOBS: [&str; 5] = ["ledger-snapshot", "lake-maintenance", "recon-nightly", "data-quality", "oracle-heartbeat"];
/// Most rounds one oracle-heartbeat run may ask for.
const MAX_HEARTBEAT_ROUNDS: u64 = 100;

fn load_file(ctx: &Context, arg: &ConfigArg) -> Result<JobsFile, BoxError> {
    let default = ctx.data_dir.join("jobs.toml");
    let path = match &arg.config {
        Some(p) => p.clone(),
        None if default.is_file() => default,
        None => return Ok(JobsFile::default()),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: JobsFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(unknown) = file.jobs.keys().find(|k| !JOBS.contains(&k.as_str())) {
        return Err(format!("{}: unknown job {unknown:?}; the jobs are {}", path.display(), JOBS.join(", ")).into());
    }
    Ok(file)
}

/// What each task of a job gets: the data directory's context and its open ledger.
#[derive(Clone)]
struct Env {
    ctx: Arc<Context>,
    engine: Engine,
}

fn summary(v: &Value) -> String {
    v.to_string()
}

fn task(
    name: &str,
    section: &JobSection,
    f: impl Fn(&Env) -> Result<Value, BoxError> + Send + Sync + 'static,
    env: &Env,
) -> TaskSpec {
    let env = env.clone();
    let retry = RetryPolicy {
        base_ms: section.retry_base_ms.unwrap_or(60_000),
        max_delay_ms: section.max_retry_delay_ms.unwrap_or(30 * 60_000),
        max_attempts: section.retries.unwrap_or(2).saturating_add(1),
        jitter_percent: 50,
        seed: None,
    };
    TaskSpec::new(name, move |_| f(&env).map(|v| summary(&v)).map_err(|e| e.to_string()))
        .retry(retry)
        .timeout_ms(section.timeout_ms.unwrap_or(2 * 3600 * 1000))
}

/// The jobs of this data directory, as configured.
fn dags(env: &Env, file: &JobsFile) -> Result<Vec<DagSpec>, BoxError> {
    let section = |name: &str| file.jobs.get(name).cloned().unwrap_or_default();
    let schedule = |name: &str, s: &JobSection, default: &str| -> Result<Cron, BoxError> {
        Ok(Cron::parse(s.schedule.as_deref().unwrap_or(default)).map_err(|e| format!("job {name}: {e}"))?)
    };
    let mut out = Vec::new();

    let s = section("ledger-snapshot");
    if s.enabled.unwrap_or(true) {
        let t = task(
            "snapshot",
            &s,
            |env| {
                let meta = env.engine.snapshot_now()?;
                Ok(json!({"snapshot_seq": meta.seq}))
            },
            env,
        );
        out.push(DagSpec {
            catch_up: s.catch_up.unwrap_or(CatchUp::LatestOnly),
            ..DagSpec::job("ledger-snapshot", Some(schedule("ledger-snapshot", &s, "0 2 * * *")?), t)
        });
    }

    let s = section("lake-maintenance");
    if s.enabled.unwrap_or(true) {
        let (older, retain) = (s.older_than_hours.unwrap_or(168), s.retain_last.unwrap_or(5).max(1));
        let sync = task(
            "sync",
            &s,
            |env| {
                let rt = super::lake::runtime()?;
                let lake = rt.block_on(env.ctx.open_lake())?;
                super::lake::sync_all(&env.ctx, &rt, &lake, &env.engine)
            },
            env,
        );
        let expire =
            task("expire", &s, move |env| super::lake::expire_all(&env.ctx, older, retain), env).after(&["sync"]);
        let health = task(
            "health",
            &s,
            |env| {
                let health = super::lake::table_health(&env.ctx)?;
                env.engine.db().put(aurum_api::operations::LAKE_KEY, health.to_string().as_bytes())?;
                Ok(json!({"tables": health["tables"].as_array().map_or(0, Vec::len)}))
            },
            env,
        )
        .after(&["sync"]);
        out.push(DagSpec {
            name: "lake-maintenance".into(),
            schedule: Some(schedule("lake-maintenance", &s, "30 3 * * *")?),
            catch_up: s.catch_up.unwrap_or(CatchUp::LatestOnly),
            max_active_runs: 1,
            tasks: vec![sync, health, expire],
        });
    }

    let s = section("recon-nightly");
    let manifests = super::recon::manifest_paths(&env.ctx)?;
    if s.enabled.unwrap_or(true) && !manifests.is_empty() {
        let t = task(
            "three-way",
            &s,
            move |env| {
                let mut results = Vec::new();
                let mut breaks = 0;
                for m in &manifests {
                    let o = super::recon::three_way(&env.ctx, &env.engine, m, None, None, false)?;
                    breaks += o.result.summary.breaks;
                    results.push(json!({"chain": o.result.chain_id, "block": o.result.block,
                    "breaks": o.result.summary.breaks, "report": o.dir.map(|d| d.display().to_string())}));
                }
                if breaks > 0 {
                    // A failed run is what an operator is alerted on; the reports say why.
                    return Err(format!("{breaks} unexplained break(s): {}", Value::from(results)).into());
                }
                Ok(json!({"chains": results}))
            },
            env,
        );
        out.push(DagSpec {
            catch_up: s.catch_up.unwrap_or(CatchUp::LatestOnly),
            ..DagSpec::job("recon-nightly", Some(schedule("recon-nightly", &s, "0 1 * * *")?), t)
        });
    }

    let s = section("oracle-heartbeat");
    let oracle = s.config.clone().unwrap_or_else(|| env.ctx.data_dir.join("oracle.toml"));
    if s.enabled.unwrap_or(true) && oracle.is_file() {
        let rounds = s.rounds.unwrap_or(3).clamp(1, MAX_HEARTBEAT_ROUNDS);
        let t = task(
            "rounds",
            &s,
            move |env| {
                let rt = super::lake::runtime()?;
                let summary = rt.block_on(super::oracle::run_rounds(
                    &env.ctx,
                    &env.engine,
                    &oracle,
                    Some(rounds),
                    &super::oracle::OracleMetrics::default(),
                    std::future::pending::<()>(),
                    |_, _| {},
                ))?;
                if summary.published == 0 {
                    return Err(format!(
                        "no price published in {} round(s): {}",
                        summary.rounds,
                        Value::from(summary.last.values().cloned().collect::<Vec<_>>())
                    )
                    .into());
                }
                Ok(json!({"rounds": summary.rounds, "published": summary.published, "pushes": summary.pushes,
                          "last": summary.last}))
            },
            env,
        );
        out.push(DagSpec {
            catch_up: s.catch_up.unwrap_or(CatchUp::LatestOnly),
            ..DagSpec::job("oracle-heartbeat", Some(schedule("oracle-heartbeat", &s, "*/5 * * * *")?), t)
        });
    }

    let s = section("data-quality");
    let checks = super::quality::checks_path(&env.ctx, s.checks.as_deref());
    if s.enabled.unwrap_or(true) && checks.is_file() {
        let t = task(
            "checks",
            &s,
            move |env| {
                let results = super::quality::run_file(&env.ctx, &checks)?;
                let report = super::quality::report(&results);
                env.engine.db().put(aurum_api::operations::QUALITY_KEY, report.to_string().as_bytes())?;
                let bad: Vec<String> = results
                    .iter()
                    .filter(|r| r.status >= aurum_quality::Status::Fail)
                    .map(|r| format!("{}: {}", r.name, r.detail))
                    .collect();
                if !bad.is_empty() {
                    return Err(format!("{} check(s) failed: {}", bad.len(), bad.join("; ")).into());
                }
                let count = |s: aurum_quality::Status| results.iter().filter(|r| r.status == s).count();
                Ok(json!({"checks": results.len(), "pass": count(aurum_quality::Status::Pass),
                          "warn": count(aurum_quality::Status::Warn)}))
            },
            env,
        );
        out.push(DagSpec {
            catch_up: s.catch_up.unwrap_or(CatchUp::LatestOnly),
            ..DagSpec::job("data-quality", Some(schedule("data-quality", &s, "0 * * * *")?), t)
        });
    }
    Ok(out)
}

/// The scheduler inside `aurum serve`: the same jobs over the server's engine, on a thread of its
/// own until the server stops.
#[derive(Debug)]
pub struct InServer {
    ctx: Context,
    config: ConfigArg,
}

impl InServer {
    /// For the data directory of `ctx`, with the jobs file `config` (or the default).
    pub fn new(ctx: &Context, config: Option<PathBuf>) -> InServer {
        InServer { ctx: ctx.clone(), config: ConfigArg { config } }
    }
}

impl aurum_api::config::Background for InServer {
    fn start(&self, engine: &Engine, _topics: &aurum_log::SharedTopics) -> Result<Box<dyn FnOnce() + Send>, String> {
        let mut scheduler = scheduler_over(&self.ctx, &self.config, engine.clone()).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("aurum-jobs".into())
            .spawn(move || {
                if let Err(e) = scheduler.run_until_stopped(&flag) {
                    eprintln!("[jobs] the scheduler stopped: {e}");
                }
            })
            .map_err(|e| format!("cannot start the scheduler thread: {e}"))?;
        Ok(Box::new(move || {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }))
    }
}

fn open_scheduler(ctx: &Context, arg: &ConfigArg) -> Result<Scheduler, BoxError> {
    let engine = super::ledger::open_engine(ctx, EngineConfig::default())?;
    scheduler_over(ctx, arg, engine)
}

fn scheduler_over(ctx: &Context, arg: &ConfigArg, engine: Engine) -> Result<Scheduler, BoxError> {
    let file = load_file(ctx, arg)?;
    let env = Env { ctx: Arc::new(ctx.clone()), engine: engine.clone() };
    let config = SchedulerConfig {
        max_parallel_tasks: file.scheduler.max_parallel_tasks.unwrap_or(2),
        history_per_dag: file.scheduler.history_per_job.unwrap_or(aurum_sched::scheduler::DEFAULT_HISTORY_PER_DAG),
        ..SchedulerConfig::default()
    };
    Ok(Scheduler::open(engine.db().clone(), Arc::new(SystemClock), config, dags(&env, &file)?)?)
}

/// Run `aurum jobs …`.
pub fn run(ctx: &Context, cmd: JobsCommand) -> CliResult {
    match cmd {
        JobsCommand::List(arg) => {
            let s = open_scheduler(ctx, &arg)?;
            let mut rows = Vec::new();
            for dag in s.dags() {
                let last = s.runs(Some(&dag.name))?.pop();
                rows.push(json!({
                    "job": dag.name,
                    "schedule": dag.schedule.as_ref().map(ToString::to_string),
                    "catch_up": dag.catch_up,
                    "tasks": dag.tasks.iter().map(|t| json!({"task": t.name, "after": t.upstream})).collect::<Vec<_>>(),
                    "next_slot": s.next_slot_ms(&dag.name).map(format_utc),
                    "last_run": last.as_ref().map(run_json),
                }));
            }
            if ctx.json {
                print_json(&json!({"jobs": rows}));
            } else {
                println!("{:18} {:12} {:22} {:30} LAST RUN", "JOB", "SCHEDULE", "NEXT SLOT", "TASKS");
                for r in &rows {
                    let tasks: Vec<&str> =
                        r["tasks"].as_array().into_iter().flatten().filter_map(|t| t["task"].as_str()).collect();
                    let last = &r["last_run"];
                    let last = if last.is_null() {
                        "never".to_string()
                    } else {
                        format!("{} {}", last["state"].as_str().unwrap_or(""), last["logical"].as_str().unwrap_or(""))
                    };
                    println!(
                        "{:18} {:12} {:22} {:30} {last}",
                        r["job"].as_str().unwrap_or(""),
                        r["schedule"].as_str().unwrap_or("-"),
                        r["next_slot"].as_str().unwrap_or("-"),
                        tasks.join(" → ")
                    );
                }
            }
            Ok(())
        }
        JobsCommand::Runs { job, limit, config } => {
            let s = open_scheduler(ctx, &config)?;
            let mut runs = s.runs(job.as_deref())?;
            runs.sort_by_key(|r| std::cmp::Reverse(r.created_ms.max(r.logical_ms)));
            runs.truncate(limit);
            if ctx.json {
                print_json(&json!({"runs": runs.iter().map(run_json).collect::<Vec<_>>()}));
            } else {
                for r in &runs {
                    print_run(r);
                }
            }
            Ok(())
        }
        JobsCommand::Trigger { job, config } => {
            let mut s = open_scheduler(ctx, &config)?;
            let logical = s.trigger(&job)?;
            // This job alone: other jobs' due slots are the scheduler loop's (`aurum jobs run`).
            s.run_until_idle_only(&job, FOREGROUND_LIMIT)?;
            let run = s.runs(Some(&job))?.into_iter().find(|r| r.logical_ms == logical).ok_or("the run vanished")?;
            if ctx.json {
                print_json(&run_json(&run));
            } else {
                print_run(&run);
            }
            match run.state {
                aurum_sched::RunState::Success => Ok(()),
                state if state.is_final() => Err(format!("job {job} ended {}", state.as_str()).into()),
                aurum_sched::RunState::Queued => Err(format!(
                    "job {job} is queued behind earlier runs of it that wait for a retry (at most {} active at a time); \
                     `aurum jobs run` runs them",
                    s.dags().find(|d| d.name == job).map_or(1, |d| d.max_active_runs)
                )
                .into()),
                _ => {
                    let next = run.tasks.iter().filter_map(|t| t.next_try_ms).min().map(format_utc);
                    Err(format!(
                        "job {job} did not finish: an attempt failed and is retried{} by the scheduler (`aurum jobs run`)",
                        next.map_or(String::new(), |n| format!(" at {n}"))
                    )
                    .into())
                }
            }
        }
        JobsCommand::Run { until_idle, metrics_addr, config } => {
            let engine = super::ledger::open_engine(ctx, EngineConfig::default())?;
            if let Some(addr) = metrics_addr {
                let db = engine.db().clone();
                let bound = super::metrics_http::spawn(addr, move || aurum_api::operations::job_gauges(&db))?;
                eprintln!("[jobs] metrics on http://{bound}/metrics");
            }
            let mut s = scheduler_over(ctx, &config, engine)?;
            if until_idle {
                let r = s.run_until_idle(FOREGROUND_LIMIT)?;
                let report = json!({"created": r.created, "skipped": r.skipped, "started": r.started,
                    "succeeded": r.succeeded, "failed": r.failed, "timed_out": r.timed_out, "finished": r.finished});
                if ctx.json {
                    print_json(&report);
                } else {
                    println!("{report}");
                }
                return Ok(());
            }
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    let _ = rt.block_on(tokio::signal::ctrl_c());
                }
                flag.store(true, Ordering::Relaxed);
            });
            eprintln!("[jobs] {} job(s) scheduled; Ctrl-C stops", s.dags().count());
            s.run_until_stopped(&stop)?;
            Ok(())
        }
    }
}

fn run_json(r: &DagRun) -> Value {
    json!({
        "job": r.dag,
        "logical": format_utc(r.logical_ms),
        "trigger": r.trigger,
        "state": r.state.as_str(),
        "created": format_utc(r.created_ms),
        "ended": r.ended_ms.map(format_utc),
        "tasks": r.tasks.iter().map(|t| json!({
            "task": t.task,
            "state": t.state.as_str(),
            "next_try": t.next_try_ms.map(format_utc),
            "attempts": t.attempts.iter().map(|a| json!({
                "attempt": a.number, "started": format_utc(a.started_ms), "ended": a.ended_ms.map(format_utc),
                "output": a.output, "error": a.error,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn print_run(r: &DagRun) {
    println!("{} {} ({:?}): {}", r.dag, format_utc(r.logical_ms), r.trigger, r.state.as_str());
    for t in &r.tasks {
        println!("  {:12} {}", t.task, t.state.as_str());
        for a in &t.attempts {
            let what = a.error.as_deref().map(|e| format!("error: {e}")).or(a.output.clone()).unwrap_or_default();
            println!("    attempt {} at {}: {what}", a.number, format_utc(a.started_ms));
        }
    }
}
