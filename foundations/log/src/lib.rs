//! `aurum-log`: a durable, partitioned, append-only log with the semantics of a single Kafka
//! broker — topics of N partitions, dense offsets, segments with offset and time indexes, CRC on
//! every batch, rolling, retention, key compaction, group commit, tailing reads, consumer groups.
//!
//! All I/O goes through the [`aurum_vfs`] seam. The byte formats are in docs/log-format.md.
//!
//! ```
//! use std::sync::Arc;
//! use aurum_log::{Log, LogOptions, ProducerRecord, TopicConfig};
//! let vfs = Arc::new(aurum_vfs::SimVfs::new(7));
//! let log = Log::open(vfs, "/data".as_ref(), LogOptions::default()).unwrap();
//! log.create_topic("payments", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
//! let ack = log.append("payments", 0, &[ProducerRecord::new("k", "v")]).unwrap();
//! let fetched = log.read("payments", 0, ack.base_offset, 1 << 20).unwrap();
//! assert_eq!(fetched.records[0].value.as_deref(), Some(&b"v"[..]));
//! ```

pub mod clock;
pub mod config;
mod consumer;
pub mod error;
pub mod groups;
pub mod index;
mod log;
mod partition;
pub mod record;
pub mod segment;
mod signal;
mod topics;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CleanupPolicy, Durability, TopicConfig};
pub use consumer::{Consumer, ConsumerRecord};
pub use error::{Error, Result};
pub use log::{Log, LogOptions, OpenReport, PartitionLag};
pub use partition::{AckDurability, AppendAck, CompactionReport, FetchResult, PartitionOffsets, RetentionReport};
pub use record::{Header, ProducerRecord, Record};
pub use topics::{SharedTopics, Topics, key_partition};
