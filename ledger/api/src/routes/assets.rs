//! `/v1/assets`: create, list, get by code.

use aurum_ledger::{AssetId, Command, CreateAsset};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, CommandKind, Problem};
use crate::routes::extract::{ApiJson, ApiPath};
use crate::routes::model::AssetView;
use crate::routes::{json, single_outcome};
use crate::server::AppState;

/// Create an asset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssetRequest {
    /// Numeric id (non-zero, unique).
    pub id: u32,
    /// Code: 1–12 of `A-Z 0-9`, unique.
    pub code: String,
    /// Decimal places of one base unit (0–18).
    pub scale: u8,
}

/// Every asset.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetList {
    /// Assets in id order.
    pub data: Vec<AssetView>,
}

/// Create an asset.
#[utoipa::path(post, path = "/v1/assets", tag = "assets", request_body = CreateAssetRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Created (or replayed: same id and fields)", body = AssetView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn create(State(state): State<AppState>, body: ApiJson<CreateAssetRequest>) -> Result<Response, ApiError> {
    let req = body.value;
    let command = CreateAsset { id: AssetId(req.id), code: req.code.clone(), scale: req.scale };
    let outcome = state.submit(vec![Command::CreateAsset(command)]).await?[0];
    if outcome.code.is_ok() {
        state.remember_asset(&req.code, (AssetId(req.id), req.scale));
        if let Some(risk) = state.risk() {
            risk.register_asset(req.id, &req.code, req.scale);
        }
    }
    Ok(single_outcome(&outcome, CommandKind::Asset, || {
        let view =
            AssetView { id: req.id, code: req.code.clone(), scale: req.scale, timestamp_ns: outcome.timestamp.0 };
        json(StatusCode::CREATED, &view)
    }))
}

/// List every asset.
#[utoipa::path(get, path = "/v1/assets", tag = "assets", security(("bearer" = [])),
    responses((status = 200, body = AssetList),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let data = state.read(|l| l.assets().into_iter().map(AssetView::of).collect()).await?;
    Ok(json(StatusCode::OK, &AssetList { data }))
}

/// Get an asset by code.
#[utoipa::path(get, path = "/v1/assets/{code}", tag = "assets", security(("bearer" = [])),
    params(("code" = String, Path, description = "Asset code, e.g. XAU")),
    responses((status = 200, body = AssetView),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Result<Response, ApiError> {
    let owned = code.clone();
    let found = state.read(move |l| l.asset_by_code(&owned).map(AssetView::of)).await?;
    let view = found.ok_or_else(|| ApiError::NotFound {
        code: "asset_not_found",
        field: "code",
        detail: format!("no asset has code {code:?}"),
    })?;
    Ok(json(StatusCode::OK, &view))
}
