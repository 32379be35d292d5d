//! Integration tests of aurum-oracle.

mod aggregate;
mod chain;
mod ledger;
