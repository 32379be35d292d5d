//! The last reconciliation (written by `aurum recon three-way`): its JSON report with the mint gate's state, the
//! HTML page an analyst reads, and the CSV of findings.

use std::path::PathBuf;

use aurum_recon::gate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::error::{ApiError, Problem, json_response};
use crate::server::AppState;

/// The last run's record and report directory, or 404 `recon_not_found`.
async fn last_run(state: &AppState) -> Result<(gate::LastRun, Result<(), String>), ApiError> {
    let db = state.engine().db().clone();
    let read = tokio::task::spawn_blocking(move || {
        let last = gate::last(&db);
        let allowed = gate::check_mint_allowed(&db).map_err(|e| e.to_string());
        (last, allowed)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("recon lookup task: {e}")))?;
    match read {
        (Ok(Some(last)), allowed) => Ok((last, allowed)),
        (Ok(None), _) => Err(ApiError::NotFound {
            code: "recon_not_found",
            field: "",
            detail: "no reconciliation has run yet (run `aurum recon three-way`)".into(),
        }),
        (Err(e), _) => Err(ApiError::Internal(format!("reading the last reconciliation: {e}"))),
    }
}

async fn read_report(last: &gate::LastRun, file: &str) -> Result<Vec<u8>, ApiError> {
    let path = PathBuf::from(&last.report_dir).join(file);
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| ApiError::Internal(format!("report read task: {e}")))?
        .map_err(|e| ApiError::Internal(format!("reading {shown}: {e}")))
}

/// The last reconciliation's JSON report, with whether minting is allowed now.
#[utoipa::path(get, path = "/v1/recon/latest", tag = "recon", security(("bearer" = [])),
    responses((status = 200, description = "`{last, mint_allowed, mint_refused_because, report}`: `report` is the JSON report (see docs/reconciliation.md)", body = Object),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn latest(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (last, allowed) = last_run(&state).await?;
    let report: serde_json::Value = serde_json::from_slice(&read_report(&last, "report.json").await?)
        .map_err(|e| ApiError::Internal(format!("the stored report is not JSON: {e}")))?;
    let body = json!({
        "last": last,
        "mint_allowed": allowed.is_ok(),
        "mint_refused_because": allowed.err(),
        "report": report,
    });
    Ok(json_response(StatusCode::OK, "application/json", body.to_string().into_bytes()))
}

/// The last reconciliation's HTML report.
#[utoipa::path(get, path = "/v1/recon/latest/report.html", tag = "recon", security(("bearer" = [])),
    responses((status = 200, description = "The HTML report", content_type = "text/html"),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn latest_html(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (last, _) = last_run(&state).await?;
    Ok(json_response(StatusCode::OK, "text/html; charset=utf-8", read_report(&last, "report.html").await?))
}

/// The last reconciliation's findings as CSV.
#[utoipa::path(get, path = "/v1/recon/latest/breaks.csv", tag = "recon", security(("bearer" = [])),
    responses((status = 200, description = "The findings, breaks first", content_type = "text/csv"),
        (status = "4XX", description = "Problem", body = Problem, content_type = "application/problem+json")))]
pub async fn latest_csv(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (last, _) = last_run(&state).await?;
    Ok(json_response(StatusCode::OK, "text/csv; charset=utf-8", read_report(&last, "breaks.csv").await?))
}
