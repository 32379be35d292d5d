//! A small RFC 4180 CSV reader that keeps positions: every field knows its line and column, so a bad file is
//! rejected with the line, the column and the reason. Quoted fields may hold commas, doubled quotes and line
//! breaks; a header row names the columns.

/// Most bytes of a CSV input accepted (larger files are refused, not truncated).
pub const MAX_CSV_BYTES: usize = 1 << 30;
/// Most fields in one record.
pub const MAX_FIELDS: usize = 256;

/// A CSV error, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct CsvError {
    /// 1-based line of the input.
    pub line: usize,
    /// 1-based column (field number) in the record.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// One field and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The unquoted text.
    pub text: String,
    /// 1-based line where the field starts.
    pub line: usize,
    /// 1-based column (field number).
    pub column: usize,
}

/// A record: its fields, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line where the record starts.
    pub line: usize,
    /// The fields, in order.
    pub fields: Vec<Field>,
}

/// Parses `input` into records (the header included, as the first record). Blank lines are skipped. A trailing
/// line break is optional; `\r\n` and `\n` both end a record.
pub fn parse(input: &str) -> Result<Vec<Record>, CsvError> {
    if input.len() > MAX_CSV_BYTES {
        return Err(CsvError {
            line: 1,
            column: 1,
            reason: format!("input of {} bytes exceeds {MAX_CSV_BYTES}", input.len()),
        });
    }
    let input = input.strip_prefix('\u{feff}').unwrap_or(input); // a UTF-8 byte order mark
    let mut records = Vec::new();
    let mut chars = input.chars().peekable();
    let mut line = 1usize;
    loop {
        // Skip blank lines between records.
        while let Some(&c) = chars.peek() {
            if c == '\n' {
                line += 1;
                chars.next();
            } else if c == '\r' {
                chars.next();
            } else {
                break;
            }
        }
        if chars.peek().is_none() {
            return Ok(records);
        }
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            let column = fields.len() + 1;
            if column > MAX_FIELDS {
                return Err(CsvError { line, column, reason: format!("more than {MAX_FIELDS} fields") });
            }
            let field_line = line;
            let mut text = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => {
                            return Err(CsvError {
                                line: field_line,
                                column,
                                reason: "unterminated quoted field".into(),
                            });
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            text.push('"');
                        }
                        Some('"') => break,
                        Some('\n') => {
                            line += 1;
                            text.push('\n');
                        }
                        Some(c) => text.push(c),
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(c) => {
                        return Err(CsvError {
                            line,
                            column,
                            reason: format!("unexpected {c:?} after a closing quote"),
                        });
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' || c == '\r' {
                        break;
                    }
                    if c == '"' {
                        return Err(CsvError { line, column, reason: "a quote inside an unquoted field".into() });
                    }
                    text.push(c);
                    chars.next();
                }
            }
            fields.push(Field { text, line: field_line, column });
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                None => break,
                Some(c) => unreachable!("field loop stops only at a separator, got {c:?}"),
            }
        }
        records.push(Record { line: start_line, fields });
    }
}

/// `field` as a CSV field: quoted (with doubled quotes) when it holds a comma, a quote or a line break.
pub fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A header row mapped to column positions, for reading records by column name.
#[derive(Debug, Clone)]
pub struct Header {
    names: Vec<String>,
}

impl Header {
    /// Reads the header (names are trimmed and lower-cased); `required` columns must all be present, once.
    pub fn new(record: &Record, required: &[&str]) -> Result<Header, CsvError> {
        let names: Vec<String> = record.fields.iter().map(|f| f.text.trim().to_ascii_lowercase()).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(CsvError {
                    line: record.line,
                    column: i + 1,
                    reason: format!("column {name:?} appears twice"),
                });
            }
        }
        for want in required {
            if !names.iter().any(|n| n == want) {
                return Err(CsvError {
                    line: record.line,
                    column: names.len() + 1,
                    reason: format!("the header lacks the column {want:?} (it has: {})", names.join(", ")),
                });
            }
        }
        Ok(Header { names })
    }

    /// The column position of `name`, if present.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the header has no columns.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The field of `record` in column `name` (which must be a column of the header), or an error naming the
    /// record's line if the record is short.
    pub fn get<'r>(&self, record: &'r Record, name: &str) -> Result<&'r Field, CsvError> {
        let pos = self.position(name).expect("asked for a column the header does not have");
        record.fields.get(pos).ok_or_else(|| CsvError {
            line: record.line,
            column: pos + 1,
            reason: format!("the record has {} fields; column {name:?} is missing", record.fields.len()),
        })
    }

    /// Checks that `record` has exactly one field per column.
    pub fn check_width(&self, record: &Record) -> Result<(), CsvError> {
        if record.fields.len() != self.names.len() {
            return Err(CsvError {
                line: record.line,
                column: record.fields.len().min(self.names.len()) + 1,
                reason: format!("the record has {} fields, the header {}", record.fields.len(), self.names.len()),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(r: &Record) -> Vec<&str> {
        r.fields.iter().map(|f| f.text.as_str()).collect()
    }

    #[test]
    fn quoted_fields_commas_quotes_and_line_breaks() {
        let rs = parse("a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n\n2,\"two\nlines\",3").unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(texts(&rs[1]), ["1", "x, y", "say \"hi\""]);
        assert_eq!(rs[2].line, 4);
        assert_eq!(texts(&rs[2]), ["2", "two\nlines", "3"]);
        assert_eq!(rs[2].fields[2].line, 5);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("a,b\n1,\"open").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        assert!(e.reason.contains("unterminated"));
        let e = parse("a,b\n1,x\"y").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        let e = parse("a,b\n1,\"x\"y").unwrap_err();
        assert!(e.reason.contains("after a closing quote"), "{e}");
    }

    #[test]
    fn header_requires_columns_and_checks_width() {
        let rs = parse("Serial,Vault\nA1,LDN\nA2").unwrap();
        let h = Header::new(&rs[0], &["serial", "vault"]).unwrap();
        assert_eq!(h.get(&rs[1], "vault").unwrap().text, "LDN");
        let e = h.check_width(&rs[2]).unwrap_err();
        assert_eq!((e.line, e.column), (3, 2));
        let e = Header::new(&rs[0], &["refiner"]).unwrap_err();
        assert!(e.reason.contains("\"refiner\""), "{e}");
        let e = Header::new(&parse("a,A").unwrap()[0], &[]).unwrap_err();
        assert!(e.reason.contains("twice"), "{e}");
    }
}
