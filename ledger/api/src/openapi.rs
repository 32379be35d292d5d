//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! request/response types' `ToSchema` derives; served at `/openapi.json`.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{accounts, admin, assets, entries, ops, recon, risk, transfers};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("aurum_<id>_<secret>")
                    .description(Some("An API key; scopes read < write < admin"))
                    .build(),
            ),
        );
    }
}

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Aurum REST transaction API",
        description = "Double-entry ledger for tokenized gold. Ids are u128 decimal strings; amounts are \
decimal strings with at most the asset's scale of decimals. Errors are application/problem+json (RFC 9457) \
with a stable `code` (ledger rejections: the ledger result code's name plus `result_code`) and the `field` at fault."
    ),
    modifiers(&BearerAuth),
    paths(
        assets::create, assets::list, assets::get,
        accounts::create, accounts::get, accounts::list, accounts::balance, accounts::statement, accounts::close,
        transfers::create, transfers::batch, transfers::get, transfers::list, transfers::post_pending,
        transfers::void_pending,
        entries::create, entries::batch, entries::get, entries::list,
        ops::trial_balance, ops::head, ops::run_audit, ops::audit_status, ops::healthz, ops::readyz, ops::metrics,
        ops::overview, ops::dashboard,
        recon::latest, recon::latest_html, recon::latest_csv,
        admin::create_key, admin::list_keys, admin::revoke_key,
        risk::assess, risk::list_reviews, risk::get_review, risk::release, risk::void, risk::alerts, risk::top,
        risk::drift, risk::rules, risk::reload_rules,
    ),
    components(schemas(crate::error::Problem, crate::error::ItemResult, crate::routes::BatchResponse,
        crate::risk::RiskView, crate::risk::ReasonView)),
    tags(
        (name = "assets"), (name = "accounts"), (name = "transfers"), (name = "entries"),
        (name = "ledger", description = "Trial balance, journal head, audit"),
        (name = "recon", description = "The last reconciliation's reports and the mint gate"),
        (name = "admin", description = "API keys (admin scope)"),
        (name = "risk", description = "Risk scoring at admission: reviews of held transfers, alerts, riskiest accounts, drift, rules (404 `risk_disabled` when off)"),
        (name = "ops", description = "Health, readiness, metrics (no authentication)"),
    )
)]
pub struct ApiDoc;

/// The document as JSON (built once).
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes"))
}

/// `GET /openapi.json` (no authentication).
pub async fn serve_openapi() -> Response {
    crate::error::json_response(StatusCode::OK, "application/json", openapi_json().as_bytes().to_vec())
}
