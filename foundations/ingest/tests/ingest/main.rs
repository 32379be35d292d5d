//! Integration tests of aurum-ingest: every source against real servers on 127.0.0.1:0, the runner's
//! policies, the buffer, and configuration. No sleep is used to synchronise: tests wait on channels
//! and metrics (bounded by `support::WAIT`), and drive a `ManualClock` only when the runner is parked.

mod buffer;
mod config;
mod csv;
mod http;
mod support;
mod ws;
