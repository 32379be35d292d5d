//! Items from CSV: `id,date,amount,currency,reference,description[,kind]` (other columns are ignored). Amounts are
//! signed decimal strings with at most the currency's scale; more decimals is an error, never a rounding.

use std::collections::BTreeMap;

use aurum_ledger::decimal::{DecimalError, parse_amount};

use super::time::{TimestampError, parse_timestamp};
use super::{Item, ItemKind};
use crate::csv::{self, CsvError, Header};

/// Longest id, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest reference, in bytes (bounds the substring probes of `contains` rules).
pub const MAX_REFERENCE_BYTES: usize = 256;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

const REQUIRED: [&str; 6] = ["id", "date", "amount", "currency", "reference", "description"];

/// What is wrong with one field (or the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadErrorKind {
    /// The CSV itself is malformed.
    #[error("{0}")]
    Csv(String),
    /// The file has no header row.
    #[error("the file is empty: expected a header row ({})", REQUIRED.join(","))]
    Empty,
    /// An empty id.
    #[error("the id is empty")]
    EmptyId,
    /// A field longer than its limit.
    #[error("{column} is {len} bytes; at most {max}")]
    TooLong {
        /// Column name.
        column: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bad date.
    #[error("{0}")]
    Date(TimestampError),
    /// A currency the scales do not know.
    #[error("unknown currency {code:?} (known: {known})")]
    UnknownCurrency {
        /// The code given.
        code: String,
        /// The codes with a scale.
        known: String,
    },
    /// A bad amount (syntax, too precise, too large).
    #[error("{0}")]
    Amount(DecimalError),
    /// An amount beyond i128 once signed.
    #[error("amount {0:?} is too large")]
    AmountRange(String),
    /// A kind that is not payment, mint, burn, wipe or freeze.
    #[error("kind {0:?} is not payment, mint, burn, wipe or freeze")]
    Kind(String),
}

/// A CSV file that cannot be loaded, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct LoadError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (field number).
    pub column: usize,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

impl From<CsvError> for LoadError {
    fn from(e: CsvError) -> LoadError {
        LoadError { line: e.line, column: e.column, kind: LoadErrorKind::Csv(e.reason) }
    }
}

/// Parses a signed decimal amount of a currency with `scale` decimal places into base units.
pub(crate) fn parse_signed(text: &str, scale: u8) -> Result<i128, LoadErrorKind> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let units = parse_amount(digits, scale).map_err(LoadErrorKind::Amount)?;
    let units = i128::try_from(units).map_err(|_| LoadErrorKind::AmountRange(text.to_string()))?;
    Ok(if negative { -units } else { units })
}

/// Loads items from CSV text. `scales` maps each accepted currency code to its decimal places.
pub fn load_items_csv(text: &str, scales: &BTreeMap<String, u8>) -> Result<Vec<Item>, LoadError> {
    let records = csv::parse(text)?;
    let Some((head, rows)) = records.split_first() else {
        return Err(LoadError { line: 1, column: 1, kind: LoadErrorKind::Empty });
    };
    let header = Header::new(head, &REQUIRED)?;
    let has_kind = header.position("kind").is_some();
    let known = || scales.keys().cloned().collect::<Vec<_>>().join(", ");
    let mut items = Vec::with_capacity(rows.len());
    for record in rows {
        header.check_width(record)?;
        let field = |name: &str| header.get(record, name);
        let at = |f: &csv::Field, kind: LoadErrorKind| LoadError { line: f.line, column: f.column, kind };
        let limit = |f: &csv::Field, column: &'static str, max: usize| {
            if f.text.len() > max {
                Err(at(f, LoadErrorKind::TooLong { column, len: f.text.len(), max }))
            } else {
                Ok(())
            }
        };

        let id = field("id")?;
        limit(id, "id", MAX_ID_BYTES)?;
        if id.text.trim().is_empty() {
            return Err(at(id, LoadErrorKind::EmptyId));
        }
        let date = field("date")?;
        let at_secs = parse_timestamp(date.text.trim()).map_err(|e| at(date, LoadErrorKind::Date(e)))?;
        let currency = field("currency")?;
        let code = currency.text.trim();
        let Some(&scale) = scales.get(code) else {
            return Err(at(currency, LoadErrorKind::UnknownCurrency { code: code.to_string(), known: known() }));
        };
        let amount_field = field("amount")?;
        let amount = parse_signed(amount_field.text.trim(), scale).map_err(|k| at(amount_field, k))?;
        let reference = field("reference")?;
        limit(reference, "reference", MAX_REFERENCE_BYTES)?;
        let description = field("description")?;
        limit(description, "description", MAX_DESCRIPTION_BYTES)?;
        let kind = if has_kind {
            let f = field("kind")?;
            match f.text.trim() {
                "" => ItemKind::Payment,
                name => ItemKind::parse(name).ok_or_else(|| at(f, LoadErrorKind::Kind(name.to_string())))?,
            }
        } else {
            ItemKind::Payment
        };
        items.push(Item {
            id: id.text.trim().into(),
            at_secs,
            amount,
            currency: code.to_string(),
            reference: reference.text.clone(),
            description: description.text.clone(),
            kind,
        });
    }
    Ok(items)
}
