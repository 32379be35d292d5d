//! The handlers, one module per resource. Handlers are thin: extract, convert to ledger commands or
//! queries, call the engine through [`crate::server::AppState`], render.

pub mod accounts;
pub mod admin;
pub mod assets;
pub mod entries;
pub mod extract;
pub mod model;
pub mod ops;
pub mod recon;
pub mod risk;
pub mod transfers;

use aurum_ledger::{AccountId, Outcome, ResultCode, Timestamp};

use crate::routes::model::parse_id;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::{DEFAULT_PAGE_ITEMS, MAX_PAGE_ITEMS};
use crate::error::{ApiError, CommandKind, ItemResult, REPLAYED_HEADER, json_response, ledger_field, ledger_status};

/// The API key that authenticated the request (inserted by the auth middleware).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id (never its secret).
    pub key_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("route without the auth middleware".into()))
    }
}

/// A JSON body with a status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(status, "application/json", body),
        Err(e) => ApiError::Internal(format!("serializing a response: {e}")).into_response(),
    }
}

/// Mark a response as the repetition of a first response (same status and body).
pub fn mark_replayed(mut response: Response, replayed: bool) -> Response {
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// The response to one command: `ok` renders `on_ok`, anything else the ledger's problem; a
/// replayed outcome gets the same status and body plus `Idempotent-Replayed: true`.
pub fn single_outcome(outcome: &Outcome, kind: CommandKind, on_ok: impl FnOnce() -> Response) -> Response {
    let response = if outcome.code.is_ok() {
        on_ok()
    } else {
        ApiError::Ledger {
            code: outcome.code,
            field: ledger_field(outcome.code, kind).map(str::to_string),
            detail: None,
            results: None,
        }
        .into_response()
    };
    mark_replayed(response, outcome.replayed)
}

/// Per-item results of a batch.
pub fn item_results(ids: &[u128], outcomes: &[Outcome], scales: &[u8]) -> Vec<ItemResult> {
    ids.iter()
        .zip(outcomes)
        .zip(scales)
        .enumerate()
        .map(|(index, ((id, o), scale))| ItemResult {
            index,
            id: id.to_string(),
            status: ledger_status(o.code).as_u16(),
            result: o.code.as_str().to_string(),
            code: o.code.code(),
            timestamp_ns: o.timestamp.0,
            amount: o.amount.map(|a| aurum_ledger::decimal::format_amount(a, *scale)),
            replayed: o.replayed,
            risk: None,
        })
        .collect()
}

/// A batch response (`atomic`, per-item `results`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchResponse {
    /// Whether the batch was one linked chain (all or nothing).
    pub atomic: bool,
    /// What became of each item, in request order.
    pub results: Vec<ItemResult>,
}

/// Render a batch: atomic and all applied → 201; atomic and failed → the failing item's problem
/// with every item's result; independent → 200 with every item's result.
pub fn batch_outcome(
    atomic: bool,
    array: &str,
    kind: CommandKind,
    ids: &[u128],
    outcomes: &[Outcome],
    scales: &[u8],
) -> Response {
    batch_outcome_with_risk(atomic, array, kind, ids, outcomes, scales, Vec::new())
}

/// [`batch_outcome`] with each item's risk assessment (`risk[i]` for item `i`; missing: none).
pub fn batch_outcome_with_risk(
    atomic: bool,
    array: &str,
    kind: CommandKind,
    ids: &[u128],
    outcomes: &[Outcome],
    scales: &[u8],
    risk: Vec<Option<crate::risk::RiskView>>,
) -> Response {
    let mut results = item_results(ids, outcomes, scales);
    for (item, r) in results.iter_mut().zip(risk) {
        item.risk = r;
    }
    if !atomic {
        return json(StatusCode::OK, &BatchResponse { atomic, results });
    }
    let failed = outcomes
        .iter()
        .position(|o| !o.code.is_ok() && o.code != ResultCode::LinkedEventFailed)
        .or_else(|| outcomes.iter().position(|o| !o.code.is_ok()));
    match failed {
        None => json(StatusCode::CREATED, &BatchResponse { atomic, results }),
        Some(i) => {
            let code = outcomes[i].code;
            ApiError::Ledger {
                code,
                field: Some(format!(
                    "/{array}/{i}{}",
                    ledger_field(code, kind).filter(|f| f.starts_with('/')).unwrap_or("")
                )),
                detail: Some(format!("item {i} of the atomic batch failed, so none was applied")),
                results: Some(results),
            }
            .into_response()
        }
    }
}

/// The position a `?cursor=` of a movements list names (0: the first page).
pub fn movement_cursor(cursor: Option<&str>) -> Result<MovementCursor, ApiError> {
    let bad = || ApiError::query("cursor", "cursor is not one this API issued");
    Ok(match cursor {
        None => MovementCursor::Position(0),
        Some(c) => match c.strip_prefix('t') {
            Some(ns) => MovementCursor::After(Timestamp(ns.parse().map_err(|_| bad())?)),
            None => MovementCursor::Position(c.parse().map_err(|_| bad())?),
        },
    })
}

/// Where a transfers or entries page starts. Pages end with `t<ns>` cursors ("after the id first
/// used at that time"), which the in-memory ledger and the read model both answer; a bare number
/// (a position, issued by earlier versions) is still accepted, by the ledger alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementCursor {
    /// A position in the ledger's id order.
    Position(u64),
    /// After the id first used at this time.
    After(Timestamp),
}

impl MovementCursor {
    /// The position in `l` the page starts at.
    pub fn position(self, l: &aurum_ledger::Ledger) -> u64 {
        match self {
            MovementCursor::Position(p) => p,
            MovementCursor::After(t) => l.movement_position_after(t),
        }
    }

    /// The time after which the page starts, for a read model (`None` for a position cursor).
    pub fn after(self) -> Option<Option<Timestamp>> {
        match self {
            MovementCursor::Position(0) => Some(None),
            MovementCursor::Position(_) => None,
            MovementCursor::After(t) => Some(Some(t)),
        }
    }
}

/// The cursor of the page after one that stopped before position `next` of `l`.
pub fn next_movement_cursor(l: &aurum_ledger::Ledger, next: Option<u64>) -> Option<String> {
    let last = l.movement_timestamp_at(next?.checked_sub(1)?)?;
    Some(format!("t{}", last.0))
}

/// The account a `?account=` filter names.
pub fn account_filter(account: Option<&str>) -> Result<Option<AccountId>, ApiError> {
    account
        .map(|a| parse_id(a).map(AccountId).ok_or_else(|| ApiError::query("account", "account must be a decimal id")))
        .transpose()
}

/// Page size from `?limit=` (default and maximum named in `config`).
pub fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE_ITEMS),
        Some(n) if (1..=MAX_PAGE_ITEMS).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::query("limit", format!("limit must be 1 to {MAX_PAGE_ITEMS}; got {n}"))),
    }
}

/// Parse a point in time: nanoseconds since the Unix epoch, or an RFC 3339 timestamp
/// (`2026-01-02T03:04:05.123456789Z`, `+05:30` offsets allowed).
pub fn parse_time(s: &str) -> Result<u64, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map_err(|_| format!("{s:?} is beyond u64 nanoseconds"));
    }
    parse_rfc3339(s).ok_or_else(|| format!("{s:?} is neither nanoseconds since the epoch nor an RFC 3339 timestamp"))
}

fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(start..end)? * 10_i64.pow(u32::try_from(9 - digits).ok()?);
        i = end;
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    let ns = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    u64::try_from(ns).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(1_000_000_000));
        assert_eq!(parse_time("2000-03-01T00:00:00Z"), Ok(951_868_800_000_000_000));
        assert_eq!(parse_time("2000-03-01T05:30:00.5+05:30"), Ok(951_868_800_500_000_000));
        for bad in ["", "x", "2000-13-01T00:00:00Z", "2000-03-01T00:00:00", "1969-12-31T23:59:59Z", "-1"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
