//! `/v1/accounts`: create, get, list, balance (now or as of a sequence or time), statement, close.

use aurum_ledger::decimal::{format_amount, format_signed};
use aurum_ledger::{
    Account, AccountId, AccountKind, AsOf, CloseAccount, Command, CreateAccount, Limit, Timestamp, signed_balance,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, CommandKind, Problem};
use crate::read_model::with_source;
use crate::routes::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::model::{
    AccountView, DecimalString, Id, KindJson, LimitJson, MetadataIn, client_metadata, parse_id,
};
use crate::routes::{json, page_limit, parse_time, single_outcome};
use crate::server::AppState;

fn default_true() -> bool {
    true
}

/// Create an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// Account id (non-zero, unique forever), a decimal string.
    pub id: Id,
    /// Asset code.
    pub asset: String,
    /// Accounting kind.
    pub kind: KindJson,
    /// Balance limit (default none).
    #[serde(default)]
    pub limit: LimitJson,
    /// Overdraft allowed beyond the limit, in the asset's units (default 0; needs a limit).
    #[serde(default)]
    pub overdraft: Option<DecimalString>,
    /// Keep balance history for `balance?as_of…` and statements (default true).
    #[serde(default = "default_true")]
    pub history: bool,
    /// Annotations (at most 16; keys starting with `aurum.` are reserved).
    #[serde(default)]
    pub metadata: Option<MetadataIn>,
}

/// A page of accounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPage {
    /// Accounts in id order.
    pub data: Vec<AccountView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /v1/accounts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAccountsQuery {
    /// Only accounts of this asset (code).
    pub asset: Option<String>,
    /// Only accounts of this kind.
    #[param(value_type = Option<KindJson>)]
    pub kind: Option<KindJson>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
}

/// Point in history of `GET /v1/accounts/{id}/balance` (at most one of the two).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// Balances after this journal block.
    pub as_of_seq: Option<u64>,
    /// Balances after every event up to this time: RFC 3339, or ns since the Unix epoch.
    pub as_of: Option<String>,
}

/// Range of `GET /v1/accounts/{id}/statement`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// From this time (inclusive): RFC 3339 or ns since the epoch (default: the beginning).
    pub from: Option<String>,
    /// Up to this time (inclusive): RFC 3339 or ns since the epoch (default: now).
    pub to: Option<String>,
    /// Most lines, 1–1000 (default 100); `next_from` continues.
    pub limit: Option<usize>,
}

/// An account's balances now or at a point in history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceView {
    /// Account id.
    pub account: Id,
    /// Asset code.
    pub asset: String,
    /// The journal sequence asked for, if any.
    pub as_of_seq: Option<u64>,
    /// The time asked for (ns), if any.
    pub as_of_ns: Option<u64>,
    /// Posted debits.
    pub debits_posted: String,
    /// Posted credits.
    pub credits_posted: String,
    /// Pending debits.
    pub debits_pending: String,
    /// Pending credits.
    pub credits_pending: String,
    /// Posted balance on the normal side.
    pub balance: String,
    /// Balance minus holds that would reduce it.
    pub available: String,
    /// Timestamp (ns) of the last change at or before the point (null: current balance of an
    /// account without history).
    pub last_change_ns: Option<u64>,
}

/// One line of a statement: an event and the balances after it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementLineView {
    /// Event time (ns since the epoch).
    pub timestamp_ns: u64,
    /// Journal block.
    pub seq: u64,
    /// The transfer, entry, or expired pending transfer.
    pub transfer: Id,
    /// Posted balance after the event.
    pub balance: String,
    /// Posted debits after.
    pub debits_posted: String,
    /// Posted credits after.
    pub credits_posted: String,
    /// Pending debits after.
    pub debits_pending: String,
    /// Pending credits after.
    pub credits_pending: String,
}

/// An account's statement.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementView {
    /// Account id.
    pub account: Id,
    /// Asset code.
    pub asset: String,
    /// Lines in event order.
    pub lines: Vec<StatementLineView>,
    /// More lines follow: pass this as `from` (ns) for the next page; null at the end.
    pub next_from: Option<String>,
}

fn path_account(id: &str) -> Result<AccountId, ApiError> {
    parse_id(id).map(AccountId).ok_or_else(|| ApiError::InvalidPath {
        field: "id".into(),
        detail: format!("account id must be 1 to 39 decimal digits; got {id:?}"),
    })
}

fn account_missing(id: AccountId) -> ApiError {
    ApiError::NotFound { code: "account_not_found", field: "id", detail: format!("account {} does not exist", id.0) }
}

/// Create an account.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = CreateAccountRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Created (or replayed), as created: zero balances", body = AccountView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn create(State(state): State<AppState>, body: ApiJson<CreateAccountRequest>) -> Result<Response, ApiError> {
    let req = body.value;
    let metadata = client_metadata(req.metadata, "/metadata")?;
    let (asset, scale) = state.asset_by_code(&req.asset).await?.ok_or_else(|| ApiError::Ledger {
        code: aurum_ledger::ResultCode::AssetNotFound,
        field: Some("/asset".into()),
        detail: Some(format!("no asset has code {:?}", req.asset)),
        results: None,
    })?;
    let overdraft = req.overdraft.as_ref().map(|o| o.to_units(scale, "/overdraft")).transpose()?.unwrap_or(0);
    let limit = match req.limit {
        LimitJson::None if overdraft > 0 => {
            return Err(ApiError::field("invalid_value", "/overdraft", "an overdraft needs a limit"));
        }
        LimitJson::None => Limit::None,
        LimitJson::DebitsMustNotExceedCredits => Limit::DebitsMustNotExceedCredits { overdraft },
        LimitJson::CreditsMustNotExceedDebits => Limit::CreditsMustNotExceedDebits { overdraft },
    };
    let kind = AccountKind::from(req.kind);
    let command = CreateAccount {
        id: AccountId(req.id.0),
        asset,
        kind,
        limit,
        history: req.history,
        metadata: metadata.clone(),
        linked: false,
    };
    let outcome = state.submit(vec![Command::CreateAccount(command)]).await?[0];
    Ok(single_outcome(&outcome, CommandKind::Account, || {
        let account = Account {
            id: AccountId(req.id.0),
            asset,
            kind,
            limit,
            history: req.history,
            metadata,
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            closed: false,
            timestamp: outcome.timestamp,
        };
        let asset = aurum_ledger::Asset { id: asset, code: req.asset.clone(), scale, timestamp: Timestamp(0) };
        json(StatusCode::CREATED, &AccountView::of(&account, &asset))
    }))
}

/// Get an account with its balances.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = AccountView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let id = path_account(&id)?;
    let view = state
        .read(move |l| l.account(id).and_then(|a| l.asset(a.asset).map(|asset| AccountView::of(a, asset))))
        .await?
        .ok_or_else(|| account_missing(id))?;
    Ok(json(StatusCode::OK, &view))
}

/// List accounts, optionally of one asset and kind, in id order.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", security(("bearer" = [])),
    params(ListAccountsQuery),
    responses((status = 200, body = AccountPage),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListAccountsQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            parse_id(c).map(AccountId).ok_or_else(|| ApiError::query("cursor", "cursor is not one this API issued"))
        })
        .transpose()?;
    let asset = match &q.asset {
        None => None,
        Some(code) => match state.asset_by_code(code).await? {
            Some((id, _)) => Some(id),
            None => return Err(ApiError::query("asset", format!("no asset has code {code:?}"))),
        },
    };
    let kind = q.kind.map(AccountKind::from);
    if let Some(model) = state.caught_up_read_model().await {
        match model.accounts_page(after, limit, asset, kind).await {
            Ok((page, next)) => {
                let data = page.iter().map(|(a, s)| AccountView::of(a, s)).collect();
                let page = AccountPage { data, next_cursor: next.map(|n| n.0.to_string()) };
                return Ok(with_source(json(StatusCode::OK, &page), "read-model"));
            }
            Err(error) => tracing::warn!(%error, "read model failed: answering from memory"),
        }
    }
    let (data, next) = state
        .read(move |l| {
            let (page, next) = l.accounts_page(after, limit, asset, kind);
            let data: Vec<AccountView> =
                page.into_iter().filter_map(|a| l.asset(a.asset).map(|s| AccountView::of(a, s))).collect();
            (data, next)
        })
        .await?;
    let page = AccountPage { data, next_cursor: next.map(|n| n.0.to_string()) };
    Ok(with_source(json(StatusCode::OK, &page), "memory"))
}

/// An account's balances: current, or as of a journal sequence (`as_of_seq`) or a time (`as_of`).
#[utoipa::path(get, path = "/v1/accounts/{id}/balance", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id"), BalanceQuery),
    responses((status = 200, body = BalanceView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn balance(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<BalanceQuery>,
) -> Result<Response, ApiError> {
    let id = path_account(&id)?;
    if q.as_of_seq.is_some() && q.as_of.is_some() {
        return Err(ApiError::query("as_of", "give at most one of as_of_seq and as_of"));
    }
    let as_of_ns = q.as_of.as_deref().map(|t| parse_time(t).map_err(|e| ApiError::query("as_of", e))).transpose()?;
    let as_of = q.as_of_seq.map(AsOf::Sequence).or(as_of_ns.map(|t| AsOf::Timestamp(Timestamp(t))));
    let as_of_seq = q.as_of_seq;
    // A point in history: from the read model when it has caught up.
    let from_read_model = match (as_of, state.caught_up_read_model().await) {
        (Some(point), Some(model)) => match model.balance_as_of(id, point).await {
            Ok(b) => Some(b),
            Err(error) => {
                tracing::warn!(%error, "read model failed: answering from memory");
                None
            }
        },
        _ => None,
    };
    let source = if from_read_model.is_some() { "read-model" } else { "memory" };
    let view = state
        .read(move |l| -> Result<BalanceView, ApiError> {
            let a = l.account(id).ok_or_else(|| account_missing(id))?;
            let asset = l.asset(a.asset).ok_or_else(|| ApiError::Internal("account without asset".into()))?;
            let s = asset.scale;
            let (dp, dpo, cp, cpo, last) = match as_of {
                None => {
                    let last = if a.history {
                        l.balance_as_of(id, AsOf::Sequence(u64::MAX)).map(|b| b.timestamp.0)
                    } else {
                        None
                    };
                    (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, last)
                }
                Some(point) => {
                    if !a.history {
                        return Err(ApiError::NoHistory {
                            detail: format!(
                                "account {} was created without history; only its current balance is known",
                                id.0
                            ),
                        });
                    }
                    let b = from_read_model.unwrap_or_else(|| l.balance_as_of(id, point)).ok_or_else(|| {
                        ApiError::NotFound {
                            code: "no_balance_at_that_point",
                            field: "as_of",
                            detail: format!("account {} did not exist yet at that point", id.0),
                        }
                    })?;
                    (b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted, Some(b.timestamp.0))
                }
            };
            let then = Account {
                debits_pending: dp,
                debits_posted: dpo,
                credits_pending: cp,
                credits_posted: cpo,
                ..a.clone()
            };
            Ok(BalanceView {
                account: Id(id.0),
                asset: asset.code.clone(),
                as_of_seq,
                as_of_ns,
                debits_posted: format_amount(dpo, s),
                credits_posted: format_amount(cpo, s),
                debits_pending: format_amount(dp, s),
                credits_pending: format_amount(cp, s),
                balance: format_signed(signed_balance(a.kind, dpo, cpo), s),
                available: format_signed(then.available(), s),
                last_change_ns: last,
            })
        })
        .await??;
    Ok(with_source(json(StatusCode::OK, &view), source))
}

/// Say where history came from (`Aurum-Read-Source`).
/// An account's statement: every change in `[from, to]` with the balances after it.
#[utoipa::path(get, path = "/v1/accounts/{id}/statement", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id"), StatementQuery),
    responses((status = 200, body = StatementView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn statement(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Response, ApiError> {
    let id = path_account(&id)?;
    let from =
        q.from.as_deref().map(|t| parse_time(t).map_err(|e| ApiError::query("from", e))).transpose()?.unwrap_or(0);
    let to =
        q.to.as_deref().map(|t| parse_time(t).map_err(|e| ApiError::query("to", e))).transpose()?.unwrap_or(u64::MAX);
    let limit = page_limit(q.limit)?;
    // One line more than the page, to know where the next page starts.
    let from_read_model = match state.caught_up_read_model().await {
        Some(model) => match model.statement(id, Timestamp(from), Timestamp(to), limit + 1).await {
            Ok(lines) => Some(lines),
            Err(error) => {
                tracing::warn!(%error, "read model failed: answering from memory");
                None
            }
        },
        None => None,
    };
    let source = if from_read_model.is_some() { "read-model" } else { "memory" };
    let view = state
        .read(move |l| -> Result<StatementView, ApiError> {
            let a = l.account(id).ok_or_else(|| account_missing(id))?;
            if !a.history {
                return Err(ApiError::NoHistory { detail: format!("account {} keeps no history", id.0) });
            }
            let asset = l.asset(a.asset).ok_or_else(|| ApiError::Internal("account without asset".into()))?;
            let s = asset.scale;
            let all = from_read_model.unwrap_or_else(|| l.statement(id, Timestamp(from), Timestamp(to)));
            let next_from = all.get(limit).map(|line| line.timestamp.0.to_string());
            let lines = all
                .iter()
                .take(limit)
                .map(|line| StatementLineView {
                    timestamp_ns: line.timestamp.0,
                    seq: line.seq,
                    transfer: Id(line.transfer.0),
                    balance: format_signed(
                        signed_balance(a.kind, line.after.debits_posted, line.after.credits_posted),
                        s,
                    ),
                    debits_posted: format_amount(line.after.debits_posted, s),
                    credits_posted: format_amount(line.after.credits_posted, s),
                    debits_pending: format_amount(line.after.debits_pending, s),
                    credits_pending: format_amount(line.after.credits_pending, s),
                })
                .collect();
            Ok(StatementView { account: Id(id.0), asset: asset.code.clone(), lines, next_from })
        })
        .await??;
    Ok(with_source(json(StatusCode::OK, &view), source))
}

/// Close an account (no pending transfers, zero balance). Not idempotent by id: closing a closed
/// account is 409 `account_already_closed`.
#[utoipa::path(post, path = "/v1/accounts/{id}/close", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "Closed", body = AccountView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn close(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let id = path_account(&id)?;
    let outcome = state.submit(vec![Command::CloseAccount(CloseAccount { id, linked: false })]).await?[0];
    if !outcome.code.is_ok() {
        return Ok(single_outcome(&outcome, CommandKind::Close, || {
            axum::response::IntoResponse::into_response(ApiError::Internal("close: not ok".into()))
        }));
    }
    let view = state
        .read(move |l| l.account(id).and_then(|a| l.asset(a.asset).map(|asset| AccountView::of(a, asset))))
        .await?
        .ok_or_else(|| account_missing(id))?;
    Ok(json(StatusCode::OK, &view))
}
