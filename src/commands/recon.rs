//! `aurum recon`: the three-way reconciliation of a tokenized-gold program (bars ⟷ chain ⟷ ledger) at its final
//! block, written as HTML, JSON and CSV reports and recorded for the secure-mint gate; and the last run's status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aurum_chain::alloy::primitives::Address;
use aurum_chain::indexer::store;
use aurum_chain::{Deployment, Mirror, MirrorConfig, holdings_at};
use aurum_kv::Db;
use aurum_ledger::{AccountId, AssetId};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_recon::barlist;
use aurum_recon::gate::{self, LastRun};
use aurum_recon::match_report::{self, MatchInputs};
use aurum_recon::matching;
use aurum_recon::publish::{RUNS_TOPIC, RunRecord};
use aurum_recon::report;
use aurum_recon::threeway::{self, ChainView, Inputs, LedgerView, ThreeWay};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::ledger::open_engine;
use super::{CliResult, Context};
use crate::output::print_json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `aurum recon ...`
#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Reconcile bars, chain and ledger at the final block; write the reports; record the result for the mint gate.
    ThreeWay(ThreeWayArgs),
    /// Match an external statement (bank, custodian, processor, chain events) against ledger transfers.
    Match(MatchArgs),
    /// The last reconciliation and whether minting is allowed.
    Status,
}

/// Arguments of `aurum recon match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The statement: CSV with columns id,date,amount,currency,reference,description[,kind].
    #[arg(long)]
    pub statement: PathBuf,
    /// The rules (TOML; see docs/matching.md).
    #[arg(long)]
    pub rules: PathBuf,
    /// The ledger side as CSV (same columns as the statement).
    #[arg(long, conflicts_with = "ledger_account", required_unless_present = "ledger_account")]
    pub ledger_csv: Option<PathBuf>,
    /// The ledger side from the ledger itself: every posted transfer touching this account, signed from the
    /// account's side (money in positive), referenced by its `reference` metadata.
    #[arg(long)]
    pub ledger_account: Option<u128>,
    /// Where to write the reports; default `<data-dir>/recon/match-<statement sha256 prefix>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute and print only; write no report.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `aurum recon three-way`.
#[derive(Debug, Args)]
pub struct ThreeWayArgs {
    /// The program's manifest (written by `aurum demo`): chain, contracts, ledger accounts, bar list.
    #[arg(long)]
    pub manifest: PathBuf,
    /// The custodian's bar list (CSV or JSON); default: the manifest's.
    #[arg(long)]
    pub bars: Option<PathBuf>,
    /// Where to write the reports; default `<data-dir>/recon/<chain>-b<block>-s<journal seq>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute and print only: write no report and leave the mint gate as it is.
    #[arg(long)]
    pub dry_run: bool,
}

/// Run `aurum recon ...`.
pub fn run(ctx: &Context, cmd: ReconCommand) -> CliResult {
    let engine = open_engine(ctx, EngineConfig::default())?;
    match cmd {
        ReconCommand::ThreeWay(args) => {
            let outcome =
                three_way(ctx, &engine, &args.manifest, args.bars.as_deref(), args.out.as_deref(), args.dry_run)?;
            print_outcome(ctx, &outcome);
            if outcome.result.summary.breaks > 0 {
                return Err(format!(
                    "{} unexplained break(s){}",
                    outcome.result.summary.breaks,
                    outcome.dir.as_ref().map_or(String::new(), |d| format!("; report in {}", d.display()))
                )
                .into());
            }
            Ok(())
        }
        ReconCommand::Match(args) => match_statement(ctx, &engine, &args),
        ReconCommand::Status => {
            let last = gate::last(engine.db())?;
            let allowed = gate::check_mint_allowed(engine.db());
            if ctx.json {
                print_json(&json!({
                    "last": last.as_ref().map(|l| serde_json::to_value(l).unwrap_or(Value::Null)),
                    "mint_allowed": allowed.is_ok(),
                    "reason": allowed.as_ref().err().map(|e| e.to_string()),
                }));
            } else {
                match &last {
                    None => println!("no reconciliation yet; minting is allowed"),
                    Some(l) => println!(
                        "last reconciliation: chain {} block {}, journal seq {}, {} unexplained break(s), at {} ({})",
                        l.chain_id, l.block, l.journal_seq, l.breaks, l.generated_at, l.report_dir
                    ),
                }
                match allowed {
                    Ok(()) => println!("minting is allowed"),
                    Err(e) => println!("{e}"),
                }
            }
            Ok(())
        }
    }
}

/// A finished three-way run.
pub struct Outcome {
    /// The reconciliation.
    pub result: ThreeWay,
    /// The JSON report.
    pub json: Value,
    /// Where the reports were written (none for a dry run).
    pub dir: Option<PathBuf>,
}

/// The program as the manifest describes it.
struct Program {
    chain_id: u64,
    deployment: Deployment,
    mirror: MirrorConfig,
    vault: AccountId,
    inventory: AccountId,
    custody: Vec<AccountId>,
    bar_list: PathBuf,
    allocation: Option<String>,
    reserve_decimals: u32,
}

/// The chain manifests demo runs left in this data directory (`chain/<id>/manifest.json`), in
/// path order.
pub fn manifest_paths(ctx: &Context) -> Result<Vec<PathBuf>, BoxError> {
    let dir = ctx.data_dir.join("chain");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display()).into()),
    };
    let mut out = Vec::new();
    for entry in entries {
        let manifest = entry?.path().join("manifest.json");
        if manifest.is_file() {
            out.push(manifest);
        }
    }
    out.sort();
    Ok(out)
}

/// The chains whose demo runs left a manifest in this data directory: each chain id with the
/// deployment its indexer follows.
pub fn chain_deployments(ctx: &Context) -> Result<Vec<(u64, Deployment)>, BoxError> {
    let mut out = Vec::new();
    for manifest in manifest_paths(ctx)? {
        let p = read_program(&manifest)?;
        out.push((p.chain_id, p.deployment));
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}

fn read_program(path: &Path) -> Result<Program, BoxError> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read manifest {}: {e}", path.display()))?;
    let m: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("manifest {} is not JSON: {e}", path.display()))?;
    let missing = |field: &str| format!("manifest {}: {field} is missing or malformed", path.display());
    let address = |field: &str| -> Result<Address, String> {
        m[field].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| missing(field))
    };
    let account = |field: &str| -> Result<AccountId, String> {
        m["ledger"][field]
            .as_str()
            .and_then(|s| s.parse().ok())
            .map(AccountId)
            .ok_or_else(|| missing(&format!("ledger.{field}")))
    };
    let custody = m["ledger"]["custody"]
        .as_object()
        .ok_or_else(|| missing("ledger.custody"))?
        .values()
        .map(|v| v.as_str().and_then(|s| s.parse().ok()).map(AccountId).ok_or_else(|| missing("ledger.custody")))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let bar_list = dir.join(m["bar_list"]["file"].as_str().ok_or_else(|| missing("bar_list.file"))?);
    Ok(Program {
        chain_id: m["chain_id"].as_u64().ok_or_else(|| missing("chain_id"))?,
        deployment: Deployment {
            token: address("token")?,
            reserve_feed: address("reserve_feed")?,
            price_feed: address("price_feed")?,
            first_block: m["first_block"].as_u64().ok_or_else(|| missing("first_block"))?,
        },
        mirror: MirrorConfig {
            asset: AssetId(
                m["ledger"]["asset"]["id"]
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| missing("ledger.asset.id"))?,
            ),
            mint_clearing: account("mint_clearing")?,
            redemption_clearing: account("redemption_clearing")?,
            wiped: account("wiped")?,
        },
        vault: account("vault")?,
        inventory: account("inventory")?,
        custody,
        bar_list,
        allocation: m["allocation"].as_str().map(str::to_string),
        reserve_decimals: m["reserve_decimals"].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(8),
    })
}

/// Reconciles the program of `manifest` at the index's final block against `bars` (default: the manifest's bar
/// list). Books the chain's final events first (the mirror), so the ledger stands at the same block as the chain.
/// Unless `dry_run`, writes `report.html`, `report.json` and `breaks.csv` and records the outcome for the gate.
pub fn three_way(
    ctx: &Context,
    engine: &Engine,
    manifest: &Path,
    bars: Option<&Path>,
    out: Option<&Path>,
    dry_run: bool,
) -> Result<Outcome, BoxError> {
    let p = read_program(manifest)?;
    let db: &Db = engine.db();
    let bars_path = bars.map_or_else(|| p.bar_list.clone(), Path::to_path_buf);
    let bar_list = barlist::read(&bars_path)?;

    // The ledger catches up with the chain's final events, so both sides stand at the same block.
    let mirror = Mirror::new(p.chain_id, p.deployment, p.mirror);
    mirror.sync(db, engine)?;
    let cursor = store::read_cursor(db, p.chain_id)?
        .ok_or_else(|| format!("chain {} has not been indexed into this data directory", p.chain_id))?;
    let block = cursor.finalized;
    let h = holdings_at(db, p.chain_id, &p.deployment, block)?;

    let to_u128 = |v: aurum_chain::alloy::primitives::U256| -> Result<u128, String> {
        u128::try_from(v).map_err(|_| format!("{v} base units exceed 128 bits"))
    };
    let reserve_attested = match h.reserve {
        None => None,
        Some(r) => {
            let answer = u128::try_from(r.answer).map_err(|_| format!("reserve answer {} is negative", r.answer))?;
            let scale =
                10u128.pow(18u32.checked_sub(p.reserve_decimals).ok_or("reserve feed has more than 18 decimals")?);
            Some(answer.checked_mul(scale).ok_or("reserve answer overflows")?)
        }
    };
    let chain = ChainView {
        chain_id: p.chain_id,
        block,
        token: p.deployment.token.to_string(),
        supply: to_u128(h.supply)?,
        holders: h.balances.iter().map(|(a, v)| Ok((a.to_string(), to_u128(*v)?))).collect::<Result<_, String>>()?,
        frozen: h.frozen.iter().map(Address::to_string).collect(),
        treasury: BTreeSet::new(),
        reserve_attested,
    };
    let holders: BTreeSet<Address> = h.balances.keys().copied().chain(mirror.wallets(db)?).collect();
    let ledger = engine.read(|l| {
        let balance = |id: AccountId| l.account(id).map_or(0, |a| a.balance());
        LedgerView {
            journal_seq: l.last_seq(),
            vault: balance(p.vault),
            custody: p.custody.iter().map(|id| balance(*id)).sum(),
            wallets: holders
                .iter()
                .map(|a| (a.to_string(), balance(mirror.wallet_account(*a))))
                .filter(|(_, v)| *v != 0)
                .collect::<BTreeMap<_, _>>(),
            mint_clearing: balance(p.mirror.mint_clearing),
            redemption_clearing: balance(p.mirror.redemption_clearing),
            wiped: balance(p.mirror.wiped),
            inventory: balance(p.inventory),
        }
    })?;

    let bar_list_file =
        bars_path.file_name().map_or_else(|| bars_path.display().to_string(), |f| f.to_string_lossy().to_string());
    let result = threeway::reconcile(&Inputs {
        bars: &bar_list,
        bar_list_file,
        allocation: p.allocation.clone(),
        chain,
        ledger,
    });
    let generated_at_ns = aurum_ledger_node::engine::system_clock()().0;
    let generated_at = crate::output::format_ns(generated_at_ns);
    let json = report::json(&result, &generated_at);
    if dry_run {
        return Ok(Outcome { result, json, dir: None });
    }
    let dir = out.map_or_else(
        || ctx.data_dir.join("recon").join(format!("{}-b{}-s{}", result.chain_id, result.block, result.journal_seq)),
        Path::to_path_buf,
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&json)?)?;
    std::fs::write(dir.join("report.html"), report::html(&result, &generated_at))?;
    std::fs::write(dir.join("breaks.csv"), report::findings_csv(&result))?;
    // The run, for reconciliations over time (the lakehouse's recon_findings and bars tables).
    let log = super::backends::topics(ctx, engine.log())?;
    log.create_topic(RUNS_TOPIC, aurum_log::TopicConfig { partitions: 1, ..aurum_log::TopicConfig::default() })?;
    let record = RunRecord::of(&result, &bar_list, generated_at_ns);
    log.produce(RUNS_TOPIC, vec![aurum_log::ProducerRecord::new(result.chain_id.to_string(), record.to_json())])?;
    gate::record(
        db,
        &LastRun {
            chain_id: result.chain_id,
            block: result.block,
            journal_seq: result.journal_seq,
            breaks: result.summary.breaks,
            report_dir: dir.display().to_string(),
            generated_at,
        },
    )?;
    Ok(Outcome { result, json, dir: Some(dir) })
}

/// Prints a run: the headline, the breaks, where the reports are.
pub fn print_outcome(ctx: &Context, o: &Outcome) {
    if ctx.json {
        let mut v = o.json.clone();
        v["report_dir"] = json!(o.dir.as_ref().map(|d| d.display().to_string()));
        print_json(&v);
        return;
    }
    let r = &o.result;
    let s = &r.summary;
    println!(
        "reconciled chain {} at final block {} against journal seq {} and {} (sha256 {}…)",
        r.chain_id,
        r.block,
        r.journal_seq,
        r.bar_list_file,
        &r.bar_list_sha256[..12]
    );
    println!(
        "  bars {} oz | supply {} oz = ledger wallets {} oz | custody {} oz | owed {} oz",
        report::oz(s.bars_fine),
        report::oz(s.supply),
        report::oz(s.ledger_on_chain),
        report::oz(s.ledger_custody),
        report::oz(s.ledger_liabilities)
    );
    println!("  {} unexplained break(s), {} explained difference(s)", s.breaks, s.explained);
    for f in &r.findings {
        println!(
            "  {} {:<20} {:<48} {:>14} oz  {}",
            if f.explained { "·" } else { "✗" },
            f.class.as_str(),
            f.subject,
            report::oz(f.difference()),
            f.explanation
        );
    }
    match &o.dir {
        Some(d) => println!("  reports: {}/{{report.html, report.json, breaks.csv}}", d.display()),
        None => println!("  dry run: nothing written, the mint gate unchanged"),
    }
}

/// Most ledger transfers a `--ledger-account` run reads.
const MAX_LEDGER_ITEMS: usize = 10_000_000;

fn read_file(path: &Path, what: &str) -> Result<(Vec<u8>, String), BoxError> {
    use sha2::Digest;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    Ok((bytes, digest))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().to_string())
}

/// The ledger side of a match run from the ledger: the posted transfers touching `account`, as items signed from
/// the account's side (an asset account's debits are money in), in the account's asset.
fn ledger_items(engine: &Engine, account: AccountId) -> Result<Vec<matching::Item>, BoxError> {
    use aurum_ledger::{AccountKind, Movement, MovementFilter, TransferKind};
    engine
        .read(|l| -> Result<Vec<matching::Item>, String> {
            let acc = l.account(account).ok_or_else(|| format!("account {} does not exist", account.0))?;
            let currency = l.asset(acc.asset).map(|a| a.code.clone()).unwrap_or_default();
            let debit_positive = matches!(acc.kind, AccountKind::Asset | AccountKind::Expense);
            let filter = MovementFilter { account: Some(account), ..MovementFilter::default() };
            let mut items = Vec::new();
            let mut from = 0;
            loop {
                let (page, next) = l.movements_page(from, 10_000, usize::MAX, &filter);
                for m in page {
                    let Movement::Transfer(t) = m else { continue };
                    if !matches!(t.kind, TransferKind::Posted | TransferKind::PostPending) {
                        continue;
                    }
                    let amount = i128::try_from(t.amount).map_err(|_| "an amount exceeds i128".to_string())?;
                    let debited = t.debit_account == account;
                    let meta = |k: &str| t.metadata.get(k).cloned().unwrap_or_default();
                    items.push(matching::Item {
                        id: t.id.0.to_string().into(),
                        at_secs: i64::try_from(t.timestamp.0 / 1_000_000_000).unwrap_or(i64::MAX),
                        amount: if debited == debit_positive { amount } else { -amount },
                        currency: currency.clone(),
                        reference: meta("reference"),
                        description: meta("memo"),
                        kind: matching::ItemKind::Payment,
                    });
                    if items.len() > MAX_LEDGER_ITEMS {
                        return Err(format!("account {} has more than {MAX_LEDGER_ITEMS} transfers", account.0));
                    }
                }
                match next {
                    Some(n) => from = n,
                    None => return Ok(items),
                }
            }
        })?
        .map_err(Into::into)
}

fn match_statement(ctx: &Context, engine: &Engine, args: &MatchArgs) -> CliResult {
    // A batch command: let the run reuse its freed buffers (see `aurum_alloc`).
    aurum_alloc::keep_freed_memory();
    let (rules_bytes, rules_sha256) = read_file(&args.rules, "rules file")?;
    let rules_text =
        String::from_utf8(rules_bytes).map_err(|_| format!("the rules file {} is not UTF-8", args.rules.display()))?;
    let mut rules = matching::Rules::from_toml(&rules_text).map_err(|e| format!("{}: {e}", args.rules.display()))?;
    let (statement_bytes, statement_sha256) = read_file(&args.statement, "statement")?;
    let statement_text = String::from_utf8(statement_bytes)
        .map_err(|_| format!("the statement {} is not UTF-8", args.statement.display()))?;

    let (ledger, ledger_source, ledger_sha256, journal_seq) = match (&args.ledger_csv, args.ledger_account) {
        (Some(path), _) => {
            let (bytes, sha) = read_file(path, "ledger file")?;
            let text =
                String::from_utf8(bytes).map_err(|_| format!("the ledger file {} is not UTF-8", path.display()))?;
            let items =
                matching::load_items_csv(&text, &rules.scales).map_err(|e| format!("{}: {e}", path.display()))?;
            (items, file_name(path), Some(sha), None)
        }
        (None, Some(id)) => {
            // The ledger's own assets bring their scales, so the statement parses against the ledger's truth.
            let scales: Vec<(String, u8)> =
                engine.read(|l| l.assets().iter().map(|a| (a.code.clone(), a.scale)).collect())?;
            for (code, scale) in scales {
                rules.scales.entry(code).or_insert(scale);
            }
            let items = ledger_items(engine, AccountId(id))?;
            (items, format!("ledger account {id}"), None, Some(engine.head().0))
        }
        (None, None) => return Err("give --ledger-csv or --ledger-account".into()),
    };
    let statement = matching::load_items_csv(&statement_text, &rules.scales)
        .map_err(|e| format!("{}: {e}", args.statement.display()))?;
    let started = std::time::Instant::now();
    let outcome = matching::run(&ledger, &statement, &rules);
    let elapsed = started.elapsed();
    let inputs = MatchInputs {
        ledger_source,
        ledger_sha256,
        journal_seq,
        statement_file: file_name(&args.statement),
        statement_sha256: statement_sha256.clone(),
        rules_file: file_name(&args.rules),
        rules_sha256,
        ledger_items: ledger.len(),
        statement_items: statement.len(),
    };
    let generated_at_ns = aurum_ledger_node::engine::system_clock()().0;
    let generated_at = crate::output::format_ns(generated_at_ns);
    let mut json = match_report::json(&outcome, &inputs, &generated_at);
    let dir = if args.dry_run {
        None
    } else {
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| ctx.data_dir.join("recon").join(format!("match-{}", &statement_sha256[..12])));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&json)?)?;
        std::fs::write(dir.join("report.html"), match_report::html(&outcome, &inputs, &generated_at))?;
        std::fs::write(dir.join("breaks.csv"), match_report::breaks_csv(&outcome))?;
        Some(dir)
    };
    if ctx.json {
        json["report_dir"] = json!(dir.as_ref().map(|d| d.display().to_string()));
        json["elapsed_ms"] = json!(elapsed.as_millis() as u64);
        print_json(&json);
    } else {
        println!(
            "matched {} ledger items against {} statement lines in {:.3} s: {} matches, {} breaks",
            ledger.len(),
            statement.len(),
            elapsed.as_secs_f64(),
            outcome.matches.len(),
            outcome.breaks.len()
        );
        for (class, n) in outcome.counts() {
            if n > 0 {
                println!("  {:<22} {n}", class.as_str());
            }
        }
        match &dir {
            Some(d) => println!("  reports: {}/{{report.html, report.json, breaks.csv}}", d.display()),
            None => println!("  dry run: nothing written"),
        }
    }
    Ok(())
}
