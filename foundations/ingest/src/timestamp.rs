//! A source's own timestamp, in the format the source serves, to unix milliseconds. Parsed from
//! the text as written (integer arithmetic only); digits below a millisecond are truncated, because
//! an observation is timed in milliseconds.

use serde::{Deserialize, Serialize};

/// How a source writes its timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// Seconds since the Unix epoch, a number or a string, optionally with a fraction (`1700000000.25`).
    UnixSeconds,
    /// Milliseconds since the Unix epoch, a number or a string.
    #[default]
    UnixMillis,
    /// An RFC 3339 string: `2024-11-05T14:30:00Z`, `2024-11-05T14:30:00.123+05:30`.
    Rfc3339,
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not in the configured format.
    #[error("{input:?} is not a {format:?} timestamp")]
    Syntax {
        /// The text as served.
        input: String,
        /// The configured format.
        format: TimestampFormat,
    },
    /// Outside what unix milliseconds in an i64 (and years 0000–9999) can express.
    #[error("timestamp {0:?} is out of range")]
    OutOfRange(String),
}

impl TimestampFormat {
    /// Parse `text` (a JSON number literal or the content of a JSON string) to unix milliseconds.
    pub fn parse_ms(self, text: &str) -> Result<i64, TimestampError> {
        let syntax = || TimestampError::Syntax { input: text.to_string(), format: self };
        match self {
            Self::UnixSeconds => parse_unix(text, 1000).ok_or_else(syntax)?,
            Self::UnixMillis => parse_unix(text, 1).ok_or_else(syntax)?,
            Self::Rfc3339 => parse_rfc3339(text).ok_or_else(syntax)?,
        }
    }
}

/// Longest timestamp text looked at (an RFC 3339 string with nanoseconds and an offset is 35).
const MAX_TIMESTAMP_CHARS: usize = 64;

/// `-?digits(.digits)?` in units of `1/ms_per_unit` ms; `None` on a syntax error.
fn parse_unix(text: &str, ms_per_unit: i64) -> Option<Result<i64, TimestampError>> {
    if text.len() > MAX_TIMESTAMP_CHARS {
        return None;
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (unsigned.contains('.') && frac.is_empty()) {
        return None;
    }
    let range = || TimestampError::OutOfRange(text.to_string());
    let whole: i64 = match int.parse::<i64>() {
        Ok(v) => v,
        Err(_) => return Some(Err(range())),
    };
    // The fraction's first digits that still count in milliseconds (3 for seconds, 0 for ms).
    let frac_digits = if ms_per_unit == 1000 { 3 } else { 0 };
    let mut frac_ms: i64 = 0;
    for i in 0..frac_digits {
        let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        frac_ms = frac_ms * 10 + d;
    }
    let ms = whole.checked_mul(ms_per_unit).and_then(|v| v.checked_add(frac_ms));
    Some(match ms {
        Some(v) if negative => Ok(-v),
        Some(v) => Ok(v),
        None => Err(range()),
    })
}

/// RFC 3339 `date-time` (with `T`, `t` or a space between date and time; `Z`, `z` or `±HH:MM`).
fn parse_rfc3339(text: &str) -> Option<Result<i64, TimestampError>> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > MAX_TIMESTAMP_CHARS {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        for i in 0..3 {
            let d = if start + i < at { i64::from(b[start + i] - b'0') } else { 0 };
            millis = millis * 10 + d;
        }
    }
    let offset_minutes = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let (oh, om) = (num(at + 1..at + 3)?, num(at + 4..at + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    // Second 60 is a leap second: unix time has none, so it reads as the next second's start.
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(
        seconds
            .checked_mul(1000)
            .and_then(|v| v.checked_add(millis))
            .ok_or(TimestampError::OutOfRange(text.to_string())),
    )
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_formats() {
        assert_eq!(TimestampFormat::UnixMillis.parse_ms("1700000000123"), Ok(1_700_000_000_123));
        assert_eq!(TimestampFormat::UnixSeconds.parse_ms("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(TimestampFormat::UnixSeconds.parse_ms("1700000000.25"), Ok(1_700_000_000_250));
        assert_eq!(TimestampFormat::UnixSeconds.parse_ms("1700000000.123999"), Ok(1_700_000_000_123));
        assert_eq!(TimestampFormat::UnixSeconds.parse_ms("-1.5"), Ok(-1500));
        for bad in ["", "abc", "1.", ".5", "1e9", "+5", " 1"] {
            assert!(TimestampFormat::UnixSeconds.parse_ms(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            TimestampFormat::UnixSeconds.parse_ms("99999999999999999"),
            Err(TimestampError::OutOfRange(_))
        ));
    }

    #[test]
    fn rfc3339() {
        let p = |s| TimestampFormat::Rfc3339.parse_ms(s);
        assert_eq!(p("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(p("2024-11-05T14:30:00Z"), Ok(1_730_817_000_000));
        assert_eq!(p("2024-11-05T14:30:00.123456Z"), Ok(1_730_817_000_123));
        assert_eq!(p("2024-11-05T20:00:00+05:30"), Ok(1_730_817_000_000));
        assert_eq!(p("2024-11-05t14:30:00.1z"), Ok(1_730_817_000_100));
        assert_eq!(p("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
        for bad in [
            "2024-11-05T14:30:00",
            "2024-11-05 14:30Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-11-05T24:00:00Z",
            "2024-11-05T14:30:00.Z",
            "2024-11-05T14:30:00+0530",
            "2024-11-05T14:30:00Zjunk",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
