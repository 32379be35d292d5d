//! The subcommands. Each is a thin layer: parse arguments, call a library, print.

pub mod audit;
pub mod demo;
pub mod kv;
pub mod ledger;
mod ledger_demo;
pub mod log;

use std::path::PathBuf;

/// What every subcommand gets.
#[derive(Debug)]
pub struct Context {
    /// Root of Aurum's state.
    pub data_dir: PathBuf,
    /// Print JSON instead of text.
    pub json: bool,
}

impl Context {
    /// Directory of the embedded log.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    /// Directory of the embedded KV store.
    pub fn kv_dir(&self) -> PathBuf {
        self.data_dir.join("kv")
    }
}

/// The CLI's error type: any library error, shown as one line with its causes.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;
