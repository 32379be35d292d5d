//! Operations: trial balance, journal head, audit, health, readiness, metrics.

use aurum_ledger::decimal::format_amount;
use aurum_ledger::{AssetId, Ledger};
use aurum_ledger_node::audit::AuditReport;
use aurum_ledger_node::engine::AuditFrom;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::routes::extract::ApiQuery;
use crate::routes::json;
use crate::server::AppState;

/// One account's posted totals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialBalanceRowView {
    /// Account id.
    pub account: String,
    /// The account's `name` metadata, or empty.
    pub name: String,
    /// Asset code.
    pub asset: String,
    /// Posted debits.
    pub debits: String,
    /// Posted credits.
    pub credits: String,
}

/// Per-asset sums.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialBalanceTotalView {
    /// Asset code.
    pub asset: String,
    /// Σ posted debits.
    pub debits: String,
    /// Σ posted credits.
    pub credits: String,
    /// Whether they are equal (always, unless the ledger is broken).
    pub balanced: bool,
}

/// Every account's posted totals and per-asset sums (the shape of `aurum ledger trial-balance --json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialBalanceView {
    /// Accounts in id order.
    pub rows: Vec<TrialBalanceRowView>,
    /// Assets in id order.
    pub totals: Vec<TrialBalanceTotalView>,
}

/// The last durable journal block and the key that signs blocks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadView {
    /// Sequence number of the last block (0: empty journal).
    pub seq: u64,
    /// Its hash (hex SHA-256).
    pub hash: String,
    /// The node's ed25519 public key (hex), which verifies every block.
    pub public_key: String,
}

/// Where an audit's replay starts.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditFromJson {
    /// Replay every block from the first.
    #[default]
    Genesis,
    /// Replay from the newest valid signed snapshot.
    Snapshot,
}

/// `POST /v1/audit?from=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `genesis` (default) or `snapshot`.
    #[param(value_type = Option<AuditFromJson>)]
    pub from: Option<AuditFromJson>,
}

/// A block reference.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRef {
    /// Sequence number.
    pub seq: u64,
    /// Hash (hex).
    pub hash: String,
}

/// The first place the journal and its replay disagree.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DivergenceView {
    /// Block sequence number.
    pub seq: u64,
    /// Log offset of the block, if known.
    pub log_offset: Option<u64>,
    /// Command index in the block, if the divergence is in a command.
    pub command_index: Option<u64>,
    /// What kind of check failed.
    pub kind: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

/// The result of an audit: replay of the journal through a fresh state machine.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditView {
    /// No divergence found.
    pub ok: bool,
    /// `genesis` or `snapshot`.
    pub from: AuditFromJson,
    /// First block replayed.
    pub first_seq: u64,
    /// Blocks checked.
    pub blocks_checked: u64,
    /// Commands re-executed.
    pub commands_checked: u64,
    /// Expiries re-executed.
    pub expiries_checked: u64,
    /// Full invariant checks run.
    pub invariant_checks: u64,
    /// The last block replayed.
    pub head: Option<BlockRef>,
    /// Digest of the replayed state (hex).
    pub final_digest: Option<String>,
    /// Digest of the live state (hex).
    pub live_digest: Option<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: f64,
    /// The first divergence, if any.
    pub first_divergence: Option<DivergenceView>,
    /// Recovery notes.
    pub notes: Vec<String>,
    /// When it finished (ns since the epoch).
    pub finished_at_ns: u64,
}

/// Whether an audit runs, and the last result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditStatusView {
    /// An audit is running now.
    pub running: bool,
    /// The last finished audit (null: none since the server started).
    pub last: Option<AuditView>,
}

/// Liveness/readiness body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusView {
    /// `ok` (healthz) or `ready` (readyz).
    pub status: String,
}

pub(crate) fn trial_balance_view(l: &Ledger) -> TrialBalanceView {
    let tb = l.trial_balance();
    let scale = |id: AssetId| l.asset(id).map_or(0, |a| a.scale);
    let code = |id: AssetId| l.asset(id).map_or_else(|| id.0.to_string(), |a| a.code.clone());
    TrialBalanceView {
        rows: tb
            .rows
            .iter()
            .map(|r| TrialBalanceRowView {
                account: r.account.0.to_string(),
                name: l.account(r.account).and_then(|a| a.metadata.get("name")).cloned().unwrap_or_default(),
                asset: code(r.asset),
                debits: format_amount(r.debits_posted, scale(r.asset)),
                credits: format_amount(r.credits_posted, scale(r.asset)),
            })
            .collect(),
        totals: tb
            .totals
            .iter()
            .map(|(asset, d, c)| TrialBalanceTotalView {
                asset: code(*asset),
                debits: format_amount(*d, scale(*asset)),
                credits: format_amount(*c, scale(*asset)),
                balanced: d == c,
            })
            .collect(),
    }
}

/// The trial balance.
#[utoipa::path(get, path = "/v1/trial-balance", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = TrialBalanceView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn trial_balance(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = state.read(trial_balance_view).await?;
    Ok(json(StatusCode::OK, &view))
}

/// The journal head.
#[utoipa::path(get, path = "/v1/journal/head", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = HeadView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn head(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (seq, hash) = state.engine().head();
    Ok(json(StatusCode::OK, &HeadView { seq, hash: hex::encode(hash), public_key: state.engine().public_key_hex() }))
}

fn audit_view(r: &AuditReport, from: AuditFromJson) -> AuditView {
    AuditView {
        ok: r.is_clean(),
        from,
        first_seq: r.first_seq,
        blocks_checked: r.blocks_checked,
        commands_checked: r.commands_checked,
        expiries_checked: r.expiries_checked,
        invariant_checks: r.invariant_checks,
        head: r.head.map(|(seq, hash)| BlockRef { seq, hash: hex::encode(hash) }),
        final_digest: r.final_digest.map(hex::encode),
        live_digest: r.live_digest.map(hex::encode),
        elapsed_ms: r.elapsed.as_secs_f64() * 1000.0,
        first_divergence: r.first_divergence.as_ref().map(|d| DivergenceView {
            seq: d.seq,
            log_offset: d.log_offset,
            command_index: d.command_index.map(|i| i as u64),
            kind: d.kind.as_str().to_string(),
            expected: d.expected.clone(),
            found: d.found.clone(),
        }),
        notes: r.notes.clone(),
        finished_at_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    }
}

/// Clears the `running` flag however the audit ends.
struct RunningGuard(AppState);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.audit().lock().running = false;
    }
}

/// Run an audit now (admin): replay the journal and compare every outcome and the final state.
/// Writers wait while it runs.
#[utoipa::path(post, path = "/v1/audit", tag = "ledger", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "The audit's result (`ok: false` names the first divergence)", body = AuditView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn run_audit(State(state): State<AppState>, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Response, ApiError> {
    let from = q.from.unwrap_or_default();
    {
        let mut audit = state.audit().lock();
        if audit.running {
            return Err(ApiError::AuditRunning);
        }
        audit.running = true;
    }
    let guard = RunningGuard(state.clone());
    let engine = state.engine().clone();
    let engine_from = match from {
        AuditFromJson::Genesis => AuditFrom::Genesis,
        AuditFromJson::Snapshot => AuditFrom::Snapshot,
    };
    let report = tokio::task::spawn_blocking(move || engine.audit(engine_from))
        .await
        .map_err(|e| ApiError::Internal(format!("audit task: {e}")))??;
    let view = audit_view(&report, from);
    state.audit().lock().last = Some(view.clone());
    drop(guard);
    Ok(json(StatusCode::OK, &view))
}

/// Whether an audit is running, and the last result.
#[utoipa::path(get, path = "/v1/audit", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = AuditStatusView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = {
        let a = state.audit().lock();
        AuditStatusView { running: a.running, last: a.last.clone() }
    };
    Ok(json(StatusCode::OK, &view))
}

/// Liveness: the process is up. No authentication.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = StatusView)))]
pub async fn healthz() -> Response {
    json(StatusCode::OK, &StatusView { status: "ok".into() })
}

/// Readiness: the engine is open and not poisoned. No authentication.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = StatusView),
        (status = 503, description = "Engine stopped", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.read(|_| ()).await?;
    Ok(json(StatusCode::OK, &StatusView { status: "ready".into() }))
}

/// Prometheus metrics (text exposition format). No authentication: it holds counts, latencies and
/// route templates only — no ids, amounts or keys. Bind to loopback or firewall it.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state.metrics().render(state.engine().stats());
    body.push_str(&crate::operations::gauges(&state).await);
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

/// Everything the operations dashboard shows: the journal head and its age, the trial balance and
/// accounts, the last reconciliation and the mint gate, oracle prices, risk alerts, consumer lag
/// (now and its recent history), the read model's lag, job runs, the last data-quality report,
/// the lakehouse tables' health and the alerts pending or firing.
#[utoipa::path(get, path = "/v1/ops/overview", tag = "ops", security(("bearer" = [])),
    responses((status = 200, description = "The dashboard's data (see docs/operations.md)", body = Object),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn overview(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &crate::operations::overview(&state).await))
}

/// The operations dashboard (an HTML page without data: its script asks `/v1/ops/overview` with
/// a read key taken from the URL fragment `#token=…` or typed in).
#[utoipa::path(get, path = "/dashboard", tag = "ops",
    responses((status = 200, description = "HTML", body = String, content_type = "text/html")))]
pub async fn dashboard() -> Response {
    let mut r = (StatusCode::OK, crate::operations::DASHBOARD_HTML).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}
