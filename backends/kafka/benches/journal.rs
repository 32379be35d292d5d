//! Durable transfers per second with the journal on Kafka, beside the embedded log in the same
//! run: the same engine, workload and clients, only the journal's backend differs.
//!
//! Durable means acknowledged by the backend as its policy demands: an fsync for the embedded log;
//! `acks=all` for Kafka (every in-sync replica has the record, not necessarily on disk — with the
//! single tansu broker the tests use, its SQLite WAL with `synchronous=normal`).
//!
//! Run: `cargo bench -p aurum-kafka --bench journal` (`-- quick` for a tenth), with a broker at
//! `AURUM_TEST_KAFKA` or started by scripts/tansu-up.sh.

use std::sync::Arc;
use std::time::Instant;

use aurum_foundations_bench::{Measurement, print_comparison, print_row};
use aurum_kafka::KafkaConfig;
use aurum_kafka::node::open_engine;
use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateTransfer, Limit, Metadata,
    TransferFlags, TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_vfs::OsVfs;

const ACCOUNTS: u64 = 1_000;

fn setup(engine: &Engine) {
    let mut cmds = vec![Command::CreateAsset(CreateAsset { id: AssetId(1), code: "XAU".into(), scale: 3 })];
    for a in 0..ACCOUNTS {
        cmds.push(Command::CreateAccount(CreateAccount {
            id: AccountId(u128::from(a + 1)),
            asset: AssetId(1),
            kind: AccountKind::Asset,
            limit: Limit::None,
            history: false,
            metadata: Metadata::new(),
            linked: false,
        }));
    }
    engine.submit(cmds).unwrap();
}

/// `clients` threads each submitting `requests` requests of `per_request` transfers.
fn run(engine: &Engine, name: String, clients: u64, requests: u64, per_request: u64) -> Measurement {
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            s.spawn(move || {
                for r in 0..requests {
                    let base = (u128::from(c) << 64) | (u128::from(r) << 20);
                    let cmds = (0..per_request)
                        .map(|i| {
                            let from = 1 + (c * 7 + r * 13 + i) % ACCOUNTS;
                            let to = 1 + (from + 1 + i % (ACCOUNTS - 1)) % ACCOUNTS;
                            Command::CreateTransfer(CreateTransfer {
                                id: TransferId(base + u128::from(i) + 1),
                                debit_account: AccountId(u128::from(from)),
                                credit_account: AccountId(u128::from(to)),
                                amount: 1,
                                asset: AssetId(1),
                                flags: TransferFlags::default(),
                                timeout_secs: 0,
                                metadata: Metadata::new(),
                            })
                        })
                        .collect();
                    engine.submit(cmds).unwrap();
                }
            });
        }
    });
    Measurement { name, ops: clients * requests * per_request, bytes: 0, elapsed: start.elapsed() }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let scale = if quick { 1 } else { 10 };
    let bootstrap = aurum_testenv::kafka_bootstrap();
    println!("== journal backends: durable transfers/s, the same engine and workload (Kafka at {bootstrap}) ==");
    for (clients, requests, per_request) in [(1u64, 20 * scale, 1_000u64), (8, 10 * scale, 100), (8, 25 * scale, 1)] {
        let shape = format!("{clients} client(s), requests of {per_request}");
        let embedded_dir = tempfile::tempdir().unwrap();
        let (embedded, _) = Engine::open(Arc::new(OsVfs), embedded_dir.path(), EngineConfig::default()).unwrap();
        setup(&embedded);
        let base = run(&embedded, format!("embedded log (fsync), {shape}"), clients, requests, per_request);
        drop(embedded);

        let kafka_dir = tempfile::tempdir().unwrap();
        let kafka = KafkaConfig {
            topic: format!("bench-{}.ledger.journal", uuid::Uuid::now_v7().simple()),
            ..KafkaConfig::new(&bootstrap)
        };
        let (on_kafka, _) = open_engine(Arc::new(OsVfs), kafka_dir.path(), &kafka, EngineConfig::default()).unwrap();
        setup(&on_kafka);
        let subject = run(&on_kafka, format!("kafka (acks=all), {shape}"), clients, requests, per_request);
        let blocks = on_kafka.head().0;
        drop(on_kafka);
        print_row(&base);
        print_comparison(&subject, &base);
        println!("   ({} transfers in {blocks} blocks on Kafka)", subject.ops);
    }
}
