//! `aurum quality`: data-quality checks (a TOML file; docs/quality.md) on the lakehouse's Iceberg
//! tables and the PostgreSQL read model, and a column profiler.

use std::path::{Path, PathBuf};

use aurum_quality::{Check, CheckResult, SourceKind, Status};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::{CliResult, Context};
use crate::output::print_json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `aurum quality …`
#[derive(Debug, Subcommand)]
pub enum QualityCommand {
    /// Run the checks of a file; exit status 1 if one fails or cannot run (warnings do not).
    Check {
        /// The checks file (TOML); default `<data-dir>/quality.toml`.
        #[arg(long)]
        checks: Option<PathBuf>,
    },
    /// Column statistics of a table: rows, NULLs, distinct values, min, max, mean, top values.
    Profile {
        /// The table (`schema.table` for PostgreSQL outside the search path).
        table: String,
        /// Where it is.
        #[arg(long, value_enum, default_value_t = Source::Lake)]
        source: Source,
    },
}

/// `--source`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Source {
    /// The Iceberg lakehouse (DataFusion).
    Lake,
    /// The PostgreSQL read model (`--read-model`).
    Postgres,
}

/// The checks file named, or the data directory's.
pub fn checks_path(ctx: &Context, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| ctx.data_dir.join("quality.toml"), Path::to_path_buf)
}

/// Run every check of `path` on its source; the results in file order per source (lake first).
pub fn run_file(ctx: &Context, path: &Path) -> Result<Vec<CheckResult>, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let checks = aurum_quality::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let rt = super::lake::runtime()?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    rt.block_on(async {
        let mut results = Vec::new();
        if wants(&checks, SourceKind::Lake) {
            let lake = ctx.open_lake().await?;
            let source = aurum_lake::quality::LakeSource::new(aurum_lake::sql::session(&lake).await?);
            results.extend(aurum_quality::run_checks(&checks, &source, now_ms).await);
        }
        if wants(&checks, SourceKind::Postgres) {
            let config = super::backends::read_model_config(ctx)?;
            let model = aurum_pg::ReadModel::connect(&config).await?;
            let source = aurum_pg::quality::PgSource::new(model.pool().clone());
            results.extend(aurum_quality::run_checks(&checks, &source, now_ms).await);
        }
        Ok(results)
    })
}

fn wants(checks: &[Check], source: SourceKind) -> bool {
    checks.iter().any(|c| c.source == source)
}

/// The results as JSON, with the worst status.
pub fn report(results: &[CheckResult]) -> Value {
    json!({"status": aurum_quality::worst(results).as_str(), "checks": results})
}

/// Run `aurum quality …`.
pub fn run(ctx: &Context, cmd: QualityCommand) -> CliResult {
    match cmd {
        QualityCommand::Check { checks } => {
            let path = checks_path(ctx, checks.as_deref());
            let results = run_file(ctx, &path)?;
            if ctx.json {
                print_json(&report(&results));
            } else {
                for r in &results {
                    println!("{:5}  {:40} {}", r.status.as_str().to_uppercase(), r.name, r.detail);
                    for e in &r.examples {
                        println!("         {:>8} × {}", e.rows, e.value);
                    }
                }
            }
            match aurum_quality::worst(&results) {
                Status::Pass | Status::Warn => Ok(()),
                s => Err(format!(
                    "{} check(s) {}",
                    results.iter().filter(|r| r.status >= Status::Fail).count(),
                    if s == Status::Fail { "failed or could not run" } else { "could not run" }
                )
                .into()),
            }
        }
        QualityCommand::Profile { table, source } => {
            let rt = super::lake::runtime()?;
            let profile = rt.block_on(async {
                match source {
                    Source::Lake => {
                        let lake = ctx.open_lake().await?;
                        let s = aurum_lake::quality::LakeSource::new(aurum_lake::sql::session(&lake).await?);
                        Ok::<_, BoxError>(aurum_quality::profile(&s, &table).await?)
                    }
                    Source::Postgres => {
                        let model = aurum_pg::ReadModel::connect(&super::backends::read_model_config(ctx)?).await?;
                        let s = aurum_pg::quality::PgSource::new(model.pool().clone());
                        Ok(aurum_quality::profile(&s, &table).await?)
                    }
                }
            })?;
            if ctx.json {
                print_json(&json!({"table": table, "columns": profile}));
            } else {
                println!(
                    "{:20} {:14} {:>9} {:>7} {:>9}  MIN … MAX (MEAN)  TOP",
                    "COLUMN", "TYPE", "ROWS", "NULLS", "DISTINCT"
                );
                for c in &profile {
                    let top: Vec<String> = c.top.iter().map(|(v, n)| format!("{v} ×{n}")).collect();
                    println!(
                        "{:20} {:14} {:>9} {:>7} {:>9}  {} … {}{}  {}",
                        c.column,
                        c.data_type,
                        c.rows,
                        c.nulls,
                        c.distinct,
                        c.min.as_deref().unwrap_or("-"),
                        c.max.as_deref().unwrap_or("-"),
                        c.mean.as_deref().map_or(String::new(), |m| format!(" ({m})")),
                        top.join(", ")
                    );
                }
            }
            Ok(())
        }
    }
}
