//! Lakehouse benchmarks, each beside a baseline measured in the same run:
//!
//! 1. **Ingest**: the journal sink (journal blocks -> rows -> partitioned Parquet files -> Iceberg
//!    commits) against the same conversion written as plain, unpartitioned Parquet files with
//!    arrow's `ArrowWriter` (no catalog, no partition fan-out, no manifests): rows/s and the ratio.
//! 2. **Partitioning**: the same postings in a table partitioned by day only and in the lake's
//!    table partitioned by asset and day; for typical queries, the data files each scan keeps and
//!    the query time (best of 3).
//!
//! `cargo bench -p aurum-lake --bench lake` (AURUM_BENCH_TRANSFERS=N, default 1 000 000, spread
//! over 30 days and 4 assets).

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
use aurum_ledger_node::journal::JournalReader;
use iceberg::spec::{Transform, UnboundPartitionSpec};
use iceberg::{NamespaceIdent, TableCreation};

const DAY_NS: u64 = 86_400 * 1_000_000_000;
/// 2026-01-01T00:00:00Z.
const START_NS: u64 = 1_767_225_600 * 1_000_000_000;
const DAYS: u64 = 30;
const ASSETS: [(&str, u8); 4] = [("USD", 2), ("EUR", 2), ("INR", 2), ("XAU", 3)];
const ACCOUNTS_PER_ASSET: u128 = 250;
const BLOCK: usize = 8_190;

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

/// The baseline: the same journal -> rows conversion, written as plain Parquet files.
fn plain_parquet(engine: &Engine, out: &std::path::Path) -> u64 {
    std::fs::create_dir_all(out).unwrap();
    let reader = JournalReader::new(engine.log().clone());
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
            let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
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
    let transfers: usize =
        std::env::var("AURUM_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    eprintln!("building a ledger of {transfers} transfers over {DAYS} days and {} assets...", ASSETS.len());
    let engine = build_ledger(dir.path(), transfers);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

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
