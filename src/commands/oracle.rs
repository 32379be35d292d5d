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
    let text =
        std::fs::read_to_string(&args.config).map_err(|e| format!("cannot read {}: {e}", args.config.display()))?;
    let config = OracleConfig::from_toml(&text).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let provider = match &config.chain {
        Some(chain) => Some(connect(&chain.rpc_url, signer(&chain.private_key_env)?).await?),
        None => None,
    };
    let engine = open_engine(ctx, EngineConfig::default())?;
    let journal = OracleJournal::open(super::backends::topics(ctx, engine.log())?)?;
    let mut connector = Connector::new(&config, provider, Some(journal))?;
    connector.seed_from_feeds().await?;
    let mut ingestion = config.ingest.spawn(Arc::new(aurum_ingest::SystemClock))?;
    let mut ticker = tokio::time::interval(Duration::from_millis(config.round_interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    let mut done = 0u64;
    eprintln!("[oracle] {} sources, {} symbols; Ctrl-C stops", config.ingest.sources.len(), config.symbols.len());
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
            if ctx.json {
                print_json(&line);
            } else {
                let outcome = match &r.outcome {
                    RoundOutcome::Published { value } => format!("published {value}"),
                    RoundOutcome::NoQuorum { have, need } => format!("no quorum ({have} of {need})"),
                    RoundOutcome::BreakerTripped { candidate, jump_bps, .. } => {
                        format!("breaker holds {candidate} ({jump_bps} bps jump)")
                    }
                };
                let pushed = s.push.as_ref().and_then(|p| p.tx).map_or(String::new(), |t| format!("; pushed {t}"));
                println!(
                    "{} round {}: {outcome}; {} used, {} dropped{pushed}",
                    r.symbol,
                    r.round,
                    r.used.len(),
                    r.dropped.len()
                );
            }
        }
        for e in &round.events {
            println!("event {} from {}: {}", e.symbol, e.source, e.text.as_deref().unwrap_or(""));
        }
        done += 1;
        if args.rounds.is_some_and(|n| done >= n) {
            break;
        }
    }
    if !ctx.json {
        for (name, m) in ingestion.metrics.snapshot().sources {
            println!(
                "source {name}: {} observations, {} requests, failures: {} timeout / {} connect / {} http / {} decode; breaker {:?}",
                m.observations,
                m.requests,
                m.failures.timeout,
                m.failures.connect,
                m.failures.http_status,
                m.failures.decode,
                m.breaker
            );
        }
    }
    Ok(())
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
