//! Cron schedules: the five fields of Vixie cron (minute, hour, day of month, month, day of
//! week), evaluated in UTC, plus the `@hourly`-style macros.
//!
//! A field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated list of
//! those; months and weekdays also take names (`JAN`, `MON`; Sunday is 0 or 7). As in Vixie
//! cron, when both the day of month and the day of week are restricted, a day matching either
//! fires. A schedule that can never fire (`0 0 30 2 *`) is refused when parsed.

use std::fmt;

/// Milliseconds in a minute.
const MINUTE_MS: i64 = 60_000;
/// How far ahead [`Cron::next_after`] looks: every schedule that can fire does so within any
/// 28-year window (the Gregorian calendar's weekday cycle, leap days included, within 400 years;
/// 29 February on a given weekday recurs within 28 years except across skipped century leap
/// years, hence the margin).
const SEARCH_YEARS: i64 = 60;

/// A bad cron expression: which field, what text, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cron {expr:?}: {reason}")]
pub struct CronError {
    /// The expression.
    pub expr: String,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// A parsed schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    expr: String,
    minutes: u64,  // bits 0..=59
    hours: u64,    // bits 0..=23
    days: u64,     // bits 1..=31
    months: u64,   // bits 1..=12
    weekdays: u64, // bits 0..=6, Sunday = 0
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.expr)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The first name's value (1 for months, 0 for weekdays).
    names_from: u32,
}

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59, names: &[], names_from: 0 },
    Field { name: "hour", min: 0, max: 23, names: &[], names_from: 0 },
    Field { name: "day of month", min: 1, max: 31, names: &[], names_from: 0 },
    Field { name: "month", min: 1, max: 12, names: &MONTHS, names_from: 1 },
    // 7 is Sunday too.
    Field { name: "day of week", min: 0, max: 7, names: &WEEKDAYS, names_from: 0 },
];

impl Cron {
    /// Parse a five-field expression or a macro (`@yearly`, `@annually`, `@monthly`, `@weekly`,
    /// `@daily`, `@midnight`, `@hourly`).
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let bad = |reason: String| CronError { expr: expr.to_string(), reason };
        let text = match expr.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            m if m.starts_with('@') => return Err(bad(format!("unknown macro {m:?}"))),
            other => other,
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(bad(format!(
                "{} fields; expected 5 (minute hour day-of-month month day-of-week)",
                parts.len()
            )));
        }
        let mut sets = [0u64; 5];
        for (i, (part, field)) in parts.iter().zip(&FIELDS).enumerate() {
            sets[i] = parse_field(part, field).map_err(|r| bad(format!("{} field {part:?}: {r}", field.name)))?;
        }
        // Day of week 7 is Sunday.
        if sets[4] & (1 << 7) != 0 {
            sets[4] = (sets[4] & !(1 << 7)) | 1;
        }
        let cron = Cron {
            expr: expr.trim().to_string(),
            minutes: sets[0],
            hours: sets[1],
            days: sets[2],
            months: sets[3],
            weekdays: sets[4],
            // As Vixie cron: a field that starts with `*` (`*`, `*/2`) does not restrict, so
            // `0 0 */2 * MON` is odd days that are Mondays, not odd days or Mondays.
            days_restricted: !parts[2].starts_with('*'),
            weekdays_restricted: !parts[4].starts_with('*'),
        };
        if cron.next_after(0).is_none() {
            return Err(bad("never fires (no such day in the months given)".into()));
        }
        Ok(cron)
    }

    /// The first fire time strictly after `after_ms` (ms since the epoch, UTC), on a minute
    /// boundary; `None` if there is none within the search window.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        // The next whole minute after `after_ms`.
        let mut minute = after_ms.div_euclid(MINUTE_MS) + 1;
        let limit = minute + SEARCH_YEARS * 366 * 24 * 60;
        while minute <= limit {
            let days = minute.div_euclid(24 * 60);
            let (year, month, day) = civil_from_days(days);
            if self.months & (1 << month) == 0 {
                // Jump to the first minute of the next month.
                let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                minute = days_from_civil(y, m, 1) * 24 * 60;
                continue;
            }
            if !self.day_matches(days, day) {
                minute = (days + 1) * 24 * 60;
                continue;
            }
            let in_day = minute.rem_euclid(24 * 60);
            let (hour, min) = (in_day / 60, in_day % 60);
            if self.hours & (1 << hour) == 0 {
                minute = days * 24 * 60 + (hour + 1) * 60;
                continue;
            }
            if self.minutes & (1 << min) == 0 {
                minute += 1;
                continue;
            }
            return Some(minute * MINUTE_MS);
        }
        None
    }

    fn day_matches(&self, days: i64, day: u32) -> bool {
        let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        let dom = self.days & (1 << day) != 0;
        let dow = self.weekdays & (1 << weekday) != 0;
        // Vixie cron: either day when both fields restrict, else both (a `*` field's set is full,
        // a `*/n` field's is not).
        if self.days_restricted && self.weekdays_restricted { dom || dow } else { dom && dow }
    }
}

fn parse_field(text: &str, f: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("step {s:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (f.min, if f.name == "day of week" { 6 } else { f.max })
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, f)?, value(b, f)?)
        } else {
            let v = value(range, f)?;
            // `5/15` means 5, 20, 35, 50: from the value to the end.
            (v, if item.contains('/') { f.max } else { v })
        };
        if lo > hi {
            return Err(format!("range {lo}-{hi} runs backwards"));
        }
        for v in (lo..=hi).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(text: &str, f: &Field) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = f.names.iter().position(|n| *n == upper) {
        return Ok(i as u32 + f.names_from);
    }
    let v: u32 = text.parse().map_err(|_| format!("{text:?} is not a number{}", names_hint(f)))?;
    if v < f.min || v > f.max {
        return Err(format!("{v} is outside {}..={}", f.min, f.max));
    }
    Ok(v)
}

fn names_hint(f: &Field) -> String {
    if f.names.is_empty() { String::new() } else { format!(" or one of {}", f.names.join(" ")) }
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` of ms since the epoch (for messages and the CLI).
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        (days_from_civil(y, mo, d) * 1440 + h * 60 + mi) * MINUTE_MS
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 365, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(format_utc(at(2026, 11, 26, 19, 46) + 31_000), "2026-11-26T19:46:31Z");
    }

    #[test]
    fn next_fire_times() {
        let t = at(2026, 11, 26, 19, 46);
        let next = |e: &str, from: i64| format_utc(Cron::parse(e).unwrap().next_after(from).unwrap());
        assert_eq!(next("* * * * *", t), "2026-11-26T19:47:00Z");
        assert_eq!(next("*/15 * * * *", t), "2026-11-26T20:00:00Z");
        assert_eq!(next("0 2 * * *", t), "2026-11-27T02:00:00Z");
        assert_eq!(next("@daily", t), "2026-11-27T00:00:00Z");
        assert_eq!(next("@hourly", t), "2026-11-26T20:00:00Z");
        assert_eq!(next("30 9 * * MON-FRI", t), "2026-11-27T09:30:00Z"); // a Friday
        assert_eq!(next("30 9 * * sat", t), "2026-11-28T09:30:00Z");
        assert_eq!(next("0 0 1 JAN *", t), "2027-01-01T00:00:00Z");
        assert_eq!(next("0 0 29 2 *", t), "2028-02-29T00:00:00Z");
        assert_eq!(next("5/20 * * * *", t), "2026-11-26T20:05:00Z");
        assert_eq!(next("0 12 1,15 * *", t), "2026-12-01T12:00:00Z");
        // Both day fields restricted: either matches (the 13th, or any Friday).
        assert_eq!(next("0 0 13 * 5", t), "2026-11-27T00:00:00Z");
        assert_eq!(next("0 0 * * 7", t), "2026-11-29T00:00:00Z"); // 7 is Sunday
        // A stepped `*` restricts nothing for the either-day rule: odd days that are Mondays.
        assert_eq!(next("0 0 */2 * MON", t), "2026-12-07T00:00:00Z");
        // Strictly after: a time on a fire time gives the next one.
        assert_eq!(next("0 2 * * *", at(2026, 11, 27, 2, 0)), "2026-11-28T02:00:00Z");
    }

    #[test]
    fn bad_expressions_say_which_field_and_why() {
        for (e, says) in [
            ("* * * *", "4 fields"),
            ("60 * * * *", "minute field \"60\": 60 is outside 0..=59"),
            ("* 24 * * *", "hour field"),
            ("* * 0 * *", "day of month field"),
            ("* * * FOO *", "JAN FEB"),
            ("*/0 * * * *", "a step of 0"),
            ("5-1 * * * *", "runs backwards"),
            ("0 0 30 2 *", "never fires"),
            ("@sometimes", "unknown macro"),
        ] {
            let err = Cron::parse(e).unwrap_err().to_string();
            assert!(err.contains(says), "{e}: {err}");
        }
    }
}
