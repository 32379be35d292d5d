//! Hot reload of the rules file: re-read it when its content changes, swap the rules in if they
//! are valid, keep the old ones (and say why) if not.
//!
//! Change detection compares the whole content (at most [`MAX_RULES_FILE_BYTES`]) rather than the
//! modification time, which has a coarse resolution on some filesystems and misses a rewrite
//! within the same second. A bad file is reported once per distinct content, not at every poll.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::RiskError;
use crate::rules::{MAX_RULES_FILE_BYTES, RuleSet};

/// How often a server polls the rules file.
pub const RULES_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// A rules file being watched.
#[derive(Debug)]
pub struct RulesFile {
    path: PathBuf,
    /// The content last looked at (applied, or refused).
    last_content: Vec<u8>,
}

fn read(path: &Path) -> Result<Vec<u8>, RiskError> {
    let io = |source| RiskError::Io { path: path.display().to_string(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_RULES_FILE_BYTES {
        return Err(RiskError::Rules {
            origin: path.display().to_string(),
            message: format!("{len} bytes; the limit is {MAX_RULES_FILE_BYTES}"),
        });
    }
    std::fs::read(path).map_err(io)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<RuleSet, RiskError> {
    let origin = path.display().to_string();
    let text = std::str::from_utf8(bytes)
        .map_err(|e| RiskError::Rules { origin: origin.clone(), message: format!("not UTF-8: {e}") })?;
    RuleSet::parse(text, &origin)
}

impl RulesFile {
    /// Load the rules file; it must be valid.
    pub fn load(path: impl Into<PathBuf>) -> Result<(RulesFile, RuleSet), RiskError> {
        let path = path.into();
        let bytes = read(&path)?;
        let rules = parse(&path, &bytes)?;
        Ok((RulesFile { path, last_content: bytes }, rules))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// New rules if the file changed and is valid; `Ok(None)` if unchanged (or unchanged since
    /// it was last refused); an error — once per bad content — if it changed and is invalid.
    pub fn reload_if_changed(&mut self) -> Result<Option<RuleSet>, RiskError> {
        let bytes = read(&self.path)?;
        if bytes == self.last_content {
            return Ok(None);
        }
        let parsed = parse(&self.path, &bytes);
        self.last_content = bytes;
        parsed.map(Some)
    }
}
