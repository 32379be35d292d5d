//! Matching benchmark: 1M ledger transfers against ~1.04M statement lines (seeded), about 1% of each break
//! class injected plus one-to-many, many-to-one and description-only matches, run through
//! `aurum_recon::matching::run` (best of 3). The baseline is the same matching done as SQL joins in DuckDB on
//! the same data (`duckdb_baseline.py`: the data written to CSV and loaded untimed, then the passes timed,
//! best of 3), measured in the same run. Both print items/s and time, and the ratio; then the break counts
//! (injected, found, DuckDB's) so a regression in quality shows next to one in speed.
//!
//! Run: `cargo bench -p aurum-recon --bench matching` (`-- quick` for 100k × 100k). DuckDB is installed on
//! first use into a venv in the target directory (`<target>/duckdb-venv`, `pip install duckdb`); when that
//! fails the baseline prints `n/a` and the bench still runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aurum_foundations_bench::{Measurement, print_comparison, print_row};
use aurum_ledger::decimal::format_signed;
use aurum_recon::matching::{BreakClass, Item, ItemKind, Outcome, Rules, format_timestamp, load_items_csv, run};
use aurum_vfs::rng::SplitMix64;

const RULES: &str = r#"
[currencies]
USD = 2
EUR = 2
XAU = 3

[classification]
rounding_tolerance_units = 1
timing_window_days = 30
duplicate_window_days = 1
period_end = "2026-12-31T23:59:59Z"

[[rule]]
name = "exact"
amount = { tolerance_units = 0 }
date = { window_days = 3 }
reference = { mode = "equals" }

[[rule]]
name = "split settlement"
shape = "one_to_many"
amount = { tolerance_units = 0 }
date = { window_days = 3 }
reference = { mode = "equals" }

[[rule]]
name = "batch payout"
shape = "many_to_one"
amount = { tolerance_units = 0 }
date = { window_days = 3 }
reference = { mode = "equals" }

[[rule]]
name = "by description"
amount = { tolerance_units = 0 }
date = { window_days = 1 }
description = { min_similarity_permille = 800 }
"#;

const DAY: i64 = 86_400;
const START: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
const COUNTERPARTIES: [&str; 12] = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Ltd",
    "Stark Metals",
    "Wayne Vaults",
    "Hooli",
    "Vandelay Imports",
    "Soylent",
    "Tyrell Refining",
    "Cyberdyne",
    "Wonka Gold",
];

/// A generated book and the breaks injected into it.
struct Book {
    ledger: Vec<Item>,
    statement: Vec<Item>,
    expected: BTreeMap<BreakClass, usize>,
}

fn payment(id: String, at: i64, amount: i128, currency: &str, reference: String, description: String) -> Item {
    Item {
        id: id.into(),
        at_secs: at,
        amount,
        currency: currency.into(),
        reference,
        description,
        kind: ItemKind::Payment,
    }
}

/// `n` ledger transfers and their statement, with about 1% of each scenario (seeded, so every run is the same).
fn generate(n: usize, seed: u64) -> Book {
    let mut rng = SplitMix64::new(seed);
    let mut ledger = Vec::with_capacity(n + n / 50);
    let mut statement = Vec::with_capacity(n + n / 10);
    let mut expected: BTreeMap<BreakClass, usize> = BreakClass::ALL.iter().map(|c| (*c, 0)).collect();
    let mut expect = |class: BreakClass, count: usize| *expected.entry(class).or_default() += count;
    for i in 0..n {
        let currency = match rng.below(10) {
            0..=6 => "USD",
            7..=8 => "EUR",
            _ => "XAU",
        };
        let amount = 1 + rng.below(10_000_000) as i128;
        let amount = if rng.chance(1, 4) { -amount } else { amount };
        let at = START + rng.below(30 * DAY as u64) as i64;
        let who = COUNTERPARTIES[rng.below(COUNTERPARTIES.len() as u64) as usize];
        let reference = format!("R{i:08}");
        let description = format!("Payment {who} inv {i}");
        let bank_description = format!("PAYMENT {} INV {i}", who.to_uppercase());
        let cleared = at + rng.below(2 * DAY as u64) as i64;
        let sid = |suffix: &str| format!("S{i:08}{suffix}");
        let lid = format!("L{i:08}");
        let scenario = rng.below(1000);
        match scenario {
            0..=9 => expect(BreakClass::MissingInStatement, 1),
            10..=19 => {
                expect(BreakClass::TimingDifference, 2);
                statement.push(payment(sid(""), at + 10 * DAY, amount, currency, reference.clone(), bank_description));
            }
            20..=29 => {
                expect(BreakClass::Rounding, 2);
                statement.push(payment(sid(""), cleared, amount + 1, currency, reference.clone(), bank_description));
            }
            30..=39 => {
                expect(BreakClass::AmountMismatch, 2);
                let wrong = amount + amount / 10 + 2;
                statement.push(payment(sid(""), cleared, wrong, currency, reference.clone(), bank_description));
            }
            40..=49 => {
                expect(BreakClass::Duplicate, 1);
                let line = payment(sid(""), cleared, amount, currency, reference.clone(), bank_description);
                let mut copy = line.clone();
                copy.id = sid("-dup").into();
                copy.at_secs += 3600;
                statement.extend([line, copy]);
            }
            50..=79 => {
                // A matching line, plus an unbooked event: a line the ledger lacks, a mint, a wipe or a freeze.
                statement.push(payment(sid(""), cleared, amount, currency, reference.clone(), bank_description));
                let extra_amount = 1 + rng.below(1_000_000) as i128;
                let mut extra =
                    payment(sid("-x"), cleared, extra_amount, currency, format!("X{i:08}"), "bank fee".into());
                let class = match scenario {
                    50..=59 => BreakClass::MissingInLedger,
                    60..=69 => {
                        extra.kind = ItemKind::Mint;
                        extra.description = "token mint".into();
                        BreakClass::UnauthorisedMint
                    }
                    _ => {
                        extra.kind = if rng.chance(1, 2) { ItemKind::Wipe } else { ItemKind::Freeze };
                        extra.description = "asset protection".into();
                        BreakClass::FrozenOrWiped
                    }
                };
                expect(class, 1);
                statement.push(extra);
            }
            80..=89 => {
                // One ledger transfer settled in 2 or 3 statement lines.
                let parts = 2 + rng.below(2) as usize;
                let mut left = amount;
                for p in 0..parts {
                    let share = if p + 1 == parts { left } else { amount / parts as i128 };
                    left -= share;
                    statement.push(payment(
                        sid(&format!("-{p}")),
                        cleared,
                        share,
                        currency,
                        reference.clone(),
                        bank_description.clone(),
                    ));
                }
            }
            90..=99 => {
                // This transfer and 1 or 2 more share a batch reference; the bank pays them in one line.
                let batch = format!("B{i:08}");
                let extra = 1 + rng.below(2) as usize;
                let mut total = amount;
                for e in 0..extra {
                    let more = amount.signum() * (1 + rng.below(1_000_000) as i128);
                    total += more;
                    ledger.push(payment(format!("{lid}-{e}"), at, more, currency, batch.clone(), description.clone()));
                }
                ledger.push(payment(lid, at, amount, currency, batch.clone(), description));
                statement.push(payment(sid(""), cleared.min(at + DAY), total, currency, batch, bank_description));
                continue;
            }
            100..=109 => {
                // The bank lost the reference: found by amount, date and description.
                let line = payment(
                    sid(""),
                    at + rng.below(DAY as u64 / 2) as i64,
                    amount,
                    currency,
                    format!("BANK{i}"),
                    bank_description,
                );
                statement.push(line);
            }
            _ => statement.push(payment(sid(""), cleared, amount, currency, reference.clone(), bank_description)),
        }
        ledger.push(payment(lid, at, amount, currency, reference, description));
    }
    Book { ledger, statement, expected }
}

const SCALES: [(&str, u8); 3] = [("USD", 2), ("EUR", 2), ("XAU", 3)];

fn write_csv(path: &Path, items: &[Item]) -> std::io::Result<()> {
    let scales: BTreeMap<&str, u8> = SCALES.into_iter().collect();
    let mut text = String::with_capacity(items.len() * 90);
    text.push_str("id,date,amount,currency,reference,description,kind\n");
    for it in items {
        let scale = scales.get(it.currency.as_str()).copied().unwrap_or(0);
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{}",
            it.id,
            format_timestamp(it.at_secs),
            format_signed(it.amount, scale),
            it.currency,
            it.reference,
            it.description,
            it.kind.as_str()
        );
    }
    std::fs::write(path, text)
}

/// What the DuckDB script reports.
struct Baseline {
    match_secs: f64,
    runs: Vec<f64>,
    version: String,
    matched_ledger: u64,
    counts: BTreeMap<String, u64>,
}

fn duckdb_baseline(dir: &Path) -> Result<Baseline, String> {
    let python = aurum_pyenv::duckdb()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_baseline.py");
    let out = Command::new(python)
        .arg(script)
        .arg(dir.join("ledger.csv"))
        .arg(dir.join("statement.csv"))
        .output()
        .map_err(|e| format!("running duckdb_baseline.py: {e}"))?;
    if !out.status.success() {
        return Err(format!("duckdb_baseline.py failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("bad report: {e}"))?;
    let counts = report["breaks"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
        .unwrap_or_default();
    Ok(Baseline {
        match_secs: report["match_secs"].as_f64().ok_or("report lacks match_secs")?,
        runs: report["run_secs"].as_array().map(|a| a.iter().filter_map(|v| v.as_f64()).collect()).unwrap_or_default(),
        version: report["duckdb_version"].as_str().unwrap_or("?").to_string(),
        matched_ledger: report["matched_ledger"].as_u64().unwrap_or(0),
        counts,
    })
}

fn check_accounted(book: &Book, outcome: &Outcome) {
    let placed: usize = outcome.matches.iter().map(|m| m.ledger.len() + m.statement.len()).sum::<usize>()
        + outcome.breaks.iter().map(|b| b.ids.len()).sum::<usize>();
    assert_eq!(placed, book.ledger.len() + book.statement.len(), "every item in exactly one match or break");
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    // `-- engine`: only the engine's runs, no CSV and no DuckDB (for profiling).
    let engine_only = std::env::args().any(|a| a == "engine");
    let n: usize = if quick { 100_000 } else { 1_000_000 };
    // As `aurum recon match` does; `-- glibc-defaults` measures without it.
    let glibc_defaults = std::env::args().any(|a| a == "glibc-defaults");
    if !glibc_defaults && !aurum_alloc::keep_freed_memory() {
        println!("(the allocator is not glibc's: aurum_alloc::keep_freed_memory changed nothing)");
    }
    let rules = Rules::from_toml(RULES).expect("bench rules");
    let book = generate(n, 2026);
    let items = (book.ledger.len() + book.statement.len()) as u64;
    println!(
        "matching {} ledger transfers x {} statement lines (seeded; ~1% of each break class injected)",
        book.ledger.len(),
        book.statement.len()
    );

    // Best of three for the engine (the first run also warms the allocator).
    let mut best: Option<(Duration, Outcome)> = None;
    let mut runs = Vec::new();
    for _ in 0..if engine_only { 5 } else { 3 } {
        let start = Instant::now();
        let outcome = run(&book.ledger, &book.statement, &rules);
        let elapsed = start.elapsed();
        runs.push(elapsed.as_secs_f64());
        if best.as_ref().is_none_or(|(b, _)| elapsed < *b) {
            best = Some((elapsed, outcome));
        }
    }
    let (elapsed, outcome) = best.expect("ran");
    check_accounted(&book, &outcome);
    if engine_only {
        let secs: Vec<String> = runs.iter().map(|t| format!("{t:.3}")).collect();
        println!("aurum-recon: best {:.3} s (runs {} s)", elapsed.as_secs_f64(), secs.join(" / "));
        return;
    }
    let subject = Measurement {
        name: format!("aurum-recon run, {}k x {}k items", book.ledger.len() / 1000, book.statement.len() / 1000),
        ops: items,
        bytes: 0,
        elapsed,
    };

    let dir = tempfile::tempdir().expect("temp dir");
    write_csv(&dir.path().join("ledger.csv"), &book.ledger).expect("write ledger.csv");
    write_csv(&dir.path().join("statement.csv"), &book.statement).expect("write statement.csv");
    let scales: BTreeMap<String, u8> = SCALES.iter().map(|(c, s)| (c.to_string(), *s)).collect();
    let text = std::fs::read_to_string(dir.path().join("statement.csv")).expect("read back");
    let start = Instant::now();
    let loaded = load_items_csv(&text, &scales).expect("load statement.csv");
    let load = Measurement {
        name: format!("aurum-recon load_items_csv, {}k lines", loaded.len() / 1000),
        ops: loaded.len() as u64,
        bytes: text.len() as u64,
        elapsed: start.elapsed(),
    };
    assert_eq!(loaded, book.statement, "CSV round trip");
    drop((loaded, text));

    let baseline = duckdb_baseline(dir.path());
    println!();
    match &baseline {
        Ok(b) => {
            let base = Measurement {
                name: format!("DuckDB {} SQL joins", b.version),
                ops: items,
                bytes: 0,
                elapsed: Duration::from_secs_f64(b.match_secs),
            };
            print_row(&base);
            print_comparison(&subject, &base);
        }
        Err(why) => {
            println!("{:<58} n/a ({why})", "DuckDB SQL joins");
            print_row(&subject);
        }
    }
    print_row(&load);
    let secs = |all: &[f64]| all.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(" / ");
    println!(
        "\naurum-recon: best {:.3} s ({:.2}M items/s; runs {} s); DuckDB: {}",
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64() / 1e6,
        secs(&runs),
        baseline.as_ref().map_or("n/a".to_string(), |b| format!(
            "best {:.3} s ({:.2}M items/s; runs {} s); DuckDB time / aurum-recon time = {:.2}",
            b.match_secs,
            items as f64 / b.match_secs / 1e6,
            secs(&b.runs),
            b.match_secs / elapsed.as_secs_f64()
        )),
    );

    let matched_ledger: usize = outcome.matches.iter().map(|m| m.ledger.len()).sum();
    println!("\nmatches {} (ledger items matched {matched_ledger}); breaks by class:", outcome.matches.len());
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &outcome.matches {
        *by_rule.entry(&*m.rule).or_default() += 1;
    }
    let found = outcome.counts();
    println!("  {:<22} {:>9} {:>9} {:>9}", "class", "injected", "found", "DuckDB");
    for class in BreakClass::ALL {
        let duck = baseline.as_ref().ok().and_then(|b| b.counts.get(class.as_str())).map_or("-".into(), u64::to_string);
        println!("  {:<22} {:>9} {:>9} {:>9}", class.as_str(), book.expected[&class], found[&class], duck);
    }
    println!("  matches by rule: {by_rule:?}");
    if let Ok(b) = &baseline {
        println!("  DuckDB matched ledger items: {}", b.matched_ledger);
    }
    for class in BreakClass::ALL {
        let (want, got) = (book.expected[&class], found[&class]);
        // Random data can make a handful of accidental pairs; anything more is a regression.
        assert!(got.abs_diff(want) <= want / 100 + 2, "{}: injected {want}, found {got}", class.as_str());
    }
}
