//! End-to-end tests of the `aurum` binary: the demo, the ledger and its replay-based audit (clean
//! and tampered journals), the log and KV subcommands, and the CLI conventions (--data-dir,
//! AURUM_DATA_DIR, --json, one-line errors with a non-zero exit code).

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
    // The ledger day: trades, a refused overdraft, holds that post, void and expire; books balance.
    let ledger = &first["ledger"];
    assert!(ledger["outcomes"]["ok"].as_u64().unwrap() > 100);
    assert!(ledger["refused_overdraft"].as_str().unwrap().contains("exceeds_credits"));
    for what in ["posted", "voided", "expired"] {
        assert!(ledger["holds"][what].as_u64().unwrap() > 0, "no hold was {what}");
    }
    for total in ledger["trial_balance"]["totals"].as_array().unwrap() {
        assert_eq!(total["balanced"], true, "{total}");
    }
    assert!(first["audit"]["first_divergence"].is_null(), "{}", first["audit"]);
    assert_eq!(first["audit"]["final_digest"], first["audit"]["live_digest"]);
    // Risk scoring saw every transfer of the journal (the day's trades are journal entries, its
    // payments and holds transfers).
    assert!(first["risk"]["transfers"].as_u64().unwrap() > 50, "{}", first["risk"]);
    // The day's money mule (six customers pay one wallet, which passes it on) is what alerts, and
    // its wallet ranks first; the platform's own books are not scored.
    assert!(first["risk"]["new_alerts"].as_u64().unwrap() >= 3, "{}", first["risk"]);
    assert_eq!(first["risk"]["top"][0]["account"], "200000", "{}", first["risk"]);
    // The substrate projection.
    let projection = &first["projection"];
    assert_eq!(projection["applied_this_run"], 3000);
    assert_eq!(projection["projection_lag"], 0);
    assert_eq!(projection["balances_sum"], "0.00");
    // The chain story on Anvil: the ledger matches the chain, and the run's files are left for reconciliation.
    let chain = &first["chain"];
    assert_eq!(chain["chain_id"], 31337);
    let check = &chain["check"];
    assert_eq!(check["ledger_matches_chain"], true);
    assert_eq!(check["token_supply_oz"], "405.000");
    assert_eq!(check["ledger_wallets_oz"], check["token_supply_oz"]);
    assert_eq!((&check["mint_clearing_oz"], &check["redemption_clearing_oz"]), (&"0.000".into(), &"0.000".into()));
    assert_eq!(check["wiped_oz"], "120.000");
    let steps: Vec<&str> = chain["steps"].as_array().unwrap().iter().map(|s| s["text"].as_str().unwrap()).collect();
    assert!(steps.iter().any(|t| t.contains("ReserveExceeded")), "a mint past the reserve is refused: {steps:?}");
    assert!(steps.iter().any(|t| t.contains("AccountFrozen")), "a frozen wallet is refused: {steps:?}");
    let run_dir = dir.path().join("chain/31337");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    let bars = std::fs::read(run_dir.join("bars.csv")).unwrap();
    use sha2::Digest;
    assert_eq!(manifest["bar_list"]["sha256"], hex::encode(sha2::Sha256::digest(&bars)));
    assert_eq!(bars.iter().filter(|b| **b == b'\n').count(), 6, "header and 5 bars");
    assert!(run_dir.join("anvil-state.json.gz").is_file());
    // The lakehouse holds the chain's final events, the reconciliation and the risk scores.
    let lake = &first["lake"];
    let rows_of = |table: &str| -> u64 {
        let tables = lake["sync"]["tables"].as_array().unwrap();
        tables.iter().find(|t| t["table"] == table).unwrap()["rows"].as_u64().unwrap()
    };
    assert!(rows_of("chain_events") > 0, "{lake}");
    assert!(rows_of("bars") > 0 && rows_of("bars") % 5 == 0, "every run lists the 5 bars: {lake}");
    assert_eq!(
        lake["analytics"]["token_supply"][0]["supply_oz"].as_str().map(|s| s.trim_end_matches('0')),
        Some("405."),
        "the supply from final events equals the chain's: {lake}"
    );
    let second: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["demo", "--json", "--payments", "500"]))).unwrap();
    assert_eq!(second["projection"]["applied_this_run"], 500, "a re-run projects only the new events");
    assert_eq!(second["projection"]["events_in_log"], 3500);
    assert!(second["ledger"]["journal_blocks"].as_u64() > first["ledger"]["journal_blocks"].as_u64());
    assert!(second["audit"]["first_divergence"].is_null());
    // A re-run tells its story on a fresh chain with the next chain id, in separate ledger accounts.
    assert_eq!(second["chain"]["chain_id"], 31338);
    assert_eq!(second["chain"]["check"]["ledger_matches_chain"], true);
    assert_eq!(second["chain"]["check"]["token_supply_oz"], "405.000");
    let supplies = second["lake"]["analytics"]["token_supply"].as_array().unwrap();
    assert_eq!(supplies.len(), 2, "both chains are in the lake: {supplies:?}");
    assert_eq!(supplies[1]["chain_id"], 31338);
}

#[test]
fn ledger_subcommands_enforce_exact_decimals_and_two_phase_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&aurum(d, &["ledger", "create-asset", "--id", "1", "--code", "XAU", "--scale", "3"]));
    stdout(&aurum(d, &["ledger", "create-account", "--id", "10", "--asset", "XAU", "--kind", "asset"]));
    stdout(&aurum(
        d,
        &[
            "ledger",
            "create-account",
            "--id",
            "20",
            "--asset",
            "XAU",
            "--kind",
            "liability",
            "--limit",
            "debits-must-not-exceed-credits",
        ],
    ));
    stdout(&aurum(
        d,
        &["ledger", "transfer", "--id", "1", "--from", "10", "--to", "20", "--amount", "2.500", "--asset", "XAU"],
    ));
    // More precision than the asset has is refused, not rounded.
    let o = aurum(
        d,
        &["ledger", "transfer", "--id", "2", "--from", "10", "--to", "20", "--amount", "0.0001", "--asset", "XAU"],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("decimal places"), "{}", String::from_utf8_lossy(&o.stderr));
    // A wallet cannot go below zero: a stable result code says why.
    let o =
        aurum(d, &["ledger", "transfer", "--id", "3", "--from", "20", "--to", "10", "--amount", "9", "--asset", "XAU"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("exceeds_credits"));
    // Two-phase: hold 1.000, post 0.400 of it; the rest is released.
    stdout(&aurum(
        d,
        &[
            "ledger",
            "transfer",
            "--id",
            "4",
            "--from",
            "20",
            "--to",
            "10",
            "--amount",
            "1",
            "--asset",
            "XAU",
            "--pending",
        ],
    ));
    let held: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "ledger", "account", "20"]))).unwrap();
    assert_eq!(held["available"], "1.500");
    assert_eq!(held["debits_pending"], "1.000");
    let posted: serde_json::Value = serde_json::from_str(&stdout(&aurum(
        d,
        &["--json", "ledger", "post", "--id", "5", "--pending-id", "4", "--amount", "0.4"],
    )))
    .unwrap();
    assert_eq!(posted["amount"], "0.400");
    let after: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "ledger", "account", "20"]))).unwrap();
    assert_eq!(after["balance"], "2.100");
    assert_eq!(after["debits_pending"], "0.000");
    // A retry of transfer 1 returns its first outcome; the same id with other fields is a conflict.
    let retry: serde_json::Value = serde_json::from_str(&stdout(&aurum(
        d,
        &[
            "--json", "ledger", "transfer", "--id", "1", "--from", "10", "--to", "20", "--amount", "2.5", "--asset",
            "XAU",
        ],
    )))
    .unwrap();
    assert_eq!(retry["replayed"], true);
    let o = aurum(
        d,
        &["ledger", "transfer", "--id", "1", "--from", "10", "--to", "20", "--amount", "2.6", "--asset", "XAU"],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("id_exists_with_different_fields"));
    // History: the balance as of the block of the first transfer.
    let then: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "ledger", "account", "20", "--as-of-seq", "4"]))).unwrap();
    assert_eq!(then["as_of"]["balance"], "2.500");
    let tb: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "ledger", "trial-balance"]))).unwrap();
    assert_eq!(tb["totals"][0]["balanced"], true);
    let audit: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "audit"]))).unwrap();
    assert!(audit["first_divergence"].is_null(), "{audit}");
}

/// Replay-based audit from the command line: a clean journal passes; a flipped bit in a sealed
/// block, and a truncated tail, are each detected and located, with a non-zero exit code.
#[test]
fn audit_detects_and_locates_tampering_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&aurum(d, &["demo", "--payments", "10"]));
    let clean: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "audit"]))).unwrap();
    assert!(clean["first_divergence"].is_null());
    let blocks = clean["blocks_checked"].as_u64().unwrap();
    assert!(blocks > 5);
    let segment = std::fs::read_dir(d.join("log/topics/ledger.journal/0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let original = std::fs::read(&segment).unwrap();

    // Flip one bit in the middle of the journal: the log cuts the damaged block and everything
    // after it, keeping the cut bytes as evidence; the audit finds acknowledged blocks missing
    // from the damaged block on, and says where the evidence is.
    let batches = aurum_log::record::scan_batches(&original, 0);
    let damaged_block = batches.batches.len() / 2;
    let (pos, _) = batches.batches[damaged_block];
    let mut flipped = original.clone();
    flipped[pos as usize + 60] ^= 0x10;
    std::fs::write(&segment, &flipped).unwrap();
    let o = aurum(d, &["--json", "audit"]);
    assert!(!o.status.success(), "a flipped bit must fail the audit");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let div = &report["first_divergence"];
    assert_eq!(div["kind"], "truncated_tail", "{report}");
    assert_eq!(div["seq"], damaged_block as u64 + 1, "located at the damaged block: {report}");
    let notes = report["notes"].to_string();
    assert!(notes.contains(&format!("at byte {pos}")) && notes.contains(".cut-"), "{report}");
    // Put the journal back (the evidence file stays aside) for the next tamper.
    for e in std::fs::read_dir(segment.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(".cut-") {
            std::fs::remove_file(p).unwrap();
        }
    }

    // Truncate the journal by its last block.
    let (last_pos, _) = *batches.batches.last().unwrap();
    std::fs::write(&segment, &original[..last_pos as usize]).unwrap();
    let o = aurum(d, &["--json", "audit"]);
    assert!(!o.status.success(), "a truncated tail must fail the audit");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["first_divergence"]["kind"], "truncated_tail", "{report}");
    assert_eq!(report["first_divergence"]["seq"], blocks);
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

#[test]
fn a_second_process_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&aurum(dir.path(), &["kv", "put", "k", "v"]));
    // Hold the data directory's lock as a running `aurum serve` would.
    let lock = std::fs::OpenOptions::new().write(true).open(dir.path().join("aurum.lock")).unwrap();
    lock.try_lock().unwrap();
    let o = aurum(dir.path(), &["kv", "get", "k"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use by another aurum process"));
    drop(lock);
    assert_eq!(stdout(&aurum(dir.path(), &["kv", "get", "k"])).trim(), "v");
}

fn http(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `aurum serve` reads its config file, prints the bootstrap admin token once, serves, and stops
/// cleanly on SIGTERM; `aurum api-key` then manages keys on the stopped server's data directory.
#[test]
fn serve_reads_its_config_stops_on_sigterm_and_api_keys_are_managed_offline() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("aurum.toml");
    std::fs::write(&config, format!("addr = \"127.0.0.1:{port}\"\nlog_filter = \"warn\"\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aurum"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // The token line comes after the listener is bound: connecting is safe once it is read.
    let token = lines
        .find_map(|l| l.unwrap().split("store it now): ").nth(1).map(str::to_string))
        .expect("the bootstrap token is printed once");
    let body = r#"{"id": 1, "code": "XAU", "scale": 3}"#;
    let created = http(
        port,
        &format!(
            "POST /v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let head = http(
        port,
        &format!(
            "GET /v1/journal/head HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("public_key"), "{head}");
    // While it runs, the data directory is its own.
    let busy = aurum(&dir.path().join("data"), &["api-key", "list"]);
    assert!(!busy.status.success());
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"));

    let data = dir.path().join("data");
    let keys: serde_json::Value = serde_json::from_str(&stdout(&aurum(&data, &["--json", "api-key", "list"]))).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["scope"], "admin");
    assert!(!keys.to_string().contains(&token), "a listing never shows a token");
    let new: serde_json::Value = serde_json::from_str(&stdout(&aurum(
        &data,
        &["--json", "api-key", "create", "--name", "payments", "--scope", "write"],
    )))
    .unwrap();
    let id = new["id"].as_str().unwrap().to_string();
    assert!(new["token"].as_str().unwrap().starts_with("aurum_"));
    stdout(&aurum(&data, &["api-key", "revoke", &id]));
    let keys: serde_json::Value = serde_json::from_str(&stdout(&aurum(&data, &["--json", "api-key", "list"]))).unwrap();
    assert!(keys.as_array().unwrap().iter().any(|k| k["id"] == id.as_str() && k["revoked"] == true));
    // The ledger kept what the server acknowledged.
    let audit: serde_json::Value = serde_json::from_str(&stdout(&aurum(&data, &["--json", "audit"]))).unwrap();
    assert!(audit["first_divergence"].is_null() && audit["blocks_checked"] == 1, "{audit}");
}

/// `aurum chain`: the demo's chain is restored from its state dump on a fresh Anvil and re-indexed into another
/// data directory with identical block hashes; the decoded events tell the story; re-indexing where the cursor
/// already stands ingests nothing.
#[test]
fn chain_subcommands_reindex_a_restored_demo_chain() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    stdout(&aurum(a.path(), &["demo", "--payments", "10"]));
    let manifest_path = a.path().join("chain/31337/manifest.json");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let manifest_arg = manifest_path.to_str().unwrap();

    let status_a: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(a.path(), &["--json", "chain", "status"]))).unwrap();
    let chain_a = &status_a["chains"][0];
    assert_eq!(chain_a["chain_id"], 31337);
    assert_eq!(chain_a["finalized"], manifest["finalized_block"]);

    let indexed: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(b.path(), &["--json", "chain", "index", "--manifest", manifest_arg])))
            .unwrap();
    assert_eq!(indexed["finalized"], manifest["finalized_block"]);
    assert_eq!(indexed["logs_ingested"], chain_a["logs"]);
    let status_b: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(b.path(), &["--json", "chain", "status"]))).unwrap();
    assert_eq!(
        status_b["chains"][0]["finalized_hash"], chain_a["finalized_hash"],
        "the restored chain is the same chain"
    );

    let events: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(b.path(), &["--json", "chain", "events", "--manifest", manifest_arg])))
            .unwrap();
    let lines: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!((count("Minted"), count("Wiped"), count("Redeemed"), count("Frozen")), (3, 1, 1, 1), "{lines:?}");
    assert_eq!(count("Reserve round 1"), 1);

    let again: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(a.path(), &["--json", "chain", "index", "--manifest", manifest_arg])))
            .unwrap();
    assert_eq!(again["logs_ingested"], 0, "the demo's own cursor already stands at the restored chain's final block");

    let o = aurum(b.path(), &["chain", "index"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--manifest"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `aurum recon`: the demo's program reconciles clean (reports written, gate open); a statement with a wrong fine
/// weight and a duplicated bar gives breaks, a non-zero exit, and closes the mint gate; a malformed bar list is
/// refused with its line and column; a dry run writes nothing.
#[test]
fn recon_three_way_reports_breaks_and_gates_minting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let demo: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "demo", "--payments", "10"]))).unwrap();
    let recon = &demo["chain"]["recon"];
    assert_eq!(recon["summary"]["breaks"], 0, "{recon}");
    assert_eq!(recon["summary"]["token_supply_oz"], "405.000");
    let report_dir = std::path::PathBuf::from(recon["report_dir"].as_str().unwrap());
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    let bars_path = d.join("chain/31337/bars.csv");
    let bars = std::fs::read(&bars_path).unwrap();
    use sha2::Digest;
    assert!(html.contains(&hex::encode(sha2::Sha256::digest(&bars))), "the report names the bar list's digest");
    assert!(html.contains("reconciled: no unexplained breaks"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["run_on"]["block"], demo["chain"]["check"]["final_block"]);
    let manifest = d.join("chain/31337/manifest.json");
    let manifest = manifest.to_str().unwrap();
    let status: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "recon", "status"]))).unwrap();
    assert_eq!(status["mint_allowed"], true);

    // A wrong fine weight and a duplicated bar.
    let text = String::from_utf8(bars).unwrap();
    let first_bar = text.lines().nth(1).unwrap().to_string();
    let bad = format!("{}{first_bar}\n", text.replace("400.084", "401.084"));
    let bad_path = d.join("bad-bars.csv");
    std::fs::write(&bad_path, bad).unwrap();
    let out = d.join("bad-report");
    let o = aurum(
        d,
        &[
            "--json",
            "recon",
            "three-way",
            "--manifest",
            manifest,
            "--bars",
            bad_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success(), "breaks give a non-zero exit");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let classes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["explained"] == false)
        .map(|f| f["class"].as_str().unwrap())
        .collect();
    for class in ["duplicate", "amount_mismatch", "reserve_mismatch"] {
        assert!(classes.contains(&class), "{class} missing from {classes:?}");
    }
    let csv = std::fs::read_to_string(out.join("breaks.csv")).unwrap();
    assert!(
        csv.starts_with("class,subject,") && csv.contains("duplicate,bar Valcambi SA VS-2024-011871 (2024) in LDN-1"),
        "{csv}"
    );
    let status: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "recon", "status"]))).unwrap();
    assert_eq!(status["mint_allowed"], false);
    assert!(status["reason"].as_str().unwrap().contains("unexplained"));

    // A dry run of the clean list writes nothing and leaves the gate closed.
    let o = aurum(d, &["--json", "recon", "three-way", "--manifest", manifest, "--dry-run"]);
    assert!(o.status.success());
    let dry: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(dry["report_dir"].is_null());
    let status: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "recon", "status"]))).unwrap();
    assert_eq!(status["mint_allowed"], false, "a dry run does not reopen the gate");
    // The real run does.
    stdout(&aurum(d, &["recon", "three-way", "--manifest", manifest]));
    let status: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "recon", "status"]))).unwrap();
    assert_eq!(status["mint_allowed"], true);

    // A malformed bar list is refused with its place.
    std::fs::write(&bad_path, text.replace("999.5", "99x.5")).unwrap();
    let o = aurum(d, &["recon", "three-way", "--manifest", manifest, "--bars", bad_path.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 5, column 5") && err.contains("assay"), "{err}");
}

/// `aurum recon match`: a bank statement against the ledger's bank account (transfers read from the ledger) and
/// against a CSV export: matches, a one-to-many settlement, and classified breaks; reports written; a bad
/// statement line is refused with its place.
#[test]
fn recon_match_statements_against_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| stdout(&aurum(d, args));
    ok(&["ledger", "create-asset", "--id", "1", "--code", "USD", "--scale", "2"]);
    ok(&["ledger", "create-account", "--id", "10", "--asset", "USD", "--kind", "asset"]);
    ok(&["ledger", "create-account", "--id", "20", "--asset", "USD", "--kind", "liability"]);
    // Money in: three customer deposits to the bank (debits of the bank asset account), with references.
    for (id, amount, reference) in [("1", "100.00", "INV-1"), ("2", "250.00", "INV-2"), ("3", "42.10", "INV-3")] {
        ok(&[
            "ledger",
            "transfer",
            "--id",
            id,
            "--from",
            "10",
            "--to",
            "20",
            "--amount",
            amount,
            "--asset",
            "USD",
            "--meta",
            &format!("reference={reference}"),
        ]);
    }
    let today = aurum_today();
    let statement = format!(
        "id,date,amount,currency,reference,description\n\
         S1,{today},100.00,USD,INV-1,deposit\n\
         S2a,{today},200.00,USD,INV-2,deposit part 1\n\
         S2b,{today},50.00,USD,INV-2,deposit part 2\n\
         S9,{today},7.00,USD,INV-9,unknown wire\n"
    );
    std::fs::write(d.join("statement.csv"), &statement).unwrap();
    std::fs::write(
        d.join("rules.toml"),
        "[currencies]\nUSD = 2\n\n[[rule]]\nname = \"exact\"\namount = { tolerance_units = 0 }\ndate = { window_days = 3 }\nreference = { mode = \"equals\" }\n\n[[rule]]\nname = \"split\"\nshape = \"one_to_many\"\namount = { tolerance_units = 0 }\ndate = { window_days = 3 }\nreference = { mode = \"equals\" }\n",
    )
    .unwrap();
    let s = d.join("statement.csv");
    let r = d.join("rules.toml");
    let (s, r) = (s.to_str().unwrap(), r.to_str().unwrap());
    let out = d.join("match-report");
    let report: serde_json::Value = serde_json::from_str(&ok(&[
        "--json",
        "recon",
        "match",
        "--statement",
        s,
        "--rules",
        r,
        "--ledger-account",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(report["summary"]["matches"], 2, "{report}");
    assert_eq!(report["summary"]["matches_by_rule"]["split"], 1);
    let breaks = report["breaks"].as_array().unwrap();
    let classes: Vec<(&str, &str)> =
        breaks.iter().map(|b| (b["side"].as_str().unwrap(), b["class"].as_str().unwrap())).collect();
    // INV-3 was booked today, after the statement's last date (midnight): a timing difference, expected on the
    // next statement (missing_in_statement only if the test straddles midnight UTC).
    assert!(
        classes == [("ledger", "timing_difference"), ("statement", "missing_in_ledger")]
            || classes == [("ledger", "missing_in_statement"), ("statement", "missing_in_ledger")],
        "{report}"
    );
    assert!(report["run_on"]["ledger"]["journal_seq"].as_u64().unwrap() > 0);
    for f in ["report.html", "report.json", "breaks.csv"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("breaks.csv")).unwrap();
    assert!(csv.contains("statement,S9,missing_in_ledger"), "{csv}");

    // The same from a CSV export of the ledger, as a dry run: the same outcome, nothing written.
    let ledger_csv = format!(
        "id,date,amount,currency,reference,description\n1,{today},100.00,USD,INV-1,\n2,{today},250.00,USD,INV-2,\n3,{today}T23:59:59Z,42.10,USD,INV-3,\n"
    );
    std::fs::write(d.join("ledger.csv"), ledger_csv).unwrap();
    let l = d.join("ledger.csv");
    let dry: serde_json::Value = serde_json::from_str(&ok(&[
        "--json",
        "recon",
        "match",
        "--statement",
        s,
        "--rules",
        r,
        "--ledger-csv",
        l.to_str().unwrap(),
        "--dry-run",
    ]))
    .unwrap();
    assert_eq!(dry["summary"]["matches_by_rule"], report["summary"]["matches_by_rule"]);
    assert_eq!(dry["summary"]["breaks_by_class"]["timing_difference"], 1, "{dry}");
    assert_eq!(dry["summary"]["breaks_by_class"]["missing_in_ledger"], 1, "{dry}");
    assert!(dry["report_dir"].is_null());

    // More decimals than the currency allows: refused with line and column.
    std::fs::write(d.join("statement.csv"), statement.replace("7.00", "7.001")).unwrap();
    let o = aurum(d, &["recon", "match", "--statement", s, "--rules", r, "--ledger-account", "10"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 5, column 3"), "{err}");
}

/// Today's date (UTC) as YYYY-MM-DD, as the ledger stamps transfers with the system clock.
fn aurum_today() -> String {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `aurum oracle run`: two signed CSV replay sources and one forged row, aggregated in rounds; the published price
/// is printed and every round is journalled to the data directory's log (`oracle.rounds`).
#[test]
fn oracle_run_aggregates_signed_replayed_prices() {
    use aurum_oracle::signing::{Observation, sign};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let keys: Vec<ed25519_dalek::SigningKey> =
        (0..3).map(|i| ed25519_dalek::SigningKey::from_bytes(&[i + 1; 32])).collect();
    let mut toml = String::from("round_interval_ms = 400\n\n[keys]\n");
    for (i, k) in keys.iter().enumerate() {
        toml.push_str(&format!("src{i} = \"{}\"\n", hex::encode(k.verifying_key().to_bytes())));
    }
    toml.push_str("\n[ingest]\nbuffer_capacity = 64\n");
    for (i, k) in keys.iter().enumerate() {
        let mut csv = String::from("ts,symbol,price,sig\n");
        for (j, price) in ["2650.00", "2650.50"].iter().enumerate() {
            let mut o = Observation {
                source: format!("src{i}"),
                symbol: "XAU/USD".into(),
                value: Some(price.to_string()),
                text: None,
                observed_at_ms: now + j as i64,
                received_at_ms: 0,
                signature: None,
            };
            let sig = if i == 2 { "00".repeat(64) } else { sign(k, &o) }; // src2 forges every row
            o.signature = Some(sig.clone());
            csv.push_str(&format!("{},XAU/USD,{price},{sig}\n", now + j as i64));
        }
        let path = d.join(format!("src{i}.csv"));
        std::fs::write(&path, csv).unwrap();
        toml.push_str(&format!(
            "\n[[ingest.source]]\nname = \"src{i}\"\nkind = \"csv\"\npath = \"{}\"\n\
             fields = {{ symbol = {{ pointer = \"/symbol\" }}, value = {{ pointer = \"/price\" }}, timestamp = {{ pointer = \"/ts\" }}, timestamp_format = \"unix_millis\", signature = {{ pointer = \"/sig\" }} }}\n",
            path.display()
        ));
    }
    toml.push_str("\n[[symbol]]\nsymbol = \"XAU/USD\"\nscale = 8\nquorum = 2\nmax_age_ms = 600000\nmad_limit_permille = 3000\nmad_floor_bps = 5\njump_limit_bps = 500\nconfirm_rounds = 3\nrevaluation = { holdings = [1], fiat_asset = 2, revaluation_account = 3, unrealised_account = 4 }\n");
    // The ledger's gold (10.000 oz in the vault) and the accounts its mark-to-market books to.
    let ok = |args: &[&str]| stdout(&aurum(d, args));
    ok(&["ledger", "create-asset", "--id", "1", "--code", "XAU", "--scale", "3"]);
    ok(&["ledger", "create-asset", "--id", "2", "--code", "USD", "--scale", "2"]);
    ok(&["ledger", "create-account", "--id", "1", "--asset", "XAU", "--kind", "asset"]);
    ok(&["ledger", "create-account", "--id", "5", "--asset", "XAU", "--kind", "equity"]);
    ok(&["ledger", "create-account", "--id", "3", "--asset", "USD", "--kind", "asset"]);
    ok(&["ledger", "create-account", "--id", "4", "--asset", "USD", "--kind", "income"]);
    ok(&["ledger", "transfer", "--id", "1", "--from", "1", "--to", "5", "--amount", "10.000", "--asset", "XAU"]);
    let config = d.join("oracle.toml");
    std::fs::write(&config, toml).unwrap();
    let out = stdout(&aurum(d, &["--json", "oracle", "run", "--config", config.to_str().unwrap(), "--rounds", "5"]));
    let rounds: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rounds.len(), 5, "{out}");
    // Rounds before the replays arrive have no quorum; then src0 and src1 (newest rows: 2650.50) publish, and the
    // forger src2 is dropped (bad signature) every time.
    let published: Vec<&serde_json::Value> = rounds.iter().filter(|r| r["outcome"]["status"] == "published").collect();
    assert!(!published.is_empty(), "{out}");
    // The forger is never used; it is dropped whenever its replayed row has arrived (on a loaded
    // machine the first round may run before it has).
    assert!(published.iter().all(|r| r["used"] == 2), "{out}");
    assert!(published.iter().any(|r| r["dropped"].as_u64().unwrap() >= 1), "{out}");
    let no_quorum = rounds.iter().filter(|r| r["outcome"]["status"] == "no_quorum").count();
    assert!(
        published
            .iter()
            .all(|r| r["outcome"]["value"] == 265_000_000_000i64 || r["outcome"]["value"] == 265_050_000_000i64),
        "{out}"
    );
    assert_eq!(published.len() + no_quorum, 5, "{out}");
    // Each published price revalued the vault: 10 oz × the last published price, in cents, exactly.
    let last = published.last().expect("a round published")["outcome"]["value"].as_i64().unwrap();
    let account: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "ledger", "account", "3"]))).unwrap();
    let expected = aurum_ledger::decimal::format_amount((10 * last / 1_000_000) as u128, 2);
    assert_eq!(account["balance"], expected, "{account}");
    // The rounds are in the log.
    let topics = stdout(&aurum(d, &["--json", "log", "topics"]));
    assert!(topics.contains("oracle.rounds"), "{topics}");
}

#[test]
fn risk_scans_the_journal_once_checks_rules_and_benchmarks() {
    let dir = tempfile::tempdir().unwrap();
    // The demo scores its journal (the money mule alerts); a later scan rescores it and alerts
    // nothing twice.
    let demo: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["demo", "--json", "--payments", "300", "--skip-chain"])))
            .unwrap();
    let transfers = demo["risk"]["transfers"].as_u64().unwrap();
    let alerted = demo["risk"]["new_alerts"].as_u64().unwrap();
    assert!(transfers > 50 && alerted >= 3, "{}", demo["risk"]);
    let alerts: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["risk", "alerts", "--json", "--limit", "1000"]))).unwrap();
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len() as u64, alerted);
    assert!(
        alerts
            .iter()
            .all(|a| a["alert"]["source"] == "journal" && !a["alert"]["reasons"].as_array().unwrap().is_empty())
    );
    let again: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["risk", "scan", "--json"]))).unwrap();
    assert_eq!((again["transfers"].as_u64().unwrap(), again["new_alerts"].as_u64().unwrap()), (transfers, 0));

    // A rules file with a mistake is refused with the rule and the column.
    let bad = dir.path().join("bad.toml");
    let rules = stdout(&aurum(dir.path(), &["risk", "default-rules"]));
    std::fs::write(&bad, rules.replace("out_count_10m >= 5", "out_count_10m >= ")).unwrap();
    let o = aurum(dir.path(), &["risk", "check-rules", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rule 1 (\"velocity_burst\"): when, column 19: expected a number"), "{err}");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, rules).unwrap();
    assert!(stdout(&aurum(dir.path(), &["risk", "check-rules", good.to_str().unwrap()])).contains("valid; 8 rules"));

    // The benchmark prints every pattern, the baseline and the ratio (a small population here).
    let out = stdout(&aurum(
        dir.path(),
        &["bench", "risk", "--consumers", "1000", "--days", "30", "--incidents", "5", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["patterns"].as_array().unwrap().len(), 8);
    assert!(report["speed"]["baseline_events_per_sec"].as_f64().unwrap() > 0.0);
    assert!(report["speed"]["ratio"].as_f64().unwrap() > 0.0);
}

#[test]
fn lake_syncs_the_journal_once_and_answers_sql() {
    let dir = tempfile::tempdir().unwrap();
    let demo: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["demo", "--json", "--payments", "100", "--skip-chain"])))
            .unwrap();
    // The demo synced the lake: journal tables, and the topics its risk scan wrote.
    let rows_of = |report: &serde_json::Value, table: &str| -> u64 {
        let t = report["tables"].as_array().unwrap().iter().find(|t| t["table"] == table).unwrap();
        t["rows"].as_u64().unwrap()
    };
    let first = &demo["lake"]["sync"];
    let transfers = rows_of(first, "transfers");
    assert!(transfers > 50 && rows_of(first, "postings") > transfers, "{first}");
    assert_eq!(rows_of(first, "risk_alerts"), demo["risk"]["new_alerts"].as_u64().unwrap(), "{first}");
    assert_eq!(rows_of(first, "risk_scores"), demo["risk"]["transfers"].as_u64().unwrap(), "{first}");
    assert_eq!(rows_of(first, "chain_events"), 0, "no chain in this run");
    assert_eq!(demo["lake"]["analytics"]["risk_scores"][0]["scored"], demo["risk"]["transfers"]);
    // Again: every source is caught up, nothing is committed.
    let again: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["lake", "sync", "--json"]))).unwrap();
    assert_eq!(again["commits"].as_u64(), Some(0), "{again}");
    assert!(again["tables"].as_array().unwrap().iter().all(|t| t["rows"] == 0), "{again}");
    // Nothing crashed: the orphan sweep finds nothing to delete.
    let sweep: serde_json::Value = serde_json::from_str(&stdout(&aurum(
        dir.path(),
        &["lake", "delete-orphans", "--older-than-hours", "0", "--dry-run", "--json"],
    )))
    .unwrap();
    assert!(sweep["tables"].as_array().unwrap().iter().all(|t| t["orphans"] == 0), "{sweep}");
    let rows: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(dir.path(), &["sql", "--json", "SELECT count(*) AS n FROM transfers"])))
            .unwrap();
    assert_eq!(rows[0]["n"].as_u64(), Some(transfers));
    // Double entry holds in the lake too: every asset's balances sum to zero.
    let nonzero: serde_json::Value = serde_json::from_str(&stdout(&aurum(
        dir.path(),
        &[
            "sql",
            "--json",
            "SELECT count(*) AS n FROM (SELECT asset, sum(balance) AS s FROM holdings GROUP BY asset) WHERE s <> 0",
        ],
    )))
    .unwrap();
    assert_eq!(nonzero[0]["n"], 0);
    let explain: serde_json::Value = serde_json::from_str(&stdout(&aurum(
        dir.path(),
        &["sql", "--json", "--explain", "SELECT count(*) FROM postings WHERE asset = 'XAU'"],
    )))
    .unwrap();
    assert_eq!(explain["scans"][0]["files_scanned"], 1, "{explain}");
    assert_eq!(explain["scans"][0]["files_total"], 2, "{explain}");
    let o = aurum(dir.path(), &["sql", "SELECT nope FROM transfers"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_journal_on_kafka_and_the_read_model_in_postgresql_are_chosen_by_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    // The journal and the other topics under a prefix of this test's own.
    let journal = format!("kafka://{}?prefix=cli-{tag}.", aurum_testenv::kafka_bootstrap());
    let pg = aurum_testenv::postgres_url();
    let schema = format!("cli_{}", tag.replace('-', "_"));
    let with = |args: &[&str]| {
        let mut all =
            vec!["--journal", journal.as_str(), "--read-model", pg.as_str(), "--read-model-schema", schema.as_str()];
        all.extend_from_slice(args);
        aurum(d, &all)
    };
    stdout(&with(&["ledger", "create-asset", "--id", "1", "--code", "XAU", "--scale", "3"]));
    stdout(&with(&["ledger", "create-account", "--id", "10", "--asset", "XAU", "--kind", "asset"]));
    stdout(&with(&["ledger", "create-account", "--id", "20", "--asset", "XAU", "--kind", "liability"]));
    stdout(&with(&[
        "ledger", "transfer", "--id", "1", "--from", "10", "--to", "20", "--amount", "2.500", "--asset", "XAU",
    ]));
    // The journal is in Kafka: the data directory's log holds no journal topic.
    let topics = stdout(&aurum(d, &["log", "topics"]));
    assert!(!topics.contains("ledger.journal"), "{topics}");
    // Without --journal the same data directory refuses to start: its anchor is ahead of the
    // (empty) embedded journal.
    assert!(!aurum(d, &["ledger", "account", "20"]).status.success());
    let audit = stdout(&with(&["--json", "audit"]));
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!((audit["ok"].as_bool(), audit["blocks_checked"].as_u64()), (Some(true), Some(4)), "{audit}");

    let sync: serde_json::Value = serde_json::from_str(&stdout(&with(&["--json", "pg", "sync"]))).unwrap();
    assert_eq!((sync["journal_head"].as_u64(), sync["lag_blocks"].as_u64()), (Some(4), Some(0)), "{sync}");
    assert_eq!(sync["this_run"]["blocks"], 4);
    assert!(!sync.to_string().contains(":aurum@"), "the password is redacted: {sync}");
    let again: serde_json::Value = serde_json::from_str(&stdout(&with(&["--json", "pg", "sync"]))).unwrap();
    assert_eq!(again["this_run"]["blocks"], 0, "exactly once: nothing new");
    // Risk scoring reads the journal where it is.
    let scan: serde_json::Value = serde_json::from_str(&stdout(&with(&["--json", "risk", "scan"]))).unwrap();
    assert_eq!((scan["blocks"].as_u64(), scan["transfers"].as_u64()), (Some(4), Some(1)), "{scan}");
    // Its scores went to the topics beside the journal, on Kafka, not to the data directory's log.
    let on_kafka: serde_json::Value = serde_json::from_str(&stdout(&with(&["--json", "log", "topics"]))).unwrap();
    let hw = |topic: &str| {
        on_kafka.as_array().unwrap().iter().find(|r| r["topic"] == topic).map(|r| r["high_watermark"].as_u64())
    };
    assert_eq!((hw("ledger.journal"), hw("risk.scores")), (Some(Some(4)), Some(Some(1))), "{on_kafka}");
    assert!(!stdout(&aurum(d, &["log", "topics"])).contains("risk.scores"));
    stdout(&with(&["log", "create-topic", "cli.notes", "--partitions", "2"]));
    let produced = stdout(&with(&["log", "produce", "cli.notes", "--key", "k", "hello"]));
    assert!(produced.contains("Replicated"), "a Kafka acknowledgement: {produced}");
    // Partitioned by key as the embedded log does it: crc32c("k") % 2 = 0.
    let consumed = stdout(&with(&["log", "consume", "cli.notes", "--partition", "0"]));
    assert!(consumed.contains("cli.notes/0@0") && consumed.contains("value=hello"), "{consumed}");
    // The lake's topic sinks read the scores from Kafka: one record, one row per transfer.
    let lake: serde_json::Value = serde_json::from_str(&stdout(&with(&["--json", "lake", "sync"]))).unwrap();
    let scores = lake["tables"].as_array().unwrap().iter().find(|t| t["table"] == "risk_scores").unwrap();
    assert_eq!((scores["records"].as_u64(), scores["rows"].as_u64()), (Some(1), Some(1)), "{lake}");
    let refused = with(&["log", "retention"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("embedded log's"), "{refused:?}");
    let err = aurum(d, &["--journal", "kafka://nohost", "ledger", "account", "20"]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("host:port"), "{}", String::from_utf8_lossy(&err.stderr));

    // The API serves history from the read model once it has caught up — read-your-writes: a
    // transfer made through the API is in the next statement — and says so in a header; without a
    // read model the same questions are answered from memory, identically.
    let (mut server, port, token) =
        serve(d, &["--journal", &journal, "--read-model", &pg, "--read-model-schema", &schema, "serve"], None);
    let token = token.expect("the first start prints the bootstrap token");
    let body = r#"{"id": "2", "debit_account": "10", "credit_account": "20", "amount": "0.250", "asset": "XAU"}"#;
    let created = http(
        port,
        &format!(
            "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    // The server projects new blocks in the background, before anyone asks. (Watched from
    // another data directory: the journal is on Kafka, the read model in PostgreSQL.)
    let elsewhere = tempfile::tempdir().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let args =
            ["--journal", &journal, "--read-model", &pg, "--read-model-schema", &schema, "--json", "pg", "status"];
        let status: serde_json::Value = serde_json::from_str(&stdout(&aurum(elsewhere.path(), &args))).unwrap();
        if status["lag_blocks"] == 0 && status["journal_head"] == 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the read model did not follow the journal: {status}");
    }
    let get = |port: u16, path: &str| {
        let r = http(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"),
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{path}: {r}");
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        let source = head.lines().find_map(|l| l.strip_prefix("aurum-read-source: ")).unwrap_or("none").to_string();
        (source, serde_json::from_str::<serde_json::Value>(body).unwrap())
    };
    let mut paths: Vec<String> = [
        "/v1/accounts/20/statement",
        "/v1/accounts/20/balance?as_of_seq=4",
        "/v1/accounts/20/balance?as_of_seq=5",
        "/v1/accounts",
        "/v1/accounts?kind=liability&limit=1",
        "/v1/transfers",
        "/v1/transfers?account=20&limit=1",
    ]
    .map(String::from)
    .to_vec();
    let mut from_pg: Vec<_> = paths.iter().map(|p| get(port, p)).collect();
    assert!(from_pg.iter().all(|(source, _)| source == "read-model"), "{from_pg:?}");
    assert_eq!(from_pg[0].1["lines"].as_array().unwrap().len(), 2, "the API's own transfer is there: {:?}", from_pg[0]);
    assert_eq!((from_pg[1].1["balance"].as_str(), from_pg[2].1["balance"].as_str()), (Some("2.500"), Some("2.750")));
    // The lists come from PostgreSQL too: both accounts with their balances, both transfers.
    assert_eq!(from_pg[3].1["data"][1]["balance"], "2.750", "{:?}", from_pg[3]);
    assert_eq!(from_pg[5].1["data"].as_array().map(Vec::len), Some(2), "{:?}", from_pg[5]);
    assert_eq!(from_pg[5].1["data"][1]["metadata"]["aurum.api_key"].as_str().map(str::is_empty), Some(false));
    // A page's cursor continues it, whichever source answers the next page.
    let cursor = from_pg[6].1["next_cursor"].as_str().expect("a second page").to_string();
    paths.push(format!("/v1/transfers?account=20&limit=1&cursor={cursor}"));
    from_pg.push(get(port, paths.last().unwrap()));
    assert_eq!(from_pg[7].1["data"][0]["id"], "2", "{:?}", from_pg[7]);
    assert_eq!(from_pg[7].1["next_cursor"], serde_json::Value::Null);
    stop(server);
    // The API's transfer was projected while answering: the read model is at the head.
    let status: serde_json::Value = serde_json::from_str(&stdout(&with(&["--json", "pg", "status"]))).unwrap();
    assert_eq!(status["lag_blocks"], 0, "{status}");

    (server, _, _) = serve(d, &["--journal", &journal, "serve"], Some(port));
    for (path, (_, pg_answer)) in paths.iter().zip(&from_pg) {
        let (source, memory_answer) = get(port, path);
        assert_eq!(source, "memory");
        assert_eq!(&memory_answer, pg_answer, "{path}: the same answer from PostgreSQL and from memory");
    }
    stop(server);
    // A read model that cannot be reached costs nothing but the header: memory answers.
    let unreachable = "postgres://aurum:aurum@127.0.0.1:1/aurum";
    (server, _, _) = serve(d, &["--journal", &journal, "--read-model", unreachable, "serve"], Some(port));
    for (path, (_, pg_answer)) in paths.iter().zip(&from_pg) {
        assert_eq!(get(port, path), ("memory".to_string(), pg_answer.clone()), "{path}");
    }
    stop(server);
}

/// Start `aurum serve` (args include `serve`) on `port` (or a free one): (child, port, the
/// bootstrap token if this start printed one). Ready once it printed its listening line.
fn serve(data_dir: &Path, args: &[&str], port: Option<u16>) -> (std::process::Child, u16, Option<String>) {
    use std::io::BufRead;
    let port = port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_aurum"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .args(["--addr", &format!("127.0.0.1:{port}"), "--no-risk"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut token = None;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(t) = line.split("store it now): ").nth(1) {
            token = Some(t.to_string());
        }
        if line.contains("listening on") {
            break;
        }
    }
    (child, port, token)
}

fn stop(child: std::process::Child) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "serve did not stop cleanly");
}

#[test]
fn jobs_are_listed_triggered_recorded_and_configured_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&aurum(d, &["ledger", "create-asset", "--id", "1", "--code", "XAU", "--scale", "3"]));
    let list: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "jobs", "list"]))).unwrap();
    let names: Vec<&str> = list["jobs"].as_array().unwrap().iter().map(|j| j["job"].as_str().unwrap()).collect();
    assert_eq!(names, ["lake-maintenance", "ledger-snapshot"], "no chain manifest: no recon job: {list}");
    assert_eq!(list["jobs"][0]["tasks"][1]["after"][0], "sync", "{list}");

    let run: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "jobs", "trigger", "ledger-snapshot"]))).unwrap();
    assert_eq!((run["state"].as_str(), run["trigger"].as_str()), (Some("success"), Some("manual")), "{run}");
    assert_eq!(run["tasks"][0]["attempts"][0]["output"], r#"{"snapshot_seq":1}"#);
    let lake: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "jobs", "trigger", "lake-maintenance"]))).unwrap();
    let states: Vec<&str> = lake["tasks"].as_array().unwrap().iter().map(|t| t["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["success", "success", "success"], "sync, health, expire: {lake}");
    // The history survives the process, newest first.
    let runs: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "jobs", "runs"]))).unwrap();
    let jobs: Vec<&str> = runs["runs"].as_array().unwrap().iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(jobs.len(), 2, "{runs}");
    assert!(jobs.contains(&"ledger-snapshot") && jobs.contains(&"lake-maintenance"));

    // A jobs file changes schedules and turns jobs off; mistakes are named.
    let file = d.join("jobs.toml");
    std::fs::write(&file, "[jobs.lake-maintenance]\nenabled = false\n[jobs.ledger-snapshot]\nschedule = \"@hourly\"\n")
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout(&aurum(d, &["--json", "jobs", "list"]))).unwrap();
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["jobs"][0]["schedule"], "@hourly");
    for (text, says) in [
        ("[jobs.ledger-snapshot]\nschedule = \"61 * * * *\"\n", "minute field"),
        ("[jobs.nightly-party]\nenabled = true\n", "unknown job \"nightly-party\""),
        ("[jobs.ledger-snapshot]\ncolour = 1\n", "unknown field"),
    ] {
        std::fs::write(&file, text).unwrap();
        let o = aurum(d, &["jobs", "list"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{text}: {err}");
    }
    let o = aurum(d, &["jobs", "trigger", "nope", "--config", "/dev/null"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no DAG named \"nope\""), "{o:?}");
}

#[test]
fn quality_checks_run_from_a_file_by_hand_and_as_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&aurum(d, &["ledger", "create-asset", "--id", "1", "--code", "XAU", "--scale", "3"]));
    stdout(&aurum(d, &["ledger", "create-account", "--id", "10", "--asset", "XAU", "--kind", "asset"]));
    stdout(&aurum(d, &["ledger", "create-account", "--id", "20", "--asset", "XAU", "--kind", "liability"]));
    for id in ["1", "2", "3"] {
        stdout(&aurum(
            d,
            &["ledger", "transfer", "--id", id, "--from", "10", "--to", "20", "--amount", "1.5", "--asset", "XAU"],
        ));
    }
    stdout(&aurum(d, &["lake", "sync"]));
    let checks = r#"
        [[checks]]
        table = "transfers"
        kind = "unique"
        columns = ["transfer_id"]
        [[checks]]
        name = "small amounts"
        table = "transfers"
        kind = "between"
        column = "amount"
        max = "1.499"
    "#;
    std::fs::write(d.join("quality.toml"), checks).unwrap();
    let o = aurum(d, &["--json", "quality", "check"]);
    assert!(!o.status.success(), "a failed check fails the command");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["status"], "fail", "{report}");
    assert_eq!(report["checks"][0]["status"], "pass", "{report}");
    assert_eq!(report["checks"][1]["unexpected"], 3, "{report}");
    assert_eq!(report["checks"][1]["examples"][0]["value"], "1.500000000000000000", "{report}");

    let profile: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "quality", "profile", "transfers"]))).unwrap();
    let amount = profile["columns"].as_array().unwrap().iter().find(|c| c["column"] == "amount").unwrap();
    assert_eq!((amount["rows"].as_u64(), amount["distinct"].as_u64()), (Some(3), Some(1)), "{profile}");

    // The same file as a scheduled job: registered because it exists, failed with the reason.
    let o = aurum(d, &["--json", "jobs", "trigger", "data-quality"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is retried at"), "{o:?}");
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(run["state"], "running", "its retry is due later: {run}");
    let error = run["tasks"][0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("small amounts"), "{error}");
    assert_eq!(run["tasks"][0]["state"], "up_for_retry", "retries are left: {run}");
    // Triggered again while that run waits for its retry (a minute away): the job runs one run at
    // a time, so the new run queues behind it, and the command says so.
    let o = aurum(d, &["--json", "jobs", "trigger", "data-quality"]);
    assert!(!o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("queued behind earlier runs"), "{o:?}");
    let queued: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(queued["state"], "queued", "{queued}");
    assert_eq!(queued["tasks"][0]["attempts"], serde_json::json!([]), "a run of its own, not begun: {queued}");
}

/// The operations dashboard in a real browser: headless Chromium (Debian's package; .ci/run or
/// scripts/chromium-up.sh installs it) loads the page served by `aurum serve`, runs its script
/// against the API with a key from the URL fragment, and the test checks what it rendered. A
/// screenshot is kept under the target directory.
#[test]
fn the_dashboard_renders_the_node_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&aurum(d, &["ledger", "create-asset", "--id", "1", "--code", "XAU", "--scale", "3"]));
    stdout(&aurum(d, &["ledger", "create-account", "--id", "10", "--asset", "XAU", "--kind", "asset"]));
    stdout(&aurum(d, &["ledger", "create-account", "--id", "20", "--asset", "XAU", "--kind", "liability"]));
    for (id, amount) in [("1", "2.500"), ("2", "0.125")] {
        stdout(&aurum(
            d,
            &["ledger", "transfer", "--id", id, "--from", "10", "--to", "20", "--amount", amount, "--asset", "XAU"],
        ));
    }
    stdout(&aurum(d, &["jobs", "trigger", "ledger-snapshot"]));
    stdout(&aurum(d, &["jobs", "trigger", "lake-maintenance"]));
    let checks = "[[checks]]\nname = \"transfer ids are unique\"\ntable = \"transfers\"\nkind = \"unique\"\ncolumns = [\"transfer_id\"]\n";
    std::fs::write(d.join("quality.toml"), checks).unwrap();
    stdout(&aurum(d, &["jobs", "trigger", "data-quality"]));

    let (server, port, token) = serve(d, &["serve"], None);
    let token = token.expect("the first start prints the bootstrap token");
    let chromium = aurum_testenv::chromium();
    let url = format!("http://127.0.0.1:{port}/dashboard#token={token}");
    let browse = |extra: &[&str]| {
        let o = Command::new(&chromium)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
            .args(["--virtual-time-budget=15000", "--window-size=1400,2000"])
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium runs");
        assert!(o.status.success(), "chromium: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let dom = browse(&["--dump-dom"]);
    assert!(dom.contains("data-ready=\"1\""), "the script rendered the overview:\n{dom}");
    // What was rendered, without the page's script (whose source names some of the same words).
    let dom = match (dom.find("<script>"), dom.find("</script>")) {
        (Some(a), Some(b)) => format!("{}{}", &dom[..a], &dom[b..]),
        _ => dom,
    };
    for shown in [
        "XAU",             // the trial balance and the accounts
        "2.625",           // Σ debits of XAU, exact
        "liability",       // the accounts, with their kinds
        "ledger-snapshot", // job runs
        "lake-maintenance",
        "data-quality",
        "transfer ids are unique", // the last data-quality report
        "allowed",                 // reconciliation and the mint gate
        "alert(s) in risk.alerts", // the risk panel's count
        "transfers",               // the lake tables' health
    ] {
        assert!(dom.contains(shown), "{shown:?} is not on the dashboard:\n{dom}");
    }
    assert!(dom.contains("<div id=\"status\"></div>"), "no error shown: {dom}");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts").join("dashboard.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    browse(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
    println!("dashboard screenshot: {}", shot.display());
    stop(server);
}

/// A price source for the oracle: answers every HTTP request with a signed XAU/USD price.
fn price_server(name: &str, key: ed25519_dalek::SigningKey, price: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/price", listener.local_addr().unwrap());
    let (name, price) = (name.to_string(), price.to_string());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
            let o = aurum_oracle::signing::Observation {
                source: name.clone(),
                symbol: "XAU/USD".into(),
                value: Some(price.clone()),
                text: None,
                observed_at_ms: ts,
                received_at_ms: 0,
                signature: None,
            };
            let body = serde_json::json!({"symbol": "XAU/USD", "price": price, "ts": ts,
                "sig": aurum_oracle::signing::sign(&key, &o)})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn oracle_config(sources: &[(&str, &ed25519_dalek::SigningKey, String)]) -> String {
    let mut toml = "round_interval_ms = 200\nevents = []\n\n[keys]\n".to_string();
    for (name, key, _) in sources {
        toml.push_str(&format!("{name} = \"{}\"\n", hex::encode(key.verifying_key().to_bytes())));
    }
    toml.push_str("\n[ingest]\nbuffer_capacity = 256\n");
    for (name, _, url) in sources {
        toml.push_str(&format!(
            "\n[[ingest.source]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"{url}\"\ninterval_ms = 50\ntimeout_ms = 2000\n\
             fields = {{ symbol = {{ pointer = \"/symbol\" }}, value = {{ pointer = \"/price\" }}, timestamp = {{ pointer = \"/ts\" }}, timestamp_format = \"unix_millis\", signature = {{ pointer = \"/sig\" }} }}\n"
        ));
    }
    toml.push_str(
        "\n[[symbol]]\nsymbol = \"XAU/USD\"\nscale = 8\nquorum = 2\nmax_age_ms = 60000\nmad_limit_permille = 3000\n\
         mad_floor_bps = 5\njump_limit_bps = 500\nconfirm_rounds = 3\n",
    );
    toml
}

#[test]
fn the_oracle_heartbeat_job_journals_prices_and_fails_without_a_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keys = [ed25519_dalek::SigningKey::from_bytes(&[21; 32]), ed25519_dalek::SigningKey::from_bytes(&[22; 32])];
    let sources = [
        ("src_a", &keys[0], price_server("src_a", keys[0].clone(), "2650.00")),
        ("src_b", &keys[1], price_server("src_b", keys[1].clone(), "2650.50")),
    ];
    std::fs::write(d.join("oracle.toml"), oracle_config(&sources)).unwrap();
    // Enough rounds for the sources' first answers to arrive (the first round has none).
    std::fs::write(d.join("jobs.toml"), "[jobs.oracle-heartbeat]\nrounds = 25\n").unwrap();
    let list = stdout(&aurum(d, &["jobs", "list"]));
    assert!(list.contains("oracle-heartbeat") && list.contains("*/5 * * * *"), "{list}");
    let run: serde_json::Value =
        serde_json::from_str(&stdout(&aurum(d, &["--json", "jobs", "trigger", "oracle-heartbeat"]))).unwrap();
    assert_eq!(run["state"], "success", "{run}");
    let output: serde_json::Value =
        serde_json::from_str(run["tasks"][0]["attempts"][0]["output"].as_str().unwrap()).unwrap();
    assert!(output["published"].as_u64().unwrap() >= 1, "{output}");
    // The median of the two sources (the lower middle of an even count: never an average that
    // would need rounding), journalled with both sources used.
    let rounds = stdout(&aurum(d, &["log", "consume", "oracle.rounds", "--max", "100"]));
    assert!(rounds.contains(r#""outcome":{"status":"published","value":265000000000}"#), "{rounds}");
    assert!(rounds.contains(r#"["src_b",265050000000]"#), "{rounds}");

    // The connector and the scheduler as long-running processes export Prometheus metrics.
    let (mut oracle, metrics) =
        with_metrics(d, &["oracle", "run", "--config", d.join("oracle.toml").to_str().unwrap()]);
    let text =
        scrape_until(&metrics, |t| t.contains("aurum_oracle_rounds_total{symbol=\"XAU/USD\",outcome=\"published\"}"));
    assert!(text.contains("aurum_ingest_observations_total{source=\"src_a\"}"), "{text}");
    assert!(text.contains("aurum_oracle_last_published_seconds{symbol=\"XAU/USD\"}"), "{text}");
    oracle.kill().unwrap();
    oracle.wait().unwrap();
    let (mut jobs, metrics) = with_metrics(d, &["jobs", "run"]);
    let text = scrape_until(&metrics, |t| t.contains("aurum_job_last_run_success{job=\"oracle-heartbeat\"} 1"));
    // The triggered run, plus one for the job's own */5 slot when the wall clock crosses one while
    // this test runs (the scheduler rightly runs it): at least one success, and no other state.
    let successes = text
        .lines()
        .find_map(|l| l.strip_prefix("aurum_job_runs{job=\"oracle-heartbeat\",state=\"success\"} "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(successes.is_some_and(|n| n >= 1), "{text}");
    assert!(!text.contains("aurum_job_runs{job=\"oracle-heartbeat\",state=\"failed\"}"), "{text}");
    jobs.kill().unwrap();
    jobs.wait().unwrap();

    // Sources that do not answer: no quorum, the run fails with the reason (and is retried).
    let dead = [
        ("src_a", &keys[0], "http://127.0.0.1:9/price".to_string()),
        ("src_b", &keys[1], "http://127.0.0.1:9/price".to_string()),
    ];
    std::fs::write(d.join("dead.toml"), oracle_config(&dead)).unwrap();
    let jobs = d.join("dead-jobs.toml");
    std::fs::write(&jobs, format!("[jobs.oracle-heartbeat]\nrounds = 2\nconfig = {:?}\n", d.join("dead.toml")))
        .unwrap();
    let o = aurum(d, &["--json", "jobs", "trigger", "oracle-heartbeat", "--config", jobs.to_str().unwrap()]);
    assert!(!o.status.success());
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let error = run["tasks"][0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("no price published in 2 round(s)") && error.contains("no_quorum"), "{error}");
}

/// Start `aurum ARGS --metrics-addr 127.0.0.1:0` (a long-running process) and the metrics URL it
/// prints on stderr.
fn with_metrics(data_dir: &Path, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aurum"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .args(["--metrics-addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the process prints its metrics address").unwrap();
        if let Some(url) = line.split("metrics on ").nth(1) {
            break url.trim().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// GET `url` until `ready` holds for the body (60 s at most: a bound, not a sleep).
fn scrape_until(url: &str, ready: impl Fn(&str) -> bool) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        let r = http(port, &format!("GET /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        if r.starts_with("HTTP/1.1 200") && ready(&r) {
            return r;
        }
        assert!(std::time::Instant::now() < deadline, "{url} never had what was expected:\n{r}");
    }
}
