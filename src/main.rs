//! `aurum`: one CLI for every Aurum job.
//!
//! Conventions every subcommand follows: `--data-dir` (or `AURUM_DATA_DIR`, default
//! `./aurum-data`) says where state lives; `--json` prints machine-readable results; progress goes
//! to stderr; an error is one line on stderr with its causes, and the exit code is non-zero.

mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Aurum: double-entry ledger and analytics platform for tokenized gold and payments.
#[derive(Debug, Parser)]
#[command(name = "aurum", version, about, long_about = None)]
struct Cli {
    /// Directory holding Aurum's state (log, KV store, ...).
    #[arg(long, global = true, env = "AURUM_DATA_DIR", default_value = "aurum-data")]
    data_dir: PathBuf,
    /// The lakehouse's Iceberg catalog: `sqlite` (a file in the data directory) or a
    /// `postgres://user:password@host:port/database` URL (the catalog at scale).
    #[arg(long, global = true, env = "AURUM_LAKE_CATALOG", default_value = "sqlite", hide_env_values = true)]
    lake_catalog: String,
    /// This data directory's catalog name in a shared PostgreSQL catalog.
    #[arg(long, global = true, env = "AURUM_LAKE_CATALOG_NAME", default_value = "aurum")]
    lake_catalog_name: String,
    /// Where the ledger's journal lives: `embedded` (the data directory's log) or
    /// `kafka://host:port[?topic=…&min_ack=replicated|acknowledged&replication=N]`.
    #[arg(long, global = true, env = "AURUM_JOURNAL", default_value = "embedded")]
    journal: String,
    /// Where the platform's other topics live (risk alerts and scores, oracle rounds,
    /// reconciliation runs, the demo's payments): `embedded`, or `kafka://host:port[?replication=N]`.
    /// Default: beside the journal (its broker when the journal is on Kafka).
    #[arg(long, global = true, env = "AURUM_TOPICS")]
    topics: Option<String>,
    /// The PostgreSQL read model, `postgres://user:password@host:port/database` (`aurum pg sync`).
    #[arg(long, global = true, env = "AURUM_READ_MODEL", hide_env_values = true)]
    read_model: Option<String>,
    /// The read model's PostgreSQL schema, created if missing (default: the user's search path).
    #[arg(long, global = true, env = "AURUM_READ_MODEL_SCHEMA")]
    read_model_schema: Option<String>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the end-to-end demonstration on embedded defaults.
    Demo(commands::demo::DemoArgs),
    /// Work with the partitioned log: topics, produce, consume, groups, retention.
    #[command(subcommand)]
    Log(commands::log::LogCommand),
    /// Work with the embedded key-value store.
    #[command(subcommand)]
    Kv(commands::kv::KvCommand),
    /// Work with the double-entry ledger: assets, accounts, transfers, balances, statements.
    #[command(subcommand)]
    Ledger(commands::ledger::LedgerCommand),
    /// Replay the journal from genesis (or a snapshot) and report the first divergence.
    Audit(commands::audit::AuditArgs),
    /// Index the gold token's and feeds' events from a chain; show indexer status and decoded events.
    #[command(subcommand)]
    Chain(commands::chain::ChainCommand),
    /// Reconcile vault bars, token supply and ledger liabilities; reports; the mint gate.
    #[command(subcommand)]
    Recon(commands::recon::ReconCommand),
    /// Run the oracle connector (signed prices to the feeds and the journal); publish reserve attestations.
    #[command(subcommand)]
    Oracle(commands::oracle::OracleCommand),
    /// Run the REST transaction API.
    Serve(commands::serve::ServeArgs),
    /// Fraud and anomaly scoring: scan the journal, alerts, rules files, synthetic traffic.
    #[command(subcommand)]
    Risk(commands::risk::RiskCommand),
    /// Data-quality checks on the lakehouse and the read model; a column profiler.
    #[command(subcommand)]
    Quality(commands::quality::QualityCommand),
    /// The scheduler: list the jobs, run one now, show run history, run the scheduler.
    #[command(subcommand)]
    Jobs(commands::jobs::JobsCommand),
    /// The lakehouse: sync the journal into Iceberg tables, status, snapshot expiry.
    #[command(subcommand)]
    Lake(commands::lake::LakeCommand),
    /// Run DataFusion SQL over the lakehouse's Iceberg tables (`--explain` for the plan and pruning).
    Sql(commands::lake::SqlArgs),
    /// The PostgreSQL read model: project the journal into it exactly once, show its lag.
    #[command(subcommand)]
    Pg(commands::backends::PgCommand),
    /// Benchmarks that measure a baseline in the same run.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Create, list and revoke API keys (while the server is stopped).
    #[command(subcommand, name = "api-key")]
    ApiKey(commands::serve::ApiKeyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = commands::Context {
        data_dir: cli.data_dir,
        json: cli.json,
        lake_catalog: cli.lake_catalog,
        lake_catalog_name: cli.lake_catalog_name,
        journal: cli.journal,
        topics: cli.topics,
        read_model: cli.read_model,
        read_model_schema: cli.read_model_schema,
    };
    // Every command but the benchmarks opens the data directory: one process at a time.
    let needs_data_dir = !matches!(cli.command, Command::Bench(_));
    let _lock = match needs_data_dir.then(|| ctx.lock_data_dir()).transpose() {
        Ok(lock) => lock,
        Err(err) => {
            eprintln!("error: {}", output::error_chain(&*err));
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Log(cmd) => commands::log::run(&ctx, cmd),
        Command::Kv(cmd) => commands::kv::run(&ctx, cmd),
        Command::Ledger(cmd) => commands::ledger::run(&ctx, cmd),
        Command::Audit(args) => commands::audit::run(&ctx, args),
        Command::Chain(cmd) => commands::chain::run(&ctx, cmd),
        Command::Recon(cmd) => commands::recon::run(&ctx, cmd),
        Command::Oracle(cmd) => commands::oracle::run(&ctx, cmd),
        Command::Serve(args) => commands::serve::run(&ctx, args),
        Command::ApiKey(cmd) => commands::serve::run_api_key(&ctx, cmd),
        Command::Risk(cmd) => commands::risk::run(&ctx, cmd),
        Command::Bench(cmd) => commands::bench::run(&ctx, cmd),
        Command::Lake(cmd) => commands::lake::run(&ctx, cmd),
        Command::Jobs(cmd) => commands::jobs::run(&ctx, cmd),
        Command::Quality(cmd) => commands::quality::run(&ctx, cmd),
        Command::Sql(args) => commands::lake::run_sql(&ctx, args),
        Command::Pg(cmd) => commands::backends::run_pg(&ctx, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", output::error_chain(&*err));
            ExitCode::FAILURE
        }
    }
}
