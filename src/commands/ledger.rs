//! `aurum ledger ...`: assets, accounts, transfers, two-phase transfers, balances, statements,
//! the trial balance, the journal head and snapshots — on the embedded ledger under --data-dir.
//!
//! Amounts are decimal strings in the asset's units (`--amount 1.250` of XAU with scale 3);
//! more decimals than the asset's scale are rejected, never rounded.

use aurum_ledger::decimal::{format_amount, format_signed, parse_amount};
use aurum_ledger::{
    AccountId, AccountKind, AsOf, Asset, AssetId, Command, CreateAccount, CreateAsset, CreateTransfer, Ledger, Limit,
    Metadata, Outcome, PostPending, Timestamp, TransferFlags, TransferId, VoidPending,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::{CliResult, Context};
use crate::output::print_json;

/// Subcommands of `aurum ledger`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create an asset.
    CreateAsset {
        /// Numeric id (non-zero).
        #[arg(long)]
        id: u32,
        /// Code: 1-12 of A-Z 0-9, e.g. XAU, INR.
        #[arg(long)]
        code: String,
        /// Decimal places (0-18).
        #[arg(long)]
        scale: u8,
    },
    /// Create an account.
    CreateAccount(CreateAccountArgs),
    /// Create a transfer (single-phase, pending with --pending, or balancing).
    Transfer(TransferArgs),
    /// Post a pending transfer, in full or in part.
    Post {
        /// Id of this posting transfer.
        #[arg(long)]
        id: u128,
        /// The pending transfer.
        #[arg(long)]
        pending_id: u128,
        /// Amount to post (default: all of it).
        #[arg(long)]
        amount: Option<String>,
    },
    /// Void a pending transfer.
    Void {
        /// Id of this voiding transfer.
        #[arg(long)]
        id: u128,
        /// The pending transfer.
        #[arg(long)]
        pending_id: u128,
    },
    /// Show an account with its balances, now or as of a journal sequence or timestamp.
    Account {
        /// Account id.
        id: u128,
        /// Balances after this journal block.
        #[arg(long, conflicts_with = "as_of_ns")]
        as_of_seq: Option<u64>,
        /// Balances after every event up to this time (ns since the epoch).
        #[arg(long)]
        as_of_ns: Option<u64>,
    },
    /// List accounts.
    Accounts,
    /// An account's statement: every change with the balance after it.
    Statement {
        /// Account id.
        id: u128,
        /// From this time (ns since the epoch).
        #[arg(long, default_value_t = 0)]
        from_ns: u64,
        /// Up to this time (ns since the epoch).
        #[arg(long, default_value_t = u64::MAX)]
        to_ns: u64,
    },
    /// The trial balance: every account's posted debits and credits, with per-asset totals.
    TrialBalance,
    /// The journal head and the node's public key.
    Head,
    /// Write a signed snapshot now.
    Snapshot,
}

/// An account kind on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Debit-normal: what the business owns.
    Asset,
    /// Credit-normal: what the business owes.
    Liability,
    /// Credit-normal: owners' stake.
    Equity,
    /// Credit-normal: income.
    Income,
    /// Debit-normal: expenses.
    Expense,
}

/// A limit on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LimitArg {
    /// No limit.
    None,
    /// Debits must not exceed credits (plus --overdraft).
    DebitsMustNotExceedCredits,
    /// Credits must not exceed debits (plus --overdraft).
    CreditsMustNotExceedDebits,
}

/// Arguments of `aurum ledger create-account`.
#[derive(Debug, Args)]
pub struct CreateAccountArgs {
    /// Account id (non-zero).
    #[arg(long)]
    pub id: u128,
    /// Asset code or id.
    #[arg(long)]
    pub asset: String,
    /// Accounting kind.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// Balance limit.
    #[arg(long, value_enum, default_value = "none")]
    pub limit: LimitArg,
    /// Overdraft allowed beyond the limit, in the asset's units.
    #[arg(long)]
    pub overdraft: Option<String>,
    /// Metadata as KEY=VALUE, repeatable.
    #[arg(long = "meta", value_parser = parse_kv)]
    pub metadata: Vec<(String, String)>,
    /// Do not keep balance history.
    #[arg(long)]
    pub no_history: bool,
}

/// Arguments of `aurum ledger transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Transfer id (non-zero, unique forever).
    #[arg(long)]
    pub id: u128,
    /// Account debited.
    #[arg(long)]
    pub from: u128,
    /// Account credited.
    #[arg(long)]
    pub to: u128,
    /// Amount in the asset's units, e.g. 1.250.
    #[arg(long)]
    pub amount: String,
    /// Asset code or id.
    #[arg(long)]
    pub asset: String,
    /// Hold as pending (two-phase).
    #[arg(long)]
    pub pending: bool,
    /// Pending timeout in seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub timeout_secs: u32,
    /// Move as much as the debit account allows, up to --amount.
    #[arg(long)]
    pub balancing_debit: bool,
    /// Move as much as the credit account allows, up to --amount.
    #[arg(long)]
    pub balancing_credit: bool,
    /// Metadata as KEY=VALUE, repeatable.
    #[arg(long = "meta", value_parser = parse_kv)]
    pub metadata: Vec<(String, String)>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// Open the ledger under the data directory, its journal where `--journal` says.
pub fn open_engine(ctx: &Context, config: EngineConfig) -> Result<Engine, Box<dyn std::error::Error + Send + Sync>> {
    let (engine, report) = super::backends::open_engine(ctx, config)?;
    for skipped in &report.skipped_snapshots {
        eprintln!("recovery: skipped snapshot: {skipped}");
    }
    Ok(engine)
}

/// Resolve an asset by code or numeric id.
pub fn find_asset(ledger: &Ledger, s: &str) -> Result<Asset, String> {
    let found = match s.parse::<u32>() {
        Ok(id) => ledger.asset(AssetId(id)).cloned(),
        Err(_) => ledger.asset_by_code(s).cloned(),
    };
    found.ok_or_else(|| format!("asset {s:?} does not exist"))
}

fn metadata(pairs: &[(String, String)]) -> Metadata {
    pairs.iter().cloned().collect()
}

/// Submit one command and fail (with its result code) unless it was applied.
fn submit_one(engine: &Engine, command: Command) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let kind = command.kind_name();
    let outcome = engine.submit(vec![command])?.pop().ok_or("no outcome")?;
    if !outcome.code.is_ok() {
        return Err(format!("{kind} rejected: {} (code {})", outcome.code.as_str(), outcome.code.code()).into());
    }
    Ok(outcome)
}

/// JSON of an outcome.
pub fn outcome_json(o: &Outcome, scale: Option<u8>) -> Value {
    json!({
        "result": o.code.as_str(),
        "code": o.code.code(),
        "timestamp_ns": o.timestamp.0,
        "amount": match (o.amount, scale) { (Some(a), Some(s)) => Value::from(format_amount(a, s)), _ => Value::Null },
        "replayed": o.replayed,
    })
}

/// JSON of an account with its balances in decimal strings.
pub fn account_json(ledger: &Ledger, id: AccountId) -> Option<Value> {
    let a = ledger.account(id)?;
    let asset = ledger.asset(a.asset)?;
    let s = asset.scale;
    Some(json!({
        "id": a.id.0.to_string(),
        "asset": asset.code,
        "kind": a.kind.as_str(),
        "debits_posted": format_amount(a.debits_posted, s),
        "credits_posted": format_amount(a.credits_posted, s),
        "debits_pending": format_amount(a.debits_pending, s),
        "credits_pending": format_amount(a.credits_pending, s),
        "balance": format_signed(a.balance(), s),
        "available": format_signed(a.available(), s),
        "closed": a.closed,
        "metadata": a.metadata,
    }))
}

fn print_value(ctx: &Context, v: &Value, human: impl FnOnce()) {
    if ctx.json { print_json(v) } else { human() }
}

/// Run `aurum ledger ...`.
pub fn run(ctx: &Context, cmd: LedgerCommand) -> CliResult {
    let engine = open_engine(ctx, EngineConfig::default())?;
    match cmd {
        LedgerCommand::CreateAsset { id, code, scale } => {
            let o =
                submit_one(&engine, Command::CreateAsset(CreateAsset { id: AssetId(id), code: code.clone(), scale }))?;
            print_value(ctx, &outcome_json(&o, None), || println!("asset {code} ({id}) with scale {scale}: ok"));
        }
        LedgerCommand::CreateAccount(a) => {
            let asset = engine.read(|l| find_asset(l, &a.asset))??;
            let overdraft = a.overdraft.as_deref().map(|o| parse_amount(o, asset.scale)).transpose()?.unwrap_or(0);
            let limit = match a.limit {
                LimitArg::None if overdraft > 0 => return Err("--overdraft needs a --limit".into()),
                LimitArg::None => Limit::None,
                LimitArg::DebitsMustNotExceedCredits => Limit::DebitsMustNotExceedCredits { overdraft },
                LimitArg::CreditsMustNotExceedDebits => Limit::CreditsMustNotExceedDebits { overdraft },
            };
            let kind = match a.kind {
                KindArg::Asset => AccountKind::Asset,
                KindArg::Liability => AccountKind::Liability,
                KindArg::Equity => AccountKind::Equity,
                KindArg::Income => AccountKind::Income,
                KindArg::Expense => AccountKind::Expense,
            };
            let o = submit_one(
                &engine,
                Command::CreateAccount(CreateAccount {
                    id: AccountId(a.id),
                    asset: asset.id,
                    kind,
                    limit,
                    history: !a.no_history,
                    metadata: metadata(&a.metadata),
                    linked: false,
                }),
            )?;
            print_value(ctx, &outcome_json(&o, None), || println!("account {} ({}): ok", a.id, asset.code));
        }
        LedgerCommand::Transfer(t) => {
            let asset = engine.read(|l| find_asset(l, &t.asset))??;
            let amount = parse_amount(&t.amount, asset.scale)?;
            let o = submit_one(
                &engine,
                Command::CreateTransfer(CreateTransfer {
                    id: TransferId(t.id),
                    debit_account: AccountId(t.from),
                    credit_account: AccountId(t.to),
                    amount,
                    asset: asset.id,
                    flags: TransferFlags {
                        linked: false,
                        pending: t.pending,
                        balancing_debit: t.balancing_debit,
                        balancing_credit: t.balancing_credit,
                    },
                    timeout_secs: t.timeout_secs,
                    metadata: metadata(&t.metadata),
                }),
            )?;
            print_value(ctx, &outcome_json(&o, Some(asset.scale)), || {
                let moved = o.amount.map_or_else(|| t.amount.clone(), |a| format_amount(a, asset.scale));
                let what = if t.pending { "held" } else { "moved" };
                println!("transfer {}: {what} {moved} {} from {} to {}", t.id, asset.code, t.from, t.to);
            });
        }
        LedgerCommand::Post { id, pending_id, amount } => {
            let scale = engine.read(|l| {
                let p = l
                    .transfer(TransferId(pending_id))
                    .ok_or_else(|| format!("transfer {pending_id} does not exist"))?;
                l.asset(p.asset).map(|a| a.scale).ok_or_else(|| "asset missing".to_string())
            })??;
            let amount = amount.as_deref().map(|a| parse_amount(a, scale)).transpose()?;
            let o = submit_one(
                &engine,
                Command::PostPending(PostPending {
                    id: TransferId(id),
                    pending_id: TransferId(pending_id),
                    amount,
                    metadata: Metadata::new(),
                    linked: false,
                }),
            )?;
            print_value(ctx, &outcome_json(&o, Some(scale)), || {
                println!(
                    "posted {} of pending transfer {pending_id}",
                    o.amount.map_or_else(String::new, |a| format_amount(a, scale))
                )
            });
        }
        LedgerCommand::Void { id, pending_id } => {
            let o = submit_one(
                &engine,
                Command::VoidPending(VoidPending {
                    id: TransferId(id),
                    pending_id: TransferId(pending_id),
                    metadata: Metadata::new(),
                    linked: false,
                }),
            )?;
            print_value(ctx, &outcome_json(&o, None), || println!("voided pending transfer {pending_id}"));
        }
        LedgerCommand::Account { id, as_of_seq, as_of_ns } => {
            let v = engine.read(|l| -> Result<Value, String> {
                let mut v = account_json(l, AccountId(id)).ok_or_else(|| format!("account {id} does not exist"))?;
                let as_of = as_of_seq.map(AsOf::Sequence).or(as_of_ns.map(|t| AsOf::Timestamp(Timestamp(t))));
                if let Some(as_of) = as_of {
                    let a = l.account(AccountId(id)).expect("exists");
                    let s = l.asset(a.asset).map_or(0, |a| a.scale);
                    let b = l
                        .balance_as_of(AccountId(id), as_of)
                        .ok_or_else(|| format!("account {id} keeps no history for that point"))?;
                    v["as_of"] = json!({
                        "debits_posted": format_amount(b.debits_posted, s),
                        "credits_posted": format_amount(b.credits_posted, s),
                        "debits_pending": format_amount(b.debits_pending, s),
                        "credits_pending": format_amount(b.credits_pending, s),
                        "balance": format_signed(aurum_ledger::signed_balance(a.kind, b.debits_posted, b.credits_posted), s),
                        "timestamp_ns": b.timestamp.0,
                    });
                }
                Ok(v)
            })??;
            print_value(ctx, &v, || {
                println!(
                    "account {} {} ({}): balance {} available {} [posted Dr {} Cr {}, pending Dr {} Cr {}]{}",
                    v["id"].as_str().unwrap_or_default(),
                    v["asset"].as_str().unwrap_or_default(),
                    v["kind"].as_str().unwrap_or_default(),
                    v["balance"].as_str().unwrap_or_default(),
                    v["available"].as_str().unwrap_or_default(),
                    v["debits_posted"].as_str().unwrap_or_default(),
                    v["credits_posted"].as_str().unwrap_or_default(),
                    v["debits_pending"].as_str().unwrap_or_default(),
                    v["credits_pending"].as_str().unwrap_or_default(),
                    if v["closed"] == true { " CLOSED" } else { "" }
                );
                if let Some(b) = v.get("as_of") {
                    println!("  as of: balance {}", b["balance"].as_str().unwrap_or_default());
                }
            });
        }
        LedgerCommand::Accounts => {
            let rows: Vec<Value> =
                engine.read(|l| l.accounts().into_iter().filter_map(|a| account_json(l, a.id)).collect())?;
            print_value(ctx, &json!(rows), || {
                println!("{:>24} {:>6} {:>10} {:>24} {:>24}", "ACCOUNT", "ASSET", "KIND", "BALANCE", "AVAILABLE");
                for r in &rows {
                    println!(
                        "{:>24} {:>6} {:>10} {:>24} {:>24}",
                        r["id"].as_str().unwrap_or_default(),
                        r["asset"].as_str().unwrap_or_default(),
                        r["kind"].as_str().unwrap_or_default(),
                        r["balance"].as_str().unwrap_or_default(),
                        r["available"].as_str().unwrap_or_default()
                    );
                }
            });
        }
        LedgerCommand::Statement { id, from_ns, to_ns } => {
            let v = engine.read(|l| -> Result<Value, String> {
                let a = l.account(AccountId(id)).ok_or_else(|| format!("account {id} does not exist"))?;
                let s = l.asset(a.asset).map_or(0, |a| a.scale);
                let lines: Vec<Value> = l
                    .statement(AccountId(id), Timestamp(from_ns), Timestamp(to_ns))
                    .iter()
                    .map(|line| {
                        json!({
                            "timestamp_ns": line.timestamp.0,
                            "seq": line.seq,
                            "transfer": line.transfer.0.to_string(),
                            "balance": format_signed(aurum_ledger::signed_balance(a.kind, line.after.debits_posted, line.after.credits_posted), s),
                            "debits_pending": format_amount(line.after.debits_pending, s),
                            "credits_pending": format_amount(line.after.credits_pending, s),
                        })
                    })
                    .collect();
                Ok(json!({"account": id.to_string(), "lines": lines}))
            })??;
            print_value(ctx, &v, || {
                println!(
                    "{:<24} {:>6} {:>20} {:>18} {:>14} {:>14}",
                    "TIME (UTC)", "BLOCK", "TRANSFER", "BALANCE", "PENDING DR", "PENDING CR"
                );
                for line in v["lines"].as_array().into_iter().flatten() {
                    println!(
                        "{:<24} {:>6} {:>20} {:>18} {:>14} {:>14}",
                        crate::output::format_ns(line["timestamp_ns"].as_u64().unwrap_or_default()),
                        line["seq"],
                        line["transfer"].as_str().unwrap_or_default(),
                        line["balance"].as_str().unwrap_or_default(),
                        line["debits_pending"].as_str().unwrap_or_default(),
                        line["credits_pending"].as_str().unwrap_or_default()
                    );
                }
            });
        }
        LedgerCommand::TrialBalance => {
            let v = engine.read(trial_balance_json)?;
            print_value(ctx, &v, || print_trial_balance(&v));
        }
        LedgerCommand::Head => {
            let (seq, hash) = engine.head();
            let v = json!({"seq": seq, "hash": hex_string(&hash), "public_key": engine.public_key_hex()});
            print_value(ctx, &v, || {
                println!(
                    "journal head: block {seq} {}\nnode public key: {}",
                    hex_string(&hash),
                    engine.public_key_hex()
                )
            });
        }
        LedgerCommand::Snapshot => {
            let meta = engine.snapshot_now()?;
            let v = json!({"seq": meta.seq, "bytes": meta.len, "digest": hex_string(&meta.digest)});
            print_value(ctx, &v, || {
                println!("snapshot at block {}: {} bytes, digest {}", meta.seq, meta.len, hex_string(&meta.digest))
            });
        }
    }
    Ok(())
}

/// Lower-case hex.
pub fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The trial balance as JSON: rows per account and totals per asset, in decimal strings.
pub fn trial_balance_json(l: &Ledger) -> Value {
    let tb = l.trial_balance();
    let scale = |id: AssetId| l.asset(id).map_or(0, |a| a.scale);
    let code = |id: AssetId| l.asset(id).map_or_else(|| id.0.to_string(), |a| a.code.clone());
    json!({
        "rows": tb.rows.iter().map(|r| json!({
            "account": r.account.0.to_string(),
            "name": l.account(r.account).and_then(|a| a.metadata.get("name")).cloned().unwrap_or_default(),
            "asset": code(r.asset),
            "debits": format_amount(r.debits_posted, scale(r.asset)),
            "credits": format_amount(r.credits_posted, scale(r.asset)),
        })).collect::<Vec<_>>(),
        "totals": tb.totals.iter().map(|(asset, d, c)| json!({
            "asset": code(*asset),
            "debits": format_amount(*d, scale(*asset)),
            "credits": format_amount(*c, scale(*asset)),
            "balanced": d == c,
        })).collect::<Vec<_>>(),
    })
}

/// Print a trial balance JSON for humans.
pub fn print_trial_balance(v: &Value) {
    println!("{:>24} {:<28} {:>6} {:>20} {:>20}", "ACCOUNT", "NAME", "ASSET", "DEBITS", "CREDITS");
    for r in v["rows"].as_array().into_iter().flatten() {
        println!(
            "{:>24} {:<28} {:>6} {:>20} {:>20}",
            r["account"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
            r["asset"].as_str().unwrap_or_default(),
            r["debits"].as_str().unwrap_or_default(),
            r["credits"].as_str().unwrap_or_default()
        );
    }
    for t in v["totals"].as_array().into_iter().flatten() {
        println!(
            "{:>24} {:<28} {:>6} {:>20} {:>20}  {}",
            "TOTAL",
            "",
            t["asset"].as_str().unwrap_or_default(),
            t["debits"].as_str().unwrap_or_default(),
            t["credits"].as_str().unwrap_or_default(),
            if t["balanced"] == true { "balanced" } else { "UNBALANCED" }
        );
    }
}
