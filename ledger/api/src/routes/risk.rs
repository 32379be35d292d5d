//! `/v1/risk`: reviews of held transfers (list, get, release, void), a dry-run assessment, the
//! alerts topic, the riskiest accounts, feature drift, and the rules (summary, reload).
//!
//! The routes are always mounted; without risk scoring they answer 404 `risk_disabled`. Scopes:
//! read for every GET and for `POST /v1/risk/assess` (it changes nothing); admin for release,
//! void and reload.

use std::collections::BTreeMap;

use aurum_ledger::decimal::format_amount;
use aurum_ledger::{Command, Metadata, PostPending, ResultCode, TransferId, VoidPending};
use aurum_risk::TxEvent;
use aurum_risk::stream::ALERTS_TOPIC;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::{LIST_SCAN_BUDGET_ITEMS, MAX_REVIEW_NOTE_BYTES, MAX_TOP_K};
use crate::error::{ApiError, Problem};
use crate::risk::review::{Resolution, ResolutionAction, ReviewRecord, ReviewState, ReviewStore};
use crate::risk::{DecisionJson, RISK_METADATA_KEY, ReasonView, RiskView, blocking, now_ns};
use crate::routes::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::model::{API_KEY_METADATA_KEY, Id, PendingStateJson, client_metadata};
use crate::routes::transfers::{CreateTransferRequest, asset_missing, path_transfer};
use crate::routes::{Caller, json, mark_replayed, page_limit};
use crate::server::AppState;

/// Release or void a held transfer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewActionRequest {
    /// Id of the posting (release) or voiding (void) transfer: non-zero, unique. Repeating the
    /// request with the same id returns the same answer.
    pub id: Id,
    /// Why, for the record (at most 1 024 bytes).
    #[serde(default)]
    pub note: Option<String>,
}

/// A review of a held transfer, with the ledger's view of the transfer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewView {
    /// The held transfer.
    pub transfer_id: Id,
    /// Where the review is.
    pub state: ReviewState,
    /// True: the server made the transfer pending (release posts it). False: the client created
    /// it pending and it was left as sent (release lets the client post it; void voids it).
    pub held_by_risk: bool,
    /// Account debited.
    pub debit_account: Id,
    /// Account credited.
    pub credit_account: Id,
    /// Asset code.
    pub asset: String,
    /// Amount held (what the ledger holds; the amount requested until the ledger applied it).
    pub amount: String,
    /// The assessment that held it.
    pub risk: RiskView,
    /// Id of the API key that created the transfer.
    pub created_by: String,
    /// When it was assessed (ns since the Unix epoch).
    pub created_at_ns: u64,
    /// The ledger's state of the pending transfer (absent if the ledger never applied it).
    pub pending_state: Option<PendingStateJson>,
    /// When the hold expires in the ledger (ns since the Unix epoch), if it has a timeout.
    pub expires_at_ns: Option<u64>,
    /// How the review was closed.
    pub resolution: Option<Resolution>,
}

/// A page of reviews.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewPage {
    /// Open reviews oldest first (`state=open`); otherwise in transfer id order.
    pub data: Vec<ReviewView>,
    /// Pass as `cursor` for the next page; null at the end. A filtered page may be short.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /v1/risk/reviews`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListReviewsQuery {
    /// Only reviews in this state (`open`: the reviewers' queue, oldest first).
    #[param(value_type = Option<ReviewState>)]
    pub state: Option<ReviewState>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
}

/// A dry-run assessment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentView {
    /// Combined score in [0, 1].
    pub score: f64,
    /// What the policy would decide.
    pub decision: DecisionJson,
    /// Whether it would raise an alert.
    pub alert: bool,
    /// Fired rules, then the anomaly model if it contributed.
    pub reasons: Vec<ReasonView>,
    /// Every feature the decision was made on, by name (docs/risk.md lists them).
    pub features: BTreeMap<String, f64>,
}

/// One fired rule of an alert.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertReasonView {
    /// Rule name.
    pub rule: String,
    /// Pattern.
    pub pattern: String,
    /// `sender` or `receiver`.
    pub side: String,
    /// The account (decimal string).
    pub account: String,
    /// Contribution.
    pub score: f64,
    /// Explanation.
    pub text: String,
}

/// An alert of the `risk.alerts` topic.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertView {
    /// Its offset in the topic (pass it as `after` to read what follows).
    pub offset: u64,
    /// Transfer id.
    pub transfer: String,
    /// Debit account.
    pub debit_account: String,
    /// Credit account.
    pub credit_account: String,
    /// Ledger asset id.
    pub asset: u32,
    /// Amount in base units (decimal string, exact).
    pub amount_units: String,
    /// Event time (ns since the Unix epoch): the ledger's timestamp of an applied transfer, the
    /// assessment's clock for a refused one.
    pub timestamp_ns: u64,
    /// Score.
    pub score: f64,
    /// `allow`, `hold` or `reject`.
    pub decision: String,
    /// `admission` (scored by this API) or `journal` (by `aurum risk scan`).
    pub source: String,
    /// Why.
    pub reasons: Vec<AlertReasonView>,
}

/// A page of alerts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPage {
    /// Alerts in topic order.
    pub data: Vec<AlertView>,
    /// Offset of the last alert returned (pass as `after`); null when none was.
    pub last_offset: Option<u64>,
}

/// Paging of `GET /v1/risk/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only alerts after this offset (default: from the oldest kept).
    pub after: Option<u64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
}

/// One of the riskiest accounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopAccountView {
    /// Account id.
    pub account: Id,
    /// Risk attributed to it by fired rules, decayed to now (half-life: the scorer's setting).
    pub risk: f64,
}

/// The riskiest accounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopView {
    /// Highest risk first.
    pub data: Vec<TopAccountView>,
    /// The time the risks are decayed to (ns since the Unix epoch).
    pub as_of_ns: u64,
}

/// `?k=` of `GET /v1/risk/top`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TopQuery {
    /// How many, 1–1000 and at most the scorer's ranking size (default 10).
    pub k: Option<usize>,
}

/// A PSI band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PsiBandJson {
    /// PSI < 0.10: no meaningful shift.
    Stable,
    /// 0.10 ≤ PSI < 0.25: worth a look.
    Moderate,
    /// PSI ≥ 0.25: the population has shifted.
    Significant,
}

impl PsiBandJson {
    fn of(name: &str) -> PsiBandJson {
        match name {
            "stable" => PsiBandJson::Stable,
            "moderate" => PsiBandJson::Moderate,
            _ => PsiBandJson::Significant,
        }
    }
}

/// One feature's drift in the last complete window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureDriftView {
    /// Feature name.
    pub feature: String,
    /// Population Stability Index against the reference sample.
    pub psi: f64,
    /// Its band.
    pub band: PsiBandJson,
}

/// Feature drift (PSI) of scored traffic.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftView {
    /// Still collecting the reference sample (no PSI yet).
    pub collecting: bool,
    /// Complete windows measured since the reference.
    pub windows: u64,
    /// The worst band of the last window.
    pub worst: Option<PsiBandJson>,
    /// Per feature, the last complete window (empty until there is one).
    pub features: Vec<FeatureDriftView>,
    /// Transfers the scorer learned from (the journal at startup, then admissions).
    pub observed: u64,
    /// Account profiles held.
    pub profiles: u64,
}

/// The admission policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyView {
    /// Alert at or above this score.
    pub alert_at: f64,
    /// Hold at or above.
    pub hold_at: f64,
    /// Reject at or above.
    pub reject_at: f64,
    /// Timeout of a held transfer, in seconds (0: never expires).
    pub hold_timeout_secs: u32,
}

/// One rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleView {
    /// Name.
    pub name: String,
    /// Pattern it detects.
    pub pattern: String,
    /// `sender` or `receiver`.
    pub side: String,
    /// Its score when it fires.
    pub score: f64,
    /// Restricted to this asset code.
    pub asset: Option<String>,
}

/// The rules in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesView {
    /// `built-in`, or the rules file's path.
    pub source: String,
    /// When they were loaded (ns since the Unix epoch).
    pub loaded_at_ns: u64,
    /// Successful reloads since the server started.
    pub reloads: u64,
    /// The last refused reload (the rules in force stayed); cleared by a successful one.
    pub last_error: Option<String>,
    /// The policy.
    pub policy: PolicyView,
    /// Most the anomaly model can add to a score.
    pub model_weight: f64,
    /// Model scores at or below this add nothing.
    pub model_floor: f64,
    /// Structuring band under the reporting thresholds, in basis points.
    pub structuring_band_bps: u32,
    /// Reporting thresholds by asset code (decimal strings).
    pub thresholds: BTreeMap<String, String>,
    /// Enabled rules in file order.
    pub rules: Vec<RuleView>,
}

fn review_id(transfer_id: &str) -> Result<TransferId, ApiError> {
    path_transfer(transfer_id, "transfer_id")
}

fn review_missing(id: TransferId) -> ApiError {
    ApiError::NotFound {
        code: "review_not_found",
        field: "transfer_id",
        detail: format!("transfer {} has no risk review", id.0),
    }
}

/// Views of records, with the ledger's state of each transfer (one read).
async fn views(state: &AppState, records: Vec<ReviewRecord>) -> Result<Vec<ReviewView>, ApiError> {
    let ids: Vec<TransferId> = records.iter().map(|r| TransferId(r.transfer.0)).collect();
    let ledger = state
        .read(move |l| {
            ids.iter()
                .map(|id| {
                    l.transfer(*id)
                        .map(|t| (PendingStateJson::of(t.pending_state), t.expires_at.map(|e| e.0), t.amount))
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(records
        .into_iter()
        .zip(ledger)
        .map(|(r, found)| {
            let requested = r.amount_units.parse::<u128>().unwrap_or_default();
            let (pending_state, expires_at_ns, amount) = match found {
                Some((s, e, a)) => (Some(s), e, a),
                None => (None, None, requested),
            };
            ReviewView {
                transfer_id: r.transfer,
                state: r.state,
                held_by_risk: r.held_by_risk,
                debit_account: r.debit_account,
                credit_account: r.credit_account,
                asset: r.asset_code.clone(),
                amount: format_amount(amount, r.scale),
                risk: r.risk_view(),
                created_by: r.created_by.clone(),
                created_at_ns: r.created_at_ns,
                pending_state,
                expires_at_ns,
                resolution: r.resolution,
            }
        })
        .collect())
}

async fn one_view(state: &AppState, record: ReviewRecord) -> Result<ReviewView, ApiError> {
    Ok(views(state, vec![record]).await?.remove(0))
}

/// Score a transfer as admission would, without submitting it or learning from it.
#[utoipa::path(post, path = "/v1/risk/assess", tag = "risk", request_body = CreateTransferRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "The assessment (nothing is submitted or learned)", body = AssessmentView),
        (status = "4XX", description = "Problem (`risk_disabled` when risk scoring is off)", body = Problem, content_type = "application/problem+json")))]
pub async fn assess(State(state): State<AppState>, body: ApiJson<CreateTransferRequest>) -> Result<Response, ApiError> {
    let risk = state.risk_enabled()?.clone();
    let req = body.value;
    let (asset, scale) =
        state.asset_by_code(&req.asset).await?.ok_or_else(|| asset_missing(&req.asset, "/asset".into()))?;
    let amount = req.amount.to_units(scale, "/amount")?;
    client_metadata(req.metadata, "/metadata")?;
    let e = TxEvent {
        id: req.id.0,
        debit: req.debit_account.0,
        credit: req.credit_account.0,
        asset: asset.0,
        amount,
        ts_ns: now_ns(),
    };
    let a = risk.scorer().lock().assess(&e);
    let view = RiskView::of(&a);
    Ok(json(
        StatusCode::OK,
        &AssessmentView {
            score: view.score,
            decision: view.decision,
            alert: a.alert,
            reasons: view.reasons,
            features: a.features.named().map(|(k, v)| (k.to_string(), v)).collect(),
        },
    ))
}

/// List reviews: `?state=open` is the reviewers' queue, oldest first.
#[utoipa::path(get, path = "/v1/risk/reviews", tag = "risk", security(("bearer" = [])),
    params(ListReviewsQuery),
    responses((status = 200, body = ReviewPage),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn list_reviews(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListReviewsQuery>,
) -> Result<Response, ApiError> {
    state.risk_enabled()?;
    let limit = page_limit(q.limit)?;
    let db = state.engine().db().clone();
    let (records, next_cursor) = blocking(move || match q.state {
        Some(ReviewState::Open) => ReviewStore::page_open(&db, q.cursor.as_deref(), limit),
        filter => ReviewStore::page_all(&db, filter, q.cursor.as_deref(), limit, LIST_SCAN_BUDGET_ITEMS),
    })
    .await?;
    let data = views(&state, records).await?;
    Ok(json(StatusCode::OK, &ReviewPage { data, next_cursor }))
}

/// Get the review of a transfer.
#[utoipa::path(get, path = "/v1/risk/reviews/{transfer_id}", tag = "risk", security(("bearer" = [])),
    params(("transfer_id" = String, Path, description = "The held transfer's id")),
    responses((status = 200, body = ReviewView),
        (status = "4XX", description = "Problem (`review_not_found`)", body = Problem, content_type = "application/problem+json")))]
pub async fn get_review(
    State(state): State<AppState>,
    ApiPath(transfer_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    state.risk_enabled()?;
    let id = review_id(&transfer_id)?;
    let db = state.engine().db().clone();
    let record = blocking(move || ReviewStore::get(&db, id.0)).await?.ok_or_else(|| review_missing(id))?;
    Ok(json(StatusCode::OK, &one_view(&state, record).await?))
}

/// Release or void: the review's transition, with the ledger command it takes.
async fn act(
    state: AppState,
    caller: Caller,
    transfer_id: String,
    req: ReviewActionRequest,
    action: ResolutionAction,
) -> Result<Response, ApiError> {
    let risk = state.risk_enabled()?.clone();
    let pending_id = review_id(&transfer_id)?;
    if req.note.as_ref().is_some_and(|n| n.len() > MAX_REVIEW_NOTE_BYTES) {
        return Err(ApiError::field(
            "invalid_value",
            "/note",
            format!("note must be at most {MAX_REVIEW_NOTE_BYTES} bytes"),
        ));
    }
    let _guard = risk.reviews().lock().await;
    let db = state.engine().db().clone();
    let record =
        blocking(move || ReviewStore::get(&db, pending_id.0)).await?.ok_or_else(|| review_missing(pending_id))?;
    if record.state != ReviewState::Open {
        // The same request again (same action, same transfer id): the same answer.
        if let Some(res) = &record.resolution
            && res.action == action
            && (res.transfer == Some(req.id) || (res.transfer.is_none() && !record.held_by_risk))
        {
            return Ok(mark_replayed(json(StatusCode::OK, &one_view(&state, record).await?), true));
        }
        let by = record
            .resolution
            .as_ref()
            .and_then(|r| r.by.as_deref())
            .map_or_else(String::new, |k| format!(" by key {k}"));
        return Err(ApiError::ReviewNotOpen {
            detail: format!("the review of transfer {} is {}{by}", pending_id.0, record.state.as_str()),
        });
    }
    let note = req.note.clone();
    let closing = |state: ReviewState, transfer: Option<Id>| {
        record.closed(
            state,
            Resolution {
                action,
                transfer,
                by: Some(caller.key_id.clone()),
                at_ns: now_ns(),
                note: note.clone(),
                result: None,
            },
        )
    };
    let write = |before: ReviewRecord, after: ReviewRecord| {
        let (risk, db) = (risk.clone(), state.engine().db().clone());
        blocking(move || risk.reviews().write(&db, &[(Some(&before), &after)]).map(|()| after))
    };

    // A transfer the client created pending: releasing approves it; the client posts it.
    if action == ResolutionAction::Release && !record.held_by_risk {
        let closed = write(record.clone(), closing(ReviewState::Released, None)).await?;
        return Ok(json(StatusCode::OK, &one_view(&state, closed).await?));
    }
    let metadata: Metadata = BTreeMap::from([
        (API_KEY_METADATA_KEY.to_string(), caller.key_id.clone()),
        (
            RISK_METADATA_KEY.to_string(),
            if action == ResolutionAction::Release { "released" } else { "voided" }.to_string(),
        ),
    ]);
    let id = TransferId(req.id.0);
    let command = if action == ResolutionAction::Release {
        Command::PostPending(PostPending { id, pending_id, amount: None, metadata, linked: false })
    } else {
        Command::VoidPending(VoidPending { id, pending_id, metadata, linked: false })
    };
    let outcome = state.submit(vec![command]).await?[0];
    if outcome.code.is_ok() {
        let to = if action == ResolutionAction::Release { ReviewState::Released } else { ReviewState::Voided };
        let closed = write(record.clone(), closing(to, Some(req.id))).await?;
        return Ok(mark_replayed(json(StatusCode::OK, &one_view(&state, closed).await?), outcome.replayed));
    }
    // The ledger says the hold is gone: the review follows the ledger.
    let ledger_state = match outcome.code {
        ResultCode::PendingTransferExpired => Some(ReviewState::Expired),
        ResultCode::PendingTransferAlreadyPosted => Some(ReviewState::Released),
        ResultCode::PendingTransferAlreadyVoided => Some(ReviewState::Voided),
        _ => None,
    };
    if let Some(to) = ledger_state {
        let closed = record.closed(
            to,
            Resolution {
                action: ResolutionAction::Ledger,
                transfer: None,
                by: None,
                at_ns: now_ns(),
                note: None,
                result: Some(outcome.code.as_str().to_string()),
            },
        );
        write(record.clone(), closed).await?;
    }
    let field = crate::error::ledger_field(outcome.code, crate::error::CommandKind::PostOrVoid)
        .map(|f| if f == "id" { "transfer_id".to_string() } else { f.to_string() });
    let problem = ApiError::Ledger { code: outcome.code, field, detail: None, results: None };
    Ok(mark_replayed(axum::response::IntoResponse::into_response(problem), outcome.replayed))
}

/// Release a held transfer: post it in full (for a transfer the client created pending: approve
/// it, and the client posts it).
#[utoipa::path(post, path = "/v1/risk/reviews/{transfer_id}/release", tag = "risk", request_body = ReviewActionRequest,
    security(("bearer" = [])),
    params(("transfer_id" = String, Path, description = "The held transfer's id")),
    responses((status = 200, description = "The review, released (a repeat with the same id: the same, with Idempotent-Replayed)", body = ReviewView),
        (status = "4XX", description = "Problem: `review_not_found`, `review_not_open`, or the ledger's code (`pending_transfer_expired`, ...)", body = Problem, content_type = "application/problem+json")))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(transfer_id): ApiPath<String>,
    body: ApiJson<ReviewActionRequest>,
) -> Result<Response, ApiError> {
    act(state, caller, transfer_id, body.value, ResolutionAction::Release).await
}

/// Void a held transfer: release its hold; nothing moves.
#[utoipa::path(post, path = "/v1/risk/reviews/{transfer_id}/void", tag = "risk", request_body = ReviewActionRequest,
    security(("bearer" = [])),
    params(("transfer_id" = String, Path, description = "The held transfer's id")),
    responses((status = 200, description = "The review, voided (a repeat with the same id: the same, with Idempotent-Replayed)", body = ReviewView),
        (status = "4XX", description = "Problem: `review_not_found`, `review_not_open`, or the ledger's code", body = Problem, content_type = "application/problem+json")))]
pub async fn void(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(transfer_id): ApiPath<String>,
    body: ApiJson<ReviewActionRequest>,
) -> Result<Response, ApiError> {
    act(state, caller, transfer_id, body.value, ResolutionAction::Void).await
}

/// Read the alerts topic (`risk.alerts`) after an offset.
#[utoipa::path(get, path = "/v1/risk/alerts", tag = "risk", security(("bearer" = [])),
    params(AlertsQuery),
    responses((status = 200, body = AlertPage),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn alerts(State(state): State<AppState>, ApiQuery(q): ApiQuery<AlertsQuery>) -> Result<Response, ApiError> {
    state.risk_enabled()?;
    let limit = page_limit(q.limit)?;
    let topics = state.topics().clone();
    let found = blocking(move || {
        let log = &*topics;
        let bounds = log.offsets(ALERTS_TOPIC, 0).map_err(|e| ApiError::Internal(format!("alerts topic: {e}")))?;
        let from = q.after.map_or(0, |a| a.saturating_add(1)).max(bounds.log_start);
        if from >= bounds.high_watermark {
            return Ok(Vec::new());
        }
        aurum_risk::stream::read_alerts(log, from, limit)
            .map(|(alerts, _)| alerts)
            .map_err(|e| ApiError::Internal(format!("reading alerts: {e}")))
    })
    .await?;
    let data: Vec<AlertView> = found
        .into_iter()
        .map(|(offset, a)| AlertView {
            offset,
            transfer: a.transfer,
            debit_account: a.debit_account,
            credit_account: a.credit_account,
            asset: a.asset,
            amount_units: a.amount_units,
            timestamp_ns: a.timestamp_ns,
            score: a.score,
            decision: a.decision,
            source: a.source,
            reasons: a
                .reasons
                .into_iter()
                .map(|r| AlertReasonView {
                    rule: r.rule,
                    pattern: r.pattern,
                    side: r.side,
                    account: r.account,
                    score: r.score,
                    text: r.text,
                })
                .collect(),
        })
        .collect();
    let last_offset = data.last().map(|a| a.offset);
    Ok(json(StatusCode::OK, &AlertPage { data, last_offset }))
}

/// The riskiest accounts: risk attributed by fired rules, decayed over time.
#[utoipa::path(get, path = "/v1/risk/top", tag = "risk", security(("bearer" = [])),
    params(TopQuery),
    responses((status = 200, body = TopView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn top(State(state): State<AppState>, ApiQuery(q): ApiQuery<TopQuery>) -> Result<Response, ApiError> {
    let risk = state.risk_enabled()?;
    let max = risk.top_k().clamp(1, MAX_TOP_K);
    let k = q.k.unwrap_or(10.min(max));
    if !(1..=max).contains(&k) {
        return Err(ApiError::query("k", format!("k must be 1 to {max}; got {k}")));
    }
    let as_of_ns = now_ns();
    let data = risk
        .scorer()
        .lock()
        .top(k, as_of_ns)
        .into_iter()
        .map(|(account, risk)| TopAccountView { account: Id(account), risk })
        .collect();
    Ok(json(StatusCode::OK, &TopView { data, as_of_ns }))
}

/// Feature drift: PSI of the last complete window against the reference sample.
#[utoipa::path(get, path = "/v1/risk/drift", tag = "risk", security(("bearer" = [])),
    responses((status = 200, body = DriftView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn drift(State(state): State<AppState>) -> Result<Response, ApiError> {
    let risk = state.risk_enabled()?;
    let view = {
        let scorer = risk.scorer().lock();
        let d = scorer.drift();
        let stats = scorer.stats();
        DriftView {
            collecting: d.collecting(),
            windows: d.windows(),
            worst: d.worst().map(|b| PsiBandJson::of(b.as_str())),
            features: d
                .last()
                .iter()
                .map(|f| FeatureDriftView {
                    feature: f.feature.name().to_string(),
                    psi: f.psi,
                    band: PsiBandJson::of(f.band.as_str()),
                })
                .collect(),
            observed: stats.observed,
            profiles: stats.profiles as u64,
        }
    };
    Ok(json(StatusCode::OK, &view))
}

fn rules_view(risk: &crate::risk::RiskState) -> RulesView {
    let info = risk.rules_info();
    let rules = risk.scorer().lock().rules().clone();
    RulesView {
        source: info.source,
        loaded_at_ns: info.loaded_at_ns,
        reloads: info.reloads,
        last_error: info.last_error,
        policy: PolicyView {
            alert_at: rules.policy.alert_at,
            hold_at: rules.policy.hold_at,
            reject_at: rules.policy.reject_at,
            hold_timeout_secs: rules.policy.hold_timeout_secs,
        },
        model_weight: rules.model.weight,
        model_floor: rules.model.floor,
        structuring_band_bps: rules.structuring_band_bps,
        thresholds: rules.thresholds.clone(),
        rules: rules
            .rules
            .iter()
            .map(|r| RuleView {
                name: r.name.clone(),
                pattern: r.pattern.clone(),
                side: r.side.as_str().to_string(),
                score: r.score,
                asset: r.asset.clone(),
            })
            .collect(),
    }
}

/// The rules in force: source, policy, rules.
#[utoipa::path(get, path = "/v1/risk/rules", tag = "risk", security(("bearer" = [])),
    responses((status = 200, body = RulesView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn rules(State(state): State<AppState>) -> Result<Response, ApiError> {
    let risk = state.risk_enabled()?;
    Ok(json(StatusCode::OK, &rules_view(risk)))
}

/// Re-read the rules file now (the server also polls it every 2 s). A bad file changes nothing:
/// 422 `risk_rules_invalid` names the rule and the column.
#[utoipa::path(post, path = "/v1/risk/rules/reload", tag = "risk", security(("bearer" = [])),
    responses((status = 200, description = "The rules now in force", body = RulesView),
        (status = "4XX", description = "Problem: `risk_rules_invalid`, `risk_rules_built_in`", body = Problem, content_type = "application/problem+json")))]
pub async fn reload_rules(State(state): State<AppState>) -> Result<Response, ApiError> {
    let risk = state.risk_enabled()?.clone();
    let reloaded = risk.clone();
    blocking(move || reloaded.reload_rules_now()).await?;
    Ok(json(StatusCode::OK, &rules_view(&risk)))
}
