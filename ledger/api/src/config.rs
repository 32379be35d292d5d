//! How the server runs: address, data directory, and every limit, with units in the names.

use std::net::SocketAddr;
use std::path::PathBuf;

use aurum_ledger::MAX_BATCH_COMMANDS;

/// Default listen address: loopback only, so a fresh `aurum serve` is not reachable from outside.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Default data directory (the ledger's journal, KV store, API keys and idempotency records).
pub const DEFAULT_DATA_DIR: &str = "./aurum-data";
/// Default largest request body: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default largest batch: one journal block's worth of commands (8 190).
pub const DEFAULT_MAX_BATCH_ITEMS: usize = MAX_BATCH_COMMANDS;
/// Default per-key rate limit, requests per second (a key may override it).
pub const DEFAULT_RATE_LIMIT_PER_SEC: u32 = 10_000;
/// Default burst: a key may spend this many seconds' worth of requests at once.
pub const DEFAULT_RATE_LIMIT_BURST_SECS: u32 = 2;
/// Default log filter (tracing-subscriber `EnvFilter` syntax).
pub const DEFAULT_LOG_FILTER: &str = "info";
/// Longest an `Idempotency-Key` header may be, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
/// How long an `Idempotency-Key` is remembered, in seconds (24 hours). After that the key may be
/// reused for a different request; ids in the ledger stay idempotent forever regardless.
pub const IDEMPOTENCY_RETENTION_SECS: u64 = 24 * 60 * 60;
/// Default page size of list endpoints.
pub const DEFAULT_PAGE_ITEMS: usize = 100;
/// Largest page size of list endpoints.
pub const MAX_PAGE_ITEMS: usize = 1000;
/// Most stored transfers one page of a filtered list scans before returning a (possibly short or
/// empty) page with a cursor, so a rare filter cannot make one request scan the whole ledger.
pub const LIST_SCAN_BUDGET_ITEMS: usize = 100_000;
/// `Retry-After` sent with 503 when the engine's queue is full, in seconds.
pub const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

/// Everything `serve` needs. `Default` gives the embedded defaults above.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0: any free port; see `RunningServer::addr`).
    pub addr: SocketAddr,
    /// Where the ledger keeps its data.
    pub data_dir: PathBuf,
    /// Largest request body in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Most items in one batch request (≤ 8 190, one journal block).
    pub max_batch_items: usize,
    /// Requests per second per API key unless the key has its own limit.
    pub default_rate_limit_per_sec: u32,
    /// Burst allowance of the rate limiter, in seconds of the key's rate.
    pub rate_limit_burst_secs: u32,
    /// Log filter; `None` leaves logging as it is (tests, embedding programs).
    pub log_filter: Option<String>,
    /// Mount `POST /v1/_bench/noop`, the load benchmark's baseline handler.
    pub bench_routes: bool,
    /// Print the bootstrap admin token to stdout when one is created (the first start).
    pub print_bootstrap_token: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: DEFAULT_ADDR.parse().expect("DEFAULT_ADDR is a socket address"),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_items: DEFAULT_MAX_BATCH_ITEMS,
            default_rate_limit_per_sec: DEFAULT_RATE_LIMIT_PER_SEC,
            rate_limit_burst_secs: DEFAULT_RATE_LIMIT_BURST_SECS,
            log_filter: Some(DEFAULT_LOG_FILTER.to_string()),
            bench_routes: false,
            print_bootstrap_token: true,
        }
    }
}
