//! Throughput of the PostgreSQL projection, beside a baseline in the same run.
//!
//! The journal: `BLOCKS` blocks of `PER_BLOCK` transfers between `ACCOUNTS` accounts with
//! history (so every transfer is a transfers row, a fact row, two postings and two history lines).
//!
//! - subject: the projector — re-executes every block and writes each transaction with text
//!   COPY and UNNEST upserts (the product's path);
//! - baseline: the same rows (read back from the subject's tables) written with one prepared
//!   single-row INSERT each, in transactions of the same size — what a projection written the
//!   plain way costs, without even re-executing the ledger.
//!
//! Run: `scripts/postgres-up.sh && cargo bench -p aurum-pg --bench projection` (`-- quick` for a
//! tenth of the journal). Needs the local PostgreSQL (`AURUM_TEST_PG_URL` or the script's URL).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use aurum_foundations_bench::{Measurement, print_comparison, print_row};
use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateTransfer, Limit, Metadata,
    TransferFlags, TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_pg::project::MAX_BATCH_ROWS;
use aurum_pg::{DEFAULT_PROJECTION, PgConfig, Projector, ReadModel};
use aurum_vfs::OsVfs;
use aurum_vfs::rng::SplitMix64;

const ACCOUNTS: u64 = 2_000;
const PER_BLOCK: u64 = 1_000;

/// The tables the projection writes, in foreign-key order.
const TABLES: &[&str] = &[
    "assets",
    "dim_asset",
    "accounts",
    "dim_account",
    "transfers",
    "postings",
    "fact_transfers",
    "balances",
    "balance_history",
];

fn build_journal(dir: &Path, blocks: u64) -> Engine {
    let (engine, _) = Engine::open(Arc::new(OsVfs), dir, EngineConfig::default()).unwrap();
    let mut setup = vec![Command::CreateAsset(CreateAsset { id: AssetId(1), code: "XAU".into(), scale: 3 })];
    for a in 0..ACCOUNTS {
        setup.push(Command::CreateAccount(CreateAccount {
            id: AccountId(u128::from(a + 1)),
            asset: AssetId(1),
            kind: AccountKind::Asset,
            limit: Limit::None,
            history: true,
            metadata: Metadata::new(),
            linked: false,
        }));
    }
    engine.submit(setup).unwrap();
    let mut rng = SplitMix64::new(42);
    let mut id = 0u128;
    for _ in 0..blocks {
        let cmds = (0..PER_BLOCK)
            .map(|_| {
                id += 1;
                let from = 1 + rng.below(ACCOUNTS);
                let to = 1 + (from + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
                Command::CreateTransfer(CreateTransfer {
                    id: TransferId(id),
                    debit_account: AccountId(u128::from(from)),
                    credit_account: AccountId(u128::from(to)),
                    amount: 1 + u128::from(rng.below(1_000_000)),
                    asset: AssetId(1),
                    flags: TransferFlags::default(),
                    timeout_secs: 0,
                    metadata: Metadata::new(),
                })
            })
            .collect();
        engine.submit(cmds).unwrap();
    }
    engine
}

/// Every row of `table` in `schema` as text values, with each column's SQL type.
async fn rows_of(pool: &sqlx::PgPool, schema: &str, table: &str) -> (Vec<(String, String)>, Vec<Vec<Option<String>>>) {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, format_type(atttypid, atttypmod) FROM information_schema.columns c
         JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
              AND a.attname = c.column_name
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap();
    let select = columns.iter().map(|(c, _)| format!("{c}::text")).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!("SELECT {select} FROM {schema}.{table}")).fetch_all(pool).await.unwrap();
    use sqlx::Row;
    let values = rows.iter().map(|r| (0..columns.len()).map(|i| r.get::<Option<String>, _>(i)).collect()).collect();
    (columns, values)
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let blocks: u64 = if quick { 20 } else { 200 };
    let url = aurum_testenv::postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let engine = build_journal(dir.path(), blocks);
    let journal = engine.journal_reader();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let subject_schema = format!("bench_copy_{tag}");
        let baseline_schema = format!("bench_rows_{tag}");
        println!(
            "== PostgreSQL projection: {blocks} blocks of {PER_BLOCK} transfers, {ACCOUNTS} accounts with history =="
        );

        let subject =
            ReadModel::connect(&PgConfig { url: url.clone(), schema: Some(subject_schema.clone()) }).await.unwrap();
        let start = Instant::now();
        let mut p = Projector::open(subject.pool(), DEFAULT_PROJECTION, &journal).await.unwrap();
        let report = p.sync(&journal, None).await.unwrap();
        let copy = Measurement {
            name: "projector: re-execute + text COPY + UNNEST upserts".into(),
            ops: report.rows,
            bytes: 0,
            elapsed: start.elapsed(),
        };

        // The baseline writes the same rows into an empty copy of the schema.
        let baseline =
            ReadModel::connect(&PgConfig { url: url.clone(), schema: Some(baseline_schema.clone()) }).await.unwrap();
        let mut inputs = Vec::new();
        for table in TABLES {
            inputs.push((table, rows_of(subject.pool(), &subject_schema, table).await));
        }
        let start = Instant::now();
        let mut rows = 0u64;
        let mut tx = baseline.pool().begin().await.unwrap();
        let mut in_tx = 0usize;
        for (table, (columns, values)) in &inputs {
            let names = columns.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ");
            let params =
                columns.iter().enumerate().map(|(i, (_, t))| format!("${}::{t}", i + 1)).collect::<Vec<_>>().join(", ");
            let sql = format!("INSERT INTO {table} ({names}) VALUES ({params})");
            for row in values {
                let mut q = sqlx::query(&sql);
                for v in row {
                    q = q.bind(v.as_deref());
                }
                q.execute(&mut *tx).await.unwrap();
                rows += 1;
                in_tx += 1;
                if in_tx >= MAX_BATCH_ROWS {
                    tx.commit().await.unwrap();
                    tx = baseline.pool().begin().await.unwrap();
                    in_tx = 0;
                }
            }
        }
        tx.commit().await.unwrap();
        let single = Measurement {
            name: "single-row INSERTs of the same rows".into(),
            ops: rows,
            bytes: 0,
            elapsed: start.elapsed(),
        };
        print_row(&single);
        print_comparison(&copy, &single);
        println!(
            "projector: {} blocks, {} transfers, {} rows in {} transactions, {:.3} s; {:.0} transfers/s",
            report.blocks,
            blocks * PER_BLOCK,
            report.rows,
            report.transactions,
            copy.elapsed.as_secs_f64(),
            (blocks * PER_BLOCK) as f64 / copy.elapsed.as_secs_f64()
        );
        for schema in [subject_schema, baseline_schema] {
            sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE")).execute(subject.pool()).await.unwrap();
        }
    });
}
