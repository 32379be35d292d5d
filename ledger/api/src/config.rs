//! How the server runs: address, data directory, and every limit, with units in the names.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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

/// A journal outside the data directory (Kafka, say): the backend and the acknowledgement policy
/// the engine accepts from it. The data directory still holds the node key, anchor and snapshots.
#[derive(Debug, Clone)]
pub struct ExternalJournal {
    /// Where the blocks are stored.
    pub backend: std::sync::Arc<dyn aurum_ledger_node::journal::JournalBackend>,
    /// The weakest acknowledgement accepted.
    pub policy: aurum_ledger_node::journal::JournalPolicy,
}

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
    /// Risk scoring at admission (`None`: off; the risk routes answer 404 `risk_disabled`).
    pub risk: Option<RiskSettings>,
    /// The journal's backend when it is not the data directory's log (`None`: embedded).
    pub journal: Option<ExternalJournal>,
    /// The platform's topics (risk alerts) when they are not the data directory's log (`None`:
    /// embedded).
    pub topics: Option<aurum_log::SharedTopics>,
    /// Alert rules evaluated in process, and where notifications go (`None`: no alerting).
    pub alerts: Option<crate::operations::AlertSettings>,
    /// Work run beside the API while it runs (the binary's job scheduler).
    pub background: Option<std::sync::Arc<dyn Background>>,
    /// Consumer groups whose lag is reported (metrics, dashboard, alerts): (group, topic).
    pub watched_groups: Vec<(String, String)>,
    /// Where history (statements, balances as of a point) is answered from when caught up
    /// (`None`: memory only).
    pub read_model: Option<std::sync::Arc<dyn crate::read_model::ReadModel>>,
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
            risk: None,
            journal: None,
            topics: None,
            alerts: None,
            background: None,
            watched_groups: vec![(
                crate::risk::webhook::WEBHOOK_GROUP.to_string(),
                aurum_risk::stream::ALERTS_TOPIC.to_string(),
            )],
            read_model: None,
        }
    }
}

/// Timeout of one webhook request.
pub const WEBHOOK_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Delay before the first retry of a failed webhook delivery (then doubling, with jitter).
pub const WEBHOOK_RETRY_BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest delay between two attempts to deliver one alert.
pub const WEBHOOK_MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Most alerts the webhook takes from the log per poll.
pub const WEBHOOK_BATCH_ALERTS: usize = 100;
/// How long one poll of the alerts topic waits for a new alert before checking for shutdown.
pub const WEBHOOK_POLL_WAIT: Duration = Duration::from_millis(500);
/// Longest reviewer note on a release or void, in bytes.
pub const MAX_REVIEW_NOTE_BYTES: usize = 1024;
/// Largest `k` of `GET /v1/risk/top` (the scorer keeps at most its configured `top_k`).
pub const MAX_TOP_K: usize = 1000;

/// Limits of the alert webhook, with units in the names. `Default` gives the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookLimits {
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Delay before the first retry.
    pub retry_base_delay: Duration,
    /// Cap on the delay between attempts.
    pub max_retry_delay: Duration,
    /// Most alerts taken per poll.
    pub batch_alerts: usize,
    /// Longest wait of one poll for new alerts (bounds how long shutdown waits for the task).
    pub poll_wait: Duration,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        WebhookLimits {
            request_timeout: WEBHOOK_REQUEST_TIMEOUT,
            retry_base_delay: WEBHOOK_RETRY_BASE_DELAY,
            max_retry_delay: WEBHOOK_MAX_RETRY_DELAY,
            batch_alerts: WEBHOOK_BATCH_ALERTS,
            poll_wait: WEBHOOK_POLL_WAIT,
        }
    }
}

/// Work the server runs beside the API for as long as it runs (the binary's job scheduler):
/// started once the engine is open, stopped before it closes.
pub trait Background: Send + Sync + std::fmt::Debug {
    /// Start over the open engine and the platform's topics; the returned function stops it and
    /// waits for it.
    fn start(
        &self,
        engine: &aurum_ledger_node::engine::Engine,
        topics: &aurum_log::SharedTopics,
    ) -> Result<Box<dyn FnOnce() + Send>, String>;
}

/// Risk scoring at admission (see `crate::risk`).
#[derive(Clone, Default)]
pub struct RiskSettings {
    /// The rules file, watched for changes; `None`: the built-in rules
    /// (`aurum_risk::RuleSet::default_rules()`), which never change while the server runs.
    pub rules_file: Option<PathBuf>,
    /// Where alerts are POSTed (Slack-compatible JSON); `None`: alerts only go to the
    /// `risk.alerts` topic. Treated as a secret (a Slack webhook URL is one): never logged whole.
    pub webhook_url: Option<String>,
    /// Scorer settings that shape its state (model, ranking, drift windows, profile limit).
    pub scorer: aurum_risk::ScorerConfig,
    /// Limits of the webhook.
    pub webhook: WebhookLimits,
}

/// The URL without its path and query (`https://hooks.slack.com/…`): what logs and Debug show.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host); // never user:password@
    if scheme.is_empty() { format!("{host}/…") } else { format!("{scheme}://{host}/…") }
}

impl std::fmt::Debug for RiskSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskSettings")
            .field("rules_file", &self.rules_file)
            .field("webhook_url", &self.webhook_url.as_deref().map(redact_url))
            .field("scorer", &self.scorer)
            .field("webhook", &self.webhook)
            .finish()
    }
}
