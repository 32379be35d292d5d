//! `aurum demo`: the end-to-end demonstration, grown issue by issue.
//!
//! 1. The ledger: a day of a gold-and-rupee business (see `ledger_demo`) and its trial balance.
//! 2. Tokenized gold on a local Anvil (see `chain_demo`): bars, reserve attestation, mints, trades,
//!    a freeze and wipe, a redemption, with the indexer and the mirror keeping the ledger in step.
//! 3. The replay-based audit of the signed journal, over everything the ledger journalled.
//! 4. Risk scoring over the journal: every transfer scored against per-account profiles, rules and
//!    the anomaly model; alerts appended to `risk.alerts` exactly once across runs.
//! 5. The substrate: payment events are appended durably to a partitioned topic of the log, and a
//!    projection folds them into balances in the KV store, writing each batch of balances together
//!    with the log offsets it consumed in one atomic KV write. Re-running never double counts: the
//!    projection resumes from the offsets stored beside the balances (exactly once across
//!    restarts).
//!
//! Money is integers of base units inside and decimal strings on screen; no floats.

use std::collections::BTreeMap;
use std::time::Instant;

use aurum_kv::{Db, WriteBatch};
use aurum_log::{ProducerRecord, TopicConfig, Topics};
use aurum_vfs::rng::SplitMix64;
use clap::Args;
use serde_json::{Value, json};

use super::kv::open_kv;
use super::log::open_log;
use super::{CliResult, Context};
use crate::output::print_json;

/// Topic of payment events.
const TOPIC: &str = "demo.payments";
/// Partitions of the payment topic.
const PARTITIONS: u32 = 4;
/// Records per append, as a producer with batching would send them.
const PRODUCE_BATCH_RECORDS: usize = 500;
/// Bytes per fetch of the projection.
const FETCH_BYTES: usize = 1 << 20;

/// Arguments of `aurum demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Payment events to generate.
    #[arg(long, default_value_t = 20_000)]
    pub payments: u64,
    /// Accounts to pay between.
    #[arg(long, default_value_t = 50)]
    pub accounts: u64,
    /// Seed of the generator (the same seed makes the same payments).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Skip the tokenized-gold story on a local Anvil (for machines without Node.js and npm).
    #[arg(long)]
    pub skip_chain: bool,
}

/// A payment: `amount_minor` moves from `from` to `to`.
struct Payment {
    from: u64,
    to: u64,
    amount_minor: i128,
}

impl Payment {
    fn encode(&self) -> Vec<u8> {
        format!("{},{},{}", self.from, self.to, self.amount_minor).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Result<Payment, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "payment is not UTF-8".to_string())?;
        let mut it = text.split(',');
        let mut next = |what: &str| it.next().ok_or_else(|| format!("payment {text:?} lacks {what}"));
        let from = next("from")?.parse().map_err(|e| format!("bad from in {text:?}: {e}"))?;
        let to = next("to")?.parse().map_err(|e| format!("bad to in {text:?}: {e}"))?;
        let amount_minor = next("amount")?.parse().map_err(|e| format!("bad amount in {text:?}: {e}"))?;
        Ok(Payment { from, to, amount_minor })
    }
}

fn account_key(account: u64) -> Vec<u8> {
    format!("demo/balance/{account:06}").into_bytes()
}

fn offset_key(partition: u32) -> Vec<u8> {
    format!("demo/projection-offset/{TOPIC}/{partition}").into_bytes()
}

/// Minor units as a decimal string with two places, exactly.
fn money(minor: i128) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn read_i128(db: &Db, key: &[u8]) -> Result<i128, Box<dyn std::error::Error + Send + Sync>> {
    match db.get(key)? {
        None => Ok(0),
        Some(v) => Ok(std::str::from_utf8(&v)?.parse()?),
    }
}

/// Run the demo.
pub fn run(ctx: &Context, args: DemoArgs) -> CliResult {
    if args.accounts < 2 {
        return Err("--accounts must be at least 2".into());
    }
    let day = super::ledger_demo::run_day(ctx)?;
    if !ctx.json {
        println!("== a day of gold and rupees: {} ==", day["date"].as_str().unwrap_or_default());
        println!(
            "{} commands in {} journal blocks; outcomes: {}",
            day["commands"], day["journal_blocks"], day["outcomes"]
        );
        println!(
            "customers bought {} oz and sold {} oz of gold; fees {} INR; vault holds {} oz",
            day["gold_bought_oz"].as_str().unwrap_or_default(),
            day["gold_sold_oz"].as_str().unwrap_or_default(),
            day["fees_inr"].as_str().unwrap_or_default(),
            day["vault_gold_oz"].as_str().unwrap_or_default()
        );
        println!("card holds: {}", day["holds"]);
        if let Some(r) = day["refused_overdraft"].as_str() {
            println!("{r}");
        }
        println!("== trial balance (business accounts; customer wallets summed) ==");
        super::ledger::print_trial_balance(&compact_trial_balance(&day["trial_balance"]));
    }
    let chain = if args.skip_chain {
        Value::Null
    } else {
        if !ctx.json {
            println!("== tokenized gold on a local chain ==");
        }
        super::chain_demo::run(ctx)?
    };
    eprintln!("[audit] replaying the journal from genesis through a fresh state machine...");
    let engine = super::ledger::open_engine(ctx, aurum_ledger_node::engine::EngineConfig::default())?;
    let report = engine.audit(aurum_ledger_node::engine::AuditFrom::Genesis)?;
    drop(engine);
    if !ctx.json {
        println!("== audit ==");
        println!("{report}");
    }
    if let Some(d) = &report.first_divergence {
        return Err(format!("the audit found a divergence at block {}: {}", d.seq, d.kind.as_str()).into());
    }
    eprintln!("[risk] scoring every transfer of the journal...");
    let risk = super::risk::scan_journal(ctx, demo_risk_rules(ctx)?, 3)?;
    if !ctx.json {
        println!("== risk scoring ==");
        super::risk::print_scan(&risk);
    }
    eprintln!("[lake] appending the journal, the topics and the final chain events to the Iceberg tables...");
    let lake = super::lake::demo_step(ctx)?;
    if !ctx.json {
        println!("== lakehouse: Iceberg tables and SQL analytics ==");
        super::lake::print_demo_step(&lake);
        println!("== substrate: log -> KV projection ==");
    }
    let projection = run_projection(ctx, &args)?;
    if ctx.json {
        print_json(&json!({
            "ledger": day, "chain": chain, "audit": report.to_json_value(), "risk": risk, "lake": lake,
            "projection": projection,
        }));
    }
    Ok(())
}

/// The demo's risk rules: the built-in ones, with the platform's own books exempt. Accounts that
/// are not liabilities (vault, bank, exchange, fees, capital, inventory) are the business itself,
/// not customers whose behaviour is scored, and neither is the pooled account owed to merchants;
/// their counterparties are still scored.
fn demo_risk_rules(ctx: &Context) -> Result<aurum_risk::RuleSet, Box<dyn std::error::Error + Send + Sync>> {
    let engine = super::ledger::open_engine(ctx, aurum_ledger_node::engine::EngineConfig::default())?;
    let mut rules = aurum_risk::RuleSet::default_rules();
    let own: Vec<u128> = engine.read(|l| {
        l.accounts().iter().filter(|a| a.kind != aurum_ledger::AccountKind::Liability).map(|a| a.id.0).collect()
    })?;
    rules.exempt.extend(own);
    rules.exempt.insert(super::ledger_demo::MERCHANT_INR.0);
    Ok(rules)
}

/// The business accounts' rows, the customer wallets summed per asset, and the totals.
fn compact_trial_balance(tb: &serde_json::Value) -> serde_json::Value {
    use aurum_ledger::decimal::{format_amount, parse_amount};
    let scale = |asset: &str| if asset == "XAU" { 3 } else { 2 };
    let mut rows = Vec::new();
    let mut wallets: std::collections::BTreeMap<String, (u128, u128)> = std::collections::BTreeMap::new();
    for r in tb["rows"].as_array().into_iter().flatten() {
        let id: u128 = r["account"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        if id < 100_000 {
            rows.push(r.clone());
            continue;
        }
        let asset = r["asset"].as_str().unwrap_or_default().to_string();
        let amount = |k: &str| parse_amount(r[k].as_str().unwrap_or("0"), scale(&asset)).unwrap_or(0);
        let e = wallets.entry(asset.clone()).or_default();
        e.0 += amount("debits");
        e.1 += amount("credits");
    }
    for (asset, (d, c)) in wallets {
        rows.push(json!({
            "account": "100000-299999",
            "name": format!("customer wallets ({asset})"),
            "asset": asset,
            "debits": format_amount(d, scale(&asset)),
            "credits": format_amount(c, scale(&asset)),
        }));
    }
    json!({"rows": rows, "totals": tb["totals"]})
}

/// The substrate part: produce payment events and project them into KV balances.
fn run_projection(
    ctx: &Context,
    args: &DemoArgs,
) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
    let embedded = open_log(ctx)?;
    let log = super::backends::topics(ctx, &embedded)?;
    let db = open_kv(ctx)?;
    log.create_topic(TOPIC, TopicConfig { partitions: PARTITIONS, ..TopicConfig::default() })?;

    eprintln!("[1/3] producing {} payment events to {TOPIC} ({PARTITIONS} partitions)...", args.payments);
    let started = Instant::now();
    let mut rng = SplitMix64::new(args.seed);
    let mut produced_total: i128 = 0;
    let mut pending = Vec::with_capacity(PRODUCE_BATCH_RECORDS);
    for i in 0..args.payments {
        let from = rng.below(args.accounts);
        let to = (from + 1 + rng.below(args.accounts - 1)) % args.accounts;
        let amount_minor = i128::from(rng.range_inclusive(1, 500_000));
        produced_total += amount_minor;
        let p = Payment { from, to, amount_minor };
        pending.push(ProducerRecord::new(from.to_string(), p.encode()));
        if pending.len() == PRODUCE_BATCH_RECORDS || i + 1 == args.payments {
            log.produce(TOPIC, std::mem::take(&mut pending))?;
        }
        if (i + 1) % 5000 == 0 {
            eprintln!("      {} / {}", i + 1, args.payments);
        }
    }
    let produce_secs = started.elapsed().as_secs_f64();

    eprintln!("[2/3] projecting balances into the KV store, offsets committed atomically with them...");
    let started = Instant::now();
    let applied = project(&*log, &db)?;
    let project_secs = started.elapsed().as_secs_f64();

    eprintln!("[3/3] checking the books...");
    let mut balances: BTreeMap<u64, i128> = BTreeMap::new();
    let mut sum: i128 = 0;
    for item in db.scan_prefix(b"demo/balance/")? {
        let (k, v) = item?;
        let account: u64 = std::str::from_utf8(&k[b"demo/balance/".len()..])?.parse()?;
        let bal: i128 = std::str::from_utf8(&v)?.parse()?;
        sum += bal;
        balances.insert(account, bal);
    }
    if sum != 0 {
        return Err(format!("balances do not sum to zero: {}", money(sum)).into());
    }
    let mut lag_total = 0u64;
    let mut events_total = 0u64;
    for p in 0..PARTITIONS {
        let hw = log.offsets(TOPIC, p)?.high_watermark;
        let done = u64::try_from(read_i128(&db, &offset_key(p))?)?;
        lag_total += hw - done;
        events_total += hw;
    }
    let mut ranked: Vec<(u64, i128)> = balances.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<(u64, i128)> = ranked.iter().take(5).copied().collect();

    let summary = json!({
            "topic": TOPIC,
            "produced": args.payments,
            "produced_amount": money(produced_total),
            "applied_this_run": applied,
            "events_in_log": events_total,
            "projection_lag": lag_total,
            "balances_sum": money(sum),
            "produce_records_per_sec": (args.payments as f64 / produce_secs).round(),
            "project_records_per_sec": (applied as f64 / project_secs.max(1e-9)).round(),
            "top_accounts": top.iter().map(|(a, b)| json!({"account": a, "balance": money(*b)})).collect::<Vec<_>>(),
    });
    if !ctx.json {
        println!("produced {} payments worth {} in {:.2} s", args.payments, money(produced_total), produce_secs);
        println!("projected {applied} events into balances in {project_secs:.2} s; projection lag now {lag_total}");
        println!(
            "{events_total} events in the log; balances sum to {} (every payment debits one account and credits another)",
            money(sum)
        );
        println!("top accounts:");
        for (a, b) in top {
            println!("  account {a:06}  {:>16}", money(b));
        }
        println!("inspect with: aurum ledger accounts; aurum ledger trial-balance; aurum audit; aurum log topics");
    }
    Ok(summary)
}

/// Fold every unprojected event into balances; returns how many were applied.
fn project(log: &dyn Topics, db: &Db) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let mut applied = 0u64;
    for p in 0..PARTITIONS {
        let mut at = u64::try_from(read_i128(db, &offset_key(p))?)?;
        loop {
            let fetched = log.read(TOPIC, p, at, FETCH_BYTES)?;
            if fetched.records.is_empty() {
                break;
            }
            let mut deltas: BTreeMap<u64, i128> = BTreeMap::new();
            for r in &fetched.records {
                let pay = Payment::decode(r.value.as_deref().unwrap_or_default())
                    .map_err(|e| format!("{TOPIC}/{p}@{}: {e}", r.offset))?;
                *deltas.entry(pay.from).or_default() -= pay.amount_minor;
                *deltas.entry(pay.to).or_default() += pay.amount_minor;
            }
            let mut batch = WriteBatch::new();
            for (account, delta) in deltas {
                let key = account_key(account);
                let bal = read_i128(db, &key)?.checked_add(delta).ok_or("balance overflow")?;
                batch.put(&key, bal.to_string().as_bytes());
            }
            batch.put(&offset_key(p), fetched.next_offset.to_string().as_bytes());
            db.write(batch)?;
            applied += fetched.records.len() as u64;
            at = fetched.next_offset;
        }
    }
    Ok(applied)
}
