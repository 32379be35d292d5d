//! The built-in sources: HTTP JSON polling, WebSocket streams, CSV replay.

pub mod csv;
pub mod http;
pub mod ws;

pub use csv::CsvReplaySource;
pub use http::{HttpJsonSource, HttpOptions};
pub use ws::{WebSocketOptions, WebSocketSource};
