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
