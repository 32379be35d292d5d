//! Integration tests of `aurum-pg` against the real PostgreSQL: `AURUM_TEST_PG_URL` (set by
//! .ci/run), else the server scripts/postgres-up.sh starts. Every test works in a schema of its
//! own, so runs and tests never see each other's rows.

use std::path::Path;
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aurum_ledger::{
    AccountId, AccountKind, AsOf, AssetId, CloseAccount, Command, CreateAccount, CreateAsset, CreateEntry,
    CreateTransfer, Ledger, Limit, Metadata, Movement, MovementFilter, PostPending, Posting, Side, Timestamp,
    TransferFlags, TransferId, TransferKind, VoidPending,
};
use aurum_ledger_node::engine::{Clock, Engine, EngineConfig};
use aurum_ledger_node::journal::JournalReader;
use aurum_log::{Log, LogOptions};
use aurum_pg::read::{self, table_digests};
use aurum_pg::{DEFAULT_PROJECTION, Failpoint, PgConfig, PgError, Projector, ReadModel};
use aurum_vfs::OsVfs;
use aurum_vfs::rng::SplitMix64;

const T0_NS: u64 = 1_790_000_000_000_000_000;
const XAU: AssetId = AssetId(1);
const USD: AssetId = AssetId(2);
const VAULT: u128 = 100;
const CUSTOMERS: u64 = 10;
const FEES: u128 = 900;

fn fresh_config() -> PgConfig {
    PgConfig { url: aurum_testenv::postgres_url(), schema: Some(format!("t_{}", uuid::Uuid::now_v7().simple())) }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn reader(dir: &Path) -> JournalReader {
    JournalReader::new(Log::open(Arc::new(OsVfs), &dir.join("log"), LogOptions::default()).unwrap())
}

/// A ledger node whose clock only the workload moves, so that pending transfers expire.
struct Node {
    engine: Engine,
    now: Arc<AtomicU64>,
}

impl Node {
    fn open(dir: &Path) -> Node {
        let now = Arc::new(AtomicU64::new(T0_NS));
        let c = now.clone();
        let clock: Clock = Arc::new(move || Timestamp(c.load(Ordering::SeqCst)));
        let config = EngineConfig { clock, snapshot_on_shutdown: false, ..EngineConfig::default() };
        let (engine, _) = Engine::open(Arc::new(OsVfs), dir, config).unwrap();
        Node { engine, now }
    }

    fn submit(&self, commands: Vec<Command>) {
        self.engine.submit(commands).unwrap();
        self.now.fetch_add(400_000_000, Ordering::SeqCst);
    }
}

fn account(id: u128, asset: AssetId, kind: AccountKind, history: bool, name: Option<&str>) -> Command {
    let mut metadata = Metadata::new();
    if let Some(n) = name {
        metadata.insert("name".into(), n.into());
    }
    let limit =
        if kind == AccountKind::Liability { Limit::DebitsMustNotExceedCredits { overdraft: 0 } } else { Limit::None };
    Command::CreateAccount(CreateAccount { id: AccountId(id), asset, kind, limit, history, metadata, linked: false })
}

fn transfer(id: u128, from: u128, to: u128, amount: u128, asset: AssetId, pending: bool) -> Command {
    Command::CreateTransfer(CreateTransfer {
        id: TransferId(id),
        debit_account: AccountId(from),
        credit_account: AccountId(to),
        amount,
        asset,
        flags: TransferFlags { pending, ..TransferFlags::default() },
        timeout_secs: if pending { 1 } else { 0 },
        metadata: Metadata::from([("ref".to_string(), format!("tab\there \\ {id}"))]),
    })
}

/// A seeded workload of `blocks` blocks after setup: funding, payments (some refused for
/// insufficient funds), pending transfers (posted in part or in full, voided, or left to expire),
/// multi-leg entries, retries of old ids, a USD fee side, and a closed account.
fn workload(node: &Node, blocks: usize, seed: u64) {
    let mut setup = vec![
        Command::CreateAsset(CreateAsset { id: XAU, code: "XAU".into(), scale: 3 }),
        Command::CreateAsset(CreateAsset { id: USD, code: "USD".into(), scale: 2 }),
        account(VAULT, XAU, AccountKind::Asset, true, Some("vault")),
        account(FEES, USD, AccountKind::Income, false, None),
        account(901, USD, AccountKind::Asset, true, Some("bank")),
        account(999, XAU, AccountKind::Liability, true, Some("to be closed")),
    ];
    for c in 0..CUSTOMERS {
        setup.push(account(
            u128::from(200 + c),
            XAU,
            AccountKind::Liability,
            c % 3 != 2,
            Some(&format!("customer {c}")),
        ));
    }
    node.submit(setup);
    let funding = (0..CUSTOMERS)
        .map(|c| transfer(1_000 + u128::from(c), VAULT, u128::from(200 + c), 50_000, XAU, false))
        .collect();
    node.submit(funding);
    node.submit(vec![Command::CloseAccount(CloseAccount { id: AccountId(999), linked: false })]);
    let mut rng = SplitMix64::new(seed);
    let mut next_id = 10_000u128;
    let mut issued: Vec<Command> = Vec::new();
    let customer = |rng: &mut SplitMix64| 200 + u128::from(rng.below(CUSTOMERS));
    for _ in 0..blocks {
        let mut cmds = Vec::new();
        for _ in 0..1 + rng.below(6) {
            next_id += 1;
            let cmd = match rng.below(12) {
                0 if !issued.is_empty() => issued[rng.below(issued.len() as u64) as usize].clone(),
                1 | 2 => match issued.iter().rev().find(|c| matches!(c, Command::CreateTransfer(t) if t.flags.pending))
                {
                    Some(Command::CreateTransfer(t)) if rng.below(2) == 0 => Command::PostPending(PostPending {
                        id: TransferId(next_id),
                        pending_id: t.id,
                        amount: Some(t.amount / 2).filter(|_| rng.below(2) == 0),
                        metadata: Metadata::new(),
                        linked: false,
                    }),
                    Some(Command::CreateTransfer(t)) => Command::VoidPending(VoidPending {
                        id: TransferId(next_id),
                        pending_id: t.id,
                        metadata: Metadata::new(),
                        linked: false,
                    }),
                    _ => continue,
                },
                3 => Command::CreateEntry(CreateEntry {
                    id: TransferId(next_id),
                    postings: vec![
                        Posting { account: AccountId(VAULT), side: Side::Debit, amount: 300 },
                        Posting { account: AccountId(customer(&mut rng)), side: Side::Credit, amount: 100 },
                        Posting { account: AccountId(customer(&mut rng)), side: Side::Credit, amount: 200 },
                    ],
                    metadata: Metadata::from([("memo".to_string(), "allocation\nsplit".to_string())]),
                    linked: false,
                }),
                4 => transfer(next_id, 901, FEES, 1 + u128::from(rng.below(999)), USD, false),
                5 | 6 => transfer(
                    next_id,
                    customer(&mut rng),
                    customer(&mut rng),
                    1 + u128::from(rng.below(40_000)),
                    XAU,
                    true,
                ),
                // Some exceed the payer's balance and are refused.
                _ => transfer(
                    next_id,
                    customer(&mut rng),
                    customer(&mut rng),
                    1 + u128::from(rng.below(30_000)),
                    XAU,
                    false,
                ),
            };
            issued.push(cmd.clone());
            cmds.push(cmd);
        }
        node.submit(cmds);
        if rng.below(10) == 0 {
            // Let the pending transfers of the last blocks time out.
            node.now.fetch_add(2_000_000_000, Ordering::SeqCst);
        }
    }
}

/// A ledger built from `workload` in `dir`, closed again; returns its final state.
fn build(dir: &Path, blocks: usize, seed: u64) -> Ledger {
    let node = Node::open(dir);
    workload(&node, blocks, seed);
    let ledger = node.engine.read(Ledger::clone).unwrap();
    drop(node);
    ledger
}

async fn project(model: &ReadModel, dir: &Path, max_blocks: usize) -> aurum_pg::SyncReport {
    let journal = reader(dir);
    let mut p = Projector::open(model.pool(), DEFAULT_PROJECTION, &journal)
        .await
        .unwrap()
        .with_batch_limits(max_blocks, usize::MAX);
    p.sync(&journal, None).await.unwrap()
}

async fn scalar(model: &ReadModel, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(model.pool()).await.unwrap()
}

#[test]
fn the_projection_answers_as_the_ledger_does() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = build(dir.path(), 150, 7);
    rt().block_on(async {
        let model = ReadModel::connect(&fresh_config()).await.unwrap();
        let report = project(&model, dir.path(), 9).await;
        assert_eq!(report.next_seq, ledger.last_seq() + 1);
        assert!(report.transactions >= ledger.last_seq() / 9, "{report:?}");

        assert_eq!(read::trial_balance(model.pool()).await.unwrap(), ledger.trial_balance());
        let last_ts = ledger.last_timestamp().0;
        let mut lines = 0;
        for a in ledger.accounts() {
            let b = read::balances(model.pool(), a.id).await.unwrap().expect("every account has balances");
            assert_eq!(
                (b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted),
                (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted),
                "account {}",
                a.id.0
            );
            let statement =
                read::statement(model.pool(), a.id, Timestamp(0), Timestamp(u64::MAX), read::MAX_PAGE).await.unwrap();
            assert_eq!(statement, ledger.statement(a.id, Timestamp(0), Timestamp(u64::MAX)), "account {}", a.id.0);
            lines += statement.len();
            for k in 0..=8u64 {
                let t = AsOf::Timestamp(Timestamp(T0_NS - 1 + (last_ts - T0_NS) / 8 * k));
                let s = AsOf::Sequence(ledger.last_seq() * k / 8);
                for as_of in [t, s] {
                    assert_eq!(
                        read::balance_as_of(model.pool(), a.id, as_of).await.unwrap(),
                        ledger.balance_as_of(a.id, as_of),
                        "account {} as of {as_of:?}",
                        a.id.0
                    );
                }
            }
        }
        assert!(lines > 300, "the workload moves money: {lines} statement lines");
        // Every kind of fact arrived: expiries, refusals, entries, a closed account, both assets.
        assert!(scalar(&model, "SELECT count(*) FROM expirations").await > 0);
        assert!(scalar(&model, "SELECT count(*) FROM fact_transfers WHERE NOT ok").await > 0);
        assert!(scalar(&model, "SELECT count(*) FROM entries").await > 0);
        assert_eq!(scalar(&model, "SELECT count(*) FROM dim_account WHERE closed").await, 1);
        assert_eq!(scalar(&model, "SELECT count(*) FROM accounts WHERE closed_seq IS NOT NULL").await, 1);
        assert_eq!(
            scalar(&model, "SELECT count(*) FROM transfers").await,
            scalar(&model, "SELECT count(*) FROM fact_transfers WHERE ok").await
        );
        // Postings balance per asset, and metadata with tabs, newlines and backslashes survives COPY.
        let unbalanced = scalar(
            &model,
            "SELECT count(*) FROM (SELECT s.asset_id FROM postings p JOIN accounts a USING (account_id)
               JOIN assets s USING (asset_id) GROUP BY s.asset_id
               HAVING sum(CASE side WHEN 'debit' THEN amount ELSE -amount END) <> 0) x",
        )
        .await;
        assert_eq!(unbalanced, 0);
        let memo: String =
            sqlx::query_scalar("SELECT metadata->>'memo' FROM entries LIMIT 1").fetch_one(model.pool()).await.unwrap();
        assert_eq!(memo, "allocation\nsplit");
        let r: String = sqlx::query_scalar("SELECT metadata->>'ref' FROM transfers WHERE transfer_id = 1000")
            .fetch_one(model.pool())
            .await
            .unwrap();
        assert_eq!(r, "tab\there \\ 1000");
        // The star answers a success rate by day and asset.
        let rate: Vec<(i32, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT f.date_key, a.code, count(*) FILTER (WHERE ok), count(*) FROM fact_transfers f
             JOIN dim_date d USING (date_key) LEFT JOIN dim_asset a USING (asset_id) GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(model.pool())
        .await
        .unwrap();
        assert!(rate.iter().any(|r| r.1.as_deref() == Some("XAU") && r.2 < r.3), "{rate:?}");
        // The list pages are the ledger's records — accounts with balances, limits and the closed
        // flag; transfers with pending states and expiries — under every filter, page by page.
        for (asset, kind) in [(None, None), (Some(USD), None), (Some(XAU), Some(AccountKind::Liability))] {
            let (mut after, mut listed) = (None, Vec::new());
            loop {
                let (page, next) = read::accounts_page(model.pool(), after, 3, asset, kind).await.unwrap();
                listed.extend(page);
                after = next;
                if after.is_none() {
                    break;
                }
            }
            let (expected, _) = ledger.accounts_page(None, usize::MAX, asset, kind);
            let expected: Vec<_> =
                expected.into_iter().map(|a| (a.clone(), ledger.asset(a.asset).unwrap().clone())).collect();
            assert!(!expected.is_empty());
            assert_eq!(listed, expected, "accounts of {asset:?} {kind:?}");
        }
        let filters = [
            read::TransferFilter::default(),
            read::TransferFilter { account: Some(AccountId(VAULT)), ..Default::default() },
            read::TransferFilter { kind: Some(TransferKind::Pending), ..Default::default() },
            read::TransferFilter { asset: Some(USD), kind: Some(TransferKind::Posted), ..Default::default() },
        ];
        let mut states = std::collections::BTreeSet::new();
        for filter in filters {
            let (mut after, mut listed) = (None, Vec::new());
            loop {
                let (page, next) = read::transfers_page(model.pool(), after, 7, filter).await.unwrap();
                listed.extend(page);
                after = next;
                if after.is_none() {
                    break;
                }
            }
            let movements =
                MovementFilter { account: filter.account, asset: filter.asset, kind: filter.kind, entries_only: false };
            let (all, _) = ledger.movements_page(0, usize::MAX, usize::MAX, &movements);
            let expected: Vec<_> = all
                .into_iter()
                .filter_map(|m| match m {
                    Movement::Transfer(t) => Some((t.clone(), ledger.asset(t.asset).unwrap().clone())),
                    Movement::Entry(_) => None,
                })
                .collect();
            assert!(!expected.is_empty(), "{filter:?}");
            states.extend(listed.iter().map(|(t, _)| format!("{:?}", t.pending_state)));
            assert_eq!(listed, expected, "transfers {filter:?}");
        }
        for state in ["None", "Posted", "Voided", "Expired"] {
            assert!(states.contains(state), "a {state} transfer was compared: {states:?}");
        }
    });
}

#[test]
fn a_restart_continues_exactly_once_and_a_replay_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    // Part of the journal, projected; then more blocks; then a new projector continues.
    let node = Node::open(dir.path());
    workload(&node, 40, 11);
    rt().block_on(async {
        let model = ReadModel::connect(&fresh_config()).await.unwrap();
        let journal = node.engine.journal_reader();
        let mut p = Projector::open(model.pool(), DEFAULT_PROJECTION, &journal).await.unwrap();
        let first = p.sync(&journal, None).await.unwrap();
        assert_eq!(first.next_seq, node.engine.head().0 + 1);
        assert_eq!(p.sync(&journal, None).await.unwrap().blocks, 0, "nothing new: nothing written");
        drop(p);
        workload(&node, 40, 12);
        let mut p = Projector::open(model.pool(), DEFAULT_PROJECTION, &journal).await.unwrap();
        let second = p.sync(&journal, None).await.unwrap();
        assert_eq!(second.next_seq, node.engine.head().0 + 1);
        assert_eq!(first.blocks + second.blocks, node.engine.head().0);
        let continued = table_digests(model.pool()).await.unwrap();

        // The same journal into an empty schema, in one go: the same tables, row for row.
        let replay = ReadModel::connect(&fresh_config()).await.unwrap();
        let mut p = Projector::open(replay.pool(), DEFAULT_PROJECTION, &journal).await.unwrap();
        p.sync(&journal, None).await.unwrap();
        assert_eq!(table_digests(replay.pool()).await.unwrap(), continued);
        assert!(continued.iter().all(|(_, rows, _)| *rows > 0), "{continued:?}");
    });
}

/// Child of the crash test: projects the journal in AURUM_PG_CRASH_DIR into schema
/// AURUM_PG_CRASH_SCHEMA and aborts at AURUM_PG_FAILPOINT. Does nothing when run on its own.
#[test]
#[ignore = "run by a_projector_killed_mid_transaction_resumes_exactly_once"]
fn crash_child() {
    let (Ok(dir), Ok(schema), Ok(fp)) = (
        std::env::var("AURUM_PG_CRASH_DIR"),
        std::env::var("AURUM_PG_CRASH_SCHEMA"),
        std::env::var("AURUM_PG_FAILPOINT"),
    ) else {
        return;
    };
    let failpoint = match fp.as_str() {
        "after-copy" => Failpoint::AfterCopyBeforeCommit,
        "after-commit" => Failpoint::AfterCommit,
        other => panic!("unknown failpoint {other}"),
    };
    rt().block_on(async {
        let model =
            ReadModel::connect(&PgConfig { url: aurum_testenv::postgres_url(), schema: Some(schema) }).await.unwrap();
        let journal = reader(Path::new(&dir));
        let mut p = Projector::open(model.pool(), DEFAULT_PROJECTION, &journal)
            .await
            .unwrap()
            .with_batch_limits(10, usize::MAX);
        p.sync(&journal, Some(failpoint)).await.unwrap();
    });
    unreachable!("the failpoint aborts the process");
}

#[test]
fn a_projector_killed_mid_transaction_resumes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = build(dir.path(), 60, 23);
    let reference = rt().block_on(async {
        let model = ReadModel::connect(&fresh_config()).await.unwrap();
        project(&model, dir.path(), 10).await;
        table_digests(model.pool()).await.unwrap()
    });
    for (failpoint, position_after_crash) in [("after-copy", 1u64), ("after-commit", 11)] {
        let config = fresh_config();
        let status = Process::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--ignored", "--nocapture"])
            .env("AURUM_PG_CRASH_DIR", dir.path())
            .env("AURUM_PG_CRASH_SCHEMA", config.schema.as_deref().unwrap())
            .env("AURUM_PG_FAILPOINT", failpoint)
            .env("AURUM_TEST_PG_URL", &config.url)
            .status()
            .unwrap();
        assert!(!status.success(), "the child must die at {failpoint}");
        rt().block_on(async {
            let model = ReadModel::connect(&config).await.unwrap();
            let (next, _) = aurum_pg::project::read_position(model.pool(), DEFAULT_PROJECTION).await.unwrap();
            assert_eq!(next, position_after_crash, "{failpoint}: the position is all or nothing");
            let journal = reader(dir.path());
            let mut p = Projector::open(model.pool(), DEFAULT_PROJECTION, &journal).await.unwrap();
            let report = p.sync(&journal, None).await.unwrap();
            assert_eq!(report.next_seq, ledger.last_seq() + 1);
            assert_eq!(table_digests(model.pool()).await.unwrap(), reference, "{failpoint}: exactly once");
        });
    }
}

#[test]
fn a_different_journal_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    build(a.path(), 30, 1);
    build(b.path(), 30, 2);
    rt().block_on(async {
        let model = ReadModel::connect(&fresh_config()).await.unwrap();
        project(&model, a.path(), 100).await;
        let err = Projector::open(model.pool(), DEFAULT_PROJECTION, &reader(b.path())).await.unwrap_err();
        assert!(matches!(err, PgError::Diverged { .. }), "{err}");
        // A journal shorter than what was projected is refused too.
        let empty = tempfile::tempdir().unwrap();
        let err = Projector::open(model.pool(), DEFAULT_PROJECTION, &reader(empty.path())).await.unwrap_err();
        assert!(err.to_string().contains("the journal ends at block 0"), "{err}");
    });
}

#[test]
fn a_read_model_from_before_0003_is_emptied_by_it_and_rebuilt_identically_by_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 30, 5);
    rt().block_on(async {
        // A schema at migration 2 with a projection in it (its rows lack 0003's columns).
        let old = fresh_config();
        let schema = old.schema.clone().unwrap();
        let setup = sqlx::PgPool::connect(&old.url).await.unwrap();
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}")).execute(&setup).await.unwrap();
        let options: sqlx::postgres::PgConnectOptions = old.url.parse().unwrap();
        let in_schema = sqlx::PgPool::connect_with(options.options([("search_path", schema.as_str())])).await.unwrap();
        assert_eq!(aurum_pg::migrate::migrate_to(&in_schema, 2).await.unwrap(), [1, 2]);
        sqlx::raw_sql(
            "INSERT INTO assets VALUES (1, 'XAU', 3, 1, 1);
             INSERT INTO aurum_projection (name, next_seq) VALUES ('default', 2)",
        )
        .execute(&in_schema)
        .await
        .unwrap();

        let upgraded = ReadModel::connect(&old).await.unwrap();
        assert_eq!(scalar(&upgraded, "SELECT count(*) FROM aurum_projection").await, 0, "the position is gone");
        assert_eq!(scalar(&upgraded, "SELECT count(*) FROM assets").await, 0, "and the rows with it");
        let report = project(&upgraded, dir.path(), 7).await;
        assert!(report.blocks > 30, "{report:?}");
        let fresh = ReadModel::connect(&fresh_config()).await.unwrap();
        project(&fresh, dir.path(), 7).await;
        assert_eq!(table_digests(upgraded.pool()).await.unwrap(), table_digests(fresh.pool()).await.unwrap());
    });
}

#[test]
fn migrations_are_applied_once_and_a_changed_or_newer_schema_is_refused() {
    rt().block_on(async {
        let config = fresh_config();
        let model = ReadModel::connect(&config).await.unwrap();
        let all = aurum_pg::migrate::MIGRATIONS.len() as i64;
        assert_eq!(scalar(&model, "SELECT count(*) FROM aurum_schema_migrations").await, all);
        assert!(aurum_pg::migrate::migrate(model.pool()).await.unwrap().is_empty(), "nothing left to apply");
        assert!(scalar(&model, "SELECT count(*) FROM dim_date").await > 36_000);
        sqlx::query("UPDATE aurum_schema_migrations SET checksum = 'x' WHERE version = 2")
            .execute(model.pool())
            .await
            .unwrap();
        let err = ReadModel::connect(&config).await.unwrap_err().to_string();
        assert!(err.contains("migration 2 (0002_star)") && err.contains("text was changed"), "{err}");
        sqlx::query("DELETE FROM aurum_schema_migrations WHERE version = 2").execute(model.pool()).await.unwrap();
        sqlx::query("INSERT INTO aurum_schema_migrations (version, name, checksum) VALUES (99, '0099_future', 'y')")
            .execute(model.pool())
            .await
            .unwrap();
        let err = ReadModel::connect(&config).await.unwrap_err().to_string();
        assert!(err.contains("migration 99") && err.contains("newer than this build"), "{err}");
        let bad = PgConfig { url: config.url.clone(), schema: Some("Bad-Name".into()) };
        assert!(matches!(ReadModel::connect(&bad).await, Err(PgError::Config(_))));
    });
}

/// The same checks on a clean table and on a copy with a defect of every kind injected: the
/// clean one passes them all, the defective one fails each, with exact counts and examples.
#[test]
fn quality_checks_pass_clean_tables_and_catch_every_injected_defect() {
    use aurum_quality::{SqlSource, Status};
    rt().block_on(async {
        let model = ReadModel::connect(&fresh_config()).await.unwrap();
        let pool = model.pool();
        sqlx::raw_sql(
            "CREATE TABLE q_accounts (id bigint PRIMARY KEY);
             INSERT INTO q_accounts SELECT generate_series(1, 3);
             CREATE TABLE q_clean (id bigint, account bigint, currency text, amount numeric, ref text,
                                   ts timestamptz, status text);
             INSERT INTO q_clean SELECT i, 1 + i % 3, 'XAU', (i * 37 % 100) + 0.5, 'P-' || lpad(i::text, 6, '0'),
                                        now() - i * interval '1 minute', CASE WHEN i % 4 = 0 THEN 'late' ELSE 'ok' END
                                 FROM generate_series(1, 200) AS i;
             CREATE TABLE q_bad AS SELECT * FROM q_clean;
             UPDATE q_bad SET amount = NULL WHERE id IN (10, 11);
             INSERT INTO q_bad SELECT * FROM q_clean WHERE id IN (5, 7);
             INSERT INTO q_bad SELECT * FROM q_clean WHERE id = 7;
             UPDATE q_bad SET currency = 'USD' WHERE id IN (20, 21, 22, 23);
             UPDATE q_bad SET currency = 'EUR' WHERE id = 24;
             -- Above the bound by 10^-18: caught only by exact comparison.
             UPDATE q_bad SET amount = 1000000.000000000000000001 WHERE id = 30;
             UPDATE q_bad SET amount = -0.01 WHERE id = 31;
             UPDATE q_bad SET ref = 'BAD' WHERE id IN (40, 41);
             UPDATE q_bad SET account = 99 WHERE id IN (50, 51, 52);
             UPDATE q_bad SET ts = ts - interval '3 days';
             -- The newer half of the rows moves to ten times the amounts: drift.
             UPDATE q_bad SET amount = amount * 10 WHERE id > 100 AND amount IS NOT NULL AND id <> 30;
             UPDATE q_bad SET status = 'late' WHERE id > 100;",
        )
        .execute(pool)
        .await
        .unwrap();
        let checks_for = |table: &str| {
            format!(
                r#"
                [[checks]]
                name = "not_null"
                source = "postgres"
                table = "{table}"
                kind = "not_null"
                column = "amount"
                [[checks]]
                name = "unique"
                source = "postgres"
                table = "{table}"
                kind = "unique"
                columns = ["id"]
                [[checks]]
                name = "in_set"
                source = "postgres"
                table = "{table}"
                kind = "in_set"
                column = "currency"
                values = ["XAU"]
                [[checks]]
                name = "between"
                source = "postgres"
                table = "{table}"
                kind = "between"
                column = "amount"
                min = "0"
                max = "1000000"
                [[checks]]
                name = "regex"
                source = "postgres"
                table = "{table}"
                kind = "regex"
                column = "ref"
                pattern = "^P-[0-9]{{6}}$"
                [[checks]]
                name = "row_count"
                source = "postgres"
                table = "{table}"
                kind = "row_count"
                min = 150
                max = 200
                [[checks]]
                name = "freshness"
                source = "postgres"
                table = "{table}"
                kind = "freshness"
                column = "ts"
                max_age = "1h"
                [[checks]]
                name = "references"
                source = "postgres"
                table = "{table}"
                kind = "references"
                column = "account"
                ref_table = "q_accounts"
                ref_column = "id"
                [[checks]]
                name = "drift"
                source = "postgres"
                table = "{table}"
                kind = "drift"
                column = "amount"
                reference = "id <= 100"
                current = "id > 100"
                [[checks]]
                name = "drift_categorical"
                source = "postgres"
                table = "{table}"
                kind = "drift"
                column = "status"
                categorical = true
                reference = "id <= 100"
                current = "id > 100"
                [[checks]]
                name = "warn_only"
                source = "postgres"
                table = "{table}"
                kind = "in_set"
                column = "status"
                values = ["ok"]
                severity = "warn"
                mostly = 0.5
                [[checks]]
                name = "lake_is_not_postgres"
                table = "{table}"
                kind = "row_count"
                min = 1
            "#
            )
        };
        let source = aurum_pg::quality::PgSource::new(pool.clone());
        assert_eq!(source.kind(), aurum_quality::SourceKind::Postgres);
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let clean = aurum_quality::parse(&checks_for("q_clean")).unwrap();
        let results = aurum_quality::run_checks(&clean, &source, now_ms).await;
        assert_eq!(results.len(), 11, "the lake check is not run on PostgreSQL");
        for r in &results {
            assert_eq!(r.status, Status::Pass, "{r:?}");
        }
        let bad = aurum_quality::parse(&checks_for("q_bad")).unwrap();
        let results = aurum_quality::run_checks(&bad, &source, now_ms).await;
        let by = |name: &str| results.iter().find(|r| r.name == name).unwrap();
        let expect = |name: &str, status: Status, unexpected: Option<u64>, examples: &[(&str, u64)]| {
            let r = by(name);
            assert_eq!((r.status, r.unexpected), (status, unexpected), "{r:?}");
            let got: Vec<(&str, u64)> = r.examples.iter().map(|e| (e.value.as_str(), e.rows)).collect();
            assert_eq!(got, examples, "{name}: {r:?}");
        };
        expect("not_null", Status::Fail, Some(2), &[]);
        expect("unique", Status::Fail, Some(5), &[("7", 3), ("5", 2)]);
        expect("in_set", Status::Fail, Some(5), &[("USD", 4), ("EUR", 1)]);
        expect("between", Status::Fail, Some(2), &[("-0.01", 1), ("1000000.000000000000000001", 1)]);
        expect("regex", Status::Fail, Some(2), &[("BAD", 2)]);
        expect("references", Status::Fail, Some(3), &[("99", 3)]);
        assert_eq!((by("row_count").status, by("row_count").observed.as_deref()), (Status::Fail, Some("203")));
        let fresh = by("freshness");
        assert_eq!(fresh.status, Status::Fail, "{fresh:?}");
        assert!(fresh.detail.contains("at most 3600s"), "{fresh:?}");
        for drift in ["drift", "drift_categorical"] {
            let r = by(drift);
            assert_eq!(r.status, Status::Fail, "{r:?}");
            assert!(r.observed.as_deref().unwrap().starts_with("psi "), "{r:?}");
        }
        // Warn severity and `mostly`: 3 of 4 rows of the clean table are "ok"; 125 of 203 late here.
        let warn = by("warn_only");
        assert_eq!((warn.status, warn.unexpected_percent), (Status::Warn, Some(61.58)), "{warn:?}");
        assert_eq!(aurum_quality::worst(&results), Status::Fail);

        // Rows with a NULL key are not duplicates of each other (as SQL's UNIQUE has it).
        sqlx::raw_sql("CREATE TABLE q_nulls (id bigint); INSERT INTO q_nulls VALUES (NULL), (NULL), (1)")
            .execute(pool)
            .await
            .unwrap();
        let nulls = aurum_quality::parse(
            "[[checks]]\nsource = \"postgres\"\ntable = \"q_nulls\"\nkind = \"unique\"\ncolumns = [\"id\"]",
        )
        .unwrap();
        let r = &aurum_quality::run_checks(&nulls, &source, now_ms).await[0];
        assert_eq!((r.status, r.unexpected), (Status::Pass, Some(0)), "{r:?}");

        // A check the engine cannot run is an error, never a pass.
        let broken = aurum_quality::parse(
            "[[checks]]\nsource = \"postgres\"\ntable = \"no_such_table\"\nkind = \"row_count\"\nmin = 1",
        )
        .unwrap();
        let r = &aurum_quality::run_checks(&broken, &source, now_ms).await[0];
        assert_eq!(r.status, Status::Error);
        assert!(r.detail.contains("no_such_table"), "{r:?}");

        // The profiler.
        let profile = aurum_quality::profile(&source, "q_bad").await.unwrap();
        let col = |c: &str| profile.iter().find(|p| p.column == c).unwrap();
        assert_eq!(profile.len(), 7);
        assert_eq!((col("id").rows, col("id").distinct, col("id").nulls), (203, 200, 0));
        assert_eq!((col("amount").nulls, col("amount").min.as_deref()), (2, Some("-0.01")));
        assert_eq!(col("currency").top[..2], [("XAU".to_string(), 198), ("USD".to_string(), 4)]);
        assert!(col("amount").mean.is_some() && col("currency").mean.is_none());
    });
}
