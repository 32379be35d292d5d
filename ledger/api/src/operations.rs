//! Operations: the health gauges added to `/metrics`, the in-process alert evaluator, the
//! dashboard's data (`GET /v1/ops/overview`) and the dashboard page (`GET /dashboard`).
//!
//! Health comes from three places. Live, from the node: the journal head and its age, consumer
//! lag of the watched groups (from the topics, embedded or Kafka), the read model's lag. Recorded
//! by jobs in the KV store: the scheduler's run history (`aurum-sched`), the last data-quality
//! report ([`QUALITY_KEY`]) and the lakehouse tables' row counts and last commits
//! ([`LAKE_KEY`]). And the alert evaluator's own state ([`ALERTS_KEY`]).
//!
//! Every [`OPS_INTERVAL`] a background task samples consumer lag (kept for the lag chart,
//! [`LAG_HISTORY_POINTS`] points), evaluates the alert rules over the full `/metrics` text, sends
//! notifications, and persists the alert state (so a restart neither repeats nor forgets one).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use aurum_alerting::{AlertStates, Outbox, Rule, Webhook};
use aurum_ledger::decimal::{format_amount, format_signed};
use aurum_log::SharedTopics;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::AppState;

/// KV key of the last data-quality report (written by the `data-quality` job).
pub const QUALITY_KEY: &[u8] = b"ops/quality/last";
/// KV key of the lakehouse tables' health (written by the `lake-maintenance` job).
pub const LAKE_KEY: &[u8] = b"ops/lake/tables";
/// KV key of the alert evaluator's state.
pub const ALERTS_KEY: &[u8] = b"ops/alerts/state";
/// How often lag is sampled and alert rules are evaluated.
pub const OPS_INTERVAL: Duration = Duration::from_secs(5);
/// Lag samples kept for the chart (an hour at the default interval).
pub const LAG_HISTORY_POINTS: usize = 720;
/// Recent items shown per list on the dashboard.
pub const RECENT: usize = 20;
/// Oracle rounds read for the price chart.
pub const PRICE_POINTS: usize = 200;

/// Alerting configuration of a server.
#[derive(Clone)]
pub struct AlertSettings {
    /// The rules.
    pub rules: Vec<Rule>,
    /// Where notifications go (`None`: evaluated and shown on the dashboard only).
    pub webhook_url: Option<String>,
    /// How often rules are evaluated.
    pub interval: Duration,
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("rules", &self.rules.len())
            .field("webhook", &self.webhook_url.as_deref().map(crate::config::redact_url))
            .field("interval", &self.interval)
            .finish()
    }
}

/// The alert evaluator's persisted state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertBook {
    /// Pending and firing alerts.
    pub states: AlertStates,
    /// Notifications not yet delivered.
    pub outbox: Outbox,
}

/// One lag sample of a consumer group on a partition.
#[derive(Debug, Clone, Serialize)]
pub struct LagPoint {
    /// When (ms).
    pub at_ms: i64,
    /// `group/topic/partition` → lag.
    pub lags: BTreeMap<String, u64>,
}

/// What the operations side keeps in memory.
#[derive(Debug, Default)]
pub struct OpsState {
    lag_history: Mutex<VecDeque<LagPoint>>,
    alerts: Mutex<AlertBook>,
    /// The latest lag sample (taken by the background loop only, every [`OPS_INTERVAL`]; the
    /// gauges and the overview read it): each row with whether it was read in that sample, or
    /// repeated from the one before because the topics could not be read — a broker outage must
    /// not read as "caught up" and resolve alerts.
    lag_now: Mutex<Vec<(LagRow, bool)>>,
}

/// One partition's lag: (group, topic, partition, committed, end, lag).
type LagRow = (String, String, u32, Option<u64>, u64, u64);

impl OpsState {
    /// Loaded from the KV store (the alert state of the last run).
    pub fn load(db: &aurum_kv::Db) -> OpsState {
        let book = match db.get(ALERTS_KEY) {
            Ok(None) => AlertBook::default(),
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::error!(error = %e, "the saved alert state does not decode: alerts start over");
                AlertBook::default()
            }),
            Err(e) => {
                tracing::error!(error = %e, "the saved alert state cannot be read: alerts start over");
                AlertBook::default()
            }
        };
        OpsState { alerts: Mutex::new(book), ..OpsState::default() }
    }
}

fn now_ms() -> i64 {
    aurum_log::Clock::now_ms(&aurum_log::SystemClock)
}

/// Sample the consumer lag of every watched group on its topic and keep it as the latest: a
/// (group, topic) that cannot be read now repeats its rows of the previous sample, marked stale.
/// Topics that do not exist yet are skipped.
fn sample_lag(state: &AppState) -> Vec<(LagRow, bool)> {
    let topics = state.topics();
    let names = topics.topic_names();
    let previous = state.ops().lag_now.lock().clone();
    let mut out = Vec::new();
    for (group, topic) in state.watched_groups() {
        let fresh = match &names {
            Ok(names) if !names.contains(topic) => continue,
            Ok(_) => topics.lag(group, topic).ok(),
            Err(_) => None,
        };
        match fresh {
            Some(lags) => out.extend(
                lags.into_iter()
                    .map(|l| ((group.clone(), topic.clone(), l.partition, l.committed, l.log_end, l.lag), true)),
            ),
            None => out.extend(
                previous.iter().filter(|((g, t, ..), _)| g == group && t == topic).map(|(row, _)| (row.clone(), false)),
            ),
        }
    }
    out.clone_into(&mut state.ops().lag_now.lock());
    out
}

fn kv_json(db: &aurum_kv::Db, key: &[u8]) -> Option<Value> {
    db.get(key).ok().flatten().and_then(|b| serde_json::from_slice(&b).ok())
}

/// The operations gauges, in the text exposition format (appended to `/metrics`).
pub async fn gauges(state: &AppState) -> String {
    let state = state.clone();
    tokio::task::spawn_blocking(move || gauges_blocking(&state)).await.unwrap_or_default()
}

/// Each job's last finished run (success, end time), from the scheduler's history in `db`: in the
/// API's `/metrics`, and in `aurum jobs run --metrics-addr`'s.
pub fn job_gauges(db: &aurum_kv::Db) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let runs = aurum_sched::store::Store::new(db.clone()).runs(None).unwrap_or_default();
    let mut last: BTreeMap<&str, &aurum_sched::DagRun> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.state.is_final() && r.state != aurum_sched::RunState::Skipped) {
        let e = last.entry(r.dag.as_str()).or_insert(r);
        if r.ended_ms >= e.ended_ms {
            *e = r;
        }
    }
    let _ = writeln!(
        out,
        "# HELP aurum_job_last_run_success Whether a job's last finished run succeeded.\n# TYPE aurum_job_last_run_success gauge"
    );
    for (job, r) in &last {
        let ok = u8::from(r.state == aurum_sched::RunState::Success);
        let _ = writeln!(out, "aurum_job_last_run_success{{job=\"{job}\"}} {ok}");
    }
    let _ = writeln!(
        out,
        "# HELP aurum_job_last_run_end_seconds When a job's last finished run ended.\n# TYPE aurum_job_last_run_end_seconds gauge"
    );
    for (job, r) in &last {
        let _ = writeln!(out, "aurum_job_last_run_end_seconds{{job=\"{job}\"}} {}", r.ended_ms.unwrap_or(0) / 1000);
    }
    let _ = writeln!(out, "# HELP aurum_job_runs Recorded runs by job and state.\n# TYPE aurum_job_runs gauge");
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for r in &runs {
        *counts.entry((r.dag.as_str(), r.state.as_str())).or_default() += 1;
    }
    for ((job, state), n) in counts {
        let _ = writeln!(out, "aurum_job_runs{{job=\"{job}\",state=\"{state}\"}} {n}");
    }
    out
}

fn gauges_blocking(state: &AppState) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let engine = state.engine();
    let head = engine.head().0;
    let _ =
        writeln!(out, "# HELP aurum_journal_head_seq The journal's last block.\n# TYPE aurum_journal_head_seq gauge");
    let _ = writeln!(out, "aurum_journal_head_seq {head}");
    if head > 0
        && let Ok(ts) = engine.read(|l| l.last_timestamp().0)
    {
        let age = (now_ms() as f64 / 1e3 - ts as f64 / 1e9).max(0.0);
        let _ = writeln!(
            out,
            "# HELP aurum_journal_head_age_seconds Seconds since the ledger's last event.\n# TYPE aurum_journal_head_age_seconds gauge"
        );
        let _ = writeln!(out, "aurum_journal_head_age_seconds {age:.3}");
    }
    let _ = writeln!(
        out,
        "# HELP aurum_consumer_lag Records a consumer group has yet to read, per partition.\n# TYPE aurum_consumer_lag gauge"
    );
    let lags = state.ops().lag_now.lock().clone();
    for ((group, topic, p, _, _, lag), _) in &lags {
        let _ = writeln!(out, "aurum_consumer_lag{{group=\"{group}\",topic=\"{topic}\",partition=\"{p}\"}} {lag}");
    }
    let _ = writeln!(
        out,
        "# HELP aurum_consumer_lag_up Whether the lag was read now (0: the last value read is repeated).\n# TYPE aurum_consumer_lag_up gauge"
    );
    let up: BTreeMap<(&str, &str), bool> =
        lags.iter().map(|((g, t, ..), fresh)| ((g.as_str(), t.as_str()), *fresh)).collect();
    for ((group, topic), fresh) in up {
        let _ = writeln!(out, "aurum_consumer_lag_up{{group=\"{group}\",topic=\"{topic}\"}} {}", u8::from(fresh));
    }
    if let Some(through) = state.read_model_through() {
        let _ = writeln!(
            out,
            "# HELP aurum_read_model_lag_blocks Journal blocks not yet in the read model.\n# TYPE aurum_read_model_lag_blocks gauge"
        );
        let _ = writeln!(out, "aurum_read_model_lag_blocks {}", head.saturating_sub(through));
    }
    out.push_str(&job_gauges(engine.db()));
    if let Some(q) = kv_json(engine.db(), QUALITY_KEY) {
        let _ = writeln!(
            out,
            "# HELP aurum_quality_checks Checks of the last data-quality run by status.\n# TYPE aurum_quality_checks gauge"
        );
        for status in ["pass", "warn", "fail", "error"] {
            let n = q["checks"].as_array().map_or(0, |c| c.iter().filter(|c| c["status"] == status).count());
            let _ = writeln!(out, "aurum_quality_checks{{status=\"{status}\"}} {n}");
        }
    }
    if let Some(lake) = kv_json(engine.db(), LAKE_KEY) {
        let _ = writeln!(
            out,
            "# HELP aurum_lake_table_rows Rows of a lakehouse table.\n# TYPE aurum_lake_table_rows gauge"
        );
        let tables = lake["tables"].as_array().cloned().unwrap_or_default();
        for t in &tables {
            let _ =
                writeln!(out, "aurum_lake_table_rows{{table=\"{}\"}} {}", t["table"].as_str().unwrap_or(""), t["rows"]);
        }
        let _ = writeln!(
            out,
            "# HELP aurum_lake_table_age_seconds Seconds since a lakehouse table's last commit.\n# TYPE aurum_lake_table_age_seconds gauge"
        );
        for t in tables.iter().filter(|t| t["last_commit_ms"].is_i64()) {
            let age = (now_ms() - t["last_commit_ms"].as_i64().unwrap_or(0)).max(0) / 1000;
            let _ =
                writeln!(out, "aurum_lake_table_age_seconds{{table=\"{}\"}} {age}", t["table"].as_str().unwrap_or(""));
        }
    }
    let book = state.ops().alerts.lock();
    let firing = book.states.values().filter(|s| s.phase == aurum_alerting::Phase::Firing).count();
    let _ = writeln!(out, "# HELP aurum_alerts_firing Alerts firing now.\n# TYPE aurum_alerts_firing gauge");
    let _ = writeln!(out, "aurum_alerts_firing {firing}");
    let _ = writeln!(
        out,
        "# HELP aurum_alert_notifications_dropped_total Notifications dropped from a full outbox.\n# TYPE aurum_alert_notifications_dropped_total counter"
    );
    let _ = writeln!(out, "aurum_alert_notifications_dropped_total {}", book.outbox.dropped);
    out
}

/// The background loop: sample lag, evaluate and notify, persist. Ends when `stop` turns true.
pub async fn run(state: AppState, settings: Option<AlertSettings>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = settings.as_ref().map_or(OPS_INTERVAL, |s| s.interval);
    let webhook =
        settings.as_ref().and_then(|s| s.webhook_url.as_deref()).and_then(|u| match Webhook::new(u, 1_000, 300_000) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!(error = %e, "alert webhook unusable; alerts are evaluated but not sent");
                None
            }
        });
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = crate::risk::webhook::stopped(&mut stop) => return,
        }
        let now = now_ms();
        let s = state.clone();
        let lags = tokio::task::spawn_blocking(move || sample_lag(&s)).await.unwrap_or_default();
        {
            let mut h = state.ops().lag_history.lock();
            if h.len() == LAG_HISTORY_POINTS {
                h.pop_front();
            }
            let lags = lags.iter().map(|((g, t, p, _, _, lag), _)| (format!("{g}/{t}/{p}"), *lag)).collect();
            h.push_back(LagPoint { at_ms: now, lags });
        }
        let Some(settings) = &settings else { continue };
        let text = format!("{}{}", state.metrics().render(state.engine().stats()), gauges(&state).await);
        let samples = aurum_alerting::parse_samples(&text);
        // Worked on a copy (delivery may take seconds); the shared one stays readable meanwhile.
        // Only this task changes it, so writing the copy back loses nothing.
        let mut book = state.ops().alerts.lock().clone();
        let fired = aurum_alerting::evaluate(&settings.rules, &samples, &mut book.states, now);
        for n in &fired {
            tracing::warn!(rule = %n.rule, status = %n.status, summary = %n.summary, "alert");
        }
        if webhook.is_some() {
            book.outbox.push(fired);
        }
        if let Some(w) = &webhook {
            w.flush(&mut book.outbox, now).await;
        }
        let bytes = serde_json::to_vec(&book).unwrap_or_default();
        *state.ops().alerts.lock() = book;
        let db = state.engine().db().clone();
        let _ = tokio::task::spawn_blocking(move || db.put(ALERTS_KEY, &bytes)).await;
    }
}

/// Everything the dashboard shows.
pub async fn overview(state: &AppState) -> Value {
    let s = state.clone();
    tokio::task::spawn_blocking(move || overview_blocking(&s)).await.unwrap_or(Value::Null)
}

fn overview_blocking(state: &AppState) -> Value {
    let engine = state.engine();
    let db = engine.db();
    let head = engine.head().0;
    let ledger = engine
        .read(|l| {
            let tb = crate::routes::ops::trial_balance_view(l);
            let (accounts, _) = l.accounts_page(None, RECENT, None, None);
            let accounts: Vec<Value> = accounts
                .iter()
                .filter_map(|a| {
                    let asset = l.asset(a.asset)?;
                    Some(json!({
                        "id": a.id.0.to_string(), "asset": asset.code, "kind": a.kind.as_str(),
                        "name": a.metadata.get("name"),
                        "balance": format_signed(a.balance(), asset.scale),
                        "available": format_signed(a.available(), asset.scale),
                        "pending_debits": format_amount(a.debits_pending, asset.scale),
                        "pending_credits": format_amount(a.credits_pending, asset.scale),
                    }))
                })
                .collect();
            json!({"trial_balance": tb, "accounts": accounts, "last_timestamp_ns": l.last_timestamp().0})
        })
        .unwrap_or(Value::Null);
    let age = (head > 0).then(|| {
        let ts = ledger["last_timestamp_ns"].as_u64().unwrap_or(0);
        ((now_ms() as f64 / 1e3) - ts as f64 / 1e9).max(0.0).round()
    });
    let recon = aurum_recon::gate::last(db).ok().flatten();
    let mint = aurum_recon::gate::check_mint_allowed(db);
    let topics = state.topics();
    let rounds = recent_records(topics, aurum_oracle_rounds_topic(), PRICE_POINTS)
        .into_iter()
        .filter_map(|(at_ms, v)| {
            let r = &v["round"];
            let value = r["outcome"]["value"].as_i64().map(i128::from)?;
            let scale = u8::try_from(r["scale"].as_u64()?).ok()?;
            Some(json!({"symbol": r["symbol"], "round": r["round"], "at_ms": r["at_ms"].as_i64().unwrap_or(at_ms),
                        "price": format_signed(value, scale)}))
        })
        .collect::<Vec<_>>();
    let alerts_topic = aurum_risk::stream::ALERTS_TOPIC;
    let risk_alerts: Vec<Value> =
        recent_records(topics, alerts_topic, RECENT).into_iter().rev().map(|(_, v)| v).collect();
    let risk_total = topics.offsets(alerts_topic, 0).map(|o| o.high_watermark).unwrap_or(0);
    let consumers: Vec<Value> = state
        .ops()
        .lag_now
        .lock()
        .clone()
        .into_iter()
        .map(|((g, t, p, c, end, lag), fresh)| {
            json!({"group": g, "topic": t, "partition": p, "committed": c, "end": end, "lag": lag, "fresh": fresh})
        })
        .collect();
    let runs = aurum_sched::store::Store::new(db.clone()).runs(None).unwrap_or_default();
    let mut recent_runs: Vec<&aurum_sched::DagRun> =
        runs.iter().filter(|r| r.state != aurum_sched::RunState::Skipped).collect();
    recent_runs.sort_by_key(|r| std::cmp::Reverse(r.created_ms.max(r.logical_ms)));
    let job_runs: Vec<Value> = recent_runs
        .iter()
        .take(RECENT)
        .map(|r| {
            json!({
                "job": r.dag, "logical_ms": r.logical_ms, "trigger": r.trigger, "state": r.state.as_str(),
                "ended_ms": r.ended_ms,
                "tasks": r.tasks.iter().map(|t| json!({"task": t.task, "state": t.state.as_str(), "attempts": t.attempts.len(),
                    "error": t.attempts.last().and_then(|a| a.error.clone())})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let book = state.ops().alerts.lock();
    let alerts: Vec<Value> = book
        .states
        .values()
        .map(
            |a| json!({"rule": a.rule, "phase": a.phase, "since_ms": a.since_ms, "value": a.value, "labels": a.labels}),
        )
        .collect();
    let lag_history: Vec<LagPoint> = state.ops().lag_history.lock().iter().cloned().collect();
    json!({
        "generated_at_ms": now_ms(),
        "journal": {"head_seq": head, "head_age_seconds": age},
        "ledger": {"trial_balance": ledger["trial_balance"], "accounts": ledger["accounts"]},
        "recon": {"last": recon, "mint_allowed": mint.is_ok(), "reason": mint.err().map(|e| e.to_string())},
        "oracle": {"rounds": rounds},
        "risk": {"alerts_total": risk_total, "recent": risk_alerts},
        "consumers": {"now": consumers, "history": lag_history},
        "read_model": state.read_model_through().map(|t| json!({"through": t, "lag_blocks": head.saturating_sub(t)})),
        "jobs": {"runs": job_runs},
        "quality": kv_json(db, QUALITY_KEY),
        "lake": kv_json(db, LAKE_KEY),
        "alerts": {"active": alerts, "undelivered": book.outbox.queue.len(), "delivered": book.outbox.delivered},
    })
}

fn aurum_oracle_rounds_topic() -> &'static str {
    // The oracle crate's topic name; the API does not link the oracle crate.
    "oracle.rounds"
}

/// The last `n` records of partition 0 of `topic` (as JSON; others skipped), oldest first.
fn recent_records(topics: &SharedTopics, topic: &str, n: usize) -> Vec<(i64, Value)> {
    let Ok(bounds) = topics.offsets(topic, 0) else { return Vec::new() };
    let mut at = bounds.high_watermark.saturating_sub(n as u64).max(bounds.log_start);
    let mut out = Vec::new();
    while at < bounds.high_watermark {
        let Ok(f) = topics.read(topic, 0, at, 1 << 20) else { break };
        if f.records.is_empty() {
            break;
        }
        for r in &f.records {
            if let Some(v) = r.value.as_deref().and_then(|v| serde_json::from_slice(v).ok()) {
                out.push((r.timestamp_ms, v));
            }
        }
        at = f.next_offset;
    }
    out
}

/// The dashboard page: static, no data in it; its script reads the API token from the URL's
/// fragment (never sent to the server) or asks for one, and polls `/v1/ops/overview`.
pub const DASHBOARD_HTML: &str = include_str!("dashboard.html");
