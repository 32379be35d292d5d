//! Sinks from the log's topics (embedded or Kafka, through [`Topics`]), one table each:
//!
//! | topic           | table            | one record is                               | rows per record |
//! |-----------------|------------------|---------------------------------------------|-----------------|
//! | `risk.alerts`   | `risk_alerts`    | an alert (`aurum_risk::stream::Alert`)      | 1               |
//! | `risk.scores`   | `risk_scores`    | a journal block's scores (`BlockScores`)    | 1 per transfer  |
//! | `oracle.rounds` | `prices`         | an oracle round and its push                | 1               |
//! | `recon.runs`    | `recon_findings` | a reconciliation run (`RunRecord`)          | 1 per finding   |
//! | `recon.runs`    | `bars`           | the same run                                | 1 per bar       |
//!
//! Same contract as the journal sink: each micro-batch's rows and the topic position — the next
//! offset of every partition, `aurum.offset.<partition>` in the snapshot summary — are one Iceberg
//! commit, so a restart resumes exactly where the last commit stopped: no record lost, none
//! written twice. A record's rows are never split across commits. A record that does not parse
//! stops the sink with its topic, partition and offset (a silently skipped record would be a lost
//! one). Two tables may follow one topic; each keeps its own position.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aurum_log::Topics;
use aurum_oracle::journal::ROUNDS_TOPIC;
use aurum_recon::publish::{BAR_WEIGHT_SCALE, FINDING_SCALE, RUNS_TOPIC, RunRecord};
use aurum_risk::stream::{ALERTS_TOPIC, Alert, BlockScores, SCORES_TOPIC};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::table::Table;
use serde::Deserialize;

use crate::catalog::Lake;
use crate::columns::{Cell, Columns, amount};
use crate::error::LakeError;
use crate::sink::{MAX_ROWS_PER_COMMIT, SOURCE_PROPERTY, commit_with, write_batch};
use crate::tables::LakeTable;

/// Snapshot property prefix: `aurum.offset.<partition>` = the next offset of that partition.
pub const OFFSET_PROPERTY_PREFIX: &str = "aurum.offset.";
/// Most records in one micro-batch.
pub const MAX_RECORDS_PER_COMMIT: usize = 100_000;
/// Bytes per read of the log.
const READ_BYTES: usize = 1 << 20;

/// The topic a table follows (`None` for tables fed otherwise).
pub fn topic_of(table: LakeTable) -> Option<&'static str> {
    match table {
        LakeTable::RiskAlerts => Some(ALERTS_TOPIC),
        LakeTable::RiskScores => Some(SCORES_TOPIC),
        LakeTable::Prices => Some(ROUNDS_TOPIC),
        LakeTable::ReconFindings | LakeTable::Bars => Some(RUNS_TOPIC),
        LakeTable::Transfers
        | LakeTable::Postings
        | LakeTable::Accounts
        | LakeTable::ChainEvents
        | LakeTable::DailyBalances => None,
    }
}

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

/// What a topic sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSyncReport {
    /// Commits made.
    pub commits: u64,
    /// Records read.
    pub records: u64,
    /// Rows appended.
    pub rows: u64,
    /// The next offset of every partition after the sync.
    pub next_offsets: BTreeMap<u32, u64>,
}

/// One record being turned into rows.
struct Rec<'a> {
    topic: &'static str,
    partition: u32,
    offset: u64,
    value: &'a [u8],
}

impl Rec<'_> {
    fn bad(&self, reason: impl std::fmt::Display) -> LakeError {
        LakeError::BadRecord {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            reason: reason.to_string(),
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&self) -> Result<T, LakeError> {
        serde_json::from_slice(self.value).map_err(|e| self.bad(e))
    }

    fn units(&self, what: &str, v: &str) -> Result<i128, LakeError> {
        v.parse().map_err(|_| self.bad(format!("{what} {v:?} is not an integer of base units")))
    }

    fn amount(&self, what: &str, units: i128, scale: u8) -> Result<i128, LakeError> {
        amount(units, scale)
            .ok_or_else(|| self.bad(format!("{what} {units} at scale {scale} does not fit decimal(38, 18)")))
    }
}

fn micros_of_ns(ns: u64) -> i64 {
    (ns / 1_000) as i64
}

/// An oracle round record, as `aurum_oracle::journal` writes it (only what the table keeps).
#[derive(Deserialize)]
struct RoundRecord {
    round: Round,
    push: Option<Push>,
}

#[derive(Deserialize)]
struct Round {
    symbol: String,
    scale: u8,
    round: u64,
    at_ms: i64,
    outcome: Outcome,
    used: Vec<serde_json::Value>,
    dropped: Vec<serde_json::Value>,
}

/// The outcome's fields of interest, whatever its status (a plain struct keeps i128 exact; a
/// tagged enum would buffer numbers through a type without i128).
#[derive(Deserialize)]
struct Outcome {
    status: String,
    value: Option<i128>,
    candidate: Option<i128>,
}

#[derive(Deserialize)]
struct Push {
    tx: Option<String>,
}

/// Append the rows of one record of `table`'s topic.
fn push_rows(table: LakeTable, rec: &Rec<'_>, cols: &mut Columns) -> Result<(), LakeError> {
    match table {
        LakeTable::RiskAlerts => {
            let a: Alert = rec.json()?;
            let patterns = a.patterns();
            let reasons = serde_json::to_string(&a.reasons).expect("reasons serialize");
            cols.push(&[
                Cell::Unsigned(rec.offset),
                Cell::Micros(micros_of_ns(a.timestamp_ns)),
                Cell::Unsigned(a.timestamp_ns),
                Cell::Str(&a.transfer),
                Cell::Str(&a.debit_account),
                Cell::Str(&a.credit_account),
                Cell::Long(i64::from(a.asset)),
                Cell::Str(&a.amount_units),
                Cell::Double(a.score),
                Cell::Str(&a.decision),
                Cell::Str(&a.source),
                Cell::Str(&patterns.join(",")),
                Cell::Str(&reasons),
            ])
        }
        LakeTable::RiskScores => {
            let b: BlockScores = rec.json()?;
            for s in &b.scores {
                cols.push(&[
                    Cell::Unsigned(b.seq),
                    Cell::Micros(micros_of_ns(s.timestamp_ns)),
                    Cell::Unsigned(s.timestamp_ns),
                    Cell::Str(&s.transfer),
                    Cell::Str(&s.debit_account),
                    Cell::Str(&s.credit_account),
                    Cell::Long(i64::from(s.asset)),
                    Cell::Str(&s.amount_units),
                    Cell::Double(s.score),
                    Cell::Double(s.model_score),
                    Cell::Str(&s.decision),
                    Cell::Bool(s.alert),
                    Cell::Str(&s.patterns.join(",")),
                ])?;
            }
            Ok(())
        }
        LakeTable::Prices => {
            let r: RoundRecord = rec.json()?;
            let round = &r.round;
            let price = |what, v: Option<i128>| -> Result<Cell<'static>, LakeError> {
                Ok(match v {
                    None => Cell::Null,
                    Some(v) => Cell::Amount(rec.amount(what, v, round.scale)?),
                })
            };
            let published = if round.outcome.status == "published" {
                Some(round.outcome.value.ok_or_else(|| rec.bad("a published round without a value"))?)
            } else {
                None
            };
            let tx = r.push.as_ref().and_then(|p| p.tx.as_deref());
            cols.push(&[
                Cell::Unsigned(rec.offset),
                Cell::Micros(round.at_ms.saturating_mul(1_000)),
                Cell::Str(&round.symbol),
                Cell::Unsigned(round.round),
                Cell::Str(&round.outcome.status),
                price("price", published)?,
                price("candidate", round.outcome.candidate)?,
                Cell::Unsigned(round.used.len() as u64),
                Cell::Unsigned(round.dropped.len() as u64),
                tx.map_or(Cell::Null, Cell::Str),
            ])
        }
        LakeTable::ReconFindings => {
            let run: RunRecord = rec.json()?;
            for f in &run.findings {
                let expected = rec.units("expected_units", &f.expected_units)?;
                let found = rec.units("found_units", &f.found_units)?;
                let difference = found.checked_sub(expected).ok_or_else(|| rec.bad("difference overflows"))?;
                cols.push(&[
                    Cell::Unsigned(rec.offset),
                    Cell::Micros(micros_of_ns(run.generated_at_ns)),
                    Cell::Unsigned(run.chain_id),
                    Cell::Unsigned(run.block),
                    Cell::Unsigned(run.journal_seq),
                    Cell::Str(&run.bar_list_sha256),
                    Cell::Str(&f.class),
                    Cell::Str(&f.subject),
                    Cell::Amount(rec.amount("expected", expected, FINDING_SCALE)?),
                    Cell::Amount(rec.amount("found", found, FINDING_SCALE)?),
                    Cell::Amount(rec.amount("difference", difference, FINDING_SCALE)?),
                    Cell::Bool(f.explained),
                    Cell::Str(&f.explanation),
                ])?;
            }
            Ok(())
        }
        LakeTable::Bars => {
            let run: RunRecord = rec.json()?;
            for b in &run.bars {
                let oz = |what: &str, v: &str| -> Result<Cell<'static>, LakeError> {
                    Ok(Cell::Amount(rec.amount(what, rec.units(what, v)?, BAR_WEIGHT_SCALE)?))
                };
                cols.push(&[
                    Cell::Unsigned(rec.offset),
                    Cell::Micros(micros_of_ns(run.generated_at_ns)),
                    Cell::Unsigned(run.chain_id),
                    Cell::Unsigned(run.block),
                    Cell::Str(&run.bar_list_sha256),
                    Cell::Unsigned(b.line),
                    Cell::Str(&b.refiner),
                    Cell::Str(&b.serial),
                    Cell::Long(i64::from(b.year)),
                    Cell::Str(&b.vault),
                    oz("gross_milli_oz", &b.gross_milli_oz)?,
                    Cell::Long(i64::from(b.assay)),
                    oz("fine_milli_oz", &b.fine_milli_oz)?,
                    oz("expected_fine_milli_oz", &b.expected_fine_milli_oz)?,
                    Cell::Str(&b.status),
                    Cell::Str(&b.allocation),
                    Cell::Bool(b.backing),
                ])?;
            }
            Ok(())
        }
        LakeTable::Transfers
        | LakeTable::Postings
        | LakeTable::Accounts
        | LakeTable::ChainEvents
        | LakeTable::DailyBalances => unreachable!("{} follows no topic", table.name()),
    }
}

/// Bring every topic-fed table up to the end of its topic.
pub async fn sync_topics(lake: &Lake, log: &dyn Topics) -> Result<BTreeMap<LakeTable, TopicSyncReport>, LakeError> {
    let mut out = BTreeMap::new();
    for t in LakeTable::TOPICS {
        out.insert(t, sync_topic(lake, log, t).await?);
    }
    Ok(out)
}

/// Bring `which` up to the end of its topic (nothing to do if the topic does not exist yet).
pub async fn sync_topic(lake: &Lake, log: &dyn Topics, which: LakeTable) -> Result<TopicSyncReport, LakeError> {
    let topic = topic_of(which).expect("a topic-fed table");
    let mut table = lake.table(which).await?;
    let mut next = next_offsets(&table, which)?;
    let mut report = TopicSyncReport::default();
    if !log.topic_names()?.iter().any(|t| t == topic) {
        report.next_offsets = next;
        return Ok(report);
    }
    let partitions = log.partition_count(topic)?;
    loop {
        let mut cols = Columns::new(which)?;
        let mut records = 0usize;
        let mut advanced = next.clone();
        'partitions: for p in 0..partitions {
            let mut offset = *advanced.get(&p).unwrap_or(&0);
            loop {
                if records >= MAX_RECORDS_PER_COMMIT || cols.len() >= MAX_ROWS_PER_COMMIT {
                    advanced.insert(p, offset);
                    break 'partitions;
                }
                let fetch = log.read(topic, p, offset, READ_BYTES)?;
                if fetch.records.is_empty() {
                    break;
                }
                for r in &fetch.records {
                    if records >= MAX_RECORDS_PER_COMMIT || cols.len() >= MAX_ROWS_PER_COMMIT {
                        break;
                    }
                    let rec =
                        Rec { topic, partition: p, offset: r.offset, value: r.value.as_deref().unwrap_or_default() };
                    push_rows(which, &rec, &mut cols)?;
                    records += 1;
                    offset = r.offset + 1;
                }
            }
            advanced.insert(p, offset);
        }
        if records == 0 {
            break;
        }
        let first = next.values().copied().min().unwrap_or(0);
        let rows = cols.len() as u64;
        let files = if rows == 0 {
            Vec::new() // records without rows (a run without findings): the position still moves
        } else {
            let schema = Arc::new(schema_to_arrow_schema(table.metadata().current_schema())?);
            write_batch(&table, which, first, cols.finish(schema)?).await?
        };
        let mut props = HashMap::from([(SOURCE_PROPERTY.to_string(), topic.to_string())]);
        for (p, o) in &advanced {
            props.insert(format!("{OFFSET_PROPERTY_PREFIX}{p}"), o.to_string());
        }
        table = commit_with(lake, &table, files, props).await?;
        next = advanced;
        report.commits += 1;
        report.records += records as u64;
        report.rows += rows;
    }
    report.next_offsets = next;
    Ok(report)
}
