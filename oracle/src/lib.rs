//! Aurum's oracle connector (DESIGN.md §5): gold prices and the vault's reserve reach the chain and the ledger,
//! robustly.
//!
//! - [`signing`]: every observation is signed with ed25519 by its source's key; the canonical message and the
//!   verification.
//! - [`aggregate`]: per symbol and round, the aggregator verifies signatures, drops stale, non-positive and
//!   unparseable values, requires a quorum, takes the (low) median, rejects outliers by median absolute
//!   deviation, trips a circuit breaker on a jump, and records which sources were used or dropped and why.
//!
//! - [`push`]: pushes to the on-chain price feed on deviation or heartbeat (secp256k1 transactions through alloy);
//!   the consumer-side staleness check.
//! - [`attest`]: a custodian's signed attestation of the bar list (digest and allocated total), verified against
//!   the bar list itself before the reserve feed is updated.
//!
//! - [`connector`]: the configuration (`aurum oracle run --config`), rounds over the ingested observations,
//!   pushes, the journal and the events.
//! - [`journal`]: every round and every verified event, appended to the platform's log for analytics and audit.
//! - [`revalue`]: mark-to-market entries that revalue the ledger's gold in fiat from an aggregated price.
//!
//! Prices are exact integers at a fixed scale per symbol; no float touches a price.

pub mod aggregate;
pub mod attest;
pub mod connector;
pub mod journal;
pub mod push;
pub mod revalue;
pub mod signing;
