//! Printing results: a human table or JSON, and errors as one line.

use std::error::Error;

/// `outer: inner: innermost`, without repeating a cause already contained in its parent's text.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

/// Print a JSON value on one line.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// Render bytes for humans: UTF-8 when printable, hex otherwise.
pub fn show_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => format!("0x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
}

/// A journal timestamp (ns since the Unix epoch) as RFC 3339 UTC with milliseconds.
pub fn format_ns(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let millis = (ns / 1_000_000) % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_as_rfc3339() {
        assert_eq!(format_ns(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ns(1_700_000_000_123_000_000), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ns(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn shows_bytes_readably() {
        assert_eq!(show_bytes(b"abc"), "abc");
        assert_eq!(show_bytes(&[0, 255]), "0x00ff");
    }
}
