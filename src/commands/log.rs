//! `aurum log ...`: topics, produce, consume, offsets, consumer-group lag, retention, compaction.
//!
//! Topics, produce, consume by partition and lag go to the platform's topics wherever
//! `--topics` puts them (the data directory's log or a Kafka cluster); group membership,
//! timestamp lookups, retention and compaction are the embedded log's own (Kafka brokers do
//! their own retention and compaction).

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use aurum_log::{CleanupPolicy, Consumer, Durability, Log, LogOptions, ProducerRecord, TopicConfig, Topics};
use aurum_vfs::OsVfs;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliResult, Context};
use crate::output::{print_json, show_bytes};

/// Subcommands of `aurum log`.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// List topics with their partitions and offsets.
    Topics,
    /// Create a topic (a no-op if it exists with the same configuration).
    CreateTopic(CreateTopicArgs),
    /// Append records: each VALUE argument, or each line of stdin when none is given.
    Produce(ProduceArgs),
    /// Read records from a partition, or as a member of a consumer group.
    Consume(ConsumeArgs),
    /// Show a consumer group's committed offsets and lag per partition.
    Lag {
        /// Consumer group.
        group: String,
        /// Topic.
        topic: String,
    },
    /// Delete segments past the retention limits of every delete-policy topic.
    Retention,
    /// Compact a compacted topic.
    Compact {
        /// Topic.
        topic: String,
    },
}

/// Arguments of `aurum log create-topic`.
#[derive(Debug, Args)]
pub struct CreateTopicArgs {
    /// Topic name: 1-249 of A-Z a-z 0-9 . _ -
    pub name: String,
    /// Number of partitions.
    #[arg(long, default_value_t = 1)]
    pub partitions: u32,
    /// Keep the latest record per key instead of deleting old segments.
    #[arg(long)]
    pub compact: bool,
    /// Roll segments at this size.
    #[arg(long, default_value_t = 128 << 20)]
    pub segment_bytes: u64,
    /// Delete segments while the partition is larger than this.
    #[arg(long)]
    pub retention_bytes: Option<u64>,
    /// Delete segments whose newest record is older than this.
    #[arg(long)]
    pub retention_ms: Option<u64>,
    /// Acknowledge at once and fsync every N ms instead of fsyncing every batch.
    #[arg(long)]
    pub flush_interval_ms: Option<u64>,
}

/// Arguments of `aurum log produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic.
    pub topic: String,
    /// Record values; read from stdin, one per line, when none is given.
    pub values: Vec<String>,
    /// Key for every record (partitions by key hash; without it, round robin).
    #[arg(long)]
    pub key: Option<String>,
    /// Headers as NAME=VALUE, repeatable.
    #[arg(long = "header", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

/// Arguments of `aurum log consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic.
    pub topic: String,
    /// Partition (ignored with --group).
    #[arg(long, default_value_t = 0)]
    pub partition: u32,
    /// Start at this offset (default: the start of the log).
    #[arg(long, conflicts_with = "from_timestamp_ms")]
    pub from_offset: Option<u64>,
    /// Start at the first record with a timestamp at or after this (ms since the epoch).
    #[arg(long)]
    pub from_timestamp_ms: Option<i64>,
    /// Consume as a member of this group, from its committed offsets, and commit at the end.
    #[arg(long)]
    pub group: Option<String>,
    /// Stop after this many records.
    #[arg(long, default_value_t = 100)]
    pub max: usize,
    /// Wait up to this long for records when none are available.
    #[arg(long, default_value_t = 0)]
    pub wait_ms: u64,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("header {s:?} is not NAME=VALUE"))
}

/// Open the embedded log under the data directory.
pub fn open_log(ctx: &Context) -> Result<Log, aurum_log::Error> {
    let log = Log::open(Arc::new(OsVfs), &ctx.log_dir(), LogOptions::default())?;
    for (topic, partition, rec) in &log.open_report().truncated {
        eprintln!(
            "recovery: cut {} bytes from the tail of {topic}/{partition}: {}",
            rec.truncated_bytes,
            rec.reason.as_deref().unwrap_or("torn write")
        );
    }
    Ok(log)
}

/// Run `aurum log ...`.
pub fn run(ctx: &Context, cmd: LogCommand) -> CliResult {
    let embedded = open_log(ctx)?;
    let log = super::backends::topics(ctx, &embedded)?;
    let embedded_only = |what: &str| -> CliResult {
        if super::backends::external_topics(ctx)?.is_some() {
            return Err(format!("{what} is the embedded log's; the topics are on {}", log.describe()).into());
        }
        Ok(())
    };
    match cmd {
        LogCommand::Topics => {
            let mut rows = Vec::new();
            for topic in log.topic_names()? {
                for p in 0..log.partition_count(&topic)? {
                    let o = log.offsets(&topic, p)?;
                    rows.push(json!({"topic": topic, "partition": p, "log_start": o.log_start, "high_watermark": o.high_watermark}));
                }
            }
            if ctx.json {
                print_json(&json!(rows));
            } else {
                println!("{:<32} {:>9} {:>12} {:>14}", "TOPIC", "PARTITION", "LOG_START", "HIGH_WATERMARK");
                for r in rows {
                    println!(
                        "{:<32} {:>9} {:>12} {:>14}",
                        r["topic"].as_str().unwrap_or_default(),
                        r["partition"].as_u64().unwrap_or_default(),
                        r["log_start"].as_u64().unwrap_or_default(),
                        r["high_watermark"].as_u64().unwrap_or_default()
                    );
                }
            }
        }
        LogCommand::CreateTopic(a) => {
            let config = TopicConfig {
                partitions: a.partitions,
                segment_bytes: a.segment_bytes,
                retention_bytes: a.retention_bytes,
                retention_ms: a.retention_ms.or(TopicConfig::default().retention_ms),
                cleanup: if a.compact { CleanupPolicy::Compact } else { CleanupPolicy::Delete },
                durability: a
                    .flush_interval_ms
                    .map_or(Durability::EveryBatch, |interval_ms| Durability::Interval { interval_ms }),
                ..TopicConfig::default()
            };
            log.create_topic(&a.name, config)?;
            if ctx.json {
                print_json(&json!({"created": a.name, "partitions": a.partitions}));
            } else {
                println!("topic {} ready with {} partition(s)", a.name, a.partitions);
            }
        }
        LogCommand::Produce(a) => {
            let values: Vec<String> =
                if a.values.is_empty() { std::io::stdin().lock().lines().collect::<Result<_, _>>()? } else { a.values };
            let headers: Vec<aurum_log::Header> = a
                .headers
                .iter()
                .map(|(k, v)| aurum_log::Header { key: k.clone(), value: v.as_bytes().to_vec() })
                .collect();
            let records = values
                .into_iter()
                .map(|v| ProducerRecord {
                    key: a.key.as_ref().map(|k| k.as_bytes().to_vec()),
                    value: Some(v.into_bytes()),
                    headers: headers.clone(),
                    timestamp_ms: None,
                })
                .collect();
            let acks = log.produce(&a.topic, records)?;
            if ctx.json {
                let acks: Vec<_> = acks
                    .iter()
                    .map(|k| json!({"partition": k.partition, "base_offset": k.base_offset, "last_offset": k.last_offset, "durability": format!("{:?}", k.durability)}))
                    .collect();
                print_json(&json!(acks));
            } else {
                for k in acks {
                    println!(
                        "partition {} offsets {}..={} ({:?})",
                        k.partition, k.base_offset, k.last_offset, k.durability
                    );
                }
            }
        }
        LogCommand::Consume(a) => {
            if a.group.is_some() || a.from_timestamp_ms.is_some() {
                embedded_only("consuming with --group or --from-timestamp-ms")?;
            }
            consume(ctx, &embedded, &*log, a)?;
        }
        LogCommand::Lag { group, topic } => {
            let lag = log.lag(&group, &topic)?;
            if ctx.json {
                let rows: Vec<_> = lag
                    .iter()
                    .map(|l| json!({"partition": l.partition, "log_end": l.log_end, "committed": l.committed, "lag": l.lag}))
                    .collect();
                print_json(&json!(rows));
            } else {
                println!("{:>9} {:>12} {:>12} {:>10}", "PARTITION", "LOG_END", "COMMITTED", "LAG");
                for l in lag {
                    let committed = l.committed.map_or_else(|| "-".to_string(), |c| c.to_string());
                    println!("{:>9} {:>12} {:>12} {:>10}", l.partition, l.log_end, committed, l.lag);
                }
            }
        }
        LogCommand::Retention => {
            embedded_only("retention")?;
            let r = embedded.enforce_retention()?;
            if ctx.json {
                print_json(&json!({"segments_deleted": r.segments_deleted, "bytes_deleted": r.bytes_deleted}));
            } else {
                println!("deleted {} segment(s), {} bytes", r.segments_deleted, r.bytes_deleted);
            }
        }
        LogCommand::Compact { topic } => {
            embedded_only("compaction")?;
            let r = embedded.compact(&topic)?;
            if ctx.json {
                print_json(
                    &json!({"segments_cleaned": r.segments_cleaned, "records_removed": r.records_removed, "bytes_freed": r.bytes_freed}),
                );
            } else {
                println!(
                    "cleaned {} segment(s): removed {} record(s), freed {} bytes",
                    r.segments_cleaned, r.records_removed, r.bytes_freed
                );
            }
        }
    }
    Ok(())
}

/// `embedded` serves group membership and timestamp lookups; `log` the rest.
fn consume(ctx: &Context, embedded: &Log, log: &dyn Topics, a: ConsumeArgs) -> CliResult {
    let wait = Duration::from_millis(a.wait_ms);
    let mut out: Vec<(String, u32, aurum_log::Record)> = Vec::new();
    if let Some(group) = &a.group {
        let member = format!("cli-{}", std::process::id());
        let mut consumer = Consumer::join(embedded, group, &member, &[a.topic.as_str()])?;
        while out.len() < a.max {
            let got = consumer.poll(a.max - out.len(), wait)?;
            if got.is_empty() {
                break;
            }
            out.extend(got.into_iter().map(|r| (r.topic, r.partition, r.record)));
        }
        consumer.commit()?;
    } else {
        let start = match (a.from_offset, a.from_timestamp_ms) {
            (Some(o), _) => o,
            (None, Some(ts)) => match embedded.offset_for_timestamp(&a.topic, a.partition, ts)? {
                Some(o) => o,
                None => log.offsets(&a.topic, a.partition)?.high_watermark,
            },
            (None, None) => log.offsets(&a.topic, a.partition)?.log_start,
        };
        let mut at = start;
        while out.len() < a.max {
            let f = log.read_wait(&a.topic, a.partition, at, 1 << 20, wait)?;
            if f.records.is_empty() {
                break;
            }
            at = f.next_offset;
            out.extend(f.records.into_iter().map(|r| (a.topic.clone(), a.partition, r)));
        }
        out.truncate(a.max);
    }
    for (topic, partition, r) in &out {
        if ctx.json {
            print_json(&json!({
                "topic": topic, "partition": partition, "offset": r.offset, "timestamp_ms": r.timestamp_ms,
                "key": r.key.as_deref().map(show_bytes), "value": r.value.as_deref().map(show_bytes),
                "headers": r.headers.iter().map(|h| json!({"key": h.key, "value": show_bytes(&h.value)})).collect::<Vec<_>>(),
            }));
        } else {
            println!(
                "{topic}/{partition}@{} ts={} key={} value={}",
                r.offset,
                r.timestamp_ms,
                r.key.as_deref().map_or_else(|| "-".to_string(), show_bytes),
                r.value.as_deref().map_or_else(|| "(tombstone)".to_string(), show_bytes)
            );
        }
    }
    Ok(())
}
