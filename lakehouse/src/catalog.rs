//! The warehouse and its catalog: Iceberg's SQL catalog on a SQLite file, data on local disk.
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

/// The catalog name (the `catalog_name` column): other readers must use the same.
pub const CATALOG_NAME: &str = "aurum";

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
    /// Open (creating if needed) the lakehouse in `dir`, with every table of [`LakeTable::ALL`].
    /// Must run inside a tokio runtime.
    pub async fn open(dir: &Path) -> Result<Lake, LakeError> {
        Lake::open_inner(dir, true).await
    }

    /// Open without adding columns the tables lack: what an older version of Aurum would see
    /// (for testing schema evolution; everything else uses [`Lake::open`]).
    pub async fn open_without_evolution(dir: &Path) -> Result<Lake, LakeError> {
        Lake::open_inner(dir, false).await
    }

    async fn open_inner(dir: &Path, evolve: bool) -> Result<Lake, LakeError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
        let warehouse = dir.join("warehouse");
        std::fs::create_dir_all(&warehouse).map_err(io(&warehouse))?;
        let db = dir.join("catalog.db");
        // `mode=rwc` creates the file; one connection: the catalog's pool would otherwise hold ten
        // connections to a file only this process writes.
        let catalog = SqlCatalogBuilder::default()
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(
                CATALOG_NAME,
                HashMap::from([
                    (SQL_CATALOG_PROP_URI.to_string(), format!("sqlite://{}?mode=rwc", db.display())),
                    (SQL_CATALOG_PROP_WAREHOUSE.to_string(), format!("file://{}", warehouse.display())),
                    (SQL_CATALOG_PROP_BIND_STYLE.to_string(), SqlBindStyle::QMark.to_string()),
                    ("pool.max-connections".to_string(), "1".to_string()),
                ]),
            )
            .await?;
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
