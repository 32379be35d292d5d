//! `CsvReplaySource`: historical rows from a CSV file (RFC 4180: a header row, `,` separators,
//! `"`-quoted fields with `""` for a quote and line breaks allowed inside quotes; `\n` or `\r\n`
//! line ends; a UTF-8 BOM is ignored). Each row becomes a payload: a JSON object of column name →
//! field text, so the same [`crate::FieldMap`] pointers address it (`"/price"`). Values stay text
//! from file to observation. A malformed row is skipped and counted; the replay ends at the end of
//! the file.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::clock::BoxFuture;
use crate::error::SourceError;
use crate::source::{PayloadStream, StreamSource};

/// Longest record (row) accepted, in bytes; a longer one (or an unterminated quote) ends the replay.
pub const MAX_CSV_RECORD_BYTES: usize = 64 << 10;
/// Most columns accepted.
pub const MAX_CSV_COLUMNS: usize = 256;

/// Replays a CSV file.
#[derive(Debug)]
pub struct CsvReplaySource {
    path: PathBuf,
    target: String,
}

impl CsvReplaySource {
    /// A replay of the file at `path` (opened when the runner starts it).
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        CsvReplaySource { target: path.display().to_string(), path }
    }

    async fn open(&self) -> Result<Box<dyn PayloadStream>, SourceError> {
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| SourceError::Connect { target: self.target.clone(), reason: e.to_string() })?;
        let mut reader = Records { reader: BufReader::new(file), target: self.target.clone(), line: 1 };
        let header = loop {
            match reader.next_record().await? {
                None => return Err(reader.file_error("no header row".into())),
                Some((_, fields)) if fields.len() == 1 && fields[0].is_empty() => continue,
                Some((_, fields)) => break fields,
            }
        };
        let mut header = header;
        if let Some(first) = header.first_mut()
            && let Some(rest) = first.strip_prefix('\u{feff}')
        {
            *first = rest.to_string();
        }
        let mut seen = std::collections::BTreeSet::new();
        for name in &header {
            if !seen.insert(name.as_str()) {
                return Err(reader.file_error(format!("column {name:?} appears twice in the header")));
            }
        }
        Ok(Box::new(CsvStream { records: reader, header }))
    }
}

impl StreamSource for CsvReplaySource {
    fn target(&self) -> &str {
        &self.target
    }

    fn is_finite(&self) -> bool {
        true
    }

    fn connect(&mut self) -> BoxFuture<'_, Result<Box<dyn PayloadStream>, SourceError>> {
        Box::pin(self.open())
    }
}

struct Records {
    reader: BufReader<tokio::fs::File>,
    target: String,
    /// The line the next record starts on (1-based).
    line: u64,
}

impl Records {
    fn file_error(&self, reason: String) -> SourceError {
        SourceError::CsvFile { target: self.target.clone(), reason }
    }

    /// The next record and the line it starts on; `Err` for what ends the replay (I/O, a record
    /// beyond the limit, an unterminated quote), `Ok(Some((line, Err)))`-like row problems are
    /// reported by [`parse_record`] to the caller.
    async fn next_raw(&mut self) -> Result<Option<(u64, String)>, SourceError> {
        let start_line = self.line;
        let mut buf = Vec::new();
        loop {
            let room = (MAX_CSV_RECORD_BYTES + 1).saturating_sub(buf.len()) as u64;
            let n = (&mut self.reader)
                .take(room)
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| self.file_error(format!("line {}: {e}", self.line)))?;
            if buf.len() > MAX_CSV_RECORD_BYTES {
                return Err(self.file_error(format!(
                    "line {start_line}: record exceeds the limit of {MAX_CSV_RECORD_BYTES} bytes (or a quote is never closed)"
                )));
            }
            if n == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if quotes_open(&buf) {
                    return Err(self.file_error(format!("line {start_line}: quote never closed")));
                }
                break;
            }
            if buf.ends_with(b"\n") {
                self.line += 1;
                // A line break inside quotes belongs to the field: read on.
                if !quotes_open(&buf) {
                    break;
                }
            }
        }
        while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            buf.pop();
        }
        let text = String::from_utf8(buf).map_err(|_| self.file_error(format!("line {start_line}: not UTF-8")))?;
        Ok(Some((start_line, text)))
    }

    async fn next_record(&mut self) -> Result<Option<(u64, Vec<String>)>, SourceError> {
        match self.next_raw().await? {
            None => Ok(None),
            Some((line, text)) => parse_record(&text)
                .map(|fields| Some((line, fields)))
                .map_err(|reason| self.file_error(format!("line {line}: {reason}"))),
        }
    }
}

/// Whether `buf` ends inside a quoted field: with `""` as the escaped quote, the count of quotes
/// is odd exactly then.
fn quotes_open(buf: &[u8]) -> bool {
    buf.iter().filter(|&&b| b == b'"').count() % 2 == 1
}

/// Split one record into fields.
fn parse_record(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    let mut after_closing_quote = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                    after_closing_quote = true;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut field));
                if fields.len() > MAX_CSV_COLUMNS {
                    return Err(format!("more than {MAX_CSV_COLUMNS} columns"));
                }
                at_field_start = true;
                after_closing_quote = false;
            }
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => return Err("a quote inside an unquoted field".into()),
            _ if after_closing_quote => return Err("text after a closing quote".into()),
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("quote never closed".into());
    }
    fields.push(field);
    Ok(fields)
}

struct CsvStream {
    records: Records,
    header: Vec<String>,
}

impl CsvStream {
    async fn read(&mut self) -> Option<Result<String, SourceError>> {
        loop {
            let (line, text) = match self.records.next_raw().await {
                Ok(Some(raw)) => raw,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            if text.is_empty() {
                continue;
            }
            let row_error = |reason: String| SourceError::CsvRow { target: self.records.target.clone(), line, reason };
            let fields = match parse_record(&text) {
                Ok(fields) => fields,
                Err(reason) => return Some(Err(row_error(reason))),
            };
            if fields.len() != self.header.len() {
                return Some(Err(row_error(format!("{} fields, the header has {}", fields.len(), self.header.len()))));
            }
            let row: serde_json::Map<String, serde_json::Value> =
                self.header.iter().cloned().zip(fields.into_iter().map(serde_json::Value::String)).collect();
            return Some(Ok(serde_json::Value::Object(row).to_string()));
        }
    }
}

impl PayloadStream for CsvStream {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<String, SourceError>>> {
        Box::pin(self.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_with_quotes() {
        assert_eq!(parse_record("a,b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(parse_record(r#""a,1","say ""hi""","""#).unwrap(), ["a,1", "say \"hi\"", ""]);
        assert_eq!(parse_record("\"line\nbreak\",x").unwrap(), ["line\nbreak", "x"]);
        assert_eq!(parse_record(",").unwrap(), ["", ""]);
        assert!(parse_record(r#"a"b"#).is_err());
        assert!(parse_record(r#""a"b"#).is_err());
        assert!(parse_record(r#""open"#).is_err());
    }
}
