//! Lakehouse benchmarks, each beside a baseline measured in the same run:
//!
//! 1. **Ingest**: the journal sink (journal blocks -> rows -> partitioned Parquet files -> Iceberg
//!    commits) against the same conversion written as plain, unpartitioned Parquet files with
//!    arrow's `ArrowWriter` (no catalog, no partition fan-out, no manifests): rows/s and the ratio.
//! 2. **Partitioning**: the same postings in a table partitioned by day only and in the lake's
//!    table partitioned by asset and day; for typical queries, the data files each scan keeps and
//!    the query time (best of 3).
//!
//! 3. **Analytics against DuckDB**: a lake of ≥ 10M rows (transfers + postings, written straight
//!    as the sink's rows with `write_batch`/`commit_with`, one commit per ≤ 500 000-row micro-batch
//!    like the sink); each named analytic (`SELECT * FROM <view>`, fully collected, best of 3) in
//!    DataFusion over the Iceberg tables, and the same SQL in DuckDB over the *same Parquet data
//!    files* (the tables' current snapshots, listed by planning an Iceberg scan), both on 2 threads;
//!    per query the times, the ratio, and a check that both give the same rows and exact sums.
//!
//! `cargo bench -p aurum-lake --bench lake [-- ingest|partitioning|analytics]` (default all).
//! AURUM_BENCH_TRANSFERS=N (parts 1 and 2, default 1 000 000, spread over 30 days and 4 assets);
//! AURUM_BENCH_ANALYTICS_TRANSFERS=N (part 3, default 3 500 000: about 10.4M transfers + postings).
//! DuckDB comes from a venv under the target directory (`<target>/duckdb-venv`, `pip install
//! duckdb`, created on first use as the recon benchmark does); without it part 3 prints `n/a`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aurum_lake::rows::Rows;
use aurum_lake::sink::{commit_with, sync_journal, write_batch};
use aurum_lake::tables::NAMESPACE;
use aurum_lake::{Lake, LakeTable, sql};
use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateTransfer, Limit, Timestamp,
    TransferFlags, TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use iceberg::spec::{Transform, UnboundPartitionSpec};
use iceberg::{NamespaceIdent, TableCreation};

const DAY_NS: u64 = 86_400 * 1_000_000_000;
/// 2026-01-01T00:00:00Z.
const START_NS: u64 = 1_767_225_600 * 1_000_000_000;
const DAYS: u64 = 30;
const ASSETS: [(&str, u8); 4] = [("USD", 2), ("EUR", 2), ("INR", 2), ("XAU", 3)];
const ACCOUNTS_PER_ASSET: u128 = 250;
const BLOCK: usize = 8_190;
/// Worker threads of the tokio runtime (DataFusion's `target_partitions` follows the cores: 2 here)
/// and of DuckDB.
const THREADS: usize = 2;

fn build_ledger(dir: &std::path::Path, transfers: usize) -> Engine {
    let day = Arc::new(AtomicU64::new(0));
    let clock_day = day.clone();
    let config = EngineConfig {
        clock: Arc::new(move || {
            Timestamp(START_NS + clock_day.load(Ordering::Relaxed) * DAY_NS + 9 * 3_600_000_000_000)
        }),
        ..EngineConfig::default()
    };
    let (engine, _) = Engine::open(Arc::new(aurum_vfs::OsVfs), dir, config).unwrap();
    let mut setup = Vec::new();
    for (i, (code, scale)) in ASSETS.iter().enumerate() {
        setup.push(Command::CreateAsset(CreateAsset {
            id: AssetId(i as u32 + 1),
            code: (*code).into(),
            scale: *scale,
        }));
        for a in 0..ACCOUNTS_PER_ASSET {
            setup.push(Command::CreateAccount(CreateAccount {
                id: AccountId(i as u128 * 1_000 + a + 1),
                asset: AssetId(i as u32 + 1),
                kind: AccountKind::Liability,
                limit: Limit::None,
                history: false,
                metadata: Default::default(),
                linked: false,
            }));
        }
    }
    engine.submit(setup).unwrap();
    let mut rng = aurum_vfs::rng::SplitMix64::new(42);
    let blocks = transfers.div_ceil(BLOCK);
    let mut id = 1u128;
    for b in 0..blocks {
        day.store(b as u64 * DAYS / blocks as u64, Ordering::Relaxed);
        let n = BLOCK.min(transfers - b * BLOCK);
        let batch: Vec<Command> = (0..n)
            .map(|_| {
                let asset = rng.below(ASSETS.len() as u64) as u128;
                let from = asset * 1_000 + 1 + u128::from(rng.below(ACCOUNTS_PER_ASSET as u64));
                let mut to = asset * 1_000 + 1 + u128::from(rng.below(ACCOUNTS_PER_ASSET as u64));
                if to == from {
                    to = asset * 1_000 + 1 + (to % ACCOUNTS_PER_ASSET);
                }
                id += 1;
                Command::CreateTransfer(CreateTransfer {
                    id: TransferId(id),
                    debit_account: AccountId(from),
                    credit_account: AccountId(to),
                    amount: 1 + u128::from(rng.below(1_000_000)),
                    asset: AssetId(asset as u32 + 1),
                    flags: TransferFlags::default(),
                    timeout_secs: 0,
                    metadata: Default::default(),
                })
            })
            .collect();
        engine.submit(batch).unwrap();
    }
    engine
}

/// The baseline: the same journal -> rows conversion, written as plain Parquet files with the
/// lake's writer settings (`sink::writer_properties`).
fn plain_parquet(engine: &Engine, out: &std::path::Path) -> u64 {
    std::fs::create_dir_all(out).unwrap();
    let reader = engine.journal_reader();
    let mut rows = Rows::default();
    let mut written = 0u64;
    let mut file_no = 0;
    let flush = |rows: &mut Rows, file_no: &mut usize| -> u64 {
        let mut n = 0;
        for t in LakeTable::JOURNAL {
            if rows.len(t) == 0 {
                continue;
            }
            let schema = Arc::new(iceberg::arrow::schema_to_arrow_schema(&t.schema().unwrap()).unwrap());
            let batch = rows.take_batch(t, schema.clone()).unwrap();
            n += batch.num_rows() as u64;
            let f = std::fs::File::create(out.join(format!("{}-{file_no}.parquet", t.name()))).unwrap();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(f, schema, Some(aurum_lake::sink::writer_properties())).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        }
        *file_no += 1;
        n
    };
    for raw in reader.read_blocks(1).unwrap() {
        let block = raw.unwrap().block.unwrap();
        engine.read(|l| rows.add_block(l, &block, &LakeTable::JOURNAL)).unwrap().unwrap();
        if rows.len(LakeTable::Postings) >= aurum_lake::sink::MAX_ROWS_PER_COMMIT {
            written += flush(&mut rows, &mut file_no);
        }
    }
    written + flush(&mut rows, &mut file_no)
}

async fn timed(ctx: &datafusion::prelude::SessionContext, q: &str) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let b = sql::query(ctx, q).await.unwrap();
        std::hint::black_box(b);
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    // `cargo bench` passes `--bench`; the other arguments name the parts to run (none: all).
    let parts: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(THREADS).enable_all().build().unwrap();
    if want("ingest") || want("partitioning") {
        ingest_and_partitioning(&rt);
    }
    if want("analytics") {
        analytics(&rt);
    }
}

fn ingest_and_partitioning(rt: &tokio::runtime::Runtime) {
    let transfers: usize =
        std::env::var("AURUM_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    eprintln!("building a ledger of {transfers} transfers over {DAYS} days and {} assets...", ASSETS.len());
    let engine = build_ledger(dir.path(), transfers);

    // 1. Ingest.
    let t = Instant::now();
    let baseline_rows = plain_parquet(&engine, &dir.path().join("plain"));
    let baseline_secs = t.elapsed().as_secs_f64();
    let (report, lake, lake_secs) = rt.block_on(async {
        let lake = Lake::open(&dir.path().join("lake")).await.unwrap();
        let t = Instant::now();
        let report = sync_journal(&lake, &engine, None).await.unwrap();
        (report, lake, t.elapsed().as_secs_f64())
    });
    let lake_rows: u64 = report.rows.values().sum();
    assert_eq!(lake_rows, baseline_rows, "both paths write every row");
    println!("ingest of {lake_rows} rows (transfers, postings, accounts) from the journal:");
    println!(
        "  plain Parquet (baseline)       {:>10.0} rows/s  ({baseline_secs:.2} s)",
        baseline_rows as f64 / baseline_secs
    );
    println!(
        "  Iceberg, partitioned, committed {:>9.0} rows/s  ({lake_secs:.2} s, {} commits, {} files)  ratio {:.2}",
        lake_rows as f64 / lake_secs,
        report.commits,
        report.files.values().sum::<u64>(),
        (lake_rows as f64 / lake_secs) / (baseline_rows as f64 / baseline_secs)
    );

    // 2. Partitioning: the same postings by day only.
    rt.block_on(async {
        let postings = lake.table(LakeTable::Postings).await.unwrap();
        let creation = TableCreation::builder()
            .name("postings_by_day".to_string())
            .schema(LakeTable::Postings.schema().unwrap())
            .partition_spec(UnboundPartitionSpec::builder().add_partition_field(2, "ts_day", Transform::Day).unwrap().build())
            .build();
        let by_day = lake.catalog().create_table(&NamespaceIdent::new(NAMESPACE.to_string()), creation).await.unwrap();
        // Copy the rows micro-batch by micro-batch, as the sink wrote them.
        let ctx = sql::session(&lake).await.unwrap();
        // In journal order, as the sink would have written a by-day table (assets mixed in every file).
        let batches = sql::query(&ctx, "SELECT * FROM postings ORDER BY seq, transfer_id, side").await.unwrap();
        let mut files = Vec::new();
        let schema = Arc::new(iceberg::arrow::schema_to_arrow_schema(by_day.metadata().current_schema()).unwrap());
        let chunk = 500_000;
        let all = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let mut off = 0;
        while off < all.num_rows() {
            let len = chunk.min(all.num_rows() - off);
            let part = all.slice(off, len);
            let part = datafusion::arrow::record_batch::RecordBatch::try_new(schema.clone(), part.columns().to_vec()).unwrap();
            files.extend(write_batch(&by_day, LakeTable::Postings, off as u64, part).await.unwrap());
            off += len;
        }
        commit_with(&lake, &by_day, files, Default::default()).await.unwrap();
        drop(postings);

        let ctx = sql::session(&lake).await.unwrap();
        let day10 = "2026-01-11T00:00:00Z";
        let day11 = "2026-01-12T00:00:00Z";
        let queries = [
            ("one asset, all days", "SELECT sum(amount) AS s FROM {t} WHERE asset = 'XAU'".to_string()),
            ("one day, all assets", format!("SELECT asset, sum(amount) AS s FROM {{t}} WHERE ts >= '{day10}' AND ts < '{day11}' GROUP BY asset ORDER BY asset")),
            ("one asset, one day", format!("SELECT sum(amount) AS s FROM {{t}} WHERE asset = 'XAU' AND ts >= '{day10}' AND ts < '{day11}'")),
            ("everything", "SELECT asset, count(*) AS n FROM {t} GROUP BY asset ORDER BY asset".to_string()),
        ];
        println!("\npartitioning of {} postings: by day vs by asset and day", all.num_rows());
        println!("{:22} {:>22} {:>22} {:>8}", "query", "by day: files, s", "asset+day: files, s", "ratio");
        for (name, q) in queries {
            let mut cells = Vec::new();
            for t in ["postings_by_day", "postings"] {
                let sql_text = q.replace("{t}", t);
                let (_, scans) = sql::explain(&ctx, &sql_text).await.unwrap();
                let secs = timed(&ctx, &sql_text).await;
                let (a, b) = (scans[0].files_scanned, scans[0].files_total);
                // Both layouts answer the same.
                let got = sql::format(&sql::query(&ctx, &sql_text).await.unwrap()).unwrap();
                cells.push((format!("{a}/{b}, {secs:.3}"), secs, got));
            }
            assert_eq!(cells[0].2, cells[1].2, "{name}: both layouts give the same answer:\n{}\n{}", cells[0].2, cells[1].2);
            println!("{:22} {:>22} {:>22} {:>8.2}", name, cells[0].0, cells[1].0, cells[0].1 / cells[1].1);
        }
    });
}

// 3. Analytics against DuckDB.

/// The named analytics timed against DuckDB (`aurum_lake::analytics::ANALYTICS`, by name).
const TIMED_VIEWS: [&str; 6] =
    ["payment_volume", "amount_p95", "holdings", "holdings_by_asset", "onchain_share", "refusals"];
/// Refused transfers, in percent, and the result codes they get.
const REFUSED_PERCENT: u64 = 2;
const REFUSALS: [&str; 3] = ["exceeds_credits", "exceeds_debits", "credit_account_not_found"];
/// Transfers per micro-batch: two postings each stay under the sink's `MAX_ROWS_PER_COMMIT`.
const ANALYTICS_CHUNK: usize = aurum_lake::sink::MAX_ROWS_PER_COMMIT / 2 - 10_000;

/// The DuckDB side: views named like the tables over `read_parquet([...])` of the given files, the
/// analytics' views, then each query materialised (`CREATE TEMP TABLE … AS SELECT * FROM <view>`,
/// DuckDB's own result format, as `collect()` is DataFusion's), best of `runs`, timed inside the
/// process. Then, untimed, the row count and the exact sum (as text) of every integer or decimal
/// column of the result.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, time
from decimal import Decimal
import duckdb

def norm(v):
    if v is None:
        return "null"
    s = format(Decimal(v), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s

cfg = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute(f"SET threads = {cfg['threads']}")
con.execute("SET TimeZone = 'UTC'")
for table, files in cfg["tables"].items():
    names = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{names}])")
for name, sql in cfg["views"]:
    con.execute(f"CREATE VIEW {name} AS {sql}")
exact_types = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
out = {"version": duckdb.__version__, "queries": {}}
for name in cfg["queries"]:
    best = None
    for _ in range(cfg["runs"]):
        t = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE bench_result AS SELECT * FROM {name}")
        e = time.perf_counter() - t
        best = e if best is None else min(best, e)
    cols = [(r[0], r[1]) for r in con.execute("DESCRIBE bench_result").fetchall()]
    exact = [c for c, ty in cols if ty.startswith("DECIMAL") or ty in exact_types]
    sel = ", ".join(["count(*)"] + [f'CAST(sum("{c}") AS VARCHAR)' for c in exact])
    row = con.execute(f"SELECT {sel} FROM bench_result").fetchone()
    out["queries"][name] = {"secs": best, "rows": int(row[0]), "sums": {c: norm(v) for c, v in zip(exact, row[1:])}}
    con.execute("DROP TABLE bench_result")
print(json.dumps(out))
"#;

/// A result's row count and the exact sum of each integer or decimal column, as normalised text
/// (no trailing zeros), comparable with the DuckDB script's.
fn checksums(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> (u64, BTreeMap<String, String>) {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int32Type, Int64Type, UInt64Type};
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let mut sums = BTreeMap::new();
    let Some(first) = batches.first() else { return (rows, sums) };
    for (i, field) in first.schema().fields().iter().enumerate() {
        let scale = match field.data_type() {
            DataType::Decimal128(_, s) => *s as u32,
            DataType::Int32 | DataType::Int64 | DataType::UInt64 => 0,
            _ => continue,
        };
        let mut sum: Option<i128> = None;
        for b in batches {
            let col = b.column(i);
            let add = |sum: &mut Option<i128>, v: i128| *sum = Some(sum.unwrap_or(0).checked_add(v).expect("sum fits"));
            for r in 0..col.len() {
                if col.is_null(r) {
                    continue;
                }
                let v = match field.data_type() {
                    DataType::Decimal128(..) => col.as_primitive::<Decimal128Type>().value(r),
                    DataType::Int32 => i128::from(col.as_primitive::<Int32Type>().value(r)),
                    DataType::Int64 => i128::from(col.as_primitive::<Int64Type>().value(r)),
                    _ => i128::from(col.as_primitive::<UInt64Type>().value(r)),
                };
                add(&mut sum, v);
            }
        }
        let text = match sum {
            None => "null".to_string(),
            Some(v) => {
                let digits = v.unsigned_abs().to_string();
                let scale = scale as usize;
                let padded = format!("{digits:0>width$}", width = scale + 1);
                let (int, frac) = padded.split_at(padded.len() - scale);
                let frac = frac.trim_end_matches('0');
                let sign = if v < 0 { "-" } else { "" };
                if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
            }
        };
        sums.insert(field.name().clone(), text);
    }
    (rows, sums)
}

/// Build the analytics lake: transfers, their postings and the accounts, as the sink's rows (the
/// tables' own schemas, `project_by_name`, exact decimals from `decimal_units`), in journal order,
/// one write and one commit per micro-batch per table. Returns (transfers, postings, accounts).
async fn build_analytics_lake(lake: &Lake, transfers: usize) -> (u64, u64, u64) {
    use aurum_lake::rows::{decimal_units, project_by_name};
    use aurum_lake::sink::{JOURNAL_SOURCE, NEXT_SEQ_PROPERTY, SOURCE_PROPERTY};
    use datafusion::arrow::array::ArrayRef;
    use datafusion::arrow::array::builder::{
        Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    };
    use std::fmt::Write as _;
    let arrow_schema = |t: &iceberg::table::Table| {
        Arc::new(iceberg::arrow::schema_to_arrow_schema(t.metadata().current_schema()).unwrap())
    };
    let dec =
        |b: &mut Decimal128Builder| -> ArrayRef { Arc::new(b.finish().with_precision_and_scale(38, 18).unwrap()) };
    let props = |next: u64| {
        HashMap::from([
            (SOURCE_PROPERTY.to_string(), JOURNAL_SOURCE.to_string()),
            (NEXT_SEQ_PROPERTY.to_string(), next.to_string()),
        ])
    };

    // Accounts: 250 per asset; the first of each is the platform's (kind asset), every 10th a
    // token wallet (metadata role), the rest customers (liability).
    let mut accounts_table = lake.table(LakeTable::Accounts).await.unwrap();
    let (mut seq, mut ts, mut account, mut asset, mut kind, mut metadata) = (
        Int64Builder::new(),
        TimestampMicrosecondBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for (i, (code, _)) in ASSETS.iter().enumerate() {
        for a in 0..ACCOUNTS_PER_ASSET {
            seq.append_value(1);
            ts.append_value((START_NS / 1_000) as i64);
            account.append_value((i as u128 * 1_000 + a + 1).to_string());
            asset.append_value(code);
            kind.append_value(if a == 0 { "asset" } else { "liability" });
            metadata.append_option((a % 10 == 9).then_some(r#"{"role":"token-wallet"}"#));
        }
    }
    let n_accounts = ASSETS.len() as u64 * ACCOUNTS_PER_ASSET as u64;
    let known: Vec<(&str, ArrayRef)> = vec![
        ("seq", Arc::new(seq.finish())),
        ("ts", Arc::new(ts.finish().with_timezone("+00:00"))),
        ("account", Arc::new(account.finish())),
        ("asset", Arc::new(asset.finish())),
        ("kind", Arc::new(kind.finish())),
        ("metadata", Arc::new(metadata.finish())),
    ];
    let batch = project_by_name(&known, arrow_schema(&accounts_table)).unwrap();
    let files = write_batch(&accounts_table, LakeTable::Accounts, 1, batch).await.unwrap();
    accounts_table = commit_with(lake, &accounts_table, files, props(2)).await.unwrap();
    drop(accounts_table);

    let mut transfers_table = lake.table(LakeTable::Transfers).await.unwrap();
    let mut postings_table = lake.table(LakeTable::Postings).await.unwrap();
    let mut rng = aurum_vfs::rng::SplitMix64::new(7);
    let span = u128::from(DAYS * DAY_NS);
    let (mut n_transfers, mut n_postings) = (0u64, 0u64);
    let mut first = 0;
    while first < transfers {
        let n = ANALYTICS_CHUNK.min(transfers - first);
        let mut t = (
            Int64Builder::new(),
            TimestampMicrosecondBuilder::new(),
            Int64Builder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            Decimal128Builder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let mut p = (
            Int64Builder::new(),
            TimestampMicrosecondBuilder::new(),
            Int64Builder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            Decimal128Builder::new(),
        );
        let first_seq = (first / BLOCK) as u64 + 2;
        for i in first..first + n {
            let seq = (i / BLOCK) as u64 + 2; // block 1 created the accounts
            let ts_ns = START_NS + (i as u128 * span / transfers as u128) as u64;
            let a = rng.below(ASSETS.len() as u64) as usize;
            let (code, scale) = ASSETS[a];
            let from = a as u128 * 1_000 + 1 + u128::from(rng.below(ACCOUNTS_PER_ASSET as u64));
            let mut to = a as u128 * 1_000 + 1 + u128::from(rng.below(ACCOUNTS_PER_ASSET as u64));
            if to == from {
                to = a as u128 * 1_000 + 1 + (to % ACCOUNTS_PER_ASSET);
            }
            let units = 1 + u128::from(rng.below(1_000_000));
            let refused = rng.below(100) < REFUSED_PERCENT;
            let result = if refused { REFUSALS[rng.below(REFUSALS.len() as u64) as usize] } else { "ok" };
            let id = i as u128 + 1_000_000;
            let amount = decimal_units(units, scale, || id.to_string()).unwrap();
            t.0.append_value(seq as i64);
            t.1.append_value((ts_ns / 1_000) as i64);
            t.2.append_value(ts_ns as i64);
            write!(t.3, "{id}").unwrap();
            t.3.append_value("");
            t.4.append_value("posted");
            t.5.append_value(result);
            write!(t.6, "{from}").unwrap();
            t.6.append_value("");
            write!(t.7, "{to}").unwrap();
            t.7.append_value("");
            t.8.append_value(code);
            t.9.append_value(amount);
            t.10.append_null();
            if rng.below(10) == 0 {
                write!(t.11, r#"{{"order":"o-{id}"}}"#).unwrap();
                t.11.append_value("");
            } else {
                t.11.append_null();
            }
            if !refused {
                for (account, side) in [(from, "debit"), (to, "credit")] {
                    p.0.append_value(seq as i64);
                    p.1.append_value((ts_ns / 1_000) as i64);
                    p.2.append_value(ts_ns as i64);
                    write!(p.3, "{id}").unwrap();
                    p.3.append_value("");
                    write!(p.4, "{account}").unwrap();
                    p.4.append_value("");
                    p.5.append_value(code);
                    p.6.append_value(side);
                    p.7.append_value(amount);
                }
            }
        }
        let next = ((first + n - 1) / BLOCK) as u64 + 3;
        let tz = "+00:00";
        let known: Vec<(&str, ArrayRef)> = vec![
            ("seq", Arc::new(t.0.finish())),
            ("ts", Arc::new(t.1.finish().with_timezone(tz))),
            ("ts_ns", Arc::new(t.2.finish())),
            ("transfer_id", Arc::new(t.3.finish())),
            ("kind", Arc::new(t.4.finish())),
            ("result", Arc::new(t.5.finish())),
            ("debit_account", Arc::new(t.6.finish())),
            ("credit_account", Arc::new(t.7.finish())),
            ("asset", Arc::new(t.8.finish())),
            ("amount", dec(&mut t.9)),
            ("pending_id", Arc::new(t.10.finish())),
            ("metadata", Arc::new(t.11.finish())),
        ];
        let batch = project_by_name(&known, arrow_schema(&transfers_table)).unwrap();
        n_transfers += batch.num_rows() as u64;
        let files = write_batch(&transfers_table, LakeTable::Transfers, first_seq, batch).await.unwrap();
        transfers_table = commit_with(lake, &transfers_table, files, props(next)).await.unwrap();
        let known: Vec<(&str, ArrayRef)> = vec![
            ("seq", Arc::new(p.0.finish())),
            ("ts", Arc::new(p.1.finish().with_timezone(tz))),
            ("ts_ns", Arc::new(p.2.finish())),
            ("transfer_id", Arc::new(p.3.finish())),
            ("account", Arc::new(p.4.finish())),
            ("asset", Arc::new(p.5.finish())),
            ("side", Arc::new(p.6.finish())),
            ("amount", dec(&mut p.7)),
        ];
        let batch = project_by_name(&known, arrow_schema(&postings_table)).unwrap();
        n_postings += batch.num_rows() as u64;
        let files = write_batch(&postings_table, LakeTable::Postings, first_seq, batch).await.unwrap();
        postings_table = commit_with(lake, &postings_table, files, props(next)).await.unwrap();
        first += n;
    }
    (n_transfers, n_postings, n_accounts)
}

/// The local paths of the data files of `table`'s current snapshot.
async fn data_files(lake: &Lake, table: LakeTable) -> Vec<String> {
    use futures::TryStreamExt;
    let t = lake.table(table).await.unwrap();
    let tasks: Vec<_> = t.scan().select_all().build().unwrap().plan_files().await.unwrap().try_collect().await.unwrap();
    tasks
        .iter()
        .map(|task| task.data_file_path.strip_prefix("file://").unwrap_or(&task.data_file_path).to_string())
        .collect()
}

/// The analytic's SQL for DuckDB. The dialects agree on everything the timed views use (CASE,
/// window functions, LIKE, CAST … AS DOUBLE/BIGINT, subqueries) but one function: the views bin
/// days with `date_bin(INTERVAL '1 day', ts)` (DataFusion's `date_trunc('day', …)` of a timestamp
/// with a time zone goes through chrono per value; `date_bin` is integer arithmetic, the same UTC
/// midnight), which DuckDB lacks. DuckDB gets `date_trunc('day', ts)`, the same value (the session
/// time zone is UTC) and its fastest form: its own `time_bucket` is about 4× slower here.
fn duckdb_sql(_name: &str, sql: &str) -> String {
    sql.replace("date_bin(INTERVAL '1 day', ", "date_trunc('day', ")
}

fn analytics(rt: &tokio::runtime::Runtime) {
    let transfers: usize =
        std::env::var("AURUM_BENCH_ANALYTICS_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_500_000);
    let dir = tempfile::tempdir().unwrap();
    let lake_dir = dir.path().join("lake");
    rt.block_on(async {
        let lake = Lake::open(&lake_dir).await.unwrap();
        eprintln!("writing {transfers} transfers and their postings into the lake...");
        let t = Instant::now();
        let (n_t, n_p, n_a) = build_analytics_lake(&lake, transfers).await;
        eprintln!("  {} rows in {:.1} s", n_t + n_p + n_a, t.elapsed().as_secs_f64());
        let mut files = BTreeMap::new();
        for table in LakeTable::JOURNAL {
            files.insert(table.name(), data_files(&lake, table).await);
        }

        // DataFusion.
        let ctx = sql::session(&lake).await.unwrap();
        let mut df = BTreeMap::new();
        for name in TIMED_VIEWS {
            let q = format!("SELECT * FROM {name}");
            let mut best = f64::MAX;
            let mut last = Vec::new();
            for _ in 0..3 {
                let t = Instant::now();
                let b = sql::query(&ctx, &q).await.unwrap();
                best = best.min(t.elapsed().as_secs_f64());
                last = b;
            }
            df.insert(name, (best, checksums(&last)));
        }

        // DuckDB over the same files.
        let views: Vec<(&str, String)> = aurum_lake::analytics::ANALYTICS
            .iter()
            .filter(|a| TIMED_VIEWS.contains(&a.name))
            .map(|a| (a.name, duckdb_sql(a.name, a.sql)))
            .collect();
        let config = serde_json::json!({
            "threads": THREADS,
            "runs": 3,
            "tables": files,
            "views": views,
            "queries": TIMED_VIEWS,
        });
        let duck = aurum_pyenv::duckdb().and_then(|python| {
            let cfg = dir.path().join("duckdb.json");
            let script = dir.path().join("duckdb_analytics.py");
            std::fs::write(&cfg, config.to_string()).map_err(|e| e.to_string())?;
            std::fs::write(&script, DUCKDB_SCRIPT).map_err(|e| e.to_string())?;
            let out = std::process::Command::new(python).arg(&script).arg(&cfg).output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!("duckdb script failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
            }
            serde_json::from_slice::<serde_json::Value>(&out.stdout).map_err(|e| format!("bad report: {e}"))
        });

        let n_files: Vec<String> = files.iter().map(|(t, f)| format!("{t} {}", f.len())).collect();
        println!(
            "\nanalytics over {} rows (transfers {n_t}, postings {n_p}, accounts {n_a}; data files: {}), \
             DataFusion 53.1 vs DuckDB {} on the same Parquet files, {THREADS} threads each, best of 3",
            n_t + n_p + n_a,
            n_files.join(", "),
            duck.as_ref().map_or("n/a".to_string(), |d| d["version"].as_str().unwrap_or("?").to_string()),
        );
        if let Err(e) = &duck {
            println!("  DuckDB baseline unavailable: {e}");
        }
        println!(
            "{:20} {:>9} {:>14} {:>10} {:>8}  same rows and sums",
            "query", "rows", "DataFusion ms", "DuckDB ms", "ratio"
        );
        let mut all_same = true;
        for name in TIMED_VIEWS {
            let (secs, (rows, sums)) = &df[name];
            let (duck_ms, ratio, same) = match &duck {
                Ok(d) => {
                    let q = &d["queries"][name];
                    let dsecs = q["secs"].as_f64().unwrap();
                    let drows = q["rows"].as_u64().unwrap();
                    let dsums: BTreeMap<String, String> = q["sums"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    let same = drows == *rows && dsums == *sums;
                    if !same {
                        eprintln!("{name}: DataFusion {rows} rows {sums:?}\n{name}: DuckDB {drows} rows {dsums:?}");
                    }
                    (format!("{:.1}", dsecs * 1e3), format!("{:.2}", secs / dsecs), if same { "yes" } else { "NO" })
                }
                Err(_) => ("n/a".to_string(), "n/a".to_string(), "n/a"),
            };
            all_same &= same != "NO";
            println!("{:20} {:>9} {:>14.1} {:>10} {:>8}  {same}", name, rows, secs * 1e3, duck_ms, ratio);
        }
        assert!(all_same, "DataFusion and DuckDB disagree (see above)");
    });
}
