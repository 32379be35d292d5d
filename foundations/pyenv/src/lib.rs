//! Python virtual environments for the tests and benchmarks that check Aurum against another
//! implementation (DuckDB for the matching and analytics baselines, pyiceberg for Iceberg
//! interoperability). Each lives in the cargo target directory, is created from PyPI on first use
//! and reused after, so a fresh machine needs only `python3` with its `venv` module.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo target directory: `CARGO_TARGET_DIR` if set, else the one holding the running test or
/// bench executable (`<target>/<profile>/deps/<exe>`), else `target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// The python of the venv `<target dir>/<name>`, in which `import <imports>` works; created with
/// `pip install <requirements>` if it does not. The error says which step failed and its stderr.
pub fn python(name: &str, requirements: &[&str], imports: &str) -> Result<PathBuf, String> {
    let venv = target_dir().join(name);
    let python = venv.join("bin/python");
    let importable = |p: &Path| {
        Command::new(p).args(["-c", &format!("import {imports}")]).output().is_ok_and(|o| o.status.success())
    };
    if importable(&python) {
        return Ok(python);
    }
    eprintln!("installing {} into {} ...", requirements.join(" "), venv.display());
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().map_err(|e| format!("python3: {e}"))?;
    if !made.status.success() {
        return Err(format!("python3 -m venv failed: {}", String::from_utf8_lossy(&made.stderr).trim()));
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(requirements)
        .output()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.status.success() || !importable(&python) {
        return Err(format!(
            "pip install {} failed: {}",
            requirements.join(" "),
            String::from_utf8_lossy(&pip.stderr).trim()
        ));
    }
    Ok(python)
}

/// DuckDB's python (the baselines of the matching and analytics benchmarks).
pub fn duckdb() -> Result<PathBuf, String> {
    python("duckdb-venv", &["duckdb"], "duckdb")
}

/// pyiceberg 0.12's python with its SQLite catalog and pyarrow (the interoperability test).
pub fn pyiceberg() -> Result<PathBuf, String> {
    python("pyiceberg-venv", &["pyiceberg[sql-sqlite,pyarrow]==0.12.0"], "pyiceberg, pyarrow, sqlalchemy")
}
