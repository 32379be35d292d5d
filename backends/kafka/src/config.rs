//! Where the journal lives on Kafka, parsed from `kafka://host:port[,host:port…]?options`.

use std::time::Duration;

use aurum_ledger_node::journal::{AckStrength, JOURNAL_TOPIC, JournalPolicy};

/// Largest record the producer sends and the consumers fetch: above the journal's largest block
/// (`MAX_BLOCK_BYTES`, 8 MiB) plus record overhead.
pub const MAX_MESSAGE_BYTES: usize = 10 << 20;
/// Default time limit of one produce, fetch or admin request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A bad `kafka://` URL.
#[derive(Debug, thiserror::Error)]
#[error("kafka journal URL {url:?}: {reason}")]
pub struct KafkaConfigError {
    /// The URL given.
    pub url: String,
    /// What is wrong.
    pub reason: String,
}

/// Where the journal lives on Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port`, comma-separated.
    pub bootstrap: String,
    /// The journal's topic (one partition); by default `prefix` + `ledger.journal`.
    pub topic: String,
    /// Put before the name of every other topic ([`crate::KafkaTopics`]): one cluster can then
    /// hold several deployments (and tests) whose topics never mix. Empty by default.
    pub prefix: String,
    /// Replication factor the topic is created with (1 for a single broker; 3 in production).
    pub replication: i32,
    /// Time limit of one produce, fetch or admin request.
    pub timeout: Duration,
    /// The weakest acknowledgement the writer accepts.
    pub min_ack: AckStrength,
}

impl KafkaConfig {
    /// A journal on `bootstrap` in topic [`JOURNAL_TOPIC`], replication 1, requiring
    /// `acks=all` ([`AckStrength::Replicated`]).
    pub fn new(bootstrap: &str) -> KafkaConfig {
        KafkaConfig {
            bootstrap: bootstrap.to_string(),
            topic: JOURNAL_TOPIC.to_string(),
            prefix: String::new(),
            replication: 1,
            timeout: DEFAULT_TIMEOUT,
            min_ack: AckStrength::Replicated,
        }
    }

    /// Parse `kafka://host:port[,host:port…][?prefix=P&topic=NAME&replication=N&min_ack=replicated|acknowledged&timeout_ms=N]`.
    pub fn parse(url: &str) -> Result<KafkaConfig, KafkaConfigError> {
        let bad = |reason: String| KafkaConfigError { url: url.to_string(), reason };
        let rest = url.strip_prefix("kafka://").ok_or_else(|| bad("must start with kafka://".into()))?;
        let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
        let hosts = hosts.trim_end_matches('/');
        if hosts.is_empty() || hosts.split(',').any(|h| !h.contains(':') || h.ends_with(':')) {
            return Err(bad("needs host:port[,host:port…]".into()));
        }
        let mut config = KafkaConfig::new(hosts);
        let mut topic = None;
        let name_ok = |v: &str| v.len() <= 200 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| bad(format!("option {pair:?} is not key=value")))?;
            match key {
                "topic" => {
                    if value.is_empty() || !name_ok(value) {
                        return Err(bad(format!("topic {value:?}: 1-200 characters of a-z A-Z 0-9 . _ -")));
                    }
                    topic = Some(value.to_string());
                }
                "prefix" => {
                    if !name_ok(value) {
                        return Err(bad(format!("prefix {value:?}: up to 200 characters of a-z A-Z 0-9 . _ -")));
                    }
                    config.prefix = value.to_string();
                }
                "replication" => {
                    config.replication = value
                        .parse()
                        .ok()
                        .filter(|r| *r >= 1)
                        .ok_or_else(|| bad(format!("replication {value:?}: a number ≥ 1")))?;
                }
                "min_ack" => {
                    config.min_ack =
                        AckStrength::parse(value).filter(|a| *a != AckStrength::Fsynced).ok_or_else(|| {
                            bad(format!(
                                "min_ack {value:?}: replicated or acknowledged (Kafka never acknowledges an fsync)"
                            ))
                        })?;
                }
                "timeout_ms" => {
                    let ms: u64 = value
                        .parse()
                        .ok()
                        .filter(|ms| (100..=600_000).contains(ms))
                        .ok_or_else(|| bad(format!("timeout_ms {value:?}: 100..=600000")))?;
                    config.timeout = Duration::from_millis(ms);
                }
                other => {
                    return Err(bad(format!(
                        "unknown option {other:?} (prefix, topic, replication, min_ack, timeout_ms)"
                    )));
                }
            }
        }
        config.topic = topic.unwrap_or_else(|| format!("{}{JOURNAL_TOPIC}", config.prefix));
        Ok(config)
    }

    /// The writer's policy.
    pub fn policy(&self) -> JournalPolicy {
        JournalPolicy { min_ack: self.min_ack }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_options() {
        let c = KafkaConfig::parse("kafka://127.0.0.1:9092").unwrap();
        assert_eq!(c, KafkaConfig::new("127.0.0.1:9092"));
        let c = KafkaConfig::parse(
            "kafka://a:1,b:2/?topic=prod.journal&replication=3&min_ack=acknowledged&timeout_ms=5000",
        )
        .unwrap();
        assert_eq!((c.bootstrap.as_str(), c.topic.as_str(), c.replication), ("a:1,b:2", "prod.journal", 3));
        assert_eq!((c.min_ack, c.timeout), (AckStrength::Acknowledged, Duration::from_secs(5)));
        let c = KafkaConfig::parse("kafka://a:1?prefix=eu.prod.").unwrap();
        assert_eq!((c.prefix.as_str(), c.topic.as_str()), ("eu.prod.", "eu.prod.ledger.journal"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, says) in [
            ("http://a:1", "kafka://"),
            ("kafka://", "host:port"),
            ("kafka://a", "host:port"),
            ("kafka://a:1?topic=a/b", "topic"),
            ("kafka://a:1?prefix=a b", "prefix"),
            ("kafka://a:1?min_ack=fsynced", "never acknowledges an fsync"),
            ("kafka://a:1?replication=0", "replication"),
            ("kafka://a:1?colour=red", "unknown option"),
            ("kafka://a:1?timeout_ms=1", "timeout_ms"),
        ] {
            let e = KafkaConfig::parse(url).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
