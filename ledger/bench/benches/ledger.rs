//! Ledger benchmark: the same workload — random transfers between 10,000 accounts of one asset —
//! applied (1) in memory by the pure state machine, (2) durably through the engine with group
//! commit (blocks of up to 8,190 transfers, one fsync each), (3) replayed by the audit, and (4) by a
//! pgledger-style PostgreSQL ledger on a local server (the baseline; `scripts/postgres-up.sh`
//! installs and starts it). Every row prints its ratio to the PostgreSQL baseline measured in this
//! run.
//!
//! Run: `cargo bench -p aurum-ledger-bench --bench ledger` (`-- quick` for a short run; `-- audit`
//! for the in-memory and one-client rows and the audit only, without the PostgreSQL baseline: the
//! profiling loop). The 1-client row runs last and its journal is audited right after it, with
//! the allocator set as `aurum audit` sets it (`aurum_alloc::keep_freed_memory`);
//! `-- glibc-defaults` leaves glibc as it ships.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aurum_foundations_bench::{Measurement, measure};
use aurum_ledger::{
    AccountId, AccountKind, AssetId, BatchContext, Command, CreateAccount, CreateAsset, CreateTransfer, Ledger, Limit,
    MAX_BATCH_COMMANDS, Metadata, Timestamp, TransferFlags, TransferId,
};
use aurum_ledger_bench::PgTarget;
use aurum_ledger_node::engine::{AuditFrom, Engine, EngineConfig};
use aurum_vfs::OsVfs;
use aurum_vfs::rng::SplitMix64;

const ACCOUNTS: u64 = 10_000;
const ASSET: AssetId = AssetId(1);

fn setup_commands() -> Vec<Vec<Command>> {
    let mut all = vec![Command::CreateAsset(CreateAsset { id: ASSET, code: "INR".into(), scale: 2 })];
    for a in 1..=ACCOUNTS {
        all.push(Command::CreateAccount(CreateAccount {
            id: AccountId(u128::from(a)),
            asset: ASSET,
            kind: AccountKind::Liability,
            limit: Limit::None,
            history: false,
            metadata: Metadata::new(),
            linked: false,
        }));
    }
    all.chunks(MAX_BATCH_COMMANDS).map(<[Command]>::to_vec).collect()
}

/// Transfer ids: consecutive (a client's counter, the common case) or uniformly random 128-bit
/// ids (UUIDv4-style, no locality for the id index).
#[derive(Clone, Copy)]
enum Ids {
    Consecutive,
    Random,
}

fn transfers(count: u64, first_id: u64, seed: u64) -> Vec<Command> {
    transfers_with(count, first_id, seed, Ids::Consecutive)
}

fn transfers_with(count: u64, first_id: u64, seed: u64, ids: Ids) -> Vec<Command> {
    let mut rng = SplitMix64::new(seed);
    let mut id_rng = SplitMix64::new(seed ^ 0x5eed);
    (0..count)
        .map(|i| {
            let id = match ids {
                Ids::Consecutive => u128::from(first_id + i),
                Ids::Random => (u128::from(id_rng.next_u64()) << 64) | u128::from(id_rng.next_u64()),
            };
            let from = 1 + rng.below(ACCOUNTS);
            let to = 1 + (from + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
            Command::CreateTransfer(CreateTransfer {
                id: TransferId(id),
                debit_account: AccountId(u128::from(from)),
                credit_account: AccountId(u128::from(to)),
                amount: u128::from(1 + rng.below(1000)),
                asset: ASSET,
                flags: TransferFlags::default(),
                timeout_secs: 0,
                metadata: Metadata::new(),
            })
        })
        .collect()
}

fn row(m: &Measurement, pg: Option<f64>) {
    let ratio = pg.map_or_else(
        || "   n/a (no PostgreSQL)".to_string(),
        |pg| format!("{:>9.1}x PostgreSQL", m.ops_per_sec() / pg),
    );
    println!("{:<62} {:>12.0} /s  {ratio}", m.name, m.ops_per_sec());
}

fn in_memory(n: u64, ids: Ids) -> Measurement {
    let mut ledger = Ledger::new();
    let mut seq = 0;
    let mut ts = 1u64;
    for batch in setup_commands() {
        seq += 1;
        ledger.apply(BatchContext { seq, timestamp: Timestamp(ts) }, &batch);
        ts += 1_000_000;
    }
    let work = transfers_with(n, 1, 42, ids);
    let batches: Vec<&[Command]> = work.chunks(MAX_BATCH_COMMANDS).collect();
    let name = match ids {
        Ids::Consecutive => "aurum in-memory apply (batches of 8190)",
        Ids::Random => "aurum in-memory apply, random 128-bit ids",
    };
    let m = measure(name, || {
        for b in &batches {
            seq += 1;
            let r = ledger.apply(BatchContext { seq, timestamp: Timestamp(ts) }, b);
            ts += 1_000_000;
            assert!(r.outcomes.iter().all(|o| o.code.is_ok()));
        }
        (n, 0)
    });
    ledger.check_invariants().expect("invariants hold");
    m
}

/// Run the workload through the engine; returns the durable throughput and the engine, for the audit.
fn durable(dir: &Path, name: &str, n: u64, clients: u64, per_request: u64) -> (Measurement, Engine) {
    let (engine, _) = Engine::open(
        Arc::new(OsVfs),
        dir,
        EngineConfig {
            snapshot_every_blocks: 0,
            snapshot_every_commands: 0,
            snapshot_on_shutdown: false,
            ..EngineConfig::default()
        },
    )
    .expect("open engine");
    for batch in setup_commands() {
        engine.submit(batch).expect("setup");
    }
    let per_client = n / clients;
    let work: Vec<Vec<Command>> = (0..clients).map(|c| transfers(per_client, 1_000_000_000 * (c + 1), 7 + c)).collect();
    let durable = measure(name, || {
        std::thread::scope(|s| {
            for w in &work {
                let engine = engine.clone();
                s.spawn(move || {
                    for req in w.chunks(per_request as usize) {
                        let out = engine.submit(req.to_vec()).expect("submit");
                        assert!(out.iter().all(|o| o.code.is_ok()));
                    }
                });
            }
        });
        (per_client * clients, 0)
    });
    (durable, engine)
}

/// The audit replay of `engine`'s journal (events/s: commands and expiries re-executed and compared).
fn audit(engine: &Engine) -> Measurement {
    let report = engine.audit(AuditFrom::Genesis).expect("audit runs");
    assert!(report.is_clean(), "{report}");
    Measurement {
        name: format!("aurum audit replay of that journal ({} blocks)", report.blocks_checked),
        ops: report.commands_checked + report.expiries_checked,
        bytes: 0,
        elapsed: report.elapsed,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let audit_only = std::env::args().any(|a| a == "audit");
    let glibc_defaults = std::env::args().any(|a| a == "glibc-defaults");
    let n: u64 = if quick { 200_000 } else { 2_000_000 };
    let pg_secs = if quick { 3 } else { 10 };
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp");
    std::fs::create_dir_all(&base).unwrap();

    println!("== PostgreSQL baseline (pgledger-style SQL, {ACCOUNTS} accounts, pgbench 8 clients, {pg_secs} s) ==");
    let pg = PgTarget::default();
    let pg_best = if audit_only {
        println!("skipped (-- audit)");
        None
    } else if pg.available() {
        pg.setup(ACCOUNTS).expect("create the baseline schema");
        let single =
            pg.pgbench("single.pgbench", 8, Duration::from_secs(pg_secs), ACCOUNTS, 1).expect("pgbench single");
        println!("{:<62} {:>12.0} /s", "postgres: 1 transfer per transaction, 8 clients", single.transfers_per_sec);
        let batched =
            pg.pgbench("batch.pgbench", 8, Duration::from_secs(pg_secs), ACCOUNTS, 100).expect("pgbench batch");
        println!("{:<62} {:>12.0} /s", "postgres: 100 transfers per transaction, 8 clients", batched.transfers_per_sec);
        let sum = pg.balance_sum().expect("balance sum");
        assert_eq!(sum, "0", "the baseline's books must balance");
        let best = single.transfers_per_sec.max(batched.transfers_per_sec);
        println!("(baseline = the better of the two: {best:.0} transfers/s; balances sum to {sum})");
        Some(best)
    } else {
        println!("PostgreSQL is not reachable on 127.0.0.1:5432: run scripts/postgres-up.sh for the baseline");
        None
    };

    println!("== aurum ({n} transfers) ==");
    row(&in_memory(n, Ids::Consecutive), pg_best);
    row(&in_memory(n, Ids::Random), pg_best);
    // The 1-client row last: its journal is audited right after it, as `aurum audit` runs, with
    // glibc told to reuse freed memory (`aurum_alloc`) — a process-wide setting, so after every
    // other row. `-- glibc-defaults` skips it.
    for (name, clients, per_request) in [
        ("aurum durable, 8 clients, requests of 1024 (group commit)", 8, 1024),
        ("aurum durable, 64 clients, requests of 128 (group commit)", 64, 128),
        ("aurum durable, 1 client, requests of 8190", 1, 8190),
    ] {
        if audit_only && clients > 1 {
            continue;
        }
        let dir = tempfile::tempdir_in(&base).unwrap();
        let (m, engine) = durable(dir.path(), name, n, clients, per_request);
        row(&m, pg_best);
        if clients == 1 {
            if !glibc_defaults && !aurum_alloc::keep_freed_memory() {
                println!("(the allocator is not glibc's: aurum_alloc::keep_freed_memory changed nothing)");
            }
            row(&audit(&engine), pg_best);
        }
    }
}
