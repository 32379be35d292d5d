//! `aurum kv ...`: inspect and edit the embedded KV store.

use std::ops::Bound;
use std::sync::Arc;

use aurum_kv::{Db, Options};
use aurum_vfs::OsVfs;
use clap::Subcommand;
use serde_json::json;

use super::{CliResult, Context};
use crate::output::{print_json, show_bytes};

/// Subcommands of `aurum kv`.
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Print the value of a key.
    Get {
        /// Key (UTF-8).
        key: String,
    },
    /// Set a key (durable when the command returns).
    Put {
        /// Key (UTF-8).
        key: String,
        /// Value (UTF-8).
        value: String,
    },
    /// Delete a key.
    Delete {
        /// Key (UTF-8).
        key: String,
    },
    /// List keys in order: all, with a prefix, or from a start key.
    Scan {
        /// Only keys with this prefix.
        #[arg(long, conflicts_with = "start")]
        prefix: Option<String>,
        /// Start at this key (inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Stop after this many entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show store statistics.
    Stats,
    /// Flush the memtable and merge all tables into one.
    Compact,
}

/// Open the embedded KV store under the data directory.
pub fn open_kv(ctx: &Context) -> Result<Db, aurum_kv::Error> {
    Db::open(Arc::new(OsVfs), &ctx.kv_dir(), Options::default())
}

/// Run `aurum kv ...`.
pub fn run(ctx: &Context, cmd: KvCommand) -> CliResult {
    let db = open_kv(ctx)?;
    match cmd {
        KvCommand::Get { key } => {
            let value = db.get(key.as_bytes())?;
            if ctx.json {
                print_json(&json!({"key": key, "value": value.as_deref().map(show_bytes)}));
            } else {
                match value {
                    Some(v) => println!("{}", show_bytes(&v)),
                    None => return Err(format!("key {key:?} not found").into()),
                }
            }
        }
        KvCommand::Put { key, value } => {
            db.put(key.as_bytes(), value.as_bytes())?;
            if ctx.json {
                print_json(&json!({"put": key}));
            }
        }
        KvCommand::Delete { key } => {
            db.delete(key.as_bytes())?;
            if ctx.json {
                print_json(&json!({"deleted": key}));
            }
        }
        KvCommand::Scan { prefix, start, limit } => {
            let iter = match (&prefix, &start) {
                (Some(p), _) => db.scan_prefix(p.as_bytes())?,
                (None, Some(s)) => db.range((Bound::Included(s.as_bytes()), Bound::Unbounded))?,
                (None, None) => db.range::<std::ops::RangeFull>(..)?,
            };
            let mut rows = Vec::new();
            for item in iter.take(limit) {
                let (k, v) = item?;
                rows.push((show_bytes(&k), show_bytes(&v)));
            }
            if ctx.json {
                print_json(&json!(rows.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()));
            } else {
                for (k, v) in rows {
                    println!("{k}\t{v}");
                }
            }
        }
        KvCommand::Stats => print_stats(ctx, &db),
        KvCommand::Compact => {
            db.flush()?;
            db.compact()?;
            print_stats(ctx, &db);
        }
    }
    Ok(())
}

fn print_stats(ctx: &Context, db: &Db) {
    let s = db.stats();
    if ctx.json {
        print_json(&json!({
            "last_seq": s.last_seq, "memtable_bytes": s.memtable_bytes, "tables": s.tables,
            "table_bytes": s.table_bytes, "poisoned": s.poisoned,
        }));
    } else {
        println!(
            "last sequence {}, memtable {} bytes, {} table(s) of {} bytes{}",
            s.last_seq,
            s.memtable_bytes,
            s.tables,
            s.table_bytes,
            if s.poisoned { ", POISONED" } else { "" }
        );
    }
}
