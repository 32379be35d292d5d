//! `/v1/transfers`: create one, create a batch (atomic or independent), get, list, and post or
//! void a pending transfer. With risk scoring on, creates go through [`crate::risk::admit`]
//! first (allow, hold as pending for review, or refuse with `risk_rejected`), and a transfer held
//! for review cannot be posted by the client.

use std::collections::HashMap;

use aurum_ledger::decimal::format_amount;
use aurum_ledger::{
    AccountId, AssetId, Command, CreateTransfer, Metadata, MovementFilter, Outcome, PostPending, ResultCode,
    TransferFlags, TransferId, VoidPending,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::LIST_SCAN_BUDGET_ITEMS;
use crate::error::{ApiError, CommandKind, PROBLEM_CONTENT_TYPE, Problem, json_response};
use crate::idempotency::{Lookup, StoredResponse, header_key};
use crate::read_model::with_source;
use crate::risk::review::{Resolution, ResolutionAction, ReviewState, ReviewStore};
use crate::risk::{self, Candidate, RiskView, blocking, now_ns};
use crate::routes::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::model::{
    API_KEY_METADATA_KEY, DecimalString, Id, MetadataIn, PendingStateJson, TransferKindJson, TransferView,
    client_metadata, client_metadata_at, parse_id,
};
use crate::routes::{
    BatchResponse, Caller, account_filter, batch_outcome, batch_outcome_with_risk, json, mark_replayed,
    movement_cursor, next_movement_cursor, page_limit, single_outcome,
};
use crate::server::AppState;

/// Create a transfer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransferRequest {
    /// Transfer id (non-zero, unique forever across transfers and entries), a decimal string.
    pub id: Id,
    /// Account debited.
    pub debit_account: Id,
    /// Account credited.
    pub credit_account: Id,
    /// Amount in the asset's units, a decimal string with at most the asset's scale of decimals.
    pub amount: DecimalString,
    /// Asset code; must be both accounts' asset.
    pub asset: String,
    /// Hold the amount as pending (phase one of a two-phase transfer).
    #[serde(default)]
    pub pending: bool,
    /// For pending transfers: seconds until the hold expires (0: never).
    #[serde(default)]
    pub timeout_secs: u32,
    /// Move at most `amount`: as much as the debit account's limit allows.
    #[serde(default)]
    pub balancing_debit: bool,
    /// Move at most `amount`: as much as the credit account's limit allows.
    #[serde(default)]
    pub balancing_credit: bool,
    /// Annotations (keys starting with `aurum.` are reserved).
    #[serde(default)]
    pub metadata: Option<MetadataIn>,
}

/// Create many transfers in one journal block.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBatchRequest {
    /// All or nothing (one linked chain) if true; each on its own if false (default).
    #[serde(default)]
    pub atomic: bool,
    /// The transfers (1 to the server's batch limit, 8 190 by default).
    pub transfers: Vec<CreateTransferRequest>,
}

/// Post a pending transfer, in full or in part.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPendingRequest {
    /// Id of the posting transfer (non-zero, unique).
    pub id: Id,
    /// Amount to post (default: all of it); the rest of the hold is released.
    #[serde(default)]
    pub amount: Option<DecimalString>,
    /// Annotations.
    #[serde(default)]
    pub metadata: Option<MetadataIn>,
}

/// Void a pending transfer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidPendingRequest {
    /// Id of the voiding transfer (non-zero, unique).
    pub id: Id,
    /// Annotations.
    #[serde(default)]
    pub metadata: Option<MetadataIn>,
}

/// A page of transfers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferPage {
    /// Transfers in the order they were applied.
    pub data: Vec<TransferView>,
    /// Pass as `cursor` for the next page; null at the end. A page may be shorter than `limit`
    /// (even empty) when a filter is rare: keep following the cursor.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /v1/transfers`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTransfersQuery {
    /// Only transfers debiting or crediting this account.
    pub account: Option<String>,
    /// Only transfers of this asset (code).
    pub asset: Option<String>,
    /// Only transfers of this kind.
    #[param(value_type = Option<TransferKindJson>)]
    pub kind: Option<TransferKindJson>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
}

/// Add the creating API key to client metadata.
pub fn with_api_key(mut metadata: Metadata, caller: &Caller) -> Metadata {
    metadata.insert(API_KEY_METADATA_KEY.to_string(), caller.key_id.clone());
    metadata
}

/// 422 `asset_not_found` for an unknown asset code in a body.
pub fn asset_missing(code: &str, field: String) -> ApiError {
    ApiError::Ledger {
        code: ResultCode::AssetNotFound,
        field: Some(field),
        detail: Some(format!("no asset has code {code:?}")),
        results: None,
    }
}

/// Resolve the asset codes of requests (each distinct code once).
async fn resolve_assets<'a>(
    state: &AppState,
    codes: impl Iterator<Item = (usize, &'a str)>,
    prefix: &str,
) -> Result<HashMap<String, (AssetId, u8)>, ApiError> {
    let mut found = HashMap::new();
    for (i, code) in codes {
        if found.contains_key(code) {
            continue;
        }
        match state.asset_by_code(code).await? {
            Some(a) => {
                found.insert(code.to_string(), a);
            }
            None => {
                return Err(asset_missing(
                    code,
                    format!("{prefix}{}/asset", if prefix.is_empty() { String::new() } else { i.to_string() }),
                ));
            }
        }
    }
    Ok(found)
}

fn transfer_command(
    req: &CreateTransferRequest,
    (asset, scale): (AssetId, u8),
    caller: &Caller,
    pointer: &dyn Fn() -> String,
    linked: bool,
) -> Result<CreateTransfer, ApiError> {
    let amount = req.amount.to_units_at(scale, || format!("{}/amount", pointer()))?;
    let metadata = client_metadata_at(req.metadata.clone(), || format!("{}/metadata", pointer()))?;
    Ok(CreateTransfer {
        id: TransferId(req.id.0),
        debit_account: AccountId(req.debit_account.0),
        credit_account: AccountId(req.credit_account.0),
        amount,
        asset,
        flags: TransferFlags {
            linked,
            pending: req.pending,
            balancing_debit: req.balancing_debit,
            balancing_credit: req.balancing_credit,
        },
        timeout_secs: req.timeout_secs,
        metadata: with_api_key(metadata, caller),
    })
}

/// The transfer as created, from the command and its outcome (identical on every replay).
fn created_view(c: &CreateTransfer, code: &str, scale: u8, outcome: &Outcome) -> TransferView {
    let pending = c.flags.pending;
    TransferView {
        id: Id(c.id.0),
        kind: if pending { TransferKindJson::Pending } else { TransferKindJson::Posted },
        debit_account: Id(c.debit_account.0),
        credit_account: Id(c.credit_account.0),
        asset: code.to_string(),
        amount: format_amount(outcome.amount.unwrap_or(c.amount), scale),
        pending_id: None,
        expires_at_ns: (pending && c.timeout_secs > 0)
            .then(|| outcome.timestamp.0.saturating_add(u64::from(c.timeout_secs) * 1_000_000_000)),
        pending_state: if pending { PendingStateJson::Pending } else { PendingStateJson::None },
        metadata: c.metadata.clone(),
        timestamp_ns: outcome.timestamp.0,
    }
}

/// Create a transfer. A retry with the same id and fields returns the first response (status and
/// body) with `Idempotent-Replayed: true`; the same id with other fields is 409. With risk scoring
/// on, a held transfer is created pending (`kind: pending`, metadata `aurum.risk: held`) for a
/// reviewer, a refused one is 422 `risk_rejected`, and the `Aurum-Risk-*` headers carry the
/// decision that governs the transfer.
#[utoipa::path(post, path = "/v1/transfers", tag = "transfers", request_body = CreateTransferRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Applied (or replayed), as created", body = TransferView,
            headers(("Aurum-Risk-Decision" = String, description = "With risk scoring on: `allow` or `hold` (absent on the replay of a transfer that was not held)"),
                ("Aurum-Risk-Score" = String, description = "Its score in [0, 1], 4 decimals"),
                ("Aurum-Risk-Rules" = String, description = "The rules that fired, comma-separated (absent if none)"))),
        (status = "4XX", description = "Problem (a ledger rejection carries `result_code`; `risk_rejected` carries `risk`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Engine overloaded (Retry-After) or stopped", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<CreateTransferRequest>,
) -> Result<Response, ApiError> {
    let req = body.value;
    let (asset, scale) =
        state.asset_by_code(&req.asset).await?.ok_or_else(|| asset_missing(&req.asset, "/asset".into()))?;
    let command = transfer_command(&req, (asset, scale), &caller, &String::new, false)?;
    let Some(risk) = state.risk().cloned() else {
        let outcome = state.submit(vec![Command::CreateTransfer(command.clone())]).await?[0];
        return Ok(single_outcome(&outcome, CommandKind::Transfer, || {
            json(StatusCode::CREATED, &created_view(&command, &req.asset, scale, &outcome))
        }));
    };
    let candidate = Candidate { command, asset_code: req.asset.clone(), scale };
    let admission = risk::admit(&state, &risk, vec![candidate], &caller, None).await?;
    let outcome = state.submit(admission.commands().to_vec()).await?[0];
    let view = risk::after_apply(&state, &risk, &admission, &[outcome]).await.remove(0);
    let mut response = single_outcome(&outcome, CommandKind::Transfer, || {
        json(StatusCode::CREATED, &created_view(admission.transfer(0), &req.asset, scale, &outcome))
    });
    if let Some(view) = view {
        with_risk_headers(&mut response, &view);
    }
    Ok(response)
}

fn with_risk_headers(response: &mut Response, view: &RiskView) {
    for (name, value) in view.headers() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
}

/// Answer from a stored idempotent response.
fn replay(stored: StoredResponse) -> Response {
    let content_type = if stored.problem { PROBLEM_CONTENT_TYPE } else { "application/json" };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    mark_replayed(json_response(status, content_type, stored.body), true)
}

/// Run a batch under an optional `Idempotency-Key`: a stored response is replayed, a fresh one is
/// stored after the engine acknowledged it (only responses that reached the ledger are stored).
pub async fn with_idempotency<F>(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    raw: &[u8],
    run: F,
) -> Result<Response, ApiError>
where
    F: AsyncFnOnce() -> Result<(Response, bool), ApiError>,
{
    let Some(key) = header_key(headers)? else { return run().await.map(|(r, _)| r) };
    let claim = match state.idempotency().begin(&caller.key_id, &key, raw).await? {
        Lookup::Replay(stored) => return Ok(replay(stored)),
        Lookup::Fresh(claim) => claim,
    };
    let (response, reached_ledger) = run().await?;
    if !reached_ledger {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes =
        axum::body::to_bytes(body, usize::MAX).await.map_err(|e| ApiError::Internal(format!("buffering: {e}")))?;
    let problem = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_CONTENT_TYPE.as_bytes());
    let stored = StoredResponse { status: parts.status.as_u16(), body: bytes.to_vec(), problem };
    state.idempotency().store(claim, &stored).await?;
    Ok(Response::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Check a batch's size.
pub fn check_batch_len(state: &AppState, len: usize, field: &'static str) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::BatchEmpty { field });
    }
    if len > state.max_batch_items() {
        return Err(ApiError::BatchTooLarge {
            field,
            detail: format!("a batch holds at most {} items; this one holds {len}", state.max_batch_items()),
        });
    }
    Ok(())
}

/// Create up to the batch limit of transfers in one journal block: `atomic: true` applies all or
/// none (one linked chain); otherwise each item succeeds or fails on its own. Validation errors of
/// any item (bad amount, unknown asset code) reject the whole request before the ledger sees it.
/// With an `Idempotency-Key` header, a retry with the same body returns the stored response.
#[utoipa::path(post, path = "/v1/transfers/batch", tag = "transfers", request_body = TransferBatchRequest,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; replays the stored response for 24 h")),
    responses((status = 201, description = "Atomic batch applied", body = BatchResponse),
        (status = 200, description = "Independent batch: per-item results", body = BatchResponse),
        (status = "4XX", description = "Problem; for a failed atomic batch the failing item's code plus every item's `results`", body = Problem, content_type = "application/problem+json")))]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: ApiJson<TransferBatchRequest>,
) -> Result<Response, ApiError> {
    let ApiJson { value: req, raw } = body;
    check_batch_len(&state, req.transfers.len(), "/transfers")?;
    with_idempotency(&state, &caller, &headers, &raw, async || {
        let assets =
            resolve_assets(&state, req.transfers.iter().enumerate().map(|(i, t)| (i, t.asset.as_str())), "/transfers/")
                .await?;
        let last = req.transfers.len() - 1;
        let mut commands = Vec::with_capacity(req.transfers.len());
        let mut ids = Vec::with_capacity(req.transfers.len());
        let mut scales = Vec::with_capacity(req.transfers.len());
        for (i, t) in req.transfers.iter().enumerate() {
            let asset = assets[t.asset.as_str()];
            let c = transfer_command(t, asset, &caller, &|| format!("/transfers/{i}"), req.atomic && i < last)?;
            ids.push(t.id.0);
            scales.push(asset.1);
            commands.push(c);
        }
        let Some(risk) = state.risk().cloned() else {
            let outcomes = state.submit(commands.into_iter().map(Command::CreateTransfer).collect()).await?;
            return Ok((batch_outcome(req.atomic, "transfers", CommandKind::Transfer, &ids, &outcomes, &scales), true));
        };
        let candidates = commands
            .into_iter()
            .zip(&req.transfers)
            .zip(&scales)
            .map(|((command, t), &scale)| Candidate { command, asset_code: t.asset.clone(), scale })
            .collect();
        // A refused item refuses the request before the ledger sees it (nothing is stored under
        // the Idempotency-Key: a retry is scored again).
        let admission = risk::admit(&state, &risk, candidates, &caller, Some("transfers")).await?;
        let outcomes = state.submit(admission.commands().to_vec()).await?;
        let views = risk::after_apply(&state, &risk, &admission, &outcomes).await;
        let response =
            batch_outcome_with_risk(req.atomic, "transfers", CommandKind::Transfer, &ids, &outcomes, &scales, views);
        Ok((response, true))
    })
    .await
}

/// A transfer id from the path, or 400 naming `field`.
pub fn path_transfer(id: &str, field: &str) -> Result<TransferId, ApiError> {
    parse_id(id).map(TransferId).ok_or_else(|| ApiError::InvalidPath {
        field: field.into(),
        detail: format!("transfer id must be 1 to 39 decimal digits; got {id:?}"),
    })
}

/// Get a transfer (with the current state of a pending one).
#[utoipa::path(get, path = "/v1/transfers/{id}", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer id")),
    responses((status = 200, body = TransferView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let id = path_transfer(&id, "id")?;
    let view = state
        .read(move |l| l.transfer(id).and_then(|t| l.asset(t.asset).map(|a| TransferView::of(t, a))))
        .await?
        .ok_or_else(|| ApiError::NotFound {
            code: "transfer_not_found",
            field: "id",
            detail: format!("no accepted transfer has id {}", id.0),
        })?;
    Ok(json(StatusCode::OK, &view))
}

/// List accepted transfers in the order they were applied, optionally touching one account, of
/// one asset, or of one kind.
#[utoipa::path(get, path = "/v1/transfers", tag = "transfers", security(("bearer" = [])),
    params(ListTransfersQuery),
    responses((status = 200, body = TransferPage),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListTransfersQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(q.limit)?;
    let from = movement_cursor(q.cursor.as_deref())?;
    let account = account_filter(q.account.as_deref())?;
    let asset = match &q.asset {
        None => None,
        Some(code) => match state.asset_by_code(code).await? {
            Some((id, _)) => Some(id),
            None => return Err(ApiError::query("asset", format!("no asset has code {code:?}"))),
        },
    };
    let filter = MovementFilter { account, asset, kind: q.kind.map(TransferKindJson::to_ledger), entries_only: false };
    // A read model answers pages named by time (every cursor this API issues now).
    if let Some(after) = from.after()
        && let Some(model) = state.caught_up_read_model().await
    {
        match model.transfers_page(after, limit, filter).await {
            Ok((items, next)) => {
                let data = items.iter().map(|(t, a)| TransferView::of(t, a)).collect();
                let page = TransferPage { data, next_cursor: next.map(|t| format!("t{}", t.0)) };
                return Ok(with_source(json(StatusCode::OK, &page), "read-model"));
            }
            Err(error) => tracing::warn!(%error, "read model failed: answering from memory"),
        }
    }
    let page = state
        .read(move |l| {
            // Entries share the transfers' sequence; this endpoint lists transfers only.
            let (items, next) = l.movements_page(from.position(l), limit, LIST_SCAN_BUDGET_ITEMS, &filter);
            let next_cursor = next_movement_cursor(l, next);
            let data: Vec<TransferView> = items
                .into_iter()
                .filter_map(|m| match m {
                    aurum_ledger::Movement::Transfer(t) => l.asset(t.asset).map(|a| TransferView::of(t, a)),
                    aurum_ledger::Movement::Entry(_) => None,
                })
                .collect();
            TransferPage { data, next_cursor }
        })
        .await?;
    Ok(with_source(json(StatusCode::OK, &page), "memory"))
}

/// Run a post or void and render the stored posting/voiding transfer.
async fn settle(state: &AppState, command: Command, id: TransferId) -> Result<Response, ApiError> {
    let outcome = state.submit(vec![command]).await?[0];
    if !outcome.code.is_ok() {
        return Ok(single_outcome(&outcome, CommandKind::PostOrVoid, || {
            ApiError::Internal("settle: not ok".into()).into_response()
        }));
    }
    let view = state
        .read(move |l| l.transfer(id).and_then(|t| l.asset(t.asset).map(|a| TransferView::of(t, a))))
        .await?
        .ok_or_else(|| ApiError::Internal(format!("applied transfer {} is missing", id.0)))?;
    Ok(mark_replayed(json(StatusCode::CREATED, &view), outcome.replayed))
}

/// Post a pending transfer in full or in part (`amount`); the rest of the hold is released.
#[utoipa::path(post, path = "/v1/transfers/{id}/post", tag = "transfers", request_body = PostPendingRequest,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The pending transfer's id")),
    responses((status = 201, description = "The posting transfer", body = TransferView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn post_pending(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pending): ApiPath<String>,
    body: ApiJson<PostPendingRequest>,
) -> Result<Response, ApiError> {
    let pending_id = path_transfer(&pending, "id")?;
    let req = body.value;
    let metadata = with_api_key(client_metadata(req.metadata, "/metadata")?, &caller);
    refuse_if_held(&state, pending_id).await?;
    let amount = match &req.amount {
        None => None,
        Some(a) => {
            let scale =
                state.read(move |l| l.transfer(pending_id).and_then(|t| l.asset(t.asset)).map(|a| a.scale)).await?;
            let Some(scale) = scale else {
                return Err(ApiError::Ledger {
                    code: ResultCode::PendingTransferNotFound,
                    field: Some("id".into()),
                    detail: Some(format!("no accepted transfer has id {}", pending_id.0)),
                    results: None,
                });
            };
            Some(a.to_units(scale, "/amount")?)
        }
    };
    let id = TransferId(req.id.0);
    let command = Command::PostPending(PostPending { id, pending_id, amount, metadata, linked: false });
    settle(&state, command, id).await
}

/// Void a pending transfer: release its whole hold.
#[utoipa::path(post, path = "/v1/transfers/{id}/void", tag = "transfers", request_body = VoidPendingRequest,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The pending transfer's id")),
    responses((status = 201, description = "The voiding transfer", body = TransferView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn void_pending(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pending): ApiPath<String>,
    body: ApiJson<VoidPendingRequest>,
) -> Result<Response, ApiError> {
    let pending_id = path_transfer(&pending, "id")?;
    let req = body.value;
    let metadata = with_api_key(client_metadata(req.metadata, "/metadata")?, &caller);
    let id = TransferId(req.id.0);
    let response =
        settle(&state, Command::VoidPending(VoidPending { id, pending_id, metadata, linked: false }), id).await?;
    if response.status() == StatusCode::CREATED {
        close_review_voided_by_client(&state, &caller, pending_id, id).await;
    }
    Ok(response)
}

/// 409 `risk_held` if the transfer has an open risk review: only a reviewer releases it.
async fn refuse_if_held(state: &AppState, pending_id: TransferId) -> Result<(), ApiError> {
    let Some(risk) = state.risk() else { return Ok(()) };
    if !risk.reviews().has(pending_id.0) {
        return Ok(());
    }
    let db = state.engine().db().clone();
    let record = blocking(move || ReviewStore::get(&db, pending_id.0)).await?;
    if record.is_some_and(|r| r.state == ReviewState::Open) {
        return Err(ApiError::RiskHeld {
            detail: format!(
                "transfer {} is held for risk review; a reviewer releases it (POST /v1/risk/reviews/{}/release) or voids it",
                pending_id.0, pending_id.0
            ),
        });
    }
    Ok(())
}

/// The client voided a transfer under review: the review closes as voided (a failure to record
/// it is logged; the void stands).
async fn close_review_voided_by_client(state: &AppState, caller: &Caller, pending_id: TransferId, id: TransferId) {
    let Some(risk) = state.risk().cloned() else { return };
    if !risk.reviews().has(pending_id.0) {
        return;
    }
    let _guard = risk.reviews().lock().await;
    let (db, by, writer) = (state.engine().db().clone(), caller.key_id.clone(), risk.clone());
    let closed = blocking(move || {
        let Some(record) = ReviewStore::get(&db, pending_id.0)?.filter(|r| r.state == ReviewState::Open) else {
            return Ok(());
        };
        let resolution = Resolution {
            action: ResolutionAction::ClientVoid,
            transfer: Some(crate::routes::model::Id(id.0)),
            by: Some(by),
            at_ns: now_ns(),
            note: None,
            result: None,
        };
        let after = record.closed(ReviewState::Voided, resolution);
        writer.reviews().write(&db, &[(Some(&record), &after)])
    })
    .await;
    if let Err(e) = closed {
        tracing::error!(error = %e, transfer = %pending_id.0, "closing the review of a transfer the client voided");
    }
}
