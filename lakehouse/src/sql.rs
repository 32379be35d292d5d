//! SQL over the lakehouse with DataFusion: every table of the catalog, by its bare name.
//!
//! Tables are `lake.aurum.<table>` and, by their bare names, in the default schema beside the
//! named analytics views (`crate::analytics`), so `SELECT * FROM transfers` works. Filters of the form `column <op> literal` are pushed into the Iceberg scan,
//! which prunes partitions (day, asset) and files by their column statistics; `--explain` shows the
//! plan and how many data files the scans kept of how many the tables hold.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::CatalogProvider;
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use iceberg_datafusion::IcebergCatalogProvider;
use iceberg_datafusion::physical_plan::IcebergTableScan;

use crate::catalog::Lake;
use crate::error::LakeError;
use crate::tables::NAMESPACE;

/// The name the catalog is registered under in SQL.
pub const SQL_CATALOG: &str = "lake";

/// A SQL session over the lake. Build a new one after a schema change or a new table: the
/// DataFusion catalog captures tables and schemas when it is built (new snapshots are seen anyway).
pub async fn session(lake: &Lake) -> Result<SessionContext, LakeError> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let provider = IcebergCatalogProvider::try_new(lake.catalog().clone()).await?;
    // The tables also go into the default in-memory schema, beside the analytics views (the
    // Iceberg schema cannot hold views): bare names work for both.
    if let Some(schema) = provider.schema(NAMESPACE) {
        for name in schema.table_names() {
            if let Some(table) = schema.table(&name).await? {
                ctx.register_table(name.as_str(), table)?;
            }
        }
    }
    ctx.register_catalog(SQL_CATALOG, Arc::new(provider));
    crate::analytics::register(&ctx).await?;
    Ok(ctx)
}

/// Run a query and collect its rows.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Rows as a JSON array of objects.
pub type JsonArrayWriter<W> = datafusion::arrow::json::ArrayWriter<W>;

/// Rows as an aligned text table.
pub fn format(batches: &[RecordBatch]) -> Result<String, LakeError> {
    Ok(pretty_format_batches(batches)?.to_string())
}

/// One Iceberg scan of a plan: which table, with which pushed-down predicate, and how many data
/// files it keeps of how many the table's snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPruning {
    /// The table.
    pub table: String,
    /// The predicate pushed into the scan (`None`: nothing pushed).
    pub predicate: Option<String>,
    /// Data files the scan reads.
    pub files_scanned: usize,
    /// Data files in the table's snapshot.
    pub files_total: usize,
}

type Scan = (iceberg::table::Table, Option<iceberg::expr::Predicate>);

fn iceberg_scans(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<Scan>) {
    if let Some(s) = plan.as_any().downcast_ref::<IcebergTableScan>() {
        out.push((s.table().clone(), s.predicates().cloned()));
    }
    for child in plan.children() {
        iceberg_scans(child, out);
    }
}

async fn count_files(
    table: &iceberg::table::Table,
    predicate: Option<&iceberg::expr::Predicate>,
) -> Result<usize, LakeError> {
    let mut scan = table.scan().select_all();
    if let Some(p) = predicate {
        scan = scan.with_filter(p.clone());
    }
    let tasks: Vec<_> = scan.build()?.plan_files().await?.try_collect().await?;
    Ok(tasks.len())
}

/// The plan of a query, as text, with the pruning of each Iceberg scan (IcebergTableScan reports
/// no metrics of its own, so the files are counted by planning the scan again with and without
/// its predicate).
pub async fn explain(ctx: &SessionContext, sql: &str) -> Result<(String, Vec<ScanPruning>), LakeError> {
    let df = ctx.sql(sql).await?;
    let logical = df.clone().into_optimized_plan()?;
    let physical = df.create_physical_plan().await?;
    let mut text = String::new();
    text.push_str("logical plan:\n");
    text.push_str(&logical.display_indent().to_string());
    text.push_str("\n\nphysical plan:\n");
    text.push_str(&displayable(physical.as_ref()).tree_render().to_string());
    let mut scans = Vec::new();
    iceberg_scans(&physical, &mut scans);
    let mut pruning = Vec::new();
    for (table, predicate) in scans {
        pruning.push(ScanPruning {
            table: table.identifier().name().to_string(),
            predicate: predicate.as_ref().map(|p| p.to_string()),
            files_scanned: count_files(&table, predicate.as_ref()).await?,
            files_total: count_files(&table, None).await?,
        });
    }
    Ok((text, pruning))
}
