//! End-to-end tests of the `aurum` binary: the demo, the log and KV subcommands, and the CLI
//! conventions (--data-dir, AURUM_DATA_DIR, --json, one-line errors with a non-zero exit code).

use std::path::Path;
use std::process::{Command, Output};

fn aurum(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aurum")).arg("--data-dir").arg(data_dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn demo_runs_end_to_end_and_is_exactly_once_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let first: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["demo", "--json", "--payments", "3000"]))).unwrap();
    assert_eq!(first["applied_this_run"], 3000);
    assert_eq!(first["projection_lag"], 0);
    assert_eq!(first["balances_sum"], "0.00");
    let second: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["demo", "--json", "--payments", "500"]))).unwrap();
    assert_eq!(second["applied_this_run"], 500, "a re-run projects only the new events");
    assert_eq!(second["events_in_log"], 3500);
    assert_eq!(second["balances_sum"], "0.00");
}

#[test]
fn log_subcommands_round_trip_records() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&aurum(dir.path(), &["log", "create-topic", "orders", "--partitions", "2"]));
    stdout(&aurum(dir.path(), &["log", "produce", "orders", "--key", "acct-1", "--header", "src=test", "a", "b"]));
    let lines = stdout(&aurum(dir.path(), &["--json", "log", "consume", "orders", "--group", "g", "--max", "10"]));
    let records: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["value"], "a");
    assert_eq!(records[1]["value"], "b");
    assert_eq!(records[0]["headers"][0]["key"], "src");
    let lag: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["--json", "log", "lag", "g", "orders"]))).unwrap();
    assert!(lag.as_array().unwrap().iter().all(|p| p["lag"] == 0), "{lag}");
    let topics = stdout(&aurum(dir.path(), &["log", "topics"]));
    assert!(topics.contains("orders"), "{topics}");
}

#[test]
fn kv_subcommands_and_data_dir_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aurum")).env("AURUM_DATA_DIR", dir.path()).args(args).output().unwrap()
    };
    stdout(&run(&["kv", "put", "user/1", "ada"]));
    stdout(&run(&["kv", "put", "user/2", "grace"]));
    stdout(&run(&["kv", "put", "zzz", "other"]));
    assert_eq!(stdout(&run(&["kv", "get", "user/2"])).trim(), "grace");
    assert_eq!(stdout(&run(&["kv", "scan", "--prefix", "user/"])), "user/1\tada\nuser/2\tgrace\n");
    stdout(&run(&["kv", "delete", "user/1"]));
    let got: serde_json::Value = serde_json::from_str(&stdout(&run(&["--json", "kv", "get", "user/1"]))).unwrap();
    assert!(got["value"].is_null());
    assert!(dir.path().join("kv").exists(), "AURUM_DATA_DIR was honoured");
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let o = aurum(dir.path(), &["log", "consume", "missing-topic"]);
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("missing-topic"), "{err}");
    let o = aurum(dir.path(), &["log", "create-topic", "bad/name"]);
    assert!(!o.status.success());
    assert!(String::from_utf8(o.stderr).unwrap().contains("allowed"));
}
