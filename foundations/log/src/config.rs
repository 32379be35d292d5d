//! Topic configuration and its on-disk form.

use crate::error::{Error, Result};

/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 1024;
/// Longest topic or group name (as in Kafka).
pub const MAX_NAME_BYTES: usize = 249;
/// Largest segment file: index positions are u32.
pub const MAX_SEGMENT_BYTES: u64 = u32::MAX as u64;

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After the batch is fsynced (group commit shares one fsync among concurrent appends).
    EveryBatch,
    /// At once; a background flusher fsyncs every `interval_ms`. A crash may lose up to that
    /// window of acknowledged records: the acknowledgement says so.
    Interval {
        /// Flush period in ms.
        interval_ms: u64,
    },
}

/// What happens to old data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Delete whole segments past the retention limits.
    Delete,
    /// Keep the latest record per key (and delete tombstones after `delete_retention_ms`).
    Compact,
}

/// A topic's configuration. Fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// Number of partitions.
    pub partitions: u32,
    /// Roll to a new segment once the active one would exceed this size.
    pub segment_bytes: u64,
    /// Roll to a new segment once the active one is this old (None: never by time).
    pub segment_ms: Option<u64>,
    /// Delete old segments while the partition is larger than this (None: no size limit).
    pub retention_bytes: Option<u64>,
    /// Delete segments whose newest record is older than this (None: no time limit).
    pub retention_ms: Option<u64>,
    /// Delete or compact.
    pub cleanup: CleanupPolicy,
    /// In compacted topics, how long a tombstone is kept after its segment's newest record.
    pub delete_retention_ms: u64,
    /// When appends are acknowledged.
    pub durability: Durability,
    /// Bytes of batches between two offset-index entries.
    pub index_interval_bytes: u64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            partitions: 1,
            segment_bytes: 128 << 20,
            segment_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            cleanup: CleanupPolicy::Delete,
            delete_retention_ms: 24 * 3600 * 1000,
            durability: Durability::EveryBatch,
            index_interval_bytes: 4096,
        }
    }
}

/// Check a topic or consumer-group name: 1..=249 bytes of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(what, format!("{name:?} must be 1 to {MAX_NAME_BYTES} bytes")));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid(what, format!("{name:?} is reserved")));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(Error::invalid(what, format!("{name:?} contains {c:?}; allowed: A-Z a-z 0-9 . _ -")));
    }
    Ok(())
}

impl TopicConfig {
    /// Check the configuration's ranges.
    pub fn validate(&self) -> Result<()> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(Error::invalid("partitions", format!("{} not in 1..={MAX_PARTITIONS}", self.partitions)));
        }
        if self.segment_bytes < 1024 || self.segment_bytes > MAX_SEGMENT_BYTES {
            return Err(Error::invalid(
                "segment_bytes",
                format!("{} not in 1024..={MAX_SEGMENT_BYTES}", self.segment_bytes),
            ));
        }
        if self.index_interval_bytes == 0 {
            return Err(Error::invalid("index_interval_bytes", "must be positive"));
        }
        if let Durability::Interval { interval_ms } = self.durability
            && interval_ms == 0
        {
            return Err(Error::invalid("durability", "flush interval must be positive"));
        }
        Ok(())
    }

    /// The on-disk form: `key=value` lines.
    pub fn encode(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
        let durability = match self.durability {
            Durability::EveryBatch => "every_batch".to_string(),
            Durability::Interval { interval_ms } => format!("interval:{interval_ms}"),
        };
        let cleanup = match self.cleanup {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        };
        format!(
            "partitions={}\nsegment_bytes={}\nsegment_ms={}\nretention_bytes={}\nretention_ms={}\n\
             cleanup={cleanup}\ndelete_retention_ms={}\ndurability={durability}\nindex_interval_bytes={}\n",
            self.partitions,
            self.segment_bytes,
            opt(self.segment_ms),
            opt(self.retention_bytes),
            opt(self.retention_ms),
            self.delete_retention_ms,
            self.index_interval_bytes,
        )
    }

    /// Parse the on-disk form.
    pub fn decode(text: &str) -> Result<TopicConfig> {
        let mut c = TopicConfig::default();
        let num = |k: &str, v: &str| -> Result<u64> {
            v.parse().map_err(|_| Error::invalid("topic config", format!("{k}={v:?} is not a number")))
        };
        let opt =
            |k: &str, v: &str| -> Result<Option<u64>> { if v == "none" { Ok(None) } else { num(k, v).map(Some) } };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| Error::invalid("topic config", format!("line {line:?} has no '='")))?;
            match k {
                "partitions" => {
                    c.partitions =
                        u32::try_from(num(k, v)?).map_err(|_| Error::invalid("topic config", "partitions too large"))?
                }
                "segment_bytes" => c.segment_bytes = num(k, v)?,
                "segment_ms" => c.segment_ms = opt(k, v)?,
                "retention_bytes" => c.retention_bytes = opt(k, v)?,
                "retention_ms" => c.retention_ms = opt(k, v)?,
                "cleanup" => {
                    c.cleanup = match v {
                        "delete" => CleanupPolicy::Delete,
                        "compact" => CleanupPolicy::Compact,
                        _ => return Err(Error::invalid("topic config", format!("cleanup={v:?}"))),
                    }
                }
                "delete_retention_ms" => c.delete_retention_ms = num(k, v)?,
                "durability" => {
                    c.durability = if v == "every_batch" {
                        Durability::EveryBatch
                    } else if let Some(ms) = v.strip_prefix("interval:") {
                        Durability::Interval { interval_ms: num(k, ms)? }
                    } else {
                        return Err(Error::invalid("topic config", format!("durability={v:?}")));
                    }
                }
                "index_interval_bytes" => c.index_interval_bytes = num(k, v)?,
                _ => return Err(Error::invalid("topic config", format!("unknown key {k:?}"))),
            }
        }
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips() {
        let c = TopicConfig {
            partitions: 3,
            retention_bytes: Some(10_000),
            cleanup: CleanupPolicy::Compact,
            durability: Durability::Interval { interval_ms: 50 },
            segment_ms: None,
            ..TopicConfig::default()
        };
        assert_eq!(TopicConfig::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("topic", "ledger.journal-v1_a").is_ok());
        assert!(validate_name("topic", "").is_err());
        assert!(validate_name("topic", "..").is_err());
        assert!(validate_name("topic", "a/b").is_err());
        assert!(validate_name("topic", &"x".repeat(250)).is_err());
    }
}
