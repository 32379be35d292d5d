//! Exact decimal values. A value is a decimal *string* from the source to the consumer: it is
//! validated here and passed through unchanged, never parsed into a float. A JSON *number* is
//! accepted only when its literal is short enough that no writer could have produced it by
//! printing a float with excess digits (≤ [`MAX_JSON_NUMBER_SIGNIFICANT_DIGITS`]), and is then
//! rewritten as a plain decimal string (`1.5e3` → `"1500"`) — digit for digit, no rounding.

/// Most significant digits a decimal string may carry (what a 128-bit decimal holds exactly).
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;

/// Most significant digits a JSON number literal may carry. An IEEE-754 double round-trips every
/// decimal of 15 significant digits, so a literal within this is exactly what any JSON writer on
/// the way (JavaScript included) meant; a longer one may already have been rounded.
pub const MAX_JSON_NUMBER_SIGNIFICANT_DIGITS: usize = 15;

/// Longest decimal string accepted, sign and point included. Bounds the work on hostile input
/// (`"0.000…0001"` has one significant digit but may be megabytes long).
pub const MAX_DECIMAL_CHARS: usize = 80;

/// Largest exponent magnitude accepted in a JSON number literal (`1e999999` would expand to a
/// million digits).
pub const MAX_JSON_EXPONENT: i64 = 40;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Empty string.
    #[error("empty decimal")]
    Empty,
    /// Longer than [`MAX_DECIMAL_CHARS`].
    #[error("decimal of {len} characters exceeds the limit of {MAX_DECIMAL_CHARS}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Not `-?digits(.digits)?`.
    #[error("{0:?} is not a plain decimal (expected an optional '-', digits, and optionally '.' and digits)")]
    Syntax(String),
    /// More significant digits than a decimal string may carry.
    #[error("{input:?} has {digits} significant digits; the limit is {MAX_SIGNIFICANT_DIGITS}")]
    TooManyDigits {
        /// The input.
        input: String,
        /// Its significant digits.
        digits: usize,
    },
    /// A JSON number whose literal is too long to be known exact.
    #[error(
        "JSON number {literal} has {digits} significant digits; a number may carry at most \
         {MAX_JSON_NUMBER_SIGNIFICANT_DIGITS} to be exact (serve it as a string)"
    )]
    InexactNumber {
        /// The literal as served.
        literal: String,
        /// Its significant digits.
        digits: usize,
    },
    /// A JSON number literal that is not valid JSON or whose exponent is out of range.
    #[error("JSON number {0} is malformed or its exponent is beyond ±{MAX_JSON_EXPONENT}")]
    BadNumber(String),
}

/// Validate a decimal string: optional `-`, digits, optional `.` and digits, at most
/// [`MAX_SIGNIFICANT_DIGITS`] significant digits. Returns it unchanged.
pub fn validate_decimal(input: &str) -> Result<&str, DecimalError> {
    if input.is_empty() {
        return Err(DecimalError::Empty);
    }
    if input.len() > MAX_DECIMAL_CHARS {
        return Err(DecimalError::TooLong { len: input.len() });
    }
    let unsigned = input.strip_prefix('-').unwrap_or(input);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(DecimalError::Syntax(input.to_string()));
    }
    let digits = significant_digits(int, frac.unwrap_or(""));
    if digits > MAX_SIGNIFICANT_DIGITS {
        return Err(DecimalError::TooManyDigits { input: input.to_string(), digits });
    }
    Ok(input)
}

/// Significant digits of a decimal split at its point: from the first non-zero digit to the last
/// digit written (trailing zeros count: the source chose to write them).
fn significant_digits(int: &str, frac: &str) -> usize {
    let all = int.bytes().chain(frac.bytes());
    let leading_zeros = all.clone().take_while(|&b| b == b'0').count();
    let total = int.len() + frac.len();
    if leading_zeros == total { 1 } else { total - leading_zeros }
}

/// Turn a JSON number literal (as written in the payload) into a plain decimal string, exactly,
/// refusing literals with more than [`MAX_JSON_NUMBER_SIGNIFICANT_DIGITS`] significant digits.
pub fn json_number_to_decimal(literal: &str) -> Result<String, DecimalError> {
    let bad = || DecimalError::BadNumber(literal.to_string());
    if literal.len() > MAX_DECIMAL_CHARS {
        return Err(bad());
    }
    let (negative, unsigned) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exp_text = &unsigned[at + 1..];
            let exp_digits = exp_text.strip_prefix(['+', '-']).unwrap_or(exp_text);
            if exp_digits.is_empty() || !exp_digits.bytes().all(|b| b.is_ascii_digit()) || exp_digits.len() > 4 {
                return Err(bad());
            }
            let exponent: i64 = exp_text.parse().map_err(|_| bad())?;
            (&unsigned[..at], exponent)
        }
        None => (unsigned, 0),
    };
    if exponent.abs() > MAX_JSON_EXPONENT {
        return Err(bad());
    }
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits_only(int) || !digits_only(frac) || (mantissa.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    let digits = significant_digits(int, frac);
    if digits > MAX_JSON_NUMBER_SIGNIFICANT_DIGITS {
        return Err(DecimalError::InexactNumber { literal: literal.to_string(), digits });
    }
    // All digits, with the point moved by the exponent: value = 0.<all> × 10^(point).
    let all: String = format!("{int}{frac}");
    let point = int.len() as i64 + exponent;
    let (int_part, frac_part) = if point <= 0 {
        (String::from("0"), format!("{}{}", "0".repeat(point.unsigned_abs() as usize), all))
    } else if point as usize >= all.len() {
        (format!("{all}{}", "0".repeat(point as usize - all.len())), String::new())
    } else {
        let (i, f) = all.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    // Leading zeros of the integer part are layout, not digits ("0012" is never produced).
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    // Fraction zeros introduced by a negative exponent are kept only up to the written digits;
    // trailing zeros the source wrote ("2650.10") are kept, as in a string.
    let mut out = String::with_capacity(int_part.len() + frac_part.len() + 2);
    if negative {
        out.push('-');
    }
    out.push_str(int_part);
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(&frac_part);
    }
    validate_decimal(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_pass_through_unchanged() {
        for ok in ["2650.12", "-1.5", "0", "-0", "007", "0.000000000000000000000000000000000000001", "2650.120"] {
            assert_eq!(validate_decimal(ok), Ok(ok), "{ok}");
        }
        let max = "9".repeat(MAX_SIGNIFICANT_DIGITS);
        assert!(validate_decimal(&max).is_ok());
        let over = "9".repeat(MAX_SIGNIFICANT_DIGITS + 1);
        assert!(matches!(validate_decimal(&over), Err(DecimalError::TooManyDigits { digits: 39, .. })));
    }

    #[test]
    fn malformed_strings_are_refused() {
        for bad in ["", "+1", "1.", ".5", "1e3", "1,5", " 1", "1 ", "--1", "1.2.3", "NaN", "0x10", "١٢"] {
            assert!(validate_decimal(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(validate_decimal(&"0".repeat(100)), Err(DecimalError::TooLong { len: 100 })));
    }

    #[test]
    fn numbers_convert_exactly() {
        let cases = [
            ("2650.12", "2650.12"),
            ("-1.5", "-1.5"),
            ("0", "0"),
            ("1500", "1500"),
            ("1.5e3", "1500"),
            ("1.5E+3", "1500"),
            ("25e-3", "0.025"),
            ("2.5e-2", "0.025"),
            ("2650.10", "2650.10"),
            ("123456789012345", "123456789012345"),
            ("0.000123456789012345", "0.000123456789012345"),
        ];
        for (literal, want) in cases {
            assert_eq!(json_number_to_decimal(literal).as_deref(), Ok(want), "{literal}");
        }
    }

    #[test]
    fn long_numbers_are_refused_not_rounded() {
        for literal in ["0.30000000000000004", "2650.12000000000000001", "1234567890123456", "12345678901234567890"] {
            assert!(matches!(json_number_to_decimal(literal), Err(DecimalError::InexactNumber { .. })), "{literal}");
        }
        for literal in ["1e999", "1e", "1.e3", ".5", "--1", "1.5e3.2", "0x1"] {
            assert!(matches!(json_number_to_decimal(literal), Err(DecimalError::BadNumber(_))), "{literal}");
        }
    }
}
