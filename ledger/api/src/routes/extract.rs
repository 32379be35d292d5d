//! Extractors whose every rejection is an [`ApiError`] (a problem document), never axum's
//! plain-text defaults: JSON bodies (with the field at fault as a JSON pointer), path and query
//! parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::routes::model::{AMOUNT_NOT_STRING, ID_INVALID};
use crate::server::AppState;

/// A JSON body `T`, plus its raw bytes (for the idempotency fingerprint).
#[derive(Debug)]
pub struct ApiJson<T> {
    /// The parsed body.
    pub value: T,
    /// The bytes as received.
    pub raw: Bytes,
}

fn is_json_content_type(req: &Request) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(&req) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.max_body_bytes();
        let raw = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge { limit_bytes: limit }
            } else {
                ApiError::MalformedJson(format!("could not read the request body: {e}"))
            }
        })?;
        let value = parse_json(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Parse a JSON body, classifying every failure into a stable code with the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Fast path: well-formed bodies (nearly all) parse without tracking the path. Only a failure
    // pays for the second, path-tracking parse that names the field at fault.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| classify(&e))?;
    de.end().map_err(|e| ApiError::MalformedJson(format!("trailing characters after the JSON value: {e}")))?;
    Ok(value)
}

/// The JSON pointer of a serde path (`transfers[3].amount` → `/transfers/3/amount`).
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// The name between the first pair of backticks of a serde message (`missing field `id``).
fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn classify(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = e.inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            return ApiError::MalformedJson(format!("the body is not valid JSON: {inner}"));
        }
        Category::Data => {}
    }
    let message = inner.to_string();
    // serde_json appends " at line L column C"; keep the message, it helps.
    let base = pointer(e.path());
    // serde_path_to_error's path already ends at an unknown key; a missing one is not in it.
    let with = |name: &str| if base.ends_with(&format!("/{name}")) { base.clone() } else { format!("{base}/{name}") };
    if message.starts_with("missing field") {
        let field = quoted_name(&message).map_or_else(|| base.clone(), with);
        return ApiError::field("missing_field", field, message);
    }
    if message.starts_with("unknown field") {
        let field = quoted_name(&message).map_or_else(|| base.clone(), with);
        return ApiError::field("unknown_field", field, message);
    }
    let field = if base.is_empty() { "/".to_string() } else { base };
    if message.starts_with(AMOUNT_NOT_STRING) {
        return ApiError::field("amount_must_be_a_string", field, message);
    }
    if message.starts_with(ID_INVALID) {
        return ApiError::field("invalid_id", field, message);
    }
    if message.starts_with("invalid type") {
        return ApiError::field("invalid_type", field, message);
    }
    ApiError::field("invalid_value", field, message)
}

/// A path parameter, parsed by `T: FromStr`-like deserialization; failures are 400 problems.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::InvalidPath { field: "path".into(), detail: e.body_text() }),
        }
    }
}

/// Query parameters; unknown or malformed parameters are 400 problems naming the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => Ok(ApiQuery(v)),
            Err(e) => {
                let message = e.inner().to_string();
                let field = quoted_name(&message)
                    .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
                    .map(str::to_string)
                    .or_else(|| {
                        let p = e.path().to_string();
                        (p != "?" && !p.is_empty()).then_some(p)
                    });
                Err(ApiError::InvalidQuery { field, detail: message })
            }
        }
    }
}
