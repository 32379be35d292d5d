//! The connector: observations from the ingestion framework, rounds of aggregation per symbol, pushes to the
//! feeds on chain, the journal, verified events — configured from one TOML file (`aurum oracle run --config`).
//!
//! ```toml
//! round_interval_ms = 1000
//! events = ["halt", "notice"]          # event symbols that travel the signed path
//!
//! [keys]                               # source name -> ed25519 public key (64 hex digits)
//! lbma = "…"
//!
//! [ingest]                             # aurum-ingest: buffer and sources (docs/ingest.md)
//! buffer_capacity = 1024
//! [[ingest.source]]
//! name = "lbma"
//! kind = "http"
//! url = "http://127.0.0.1:9001/price"
//! fields = { symbol = { fixed = "XAU/USD" }, value = { pointer = "/price" }, timestamp = { pointer = "/ts" }, signature = { pointer = "/sig" } }
//!
//! [[symbol]]                           # aggregation (aggregate::SymbolConfig) and where to push
//! symbol = "XAU/USD"
//! scale = 8
//! quorum = 2
//! max_age_ms = 60000
//! mad_limit_permille = 3000
//! mad_floor_bps = 5
//! jump_limit_bps = 500
//! confirm_rounds = 3
//! feed = "0x…"                         # optional: the price feed
//! deviation_bps = 50
//! heartbeat_secs = 3600
//! revaluation = { holdings = [1001], fiat_asset = 4, revaluation_account = 3001, unrealised_account = 3002 }
//!
//! [chain]                              # needed when a symbol has a feed
//! rpc_url = "http://127.0.0.1:8545"
//! private_key_env = "AURUM_ORACLE_KEY" # the updater's secp256k1 key, read from this environment variable
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use aurum_chain::AggregatorFeed;
use aurum_chain::alloy::primitives::Address;
use aurum_chain::alloy::providers::DynProvider;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregator, RoundReport, SymbolConfig};
use crate::journal::{JournalError, OracleJournal};
use crate::push::{self, PushError, PushOutcome, PushPolicy};
use crate::signing::{Observation, SourceKeys};

/// Most (source, symbol) pairs whose latest observation the connector keeps (new pairs beyond it are dropped and
/// counted): memory is bounded by the sources and symbols configured, not by time.
pub const MAX_TRACKED_PAIRS: usize = 4_096;
/// Most events held between two rounds (the oldest are dropped beyond it, and counted).
pub const MAX_PENDING_EVENTS: usize = 1_024;

/// One symbol's aggregation and push settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolEntry {
    /// The symbol.
    pub symbol: String,
    /// Decimal places of the aggregate (the feed's decimals).
    pub scale: u8,
    /// Sources needed.
    pub quorum: usize,
    /// Oldest observation accepted (ms).
    pub max_age_ms: i64,
    /// Outlier limit in MADs × 1000.
    pub mad_limit_permille: u32,
    /// MAD floor (basis points of the median).
    pub mad_floor_bps: u32,
    /// Jump that trips the breaker (basis points).
    pub jump_limit_bps: u32,
    /// Rounds that confirm a jump (0: operator reset only).
    pub confirm_rounds: u32,
    /// The price feed to push to.
    #[serde(default)]
    pub feed: Option<Address>,
    /// Push on this deviation (basis points).
    #[serde(default = "default_deviation_bps")]
    pub deviation_bps: u32,
    /// Push when the feed is this old (seconds).
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Revalue these ledger accounts at every published price (mark-to-market), if set.
    #[serde(default)]
    pub revaluation: Option<crate::revalue::RevaluationConfig>,
}

fn default_deviation_bps() -> u32 {
    50
}

fn default_heartbeat_secs() -> u64 {
    3_600
}

impl SymbolEntry {
    /// The aggregation part.
    pub fn aggregation(&self) -> SymbolConfig {
        SymbolConfig {
            symbol: self.symbol.clone(),
            scale: self.scale,
            quorum: self.quorum,
            max_age_ms: self.max_age_ms,
            mad_limit_permille: self.mad_limit_permille,
            mad_floor_bps: self.mad_floor_bps,
            jump_limit_bps: self.jump_limit_bps,
            confirm_rounds: self.confirm_rounds,
        }
    }

    /// The push policy.
    pub fn push_policy(&self) -> PushPolicy {
        PushPolicy { deviation_bps: self.deviation_bps, heartbeat_secs: self.heartbeat_secs }
    }
}

/// Where to push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// The environment variable holding the updater's private key (never the key itself in a file).
    pub private_key_env: String,
}

/// The whole configuration of `aurum oracle run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleConfig {
    /// Time between rounds.
    #[serde(default = "default_round_interval_ms")]
    pub round_interval_ms: u64,
    /// Event symbols that travel the signed path.
    #[serde(default)]
    pub events: Vec<String>,
    /// Source name → ed25519 public key (hex).
    pub keys: BTreeMap<String, String>,
    /// The sources.
    pub ingest: aurum_ingest::IngestConfig,
    /// The symbols.
    #[serde(rename = "symbol")]
    pub symbols: Vec<SymbolEntry>,
    /// The chain, if any symbol pushes.
    #[serde(default)]
    pub chain: Option<ChainConfig>,
}

fn default_round_interval_ms() -> u64 {
    1_000
}

/// Errors of the connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The configuration is unusable.
    #[error("oracle configuration: {0}")]
    Config(String),
    /// Pushing failed.
    #[error(transparent)]
    Push(#[from] PushError),
    /// Journalling failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl OracleConfig {
    /// Parses and checks a configuration file's text.
    pub fn from_toml(text: &str) -> Result<OracleConfig, ConnectorError> {
        let config: OracleConfig = toml::from_str(text).map_err(|e| ConnectorError::Config(e.to_string()))?;
        if config.symbols.is_empty() {
            return Err(ConnectorError::Config("no [[symbol]] configured".into()));
        }
        let mut seen = BTreeSet::new();
        for s in &config.symbols {
            if !seen.insert(&s.symbol) {
                return Err(ConnectorError::Config(format!("symbol {:?} is configured twice", s.symbol)));
            }
            if s.quorum == 0 {
                return Err(ConnectorError::Config(format!("symbol {:?}: quorum must be at least 1", s.symbol)));
            }
            if s.feed.is_some() && config.chain.is_none() {
                return Err(ConnectorError::Config(format!(
                    "symbol {:?} has a feed but there is no [chain]",
                    s.symbol
                )));
            }
        }
        for source in &config.ingest.sources {
            if !config.keys.contains_key(&source.name) {
                return Err(ConnectorError::Config(format!("source {:?} has no key in [keys]", source.name)));
            }
        }
        Ok(config)
    }

    /// The sources' keys.
    pub fn source_keys(&self) -> Result<SourceKeys, ConnectorError> {
        let mut keys = SourceKeys::new();
        for (name, hex_key) in &self.keys {
            keys.insert_hex(name, hex_key).map_err(ConnectorError::Config)?;
        }
        Ok(keys)
    }
}

/// A symbol at work.
struct Bound {
    aggregator: Aggregator,
    feed: Option<(AggregatorFeed::AggregatorFeedInstance<DynProvider>, PushPolicy)>,
}

/// What one round of one symbol did.
#[derive(Debug, Clone)]
pub struct SymbolRound {
    /// The aggregation.
    pub report: RoundReport,
    /// The push, if the symbol has a feed and a price was published.
    pub push: Option<PushOutcome>,
}

/// What one round did.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Per symbol.
    pub symbols: Vec<SymbolRound>,
    /// Events verified and journalled.
    pub events: Vec<Observation>,
    /// Events refused (bad signature), with the reason.
    pub events_refused: Vec<(Observation, String)>,
    /// Observations dropped at the bounds ([`MAX_TRACKED_PAIRS`], [`MAX_PENDING_EVENTS`]).
    pub overflowed: u64,
}

/// The connector.
pub struct Connector {
    symbols: Vec<Bound>,
    events: BTreeSet<String>,
    keys: SourceKeys,
    journal: Option<OracleJournal>,
    /// The newest observation of each (source, symbol): a round considers every source's latest word, however
    /// long ago it came (the aggregator drops what is stale), not only what arrived since the last round.
    latest: BTreeMap<(String, String), Observation>,
    pending_events: VecDeque<Observation>,
    overflowed: u64,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("symbols", &self.symbols.len()).field("tracked", &self.latest.len()).finish()
    }
}

impl Connector {
    /// A connector for `config`'s symbols; `provider` (signing as the feeds' updater) is needed if any symbol has
    /// a feed; `journal` records every round and event.
    pub fn new(
        config: &OracleConfig,
        provider: Option<DynProvider>,
        journal: Option<OracleJournal>,
    ) -> Result<Connector, ConnectorError> {
        let keys = config.source_keys()?;
        let mut symbols = Vec::new();
        for s in &config.symbols {
            let feed = match (s.feed, &provider) {
                (Some(address), Some(p)) => Some((AggregatorFeed::new(address, p.clone()), s.push_policy())),
                (Some(_), None) => {
                    return Err(ConnectorError::Config(format!(
                        "symbol {:?} has a feed but no chain provider",
                        s.symbol
                    )));
                }
                (None, _) => None,
            };
            symbols.push(Bound { aggregator: Aggregator::new(s.aggregation(), keys.clone()), feed });
        }
        Ok(Connector {
            symbols,
            events: config.events.iter().cloned().collect(),
            keys,
            journal,
            latest: BTreeMap::new(),
            pending_events: VecDeque::new(),
            overflowed: 0,
        })
    }

    /// Seeds each symbol's breaker reference with its feed's latest answer (so the first round after a restart
    /// is checked against what the chain already says).
    pub async fn seed_from_feeds(&mut self) -> Result<(), ConnectorError> {
        for b in &mut self.symbols {
            if let Some((feed, _)) = &b.feed
                && let Some(latest) = push::latest(feed).await?
            {
                b.aggregator.set_last(latest.answer);
            }
        }
        Ok(())
    }

    /// Takes in an observation: an event is queued for the next round; a price replaces its source's previous
    /// one for that symbol if it is newer (bounded: see [`MAX_TRACKED_PAIRS`], [`MAX_PENDING_EVENTS`]).
    pub fn observe(&mut self, o: Observation) {
        if self.events.contains(&o.symbol) {
            if self.pending_events.len() == MAX_PENDING_EVENTS {
                self.pending_events.pop_front();
                self.overflowed += 1;
            }
            self.pending_events.push_back(o);
            return;
        }
        let key = (o.source.clone(), o.symbol.clone());
        match self.latest.get(&key) {
            Some(prev) if prev.observed_at_ms > o.observed_at_ms => {}
            Some(_) => {
                self.latest.insert(key, o);
            }
            None if self.latest.len() >= MAX_TRACKED_PAIRS => self.overflowed += 1,
            None => {
                self.latest.insert(key, o);
            }
        }
    }

    /// Runs a round at `now_ms` over everything observed since the last one.
    pub async fn round(&mut self, now_ms: i64) -> Result<Round, ConnectorError> {
        let observations: Vec<Observation> = self.latest.values().cloned().collect();
        let events: Vec<Observation> = self.pending_events.drain(..).collect();
        let mut round = Round { overflowed: std::mem::take(&mut self.overflowed), ..Round::default() };
        for o in &events {
            match self.keys.verify(o) {
                Ok(()) => {
                    if let Some(j) = &self.journal {
                        j.record_event(o)?;
                    }
                    round.events.push(o.clone());
                }
                Err(e) => round.events_refused.push((o.clone(), e.to_string())),
            }
        }
        for b in &mut self.symbols {
            let report = b.aggregator.round(&observations, now_ms);
            let push = match (report.published(), &b.feed) {
                (Some(value), Some((feed, policy))) => Some(push::maybe_push(feed, policy, value).await?),
                _ => None,
            };
            if let Some(j) = &self.journal {
                j.record_round(&report, push.as_ref())?;
            }
            round.symbols.push(SymbolRound { report, push });
        }
        Ok(round)
    }

    /// (source, symbol) pairs whose latest observation is held: bounded by the sources and symbols, never by time.
    pub fn tracked(&self) -> usize {
        self.latest.len()
    }

    /// Accepts every held jump (an operator's reset).
    pub fn reset_breakers(&mut self) {
        for b in &mut self.symbols {
            b.aggregator.reset_breaker();
        }
    }
}
