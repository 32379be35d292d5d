//! SQL over the lakehouse with DataFusion: every table of the catalog, by its bare name.
//!
//! Tables are `lake.aurum.<table>` and, by their bare names, in the default schema beside the
//! named analytics views (`crate::analytics`), so `SELECT * FROM transfers` works. Filters of the form `column <op> literal` are pushed into the Iceberg scan,
//! which prunes partitions (day, asset) and files by their column statistics; `--explain` shows the
//! plan and how many data files the scans kept of how many the tables hold.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::datasource::TableType;
use datafusion::error::Result as DFResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, displayable,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use iceberg::scan::FileScanTask;
use iceberg_datafusion::physical_plan::IcebergTableScan;
use iceberg_datafusion::{IcebergCatalogProvider, IcebergTableProvider, to_datafusion_error};

use crate::catalog::Lake;
use crate::error::LakeError;
use crate::tables::NAMESPACE;

/// The name the catalog is registered under in SQL.
pub const SQL_CATALOG: &str = "lake";

/// A boxed future, as `#[async_trait]` spells the trait methods this module implements (the
/// crate does not depend on `async-trait` itself).
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The Iceberg catalog with its tables scanned in parallel ([`ParallelTable`]); everything else
/// (metadata tables such as `postings$snapshots`, table registration) is the Iceberg provider's.
#[derive(Debug)]
struct LakeCatalog(Arc<dyn CatalogProvider>);

impl CatalogProvider for LakeCatalog {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema_names(&self) -> Vec<String> {
        self.0.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.0.schema(name).map(|s| Arc::new(LakeSchema(s)) as Arc<dyn SchemaProvider>)
    }
}

/// See [`LakeCatalog`].
#[derive(Debug)]
struct LakeSchema(Arc<dyn SchemaProvider>);

impl SchemaProvider for LakeSchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        self.0.table_names()
    }

    fn table<'a, 'b, 'r>(&'a self, name: &'b str) -> BoxFuture<'r, DFResult<Option<Arc<dyn TableProvider>>>>
    where
        'a: 'r,
        'b: 'r,
        Self: 'r,
    {
        Box::pin(async move {
            Ok(self.0.table(name).await?.map(|t| {
                if t.as_any().is::<IcebergTableProvider>() {
                    Arc::new(ParallelTable::new(t)) as Arc<dyn TableProvider>
                } else {
                    t
                }
            }))
        })
    }

    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> DFResult<Option<Arc<dyn TableProvider>>> {
        self.0.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        self.0.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.0.table_exist(name)
    }
}

/// An Iceberg table scanned in parallel. iceberg-datafusion 0.10's `IcebergTableScan` is a single
/// partition: every data file is decoded on one thread, and DataFusion only spreads the rows over
/// its cores after that. This provider lets the Iceberg provider plan the scan (the same snapshot,
/// projection, pushed-down predicate and partition pruning), then plans the data files and spreads
/// them over `target_partitions` partitions ([`LakeScan`]) that read with iceberg's own Arrow
/// reader (field ids, schema evolution, row-group pruning by the predicate).
///
/// The Iceberg provider loads the table afresh for every scan (new snapshots are seen), with an
/// empty cache of manifests: planning the files of a scan read and decoded every manifest again
/// (about 8 ms of a 30 ms query over 44 files). This provider keeps the last table it scanned
/// and plans with it while the catalog still points at the same metadata file: the same snapshot,
/// and manifests and manifest lists are immutable files, so their cache stays valid. A new
/// snapshot is a new metadata file, and the newly loaded table (with a fresh cache) replaces it.
#[derive(Debug)]
struct ParallelTable {
    inner: Arc<dyn TableProvider>,
    last: std::sync::Mutex<Option<iceberg::table::Table>>,
}

impl ParallelTable {
    fn new(inner: Arc<dyn TableProvider>) -> ParallelTable {
        ParallelTable { inner, last: std::sync::Mutex::new(None) }
    }

    /// `loaded`, or the table kept from an earlier scan if it has the same metadata file.
    fn cached(&self, loaded: &iceberg::table::Table) -> iceberg::table::Table {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.as_ref() {
            Some(t) if t.metadata_location().is_some() && t.metadata_location() == loaded.metadata_location() => {
                t.clone()
            }
            _ => {
                *last = Some(loaded.clone());
                loaded.clone()
            }
        }
    }
}

impl TableProvider for ParallelTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn scan<'a, 'b, 'c, 'd, 'r>(
        &'a self,
        state: &'b dyn Session,
        projection: Option<&'c Vec<usize>>,
        filters: &'d [Expr],
        limit: Option<usize>,
    ) -> BoxFuture<'r, DFResult<Arc<dyn ExecutionPlan>>>
    where
        'a: 'r,
        'b: 'r,
        'c: 'r,
        'd: 'r,
        Self: 'r,
    {
        Box::pin(async move {
            let plan = self.inner.scan(state, projection, filters, limit).await?;
            match plan.as_any().downcast_ref::<IcebergTableScan>() {
                Some(scan) => {
                    let config = state.config();
                    let table = self.cached(scan.table());
                    Ok(Arc::new(LakeScan::try_new(table, scan, config.target_partitions(), config.batch_size()).await?)
                        as Arc<dyn ExecutionPlan>)
                }
                None => Ok(plan),
            }
        })
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DFResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn insert_into<'a, 'b, 'r>(
        &'a self,
        state: &'b dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> BoxFuture<'r, DFResult<Arc<dyn ExecutionPlan>>>
    where
        'a: 'r,
        'b: 'r,
        Self: 'r,
    {
        self.inner.insert_into(state, input, insert_op)
    }
}

/// The scan of [`ParallelTable`]: the data files an Iceberg scan keeps, in `partitions` groups of
/// about equal bytes (largest file first onto the lightest group), each group read in order by
/// iceberg's Arrow reader in DataFusion's batch size.
#[derive(Debug)]
pub struct LakeScan {
    table: iceberg::table::Table,
    predicate: Option<iceberg::expr::Predicate>,
    projection: Option<Vec<String>>,
    groups: Vec<Vec<FileScanTask>>,
    limit: Option<usize>,
    batch_size: usize,
    properties: Arc<PlanProperties>,
}

impl LakeScan {
    /// `table` is `scan`'s table (the same metadata file), possibly with manifests already cached.
    async fn try_new(
        table: iceberg::table::Table,
        scan: &IcebergTableScan,
        partitions: usize,
        batch_size: usize,
    ) -> DFResult<LakeScan> {
        let mut builder = match scan.snapshot_id() {
            Some(id) => table.scan().snapshot_id(id),
            None => table.scan(),
        };
        builder = match scan.projection() {
            Some(columns) => builder.select(columns.iter().cloned()),
            None => builder.select_all(),
        };
        if let Some(p) = scan.predicates() {
            builder = builder.with_filter(p.clone());
        }
        let plan = builder.build().map_err(to_datafusion_error)?;
        let mut tasks: Vec<FileScanTask> =
            plan.plan_files().await.map_err(to_datafusion_error)?.try_collect().await.map_err(to_datafusion_error)?;
        tasks.sort_by_key(|t| std::cmp::Reverse(t.length));
        let n = partitions.clamp(1, tasks.len().max(1));
        let mut groups: Vec<(u64, Vec<FileScanTask>)> = (0..n).map(|_| (0, Vec::new())).collect();
        for task in tasks {
            let lightest = groups.iter_mut().min_by_key(|(bytes, _)| *bytes).expect("at least one group");
            lightest.0 += task.length;
            lightest.1.push(task);
        }
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(scan.schema()),
            Partitioning::UnknownPartitioning(n),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(LakeScan {
            table,
            predicate: scan.predicates().cloned(),
            projection: scan.projection().map(<[String]>::to_vec),
            groups: groups.into_iter().map(|(_, g)| g).collect(),
            limit: scan.limit(),
            batch_size,
            properties,
        })
    }

    /// The table scanned.
    pub fn table(&self) -> &iceberg::table::Table {
        &self.table
    }

    /// The predicate pushed into the scan.
    pub fn predicate(&self) -> Option<&iceberg::expr::Predicate> {
        self.predicate.as_ref()
    }

    /// Data files the scan reads.
    pub fn files(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }
}

impl DisplayAs for LakeScan {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "LakeScan {} projection:[{}] predicate:[{}] files:{} partitions:{}",
            self.table.identifier().name(),
            self.projection.as_ref().map_or(String::new(), |v| v.join(",")),
            self.predicate.as_ref().map_or(String::new(), |p| p.to_string()),
            self.files(),
            self.groups.len()
        )?;
        if let Some(limit) = self.limit {
            write!(f, " limit:[{limit}]")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for LakeScan {
    fn name(&self) -> &str {
        "LakeScan"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DFResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    /// Rows from the manifests' record counts (inexact: the predicate may drop rows inside a file),
    /// so that joins build their hash table on the smaller side.
    fn partition_statistics(&self, partition: Option<usize>) -> DFResult<Statistics> {
        let groups = match partition {
            Some(p) => self.groups.get(p..=p).unwrap_or_default(),
            None => &self.groups[..],
        };
        let rows: Option<u64> = groups.iter().flatten().map(|t| t.record_count).sum();
        let stats = Statistics::new_unknown(&self.schema());
        Ok(match rows {
            Some(rows) => stats.with_num_rows(Precision::Inexact(rows as usize)),
            None => stats,
        })
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DFResult<SendableRecordBatchStream> {
        let tasks = self.groups.get(partition).cloned().unwrap_or_default();
        let reader =
            self.table.reader_builder().with_batch_size(self.batch_size).with_data_file_concurrency_limit(1).build();
        let tasks = futures::stream::iter(tasks.into_iter().map(Ok));
        let stream = reader.read(Box::pin(tasks)).map_err(to_datafusion_error)?.stream().map_err(to_datafusion_error);
        let stream: Pin<Box<dyn futures::Stream<Item = DFResult<RecordBatch>> + Send>> = match self.limit {
            None => Box::pin(stream),
            Some(limit) => {
                let mut remaining = limit;
                Box::pin(stream.try_filter_map(move |batch| {
                    let out = if remaining == 0 {
                        None
                    } else if batch.num_rows() <= remaining {
                        remaining -= batch.num_rows();
                        Some(batch)
                    } else {
                        let part = batch.slice(0, remaining);
                        remaining = 0;
                        Some(part)
                    };
                    futures::future::ready(Ok(out))
                }))
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), stream)))
    }
}

/// A SQL session over the lake. Build a new one after a schema change or a new table: the
/// DataFusion catalog captures tables and schemas when it is built (new snapshots are seen anyway).
pub async fn session(lake: &Lake) -> Result<SessionContext, LakeError> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let provider = LakeCatalog(Arc::new(IcebergCatalogProvider::try_new(lake.catalog().clone()).await?));
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

/// A batch of result rows.
pub type Batch = RecordBatch;

/// Rows as a JSON array of objects (`[]` for none).
pub fn json_rows(batches: &[RecordBatch]) -> Result<Vec<u8>, LakeError> {
    let mut buf = Vec::new();
    {
        let mut w = JsonArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    if buf.is_empty() {
        buf.extend_from_slice(b"[]");
    }
    Ok(buf)
}

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
    if let Some(s) = plan.as_any().downcast_ref::<LakeScan>() {
        out.push((s.table().clone(), s.predicate().cloned()));
    }
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
