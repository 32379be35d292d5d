//! `/v1/admin/api-keys`: create (the token is returned once), list, revoke. Admin scope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ApiKeyInfo, AuthError, Scope};
use crate::error::{ApiError, Problem};
use crate::routes::extract::{ApiJson, ApiPath};
use crate::routes::json;
use crate::server::AppState;

/// A key's scope in JSON.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeJson {
    /// Read everything.
    Read,
    /// Read, and create assets, accounts, transfers and entries.
    Write,
    /// Write, and manage API keys and run audits.
    Admin,
}

impl From<ScopeJson> for Scope {
    fn from(s: ScopeJson) -> Scope {
        match s {
            ScopeJson::Read => Scope::Read,
            ScopeJson::Write => Scope::Write,
            ScopeJson::Admin => Scope::Admin,
        }
    }
}

impl From<Scope> for ScopeJson {
    fn from(s: Scope) -> ScopeJson {
        match s {
            Scope::Read => ScopeJson::Read,
            Scope::Write => ScopeJson::Write,
            Scope::Admin => ScopeJson::Admin,
        }
    }
}

/// Create an API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Label, 1–64 printable characters.
    pub name: String,
    /// What the key may do.
    pub scope: ScopeJson,
    /// Requests per second (default: the server's).
    #[serde(default)]
    pub rate_limit_per_sec: Option<u32>,
}

/// An API key (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyView {
    /// Key id (the public half of the token).
    pub id: String,
    /// Label.
    pub name: String,
    /// Scope.
    pub scope: ScopeJson,
    /// Creation time (ms since the epoch).
    pub created_at_ms: i64,
    /// Revoked keys authenticate nothing.
    pub revoked: bool,
    /// Requests per second (null: the server's default).
    pub rate_limit_per_sec: Option<u32>,
}

impl ApiKeyView {
    fn of(k: &ApiKeyInfo) -> ApiKeyView {
        ApiKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            scope: k.scope.into(),
            created_at_ms: k.created_at_ms,
            revoked: k.revoked,
            rate_limit_per_sec: k.rate_limit_per_sec,
        }
    }
}

/// A new key with its token: shown once, never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreated {
    /// Key id (the public half of the token).
    pub id: String,
    /// Label.
    pub name: String,
    /// Scope.
    pub scope: ScopeJson,
    /// Creation time (ms since the epoch).
    pub created_at_ms: i64,
    /// Always false for a new key.
    pub revoked: bool,
    /// Requests per second (null: the server's default).
    pub rate_limit_per_sec: Option<u32>,
    /// `aurum_<id>_<secret>`: send as `Authorization: Bearer <token>`. Not retrievable later.
    pub token: String,
}

/// Every key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyList {
    /// Keys, revoked ones included.
    pub data: Vec<ApiKeyView>,
}

fn key_error(e: AuthError) -> ApiError {
    match e {
        AuthError::InvalidName(d) => ApiError::field("invalid_value", "/name", d),
        e @ AuthError::InvalidRateLimit(_) => ApiError::field("invalid_value", "/rate_limit_per_sec", e.to_string()),
        e @ AuthError::TooManyKeys => {
            ApiError::Unprocessable { code: "too_many_api_keys", field: "/".into(), detail: e.to_string() }
        }
        other => ApiError::Internal(other.to_string()),
    }
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("key store task: {e}")))
}

/// Create an API key; the response holds its token, shown only this once.
#[utoipa::path(post, path = "/v1/admin/api-keys", tag = "admin", request_body = CreateApiKeyRequest,
    security(("bearer" = [])),
    responses((status = 201, body = ApiKeyCreated),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn create_key(
    State(state): State<AppState>,
    body: ApiJson<CreateApiKeyRequest>,
) -> Result<Response, ApiError> {
    let req = body.value;
    let keys = state.keys().clone();
    let created =
        blocking(move || keys.create(&req.name, req.scope.into(), req.rate_limit_per_sec)).await?.map_err(key_error)?;
    let k = ApiKeyView::of(&created.info);
    let view = ApiKeyCreated {
        id: k.id,
        name: k.name,
        scope: k.scope,
        created_at_ms: k.created_at_ms,
        revoked: k.revoked,
        rate_limit_per_sec: k.rate_limit_per_sec,
        token: created.token,
    };
    Ok(json(StatusCode::CREATED, &view))
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/v1/admin/api-keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn list_keys(State(state): State<AppState>) -> Result<Response, ApiError> {
    let data = state.keys().list().iter().map(ApiKeyView::of).collect();
    Ok(json(StatusCode::OK, &ApiKeyList { data }))
}

/// Revoke an API key (durable before the response).
#[utoipa::path(delete, path = "/v1/admin/api-keys/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked"),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_key(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let keys = state.keys().clone();
    let key_id = id.clone();
    let found = blocking(move || keys.revoke(&key_id)).await?.map_err(key_error)?;
    if !found {
        return Err(ApiError::NotFound {
            code: "api_key_not_found",
            field: "id",
            detail: format!("no API key has id {id:?}"),
        });
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
