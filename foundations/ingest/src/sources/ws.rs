//! `WebSocketSource`: connect, optionally send a subscribe message, then every text frame is a
//! payload. Frames are limited to `max_frame_bytes`; a larger one drops the connection (the
//! protocol cannot skip it). Plain `ws://` only (see `http.rs` on TLS).

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::clock::BoxFuture;
use crate::error::{ConfigProblem, SourceError};
use crate::source::{PayloadStream, StreamSource};

/// Default limit on one message.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1 << 20;
/// Largest `max_frame_bytes` accepted.
pub const MAX_FRAME_BYTES_LIMIT: usize = 16 << 20;
/// Longest subscribe message accepted.
pub const MAX_SUBSCRIBE_BYTES: usize = 64 << 10;

/// Options of a WebSocket source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketOptions {
    /// A text message sent right after connecting (e.g. `{"op":"subscribe","channel":"XAU"}`).
    pub subscribe: Option<String>,
    /// Messages longer than this drop the connection (decode failure).
    pub max_frame_bytes: usize,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        WebSocketOptions { subscribe: None, max_frame_bytes: DEFAULT_MAX_FRAME_BYTES }
    }
}

/// Streams observations from a WebSocket.
#[derive(Debug)]
pub struct WebSocketSource {
    url: String,
    options: WebSocketOptions,
}

impl WebSocketSource {
    /// A source for `url` (`ws://` only).
    pub fn new(url: &str, options: WebSocketOptions) -> Result<Self, ConfigProblem> {
        let bad = |reason: &str| ConfigProblem::Url { url: url.to_string(), reason: reason.to_string() };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        match parsed.scheme() {
            "ws" => {}
            "wss" => return Err(bad("wss needs a TLS-enabled build of aurum-ingest (plain ws only)")),
            _ => return Err(bad("the scheme must be ws")),
        }
        if !(1..=MAX_FRAME_BYTES_LIMIT).contains(&options.max_frame_bytes) {
            return Err(ConfigProblem::Limit {
                setting: "max_frame_bytes",
                value: options.max_frame_bytes as u64,
                min: 1,
                max: MAX_FRAME_BYTES_LIMIT as u64,
            });
        }
        if let Some(s) = &options.subscribe
            && s.len() > MAX_SUBSCRIBE_BYTES
        {
            return Err(ConfigProblem::Limit {
                setting: "subscribe (bytes)",
                value: s.len() as u64,
                min: 0,
                max: MAX_SUBSCRIBE_BYTES as u64,
            });
        }
        Ok(WebSocketSource { url: parsed.to_string(), options })
    }

    async fn open(&self) -> Result<Box<dyn PayloadStream>, SourceError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(self.options.max_frame_bytes))
            .max_frame_size(Some(self.options.max_frame_bytes));
        let connect_err =
            |e: tungstenite::Error| SourceError::Connect { target: self.url.clone(), reason: e.to_string() };
        let (mut ws, _response) = tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), true)
            .await
            .map_err(connect_err)?;
        if let Some(message) = &self.options.subscribe {
            ws.send(Message::text(message.as_str())).await.map_err(connect_err)?;
        }
        Ok(Box::new(WsStream { ws, target: self.url.clone(), limit: self.options.max_frame_bytes }))
    }
}

impl StreamSource for WebSocketSource {
    fn target(&self) -> &str {
        &self.url
    }

    fn connect(&mut self) -> BoxFuture<'_, Result<Box<dyn PayloadStream>, SourceError>> {
        Box::pin(self.open())
    }
}

struct WsStream {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    target: String,
    limit: usize,
}

impl WsStream {
    async fn read(&mut self) -> Option<Result<String, SourceError>> {
        loop {
            let message = match self.ws.next().await? {
                Ok(m) => m,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return None,
                Err(tungstenite::Error::Capacity(_)) => {
                    return Some(Err(SourceError::FrameTooLarge {
                        target: self.target.clone(),
                        limit_bytes: self.limit,
                    }));
                }
                Err(e) => return Some(Err(SourceError::Closed { target: self.target.clone(), reason: e.to_string() })),
            };
            return match message {
                Message::Text(text) => Some(Ok(text.as_str().to_string())),
                Message::Binary(bytes) => Some(
                    String::from_utf8(bytes.to_vec()).map_err(|_| SourceError::NotText { target: self.target.clone() }),
                ),
                // Pings are answered by tungstenite as it reads; pongs and raw frames carry no data.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                Message::Close(_) => None,
            };
        }
    }
}

impl PayloadStream for WsStream {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<String, SourceError>>> {
        Box::pin(self.read())
    }
}
