//! One error type for the whole HTTP surface, rendered as `application/problem+json` (RFC 9457).
//!
//! Every problem has `type` (`https://aurum.dev/problems/<code>`, stable), `title`, `status`,
//! `detail`, and the extension members `code` (a stable machine code: for ledger rejections
//! exactly `ResultCode::as_str()`, with the number in `result_code`), `field` (a JSON pointer into
//! the request body, or the name of the path or query parameter at fault) and, for batches,
//! `results` (one entry per item), and for a transfer refused by risk scoring `risk` (its score,
//! decision and reasons). The codes are listed in [`REQUEST_ERROR_CODES`], in the README's
//! "REST API" section and, for the risk codes, in docs/risk-api.md.

use aurum_ledger::ResultCode;
use aurum_ledger_node::engine::EngineError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::OVERLOADED_RETRY_AFTER_SECS;
use crate::risk::RiskView;

/// Media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Prefix of every problem `type` URI; the code follows.
pub const PROBLEM_TYPE_PREFIX: &str = "https://aurum.dev/problems/";
/// Header set on a response that repeats the first response to the same request.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// An RFC 9457 problem document with Aurum's extension members.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `https://aurum.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem kind (the same for every instance of a code).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong in this instance.
    pub detail: String,
    /// Stable machine code (for ledger rejections: the ledger result code's name).
    pub code: String,
    /// For ledger rejections: the numeric ledger result code (docs/ledger-result-codes.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_code: Option<u16>,
    /// The field at fault: a JSON pointer into the body (`/transfers/3/amount`) or the name of a
    /// path or query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For batch requests: what became of each item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<ItemResult>>,
    /// For `risk_rejected`: the assessment that refused the transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskView>,
}

/// What became of one item of a batch (or one command): the ledger's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemResult {
    /// Position in the request's array.
    pub index: usize,
    /// The item's id (decimal string).
    pub id: String,
    /// HTTP status this item would have had on its own.
    pub status: u16,
    /// Ledger result code name (`ok` when applied).
    pub result: String,
    /// Numeric ledger result code.
    pub code: u16,
    /// Event timestamp (ns since the Unix epoch) of the item's first outcome.
    pub timestamp_ns: u64,
    /// Amount moved (decimal string), for applied transfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The id was seen before with the same fields: this is its first outcome, returned again.
    pub replayed: bool,
    /// Transfers, with risk scoring on: the assessment that governs this transfer (made by this
    /// request, or the stored one of a held transfer); absent when risk scoring is off and on a
    /// replay of a transfer that was not held (the ledger returned its first outcome).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskView>,
}

/// Codes of request errors (not ledger rejections), with their status; the README documents them.
pub const REQUEST_ERROR_CODES: &[(&str, u16)] = &[
    ("malformed_json", 400),
    ("invalid_path_parameter", 400),
    ("invalid_query_parameter", 400),
    ("idempotency_key_invalid", 400),
    ("unauthorized", 401),
    ("insufficient_scope", 403),
    ("route_not_found", 404),
    ("account_not_found", 404),
    ("asset_not_found", 404),
    ("transfer_not_found", 404),
    ("entry_not_found", 404),
    ("api_key_not_found", 404),
    ("no_balance_at_that_point", 404),
    ("recon_not_found", 404),
    ("review_not_found", 404),
    ("risk_disabled", 404),
    ("method_not_allowed", 405),
    ("idempotency_key_reused", 409),
    ("idempotency_key_in_use", 409),
    ("audit_running", 409),
    ("review_not_open", 409),
    ("risk_held", 409),
    ("risk_rules_built_in", 409),
    ("body_too_large", 413),
    ("unsupported_media_type", 415),
    ("missing_field", 422),
    ("unknown_field", 422),
    ("invalid_type", 422),
    ("invalid_value", 422),
    ("invalid_id", 422),
    ("amount_must_be_a_string", 422),
    ("amount_invalid", 422),
    ("amount_too_precise", 422),
    ("amount_too_large", 422),
    ("reserved_metadata_key", 422),
    ("batch_empty", 422),
    ("batch_too_large", 422),
    ("too_many_api_keys", 422),
    ("risk_rejected", 422),
    ("risk_rules_invalid", 422),
    ("account_keeps_no_history", 422),
    ("rate_limited", 429),
    ("internal_error", 500),
    ("engine_overloaded", 503),
    ("engine_unavailable", 503),
];

/// HTTP status of a ledger result code. Conflicts with the ledger's current state are 409; a
/// missing resource named in the path (the pending transfer of `/post` and `/void`, the account of
/// `/close`) is 404; every other rejection is 422 (well-formed, but not allowed).
pub fn ledger_status(code: ResultCode) -> StatusCode {
    use ResultCode as R;
    match code {
        R::Ok => StatusCode::CREATED,
        R::IdExistsWithDifferentFields
        | R::AssetCodeTaken
        | R::PendingTransferAlreadyPosted
        | R::PendingTransferAlreadyVoided
        | R::PendingTransferExpired
        | R::AccountAlreadyClosed => StatusCode::CONFLICT,
        R::PendingTransferNotFound | R::AccountNotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Title of a ledger result code.
fn ledger_title(code: ResultCode) -> &'static str {
    use ResultCode as R;
    match code {
        R::Ok => "Applied",
        R::LinkedEventFailed => "Another command of the linked batch failed",
        R::LinkedEventChainOpen => "The batch ended inside a linked chain",
        R::IdMustNotBeZero => "The id must not be zero",
        R::IdExistsWithDifferentFields => "The id was used before with different fields",
        R::MetadataInvalid => "Invalid metadata",
        R::AssetNotFound => "Asset not found",
        R::AssetCodeInvalid => "Invalid asset code",
        R::AssetScaleTooLarge => "Asset scale too large",
        R::AssetCodeTaken => "Asset code already taken",
        R::AccountLimitInvalid => "Invalid account limit",
        R::DebitAccountNotFound => "Debit account not found",
        R::CreditAccountNotFound => "Credit account not found",
        R::AccountsMustBeDifferent => "Debit and credit account must differ",
        R::AssetMismatch => "Asset mismatch",
        R::DebitAccountClosed => "Debit account closed",
        R::CreditAccountClosed => "Credit account closed",
        R::AmountMustNotBeZero => "Amount must not be zero",
        R::ExceedsCredits => "Debits would exceed credits",
        R::ExceedsDebits => "Credits would exceed debits",
        R::ExceedsOverdraft => "Debits would exceed credits plus overdraft",
        R::CreditExceedsOverdraft => "Credits would exceed debits plus overdraft",
        R::Overflow => "Amount overflow",
        R::FlagsInvalid => "Invalid flags",
        R::TimeoutReservedForPendingTransfer => "Timeout on a transfer that is not pending",
        R::PendingTransferNotFound => "Pending transfer not found",
        R::PendingTransferNotPending => "Transfer is not pending",
        R::PendingTransferAlreadyPosted => "Pending transfer already posted",
        R::PendingTransferAlreadyVoided => "Pending transfer already voided",
        R::PendingTransferExpired => "Pending transfer expired",
        R::ExceedsPendingTransferAmount => "Amount exceeds the pending amount",
        R::EntryNeedsTwoPostings => "An entry needs at least two postings",
        R::EntryTooManyPostings => "Too many postings",
        R::EntryUnbalanced => "Entry does not balance",
        R::PostingAccountNotFound => "Posting account not found",
        R::PostingAccountClosed => "Posting account closed",
        R::PostingAmountMustNotBeZero => "Posting amount must not be zero",
        R::AccountNotFound => "Account not found",
        R::AccountAlreadyClosed => "Account already closed",
        R::AccountHasPendingTransfers => "Account has pending transfers",
        R::AccountBalanceNotZero => "Account balance is not zero",
    }
}

/// Which kind of command a ledger rejection came from (decides the field at fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Create asset.
    Asset,
    /// Create account.
    Account,
    /// Create transfer.
    Transfer,
    /// Post or void a pending transfer.
    PostOrVoid,
    /// Create entry.
    Entry,
    /// Close account.
    Close,
}

/// The request field a ledger rejection is about (a JSON pointer, or a path parameter name).
pub fn ledger_field(code: ResultCode, kind: CommandKind) -> Option<&'static str> {
    use ResultCode as R;
    Some(match (code, kind) {
        (R::Ok | R::LinkedEventFailed | R::LinkedEventChainOpen, _) => return None,
        (R::IdMustNotBeZero | R::IdExistsWithDifferentFields, CommandKind::Close) => "id",
        (R::IdMustNotBeZero | R::IdExistsWithDifferentFields, _) => "/id",
        (R::MetadataInvalid, _) => "/metadata",
        (R::AssetNotFound | R::AssetMismatch, _) => "/asset",
        (R::AssetCodeInvalid | R::AssetCodeTaken, _) => "/code",
        (R::AssetScaleTooLarge, _) => "/scale",
        (R::AccountLimitInvalid, _) => "/limit",
        (_, CommandKind::Entry) => "/postings",
        (R::DebitAccountNotFound | R::DebitAccountClosed | R::ExceedsCredits | R::ExceedsOverdraft, _) => {
            "/debit_account"
        }
        (R::CreditAccountNotFound | R::CreditAccountClosed | R::ExceedsDebits | R::CreditExceedsOverdraft, _) => {
            "/credit_account"
        }
        (R::AccountsMustBeDifferent, _) => "/credit_account",
        (R::AmountMustNotBeZero | R::Overflow | R::ExceedsPendingTransferAmount, _) => "/amount",
        (R::FlagsInvalid, _) => "/pending",
        (R::TimeoutReservedForPendingTransfer, _) => "/timeout_secs",
        (
            R::PendingTransferNotFound
            | R::PendingTransferNotPending
            | R::PendingTransferAlreadyPosted
            | R::PendingTransferAlreadyVoided
            | R::PendingTransferExpired,
            _,
        ) => "id",
        (
            R::AccountNotFound | R::AccountAlreadyClosed | R::AccountHasPendingTransfers | R::AccountBalanceNotZero,
            _,
        ) => "id",
        _ => return None,
    })
}

/// Everything that can go wrong in a request. Each variant maps to one status and one code.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The body is not JSON (syntax error or truncated).
    MalformedJson(String),
    /// The body is not declared as JSON.
    UnsupportedMediaType,
    /// The body is larger than the configured limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit_bytes: usize,
    },
    /// A JSON field failed to deserialize: `code` says how (missing_field, unknown_field,
    /// invalid_type, invalid_value, invalid_id, amount_must_be_a_string).
    Field {
        /// Machine code.
        code: &'static str,
        /// JSON pointer of the field.
        field: String,
        /// What was wrong.
        detail: String,
    },
    /// A decimal amount could not be converted exactly (amount_invalid, amount_too_precise,
    /// amount_too_large).
    Amount {
        /// Machine code.
        code: &'static str,
        /// JSON pointer of the field.
        field: String,
        /// What was wrong.
        detail: String,
    },
    /// A client metadata key starts with the reserved prefix `aurum.`.
    ReservedMetadataKey {
        /// JSON pointer of the key.
        field: String,
    },
    /// A batch with no items.
    BatchEmpty {
        /// The array.
        field: &'static str,
    },
    /// A batch with more items than allowed, or whose commands would not fit one journal block.
    BatchTooLarge {
        /// The array.
        field: &'static str,
        /// Why.
        detail: String,
    },
    /// A path parameter is not what the route expects.
    InvalidPath {
        /// Parameter name.
        field: String,
        /// What was wrong.
        detail: String,
    },
    /// A query parameter is unknown, malformed or out of range.
    InvalidQuery {
        /// Parameter name, if known.
        field: Option<String>,
        /// What was wrong.
        detail: String,
    },
    /// A resource named in the path does not exist.
    NotFound {
        /// Machine code (`account_not_found`, ...).
        code: &'static str,
        /// Parameter name.
        field: &'static str,
        /// What was missing.
        detail: String,
    },
    /// An account keeps no balance history, so past balances cannot be answered.
    NoHistory {
        /// What was asked.
        detail: String,
    },
    /// A referenced resource in the body does not exist (e.g. an asset code).
    Unprocessable {
        /// Machine code.
        code: &'static str,
        /// JSON pointer.
        field: String,
        /// What was wrong.
        detail: String,
    },
    /// No route has this path.
    RouteNotFound(String),
    /// The route exists, but not with this method.
    MethodNotAllowed(String),
    /// No credentials, or invalid or revoked ones.
    Unauthorized(String),
    /// The key's scope does not allow the request.
    InsufficientScope {
        /// The scope needed.
        needed: &'static str,
        /// The key's scope.
        have: &'static str,
    },
    /// The key sent more requests than its rate allows.
    RateLimited {
        /// Seconds until a request will be accepted.
        retry_after_secs: u64,
    },
    /// The `Idempotency-Key` header is empty, too long, or not visible ASCII.
    IdempotencyKeyInvalid(String),
    /// The `Idempotency-Key` was used before with a different body.
    IdempotencyKeyReused,
    /// A request with the same `Idempotency-Key` is being processed right now.
    IdempotencyKeyInUse,
    /// An audit is already running.
    AuditRunning,
    /// Risk scoring refused the transfer (score at or above the policy's `reject_at`); the ledger
    /// never saw it.
    RiskRejected {
        /// For a batch, the item (`/transfers/3`).
        field: Option<String>,
        /// The assessment.
        risk: Box<RiskView>,
    },
    /// Risk scoring is not enabled on this server.
    RiskDisabled,
    /// The review was already released, voided, expired or failed.
    ReviewNotOpen {
        /// Its state, and who closed it.
        detail: String,
    },
    /// A client tried to post a transfer that is held for risk review.
    RiskHeld {
        /// Which transfer.
        detail: String,
    },
    /// A rules file (reloaded on request) is invalid; the rules in force stay.
    RulesInvalid {
        /// The parse error, naming the rule and the column.
        detail: String,
    },
    /// The server runs the built-in rules: there is no file to reload.
    RulesBuiltIn,
    /// The ledger rejected the command (or, for batches, a command of it).
    Ledger {
        /// The result code.
        code: ResultCode,
        /// The field at fault.
        field: Option<String>,
        /// Extra detail (which item of a batch).
        detail: Option<String>,
        /// Per-item results, for batches.
        results: Option<Vec<ItemResult>>,
    },
    /// The engine's queue is full: retry after a moment.
    Overloaded,
    /// The engine stopped (a failed journal write, or shutting down).
    Unavailable(String),
    /// A bug or an I/O failure on the server: never a client mistake.
    Internal(String),
}

impl ApiError {
    /// A field error.
    pub fn field(code: &'static str, field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::Field { code, field: field.into(), detail: detail.into() }
    }

    /// An invalid query parameter.
    pub fn query(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::InvalidQuery { field: Some(field.to_string()), detail: detail.into() }
    }

    /// The status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_)
            | ApiError::InvalidPath { .. }
            | ApiError::InvalidQuery { .. }
            | ApiError::IdempotencyKeyInvalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } | ApiError::RouteNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyKeyReused
            | ApiError::IdempotencyKeyInUse
            | ApiError::AuditRunning
            | ApiError::ReviewNotOpen { .. }
            | ApiError::RiskHeld { .. }
            | ApiError::RulesBuiltIn => StatusCode::CONFLICT,
            ApiError::RiskDisabled => StatusCode::NOT_FOUND,
            ApiError::RiskRejected { .. } | ApiError::RulesInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Field { .. }
            | ApiError::Amount { .. }
            | ApiError::ReservedMetadataKey { .. }
            | ApiError::BatchEmpty { .. }
            | ApiError::BatchTooLarge { .. }
            | ApiError::NoHistory { .. }
            | ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Ledger { code, .. } => ledger_status(*code),
            ApiError::Overloaded | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::Field { code, .. } | ApiError::Amount { code, .. } => code,
            ApiError::ReservedMetadataKey { .. } => "reserved_metadata_key",
            ApiError::BatchEmpty { .. } => "batch_empty",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::InvalidPath { .. } => "invalid_path_parameter",
            ApiError::InvalidQuery { .. } => "invalid_query_parameter",
            ApiError::NotFound { code, .. } | ApiError::Unprocessable { code, .. } => code,
            ApiError::NoHistory { .. } => "account_keeps_no_history",
            ApiError::RouteNotFound(_) => "route_not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InsufficientScope { .. } => "insufficient_scope",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::IdempotencyKeyInvalid(_) => "idempotency_key_invalid",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyKeyInUse => "idempotency_key_in_use",
            ApiError::AuditRunning => "audit_running",
            ApiError::RiskRejected { .. } => "risk_rejected",
            ApiError::RiskDisabled => "risk_disabled",
            ApiError::ReviewNotOpen { .. } => "review_not_open",
            ApiError::RiskHeld { .. } => "risk_held",
            ApiError::RulesInvalid { .. } => "risk_rules_invalid",
            ApiError::RulesBuiltIn => "risk_rules_built_in",
            ApiError::Ledger { code, .. } => code.as_str(),
            ApiError::Overloaded => "engine_overloaded",
            ApiError::Unavailable(_) => "engine_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "Malformed JSON",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::BodyTooLarge { .. } => "Request body too large",
            ApiError::Field { code, .. } => match *code {
                "missing_field" => "Missing field",
                "unknown_field" => "Unknown field",
                "invalid_type" => "Wrong JSON type",
                "invalid_id" => "Invalid id",
                "amount_must_be_a_string" => "Amount must be a string",
                _ => "Invalid value",
            },
            ApiError::Amount { code, .. } => match *code {
                "amount_too_precise" => "Amount has more decimals than the asset's scale",
                "amount_too_large" => "Amount too large",
                _ => "Invalid amount",
            },
            ApiError::ReservedMetadataKey { .. } => "Reserved metadata key",
            ApiError::BatchEmpty { .. } => "Empty batch",
            ApiError::BatchTooLarge { .. } => "Batch too large",
            ApiError::InvalidPath { .. } => "Invalid path parameter",
            ApiError::InvalidQuery { .. } => "Invalid query parameter",
            ApiError::NotFound { .. } => "Not found",
            ApiError::NoHistory { .. } => "Account keeps no history",
            ApiError::Unprocessable { .. } => "Referenced resource not found",
            ApiError::RouteNotFound(_) => "No such route",
            ApiError::MethodNotAllowed(_) => "Method not allowed",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::InsufficientScope { .. } => "Insufficient scope",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::IdempotencyKeyInvalid(_) => "Invalid Idempotency-Key",
            ApiError::IdempotencyKeyReused => "Idempotency-Key reused with a different body",
            ApiError::IdempotencyKeyInUse => "Idempotency-Key in use",
            ApiError::AuditRunning => "Audit already running",
            ApiError::RiskRejected { .. } => "Refused by risk scoring",
            ApiError::RiskDisabled => "Risk scoring is disabled",
            ApiError::ReviewNotOpen { .. } => "Review is not open",
            ApiError::RiskHeld { .. } => "Transfer held for risk review",
            ApiError::RulesInvalid { .. } => "Invalid risk rules",
            ApiError::RulesBuiltIn => "Built-in risk rules",
            ApiError::Ledger { code, .. } => ledger_title(*code),
            ApiError::Overloaded => "Ledger engine overloaded",
            ApiError::Unavailable(_) => "Ledger engine unavailable",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::MalformedJson(d)
            | ApiError::RouteNotFound(d)
            | ApiError::MethodNotAllowed(d)
            | ApiError::Unauthorized(d)
            | ApiError::IdempotencyKeyInvalid(d) => d.clone(),
            ApiError::UnsupportedMediaType => "send the body as JSON with 'Content-Type: application/json'".into(),
            ApiError::BodyTooLarge { limit_bytes } => format!("the request body exceeds {limit_bytes} bytes"),
            ApiError::Field { detail, .. }
            | ApiError::Amount { detail, .. }
            | ApiError::BatchTooLarge { detail, .. }
            | ApiError::InvalidPath { detail, .. }
            | ApiError::InvalidQuery { detail, .. }
            | ApiError::NotFound { detail, .. }
            | ApiError::NoHistory { detail }
            | ApiError::Unprocessable { detail, .. }
            | ApiError::ReviewNotOpen { detail }
            | ApiError::RiskHeld { detail }
            | ApiError::RulesInvalid { detail } => detail.clone(),
            ApiError::RiskRejected { field, risk } => {
                let rules: Vec<&str> = risk.reasons.iter().map(|r| r.rule.as_str()).collect();
                format!(
                    "{} refused by risk scoring: score {:.4} is at or above the reject threshold ({}); the ledger did \
                     not see it",
                    field.as_deref().map_or_else(|| "the transfer was".to_string(), |f| format!("item {f} was")),
                    risk.score,
                    if rules.is_empty() { "no rule named".to_string() } else { rules.join(", ") }
                )
            }
            ApiError::RiskDisabled => {
                "risk scoring is not enabled on this server (aurum serve --risk, or ServerConfig::risk)".into()
            }
            ApiError::RulesBuiltIn => {
                "the server runs the built-in rules; start it with a rules file (--risk-rules) to reload rules".into()
            }
            ApiError::ReservedMetadataKey { .. } => {
                "metadata keys starting with 'aurum.' are reserved for the server".into()
            }
            ApiError::BatchEmpty { field } => format!("{field} must hold at least one item"),
            ApiError::InsufficientScope { needed, have } => {
                format!("this request needs an API key with scope '{needed}'; this key has scope '{have}'")
            }
            ApiError::RateLimited { retry_after_secs } => {
                format!("this API key exceeded its rate limit; retry after {retry_after_secs} s")
            }
            ApiError::IdempotencyKeyReused => {
                "this Idempotency-Key was used with a different request body; use a new key".into()
            }
            ApiError::IdempotencyKeyInUse => {
                "a request with this Idempotency-Key is still being processed; retry later".into()
            }
            ApiError::AuditRunning => "an audit is already running; GET /v1/audit shows its result".into(),
            ApiError::Ledger { code, detail, .. } => match detail {
                Some(d) => format!("{d}: {} (ledger result code {})", code.as_str(), code.code()),
                None => {
                    format!("the ledger rejected the command: {} (ledger result code {})", code.as_str(), code.code())
                }
            },
            ApiError::Overloaded => "the ledger's queue is full; retry after a moment".into(),
            ApiError::Unavailable(d) => d.clone(),
            ApiError::Internal(_) => "the server failed; the failure is logged".into(),
        }
    }

    fn field_name(&self) -> Option<String> {
        match self {
            ApiError::Field { field, .. }
            | ApiError::Amount { field, .. }
            | ApiError::ReservedMetadataKey { field }
            | ApiError::InvalidPath { field, .. }
            | ApiError::Unprocessable { field, .. } => Some(field.clone()),
            ApiError::BatchEmpty { field } | ApiError::BatchTooLarge { field, .. } => Some(field.to_string()),
            ApiError::NotFound { field, .. } => Some(field.to_string()),
            ApiError::InvalidQuery { field, .. } => field.clone(),
            ApiError::Ledger { field, .. } | ApiError::RiskRejected { field, .. } => field.clone(),
            ApiError::ReviewNotOpen { .. } => Some("transfer_id".to_string()),
            ApiError::RiskHeld { .. } => Some("id".to_string()),
            _ => None,
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        let code = self.code().to_string();
        Problem {
            type_: format!("{PROBLEM_TYPE_PREFIX}{code}"),
            title: self.title().to_string(),
            status: self.status().as_u16(),
            detail: self.detail(),
            result_code: match self {
                ApiError::Ledger { code, .. } => Some(code.code()),
                _ => None,
            },
            field: self.field_name(),
            results: match self {
                ApiError::Ledger { results, .. } => results.clone(),
                _ => None,
            },
            risk: match self {
                ApiError::RiskRejected { risk, .. } => Some((**risk).clone()),
                _ => None,
            },
            code,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail())
    }
}

impl std::error::Error for ApiError {}

/// A JSON response with a status and a content type.
pub fn json_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error");
        }
        let body = serde_json::to_vec(&self.problem()).expect("a problem serializes");
        let mut response = json_response(self.status(), PROBLEM_CONTENT_TYPE, body);
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"aurum\""));
            }
            ApiError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(OVERLOADED_RETRY_AFTER_SECS));
            }
            _ => {}
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Overloaded { .. } => ApiError::Overloaded,
            EngineError::Poisoned { .. } | EngineError::Closed => ApiError::Unavailable(e.to_string()),
            EngineError::BatchSize { .. } | EngineError::RequestTooLarge { .. } => {
                ApiError::BatchTooLarge { field: "/", detail: e.to_string() }
            }
            // The routes check metadata limits with a precise pointer first; this is the backstop.
            EngineError::Unencodable { .. } => ApiError::field("invalid_value", "/", e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<aurum_kv::Error> for ApiError {
    fn from(e: aurum_kv::Error) -> ApiError {
        ApiError::Internal(format!("KV store: {e}"))
    }
}
