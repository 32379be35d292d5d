//! Where the journal, the other topics and the read model live, chosen by configuration
//! (`--journal`, `--topics`, `--read-model`), and `aurum pg sync|status`: the PostgreSQL read model kept up to date from the
//! journal, wherever the journal is.

use std::sync::Arc;

use aurum_api::config::ExternalJournal;
use aurum_kafka::{KafkaConfig, KafkaJournal, KafkaTopics};
use aurum_ledger_node::engine::{self, AuditFrom, Engine, EngineConfig, OpenReport};
use aurum_ledger_node::journal::JournalReader;
use aurum_log::SharedTopics;
use aurum_pg::{DEFAULT_PROJECTION, PgConfig, Projector, ReadModel};
use aurum_vfs::OsVfs;
use clap::Subcommand;
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

/// The platform's topics where `--topics` says when they are not the data directory's log: a
/// `kafka://` URL, or by default the journal's broker when the journal is on Kafka.
pub fn external_topics(ctx: &Context) -> Result<Option<SharedTopics>, BoxError> {
    let choice = match &ctx.topics {
        Some(s) if s == "embedded" => JournalChoice::Embedded,
        Some(s) if s.starts_with("kafka://") => JournalChoice::Kafka(KafkaConfig::parse(s)?),
        Some(s) => return Err(format!("--topics {s:?}: expected `embedded` or a kafka://host:port URL").into()),
        None => JournalChoice::parse(&ctx.journal)?,
    };
    Ok(match choice {
        JournalChoice::Embedded => None,
        JournalChoice::Kafka(k) => Some(Arc::new(KafkaTopics::connect(&k)?)),
    })
}

/// The platform's topics where `--topics` says; `log` is the data directory's log (opened once
/// per process by the caller), used when they are embedded.
pub fn topics(ctx: &Context, log: &aurum_log::Log) -> Result<SharedTopics, BoxError> {
    Ok(external_topics(ctx)?.unwrap_or_else(|| Arc::new(log.clone())))
}

/// Open the ledger under the data directory with its journal where `--journal` says.
pub fn open_engine(ctx: &Context, config: EngineConfig) -> Result<(Engine, OpenReport), BoxError> {
    Ok(match JournalChoice::parse(&ctx.journal)? {
        JournalChoice::Embedded => Engine::open(Arc::new(OsVfs), &ctx.data_dir, config)?,
        JournalChoice::Kafka(k) => aurum_kafka::node::open_engine(Arc::new(OsVfs), &ctx.data_dir, &k, config)?,
    })
}

/// A reader of the journal where `--journal` says (opens the data directory's log if embedded).
pub fn journal_reader(ctx: &Context) -> Result<JournalReader, BoxError> {
    match JournalChoice::parse(&ctx.journal)? {
        JournalChoice::Embedded => {
            let log = aurum_log::Log::open(Arc::new(OsVfs), &ctx.log_dir(), aurum_log::LogOptions::default())?;
            Ok(JournalReader::new(log))
        }
        JournalChoice::Kafka(k) => Ok(JournalReader::from_backend(Arc::new(KafkaJournal::connect(&k)?))),
    }
}

/// A reader of the journal where `--journal` says, for a command that already opened the data
/// directory's log (`log`: a log directory is opened once per process).
pub fn journal_reader_beside(ctx: &Context, log: &aurum_log::Log) -> Result<JournalReader, BoxError> {
    match JournalChoice::parse(&ctx.journal)? {
        JournalChoice::Embedded => Ok(JournalReader::new(log.clone())),
        JournalChoice::Kafka(k) => Ok(JournalReader::from_backend(Arc::new(KafkaJournal::connect(&k)?))),
    }
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

/// The read model named by `--read-model` and `--read-model-schema`.
pub fn read_model_config(ctx: &Context) -> Result<PgConfig, BoxError> {
    let schema = ctx.read_model_schema.clone();
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
    Sync,
    /// Where the read model stands against the journal.
    Status,
}

/// Run `aurum pg …`.
pub fn run_pg(ctx: &Context, cmd: PgCommand) -> CliResult {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let sync = matches!(cmd, PgCommand::Sync);
    let config = read_model_config(ctx)?;
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

/// After a read model failure, history comes from memory for this long before PostgreSQL is tried
/// again: a database that is down costs one slow request per period, not every request.
pub const READ_MODEL_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// The PostgreSQL read model as the API's source of history: connected (and migrated) on first
/// use, caught up with the journal before each answer (read-your-writes).
#[derive(Debug)]
pub struct PgHistory {
    config: PgConfig,
    pool: std::sync::OnceLock<aurum_pg::PgPool>,
    projector: tokio::sync::Mutex<Option<Projector>>,
    /// Set after a failure: until then, answers come from memory without trying PostgreSQL.
    unavailable_until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl PgHistory {
    /// The read model `--read-model` names, for `aurum serve`.
    pub fn from_context(ctx: &Context) -> Result<Option<Arc<PgHistory>>, BoxError> {
        if ctx.read_model.is_none() {
            return Ok(None);
        }
        let config = read_model_config(ctx)?;
        Ok(Some(Arc::new(PgHistory {
            config,
            pool: std::sync::OnceLock::new(),
            projector: tokio::sync::Mutex::new(None),
            unavailable_until: std::sync::Mutex::new(None),
        })))
    }

    /// Whether a recent failure says to leave PostgreSQL alone for now.
    fn backing_off(&self) -> Option<std::time::Duration> {
        let until = (*self.unavailable_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner))?;
        until.checked_duration_since(std::time::Instant::now())
    }

    fn failed(&self, error: String) -> String {
        *self.unavailable_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(std::time::Instant::now() + READ_MODEL_RETRY_AFTER);
        format!("{error} (answering from memory for the next {READ_MODEL_RETRY_AFTER:?})")
    }

    fn pool(&self) -> Result<&aurum_pg::PgPool, String> {
        self.pool.get().ok_or_else(|| "the read model is not connected yet".to_string())
    }
}

impl aurum_api::read_model::ReadModel for PgHistory {
    fn catch_up<'a>(&'a self, journal: &'a JournalReader) -> aurum_api::read_model::ReadFuture<'a, u64> {
        Box::pin(async move {
            if let Some(left) = self.backing_off() {
                return Err(format!("read model unavailable after a failure; retrying in {left:?}"));
            }
            let mut projector = self.projector.lock().await;
            if projector.is_none() {
                let pool = match self.pool.get() {
                    Some(pool) => pool.clone(),
                    None => {
                        let model =
                            ReadModel::connect_send(&self.config).await.map_err(|e| self.failed(e.to_string()))?;
                        self.pool.get_or_init(|| model.pool().clone()).clone()
                    }
                };
                let opened = Projector::open_send(&pool, DEFAULT_PROJECTION, journal)
                    .await
                    .map_err(|e| self.failed(e.to_string()))?;
                *projector = Some(opened);
            }
            let p = projector.as_mut().expect("opened above");
            match p.sync_send(journal).await {
                Ok(report) => Ok(report.next_seq - 1),
                Err(e) => {
                    // Its ledger may be ahead of the database: reopen on the next call.
                    *projector = None;
                    Err(self.failed(e.to_string()))
                }
            }
        })
    }

    fn statement(
        &self,
        account: aurum_ledger::AccountId,
        from: aurum_ledger::Timestamp,
        to: aurum_ledger::Timestamp,
        limit: usize,
    ) -> aurum_api::read_model::ReadFuture<'_, Vec<aurum_ledger::StatementLine>> {
        Box::pin(async move {
            aurum_pg::read::statement(self.pool()?, account, from, to, limit).await.map_err(|e| e.to_string())
        })
    }

    fn balance_as_of(
        &self,
        account: aurum_ledger::AccountId,
        as_of: aurum_ledger::AsOf,
    ) -> aurum_api::read_model::ReadFuture<'_, Option<aurum_ledger::BalanceAt>> {
        Box::pin(
            async move { aurum_pg::read::balance_as_of(self.pool()?, account, as_of).await.map_err(|e| e.to_string()) },
        )
    }

    fn accounts_page(
        &self,
        after: Option<aurum_ledger::AccountId>,
        limit: usize,
        asset: Option<aurum_ledger::AssetId>,
        kind: Option<aurum_ledger::AccountKind>,
    ) -> aurum_api::read_model::ReadFuture<'_, aurum_api::read_model::AccountPage> {
        Box::pin(async move {
            aurum_pg::read::accounts_page(self.pool()?, after, limit, asset, kind).await.map_err(|e| e.to_string())
        })
    }

    fn transfers_page(
        &self,
        after: Option<aurum_ledger::Timestamp>,
        limit: usize,
        filter: aurum_ledger::MovementFilter,
    ) -> aurum_api::read_model::ReadFuture<'_, aurum_api::read_model::TransferPage> {
        Box::pin(async move {
            if filter.entries_only {
                return Err("the read model lists transfers, not entries".to_string());
            }
            let filter =
                aurum_pg::read::TransferFilter { account: filter.account, asset: filter.asset, kind: filter.kind };
            aurum_pg::read::transfers_page(self.pool()?, after, limit, filter).await.map_err(|e| e.to_string())
        })
    }
}
