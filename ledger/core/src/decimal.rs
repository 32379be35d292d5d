//! Decimal strings at the edges, base units inside. `"12.345"` of an asset with scale 3 is
//! 12345 base units; `"12.3456"` is rejected (more precision than the asset has), never rounded.

use crate::types::{Amount, MAX_SCALE};

/// Longest decimal string accepted (a u128 has 39 digits, plus a point).
pub const MAX_DECIMAL_CHARS: usize = 41;

/// Why a decimal string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Empty input.
    #[error("amount is empty")]
    Empty,
    /// Longer than [`MAX_DECIMAL_CHARS`].
    #[error("amount has more than {MAX_DECIMAL_CHARS} characters")]
    TooLong,
    /// A character that is not a digit or a single decimal point (signs and exponents included).
    #[error("amount {0:?} is not a plain decimal: use digits with at most one '.', no sign or exponent")]
    Syntax(String),
    /// More decimal places than the asset's scale.
    #[error("amount {input:?} has {places} decimal places; the asset allows {scale}")]
    TooPrecise {
        /// The input.
        input: String,
        /// Its decimal places.
        places: usize,
        /// The asset's scale.
        scale: u8,
    },
    /// Larger than a u128 of base units.
    #[error("amount {0:?} is too large")]
    Overflow(String),
    /// The scale itself is invalid.
    #[error("scale {0} exceeds the maximum of {MAX_SCALE}")]
    Scale(u8),
}

/// Parse a non-negative decimal string into base units of an asset with `scale` decimal places.
/// Accepts `"12"`, `"12.5"`, `"0.001"`, `"12.500"` (trailing zeros within the scale); rejects
/// signs, exponents, separators, whitespace, `".5"`, `"5."` and excess precision.
pub fn parse_amount(input: &str, scale: u8) -> Result<Amount, DecimalError> {
    if scale > MAX_SCALE {
        return Err(DecimalError::Scale(scale));
    }
    if input.is_empty() {
        return Err(DecimalError::Empty);
    }
    if input.len() > MAX_DECIMAL_CHARS {
        return Err(DecimalError::TooLong);
    }
    let (int, frac) = match input.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (input, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(DecimalError::Syntax(input.to_string()));
    }
    let frac = frac.unwrap_or("");
    if frac.len() > usize::from(scale) {
        return Err(DecimalError::TooPrecise { input: input.to_string(), places: frac.len(), scale });
    }
    let overflow = || DecimalError::Overflow(input.to_string());
    let mut value: u128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        value = value.checked_mul(10).and_then(|v| v.checked_add(u128::from(b - b'0'))).ok_or_else(overflow)?;
    }
    for _ in frac.len()..usize::from(scale) {
        value = value.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(value)
}

/// Format base units as a decimal string with exactly `scale` decimal places.
pub fn format_amount(amount: Amount, scale: u8) -> String {
    assert!(scale <= MAX_SCALE, "scale {scale} above MAX_SCALE");
    let digits = amount.to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{int}.{frac}")
}

/// Format a signed balance (base units) with `scale` decimal places.
pub fn format_signed(amount: i128, scale: u8) -> String {
    let s = format_amount(amount.unsigned_abs(), scale);
    if amount < 0 { format!("-{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_exactly() {
        assert_eq!(parse_amount("12.345", 3), Ok(12_345));
        assert_eq!(parse_amount("12.3", 3), Ok(12_300));
        assert_eq!(parse_amount("12", 3), Ok(12_000));
        assert_eq!(parse_amount("0.001", 3), Ok(1));
        assert_eq!(parse_amount("7", 0), Ok(7));
        assert_eq!(format_amount(12_345, 3), "12.345");
        assert_eq!(format_amount(1, 3), "0.001");
        assert_eq!(format_amount(0, 2), "0.00");
        assert_eq!(format_amount(7, 0), "7");
        assert_eq!(format_signed(-1_050, 2), "-10.50");
        let max = u128::MAX.to_string();
        assert_eq!(parse_amount(&max, 0), Ok(u128::MAX));
        assert_eq!(format_amount(u128::MAX, 18).replace('.', ""), max);
    }

    #[test]
    fn rejects_what_it_cannot_represent_exactly() {
        assert!(matches!(parse_amount("12.3456", 3), Err(DecimalError::TooPrecise { places: 4, .. })));
        for bad in ["", "-1", "+1", "1e3", " 1", "1 ", "1,000", ".5", "5.", "1.2.3", "0x10", "NaN"] {
            assert!(parse_amount(bad, 3).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(parse_amount(&format!("{}0", u128::MAX), 0), Err(DecimalError::Overflow(_))));
        assert!(matches!(parse_amount("1", 19), Err(DecimalError::Scale(19))));
        assert!(matches!(parse_amount(&"9".repeat(39), 18), Err(DecimalError::Overflow(_))));
    }

    #[test]
    fn round_trips_every_scale() {
        for scale in 0..=MAX_SCALE {
            for v in [0u128, 1, 9, 10, 123_456_789, u128::MAX / 7] {
                assert_eq!(parse_amount(&format_amount(v, scale), scale), Ok(v));
            }
        }
    }
}
