//! The record a three-way reconciliation run leaves in the platform's log (`recon.runs`), for
//! consumers that want reconciliations over time: the lakehouse turns it into the `recon_findings`
//! and `bars` tables.
//!
//! One record per run, keyed by chain id, holding the run's position (chain, block, journal
//! sequence, bar list digest), every finding and every bar as counted. Amounts are integers of
//! base units written as decimal strings (exact in any JSON reader): token base units (18
//! decimals) for findings, thousandths of a troy ounce for bars.

use serde::{Deserialize, Serialize};

use crate::barlist::BarList;
use crate::threeway::ThreeWay;

/// The topic of run records.
pub const RUNS_TOPIC: &str = "recon.runs";
/// Decimal places of a finding's amounts (token base units).
pub const FINDING_SCALE: u8 = 18;
/// Decimal places of a bar's weights (thousandths of a troy ounce).
pub const BAR_WEIGHT_SCALE: u8 = 3;

/// One run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When the run was made, ns since the epoch.
    pub generated_at_ns: u64,
    /// Chain id.
    pub chain_id: u64,
    /// The final block reconciled.
    pub block: u64,
    /// The token contract.
    pub token: String,
    /// The ledger's journal sequence at the run.
    pub journal_seq: u64,
    /// The bar list's file name.
    pub bar_list_file: String,
    /// The bar list's SHA-256, hex.
    pub bar_list_sha256: String,
    /// Findings that are breaks.
    pub breaks: u64,
    /// Every finding, breaks first.
    pub findings: Vec<FindingRecord>,
    /// Every bar of the list, in file order.
    pub bars: Vec<BarRecord>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The class's stable code.
    pub class: String,
    /// What it is about.
    pub subject: String,
    /// What one side says, token base units.
    pub expected_units: String,
    /// What the other side says, token base units.
    pub found_units: String,
    /// A normal state of the business, not a break.
    pub explained: bool,
    /// For the analyst.
    pub explanation: String,
}

/// One bar, as listed and as counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarRecord {
    /// Line in the bar list.
    pub line: u64,
    /// Brand or refiner.
    pub refiner: String,
    /// Serial.
    pub serial: String,
    /// Year of manufacture.
    pub year: u16,
    /// Vault.
    pub vault: String,
    /// Gross weight, thousandths of a troy ounce.
    pub gross_milli_oz: String,
    /// Fineness in tenths of a part per thousand (`999.9` → 9999).
    pub assay: u32,
    /// Fine weight as stated, thousandths of a troy ounce.
    pub fine_milli_oz: String,
    /// Fine weight by gross × assay, rounded down, thousandths of a troy ounce.
    pub expected_fine_milli_oz: String,
    /// Status code.
    pub status: String,
    /// Owner or program.
    pub allocation: String,
    /// Counted as backing the token.
    pub backing: bool,
}

impl RunRecord {
    /// The record of a run over `bars`.
    pub fn of(result: &ThreeWay, bars: &BarList, generated_at_ns: u64) -> RunRecord {
        let backing: std::collections::HashMap<usize, bool> = result.bars.iter().map(|b| (b.line, b.backing)).collect();
        RunRecord {
            generated_at_ns,
            chain_id: result.chain_id,
            block: result.block,
            token: result.token.clone(),
            journal_seq: result.journal_seq,
            bar_list_file: result.bar_list_file.clone(),
            bar_list_sha256: result.bar_list_sha256.clone(),
            breaks: result.summary.breaks as u64,
            findings: result
                .findings
                .iter()
                .map(|f| FindingRecord {
                    class: f.class.as_str().to_string(),
                    subject: f.subject.clone(),
                    expected_units: f.expected.to_string(),
                    found_units: f.found.to_string(),
                    explained: f.explained,
                    explanation: f.explanation.clone(),
                })
                .collect(),
            bars: bars
                .bars
                .iter()
                .map(|b| BarRecord {
                    line: b.line as u64,
                    refiner: b.refiner.clone(),
                    serial: b.serial.clone(),
                    year: b.year,
                    vault: b.vault.clone(),
                    gross_milli_oz: b.gross_milli_oz.to_string(),
                    assay: b.assay,
                    fine_milli_oz: b.fine_milli_oz.to_string(),
                    expected_fine_milli_oz: b.expected_fine_milli_oz().to_string(),
                    status: b.status.as_str().to_string(),
                    allocation: b.allocation.clone(),
                    backing: backing.get(&b.line).copied().unwrap_or(false),
                })
                .collect(),
        }
    }

    /// The record's value bytes (JSON).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("run records serialize")
    }
}
