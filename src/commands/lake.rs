//! `aurum lake ...` and `aurum sql`: the lakehouse — sync the journal into Iceberg tables exactly
//! once, show the tables, run DataFusion SQL over them.

use std::collections::BTreeMap;

use aurum_lake::sink::sync_journal;
use aurum_lake::{Lake, LakeTable, sql};
use aurum_ledger_node::engine::Engine;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CliResult, Context};
use crate::output::print_json;

/// Subcommands of `aurum lake`.
#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Append what is new at every source to its tables, exactly once: the journal (transfers,
    /// postings, accounts), the log's topics (risk_alerts, risk_scores, prices, recon_findings,
    /// bars) and the chain indexer's final logs (chain_events).
    Sync,
    /// Each table's snapshots, files, rows and journal position.
    Status,
    /// Delete the data files crashed syncs left behind (no snapshot references them), older than a
    /// grace period, in every table.
    DeleteOrphans {
        /// Only files last modified more than this many hours ago.
        #[arg(long, default_value_t = 24)]
        older_than_hours: u64,
        /// Report what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Expire old snapshots of every table (the maintenance job): data stays, history shortens.
    Expire {
        /// Expire snapshots older than this many hours.
        #[arg(long, default_value_t = 24 * 7)]
        older_than_hours: u64,
        /// Always keep at least this many of each table's newest snapshots.
        #[arg(long, default_value_t = 10)]
        retain_last: usize,
    },
}

/// Arguments of `aurum sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT asset, sum(amount) FROM postings WHERE side = 'debit' GROUP BY asset".
    pub query: String,
    /// Print the logical and physical plans and the files each Iceberg scan keeps, instead of rows.
    #[arg(long)]
    pub explain: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A runtime for the lakehouse's async API.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

/// Run a lake subcommand.
pub fn run(ctx: &Context, cmd: LakeCommand) -> CliResult {
    let rt = runtime()?;
    match cmd {
        LakeCommand::Sync => {
            let engine = super::ledger::open_engine(ctx, aurum_ledger_node::engine::EngineConfig::default())?;
            let lake = rt.block_on(ctx.open_lake())?;
            let report = sync_all(ctx, &rt, &lake, &engine)?;
            if ctx.json {
                print_json(&report);
            } else {
                print_sync(&report);
            }
            Ok(())
        }
        LakeCommand::DeleteOrphans { older_than_hours, dry_run } => {
            let cutoff = hours_ago_ms(older_than_hours)?;
            let reports = rt.block_on(async {
                let lake = ctx.open_lake().await?;
                let mut out = Vec::new();
                for t in LakeTable::ALL {
                    let r = aurum_lake::maintenance::delete_orphan_files(&lake, t, cutoff, dry_run).await?;
                    out.push(json!({"table": t.name(), "referenced": r.referenced, "orphans": r.orphans,
                                    "orphan_bytes": r.orphan_bytes, "deleted": r.deleted}));
                }
                Ok::<_, aurum_lake::LakeError>(out)
            })?;
            if ctx.json {
                print_json(&json!({"dry_run": dry_run, "tables": reports}));
            } else {
                for r in &reports {
                    println!(
                        "{:15} {} orphaned files ({} bytes), {} deleted; {} referenced",
                        r["table"].as_str().unwrap_or_default(),
                        r["orphans"],
                        r["orphan_bytes"],
                        r["deleted"],
                        r["referenced"]
                    );
                }
            }
            Ok(())
        }
        LakeCommand::Expire { older_than_hours, retain_last } => {
            let report = expire_all(ctx, older_than_hours, retain_last)?;
            if ctx.json {
                print_json(&report);
            } else {
                for r in report["tables"].as_array().into_iter().flatten() {
                    println!(
                        "{:10} {} of {} snapshots expired, {} manifest lists deleted",
                        r["table"].as_str().unwrap_or_default(),
                        r["expired"],
                        r["snapshots_before"],
                        r["files_deleted"]
                    );
                }
            }
            Ok(())
        }
        LakeCommand::Status => {
            let rows = rt.block_on(async {
                let lake = ctx.open_lake().await?;
                let mut rows = Vec::new();
                for t in LakeTable::ALL {
                    let table = lake.table(t).await?;
                    let m = table.metadata();
                    let summary =
                        m.current_snapshot().map(|s| s.summary().additional_properties.clone()).unwrap_or_default();
                    rows.push(json!({
                        "table": t.name(),
                        "snapshots": m.snapshots().count(),
                        "schema_columns": m.current_schema().as_struct().fields().len(),
                        "total_records": summary.get("total-records").cloned().unwrap_or_else(|| "0".into()),
                        "total_data_files": summary.get("total-data-files").cloned().unwrap_or_else(|| "0".into()),
                        "position": if LakeTable::JOURNAL.contains(&t) {
                            json!({"next_journal_block": aurum_lake::sink::next_seq(&table, t)?})
                        } else if t == LakeTable::DailyBalances {
                            json!({"next_day_us": aurum_lake::balances::next_day(&table)?})
                        } else if t == LakeTable::ChainEvents {
                            let p: BTreeMap<String, String> = aurum_lake::chain::positions(&table)?
                                .into_iter()
                                .map(|(c, (b, i))| (c.to_string(), format!("block {b} log {i}")))
                                .collect();
                            json!({"chains": p})
                        } else {
                            json!({"next_offsets": aurum_lake::topics::next_offsets(&table, t)?})
                        },
                        "location": m.location(),
                    }));
                }
                Ok::<_, aurum_lake::LakeError>(rows)
            })?;
            if ctx.json {
                print_json(&json!({"tables": rows}));
            } else {
                for r in &rows {
                    println!(
                        "{:12} {:>10} rows {:>6} files {:>5} snapshots  position {}  {}",
                        r["table"].as_str().unwrap_or_default(),
                        r["total_records"].as_str().unwrap_or_default(),
                        r["total_data_files"].as_str().unwrap_or_default(),
                        r["snapshots"],
                        r["position"],
                        r["location"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

/// The time `hours` ago, in ms since the epoch (the cutoff of the maintenance jobs).
fn hours_ago_ms(hours: u64) -> Result<i64, BoxError> {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    Ok(now_ms.saturating_sub(i64::try_from(hours).unwrap_or(i64::MAX).saturating_mul(3_600_000)))
}

/// Expire every table's snapshots older than `older_than_hours`, keeping at least `retain_last`
/// (the maintenance job): data stays, history shortens.
pub fn expire_all(ctx: &Context, older_than_hours: u64, retain_last: usize) -> Result<Value, BoxError> {
    let cutoff = hours_ago_ms(older_than_hours)?;
    let rt = runtime()?;
    let tables = rt.block_on(async {
        let lake = ctx.open_lake().await?;
        let mut out = Vec::new();
        for t in LakeTable::ALL {
            let r = aurum_lake::maintenance::expire_snapshots(&lake, t, cutoff, retain_last.max(1)).await?;
            out.push(json!({"table": t.name(), "snapshots_before": r.snapshots_before, "expired": r.expired, "files_deleted": r.files_deleted}));
        }
        Ok::<_, aurum_lake::LakeError>(out)
    })?;
    Ok(json!({"tables": tables}))
}

/// Every table's rows and last commit (from its current snapshot: no data is read), for the
/// operations dashboard and its gauges.
pub fn table_health(ctx: &Context) -> Result<Value, BoxError> {
    let rt = runtime()?;
    let tables = rt.block_on(async {
        let lake = ctx.open_lake().await?;
        let mut out = Vec::new();
        for t in LakeTable::ALL {
            let table = lake.table(t).await?;
            let snapshot = table.metadata().current_snapshot();
            let rows: u64 = snapshot
                .and_then(|s| s.summary().additional_properties.get("total-records").and_then(|v| v.parse().ok()))
                .unwrap_or(0);
            out.push(json!({"table": t.name(), "rows": rows, "last_commit_ms": snapshot.map(|s| s.timestamp_ms())}));
        }
        Ok::<_, aurum_lake::LakeError>(out)
    })?;
    Ok(json!({"tables": tables}))
}

/// Bring every table up to its source: the journal, the log's topics, and the final chain events
/// of every chain this data directory has indexed. Returns what each sink appended.
pub fn sync_all(ctx: &Context, rt: &tokio::runtime::Runtime, lake: &Lake, engine: &Engine) -> Result<Value, BoxError> {
    let chains = super::recon::chain_deployments(ctx)?;
    // Read before the postings sync: every day before this one is then complete in `postings`.
    let head_ts_ns = engine.read(|l| l.last_timestamp().0)?;
    let log = super::backends::topics(ctx, engine.log())?;
    let report = rt.block_on(async {
        let journal = sync_journal(lake, engine, None).await?;
        let topics = aurum_lake::topics::sync_topics(lake, &*log).await?;
        let chain = aurum_lake::chain::sync_chain_events(lake, engine.db(), &chains).await?;
        let balances = aurum_lake::balances::sync_daily_balances(lake, head_ts_ns).await?;
        Ok::<_, aurum_lake::LakeError>((journal, topics, chain, balances))
    })?;
    let (journal, topics, chain, balances) = report;
    let mut tables = Vec::new();
    for t in LakeTable::JOURNAL {
        tables.push(json!({
            "table": t.name(), "source": "ledger journal",
            "rows": journal.rows.get(t.name()).unwrap_or(&0), "files": journal.files.get(t.name()).unwrap_or(&0),
            "position": format!("next journal block {}", journal.next_seq.get(t.name()).unwrap_or(&1)),
        }));
    }
    for (t, r) in &topics {
        tables.push(json!({
            "table": t.name(), "source": aurum_lake::topics::topic_of(*t), "records": r.records, "rows": r.rows,
            "position": format!("next offsets {:?}", r.next_offsets),
        }));
    }
    tables.push(json!({
        "table": LakeTable::ChainEvents.name(), "source": "chain indexer (final logs)", "logs": chain.logs, "rows": chain.rows,
        "position": chain.positions.iter().map(|(c, (b, i))| format!("chain {c}: block {b} log {i}")).collect::<Vec<_>>().join("; "),
    }));
    tables.push(json!({
        "table": LakeTable::DailyBalances.name(), "source": "postings (closed days)", "rows": balances.rows,
        "position": balances.next_day_us.map_or("no day closed yet".to_string(), |d| format!("days before {}", crate::output::format_ns(d as u64 * 1_000))),
    }));
    let commits = journal.commits + topics.values().map(|r| r.commits).sum::<u64>() + chain.commits + balances.commits;
    Ok(json!({"commits": commits, "tables": tables}))
}

/// The demo's questions to the lakehouse, after a sync: named analytics over what the demo did.
const DEMO_QUERIES: &[(&str, &str)] = &[
    ("holdings_by_asset", "SELECT asset, CAST(held AS VARCHAR) AS held, holders FROM holdings_by_asset ORDER BY asset"),
    (
        "token_supply",
        "SELECT chain_id, CAST(sum(minted_oz) AS VARCHAR) AS minted_oz, CAST(sum(supply_change_oz) AS VARCHAR) AS supply_oz \
         FROM token_supply_daily GROUP BY chain_id ORDER BY chain_id",
    ),
    (
        "recon_findings",
        "SELECT class, sum(breaks) AS breaks, sum(explained) AS explained FROM recon_breaks_daily GROUP BY class ORDER BY class",
    ),
    ("risk_scores", "SELECT sum(scored) AS scored, sum(alerted) AS alerted FROM risk_scores_daily"),
];

/// The demo's lakehouse step: sync every source, then answer [`DEMO_QUERIES`].
pub fn demo_step(ctx: &Context) -> Result<Value, BoxError> {
    let rt = runtime()?;
    let engine = super::ledger::open_engine(ctx, aurum_ledger_node::engine::EngineConfig::default())?;
    let lake = rt.block_on(ctx.open_lake())?;
    let sync = sync_all(ctx, &rt, &lake, &engine)?;
    drop(engine);
    let answers = rt.block_on(async {
        let session = sql::session(&lake).await?;
        let mut answers = serde_json::Map::new();
        for (name, q) in DEMO_QUERIES {
            let batches = sql::query(&session, q).await?;
            answers.insert((*name).to_string(), batches_json(&batches)?);
        }
        Ok::<_, BoxError>(answers)
    })?;
    Ok(json!({"sync": sync, "analytics": answers}))
}

fn batches_json(batches: &[aurum_lake::sql::Batch]) -> Result<Value, BoxError> {
    Ok(serde_json::from_slice(&sql::json_rows(batches)?)?)
}

/// Print the demo's lakehouse step for people.
pub fn print_demo_step(step: &Value) {
    print_sync(&step["sync"]);
    for (name, rows) in step["analytics"].as_object().into_iter().flatten() {
        println!("  {name}:");
        for r in rows.as_array().into_iter().flatten() {
            println!("    {r}");
        }
    }
}

/// Print a sync report for people.
pub fn print_sync(report: &Value) {
    println!("{} commits", report["commits"]);
    for t in report["tables"].as_array().into_iter().flatten() {
        println!(
            "  {:15} +{:<8} rows  from {:28} {}",
            t["table"].as_str().unwrap_or_default(),
            t["rows"],
            t["source"].as_str().unwrap_or_default(),
            t["position"].as_str().unwrap_or_default()
        );
    }
}

/// Run `aurum sql`.
pub fn run_sql(ctx: &Context, args: SqlArgs) -> CliResult {
    let rt = runtime()?;
    rt.block_on(async {
        let lake = ctx.open_lake().await?;
        let session = sql::session(&lake).await?;
        if args.explain {
            let (plan, scans) = sql::explain(&session, &args.query).await?;
            if ctx.json {
                let scans: Vec<_> = scans
                    .iter()
                    .map(|s| json!({"table": s.table, "predicate": s.predicate, "files_scanned": s.files_scanned, "files_total": s.files_total}))
                    .collect();
                print_json(&json!({"plan": plan, "scans": scans}));
            } else {
                println!("{plan}");
                for s in &scans {
                    println!(
                        "\nscan of {}: {} of {} data files (predicate: {})",
                        s.table,
                        s.files_scanned,
                        s.files_total,
                        s.predicate.as_deref().unwrap_or("none")
                    );
                }
            }
        } else {
            let batches = sql::query(&session, &args.query).await?;
            if ctx.json {
                print_json(&batches_json(&batches)?);
            } else {
                println!("{}", sql::format(&batches)?);
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
}
