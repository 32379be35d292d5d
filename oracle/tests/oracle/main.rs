//! Integration tests of aurum-oracle.

mod aggregate;
mod chain;
mod e2e;
mod ledger;
