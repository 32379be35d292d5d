//! `aurum serve`: the REST transaction API on the embedded ledger, and `aurum api-key`: manage the
//! API's keys while the server is stopped (while it runs, use its admin endpoints).
//!
//! Settings come from, in order of precedence: flags, environment variables, a TOML config file
//! (`--config` / `AURUM_CONFIG`), built-in defaults. Config file keys: `addr`, `max_body_bytes`,
//! `max_batch_items`, `rate_limit_per_sec`, `rate_limit_burst_secs`, `log_filter`, `risk`,
//! `risk_rules`, `risk_webhook`, `alert_rules`, `alert_webhook`, `jobs`.
//!
//! The server also runs the job scheduler (`--no-jobs` or `jobs = false` turns it off), evaluates
//! alert rules (`--alert-rules`, notifying `--alert-webhook`) and serves the operations dashboard
//! at `/dashboard` (docs/operations.md).
//!
//! Risk scoring at admission is **on by default** with the built-in rules: every transfer created
//! through the API is scored, held for review or refused (docs/risk-api.md). `--no-risk` (or
//! `risk = false`) turns it off; `--risk-rules <file>` (`AURUM_RISK_RULES`) uses a rules file that
//! the server reloads when it changes; `--risk-webhook <url>` (`AURUM_RISK_WEBHOOK`, plain
//! `http://`) POSTs every alert as Slack-compatible JSON. With risk off, the rules and webhook
//! settings are ignored (with a note on stderr).

use std::net::SocketAddr;
use std::path::PathBuf;

use aurum_api::auth::{KeyStore, Scope};
use aurum_api::config::{RiskSettings, ServerConfig};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::json;

use super::{CliResult, Context};
use crate::output::print_json;

/// Arguments of `aurum serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "AURUM_ADDR")]
    pub addr: Option<SocketAddr>,
    /// TOML config file.
    #[arg(long, env = "AURUM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Largest request body in bytes [default: 1 MiB].
    #[arg(long, env = "AURUM_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most items in one batch request [default: 8190].
    #[arg(long, env = "AURUM_MAX_BATCH_ITEMS")]
    pub max_batch_items: Option<usize>,
    /// Requests per second per API key, unless the key has its own limit [default: 10000].
    #[arg(long, env = "AURUM_RATE_LIMIT_PER_SEC")]
    pub rate_limit_per_sec: Option<u32>,
    /// Rate-limit burst, in seconds of a key's rate [default: 2].
    #[arg(long, env = "AURUM_RATE_LIMIT_BURST_SECS")]
    pub rate_limit_burst_secs: Option<u32>,
    /// Log filter, e.g. info or aurum_api=debug [default: info].
    #[arg(long, env = "AURUM_LOG")]
    pub log_filter: Option<String>,
    /// Mount the load benchmark's baseline route (POST /v1/_bench/noop).
    #[arg(long, hide = true)]
    pub bench_routes: bool,
    /// Score every transfer at admission: allow, hold for review, or refuse [default: on].
    #[arg(long, overrides_with = "no_risk")]
    pub risk: bool,
    /// Turn risk scoring at admission off.
    #[arg(long, overrides_with = "risk")]
    pub no_risk: bool,
    /// Risk rules file (TOML; reloaded when it changes) [default: the built-in rules].
    #[arg(long, env = "AURUM_RISK_RULES")]
    pub risk_rules: Option<PathBuf>,
    /// POST every risk alert to this URL as Slack-compatible JSON (plain http://).
    #[arg(long, env = "AURUM_RISK_WEBHOOK")]
    pub risk_webhook: Option<String>,
    /// Alert rules over the metrics (TOML; docs/operations.md), evaluated in process.
    #[arg(long, env = "AURUM_ALERT_RULES")]
    pub alert_rules: Option<PathBuf>,
    /// POST alert firings and resolutions to this URL as Slack-compatible JSON.
    #[arg(long, env = "AURUM_ALERT_WEBHOOK", hide_env_values = true)]
    pub alert_webhook: Option<String>,
    /// How often alert rules are evaluated, in ms [default: 5000].
    #[arg(long)]
    pub alert_interval_ms: Option<u64>,
    /// Do not run the job scheduler inside the server (it runs by default; docs/scheduler.md).
    #[arg(long)]
    pub no_jobs: bool,
    /// The jobs file [default: <data-dir>/jobs.toml if it exists].
    #[arg(long)]
    pub jobs_config: Option<PathBuf>,
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<SocketAddr>,
    max_body_bytes: Option<usize>,
    max_batch_items: Option<usize>,
    rate_limit_per_sec: Option<u32>,
    rate_limit_burst_secs: Option<u32>,
    log_filter: Option<String>,
    risk: Option<bool>,
    risk_rules: Option<PathBuf>,
    risk_webhook: Option<String>,
    alert_rules: Option<PathBuf>,
    alert_webhook: Option<String>,
    jobs: Option<bool>,
}

/// Build the server configuration from flags, environment, file and defaults.
pub fn server_config(
    ctx: &Context,
    args: &ServeArgs,
) -> Result<ServerConfig, Box<dyn std::error::Error + Send + Sync>> {
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let d = ServerConfig::default();
    let risk_on = if args.no_risk { false } else { args.risk || file.risk.unwrap_or(true) };
    let rules_file = args.risk_rules.clone().or(file.risk_rules);
    let webhook_url = args.risk_webhook.clone().or(file.risk_webhook);
    let risk = if risk_on {
        Some(RiskSettings { rules_file, webhook_url, ..RiskSettings::default() })
    } else {
        if rules_file.is_some() || webhook_url.is_some() {
            eprintln!(
                "aurum: risk scoring is off (--no-risk or risk = false): the risk rules and webhook settings are ignored"
            );
        }
        None
    };
    let alerts = match args.alert_rules.clone().or(file.alert_rules) {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read alert rules {}: {e}", path.display()))?;
            let rules = aurum_alerting::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(aurum_api::operations::AlertSettings {
                rules,
                webhook_url: args.alert_webhook.clone().or(file.alert_webhook),
                interval: args
                    .alert_interval_ms
                    .map_or(aurum_api::operations::OPS_INTERVAL, |ms| std::time::Duration::from_millis(ms.max(10))),
            })
        }
    };
    let jobs_on = !args.no_jobs && file.jobs.unwrap_or(true);
    let background = jobs_on.then(|| {
        std::sync::Arc::new(super::jobs::InServer::new(ctx, args.jobs_config.clone()))
            as std::sync::Arc<dyn aurum_api::config::Background>
    });
    Ok(ServerConfig {
        addr: args.addr.or(file.addr).unwrap_or(d.addr),
        data_dir: ctx.data_dir.clone(),
        max_body_bytes: args.max_body_bytes.or(file.max_body_bytes).unwrap_or(d.max_body_bytes),
        max_batch_items: args.max_batch_items.or(file.max_batch_items).unwrap_or(d.max_batch_items),
        default_rate_limit_per_sec: args
            .rate_limit_per_sec
            .or(file.rate_limit_per_sec)
            .unwrap_or(d.default_rate_limit_per_sec),
        rate_limit_burst_secs: args
            .rate_limit_burst_secs
            .or(file.rate_limit_burst_secs)
            .unwrap_or(d.rate_limit_burst_secs),
        log_filter: Some(args.log_filter.clone().or(file.log_filter).unwrap_or_else(|| "info".to_string())),
        bench_routes: args.bench_routes,
        print_bootstrap_token: true,
        risk,
        journal: super::backends::JournalChoice::parse(&ctx.journal)?.external()?,
        topics: super::backends::external_topics(ctx)?,
        alerts,
        background,
        watched_groups: d.watched_groups.clone(),
        read_model: super::backends::PgHistory::from_context(ctx)?
            .map(|h| h as std::sync::Arc<dyn aurum_api::read_model::ReadModel>),
    })
}

/// Run the API until SIGINT or SIGTERM, then drain in-flight requests and stop.
pub fn run(ctx: &Context, args: ServeArgs) -> CliResult {
    let config = server_config(ctx, &args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    eprintln!("aurum: serving the REST API on http://{} (data in {})", config.addr, config.data_dir.display());
    match &config.risk {
        None => eprintln!("aurum: risk scoring at admission is off"),
        Some(r) => eprintln!(
            "aurum: risk scoring at admission is on ({} rules{})",
            r.rules_file.as_ref().map_or_else(|| "built-in".to_string(), |p| p.display().to_string()),
            r.webhook_url
                .as_deref()
                .map_or_else(String::new, |u| format!(", alerts to {}", aurum_api::config::redact_url(u)))
        ),
    }
    runtime.block_on(aurum_api::server::serve(config, shutdown_signal()))?;
    eprintln!("aurum: stopped; every acknowledged request is durable");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Subcommands of `aurum api-key` (while the server is stopped; it holds the data directory).
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; its token is shown once.
    Create {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// read, write or admin.
        #[arg(long, default_value = "read")]
        scope: String,
        /// Requests per second for this key (default: the server's).
        #[arg(long)]
        rate_limit_per_sec: Option<u32>,
    },
    /// List keys (never their tokens).
    List,
    /// Revoke a key by id.
    Revoke {
        /// Key id.
        id: String,
    },
}

/// Run `aurum api-key ...`.
pub fn run_api_key(ctx: &Context, cmd: ApiKeyCommand) -> CliResult {
    let db = aurum_kv::Db::open(std::sync::Arc::new(aurum_vfs::OsVfs), &ctx.kv_dir(), aurum_kv::Options::default())?;
    let keys = KeyStore::open(db)?;
    match cmd {
        ApiKeyCommand::Create { name, scope, rate_limit_per_sec } => {
            let scope = Scope::parse(&scope).ok_or_else(|| format!("scope {scope:?} is not read, write or admin"))?;
            let new = keys.create(&name, scope, rate_limit_per_sec)?;
            if ctx.json {
                print_json(
                    &json!({"id": new.info.id, "name": new.info.name, "scope": new.info.scope.as_str(), "token": new.token}),
                );
            } else {
                println!("created key {} ({}, scope {})", new.info.id, new.info.name, new.info.scope.as_str());
                println!("token (shown once; store it now): {}", new.token);
            }
        }
        ApiKeyCommand::List => {
            let list = keys.list();
            if ctx.json {
                print_json(&serde_json::to_value(&list)?);
            } else {
                println!("{:<18} {:<24} {:<6} {:>10} {:<8}", "ID", "NAME", "SCOPE", "RATE/S", "STATUS");
                for k in list {
                    println!(
                        "{:<18} {:<24} {:<6} {:>10} {:<8}",
                        k.id,
                        k.name,
                        k.scope.as_str(),
                        k.rate_limit_per_sec.map_or_else(|| "default".to_string(), |r| r.to_string()),
                        if k.revoked { "revoked" } else { "active" }
                    );
                }
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if !keys.revoke(&id)? {
                return Err(format!("no API key with id {id:?}").into());
            }
            if ctx.json {
                print_json(&json!({"revoked": id}));
            } else {
                println!("revoked key {id}");
            }
        }
    }
    Ok(())
}
