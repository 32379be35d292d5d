//! The subcommands. Each is a thin layer: parse arguments, call a library, print.

pub mod audit;
pub mod backends;
pub mod bench;
pub mod chain;
mod chain_demo;
pub mod demo;
pub mod jobs;
pub mod kv;
pub mod lake;
pub mod ledger;
mod ledger_demo;
pub mod log;
pub mod metrics_http;
pub mod oracle;
pub mod quality;
pub mod recon;
pub mod risk;
pub mod serve;

use std::path::PathBuf;

/// What every subcommand gets.
#[derive(Clone)]
pub struct Context {
    /// Root of Aurum's state.
    pub data_dir: PathBuf,
    /// Print JSON instead of text.
    pub json: bool,
    /// The lakehouse catalog's URI (`sqlite` or a PostgreSQL URL; it may hold a password: never
    /// print it, see [`aurum_lake::catalog::redact`]).
    pub lake_catalog: String,
    /// The lakehouse's catalog name in a shared catalog.
    pub lake_catalog_name: String,
    /// Where the journal lives: `embedded` or a `kafka://` URL (see [`backends::JournalChoice`]).
    pub journal: String,
    /// Where the other topics live: `embedded`, a `kafka://` URL, or `None` (beside the journal).
    pub topics: Option<String>,
    /// The PostgreSQL read model's URL, if any (it may hold a password: never print it).
    pub read_model: Option<String>,
    /// The read model's PostgreSQL schema (`None`: the user's search path).
    pub read_model_schema: Option<String>,
}

/// Holds the data directory's lock for as long as it lives.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl std::fmt::Debug for Context {
    /// Never prints the catalog's password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("data_dir", &self.data_dir)
            .field("json", &self.json)
            .field("lake_catalog", &aurum_lake::catalog::redact(&self.lake_catalog))
            .field("lake_catalog_name", &self.lake_catalog_name)
            .field("journal", &self.journal)
            .field("topics", &self.topics)
            .field("read_model", &self.read_model.as_deref().map(aurum_pg::redact))
            .field("read_model_schema", &self.read_model_schema)
            .finish()
    }
}

impl Context {
    /// Take the data directory's lock, so that no two aurum processes open the same log and KV
    /// store (neither engine supports a second writer). Fails with a clear message if another
    /// process (say `aurum serve`) holds it.
    pub fn lock_data_dir(&self) -> Result<DataDirLock, Box<dyn std::error::Error + Send + Sync>> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", self.data_dir.display()))?;
        let path = self.data_dir.join("aurum.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "data directory {} is in use by another aurum process (is `aurum serve` running? use its admin API instead)",
                self.data_dir.display()
            )
            .into()),
            Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display()).into()),
        }
    }

    /// Directory of the embedded log.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    /// Directory of the lakehouse (Iceberg catalog and warehouse).
    pub fn lake_dir(&self) -> PathBuf {
        self.data_dir.join("lake")
    }

    /// Open the lakehouse with the configured catalog (inside a tokio runtime).
    pub async fn open_lake(&self) -> Result<aurum_lake::Lake, aurum_lake::LakeError> {
        let config = aurum_lake::CatalogConfig::parse(&self.lake_catalog, &self.lake_catalog_name)?;
        aurum_lake::Lake::open_with(&self.lake_dir(), &config).await
    }

    /// Directory of the embedded KV store.
    pub fn kv_dir(&self) -> PathBuf {
        self.data_dir.join("kv")
    }
}

/// The CLI's error type: any library error, shown as one line with its causes.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;
