//! `aurum-ledger-node`: runs the ledger state machine for real.
//!
//! - [`block`]: journal blocks — a batch of commands with its timestamp and outcomes, chained by
//!   SHA-256 and signed with ed25519 (docs/journal-format.md);
//! - [`keys`]: the node's ed25519 key, created on first start, public key exportable;
//! - [`journal`]: blocks stored as records of a single-partition topic of `aurum-log`;
//! - [`snapshot`]: signed snapshots of the ledger state in `aurum-kv` for fast restart;
//! - [`engine`]: the single writer with group commit: commands from many callers are batched,
//!   applied, journalled durably, then acknowledged;
//! - [`facts`]: what a block did, as typed facts (assets, accounts, movements, postings, expiries)
//!   — the one derivation every read model (lakehouse, PostgreSQL) shares;
//! - [`stats`]: the engine's counters and histograms (batch sizes, journal write time, queue depth);
//! - [`audit`]: replays the journal from genesis or a signed snapshot through a fresh state machine
//!   and reports the first divergence.

pub mod audit;
pub mod block;
pub mod engine;
pub mod facts;
pub mod journal;
pub mod keys;
pub mod snapshot;
pub mod stats;
