//! Integration tests of aurum-recon.

mod matching;
mod parsers;
mod threeway;
