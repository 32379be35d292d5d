//! The streaming scorer over the ledger journal, and the `risk.alerts` and `risk.scores` topics.
//!
//! [`RiskStream::poll`] reads the journal's blocks from where it stopped, registers assets as the
//! journal creates them, scores and observes every applied transfer in journal order, and appends
//! the alerts of each block to `risk.alerts` in **one** append (a record batch is the log's atomic
//! unit), and the scores of all its transfers to `risk.scores` as **one** record (the lakehouse's
//! `risk_scores` table reads it). Each record carries its block sequence in a header, so on open
//! the stream finds the last block already written to each topic and — after rebuilding its
//! profiles by replaying the journal from genesis — emits nothing twice and skips nothing: alerts
//! and scores are each exactly once across restarts (a crash between the two appends is repaired
//! by the next run, which writes only the one that is missing).

use aurum_ledger::Command;
use aurum_ledger_node::journal::{JournalReader, RawBlock};
use aurum_log::{Header, ProducerRecord, SharedTopics, TopicConfig, Topics};
use serde::{Deserialize, Serialize};

use crate::error::RiskError;
use crate::event::TxEvent;
use crate::scorer::{Assessment, Scorer};

/// The alerts topic.
pub const ALERTS_TOPIC: &str = "risk.alerts";
/// The scores topic: one record per journal block with applied transfers ([`BlockScores`]).
pub const SCORES_TOPIC: &str = "risk.scores";
/// Header of an alert or scores record holding its journal block sequence (8 bytes, big-endian).
pub const BLOCK_SEQ_HEADER: &str = "block_seq";
/// Blocks processed per [`RiskStream::poll`] at most.
pub const MAX_BLOCKS_PER_POLL: usize = 1024;

/// One fired rule in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertReason {
    /// Rule name.
    pub rule: String,
    /// Pattern.
    pub pattern: String,
    /// `sender` or `receiver`.
    pub side: String,
    /// The account, a decimal string.
    pub account: String,
    /// Contribution.
    pub score: f64,
    /// Explanation.
    pub text: String,
}

/// An alert, as stored in `risk.alerts` and sent to webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Transfer id, a decimal string.
    pub transfer: String,
    /// Debit account.
    pub debit_account: String,
    /// Credit account.
    pub credit_account: String,
    /// Ledger asset id.
    pub asset: u32,
    /// Amount in base units, a decimal string (exact).
    pub amount_units: String,
    /// Event time, ns since the epoch.
    pub timestamp_ns: u64,
    /// Score in [0, 1].
    pub score: f64,
    /// allow / hold / reject: what the policy decided (or would have, for journal scoring).
    pub decision: String,
    /// Where it was scored: `admission` or `journal`.
    pub source: String,
    /// Why.
    pub reasons: Vec<AlertReason>,
}

impl Alert {
    /// The alert for an assessment.
    pub fn of(e: &TxEvent, a: &Assessment, source: &str) -> Alert {
        Alert {
            transfer: e.id.to_string(),
            debit_account: e.debit.to_string(),
            credit_account: e.credit.to_string(),
            asset: e.asset,
            amount_units: e.amount.to_string(),
            timestamp_ns: e.ts_ns,
            score: a.score,
            decision: a.decision.as_str().to_string(),
            source: source.to_string(),
            reasons: a
                .reasons
                .iter()
                .map(|r| AlertReason {
                    rule: r.rule.clone(),
                    pattern: r.pattern.clone(),
                    side: r.side.as_str().to_string(),
                    account: r.account.to_string(),
                    score: r.score,
                    text: r.text.clone(),
                })
                .collect(),
        }
    }

    /// The patterns of its reasons, in rule order, each once.
    pub fn patterns(&self) -> Vec<String> {
        unique_patterns(self.reasons.iter().map(|r| r.pattern.as_str()))
    }

    /// Its record (key: the transfer id).
    pub fn record(&self, block_seq: Option<u64>) -> ProducerRecord {
        let value = serde_json::to_vec(self).expect("alerts serialize");
        let headers = block_seq
            .map(|s| vec![Header { key: BLOCK_SEQ_HEADER.to_string(), value: s.to_be_bytes().to_vec() }])
            .unwrap_or_default();
        ProducerRecord {
            key: Some(self.transfer.clone().into_bytes()),
            value: Some(value),
            headers,
            timestamp_ms: None,
        }
    }
}

/// The patterns of fired rules, in rule order, each once (a pattern can have several rules).
pub fn unique_patterns<'a>(patterns: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in patterns {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// One scored transfer in a [`BlockScores`] record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredTransfer {
    /// Transfer id, a decimal string.
    pub transfer: String,
    /// Debit account.
    pub debit_account: String,
    /// Credit account.
    pub credit_account: String,
    /// Ledger asset id.
    pub asset: u32,
    /// Amount in base units, a decimal string (exact).
    pub amount_units: String,
    /// Event time, ns since the epoch.
    pub timestamp_ns: u64,
    /// Combined score in [0, 1].
    pub score: f64,
    /// The model's part of it, in [0, 1].
    pub model_score: f64,
    /// allow / hold / reject: what the policy would have decided.
    pub decision: String,
    /// Whether the score reached the alert threshold (the alert is in `risk.alerts`).
    pub alert: bool,
    /// The patterns of the fired rules, in rule order, without repeats.
    pub patterns: Vec<String>,
}

impl ScoredTransfer {
    /// The record entry of an assessment.
    pub fn of(e: &TxEvent, a: &Assessment) -> ScoredTransfer {
        ScoredTransfer {
            transfer: e.id.to_string(),
            debit_account: e.debit.to_string(),
            credit_account: e.credit.to_string(),
            asset: e.asset,
            amount_units: e.amount.to_string(),
            timestamp_ns: e.ts_ns,
            score: a.score,
            model_score: a.model.score,
            decision: a.decision.as_str().to_string(),
            alert: a.alert,
            patterns: unique_patterns(a.reasons.iter().map(|r| r.pattern.as_str())),
        }
    }
}

/// The scores of one journal block's applied transfers, as stored in `risk.scores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockScores {
    /// The journal block sequence.
    pub seq: u64,
    /// Every applied transfer of the block, in journal order.
    pub scores: Vec<ScoredTransfer>,
}

impl BlockScores {
    /// Its record (no key; the block sequence in a header, like journal alerts).
    pub fn record(&self) -> ProducerRecord {
        ProducerRecord {
            key: None,
            value: Some(serde_json::to_vec(self).expect("scores serialize")),
            headers: vec![Header { key: BLOCK_SEQ_HEADER.to_string(), value: self.seq.to_be_bytes().to_vec() }],
            timestamp_ms: None,
        }
    }
}

/// Create the alerts topic if needed.
pub fn ensure_alerts_topic(log: &dyn Topics) -> Result<(), RiskError> {
    log.create_topic(ALERTS_TOPIC, TopicConfig { partitions: 1, ..TopicConfig::default() })?;
    Ok(())
}

/// Create the scores topic if needed.
pub fn ensure_scores_topic(log: &dyn Topics) -> Result<(), RiskError> {
    log.create_topic(SCORES_TOPIC, TopicConfig { partitions: 1, ..TopicConfig::default() })?;
    Ok(())
}

/// Every alert in the topic from `offset`, at most `max` (for the API, the CLI and tests).
pub fn read_alerts(log: &dyn Topics, offset: u64, max: usize) -> Result<(Vec<(u64, Alert)>, u64), RiskError> {
    let mut out = Vec::new();
    let mut next = offset;
    while out.len() < max {
        let fetch = log.read(ALERTS_TOPIC, 0, next, 1 << 20)?;
        if fetch.records.is_empty() {
            break;
        }
        for r in fetch.records {
            next = r.offset + 1;
            if let Some(v) = r.value.as_deref()
                && let Ok(alert) = serde_json::from_slice::<Alert>(v)
            {
                out.push((r.offset, alert));
                if out.len() == max {
                    break;
                }
            }
        }
    }
    Ok((out, next))
}

/// The block sequence of the last journal-sourced record in `topic` (alerts or scores).
fn last_block_in(log: &dyn Topics, topic: &str) -> Result<Option<u64>, RiskError> {
    let offsets = log.offsets(topic, 0)?;
    let mut end = offsets.high_watermark;
    // Walk back over admission alerts (no header) to the last journal one.
    while end > offsets.log_start {
        let fetch = log.read(topic, 0, end - 1, 1)?;
        if let Some(seq) = fetch
            .records
            .iter()
            .rev()
            .filter(|r| r.offset == end - 1)
            .find_map(|r| r.headers.iter().find(|h| h.key == BLOCK_SEQ_HEADER))
            .and_then(|h| <[u8; 8]>::try_from(h.value.as_slice()).ok())
        {
            return Ok(Some(u64::from_be_bytes(seq)));
        }
        end -= 1;
    }
    Ok(None)
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Blocks read.
    pub blocks: u64,
    /// Transfers scored.
    pub transfers: u64,
    /// Alerts appended (blocks already alerted before a restart append none).
    pub alerts: u64,
    /// Scores records appended (one per block with applied transfers, not written before).
    pub score_records: u64,
}

/// The journal-driven scorer.
#[derive(Debug)]
pub struct RiskStream {
    scorer: Scorer,
    journal: JournalReader,
    log: SharedTopics,
    next_seq: u64,
    alerted_through: Option<u64>,
    scored_through: Option<u64>,
}

impl RiskStream {
    /// A stream over `journal` (from [`JournalReader::new`] on an embedded log, or an engine's
    /// `journal_reader()`), writing alerts and scores to `alerts_log`.
    /// The scorer starts from genesis: call [`RiskStream::poll`] until it returns no blocks to
    /// catch up.
    pub fn open(scorer: Scorer, journal: JournalReader, alerts_log: SharedTopics) -> Result<RiskStream, RiskError> {
        ensure_alerts_topic(&*alerts_log)?;
        ensure_scores_topic(&*alerts_log)?;
        let alerted_through = last_block_in(&*alerts_log, ALERTS_TOPIC)?;
        let scored_through = last_block_in(&*alerts_log, SCORES_TOPIC)?;
        Ok(RiskStream { scorer, journal, log: alerts_log, next_seq: 0, alerted_through, scored_through })
    }

    /// The scorer.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// The scorer, mutably (to swap rules).
    pub fn scorer_mut(&mut self) -> &mut Scorer {
        &mut self.scorer
    }

    /// The next block to read.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Process the blocks appended since the last poll (at most [`MAX_BLOCKS_PER_POLL`]).
    pub fn poll(&mut self) -> Result<PollReport, RiskError> {
        let mut report = PollReport::default();
        let blocks = self.journal.read_blocks(self.next_seq)?;
        for raw in blocks.take(MAX_BLOCKS_PER_POLL) {
            let mut alerts = Vec::new();
            let mut scores = Vec::new();
            let seq = score_block(&mut self.scorer, raw?, |e, a, seq| {
                report.transfers += 1;
                scores.push(ScoredTransfer::of(e, a));
                if a.alert {
                    alerts.push(Alert::of(e, a, "journal").record(Some(seq)));
                }
            })?;
            if !alerts.is_empty() && self.alerted_through.is_none_or(|s| seq > s) {
                report.alerts += alerts.len() as u64;
                self.log.append(ALERTS_TOPIC, 0, &alerts)?;
                self.alerted_through = Some(seq);
            }
            if !scores.is_empty() && self.scored_through.is_none_or(|s| seq > s) {
                report.score_records += 1;
                self.log.append(SCORES_TOPIC, 0, &[BlockScores { seq, scores }.record()])?;
                self.scored_through = Some(seq);
            }
            self.next_seq = seq + 1;
            report.blocks += 1;
        }
        Ok(report)
    }
}

/// Score one journal block: register the assets it creates, score and observe every applied
/// transfer in order (`on_scored` sees each with its assessment and the block's seq). Returns the
/// block's seq.
fn score_block(
    scorer: &mut Scorer,
    raw: RawBlock,
    mut on_scored: impl FnMut(&TxEvent, &Assessment, u64),
) -> Result<u64, RiskError> {
    let block = raw.block.map_err(|e| {
        RiskError::Journal(aurum_ledger_node::journal::JournalError::BadRecord {
            offset: raw.offset,
            reason: e.to_string(),
        })
    })?;
    for (command, outcome) in block.commands.iter().zip(&block.result.outcomes) {
        if let Command::CreateAsset(a) = command
            && outcome.code.is_ok()
        {
            scorer.register_asset(a.id.0, &a.code, a.scale)?;
        }
        if let Some(e) = TxEvent::of_applied(command, outcome) {
            let a = scorer.process(&e);
            on_scored(&e, &a, block.seq);
        }
    }
    Ok(block.seq)
}

/// Rebuild a scorer's state by replaying the whole journal through it (assets registered,
/// every applied transfer scored and observed), without alerting. For a server starting up: its
/// admission scorer then continues from where the ledger is. Returns the transfers replayed.
pub fn replay_journal(scorer: &mut Scorer, reader: &JournalReader) -> Result<u64, RiskError> {
    let mut transfers = 0;
    for raw in reader.read_blocks(0)? {
        score_block(scorer, raw?, |_, _, _| transfers += 1)?;
    }
    Ok(transfers)
}
