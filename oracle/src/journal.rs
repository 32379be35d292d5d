//! The oracle's journal: every round's decision (with the sources used and dropped, and the push it led to) and
//! every verified external event, appended durably to topics of the platform's log (embedded or Kafka), keyed by symbol. That is where
//! prices are kept for analytics (the lakehouse sink reads these topics) and where an auditor finds why a price
//! was or was not published.

use aurum_log::{ProducerRecord, SharedTopics, TopicConfig};
use serde_json::{Value, json};

use crate::aggregate::RoundReport;
use crate::push::PushOutcome;
use crate::signing::Observation;

/// Topic of round records.
pub const ROUNDS_TOPIC: &str = "oracle.rounds";
/// Topic of verified external events (trading halts, custodian notices).
pub const EVENTS_TOPIC: &str = "oracle.events";
/// Most bytes read back per fetch.
const FETCH_BYTES: usize = 1 << 20;

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The log failed.
    #[error("oracle journal: {0}")]
    Log(#[from] aurum_log::Error),
    /// A stored record is not JSON.
    #[error("oracle journal: record at offset {offset} is not JSON: {reason}")]
    Corrupt {
        /// Offset.
        offset: u64,
        /// Why.
        reason: String,
    },
}

/// Appends to the oracle's topics.
#[derive(Debug, Clone)]
pub struct OracleJournal {
    log: SharedTopics,
}

impl OracleJournal {
    /// Opens (creating the topics if needed) on `log`: the embedded log or a Kafka cluster.
    pub fn open(log: SharedTopics) -> Result<Self, JournalError> {
        for topic in [ROUNDS_TOPIC, EVENTS_TOPIC] {
            log.create_topic(topic, TopicConfig { partitions: 1, ..TopicConfig::default() })?;
        }
        Ok(Self { log })
    }

    /// Records a round and what was pushed.
    pub fn record_round(&self, report: &RoundReport, push: Option<&PushOutcome>) -> Result<(), JournalError> {
        let record = json!({
            "round": report,
            "push": push.map(|p| json!({
                "reason": p.reason,
                "tx": p.tx.map(|t| t.to_string()),
                "feed_round": p.latest.map(|l| l.round.to_string()),
            })),
        });
        self.log.produce(ROUNDS_TOPIC, vec![ProducerRecord::new(report.symbol.clone(), record.to_string())])?;
        Ok(())
    }

    /// Records a verified event.
    pub fn record_event(&self, event: &Observation) -> Result<(), JournalError> {
        let record = json!({
            "source": event.source, "event": event.symbol, "text": event.text, "value": event.value,
            "observed_at_ms": event.observed_at_ms, "received_at_ms": event.received_at_ms,
            "signature": event.signature,
        });
        self.log.produce(EVENTS_TOPIC, vec![ProducerRecord::new(event.symbol.clone(), record.to_string())])?;
        Ok(())
    }

    /// Every record of `topic`, oldest first (for analytics and tests; bounded by what the topic holds).
    pub fn read_all(&self, topic: &str) -> Result<Vec<Value>, JournalError> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let fetched = self.log.read(topic, 0, offset, FETCH_BYTES)?;
            if fetched.records.is_empty() {
                return Ok(out);
            }
            for r in &fetched.records {
                let v = serde_json::from_slice(r.value.as_deref().unwrap_or_default())
                    .map_err(|e| JournalError::Corrupt { offset: r.offset, reason: e.to_string() })?;
                out.push(v);
            }
            offset = fetched.next_offset;
        }
    }
}
