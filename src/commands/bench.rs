//! `aurum bench ...`: whole-system benchmarks that print a baseline measured in the same run.

use std::sync::Arc;

use aurum_risk::synth::{self, SynthConfig};
use aurum_risk::{ScorerConfig, bench, eval};
use clap::{Args, Subcommand};
use serde_json::json;

use super::risk::load_rules;
use super::{CliResult, Context};
use crate::output::print_json;

/// Subcommands of `aurum bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Fraud scoring: precision, recall and F1 per pattern on labelled synthetic traffic the rules
    /// were not tuned on, then throughput and latency beside a pass-through baseline.
    Risk(RiskBenchArgs),
}

/// Arguments of `aurum bench risk`.
#[derive(Debug, Args)]
pub struct RiskBenchArgs {
    /// Generator seed (the built-in rules were tuned on seed 1).
    #[arg(long, default_value_t = 2)]
    pub seed: u64,
    /// Consumers in the synthetic population.
    #[arg(long, default_value_t = 10_000)]
    pub consumers: u32,
    /// Days of traffic.
    #[arg(long, default_value_t = 45)]
    pub days: u32,
    /// Incidents injected per pattern.
    #[arg(long, default_value_t = 60)]
    pub incidents: u32,
    /// Rules file [default: the built-in rules].
    #[arg(long)]
    pub rules: Option<std::path::PathBuf>,
}

/// Run a benchmark.
pub fn run(ctx: &Context, cmd: BenchCommand) -> CliResult {
    match cmd {
        BenchCommand::Risk(args) => risk(ctx, args),
    }
}

fn risk(ctx: &Context, args: RiskBenchArgs) -> CliResult {
    if args.seed == synth::TUNING_SEED {
        eprintln!("note: seed {} is the seed the built-in rules were tuned on", synth::TUNING_SEED);
    }
    let rules = Arc::new(load_rules(args.rules.as_ref())?);
    let cfg = SynthConfig {
        seed: args.seed,
        consumers: args.consumers,
        days: args.days,
        incidents_per_pattern: args.incidents,
        ..SynthConfig::default()
    };
    eprintln!("generating {} days of traffic for {} consumers (seed {})...", cfg.days, cfg.consumers, cfg.seed);
    let data = synth::generate(&cfg);
    let quality = eval::evaluate(&data, rules.clone(), ScorerConfig::default());
    let speed = bench::speed(&data, rules, &ScorerConfig::default());
    if ctx.json {
        let patterns: Vec<_> = quality
            .patterns
            .iter()
            .map(|p| {
                json!({"pattern": p.pattern.name(), "incidents": p.incidents, "detected": p.detected,
                    "flagged": p.flagged, "true_flagged": p.true_flagged,
                    "precision": p.precision, "recall": p.recall, "f1": p.f1})
            })
            .collect();
        print_json(&json!({
            "seed": cfg.seed, "events": data.events.len(), "scored_after_warmup": quality.scored,
            "normal": quality.normal, "false_alerts": quality.false_alerts, "patterns": patterns,
            "speed": {"events": speed.events, "baseline_events_per_sec": speed.baseline_eps,
                "scored_events_per_sec": speed.scored_eps, "ratio": speed.ratio,
                "p50_ns": speed.p50_ns, "p99_ns": speed.p99_ns, "p999_ns": speed.p999_ns, "max_ns": speed.max_ns,
                "baseline_p99_ns": speed.baseline_p99_ns},
        }));
        return Ok(());
    }
    println!(
        "risk scoring on seed {}: {} transfers ({} after the warm-up, {} normal)",
        cfg.seed,
        data.events.len(),
        quality.scored,
        quality.normal
    );
    println!(
        "{:18} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>6}",
        "pattern", "incidents", "detected", "flagged", "correct", "precision", "recall", "F1"
    );
    for p in &quality.patterns {
        println!(
            "{:18} {:>9} {:>8} {:>8} {:>8} {:>9.3} {:>7.3} {:>6.3}",
            p.pattern.name(),
            p.incidents,
            p.detected,
            p.flagged,
            p.true_flagged,
            p.precision,
            p.recall,
            p.f1
        );
    }
    println!(
        "false alerts on normal traffic: {} of {} ({:.4} %)",
        quality.false_alerts,
        quality.normal,
        100.0 * quality.false_alerts as f64 / quality.normal.max(1) as f64
    );
    println!();
    println!("throughput over {} events (one core):", speed.events);
    println!("  pass-through baseline  {:>12.0} events/s", speed.baseline_eps);
    println!("  scored                 {:>12.0} events/s   ratio {:.4}", speed.scored_eps, speed.ratio);
    println!(
        "  latency of one score+observe: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns (baseline p99 {} ns)",
        speed.p50_ns, speed.p99_ns, speed.p999_ns, speed.max_ns, speed.baseline_p99_ns
    );
    Ok(())
}
