//! Indexer backfill throughput (logs/s) against the bare `eth_getLogs` calls over the same range, in the same run,
//! on the same Anvil.
//!
//! The chain: the contracts deployed and ≥ 100 000 token `Transfer` logs, made by `TransferFanout` (1 000 transfers
//! per transaction, one block each). The baseline fetches the logs of the indexed contracts over the whole range
//! in the same chunks of blocks and counts them: the least any indexer must do. The indexer does the same calls
//! plus one header per chunk, decodes every log, and writes logs and cursor to the KV store (fsynced) — a fresh
//! store per run. Each side runs 3 times, alternating; the best of each is compared.
//!
//! `cargo bench -p aurum-chain --bench indexer` (about a minute); `-- quick` makes 10 000 logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aurum_chain::alloy::primitives::{Address, I256, U256};
use aurum_chain::alloy::providers::{DynProvider, Provider};
use aurum_chain::alloy::rpc::types::Filter;
use aurum_chain::bindings::TransferFanout;
use aurum_chain::deploy::ONE_OUNCE;
use aurum_chain::{DeployConfig, Deployment, Indexer, IndexerConfig, LocalAnvil, connect, deploy_all, send};
use aurum_foundations_bench::{Measurement, print_comparison};
use aurum_kv::Db;
use aurum_vfs::OsVfs;

/// Transfers per fanout transaction (recipients × rounds).
const RECIPIENTS: usize = 50;
const ROUNDS: u64 = 20;
/// Blocks per `eth_getLogs` call, for both sides: 10 blocks hold 10 000 logs here.
const CHUNK_BLOCKS: u64 = 10;
const RUNS: usize = 3;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let quick = std::env::args().any(|a| a == "quick");
    let transactions: u64 = if quick { 10 } else { 100 };
    let anvil = LocalAnvil::spawn()?;
    let admin_key = anvil.signer(0);
    let admin_address = admin_key.address();
    let admin = connect(&anvil.endpoint(), admin_key).await?;
    let d = deploy_all(&admin, admin_address, &DeployConfig::default()).await?;
    let head = build_chain(&admin, &d, transactions).await?;
    let expected = transactions * RECIPIENTS as u64 * ROUNDS;
    println!(
        "chain: blocks {}..={head}, {expected} fanout transfers ({transactions} transactions); chunks of {CHUNK_BLOCKS} blocks",
        d.first_block
    );

    let addresses = vec![d.token, d.reserve_feed, d.price_feed];
    let mut best_base: Option<Measurement> = None;
    let mut best_indexer: Option<Measurement> = None;
    for _ in 0..RUNS {
        let base = bare_get_logs(&admin, &addresses, d.first_block, head).await?;
        let indexed = indexer_backfill(&admin, &addresses, d.first_block).await?;
        assert_eq!(base.ops, indexed.ops, "both sides see the same logs");
        assert!(base.ops >= expected, "the chain holds {} logs, expected at least {expected}", base.ops);
        if best_base.as_ref().is_none_or(|b| base.elapsed < b.elapsed) {
            best_base = Some(base);
        }
        if best_indexer.as_ref().is_none_or(|b| indexed.elapsed < b.elapsed) {
            best_indexer = Some(indexed);
        }
    }
    let (base, indexed) = (best_base.expect("ran"), best_indexer.expect("ran"));
    print_comparison(&indexed, &base);
    let overhead = indexed.elapsed.as_secs_f64() / base.elapsed.as_secs_f64() - 1.0;
    println!("indexer overhead over bare eth_getLogs: {:+.1}% (aim: at most +20%)", overhead * 100.0);
    Ok(())
}

/// Deploys the fanout, funds it, and sends `transactions` fanouts; returns the head block.
async fn build_chain(admin: &DynProvider, d: &Deployment, transactions: u64) -> BenchResult<u64> {
    let total = U256::from(transactions * RECIPIENTS as u64 * ROUNDS);
    send(d.reserve_feed(admin.clone()).updateAnswer(I256::try_from(1_000_000_000_000_000i64)?)).await?;
    let fanout = TransferFanout::deploy(admin.clone()).await?;
    send(d.token(admin.clone()).mint(*fanout.address(), ONE_OUNCE * total)).await?;
    let recipients: Vec<Address> = (1..=RECIPIENTS).map(|i| Address::with_last_byte(i as u8)).collect();
    let started = Instant::now();
    for _ in 0..transactions {
        let call = fanout.fanout(d.token, recipients.clone(), ONE_OUNCE, U256::from(ROUNDS)).gas(25_000_000);
        send(call).await?;
    }
    eprintln!("built the chain in {:.1} s", started.elapsed().as_secs_f64());
    Ok(admin.get_block_number().await?)
}

async fn bare_get_logs(p: &DynProvider, addresses: &[Address], first: u64, head: u64) -> BenchResult<Measurement> {
    let started = Instant::now();
    let mut logs = 0u64;
    let mut from = first;
    while from <= head {
        let to = head.min(from + CHUNK_BLOCKS - 1);
        let filter = Filter::new().address(addresses.to_vec()).from_block(from).to_block(to);
        logs += p.get_logs(&filter).await?.len() as u64;
        from = to + 1;
    }
    Ok(Measurement { name: "bare eth_getLogs".into(), ops: logs, bytes: 0, elapsed: started.elapsed() })
}

async fn indexer_backfill(p: &DynProvider, addresses: &[Address], first: u64) -> BenchResult<Measurement> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(Arc::new(OsVfs), dir.path(), aurum_kv::Options::default())?;
    let config = IndexerConfig {
        confirmations: 0,
        chunk_blocks: CHUNK_BLOCKS,
        poll_interval: Duration::from_millis(100),
        ..IndexerConfig::new(addresses.to_vec(), first)
    };
    let started = Instant::now();
    let mut ix = Indexer::open(p.clone(), db, config).await?;
    let report = ix.catch_up().await?;
    Ok(Measurement {
        name: "aurum indexer backfill (KV, fsynced)".into(),
        ops: report.logs_ingested,
        bytes: 0,
        elapsed: started.elapsed(),
    })
}
