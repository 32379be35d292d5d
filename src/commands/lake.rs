//! `aurum lake ...` and `aurum sql`: the lakehouse — sync the journal into Iceberg tables exactly
//! once, show the tables, run DataFusion SQL over them.

use aurum_lake::sink::sync_journal;
use aurum_lake::{Lake, LakeTable, sql};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliResult, Context};
use crate::output::print_json;

/// Subcommands of `aurum lake`.
#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Append the journal's new blocks (transfers, postings, accounts) and the risk.alerts topic's
    /// new records (risk_alerts) to the tables, exactly once.
    Sync,
    /// Each table's snapshots, files, rows and journal position.
    Status,
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

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

/// Run a lake subcommand.
pub fn run(ctx: &Context, cmd: LakeCommand) -> CliResult {
    let rt = runtime()?;
    match cmd {
        LakeCommand::Sync => {
            let engine = super::ledger::open_engine(ctx, aurum_ledger_node::engine::EngineConfig::default())?;
            let (report, alerts) = rt.block_on(async {
                let lake = Lake::open(&ctx.lake_dir()).await?;
                let report = sync_journal(&lake, &engine, None).await?;
                let alerts = aurum_lake::topics::sync_risk_alerts(&lake, engine.log()).await?;
                Ok::<_, aurum_lake::LakeError>((report, alerts))
            })?;
            if ctx.json {
                print_json(&json!({
                    "commits": report.commits, "rows": report.rows, "files": report.files, "next_seq": report.next_seq,
                    "risk_alerts": {"commits": alerts.commits, "rows": alerts.rows, "next_offsets": alerts.next_offsets},
                }));
            } else {
                println!("{} commits", report.commits + alerts.commits);
                for t in LakeTable::JOURNAL {
                    println!(
                        "  {:11} +{} rows in {} files; next journal block {}",
                        t.name(),
                        report.rows.get(t.name()).unwrap_or(&0),
                        report.files.get(t.name()).unwrap_or(&0),
                        report.next_seq.get(t.name()).unwrap_or(&1)
                    );
                }
                println!(
                    "  risk_alerts +{} rows from risk.alerts; next offsets {:?}",
                    alerts.rows, alerts.next_offsets
                );
            }
            Ok(())
        }
        LakeCommand::Expire { older_than_hours, retain_last } => {
            let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
            let cutoff = now_ms - (older_than_hours as i64) * 3_600_000;
            let reports = rt.block_on(async {
                let lake = Lake::open(&ctx.lake_dir()).await?;
                let mut out = Vec::new();
                for t in LakeTable::ALL {
                    let r = aurum_lake::maintenance::expire_snapshots(&lake, t, cutoff, retain_last.max(1)).await?;
                    out.push(json!({"table": t.name(), "snapshots_before": r.snapshots_before, "expired": r.expired, "files_deleted": r.files_deleted}));
                }
                Ok::<_, aurum_lake::LakeError>(out)
            })?;
            if ctx.json {
                print_json(&json!({"tables": reports}));
            } else {
                for r in &reports {
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
                let lake = Lake::open(&ctx.lake_dir()).await?;
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

/// Run `aurum sql`.
pub fn run_sql(ctx: &Context, args: SqlArgs) -> CliResult {
    let rt = runtime()?;
    rt.block_on(async {
        let lake = Lake::open(&ctx.lake_dir()).await?;
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
                let mut buf = Vec::new();
                {
                    let mut w = datafusion_json_writer(&mut buf);
                    for b in &batches {
                        w.write(b)?;
                    }
                    w.finish()?;
                }
                println!("{}", String::from_utf8_lossy(&buf));
            } else {
                println!("{}", sql::format(&batches)?);
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
}

fn datafusion_json_writer<W: std::io::Write>(w: W) -> aurum_lake::sql::JsonArrayWriter<W> {
    aurum_lake::sql::JsonArrayWriter::new(w)
}
