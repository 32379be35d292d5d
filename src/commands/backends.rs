//! Where the journal and the read model live, chosen by configuration (`--journal`,
//! `--read-model`), and `aurum pg sync|status`: the PostgreSQL read model kept up to date from the
//! journal, wherever the journal is.

use std::sync::Arc;

use aurum_api::config::ExternalJournal;
use aurum_kafka::{KafkaConfig, KafkaJournal};
use aurum_ledger_node::engine::{self, AuditFrom, Engine, EngineConfig, OpenReport};
use aurum_ledger_node::journal::JournalReader;
use aurum_pg::{DEFAULT_PROJECTION, PgConfig, Projector, ReadModel};
use aurum_vfs::OsVfs;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliResult, Context};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The journal's backend named by `--journal`: `embedded` (the data directory's log) or a
/// `kafka://` URL.
pub enum JournalChoice {
    /// The data directory's log.
    Embedded,
    /// A Kafka topic.
    Kafka(KafkaConfig),
}

impl JournalChoice {
    /// Parse `--journal`.
    pub fn parse(s: &str) -> Result<JournalChoice, BoxError> {
        if s == "embedded" {
            Ok(JournalChoice::Embedded)
        } else if s.starts_with("kafka://") {
            Ok(JournalChoice::Kafka(KafkaConfig::parse(s)?))
        } else {
            Err(format!("--journal {s:?}: expected `embedded` or a kafka://host:port URL").into())
        }
    }

    /// The journal for the API server (`None`: embedded).
    pub fn external(&self) -> Result<Option<ExternalJournal>, BoxError> {
        Ok(match self {
            JournalChoice::Embedded => None,
            JournalChoice::Kafka(k) => {
                Some(ExternalJournal { backend: Arc::new(KafkaJournal::connect(k)?), policy: k.policy() })
            }
        })
    }
}

/// Open the ledger under the data directory with its journal where `--journal` says.
pub fn open_engine(ctx: &Context, config: EngineConfig) -> Result<(Engine, OpenReport), BoxError> {
    Ok(match JournalChoice::parse(&ctx.journal)? {
        JournalChoice::Embedded => Engine::open(Arc::new(OsVfs), &ctx.data_dir, config)?,
        JournalChoice::Kafka(k) => aurum_kafka::node::open_engine(Arc::new(OsVfs), &ctx.data_dir, &k, config)?,
    })
}

/// A reader of the journal where `--journal` says.
pub fn journal_reader(ctx: &Context) -> Result<JournalReader, BoxError> {
    Ok(match JournalChoice::parse(&ctx.journal)? {
        JournalChoice::Embedded => {
            let log = aurum_log::Log::open(Arc::new(OsVfs), &ctx.log_dir(), aurum_log::LogOptions::default())?;
            JournalReader::new(log)
        }
        JournalChoice::Kafka(k) => JournalReader::from_backend(Arc::new(KafkaJournal::connect(&k)?)),
    })
}

/// The offline audit (the node does not start) of the journal where `--journal` says.
pub fn audit_offline(ctx: &Context, from: AuditFrom) -> Result<aurum_ledger_node::audit::AuditReport, BoxError> {
    Ok(match JournalChoice::parse(&ctx.journal)? {
        JournalChoice::Embedded => engine::audit_offline(Arc::new(OsVfs), &ctx.data_dir, from)?,
        JournalChoice::Kafka(k) => {
            let db = aurum_kv::Db::open(Arc::new(OsVfs), &ctx.kv_dir(), aurum_kv::Options::default())?;
            let reader = JournalReader::from_backend(Arc::new(KafkaJournal::connect(&k)?));
            engine::audit_offline_with(&reader, &db, from)?
        }
    })
}

/// The read model named by `--read-model`.
fn read_model_config(ctx: &Context, schema: Option<String>) -> Result<PgConfig, BoxError> {
    let url = ctx.read_model.clone().ok_or("no read model: pass --read-model postgres://… (or AURUM_READ_MODEL)")?;
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(format!("--read-model {}: expected a postgres:// URL", aurum_pg::redact(&url)).into());
    }
    Ok(PgConfig { url, schema })
}

/// `aurum pg …`
#[derive(Debug, Subcommand)]
pub enum PgCommand {
    /// Project the journal into the PostgreSQL read model (migrations applied first), exactly once.
    Sync(PgArgs),
    /// Where the read model stands against the journal.
    Status(PgArgs),
}

/// Options of `aurum pg`.
#[derive(Debug, Args)]
pub struct PgArgs {
    /// The PostgreSQL schema of the read model (created if missing; default: the user's search path).
    #[arg(long)]
    pub schema: Option<String>,
}

/// Run `aurum pg …`.
pub fn run_pg(ctx: &Context, cmd: PgCommand) -> CliResult {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (sync, args) = match cmd {
        PgCommand::Sync(a) => (true, a),
        PgCommand::Status(a) => (false, a),
    };
    let config = read_model_config(ctx, args.schema)?;
    let journal = journal_reader(ctx)?;
    let head = journal.record_count()?;
    rt.block_on(async {
        let model = ReadModel::connect(&config).await?;
        let report = if sync {
            let mut p = Projector::open(model.pool(), DEFAULT_PROJECTION, &journal).await?;
            Some(p.sync(&journal, None).await?)
        } else {
            None
        };
        let (next_seq, _) = aurum_pg::project::read_position(model.pool(), DEFAULT_PROJECTION).await?;
        let projected = next_seq - 1;
        let value = json!({
            "read_model": config.redacted_url(),
            "schema": config.schema,
            "journal_head": head,
            "projected_through": projected,
            "lag_blocks": head.saturating_sub(projected),
            "this_run": report.map(|r| json!({"blocks": r.blocks, "rows": r.rows, "transactions": r.transactions})),
        });
        if ctx.json {
            println!("{value}");
        } else {
            println!(
                "read model {}: projected through block {projected} of {head} (lag {} blocks)",
                config.redacted_url(),
                head.saturating_sub(projected)
            );
            if let Some(r) = report {
                println!("this run: {} blocks, {} rows, {} transactions", r.blocks, r.rows, r.transactions);
            }
        }
        Ok::<(), BoxError>(())
    })
}
