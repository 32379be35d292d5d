//! The warehouse and its catalog: Iceberg's SQL catalog on a SQLite file (the embedded default) or
//! on PostgreSQL (at scale: many lakes, many readers), data on local disk.
//!
//! Layout under the lake directory (`<data dir>/lake` by default):
//! ```text
//! catalog.db            the SQL catalog (tables iceberg_tables, iceberg_namespace_properties),
//!                       readable by pyiceberg's SqlCatalog with the same catalog name
//! warehouse/aurum/<table>/metadata/   metadata.json versions, manifest lists, manifests
//! warehouse/aurum/<table>/data/       Parquet data files, in partition directories
//! ```
//! One writer per table: the sink is the only writer, and the data directory's lock keeps a second
//! aurum process out (iceberg-rust re-applies an append on a conflicting commit, which a second
//! writer would turn into duplicate rows).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iceberg::io::LocalFsStorageFactory;
use iceberg::table::Table;
use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableCreation, TableIdent};
use iceberg_catalog_sql::{
    SQL_CATALOG_PROP_BIND_STYLE, SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE, SqlBindStyle, SqlCatalogBuilder,
};

use crate::error::LakeError;
use crate::tables::{LakeTable, NAMESPACE};

/// The catalog name (the `catalog_name` column) of the embedded catalog: other readers must use
/// the same.
pub const CATALOG_NAME: &str = "aurum";
/// Connections the catalog's pool keeps to PostgreSQL (the sink commits from one task; readers
/// load metadata concurrently).
pub const POSTGRES_POOL_CONNECTIONS: u32 = 4;

/// Where a lake's catalog lives. The warehouse (metadata and data files) is always under the lake
/// directory.
#[derive(Clone, PartialEq, Eq)]
pub enum CatalogConfig {
    /// A SQLite file, `<lake dir>/catalog.db`: the embedded default.
    Sqlite,
    /// A PostgreSQL database shared by several lakes (or readers): each lake is one catalog name
    /// in it (the `catalog_name` column of iceberg's SQL catalog tables, which the catalog creates
    /// on first use).
    Postgres {
        /// `postgres://user:password@host:port/database`.
        url: String,
        /// This lake's catalog name in that database.
        name: String,
    },
}

impl std::fmt::Debug for CatalogConfig {
    /// Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogConfig::Sqlite => f.write_str("Sqlite"),
            CatalogConfig::Postgres { url, name } => {
                f.debug_struct("Postgres").field("url", &redact(url)).field("name", name).finish()
            }
        }
    }
}

/// `url` with the password (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((auth, host)) = rest.rsplit_once('@') else { return url.to_string() };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl CatalogConfig {
    /// From a catalog URI: `sqlite` (or empty) for the embedded file, `postgres://…` or
    /// `postgresql://…` for PostgreSQL under catalog name `name`.
    pub fn parse(uri: &str, name: &str) -> Result<CatalogConfig, LakeError> {
        let uri = uri.trim();
        if uri.is_empty() || uri == "sqlite" {
            return Ok(CatalogConfig::Sqlite);
        }
        if !(uri.starts_with("postgres://") || uri.starts_with("postgresql://")) {
            return Err(LakeError::Config(format!(
                "catalog {:?}: expected `sqlite` or a postgres:// URL",
                redact(uri)
            )));
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(LakeError::Config(format!("catalog name {name:?}: use letters, digits, '_' and '-' only")));
        }
        Ok(CatalogConfig::Postgres { url: uri.to_string(), name: name.to_string() })
    }
}

/// An open lakehouse.
#[derive(Clone)]
pub struct Lake {
    dir: PathBuf,
    catalog: Arc<dyn Catalog>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LakeError + '_ {
    move |source| LakeError::Io { path: path.display().to_string(), source }
}

impl Lake {
    /// Open (creating if needed) the lakehouse in `dir` with its embedded SQLite catalog, with
    /// every table of [`LakeTable::ALL`]. Must run inside a tokio runtime.
    pub async fn open(dir: &Path) -> Result<Lake, LakeError> {
        Lake::open_inner(dir, &CatalogConfig::Sqlite, true).await
    }

    /// Open (creating if needed) the lakehouse in `dir` with the catalog `config` names.
    pub async fn open_with(dir: &Path, config: &CatalogConfig) -> Result<Lake, LakeError> {
        Lake::open_inner(dir, config, true).await
    }

    /// Open without adding columns the tables lack: what an older version of Aurum would see
    /// (for testing schema evolution; everything else uses [`Lake::open`]).
    pub async fn open_without_evolution(dir: &Path) -> Result<Lake, LakeError> {
        Lake::open_inner(dir, &CatalogConfig::Sqlite, false).await
    }

    async fn open_inner(dir: &Path, config: &CatalogConfig, evolve: bool) -> Result<Lake, LakeError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
        let warehouse = dir.join("warehouse");
        std::fs::create_dir_all(&warehouse).map_err(io(&warehouse))?;
        let (name, props) = match config {
            // `mode=rwc` creates the file; one connection: the catalog's pool would otherwise hold
            // ten connections to a file only this process writes.
            CatalogConfig::Sqlite => (
                CATALOG_NAME.to_string(),
                [
                    (SQL_CATALOG_PROP_URI, format!("sqlite://{}?mode=rwc", dir.join("catalog.db").display())),
                    (SQL_CATALOG_PROP_BIND_STYLE, SqlBindStyle::QMark.to_string()),
                    ("pool.max-connections", "1".to_string()),
                ],
            ),
            CatalogConfig::Postgres { url, name } => (
                name.clone(),
                [
                    (SQL_CATALOG_PROP_URI, url.clone()),
                    (SQL_CATALOG_PROP_BIND_STYLE, SqlBindStyle::DollarNumeric.to_string()),
                    ("pool.max-connections", POSTGRES_POOL_CONNECTIONS.to_string()),
                ],
            ),
        };
        let mut props: HashMap<String, String> = props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        props.insert(SQL_CATALOG_PROP_WAREHOUSE.to_string(), format!("file://{}", warehouse.display()));
        let catalog = SqlCatalogBuilder::default()
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(name, props)
            .await
            .map_err(|e| match config {
                CatalogConfig::Sqlite => LakeError::Iceberg(e),
                // The library's message may quote the URL: say where, without the password.
                CatalogConfig::Postgres { url, .. } => LakeError::Config(format!(
                    "catalog at {}: {}",
                    redact(url),
                    e.to_string().replace(url, &redact(url))
                )),
            })?;
        let lake = Lake { dir, catalog: Arc::new(catalog) };
        let ns = NamespaceIdent::new(NAMESPACE.to_string());
        if !lake.catalog.namespace_exists(&ns).await? {
            lake.catalog.create_namespace(&ns, HashMap::new()).await?;
        }
        for t in LakeTable::ALL {
            lake.ensure_table(t, evolve).await?;
        }
        Ok(lake)
    }

    /// The lake directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// The identifier of a table.
    pub fn ident(table: LakeTable) -> TableIdent {
        TableIdent::new(NamespaceIdent::new(NAMESPACE.to_string()), table.name().to_string())
    }

    async fn ensure_table(&self, t: LakeTable, evolve: bool) -> Result<(), LakeError> {
        let ident = Lake::ident(t);
        if self.catalog.table_exists(&ident).await? {
            return if evolve { self.evolve(t).await } else { Ok(()) };
        }
        let creation = TableCreation::builder()
            .name(t.name().to_string())
            .schema(t.schema()?)
            .partition_spec(t.partition_spec()?)
            .build();
        self.catalog.create_table(ident.namespace(), creation).await?;
        Ok(())
    }

    /// Schema evolution: add the columns this code's schema has and the table lacks (a new field
    /// of an event type). Iceberg matches columns by field id, so files written before read the
    /// new column as null. New columns must be optional (a required one would make old rows
    /// invalid); columns are never dropped or retyped here.
    async fn evolve(&self, t: LakeTable) -> Result<(), LakeError> {
        let table = self.table(t).await?;
        let current = table.metadata().current_schema().clone();
        let missing: Vec<_> = t
            .schema()?
            .as_struct()
            .fields()
            .iter()
            .filter(|f| current.field_by_name(&f.name).is_none())
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let tx = Transaction::new(&table);
        let mut update = tx.update_schema();
        for f in missing {
            assert!(
                !f.required,
                "column {} of {} was added as required: new columns must be optional",
                f.name,
                t.name()
            );
            update = update.add_column(AddColumn::optional(f.name.clone(), (*f.field_type).clone()));
        }
        update.apply(tx)?.commit(self.catalog.as_ref()).await?;
        Ok(())
    }

    /// Load a table's current metadata.
    pub async fn table(&self, t: LakeTable) -> Result<Table, LakeError> {
        Ok(self.catalog.load_table(&Lake::ident(t)).await?)
    }
}
