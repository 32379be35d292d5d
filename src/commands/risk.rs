//! `aurum risk ...`: score the ledger's journal, read alerts, check a rules file, generate and
//! evaluate labelled synthetic traffic.

use std::path::PathBuf;
use std::sync::Arc;

use aurum_risk::reload::RulesFile;
use aurum_risk::stream::{RiskStream, read_alerts};
use aurum_risk::synth::{self, SynthConfig};
use aurum_risk::{RuleSet, Scorer, ScorerConfig};
use clap::{Args, Subcommand};
use serde_json::json;

use super::log::open_log;
use super::{CliResult, Context};
use crate::output::print_json;

/// Subcommands of `aurum risk`.
#[derive(Debug, Subcommand)]
pub enum RiskCommand {
    /// Score every transfer of the ledger's journal and append alerts to `risk.alerts` (exactly
    /// once: blocks already alerted are not alerted again).
    Scan(RulesArg),
    /// Show alerts from the `risk.alerts` topic.
    Alerts {
        /// First topic offset.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Most alerts shown.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Validate a rules file and summarise it.
    CheckRules {
        /// The file.
        file: PathBuf,
    },
    /// Write the built-in rules file to stdout (a starting point for your own).
    DefaultRules,
    /// Generate labelled synthetic traffic as CSV on stdout.
    Generate(GenerateArgs),
}

/// A rules file option.
#[derive(Debug, Args)]
pub struct RulesArg {
    /// Rules file [default: the built-in rules].
    #[arg(long, env = "AURUM_RISK_RULES")]
    pub rules: Option<PathBuf>,
    /// Riskiest accounts listed at the end.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Arguments of `aurum risk generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Seed.
    #[arg(long, default_value_t = 2)]
    pub seed: u64,
    /// Consumers.
    #[arg(long, default_value_t = 10_000)]
    pub consumers: u32,
    /// Days of traffic.
    #[arg(long, default_value_t = 45)]
    pub days: u32,
}

/// Load a rules file, or the built-in rules.
pub fn load_rules(path: Option<&PathBuf>) -> Result<RuleSet, aurum_risk::RiskError> {
    match path {
        Some(p) => RulesFile::load(p).map(|(_, rules)| rules),
        None => Ok(RuleSet::default_rules()),
    }
}

/// Run a subcommand.
pub fn run(ctx: &Context, cmd: RiskCommand) -> CliResult {
    match cmd {
        RiskCommand::Scan(args) => scan(ctx, args),
        RiskCommand::Alerts { after, limit } => {
            let log = super::backends::topics(ctx, &open_log(ctx)?)?;
            aurum_risk::stream::ensure_alerts_topic(&*log)?;
            let (alerts, next) = read_alerts(&*log, after, limit)?;
            if ctx.json {
                let items: Vec<_> = alerts.iter().map(|(o, a)| json!({"offset": o, "alert": a})).collect();
                print_json(&json!({"alerts": items, "next": next}));
            } else {
                for (offset, a) in &alerts {
                    let why: Vec<_> = a.reasons.iter().map(|r| r.text.as_str()).collect();
                    println!(
                        "{offset:>8}  transfer {}  {} -> {}  score {:.2} {}  {}",
                        a.transfer,
                        a.debit_account,
                        a.credit_account,
                        a.score,
                        a.decision,
                        why.join("; ")
                    );
                }
                println!("next offset: {next}");
            }
            Ok(())
        }
        RiskCommand::CheckRules { file } => {
            let rules = load_rules(Some(&file))?;
            if ctx.json {
                let rs: Vec<_> = rules
                    .rules
                    .iter()
                    .map(|r| json!({"name": r.name, "pattern": r.pattern, "side": r.side.as_str(), "score": r.score}))
                    .collect();
                print_json(&json!({"valid": true, "rules": rs, "policy": {
                    "alert_at": rules.policy.alert_at, "hold_at": rules.policy.hold_at, "reject_at": rules.policy.reject_at}}));
            } else {
                println!(
                    "{}: valid; {} rules; alert at {}, hold at {}, reject at {}",
                    file.display(),
                    rules.rules.len(),
                    rules.policy.alert_at,
                    rules.policy.hold_at,
                    rules.policy.reject_at
                );
                for r in &rules.rules {
                    println!("  {:32} {:18} {:8} {:.2}", r.name, r.pattern, r.side.as_str(), r.score);
                }
            }
            Ok(())
        }
        RiskCommand::DefaultRules => {
            print!("{}", aurum_risk::rules::DEFAULT_RULES);
            Ok(())
        }
        RiskCommand::Generate(args) => {
            let data = synth::generate(&SynthConfig {
                seed: args.seed,
                consumers: args.consumers,
                days: args.days,
                ..SynthConfig::default()
            });
            println!("id,timestamp_ns,debit_account,credit_account,asset,amount,pattern,incident");
            for l in &data.events {
                let e = &l.event;
                let (p, i) = l.label.map_or(("", String::new()), |x| (x.pattern.name(), x.incident.to_string()));
                println!(
                    "{},{},{},{},{},{},{p},{i}",
                    e.id,
                    e.ts_ns,
                    e.debit,
                    e.credit,
                    synth::SYNTH_ASSET_CODE,
                    aurum_ledger::decimal::format_amount(e.amount, synth::SYNTH_ASSET_SCALE)
                );
            }
            Ok(())
        }
    }
}

/// Score the journal (exactly-once alerts) and summarise: blocks, transfers, new alerts, the
/// decisions the policy would have taken, the riskiest accounts.
pub fn scan_journal(
    ctx: &Context,
    rules: RuleSet,
    top_k: usize,
) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
    let log = open_log(ctx)?;
    let scorer = Scorer::new(Arc::new(rules), ScorerConfig::default());
    let journal = super::backends::journal_reader_beside(ctx, &log)?;
    let mut stream = RiskStream::open(scorer, journal, super::backends::topics(ctx, &log)?)?;
    let (mut blocks, mut transfers, mut alerts) = (0u64, 0u64, 0u64);
    loop {
        let r = stream.poll()?;
        if r.blocks == 0 {
            break;
        }
        blocks += r.blocks;
        transfers += r.transfers;
        alerts += r.alerts;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let top: Vec<_> = stream
        .scorer()
        .top(top_k, now)
        .iter()
        .map(|(a, v)| json!({"account": a.to_string(), "risk": (v * 1000.0).round() / 1000.0}))
        .collect();
    let stats = stream.scorer().stats();
    Ok(json!({"blocks": blocks, "transfers": transfers, "new_alerts": alerts, "profiles": stats.profiles, "top": top}))
}

/// Print a scan summary.
pub fn print_scan(summary: &serde_json::Value) {
    println!(
        "scored {} transfers in {} journal blocks ({} account profiles); {} new alerts in risk.alerts",
        summary["transfers"], summary["blocks"], summary["profiles"], summary["new_alerts"]
    );
    for t in summary["top"].as_array().into_iter().flatten() {
        println!("  riskiest: account {:>24}  risk {}", t["account"].as_str().unwrap_or_default(), t["risk"]);
    }
}

fn scan(ctx: &Context, args: RulesArg) -> CliResult {
    let summary = scan_journal(ctx, load_rules(args.rules.as_ref())?, args.top)?;
    if ctx.json {
        print_json(&summary);
    } else {
        print_scan(&summary);
    }
    Ok(())
}
