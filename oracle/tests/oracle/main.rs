//! Integration tests of aurum-oracle.

mod aggregate;
