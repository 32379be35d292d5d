//! Timestamps at the edges: RFC 3339 (`2026-11-02T10:15:00Z`, `…+01:00`, fractional seconds dropped) or a bare
//! date (`2026-11-02`, midnight UTC) in, unix seconds inside, RFC 3339 in UTC out (for explanations).

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an RFC 3339 timestamp or a YYYY-MM-DD date: {reason}")]
pub struct TimestampError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const SECS_PER_DAY: i64 = 86_400;

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

/// The date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (if month <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `digits` ASCII digits at `at` of `b`.
fn number(b: &[u8], at: usize, digits: usize) -> Option<i64> {
    let field = b.get(at..at + digits)?;
    field.iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
}

/// Parses an RFC 3339 timestamp or a `YYYY-MM-DD` date into unix seconds (UTC). A leap second (`:60`) counts as
/// `:59`; fractional seconds are dropped (the engine works in whole seconds).
pub fn parse_timestamp(input: &str) -> Result<i64, TimestampError> {
    let fail = |reason| TimestampError { input: input.to_string(), reason };
    let b = input.as_bytes();
    let (Some(year), Some(month), Some(day)) = (number(b, 0, 4), number(b, 5, 2), number(b, 8, 2)) else {
        return Err(fail("expected YYYY-MM-DD at the start"));
    };
    if b[4] != b'-' || b[7] != b'-' {
        return Err(fail("expected YYYY-MM-DD at the start"));
    }
    if !(1..=12).contains(&month) {
        return Err(fail("month out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(fail("day out of range for the month"));
    }
    let date_secs = days_from_civil(year, month, day) * SECS_PER_DAY;
    if b.len() == 10 {
        return Ok(date_secs);
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err(fail("expected 'T' between date and time"));
    }
    let (Some(hour), Some(minute), Some(second)) = (number(b, 11, 2), number(b, 14, 2), number(b, 17, 2)) else {
        return Err(fail("expected HH:MM:SS after the date"));
    };
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err(fail("expected HH:MM:SS after the date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(fail("time of day out of range"));
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(fail("expected digits after the decimal point"));
        }
        at += digits;
    }
    let offset_secs = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == at + 6 && b[at + 3] == b':' => {
            let (Some(oh), Some(om)) = (number(b, at + 1, 2), number(b, at + 4, 2)) else {
                return Err(fail("bad UTC offset"));
            };
            if oh > 23 || om > 59 {
                return Err(fail("UTC offset out of range"));
            }
            let magnitude = oh * 3600 + om * 60;
            if sign == b'+' { magnitude } else { -magnitude }
        }
        _ => return Err(fail("expected 'Z' or a ±HH:MM offset at the end")),
    };
    Ok(date_secs + hour * 3600 + minute * 60 + second.min(59) - offset_secs)
}

/// Formats unix seconds as RFC 3339 in UTC, e.g. `2026-11-02T10:15:00Z`.
pub fn format_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(SECS_PER_DAY);
    let rem = secs.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// A duration in words for explanations: `3d 4h`, `5m 2s`, `0s`.
pub(crate) fn format_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() { "0s".to_string() } else { parts.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_rfc3339() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("2000-03-01T00:00:00Z"), Ok(951_868_800));
        assert_eq!(parse_timestamp("2026-11-02T10:15:30Z"), parse_timestamp("2026-11-02T11:15:30+01:00"));
        assert_eq!(parse_timestamp("2026-11-02t10:15:30.999z"), parse_timestamp("2026-11-02T10:15:30Z"));
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Ok(-1));
        assert_eq!(parse_timestamp("2024-02-29"), Ok(days_from_civil(2024, 2, 29) * 86_400));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-1-01",
            "2026-01-01T10:00Z",
            "2026-01-01T10:00:00",
            "2026-01-01T24:00:00Z",
            "2026-01-01T10:00:00+1:00",
            "2026-01-01T10:00:00.Z",
            "2026-01-01x",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats_round_trip() {
        for secs in [0i64, 1, -1, 951_868_800, 1_793_000_123, -86_400 * 400] {
            assert_eq!(parse_timestamp(&format_timestamp(secs)), Ok(secs), "{secs}");
        }
        assert_eq!(format_timestamp(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3600 + 5), "3d 4h 5s");
    }
}
