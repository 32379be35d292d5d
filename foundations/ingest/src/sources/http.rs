//! `HttpJsonSource`: one GET per attempt; the body (at most `max_body_bytes`) is the payload.
//! Plain `http://` only: the crate is built without a TLS stack (an `https://` URL is refused when
//! the source is built; enabling a reqwest TLS feature would lift that).

use crate::clock::BoxFuture;
use crate::error::{ConfigProblem, SourceError};
use crate::source::PolledSource;

/// Default limit on a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Largest `max_body_bytes` accepted.
pub const MAX_BODY_BYTES_LIMIT: usize = 64 << 20;

/// Options of an HTTP source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Responses longer than this are refused (decode failure), read no further.
    pub max_body_bytes: usize,
    /// Route through the proxy named by `HTTP_PROXY`/`NO_PROXY`. Off by default: a daemon's
    /// outbound path is configured, not inherited from whoever started it.
    pub use_env_proxy: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { max_body_bytes: DEFAULT_MAX_BODY_BYTES, use_env_proxy: false }
    }
}

/// Polls a URL that serves JSON.
#[derive(Debug)]
pub struct HttpJsonSource {
    url: reqwest::Url,
    target: String,
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl HttpJsonSource {
    /// A source for `url` (`http://` only).
    pub fn new(url: &str, options: HttpOptions) -> Result<Self, ConfigProblem> {
        let bad = |reason: &str| ConfigProblem::Url { url: url.to_string(), reason: reason.to_string() };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        match parsed.scheme() {
            "http" => {}
            "https" => return Err(bad("https needs a TLS-enabled build of aurum-ingest (plain http only)")),
            _ => return Err(bad("the scheme must be http")),
        }
        let limit = options.max_body_bytes;
        if !(1..=MAX_BODY_BYTES_LIMIT).contains(&limit) {
            return Err(ConfigProblem::Limit {
                setting: "max_body_bytes",
                value: limit as u64,
                min: 1,
                max: MAX_BODY_BYTES_LIMIT as u64,
            });
        }
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(3));
        if !options.use_env_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| bad(&format!("cannot build an HTTP client: {e}")))?;
        Ok(HttpJsonSource { target: parsed.to_string(), url: parsed, client, max_body_bytes: limit })
    }

    async fn get(&self) -> Result<String, SourceError> {
        let target = || self.target.clone();
        let mut response = self.client.get(self.url.clone()).send().await.map_err(|e| {
            if e.is_connect() {
                SourceError::Connect { target: target(), reason: error_chain(&e) }
            } else {
                SourceError::Closed { target: target(), reason: error_chain(&e) }
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(SourceError::HttpStatus { target: target(), status: status.as_u16() });
        }
        let too_large = || SourceError::BodyTooLarge { target: target(), limit_bytes: self.max_body_bytes };
        if response.content_length().is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err(too_large());
        }
        // Read in chunks so that a lying Content-Length (or none) cannot make the body unbounded.
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| SourceError::Closed { target: target(), reason: error_chain(&e) })?
        {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| SourceError::NotText { target: target() })
    }
}

impl PolledSource for HttpJsonSource {
    fn target(&self) -> &str {
        &self.target
    }

    fn fetch(&mut self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(self.get())
    }
}

/// An error and its causes on one line (reqwest's top-level message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
