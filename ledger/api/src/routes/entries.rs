//! `/v1/entries`: journal entries with 2–64 postings that balance per asset — create one, a
//! batch, get, list.

use std::collections::HashMap;

use aurum_ledger::{AccountId, Command, CreateEntry, MovementFilter, Posting, ResultCode, TransferId};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::LIST_SCAN_BUDGET_ITEMS;
use crate::error::{ApiError, CommandKind, Problem};
use crate::routes::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::model::{
    DecimalString, EntryView, Id, MetadataIn, PostingView, SideJson, client_metadata_at, parse_id,
};
use crate::routes::transfers::{check_batch_len, with_api_key, with_idempotency};
use crate::routes::{
    Caller, account_filter, batch_outcome, json, movement_cursor, next_movement_cursor, page_limit, single_outcome,
};
use crate::server::AppState;

/// One posting of an entry.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingRequest {
    /// Account.
    pub account: Id,
    /// Debit or credit.
    pub side: SideJson,
    /// Amount in the account's asset's units (decimal string).
    pub amount: DecimalString,
}

/// Create a journal entry.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryRequest {
    /// Entry id (non-zero, unique forever across transfers and entries).
    pub id: Id,
    /// 2 to 64 postings; per asset, debits must equal credits.
    pub postings: Vec<PostingRequest>,
    /// Annotations (keys starting with `aurum.` are reserved).
    #[serde(default)]
    pub metadata: Option<MetadataIn>,
}

/// Create many entries in one journal block.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryBatchRequest {
    /// All or nothing if true; each on its own if false (default).
    #[serde(default)]
    pub atomic: bool,
    /// The entries.
    pub entries: Vec<CreateEntryRequest>,
}

/// A page of entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPage {
    /// Entries in the order they were applied.
    pub data: Vec<EntryView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /v1/entries`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEntriesQuery {
    /// Only entries with a posting on this account.
    pub account: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
}

/// Every posting account's (asset code, scale); unknown accounts are absent.
async fn account_assets(
    state: &AppState,
    accounts: Vec<AccountId>,
) -> Result<HashMap<AccountId, (String, u8)>, ApiError> {
    state
        .read(move |l| {
            accounts
                .into_iter()
                .filter_map(|id| {
                    let a = l.account(id)?;
                    let asset = l.asset(a.asset)?;
                    Some((id, (asset.code.clone(), asset.scale)))
                })
                .collect()
        })
        .await
}

fn entry_command(
    req: &CreateEntryRequest,
    assets: &HashMap<AccountId, (String, u8)>,
    caller: &Caller,
    pointer: &str,
    linked: bool,
) -> Result<CreateEntry, ApiError> {
    let mut postings = Vec::with_capacity(req.postings.len());
    for (j, p) in req.postings.iter().enumerate() {
        let account = AccountId(p.account.0);
        let Some((_, scale)) = assets.get(&account) else {
            return Err(ApiError::Ledger {
                code: ResultCode::PostingAccountNotFound,
                field: Some(format!("{pointer}/postings/{j}/account")),
                detail: Some(format!("account {} does not exist", account.0)),
                results: None,
            });
        };
        let amount = p.amount.to_units_at(*scale, || format!("{pointer}/postings/{j}/amount"))?;
        postings.push(Posting { account, side: p.side.into(), amount });
    }
    let metadata = client_metadata_at(req.metadata.clone(), || format!("{pointer}/metadata"))?;
    Ok(CreateEntry { id: TransferId(req.id.0), postings, metadata: with_api_key(metadata, caller), linked })
}

fn entry_view(c: &CreateEntry, assets: &HashMap<AccountId, (String, u8)>, timestamp_ns: u64) -> EntryView {
    EntryView {
        id: Id(c.id.0),
        postings: c
            .postings
            .iter()
            .map(|p| {
                let (code, scale) = assets.get(&p.account).cloned().unwrap_or_default();
                PostingView {
                    account: Id(p.account.0),
                    side: p.side.into(),
                    amount: aurum_ledger::decimal::format_amount(p.amount, scale),
                    asset: code,
                }
            })
            .collect(),
        metadata: c.metadata.clone(),
        timestamp_ns,
    }
}

/// Create a journal entry. Retrying the same id and fields returns the first response with
/// `Idempotent-Replayed: true`.
#[utoipa::path(post, path = "/v1/entries", tag = "entries", request_body = CreateEntryRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Applied (or replayed)", body = EntryView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<CreateEntryRequest>,
) -> Result<Response, ApiError> {
    let req = body.value;
    let assets = account_assets(&state, req.postings.iter().map(|p| AccountId(p.account.0)).collect()).await?;
    let command = entry_command(&req, &assets, &caller, "", false)?;
    let outcome = state.submit(vec![Command::CreateEntry(command.clone())]).await?[0];
    Ok(single_outcome(&outcome, CommandKind::Entry, || {
        json(StatusCode::CREATED, &entry_view(&command, &assets, outcome.timestamp.0))
    }))
}

/// Create many entries in one journal block, atomically or independently; `Idempotency-Key`
/// works as for transfer batches.
#[utoipa::path(post, path = "/v1/entries/batch", tag = "entries", request_body = EntryBatchRequest,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    responses((status = 201, description = "Atomic batch applied", body = crate::routes::BatchResponse),
        (status = 200, description = "Independent batch: per-item results", body = crate::routes::BatchResponse),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: ApiJson<EntryBatchRequest>,
) -> Result<Response, ApiError> {
    let ApiJson { value: req, raw } = body;
    check_batch_len(&state, req.entries.len(), "/entries")?;
    with_idempotency(&state, &caller, &headers, &raw, async || {
        let accounts = req.entries.iter().flat_map(|e| e.postings.iter().map(|p| AccountId(p.account.0))).collect();
        let assets = account_assets(&state, accounts).await?;
        let last = req.entries.len() - 1;
        let mut commands = Vec::with_capacity(req.entries.len());
        let mut ids = Vec::with_capacity(req.entries.len());
        for (i, e) in req.entries.iter().enumerate() {
            let c = entry_command(e, &assets, &caller, &format!("/entries/{i}"), req.atomic && i < last)?;
            ids.push(e.id.0);
            commands.push(Command::CreateEntry(c));
        }
        let scales = vec![0; ids.len()];
        let outcomes = state.submit(commands).await?;
        Ok((batch_outcome(req.atomic, "entries", CommandKind::Entry, &ids, &outcomes, &scales), true))
    })
    .await
}

/// Get an entry.
#[utoipa::path(get, path = "/v1/entries/{id}", tag = "entries", security(("bearer" = [])),
    params(("id" = String, Path, description = "Entry id")),
    responses((status = 200, body = EntryView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id).map(TransferId).ok_or_else(|| ApiError::InvalidPath {
        field: "id".into(),
        detail: format!("entry id must be 1 to 39 decimal digits; got {id:?}"),
    })?;
    let view = state
        .read(move |l| {
            l.entry(id).map(|e| {
                EntryView::of(e, |a| {
                    l.account(a)
                        .and_then(|acc| l.asset(acc.asset))
                        .map_or((String::new(), 0), |s| (s.code.clone(), s.scale))
                })
            })
        })
        .await?
        .ok_or_else(|| ApiError::NotFound {
            code: "entry_not_found",
            field: "id",
            detail: format!("no accepted entry has id {}", id.0),
        })?;
    Ok(json(StatusCode::OK, &view))
}

/// List accepted entries in the order they were applied, optionally touching one account.
#[utoipa::path(get, path = "/v1/entries", tag = "entries", security(("bearer" = [])),
    params(ListEntriesQuery),
    responses((status = 200, body = EntryPage),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListEntriesQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(q.limit)?;
    let from = movement_cursor(q.cursor.as_deref())?;
    let account = account_filter(q.account.as_deref())?;
    let filter = MovementFilter { account, asset: None, kind: None, entries_only: true };
    let page = state
        .read(move |l| {
            let (items, next) = l.movements_page(from.position(l), limit, LIST_SCAN_BUDGET_ITEMS, &filter);
            let next_cursor = next_movement_cursor(l, next);
            let data = items
                .into_iter()
                .filter_map(|m| match m {
                    aurum_ledger::Movement::Entry(e) => Some(EntryView::of(e, |a| {
                        l.account(a)
                            .and_then(|acc| l.asset(acc.asset))
                            .map_or((String::new(), 0), |s| (s.code.clone(), s.scale))
                    })),
                    aurum_ledger::Movement::Transfer(_) => None,
                })
                .collect();
            EntryPage { data, next_cursor }
        })
        .await?;
    Ok(json(StatusCode::OK, &page))
}
