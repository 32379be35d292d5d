//! `aurum chain`: run the indexer against any JSON-RPC endpoint (or a chain restored from a demo run), show where it
//! stands, and list the decoded final events.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aurum_chain::alloy::primitives::{Address, Bytes};
use aurum_chain::alloy::providers::ext::AnvilApi;
use aurum_chain::alloy::providers::{DynProvider, Provider, ProviderBuilder};
use aurum_chain::indexer::{self, store};
use aurum_chain::{AnvilConfig, ChainEvent, Deployment, Indexer, IndexerConfig, LocalAnvil, ensure_installed};
use aurum_kv::Db;
use aurum_ledger::decimal::format_amount;
use aurum_vfs::OsVfs;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CliResult, Context};
use crate::output::print_json;

/// Most events `aurum chain events` prints.
const MAX_EVENTS: usize = 100_000;

/// `aurum chain ...`
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Index the token's and feeds' events into the data directory's KV store (once, or following the head).
    Index(IndexArgs),
    /// Where the indexer stands on each chain it has indexed.
    Status,
    /// The decoded final events of a deployment, in chain order.
    Events(EventsArgs),
}

/// Which contracts: a demo manifest, or the addresses.
#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// A `manifest.json` written by `aurum demo` (chain id, addresses, first block, state dump).
    #[arg(long, conflicts_with_all = ["token", "reserve_feed", "price_feed"])]
    pub manifest: Option<PathBuf>,
    /// The gold token's address.
    #[arg(long, requires_all = ["reserve_feed", "price_feed"])]
    pub token: Option<Address>,
    /// The reserve feed's address.
    #[arg(long)]
    pub reserve_feed: Option<Address>,
    /// The price feed's address.
    #[arg(long)]
    pub price_feed: Option<Address>,
    /// First block to index (the deployment block).
    #[arg(long, default_value_t = 1)]
    pub first_block: u64,
}

/// Arguments of `aurum chain index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// JSON-RPC endpoint (http(s) or ws(s)). Without it, a manifest's chain is restored on a local Anvil from its
    /// state dump.
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// Blocks below the head before a block is final (default: the manifest's, else 12).
    #[arg(long)]
    pub confirmations: Option<u64>,
    /// Blocks per backfill `eth_getLogs` call.
    #[arg(long, default_value_t = 2_000)]
    pub chunk_blocks: u64,
    /// Keep following the head until interrupted (Ctrl-C).
    #[arg(long)]
    pub follow: bool,
}

/// Arguments of `aurum chain events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Chain id (default: the manifest's).
    #[arg(long)]
    pub chain_id: Option<u64>,
    /// Most events to print.
    #[arg(long, default_value_t = 1_000)]
    pub limit: usize,
}

/// A resolved deployment, and the manifest it came from.
struct Resolved {
    deployment: Deployment,
    manifest: Option<(PathBuf, Value)>,
}

fn resolve(args: &DeploymentArgs) -> Result<Resolved, Box<dyn std::error::Error + Send + Sync>> {
    if let Some(path) = &args.manifest {
        let text = std::fs::read(path).map_err(|e| format!("cannot read manifest {}: {e}", path.display()))?;
        let m: Value =
            serde_json::from_slice(&text).map_err(|e| format!("manifest {} is not JSON: {e}", path.display()))?;
        let address = |field: &str| -> Result<Address, String> {
            m[field]
                .as_str()
                .ok_or_else(|| format!("manifest {}: field {field:?} is missing", path.display()))?
                .parse()
                .map_err(|e| format!("manifest {}: field {field:?} is not an address: {e}", path.display()))
        };
        let first_block = m["first_block"]
            .as_u64()
            .ok_or_else(|| format!("manifest {}: field \"first_block\" is missing", path.display()))?;
        let deployment = Deployment {
            token: address("token")?,
            reserve_feed: address("reserve_feed")?,
            price_feed: address("price_feed")?,
            first_block,
        };
        return Ok(Resolved { deployment, manifest: Some((path.clone(), m)) });
    }
    match (args.token, args.reserve_feed, args.price_feed) {
        (Some(token), Some(reserve_feed), Some(price_feed)) => Ok(Resolved {
            deployment: Deployment { token, reserve_feed, price_feed, first_block: args.first_block },
            manifest: None,
        }),
        _ => Err("give --manifest, or --token, --reserve-feed and --price-feed".into()),
    }
}

/// Run `aurum chain ...`.
pub fn run(ctx: &Context, cmd: ChainCommand) -> CliResult {
    match cmd {
        ChainCommand::Index(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            runtime.block_on(index(ctx, args))
        }
        ChainCommand::Status => status(ctx),
        ChainCommand::Events(args) => events(ctx, args),
    }
}

fn open_db(ctx: &Context) -> Result<Db, aurum_kv::Error> {
    // The ledger's KV store: the indexer's cursor and logs live beside the ledger's state.
    Db::open(Arc::new(OsVfs), &ctx.kv_dir(), aurum_kv::Options::default())
}

async fn index(ctx: &Context, args: IndexArgs) -> CliResult {
    let resolved = resolve(&args.deployment)?;
    let d = resolved.deployment;
    // Keep a restored Anvil alive for as long as the indexer runs.
    let (provider, _anvil): (DynProvider, Option<LocalAnvil>) = match (&args.rpc_url, &resolved.manifest) {
        (Some(url), _) => (ProviderBuilder::new().connect(url).await?.erased(), None),
        (None, Some((path, m))) => {
            let (anvil, provider) = restore(path, m).await?;
            (provider, Some(anvil))
        }
        (None, None) => return Err("give --rpc-url (or a --manifest whose chain can be restored)".into()),
    };
    let confirmations = args
        .confirmations
        .or_else(|| resolved.manifest.as_ref().and_then(|(_, m)| m["confirmations"].as_u64()))
        .unwrap_or(12);
    let config = IndexerConfig {
        confirmations,
        chunk_blocks: args.chunk_blocks,
        poll_interval: Duration::from_secs(1),
        ..IndexerConfig::new(vec![d.token, d.reserve_feed, d.price_feed], d.first_block)
    };
    let db = open_db(ctx)?;
    let mut ix = Indexer::open(provider, db, config).await?;
    let report = ix.catch_up().await?;
    let c = ix.cursor();
    eprintln!(
        "[chain] chain {}: {} logs indexed; final through block {}, tip {} (head {}); {} reorgs",
        ix.chain_id(),
        report.logs_ingested,
        c.finalized,
        c.tip,
        report.head,
        report.reorgs
    );
    if args.follow {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut progress = ix.subscribe();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        });
        tokio::spawn(async move {
            while progress.changed().await.is_ok() {
                let p = *progress.borrow();
                eprintln!("[chain] head {} tip {} final {}", p.head, p.tip, p.finalized);
            }
        });
        eprintln!("[chain] following the head; Ctrl-C stops");
        ix.follow(stop_rx).await?;
    }
    let c = ix.cursor();
    let out = json!({
        "chain_id": ix.chain_id(),
        "logs_ingested": report.logs_ingested,
        "finalized": c.finalized,
        "tip": c.tip,
        "head": report.head,
        "reorgs": report.reorgs,
        "confirmations": confirmations,
    });
    if ctx.json {
        print_json(&out);
    } else {
        println!(
            "chain {}: final through block {} (tip {}, head {}, {} confirmations); {} logs indexed this run",
            ix.chain_id(),
            c.finalized,
            c.tip,
            report.head,
            confirmations,
            report.logs_ingested
        );
    }
    Ok(())
}

/// Starts a local Anvil with the manifest's chain id and loads the run's state dump (blocks, logs and all).
async fn restore(
    path: &Path,
    m: &Value,
) -> Result<(LocalAnvil, DynProvider), Box<dyn std::error::Error + Send + Sync>> {
    let chain_id = m["chain_id"].as_u64().ok_or_else(|| format!("manifest {}: no chain_id", path.display()))?;
    let dump = m["anvil_state"].as_str().ok_or_else(|| format!("manifest {}: no anvil_state", path.display()))?;
    let dump_path = path.parent().unwrap_or(Path::new(".")).join(dump);
    let state = std::fs::read(&dump_path).map_err(|e| format!("cannot read {}: {e}", dump_path.display()))?;
    ensure_installed()?;
    let anvil = LocalAnvil::spawn_with(AnvilConfig { chain_id, ..AnvilConfig::default() })?;
    let provider = ProviderBuilder::new().connect(&anvil.endpoint()).await?.erased();
    if !provider.anvil_load_state(Bytes::from(state)).await? {
        return Err(format!("anvil refused the state dump {}", dump_path.display()).into());
    }
    eprintln!(
        "[chain] restored chain {chain_id} from {} on {} (head {})",
        dump_path.display(),
        anvil.endpoint(),
        provider.get_block_number().await?
    );
    Ok((anvil, provider))
}

fn status(ctx: &Context) -> CliResult {
    let db = open_db(ctx)?;
    let mut chains = Vec::new();
    for item in db.scan_prefix(b"chain/")? {
        let (key, value) = item?;
        let Some(rest) = key.strip_prefix(b"chain/") else { continue };
        if rest.len() != 16 + "/cursor".len() || !rest.ends_with(b"/cursor") {
            continue;
        }
        let chain_id = u64::from_str_radix(std::str::from_utf8(&rest[..16])?, 16)?;
        let cursor = store::Cursor::decode(&value)?;
        let logs = db.scan_prefix(&store::log_prefix(chain_id))?.count();
        chains.push(json!({
            "chain_id": chain_id,
            "finalized": cursor.finalized,
            "finalized_hash": cursor.finalized_hash.to_string(),
            "tip": cursor.tip,
            "tip_hash": cursor.tip_hash.to_string(),
            "logs": logs,
        }));
    }
    if ctx.json {
        print_json(&json!({"chains": chains}));
    } else if chains.is_empty() {
        println!("no chain indexed yet (run `aurum demo` or `aurum chain index`)");
    } else {
        println!("{:>10} {:>10} {:>10} {:>8}  FINAL HASH", "CHAIN", "FINAL", "TIP", "LOGS");
        for c in &chains {
            println!(
                "{:>10} {:>10} {:>10} {:>8}  {}",
                c["chain_id"].as_u64().unwrap_or_default(),
                c["finalized"].as_u64().unwrap_or_default(),
                c["tip"].as_u64().unwrap_or_default(),
                c["logs"].as_u64().unwrap_or_default(),
                c["finalized_hash"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn events(ctx: &Context, args: EventsArgs) -> CliResult {
    let resolved = resolve(&args.deployment)?;
    let chain_id = args
        .chain_id
        .or_else(|| resolved.manifest.as_ref().and_then(|(_, m)| m["chain_id"].as_u64()))
        .ok_or("give --chain-id (or a --manifest)")?;
    let db = open_db(ctx)?;
    let logs = indexer::read_final_logs(&db, chain_id, None, args.limit.min(MAX_EVENTS))?;
    let mut rows = Vec::new();
    for log in &logs {
        let event = aurum_chain::events::decode(log, &resolved.deployment)?;
        if event == ChainEvent::Other {
            continue;
        }
        rows.push(json!({
            "block": log.block_number,
            "log_index": log.log_index,
            "tx": log.tx_hash.to_string(),
            "event": describe(&event),
        }));
    }
    if ctx.json {
        print_json(&json!({"chain_id": chain_id, "events": rows}));
    } else {
        for r in &rows {
            let n = |k: &str| r[k].as_u64().unwrap_or_default();
            println!("{:>8} {:>4}  {}", n("block"), n("log_index"), r["event"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}

/// One line per event; token amounts in ounces, exactly (18 decimals).
fn describe(e: &ChainEvent) -> String {
    let oz = |v: &aurum_chain::alloy::primitives::U256| match u128::try_from(*v) {
        Ok(v) => format!("{} oz", format_amount(v, 18)),
        Err(_) => format!("{v} base units"),
    };
    match e {
        ChainEvent::Transfer { from, to, amount } => format!("Transfer {from} -> {to} {}", oz(amount)),
        ChainEvent::Minted { to, amount, .. } => format!("Minted {} to {to}", oz(amount)),
        ChainEvent::Redeemed { from, amount, reference } => {
            format!("Redeemed {} from {from} (ref {reference})", oz(amount))
        }
        ChainEvent::Wiped { account, amount } => format!("Wiped {} from {account}", oz(amount)),
        ChainEvent::Frozen { account } => format!("Frozen {account}"),
        ChainEvent::Unfrozen { account } => format!("Unfrozen {account}"),
        ChainEvent::Paused => "Paused".into(),
        ChainEvent::Unpaused => "Unpaused".into(),
        ChainEvent::ReserveAnswer { answer, round, .. } => format!("Reserve round {round}: {answer} (feed units)"),
        ChainEvent::PriceAnswer { answer, round, .. } => format!("Price round {round}: {answer} (feed units)"),
        ChainEvent::Other => "other".into(),
    }
}
