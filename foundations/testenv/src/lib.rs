//! Where the services that tests and benchmarks need are: `.ci/run` starts them and exports their
//! addresses; run by hand, the project's own scripts (idempotent) install and start them. One
//! place for this, so every test binary finds them the same way.

use std::path::Path;
use std::process::Command;

/// The address in `var`, else the last line `scripts/<script>` prints after starting the
/// service. Panics (a test setup failure) with the script's stderr if it fails.
pub fn service(var: &str, script: &str) -> String {
    if let Ok(value) = std::env::var(var) {
        return value;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(script);
    let out = Command::new("bash").arg(&path).output().unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    assert!(out.status.success(), "{} failed: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{} printed nothing", path.display()))
        .to_string()
}

/// The local PostgreSQL's URL (`AURUM_TEST_PG_URL`, else scripts/postgres-up.sh).
pub fn postgres_url() -> String {
    service("AURUM_TEST_PG_URL", "postgres-up.sh")
}

/// The local Kafka-protocol broker's `host:port` (`AURUM_TEST_KAFKA`, else scripts/tansu-up.sh).
pub fn kafka_bootstrap() -> String {
    service("AURUM_TEST_KAFKA", "tansu-up.sh")
}

/// A headless Chromium binary (`AURUM_TEST_CHROMIUM`, else scripts/chromium-up.sh installs
/// Debian's package).
pub fn chromium() -> String {
    service("AURUM_TEST_CHROMIUM", "chromium-up.sh")
}
