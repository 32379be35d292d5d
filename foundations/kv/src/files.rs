//! File naming inside a database directory. Tables and WALs share one number counter, so a
//! number names exactly one file.

use std::path::{Path, PathBuf};

/// The manifest's file name.
pub(crate) const MANIFEST_NAME: &str = "MANIFEST";

/// What a directory entry is, judged by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Table(u64),
    Wal(u64),
    /// A leftover temporary file of an interrupted atomic write.
    Temp,
}

pub(crate) fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:016}.sst"))
}

pub(crate) fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("wal-{number:016}.log"))
}

/// Classify a file name; `None` for names this store never writes (those are left alone).
pub(crate) fn parse_name(name: &str) -> Option<FileKind> {
    if name.ends_with(".tmp") {
        return Some(FileKind::Temp);
    }
    if let Some(n) = name.strip_suffix(".sst") {
        return parse_number(n).map(FileKind::Table);
    }
    name.strip_prefix("wal-").and_then(|n| n.strip_suffix(".log")).and_then(parse_number).map(FileKind::Wal)
}

fn parse_number(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let d = Path::new("/db");
        let t = table_path(d, 42);
        let w = wal_path(d, 7);
        let name = |p: &PathBuf| p.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(parse_name(&name(&t)), Some(FileKind::Table(42)));
        assert_eq!(parse_name(&name(&w)), Some(FileKind::Wal(7)));
        assert_eq!(parse_name("MANIFEST.tmp"), Some(FileKind::Temp));
        assert_eq!(parse_name("notes.txt"), None);
        assert_eq!(parse_name("12.sst"), None);
    }
}
