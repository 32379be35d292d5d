//! Structured JSON logs and request ids.
//!
//! Every request gets an id — the client's `x-request-id` if it is safe to echo, else a fresh random
//! one — which handlers find in the request extensions as [`RequestId`], clients get back in the
//! `x-request-id` response header, and the one log line per request carries.
//!
//! Invariant: the request log never contains headers other than the request id, nor bodies, nor
//! query strings — so no `Authorization` token can reach a log through this module.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::KeyId;

/// The request id header, read from requests and set on responses.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest client-supplied request id we accept, in bytes; longer ones are replaced, not truncated.
pub const MAX_REQUEST_ID_BYTES: usize = 128;
/// Random bytes in a generated request id (rendered as twice as many hex characters).
pub const GENERATED_REQUEST_ID_BYTES: usize = 16;
/// `route` value logged for requests that matched no route (404s), so the field is always a template.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The request's id, in the request extensions for handlers (e.g. to put in problem+json bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Install a JSON tracing subscriber writing to stderr, at the level given by `filter` (an
/// `EnvFilter` directive such as `info` or `aurum_api=debug,info`; an invalid one falls back to
/// `info`). Idempotent: if a global subscriber is already set, this does nothing.
pub fn init(filter: &str) {
    let (env_filter, bad) = match tracing_subscriber::EnvFilter::try_new(filter) {
        Ok(f) => (f, false),
        Err(_) => (tracing_subscriber::EnvFilter::new("info"), true),
    };
    let installed = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .try_init()
        .is_ok();
    if installed && bad {
        tracing::warn!(filter, "invalid log filter, using \"info\"");
    }
}

/// Whether a client-supplied request id is safe to keep and echo: 1–128 bytes of `[A-Za-z0-9._-]`
/// (no spaces, quotes or control characters, so it cannot forge log fields or response headers).
pub fn is_valid_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_BYTES).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A fresh request id: 16 random bytes as 32 lowercase hex characters.
pub fn generate_request_id() -> String {
    let mut bytes = [0u8; GENERATED_REQUEST_ID_BYTES];
    if getrandom::fill(&mut bytes).is_err() {
        // The system random source failing is no reason to fail a request: ids need to be unique,
        // not secret, so fall back to time and a process-wide counter.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes[..8].copy_from_slice(&(nanos as u64).to_be_bytes());
        bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    hex::encode(bytes)
}

/// axum middleware (`axum::middleware::from_fn(request_id_layer)`): assign the request id, put it in
/// the request extensions as [`RequestId`] and in the response's `x-request-id` header, and log one
/// JSON line per request with `request_id`, `method`, `route` (the matched template, or
/// `unmatched`), `status`, `latency_ms` and, if the auth layer put [`KeyId`] into the RESPONSE
/// extensions, `key_id`. Apply it with `Router::layer` so that `MatchedPath` is already known.
pub async fn request_id_layer(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| is_valid_request_id(s))
        .map(str::to_owned)
        .unwrap_or_else(generate_request_id);
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    req.extensions_mut().insert(RequestId(id.clone()));

    let mut resp = next.run(req).await;

    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER.clone(), v);
    }
    let status = resp.status().as_u16();
    let latency_ms = start.elapsed().as_secs_f64() * 1e3;
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    let key_id = resp.extensions().get::<KeyId>().map(|k| k.0.as_str());
    if status >= 500 {
        tracing::error!(target: "aurum_api::request", request_id = %id, method = %method, route, status, latency_ms, key_id, "request");
    } else {
        tracing::info!(target: "aurum_api::request", request_id = %id, method = %method, route, status, latency_ms, key_id, "request");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::post;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    #[test]
    fn request_id_validation() {
        for ok in ["a", "req-1", "A.b_c-D", "0123456789abcdef", &"x".repeat(128)] {
            assert!(is_valid_request_id(ok), "{ok}");
        }
        for bad in ["", " ", "a b", "a\"b", "a\nb", "é", "a/b", "a;b", &"x".repeat(129)] {
            assert!(!is_valid_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generate_request_id();
        let b = generate_request_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()) && is_valid_request_id(&a));
        assert_ne!(a, b);
    }

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const TOKEN: &str = "aurum_0123456789abcdef_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn app() -> Router {
        Router::new()
            .route(
                "/v1/accounts/{id}",
                post(|req: Request| async move {
                    // The handler sees the id; the auth layer's KeyId goes on the response.
                    let id = req.extensions().get::<RequestId>().unwrap().0.clone();
                    let mut resp = Response::new(Body::from(id));
                    resp.extensions_mut().insert(KeyId("0123456789abcdef".into()));
                    resp
                }),
            )
            .layer(axum::middleware::from_fn(request_id_layer))
    }

    async fn call(req: axum::http::Request<Body>) -> (StatusCode, Option<String>, String) {
        let resp = app().oneshot(req).await.unwrap();
        let header = resp.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, header, String::from_utf8(body.to_vec()).unwrap())
    }

    fn request(path: &str, request_id: Option<&str>) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::post(path).header("authorization", format!("Bearer {TOKEN}"));
        if let Some(id) = request_id {
            b = b.header("x-request-id", id);
        }
        b.body(Body::from(format!("{{\"secret\":\"{TOKEN}\"}}"))).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn middleware_echoes_or_generates_and_logs_safely() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        // A valid client id is kept, seen by the handler and echoed.
        let (status, header, body) = call(request("/v1/accounts/acc-1?token=x", Some("client-req.42"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header.as_deref(), Some("client-req.42"));
        assert_eq!(body, "client-req.42");

        // An invalid one is replaced by a generated id.
        let (_, header, body) = call(request("/v1/accounts/acc-2", Some("bad id\"x"))).await;
        let header = header.unwrap();
        assert_eq!(header.len(), 32);
        assert_eq!(header, body);

        // No id at all, and an unmatched route.
        let (status, header, _) = call(request("/nowhere", None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(is_valid_request_id(&header.unwrap()));

        let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "{logs}");
        assert_eq!(lines[0]["request_id"], "client-req.42");
        assert_eq!(lines[0]["method"], "POST");
        assert_eq!(lines[0]["route"], "/v1/accounts/{id}", "template, not the raw path");
        assert_eq!(lines[0]["status"], 200);
        assert_eq!(lines[0]["key_id"], "0123456789abcdef");
        assert!(lines[0]["latency_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(lines[1]["request_id"], header_of(&lines[1]));
        assert_eq!(lines[2]["route"], UNMATCHED_ROUTE);
        assert_eq!(lines[2]["status"], 404);
        assert!(lines[2].get("key_id").is_none());
        // No token, secret, body or query string anywhere.
        let secret = TOKEN.rsplit('_').next().unwrap();
        assert!(!logs.contains(secret) && !logs.contains("acc-1") && !logs.contains("token=x"), "{logs}");
        assert!(!logs.to_ascii_lowercase().contains("bearer"));
    }

    fn header_of(line: &serde_json::Value) -> String {
        let id = line["request_id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        id
    }

    #[test]
    fn init_is_idempotent() {
        init("info");
        init("not a [valid filter");
        init("debug");
    }
}
