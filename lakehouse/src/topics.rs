//! Sinks from the log's topics: today `risk.alerts` into `risk_alerts`.
//!
//! Same contract as the journal sink: each micro-batch's rows and the topic position — the next
//! offset of every partition, `aurum.offset.<partition>` in the snapshot summary — are one Iceberg
//! commit, so a restart resumes exactly where the last commit stopped: no record lost, none
//! written twice. A record that does not parse stops the sink with its topic, partition and offset
//! (a silently skipped alert would be a lost one).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use aurum_log::Log;
use aurum_risk::stream::{ALERTS_TOPIC, Alert};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::table::Table;

use crate::catalog::Lake;
use crate::error::LakeError;
use crate::rows::project_by_name;
use crate::sink::{SOURCE_PROPERTY, commit_with, write_batch};
use crate::tables::LakeTable;

/// Snapshot property prefix: `aurum.offset.<partition>` = the next offset of that partition.
pub const OFFSET_PROPERTY_PREFIX: &str = "aurum.offset.";
/// Most records in one micro-batch.
pub const MAX_RECORDS_PER_COMMIT: usize = 100_000;
/// Bytes per read of the log.
const READ_BYTES: usize = 1 << 20;

/// The next offset of every partition, from the table's current snapshot (0 where absent).
pub fn next_offsets(table: &Table, which: LakeTable) -> Result<BTreeMap<u32, u64>, LakeError> {
    let mut out = BTreeMap::new();
    if let Some(s) = table.metadata().current_snapshot() {
        for (k, v) in &s.summary().additional_properties {
            if let Some(p) = k.strip_prefix(OFFSET_PROPERTY_PREFIX) {
                let bad = || LakeError::BadOffset {
                    table: which.name(),
                    key: OFFSET_PROPERTY_PREFIX,
                    value: format!("{k}={v}"),
                };
                out.insert(p.parse().map_err(|_| bad())?, v.parse().map_err(|_| bad())?);
            }
        }
    }
    Ok(out)
}

#[derive(Default)]
struct AlertCols {
    offset: Int64Builder,
    ts: TimestampMicrosecondBuilder,
    ts_ns: Int64Builder,
    transfer: StringBuilder,
    debit: StringBuilder,
    credit: StringBuilder,
    asset: Int64Builder,
    amount: StringBuilder,
    score: Float64Builder,
    decision: StringBuilder,
    source: StringBuilder,
    patterns: StringBuilder,
    reasons: StringBuilder,
    rows: usize,
}

impl AlertCols {
    fn push(&mut self, offset: u64, a: &Alert) {
        self.offset.append_value(offset as i64);
        self.ts.append_value((a.timestamp_ns / 1_000) as i64);
        self.ts_ns.append_value(a.timestamp_ns as i64);
        self.transfer.append_value(&a.transfer);
        self.debit.append_value(&a.debit_account);
        self.credit.append_value(&a.credit_account);
        self.asset.append_value(i64::from(a.asset));
        self.amount.append_value(&a.amount_units);
        self.score.append_value(a.score);
        self.decision.append_value(&a.decision);
        self.source.append_value(&a.source);
        let mut patterns: Vec<&str> = a.reasons.iter().map(|r| r.pattern.as_str()).collect();
        patterns.dedup();
        self.patterns.append_value(patterns.join(","));
        self.reasons.append_value(serde_json::to_string(&a.reasons).expect("reasons serialize"));
        self.rows += 1;
    }

    fn batch(&mut self, schema: arrow_schema::SchemaRef) -> Result<RecordBatch, LakeError> {
        let known: Vec<(&str, ArrayRef)> = vec![
            ("log_offset", Arc::new(self.offset.finish())),
            ("ts", Arc::new(self.ts.finish().with_timezone("+00:00"))),
            ("ts_ns", Arc::new(self.ts_ns.finish())),
            ("transfer_id", Arc::new(self.transfer.finish())),
            ("debit_account", Arc::new(self.debit.finish())),
            ("credit_account", Arc::new(self.credit.finish())),
            ("asset_id", Arc::new(self.asset.finish())),
            ("amount_units", Arc::new(self.amount.finish())),
            ("score", Arc::new(self.score.finish())),
            ("decision", Arc::new(self.decision.finish())),
            ("source", Arc::new(self.source.finish())),
            ("patterns", Arc::new(self.patterns.finish())),
            ("reasons", Arc::new(self.reasons.finish())),
        ];
        self.rows = 0;
        project_by_name(&known, schema)
    }
}

/// What a topic sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSyncReport {
    /// Commits made.
    pub commits: u64,
    /// Rows appended.
    pub rows: u64,
    /// The next offset of every partition after the sync.
    pub next_offsets: BTreeMap<u32, u64>,
}

/// Bring `risk_alerts` up to the end of the `risk.alerts` topic (nothing to do if the topic does
/// not exist yet).
pub async fn sync_risk_alerts(lake: &Lake, log: &Log) -> Result<TopicSyncReport, LakeError> {
    let which = LakeTable::RiskAlerts;
    let mut table = lake.table(which).await?;
    let mut next = next_offsets(&table, which)?;
    let mut report = TopicSyncReport::default();
    if !log.topics().iter().any(|t| t == ALERTS_TOPIC) {
        report.next_offsets = next;
        return Ok(report);
    }
    let partitions = log.partition_count(ALERTS_TOPIC)?;
    loop {
        let mut cols = AlertCols::default();
        let mut advanced = next.clone();
        for p in 0..partitions {
            let mut offset = *advanced.get(&p).unwrap_or(&0);
            while cols.rows < MAX_RECORDS_PER_COMMIT {
                let fetch = log.read(ALERTS_TOPIC, p, offset, READ_BYTES)?;
                if fetch.records.is_empty() {
                    break;
                }
                for r in fetch.records {
                    let alert: Alert = serde_json::from_slice(r.value.as_deref().unwrap_or_default()).map_err(|e| {
                        LakeError::BadRecord {
                            topic: ALERTS_TOPIC,
                            partition: p,
                            offset: r.offset,
                            reason: e.to_string(),
                        }
                    })?;
                    cols.push(r.offset, &alert);
                    offset = r.offset + 1;
                }
            }
            advanced.insert(p, offset);
        }
        if cols.rows == 0 {
            break;
        }
        let first = next.values().copied().min().unwrap_or(0);
        let schema = Arc::new(schema_to_arrow_schema(table.metadata().current_schema())?);
        let rows = cols.rows as u64;
        let files = write_batch(&table, which, first, cols.batch(schema)?).await?;
        let mut props = HashMap::from([(SOURCE_PROPERTY.to_string(), ALERTS_TOPIC.to_string())]);
        for (p, o) in &advanced {
            props.insert(format!("{OFFSET_PROPERTY_PREFIX}{p}"), o.to_string());
        }
        table = commit_with(lake, &table, files, props).await?;
        next = advanced;
        report.commits += 1;
        report.rows += rows;
    }
    report.next_offsets = next;
    Ok(report)
}
