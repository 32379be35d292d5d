//! Values as PostgreSQL's text formats: COPY rows (tab-separated, `\N` for NULL, backslash
//! escapes) and timestamps. Everything the projection writes goes through here as text, so no
//! binary encoding of numeric, timestamptz or jsonb is needed and amounts stay exact strings.

use std::fmt::Write as _;

/// A buffer of COPY text-format rows.
#[derive(Debug, Default)]
pub struct CopyRows {
    buf: String,
    rows: usize,
    in_row: bool,
}

impl CopyRows {
    /// Append a field to the current row.
    pub fn field(&mut self, value: &str) -> &mut Self {
        self.sep();
        for c in value.chars() {
            match c {
                '\\' => self.buf.push_str("\\\\"),
                '\t' => self.buf.push_str("\\t"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
        self
    }

    /// Append a field that needs no escaping (a number, a fixed word).
    pub fn plain(&mut self, value: impl std::fmt::Display) -> &mut Self {
        self.sep();
        write!(self.buf, "{value}").expect("writing to a String cannot fail");
        self
    }

    /// Append a NULL field.
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.push_str("\\N");
        self
    }

    /// Append `Some(v)` as a plain field, `None` as NULL.
    pub fn opt(&mut self, value: Option<impl std::fmt::Display>) -> &mut Self {
        match value {
            Some(v) => self.plain(v),
            None => self.null(),
        }
    }

    /// End the current row.
    pub fn end(&mut self) {
        debug_assert!(self.in_row, "a COPY row needs at least one field");
        self.buf.push('\n');
        self.rows += 1;
        self.in_row = false;
    }

    fn sep(&mut self) {
        if self.in_row {
            self.buf.push('\t');
        }
        self.in_row = true;
    }

    /// Rows ended so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows, as COPY's input.
    pub fn as_bytes(&self) -> &[u8] {
        debug_assert!(!self.in_row, "an unfinished COPY row");
        self.buf.as_bytes()
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// A ledger timestamp (ns since the epoch) as a timestamptz literal with microseconds, UTC.
pub fn timestamptz(ts_ns: u64) -> String {
    let (y, m, d) = civil_from_days((ts_ns / NS_PER_DAY) as i64);
    let in_day = ts_ns % NS_PER_DAY;
    let secs = in_day / 1_000_000_000;
    let micros = (in_day % 1_000_000_000) / 1_000;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}+00", secs / 3_600, secs / 60 % 60, secs % 60)
}

/// The `dim_date` key (yyyymmdd) of a ledger timestamp, UTC.
pub fn date_key(ts_ns: u64) -> i64 {
    let (y, m, d) = civil_from_days((ts_ns / NS_PER_DAY) as i64);
    y * 10_000 + i64::from(m) * 100 + i64::from(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_escaped_and_nulls_marked() {
        let mut rows = CopyRows::default();
        rows.plain(1).field("a\tb\\c\nd\re").null().opt(None::<u8>).opt(Some("x"));
        rows.end();
        rows.plain(2);
        rows.end();
        assert_eq!(std::str::from_utf8(rows.as_bytes()).unwrap(), "1\ta\\tb\\\\c\\nd\\re\t\\N\t\\N\tx\n2\n");
        assert_eq!(rows.rows(), 2);
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
        // 2026-11-26T13:24:05.123456789Z
        let ts = 20_783 * NS_PER_DAY + (13 * 3_600 + 24 * 60 + 5) * 1_000_000_000 + 123_456_789;
        assert_eq!(timestamptz(ts), "2026-11-26 13:24:05.123456+00");
        assert_eq!(date_key(ts), 20_261_126);
    }
}
