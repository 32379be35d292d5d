//! LBMA-style bar lists: the custodian's statement of the bars in the vault.
//!
//! One record per bar: brand or refiner, serial number, year of manufacture, gross weight and fine weight in troy
//! ounces with 3 decimals, assay (fineness in parts per thousand, e.g. `999.9`), vault, status and allocation. A bar
//! is keyed by (refiner, serial, year, vault). Weights are integers of thousandths of an ounce inside; the fine
//! weight the custodian states is kept as stated (checking it against gross × assay is the reconciliation's job:
//! a wrong fine weight is a break on that bar, not a malformed file).
//!
//! Accepted as CSV (a header row names the columns, in any order) or JSON (an array of objects, or an object with a
//! `bars` array). A malformed file is refused with the line, the column and the reason (for JSON semantic errors:
//! the bar's index and field, with the line where the bar starts).

use std::fmt;

use aurum_ledger::decimal::{format_amount, parse_amount};
use sha2::{Digest, Sha256};

use crate::csv::{self, CsvError, Header};

/// Decimal places of bar weights (thousandths of a troy ounce).
pub const WEIGHT_SCALE: u8 = 3;
/// Decimal places of an assay (tenths of a part per thousand: `999.9`).
pub const ASSAY_SCALE: u8 = 1;
/// Most bars in one list.
pub const MAX_BARS: usize = 1_000_000;
/// Longest text field (refiner, serial, vault, allocation), in bytes.
pub const MAX_TEXT_BYTES: usize = 128;
/// Heaviest plausible bar, in thousandths of an ounce (a 400 oz good delivery bar is 350–430 oz; kilobars and
/// smaller are far below). Anything heavier is a typo, refused with its place.
pub const MAX_BAR_MILLI_OZ: u128 = 1_000_000;
/// Lowest and highest assay accepted, in tenths of a part per thousand (LBMA good delivery needs ≥ 995.0).
pub const ASSAY_RANGE: std::ops::RangeInclusive<u32> = 9_000..=10_000;
/// Years of manufacture accepted.
pub const YEAR_RANGE: std::ops::RangeInclusive<u16> = 1900..=2100;

/// The columns of a CSV bar list.
pub const COLUMNS: [&str; 9] =
    ["refiner", "serial", "year", "gross_oz", "assay", "fine_oz", "vault", "status", "allocation"];

/// Where a bar stands in the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BarStatus {
    /// In the vault, allocated to an owner or program: backs tokens.
    Allocated,
    /// In the vault, not allocated.
    Unallocated,
    /// Moving between vaults.
    InTransit,
    /// Delivered out of the vault.
    Withdrawn,
}

impl BarStatus {
    fn parse(s: &str) -> Option<BarStatus> {
        match s.trim().to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
            "allocated" => Some(BarStatus::Allocated),
            "unallocated" => Some(BarStatus::Unallocated),
            "in_transit" => Some(BarStatus::InTransit),
            "withdrawn" => Some(BarStatus::Withdrawn),
            _ => None,
        }
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            BarStatus::Allocated => "allocated",
            BarStatus::Unallocated => "unallocated",
            BarStatus::InTransit => "in_transit",
            BarStatus::Withdrawn => "withdrawn",
        }
    }
}

/// One bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Brand or refiner.
    pub refiner: String,
    /// Serial number as stamped.
    pub serial: String,
    /// Year of manufacture.
    pub year: u16,
    /// Gross weight, thousandths of a troy ounce.
    pub gross_milli_oz: u128,
    /// Fineness in tenths of a part per thousand (`999.9` → 9999).
    pub assay: u32,
    /// Fine weight as stated, thousandths of a troy ounce.
    pub fine_milli_oz: u128,
    /// Vault.
    pub vault: String,
    /// Status.
    pub status: BarStatus,
    /// Owner or program the bar is allocated to.
    pub allocation: String,
    /// Line of the file where the bar's record starts.
    pub line: usize,
}

/// The identity of a bar.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BarKey {
    /// Brand or refiner.
    pub refiner: String,
    /// Serial.
    pub serial: String,
    /// Year.
    pub year: u16,
    /// Vault.
    pub vault: String,
}

impl fmt::Display for BarKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}) in {}", self.refiner, self.serial, self.year, self.vault)
    }
}

impl Bar {
    /// The bar's key: (refiner, serial, year, vault).
    pub fn key(&self) -> BarKey {
        BarKey {
            refiner: self.refiner.clone(),
            serial: self.serial.clone(),
            year: self.year,
            vault: self.vault.clone(),
        }
    }

    /// The fine weight LBMA's rule gives: gross × assay, rounded down to 0.001 oz.
    pub fn expected_fine_milli_oz(&self) -> u128 {
        self.gross_milli_oz * u128::from(self.assay) / 10_000
    }
}

/// A parsed bar list and the digest of the exact bytes it came from (so a report can name the file it used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarList {
    /// The bars, in file order.
    pub bars: Vec<Bar>,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// Why a bar list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarListError {
    /// A CSV problem, located.
    #[error("bar list (CSV): {0}")]
    Csv(#[from] CsvError),
    /// A JSON syntax problem, located.
    #[error("bar list (JSON): line {line}, column {column}: {reason}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// A JSON bar with a bad field.
    #[error("bar list (JSON): bar {index} (starting on line {line}), field {field:?}: {reason}")]
    JsonField {
        /// 0-based index of the bar in the array.
        index: usize,
        /// Line where the bar's object starts.
        line: usize,
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Neither CSV nor JSON, or empty.
    #[error("bar list: {0}")]
    Format(String),
}

/// Parses a bar list, CSV or JSON (decided by the first non-blank character: `[` or `{` is JSON).
pub fn parse(bytes: &[u8]) -> Result<BarList, BarListError> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(bytes, e.valid_up_to());
        BarListError::Format(format!("line {line}, column {column}: the file is not UTF-8"))
    })?;
    let bars = match text.trim_start_matches('\u{feff}').trim_start().chars().next() {
        None => return Err(BarListError::Format("the file is empty".into())),
        Some('[' | '{') => parse_json(text)?,
        Some(_) => parse_csv(text)?,
    };
    Ok(BarList { bars, sha256 })
}

/// Reads and parses a bar list file.
pub fn read(path: &std::path::Path) -> Result<BarList, BarListError> {
    let bytes =
        std::fs::read(path).map_err(|e| BarListError::Format(format!("cannot read {}: {e}", path.display())))?;
    parse(&bytes)
}

fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = offset - before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, column)
}

/// Field parsers shared by both formats: each returns the reason a value is bad.
mod field {
    use super::*;

    pub fn text(s: &str, what: &str) -> Result<String, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err(format!("{what} is empty"));
        }
        if t.len() > MAX_TEXT_BYTES {
            return Err(format!("{what} is longer than {MAX_TEXT_BYTES} bytes"));
        }
        Ok(t.to_string())
    }

    pub fn year(s: &str) -> Result<u16, String> {
        let y: u16 = s.trim().parse().map_err(|_| format!("year {s:?} is not a whole number"))?;
        if !YEAR_RANGE.contains(&y) {
            return Err(format!("year {y} is outside {}–{}", YEAR_RANGE.start(), YEAR_RANGE.end()));
        }
        Ok(y)
    }

    pub fn weight(s: &str, what: &str) -> Result<u128, String> {
        let w = parse_amount(s.trim(), WEIGHT_SCALE).map_err(|e| format!("{what} {s:?}: {e}"))?;
        if w == 0 {
            return Err(format!("{what} is zero"));
        }
        if w > MAX_BAR_MILLI_OZ {
            return Err(format!(
                "{what} {} oz is heavier than any bar ({} oz)",
                format_amount(w, 3),
                format_amount(MAX_BAR_MILLI_OZ, 3)
            ));
        }
        Ok(w)
    }

    pub fn assay(s: &str) -> Result<u32, String> {
        let a = parse_amount(s.trim(), ASSAY_SCALE).map_err(|e| format!("assay {s:?}: {e}"))?;
        let a = u32::try_from(a).map_err(|_| format!("assay {s:?} is out of range"))?;
        if !ASSAY_RANGE.contains(&a) {
            return Err(format!(
                "assay {} is outside {}–{} parts per thousand",
                format_amount(u128::from(a), 1),
                format_amount(u128::from(*ASSAY_RANGE.start()), 1),
                format_amount(u128::from(*ASSAY_RANGE.end()), 1)
            ));
        }
        Ok(a)
    }

    pub fn status(s: &str) -> Result<BarStatus, String> {
        BarStatus::parse(s)
            .ok_or_else(|| format!("status {s:?} is not one of allocated, unallocated, in_transit, withdrawn"))
    }
}

fn parse_csv(text: &str) -> Result<Vec<Bar>, BarListError> {
    let records = csv::parse(text)?;
    let Some((head, rows)) = records.split_first() else {
        return Err(BarListError::Format("the file is empty".into()));
    };
    let header = Header::new(head, &COLUMNS)?;
    if rows.len() > MAX_BARS {
        return Err(BarListError::Format(format!("{} bars exceed the limit of {MAX_BARS}", rows.len())));
    }
    let mut bars = Vec::with_capacity(rows.len());
    for r in rows {
        header.check_width(r)?;
        let h = &header;
        bars.push(Bar {
            refiner: csv_field(h, r, "refiner", |s| field::text(s, "refiner"))?,
            serial: csv_field(h, r, "serial", |s| field::text(s, "serial"))?,
            year: csv_field(h, r, "year", field::year)?,
            gross_milli_oz: csv_field(h, r, "gross_oz", |s| field::weight(s, "gross weight"))?,
            assay: csv_field(h, r, "assay", field::assay)?,
            fine_milli_oz: csv_field(h, r, "fine_oz", |s| field::weight(s, "fine weight"))?,
            vault: csv_field(h, r, "vault", |s| field::text(s, "vault"))?,
            status: csv_field(h, r, "status", field::status)?,
            allocation: csv_field(h, r, "allocation", |s| field::text(s, "allocation"))?,
            line: r.line,
        });
    }
    Ok(bars)
}

/// Column `name` of CSV record `r`, parsed by `f`; a bad value is located at its field.
fn csv_field<T>(
    header: &Header,
    r: &csv::Record,
    name: &str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Result<T, CsvError> {
    let field = header.get(r, name)?;
    f(&field.text).map_err(|reason| CsvError { line: field.line, column: field.column, reason })
}

/// Field `name` of JSON bar `index` (starting on `line`), which must be a string, parsed by `f`.
fn json_field<T>(
    obj: &serde_json::Map<String, serde_json::Value>,
    index: usize,
    line: usize,
    name: &str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Result<T, BarListError> {
    let fail = |reason: String| BarListError::JsonField { index, line, field: name.into(), reason };
    // Every value is a string (weights and assays as decimal strings, exact); a number is refused, because a JSON
    // number may already have been rounded by whatever wrote it.
    let text = match obj.get(name) {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => {
            return Err(fail(format!("{n} is a JSON number; give a decimal string, \"{n}\"")));
        }
        Some(_) => return Err(fail("must be a string".into())),
        None => return Err(fail("is missing".into())),
    };
    f(text).map_err(fail)
}

fn parse_json(text: &str) -> Result<Vec<Bar>, BarListError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| BarListError::Json {
        line: e.line(),
        column: e.column(),
        reason: e.to_string().split(" at line").next().unwrap_or_default().to_string(),
    })?;
    let items = match &value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(o) => match o.get("bars") {
            Some(serde_json::Value::Array(items)) => items,
            _ => {
                return Err(BarListError::Format(
                    "a JSON bar list is an array of bars or an object with a \"bars\" array".into(),
                ));
            }
        },
        _ => return Err(BarListError::Format("a JSON bar list is an array of bars".into())),
    };
    if items.len() > MAX_BARS {
        return Err(BarListError::Format(format!("{} bars exceed the limit of {MAX_BARS}", items.len())));
    }
    let starts = object_start_lines(text, items.len());
    let mut bars = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let line = starts.get(index).copied().unwrap_or(1);
        let fail = |field: &str, reason: String| BarListError::JsonField { index, line, field: field.into(), reason };
        let Some(obj) = item.as_object() else { return Err(fail("(bar)", "a bar is a JSON object".into())) };
        for key in obj.keys() {
            if !COLUMNS.contains(&key.as_str()) {
                return Err(fail(key, format!("unknown field (expected: {})", COLUMNS.join(", "))));
            }
        }
        let o = obj;
        bars.push(Bar {
            refiner: json_field(o, index, line, "refiner", |s| field::text(s, "refiner"))?,
            serial: json_field(o, index, line, "serial", |s| field::text(s, "serial"))?,
            year: json_field(o, index, line, "year", field::year)?,
            gross_milli_oz: json_field(o, index, line, "gross_oz", |s| field::weight(s, "gross weight"))?,
            assay: json_field(o, index, line, "assay", field::assay)?,
            fine_milli_oz: json_field(o, index, line, "fine_oz", |s| field::weight(s, "fine weight"))?,
            vault: json_field(o, index, line, "vault", |s| field::text(s, "vault"))?,
            status: json_field(o, index, line, "status", field::status)?,
            allocation: json_field(o, index, line, "allocation", |s| field::text(s, "allocation"))?,
            line,
        });
    }
    Ok(bars)
}

/// The line on which each top-level object of the bars array starts (a light scan that skips strings), so errors
/// in a JSON bar can name a line.
fn object_start_lines(text: &str, expected: usize) -> Vec<usize> {
    let mut lines = Vec::with_capacity(expected);
    let (mut line, mut depth, mut in_string, mut escaped) = (1usize, 0usize, false, false);
    let mut array_depth = None;
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            if c == '\n' {
                line += 1;
            }
            continue;
        }
        match c {
            '\n' => line += 1,
            '"' => in_string = true,
            '[' => {
                depth += 1;
                if array_depth.is_none() {
                    array_depth = Some(depth);
                }
            }
            '{' => {
                if Some(depth) == array_depth {
                    lines.push(line);
                }
                depth += 1;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    lines
}

/// Writes bars as CSV in the column order of [`COLUMNS`] (weights with 3 decimals, exact).
pub fn to_csv(bars: &[Bar]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for b in bars {
        let row = [
            csv::quote(&b.refiner),
            csv::quote(&b.serial),
            b.year.to_string(),
            format_amount(b.gross_milli_oz, WEIGHT_SCALE),
            format_amount(u128::from(b.assay), ASSAY_SCALE),
            format_amount(b.fine_milli_oz, WEIGHT_SCALE),
            csv::quote(&b.vault),
            b.status.as_str().to_string(),
            csv::quote(&b.allocation),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation
Valcambi SA,VS-1,2024,400.125,999.9,400.084,LDN-1,allocated,Aurum Gold program
\"Metalor, SA\",MT-2,2022,395.662,999.5,395.464,LDN-1,allocated,Aurum Gold program
";

    #[test]
    fn csv_bars_parse_exactly() {
        let list = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(list.bars.len(), 2);
        let b = &list.bars[1];
        assert_eq!(
            (b.refiner.as_str(), b.year, b.gross_milli_oz, b.assay, b.fine_milli_oz),
            ("Metalor, SA", 2022, 395_662, 9_995, 395_464)
        );
        assert_eq!(b.line, 3);
        assert_eq!(b.expected_fine_milli_oz(), 395_464);
        assert_eq!(list.sha256, hex::encode(Sha256::digest(GOOD.as_bytes())));
        // Written back, it parses to the same bars.
        assert_eq!(
            parse(to_csv(&list.bars).as_bytes()).unwrap().bars.iter().map(Bar::key).collect::<Vec<_>>(),
            list.bars.iter().map(Bar::key).collect::<Vec<_>>()
        );
    }

    #[test]
    fn bad_csv_is_refused_with_line_column_and_reason() {
        let cases = [
            ("1,2,3", 1, "lacks the column"),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,20x4,1,999.9,1,L,allocated,A",
                2,
                "year",
            ),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,2024,400.1234,999.9,1,L,allocated,A",
                2,
                "gross weight",
            ),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,2024,400,899.9,1,L,allocated,A",
                2,
                "assay",
            ),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,2024,400,999.9,1,L,lost,A",
                2,
                "status",
            ),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,2024,400,999.9,1,L,allocated",
                2,
                "fields",
            ),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,,2024,400,999.9,1,L,allocated,A",
                2,
                "serial is empty",
            ),
            (
                "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,2024,4000.5,999.9,1,L,allocated,A",
                2,
                "heavier",
            ),
        ];
        for (text, line, reason) in cases {
            match parse(text.as_bytes()) {
                Err(BarListError::Csv(e)) => {
                    assert_eq!(e.line, line, "{text}: {e}");
                    assert!(e.to_string().contains(reason), "{text}: {e}");
                }
                other => panic!("{text}: expected a CSV error, got {other:?}"),
            }
        }
        // The column is the field's position.
        let Err(BarListError::Csv(e)) = parse(
            b"refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\nV,S,2024,400,999.9,0,L,allocated,A",
        ) else {
            panic!()
        };
        assert_eq!((e.line, e.column), (2, 6));
    }

    #[test]
    fn json_bars_parse_and_bad_json_is_located() {
        let json = r#"{"bars": [
  {"refiner": "PAMP SA", "serial": "PA-1", "year": "2023", "gross_oz": "398.470", "assay": "999.9",
   "fine_oz": "398.430", "vault": "LDN-1", "status": "allocated", "allocation": "Aurum Gold program"},
  {"refiner": "PAMP SA", "serial": "PA-2", "year": "2023", "gross_oz": 398.47, "assay": "999.9",
   "fine_oz": "398.430", "vault": "LDN-1", "status": "allocated", "allocation": "Aurum Gold program"}
]}"#;
        match parse(json.as_bytes()) {
            Err(BarListError::JsonField { index, line, field, reason }) => {
                assert_eq!((index, line, field.as_str()), (1, 4, "gross_oz"));
                assert!(reason.contains("decimal string"), "{reason}");
            }
            other => panic!("expected a field error, got {other:?}"),
        }
        let fixed = json.replace("398.47,", "\"398.470\",");
        let list = parse(fixed.as_bytes()).unwrap();
        assert_eq!(list.bars.len(), 2);
        assert_eq!(list.bars[1].line, 4);
        match parse(b"[\n {\"refiner\": \"x\",\n }\n]") {
            Err(BarListError::Json { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        match parse(br#"[{"refiner": "V", "serial": "S", "year": "2024", "gross_oz": "1", "assay": "999.9", "fine_oz": "1", "vault": "L", "status": "allocated", "allocation": "A", "colour": "yellow"}]"#) {
            Err(BarListError::JsonField { field, .. }) => assert_eq!(field, "colour"),
            other => panic!("expected an unknown-field error, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_binary_files_are_refused() {
        assert!(matches!(parse(b""), Err(BarListError::Format(_))));
        assert!(parse(b"refiner\n\xff\xfe").unwrap_err().to_string().contains("not UTF-8"));
    }
}
