//! The journal sink: micro-batches of journal blocks into the lakehouse's tables, exactly once.
//!
//! Each table's snapshots carry, in their summary, the next journal block sequence the table has
//! not seen (`aurum.next_seq`). A micro-batch:
//! 1. reads the table's resume point from its current snapshot;
//! 2. turns blocks `[resume, resume + n)` into rows (at most [`MAX_BLOCKS_PER_COMMIT`] blocks and
//!    [`MAX_ROWS_PER_COMMIT`] rows);
//! 3. writes them to new Parquet data files (names unique per micro-batch: `<table>-<first seq>-<uuid
//!    v7>`, so a retried batch never overwrites a file another snapshot references);
//! 4. commits one fast append holding the files *and* the new resume point.
//!
//! The commit is the only step that changes what readers see, and it moves rows and offset
//! together: a crash before it leaves unreferenced files and the old offset (the batch is redone);
//! a crash after it leaves the new offset (the batch is not redone). No row is lost or duplicated.
//! Unreferenced data files of a crashed batch stay on disk as garbage: no snapshot names them, so
//! no reader sees them; `maintenance::delete_orphan_files` (`aurum lake delete-orphans`) removes them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aurum_ledger_node::engine::Engine;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{DataFile, DataFileFormat};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::file::properties::WriterProperties;

use crate::catalog::Lake;
use crate::error::LakeError;
use crate::rows::Rows;
use crate::tables::LakeTable;

/// Snapshot property: where the rows come from.
pub const SOURCE_PROPERTY: &str = "aurum.source";
/// Snapshot property: the next journal block sequence this table has not seen.
pub const NEXT_SEQ_PROPERTY: &str = "aurum.next_seq";
/// The source of the journal sink.
pub const JOURNAL_SOURCE: &str = "ledger.journal";
/// Most journal blocks in one micro-batch.
pub const MAX_BLOCKS_PER_COMMIT: usize = 4096;
/// Most rows of one table in one micro-batch (checked after each block).
pub const MAX_ROWS_PER_COMMIT: usize = 500_000;
/// A table with no new rows still commits its resume point once it lags this many blocks (so a
/// rarely written table does not re-read the journal from far back on every run).
pub const MAX_EMPTY_LAG_BLOCKS: u64 = 100_000;

/// Where a test may make the sink stop dead, to prove crash safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// After the data files of the first micro-batch are written, before its commit.
    AfterFilesBeforeCommit,
    /// After the first micro-batch's commit, before anything else.
    AfterCommit,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Commits (snapshots) made, all tables.
    pub commits: u64,
    /// Rows appended per table.
    pub rows: BTreeMap<&'static str, u64>,
    /// Data files written per table.
    pub files: BTreeMap<&'static str, u64>,
    /// Each table's resume point after the sync.
    pub next_seq: BTreeMap<&'static str, u64>,
}

/// The resume point stored in a table's current snapshot (1 for a table never written).
pub fn next_seq(table: &Table, which: LakeTable) -> Result<u64, LakeError> {
    match table.metadata().current_snapshot().and_then(|s| s.summary().additional_properties.get(NEXT_SEQ_PROPERTY)) {
        None => Ok(1),
        Some(v) => v.parse().map_err(|_| LakeError::BadOffset {
            table: which.name(),
            key: NEXT_SEQ_PROPERTY,
            value: v.clone(),
        }),
    }
}

/// Write `batch` to new data files of `table` (partitioned by its default spec).
async fn write_files(
    table: &Table,
    which: LakeTable,
    first_seq: u64,
    rows: &mut Rows,
) -> Result<Vec<DataFile>, LakeError> {
    let arrow_schema = Arc::new(schema_to_arrow_schema(table.metadata().current_schema())?);
    let batch = rows.take_batch(which, arrow_schema)?;
    write_batch(table, which, first_seq, batch).await
}

/// Columns whose values are (nearly) all distinct: dictionary encoding only costs there (the
/// writer builds a dictionary as large as the column, then falls back to plain, and a reader
/// decodes indices plus dictionary). Every other column keeps Parquet's default dictionary
/// (accounts, assets, kinds, result codes: few distinct values).
pub const PLAIN_COLUMNS: [&str; 6] = ["ts", "ts_ns", "transfer_id", "amount", "pending_id", "metadata"];

/// The Parquet writer settings of every data file: uncompressed (local warehouse: decoding speed
/// over size), no dictionary for [`PLAIN_COLUMNS`], chunk and page statistics (Iceberg's file
/// metrics and row-group pruning use them).
pub fn writer_properties() -> WriterProperties {
    let mut props = WriterProperties::builder();
    for c in PLAIN_COLUMNS {
        props = props.set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from(c), false);
    }
    props.build()
}

/// Write `batch` (in the table's current Arrow schema) to new data files of `table`, named
/// `<table>-<first position>-<uuid v7>` (unique per micro-batch). A partitioned table's rows are
/// grouped by partition (stable: each file keeps the batch's order) with one gather, then each
/// partition is written as a slice: one file per partition.
pub async fn write_batch(
    table: &Table,
    which: LakeTable,
    first_seq: u64,
    batch: arrow_array::RecordBatch,
) -> Result<Vec<DataFile>, LakeError> {
    use datafusion::arrow::array::{Array, AsArray, UInt32Array};
    use datafusion::arrow::compute::take_record_batch;
    use datafusion::arrow::row::{RowConverter, SortField};
    use iceberg::arrow::{PartitionValueCalculator, arrow_struct_to_literal};
    use iceberg::spec::{Literal, PartitionKey};

    let schema = table.metadata().current_schema().clone();
    let parquet = ParquetWriterBuilder::new(writer_properties(), schema.clone());
    let locations = DefaultLocationGenerator::new(table.metadata())?;
    let names = DefaultFileNameGenerator::new(
        format!("{}-{first_seq:020}-{}", which.name(), uuid::Uuid::now_v7()),
        None,
        DataFileFormat::Parquet,
    );
    let rolling =
        RollingFileWriterBuilder::new_with_default_file_size(parquet, table.file_io().clone(), locations, names);
    let builder = DataFileWriterBuilder::new(rolling);
    let spec = table.metadata().default_partition_spec().clone();
    if spec.is_unpartitioned() {
        let mut w = builder.build(None).await?;
        w.write(batch).await?;
        return Ok(w.close().await?);
    }
    // iceberg's RecordBatchPartitionSplitter turns every row's partition into a `Literal` struct
    // (allocations, a hash map keyed by clones) and filters the whole batch once per partition.
    // Here: the partition values as Arrow columns (the same calculator), each row's key as bytes
    // of the row format, a counting sort into partition order, and one `take`.
    let calculator = PartitionValueCalculator::try_new(&spec, &schema)?;
    let values = calculator.calculate(&batch)?;
    let value_columns = values.as_struct().columns().to_vec();
    let converter = RowConverter::new(value_columns.iter().map(|c| SortField::new(c.data_type().clone())).collect())?;
    let keys = converter.convert_columns(&value_columns)?;
    let mut group_of_key: HashMap<&[u8], u32> = HashMap::new();
    let mut first_row = Vec::new(); // per group: its first row, for the partition key
    let mut counts: Vec<u32> = Vec::new();
    let mut group_of_row = Vec::with_capacity(batch.num_rows());
    for (row, key) in keys.iter().enumerate() {
        let g = *group_of_key.entry(key.data()).or_insert_with(|| {
            first_row.push(row);
            counts.push(0);
            (first_row.len() - 1) as u32
        });
        counts[g as usize] += 1;
        group_of_row.push(g);
    }
    let mut starts = Vec::with_capacity(counts.len());
    let mut at = 0u32;
    for c in &counts {
        starts.push(at);
        at += c;
    }
    let grouped = if counts.len() == 1 {
        batch
    } else {
        let mut next = starts.clone();
        let mut order = vec![0u32; group_of_row.len()];
        for (row, g) in group_of_row.iter().enumerate() {
            order[next[*g as usize] as usize] = row as u32;
            next[*g as usize] += 1;
        }
        take_record_batch(&batch, &UInt32Array::from(order))?
    };
    let mut w = FanoutWriter::new(builder);
    for (g, row) in first_row.iter().enumerate() {
        let value = arrow_struct_to_literal(&values.slice(*row, 1), calculator.partition_type())?;
        let Some(Some(Literal::Struct(value))) = value.into_iter().next() else {
            return Err(LakeError::Iceberg(iceberg::Error::new(
                iceberg::ErrorKind::DataInvalid,
                "a partition value is not a struct",
            )));
        };
        let key = PartitionKey::new(spec.as_ref().clone(), schema.clone(), value);
        w.write(key, grouped.slice(starts[g] as usize, counts[g] as usize)).await?;
    }
    Ok(w.close().await?)
}

/// Commit `files` and the resume point in one fast append.
async fn commit(lake: &Lake, table: &Table, files: Vec<DataFile>, next: u64) -> Result<Table, LakeError> {
    let props = HashMap::from([
        (SOURCE_PROPERTY.to_string(), JOURNAL_SOURCE.to_string()),
        (NEXT_SEQ_PROPERTY.to_string(), next.to_string()),
    ]);
    commit_with(lake, table, files, props).await
}

/// Commit `files` with `props` in the snapshot summary, in one fast append.
pub async fn commit_with(
    lake: &Lake,
    table: &Table,
    files: Vec<DataFile>,
    props: HashMap<String, String>,
) -> Result<Table, LakeError> {
    let tx = Transaction::new(table);
    // File names are unique by construction: skip the O(table) duplicate check of every manifest.
    let tx =
        tx.fast_append().with_check_duplicate(false).add_data_files(files).set_snapshot_properties(props).apply(tx)?;
    Ok(tx.commit(lake.catalog().as_ref()).await?)
}

/// Bring every table up to the journal's head. `failpoint` stops the process dead at a point (for
/// crash tests; `None` in production).
pub async fn sync_journal(lake: &Lake, engine: &Engine, failpoint: Option<Failpoint>) -> Result<SyncReport, LakeError> {
    let reader = engine.journal_reader();
    let head = reader.record_count()?; // blocks 1..=head exist
    let mut report = SyncReport::default();
    // Per table: its current metadata, the resume point it committed, and how far this run has
    // read for it (a table with no rows in a stretch of blocks moves on without a commit).
    let mut tables = BTreeMap::new();
    for t in LakeTable::JOURNAL {
        let table = lake.table(t).await?;
        let next = next_seq(&table, t)?;
        tables.insert(t, (table, next, next));
    }
    let mut pos = tables.values().map(|(_, committed, _)| *committed).min().unwrap_or(1);
    while pos <= head {
        let mut rows = Rows::default();
        let mut last = pos - 1;
        for raw in reader.read_blocks(pos)?.take(MAX_BLOCKS_PER_COMMIT) {
            let raw = raw?;
            let block = raw.block.map_err(|e| LakeError::BadBlock { offset: raw.offset, reason: e.to_string() })?;
            if block.seq != last + 1 {
                return Err(LakeError::BadBlock {
                    offset: raw.offset,
                    reason: format!("expected block {}, found {}", last + 1, block.seq),
                });
            }
            // Each table takes the blocks from the one it has not seen yet.
            let for_block: Vec<LakeTable> =
                LakeTable::JOURNAL.iter().copied().filter(|t| tables[t].2 <= block.seq).collect();
            engine.read(|ledger| rows.add_block(ledger, &block, &for_block))??;
            last = block.seq;
            if LakeTable::JOURNAL.iter().any(|t| rows.len(*t) >= MAX_ROWS_PER_COMMIT) {
                break;
            }
        }
        if last < pos {
            break; // the journal ended early (cannot happen below `head`)
        }
        for (which, (table, committed, seen)) in tables.iter_mut() {
            if *seen > last {
                continue;
            }
            *seen = last + 1;
            let n_rows = rows.len(*which);
            if n_rows == 0 && last + 1 - *committed < MAX_EMPTY_LAG_BLOCKS {
                continue;
            }
            let files =
                if n_rows == 0 { Vec::new() } else { write_files(table, *which, *committed, &mut rows).await? };
            if failpoint == Some(Failpoint::AfterFilesBeforeCommit) && !files.is_empty() {
                std::process::abort();
            }
            *report.files.entry(which.name()).or_default() += files.len() as u64;
            *table = commit(lake, table, files, last + 1).await?;
            *committed = last + 1;
            report.commits += 1;
            *report.rows.entry(which.name()).or_default() += n_rows as u64;
            if failpoint == Some(Failpoint::AfterCommit) {
                std::process::abort();
            }
        }
        pos = last + 1;
    }
    for (which, (_, committed, _)) in &tables {
        report.next_seq.insert(which.name(), *committed);
    }
    Ok(report)
}
