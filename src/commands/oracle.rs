//! `aurum oracle`: run the oracle connector from a config file (sources → signed rounds → feeds on chain, the
//! journal), and publish a custodian's reserve attestation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aurum_chain::alloy::primitives::Address;
use aurum_chain::{AggregatorFeed, connect};
use aurum_ledger_node::engine::EngineConfig;
use aurum_oracle::aggregate::RoundOutcome;
use aurum_oracle::attest::{self, Attestation};
use aurum_oracle::connector::{Connector, OracleConfig};
use aurum_oracle::journal::OracleJournal;
use clap::{Args, Subcommand};
use serde_json::json;

use super::ledger::open_engine;
use super::{CliResult, Context};
use crate::output::print_json;

/// `aurum oracle ...`
#[derive(Debug, Subcommand)]
pub enum OracleCommand {
    /// Run the connector: ingest, aggregate, push, journal — until Ctrl-C or `--rounds`.
    Run(RunArgs),
    /// Verify a custodian's reserve attestation against the bar list and post it on the reserve feed.
    Attest(AttestArgs),
}

/// Arguments of `aurum oracle run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration (TOML; see docs/oracle.md).
    #[arg(long)]
    pub config: PathBuf,
    /// Stop after this many rounds.
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Serve Prometheus metrics (sources, rounds, pushes) at http://ADDR/metrics.
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Arguments of `aurum oracle attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The attestation (JSON: custodian, bar_list_sha256, fine_oz, allocation, as_of_ms, signature).
    #[arg(long)]
    pub attestation: PathBuf,
    /// The bar list it attests.
    #[arg(long)]
    pub bars: PathBuf,
    /// The custodian's ed25519 public key (64 hex digits).
    #[arg(long)]
    pub custodian_key: String,
    /// The reserve feed.
    #[arg(long)]
    pub reserve_feed: Address,
    /// JSON-RPC endpoint.
    #[arg(long)]
    pub rpc_url: String,
    /// Environment variable holding the updater's private key.
    #[arg(long, default_value = "AURUM_ORACLE_KEY")]
    pub private_key_env: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Run `aurum oracle ...`.
pub fn run(ctx: &Context, cmd: OracleCommand) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    match cmd {
        OracleCommand::Run(args) => runtime.block_on(run_connector(ctx, args)),
        OracleCommand::Attest(args) => runtime.block_on(publish_attestation(ctx, args)),
    }
}

fn signer(env: &str) -> Result<aurum_chain::alloy::signers::local::PrivateKeySigner, BoxError> {
    let key = std::env::var(env).map_err(|_| format!("set {env} to the feed updater's private key (hex)"))?;
    Ok(aurum_chain::anvil::signer_from_hex(&key)?)
}

async fn run_connector(ctx: &Context, args: RunArgs) -> CliResult {
    let engine = open_engine(ctx, EngineConfig::default())?;
    let json_out = ctx.json;
    let metrics = Arc::new(OracleMetrics::default());
    if let Some(addr) = args.metrics_addr {
        let m = metrics.clone();
        let bound = super::metrics_http::spawn(addr, move || m.render())?;
        eprintln!("[oracle] metrics on http://{bound}/metrics");
    }
    let summary =
        run_rounds(ctx, &engine, &args.config, args.rounds, &metrics, tokio::signal::ctrl_c(), |line, text| {
            if json_out {
                print_json(line);
            } else {
                println!("{text}");
            }
        })
        .await?;
    if !ctx.json {
        for line in &summary.sources {
            println!("{line}");
        }
    }
    Ok(())
}

/// The connector's Prometheus metrics: its sources' (from the ingestion framework), rounds by
/// symbol and outcome, pushes, and the last published price's time.
#[derive(Debug, Default)]
pub struct OracleMetrics {
    ingest: parking_lot::Mutex<Option<aurum_ingest::Metrics>>,
    rounds: parking_lot::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
    last_published_ms: parking_lot::Mutex<std::collections::BTreeMap<String, i64>>,
    pushes: std::sync::atomic::AtomicU64,
}

impl OracleMetrics {
    /// The text exposition.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP aurum_oracle_rounds_total Rounds by symbol and outcome.\n# TYPE aurum_oracle_rounds_total counter"
        );
        for ((symbol, outcome), n) in self.rounds.lock().iter() {
            let _ = writeln!(out, "aurum_oracle_rounds_total{{symbol=\"{symbol}\",outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP aurum_oracle_pushes_total Prices pushed to feeds.\n# TYPE aurum_oracle_pushes_total counter"
        );
        let _ = writeln!(out, "aurum_oracle_pushes_total {}", self.pushes.load(std::sync::atomic::Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP aurum_oracle_last_published_seconds When a symbol's price was last published.\n# TYPE aurum_oracle_last_published_seconds gauge"
        );
        for (symbol, ms) in self.last_published_ms.lock().iter() {
            let _ = writeln!(out, "aurum_oracle_last_published_seconds{{symbol=\"{symbol}\"}} {}", ms / 1000);
        }
        if let Some(m) = self.ingest.lock().as_ref() {
            let snapshot = m.snapshot();
            for (name, help, value) in [
                (
                    "aurum_ingest_requests_total",
                    "Requests made by a source.",
                    &(|s: &aurum_ingest::SourceSnapshot| s.requests) as &dyn Fn(&aurum_ingest::SourceSnapshot) -> u64,
                ),
                ("aurum_ingest_observations_total", "Observations a source delivered.", &|s| s.observations),
                ("aurum_ingest_failures_total", "Failed requests of a source.", &|s| {
                    s.failures.timeout
                        + s.failures.connect
                        + s.failures.http_status
                        + s.failures.decode
                        + s.failures.closed
                }),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for (source, s) in &snapshot.sources {
                    let _ = writeln!(out, "{name}{{source=\"{source}\"}} {}", value(s));
                }
            }
        }
        out
    }
}

/// What a run of the connector did.
#[derive(Debug, Default)]
pub struct RoundsSummary {
    /// Rounds run.
    pub rounds: u64,
    /// Symbol-rounds that published a price.
    pub published: u64,
    /// Pushes sent to feeds.
    pub pushes: u64,
    /// The last line of every symbol (JSON).
    pub last: std::collections::BTreeMap<String, serde_json::Value>,
    /// One line per source: observations, requests, failures, breaker.
    pub sources: Vec<String>,
}

/// Run the connector of `config_path` over `engine`: a round every `round_interval_ms`, until
/// `rounds` rounds (if given) or `stop`. `on_round` sees each symbol's round as JSON and as text.
pub async fn run_rounds(
    ctx: &Context,
    engine: &aurum_ledger_node::engine::Engine,
    config_path: &std::path::Path,
    rounds: Option<u64>,
    metrics: &OracleMetrics,
    stop: impl std::future::Future,
    mut on_round: impl FnMut(&serde_json::Value, &str),
) -> Result<RoundsSummary, BoxError> {
    let text =
        std::fs::read_to_string(config_path).map_err(|e| format!("cannot read {}: {e}", config_path.display()))?;
    let config = OracleConfig::from_toml(&text).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let provider = match &config.chain {
        Some(chain) => Some(connect(&chain.rpc_url, signer(&chain.private_key_env)?).await?),
        None => None,
    };
    let journal = OracleJournal::open(super::backends::topics(ctx, engine.log())?)?;
    let mut connector = Connector::new(&config, provider, Some(journal))?;
    connector.seed_from_feeds().await?;
    let mut ingestion = config.ingest.spawn(Arc::new(aurum_ingest::SystemClock))?;
    *metrics.ingest.lock() = Some(ingestion.metrics.clone());
    let mut ticker = tokio::time::interval(Duration::from_millis(config.round_interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let mut summary = RoundsSummary::default();
    eprintln!("[oracle] {} sources, {} symbols", config.ingest.sources.len(), config.symbols.len());
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {}
        }
        while let Ok(o) = ingestion.observations.try_recv() {
            connector.observe(o);
        }
        let now = aurum_ledger_node::engine::system_clock()().0 / 1_000_000;
        let round = connector.round(i64::try_from(now).unwrap_or(i64::MAX)).await?;
        for s in &round.symbols {
            let r = &s.report;
            let entry = config.symbols.iter().find(|e| e.symbol == r.symbol);
            if let (Some(value), Some(reval)) = (r.published(), entry.and_then(|e| e.revaluation.as_ref())) {
                let scale = entry.map_or(0, |e| e.scale);
                let computed =
                    engine.read(|l| aurum_oracle::revalue::revalue(l, reval, value, scale, &r.symbol, r.round))??;
                if let Some(command) = computed.command {
                    let outcome = engine.submit(vec![command])?;
                    if let Some(bad) = outcome.iter().find(|o| !o.code.is_ok()) {
                        return Err(format!("revaluation refused by the ledger: {}", bad.code.as_str()).into());
                    }
                }
            }
            let line = json!({
                "symbol": r.symbol, "round": r.round, "outcome": r.outcome,
                "used": r.used.len(), "dropped": r.dropped.len(),
                "push": s.push.as_ref().map(|p| json!({"reason": p.reason, "tx": p.tx.map(|t| t.to_string())})),
            });
            let outcome = match &r.outcome {
                RoundOutcome::Published { value } => format!("published {value}"),
                RoundOutcome::NoQuorum { have, need } => format!("no quorum ({have} of {need})"),
                RoundOutcome::BreakerTripped { candidate, jump_bps, .. } => {
                    format!("breaker holds {candidate} ({jump_bps} bps jump)")
                }
            };
            let pushed = s.push.as_ref().and_then(|p| p.tx).map_or(String::new(), |t| format!("; pushed {t}"));
            let text = format!(
                "{} round {}: {outcome}; {} used, {} dropped{pushed}",
                r.symbol,
                r.round,
                r.used.len(),
                r.dropped.len()
            );
            summary.published += u64::from(r.published().is_some());
            let outcome_name = match &r.outcome {
                RoundOutcome::Published { .. } => "published",
                RoundOutcome::NoQuorum { .. } => "no_quorum",
                RoundOutcome::BreakerTripped { .. } => "breaker_tripped",
            };
            *metrics.rounds.lock().entry((r.symbol.clone(), outcome_name)).or_default() += 1;
            if r.published().is_some() {
                metrics.last_published_ms.lock().insert(r.symbol.clone(), r.at_ms);
            }
            if s.push.as_ref().and_then(|p| p.tx).is_some() {
                metrics.pushes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            summary.pushes += u64::from(s.push.as_ref().and_then(|p| p.tx).is_some());
            on_round(&line, &text);
            summary.last.insert(r.symbol.clone(), line);
        }
        for e in &round.events {
            on_round(
                &json!({"event": e.symbol, "source": e.source, "text": e.text}),
                &format!("event {} from {}: {}", e.symbol, e.source, e.text.as_deref().unwrap_or("")),
            );
        }
        summary.rounds += 1;
        if rounds.is_some_and(|n| summary.rounds >= n) {
            break;
        }
    }
    for (name, m) in ingestion.metrics.snapshot().sources {
        summary.sources.push(format!(
            "source {name}: {} observations, {} requests, failures: {} timeout / {} connect / {} http / {} decode; breaker {:?}",
            m.observations,
            m.requests,
            m.failures.timeout,
            m.failures.connect,
            m.failures.http_status,
            m.failures.decode,
            m.breaker
        ));
    }
    Ok(summary)
}

async fn publish_attestation(ctx: &Context, args: AttestArgs) -> CliResult {
    let attestation: Attestation = serde_json::from_slice(
        &std::fs::read(&args.attestation).map_err(|e| format!("cannot read {}: {e}", args.attestation.display()))?,
    )
    .map_err(|e| format!("{}: {e}", args.attestation.display()))?;
    let bars = std::fs::read(&args.bars).map_err(|e| format!("cannot read {}: {e}", args.bars.display()))?;
    let key_bytes: [u8; 32] = hex::decode(args.custodian_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("--custodian-key is not 64 hex digits")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).map_err(|e| format!("--custodian-key: {e}"))?;
    let provider = connect(&args.rpc_url, signer(&args.private_key_env)?).await?;
    let feed = AggregatorFeed::new(args.reserve_feed, provider);
    let (milli_oz, tx) = attest::verify_and_publish(&attestation, &key, &bars, &feed).await?;
    let oz = aurum_ledger::decimal::format_amount(milli_oz, 3);
    if ctx.json {
        print_json(&json!({"reserve_oz": oz, "tx": tx.to_string(), "custodian": attestation.custodian}));
    } else {
        println!(
            "attestation by {} verified against {} ; reserve {oz} oz posted (tx {tx})",
            attestation.custodian,
            args.bars.display()
        );
    }
    Ok(())
}
