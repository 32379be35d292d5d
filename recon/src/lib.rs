//! Aurum's reconciliation (DESIGN.md §5): LBMA-style bar lists, the three-way reconciliation of vault bars, token
//! supply and ledger liabilities at a final block, a general matching engine for external statements against
//! ledger transfers, and the reports (HTML, JSON, CSV) an analyst and a machine read.
//!
//! Everything here is pure: inputs are plain data (parsed files, balances read by the caller from the chain
//! indexer and the ledger), outputs are values and bytes. Money is integers of base units; decimal strings only at
//! the edges; no float ever touches an amount (percentages in a chart are the one exception, and are never
//! booked).

pub mod barlist;
pub mod csv;
pub mod gate;
pub mod match_report;
pub mod matching;
pub mod publish;
pub mod report;
pub mod threeway;
