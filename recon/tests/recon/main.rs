//! Integration tests of aurum-recon.

mod matching;
mod threeway;
