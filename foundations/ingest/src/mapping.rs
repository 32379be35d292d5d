//! Field mapping: a payload (JSON text) → observations. A payload is taken whole or not at all:
//! if any element of it fails to map, none of it is emitted, because a source that lies about one
//! row cannot be trusted about its neighbours in the same response.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::decimal::{self, DecimalError};
use crate::json::{self, Kind};
use crate::observation::Observation;
use crate::timestamp::{TimestampError, TimestampFormat};

/// Longest symbol accepted.
pub const MAX_SYMBOL_CHARS: usize = 64;
/// Longest event text accepted.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest signature accepted (hex characters, an optional `0x` included).
pub const MAX_SIGNATURE_CHARS: usize = 1024;

/// Where one field of an observation comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Field {
    /// An RFC 6901 JSON pointer into the payload element (`"/price"`, `"/data/0/p"`; CSV columns
    /// are keys of a row object: `"/price"`).
    Pointer(String),
    /// A constant, e.g. the symbol of a source that serves one instrument.
    Fixed(String),
}

impl Field {
    /// A pointer field.
    pub fn pointer(p: impl Into<String>) -> Self {
        Field::Pointer(p.into())
    }

    /// A constant field.
    pub fn fixed(v: impl Into<String>) -> Self {
        Field::Fixed(v.into())
    }
}

/// How a payload maps to observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// Pointer to the array of observations inside the payload. Without it, a payload that is an
    /// array is taken element by element, and any other payload is one observation.
    #[serde(default)]
    pub items: Option<String>,
    /// The symbol (required).
    pub symbol: Field,
    /// The value (an exact decimal); `None` for pure events. When mapped, it is required unless
    /// `value_optional`.
    #[serde(default)]
    pub value: Option<Field>,
    /// A mapped value that is missing or null yields `None` instead of an error (a stream that
    /// mixes valued observations with pure events). Off by default: a price source that stops
    /// sending its price must fail loudly.
    #[serde(default)]
    pub value_optional: bool,
    /// Free text of an event; when mapped, a missing or null text is `None`.
    #[serde(default)]
    pub text: Option<Field>,
    /// The source's timestamp (required).
    pub timestamp: Field,
    /// How the timestamp is written.
    #[serde(default)]
    pub timestamp_format: TimestampFormat,
    /// The signature (hex); when mapped, it is required.
    #[serde(default)]
    pub signature: Option<Field>,
}

/// Which field of the map failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldName {
    /// The items array.
    Items,
    /// [`FieldMap::symbol`].
    Symbol,
    /// [`FieldMap::value`].
    Value,
    /// [`FieldMap::text`].
    Text,
    /// [`FieldMap::timestamp`].
    Timestamp,
    /// [`FieldMap::signature`].
    Signature,
}

impl std::fmt::Display for FieldName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FieldName::Items => "items",
            FieldName::Symbol => "symbol",
            FieldName::Value => "value",
            FieldName::Text => "text",
            FieldName::Timestamp => "timestamp",
            FieldName::Signature => "signature",
        })
    }
}

/// Why a payload did not map. `pointer` is absolute within the payload (`/data/3/price`), or
/// `"(fixed)"` for a constant field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The payload is not JSON (or a container on a pointer's path is malformed or has a duplicate key).
    #[error("payload is not valid JSON at {pointer:?}: {reason}")]
    Json {
        /// Where.
        pointer: String,
        /// The parser's message.
        reason: String,
    },
    /// A required field is absent or null.
    #[error("field {field} at pointer {pointer:?} is missing")]
    Missing {
        /// Which field.
        field: FieldName,
        /// Where it was looked for.
        pointer: String,
    },
    /// A field has the wrong JSON type.
    #[error("field {field} at pointer {pointer:?} is {found}, expected {expected}")]
    WrongType {
        /// Which field.
        field: FieldName,
        /// Where.
        pointer: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// The value is not an exact decimal.
    #[error("field value at pointer {pointer:?}: {source}")]
    Value {
        /// Where.
        pointer: String,
        /// What is wrong with it.
        source: DecimalError,
    },
    /// The timestamp does not parse.
    #[error("field timestamp at pointer {pointer:?}: {source}")]
    Timestamp {
        /// Where.
        pointer: String,
        /// What is wrong with it.
        source: TimestampError,
    },
    /// A string field breaks its rule (length, characters).
    #[error("field {field} at pointer {pointer:?}: {reason}")]
    Invalid {
        /// Which field.
        field: FieldName,
        /// Where.
        pointer: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a field map is unusable (found when a source is built, never while running).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldMapError {
    /// A pointer that is not RFC 6901.
    #[error(
        "field {field}: {pointer:?} is not a JSON pointer (RFC 6901: empty, or '/'-separated tokens, '~' only as ~0 or ~1)"
    )]
    BadPointer {
        /// Which field.
        field: FieldName,
        /// The pointer.
        pointer: String,
    },
    /// A constant that would fail the field's own rule.
    #[error("field {field}: fixed value {value:?} is invalid: {reason}")]
    BadFixed {
        /// Which field.
        field: FieldName,
        /// The constant.
        value: String,
        /// Why.
        reason: String,
    },
}

const FIXED: &str = "(fixed)";

impl FieldMap {
    /// A map with a symbol and a timestamp (unix ms); add the rest with the builder methods.
    pub fn new(symbol: Field, timestamp: Field) -> Self {
        FieldMap {
            items: None,
            symbol,
            value: None,
            value_optional: false,
            text: None,
            timestamp,
            timestamp_format: TimestampFormat::UnixMillis,
            signature: None,
        }
    }

    /// With the observations under `pointer` (an array).
    pub fn items(mut self, pointer: impl Into<String>) -> Self {
        self.items = Some(pointer.into());
        self
    }

    /// With a value field.
    pub fn value(mut self, field: Field) -> Self {
        self.value = Some(field);
        self
    }

    /// With a value that may be absent (see [`FieldMap::value_optional`]).
    pub fn optional_value(mut self, field: Field) -> Self {
        self.value = Some(field);
        self.value_optional = true;
        self
    }

    /// With a text field.
    pub fn text(mut self, field: Field) -> Self {
        self.text = Some(field);
        self
    }

    /// With a signature field.
    pub fn signature(mut self, field: Field) -> Self {
        self.signature = Some(field);
        self
    }

    /// With a timestamp format.
    pub fn timestamp_format(mut self, format: TimestampFormat) -> Self {
        self.timestamp_format = format;
        self
    }

    /// Check every pointer's syntax and every constant against its field's rule.
    pub fn validate(&self) -> Result<(), FieldMapError> {
        if let Some(p) = &self.items
            && !json::is_valid_pointer(p)
        {
            return Err(FieldMapError::BadPointer { field: FieldName::Items, pointer: p.clone() });
        }
        let fields = [
            (FieldName::Symbol, Some(&self.symbol)),
            (FieldName::Value, self.value.as_ref()),
            (FieldName::Text, self.text.as_ref()),
            (FieldName::Timestamp, Some(&self.timestamp)),
            (FieldName::Signature, self.signature.as_ref()),
        ];
        for (name, field) in fields {
            match field {
                Some(Field::Pointer(p)) if !json::is_valid_pointer(p) => {
                    return Err(FieldMapError::BadPointer { field: name, pointer: p.clone() });
                }
                Some(Field::Fixed(v)) => {
                    let bad = |reason: String| FieldMapError::BadFixed { field: name, value: v.clone(), reason };
                    match name {
                        FieldName::Value => {
                            decimal::validate_decimal(v).map_err(|e| bad(e.to_string()))?;
                        }
                        FieldName::Timestamp => {
                            self.timestamp_format.parse_ms(v).map_err(|e| bad(e.to_string()))?;
                        }
                        _ => check_string(name, v).map_err(bad)?,
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Map a payload (JSON text) to observations of `source`, all or none.
    pub fn apply(&self, payload: &str, source: &str, received_at_ms: i64) -> Result<Vec<Observation>, MappingError> {
        let json_err = |pointer: &str, e: serde_json::Error| MappingError::Json {
            pointer: pointer.to_string(),
            reason: e.to_string(),
        };
        let doc = json::parse_document(payload).map_err(|e| json_err("", e))?;
        let (base, items) = match &self.items {
            Some(p) => {
                let array = json::resolve(doc, p)
                    .map_err(|e| json_err(p, e))?
                    .ok_or_else(|| MappingError::Missing { field: FieldName::Items, pointer: p.clone() })?;
                if Kind::of(array) != Kind::Array {
                    return Err(MappingError::WrongType {
                        field: FieldName::Items,
                        pointer: p.clone(),
                        expected: "an array",
                        found: Kind::of(array).name(),
                    });
                }
                (p.as_str(), json::elements(array).map_err(|e| json_err(p, e))?)
            }
            None if Kind::of(doc) == Kind::Array => ("", json::elements(doc).map_err(|e| json_err("", e))?),
            None => return Ok(vec![self.map_item(doc, None, source, received_at_ms)?]),
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| self.map_item(item, Some(format!("{base}/{i}")), source, received_at_ms))
            .collect()
    }

    fn map_item(
        &self,
        item: &RawValue,
        prefix: Option<String>,
        source: &str,
        received_at_ms: i64,
    ) -> Result<Observation, MappingError> {
        let at = Item { raw: item, prefix: prefix.as_deref().unwrap_or("") };
        let symbol =
            at.string(FieldName::Symbol, &self.symbol)?.ok_or_else(|| at.missing(FieldName::Symbol, &self.symbol))?;
        let value = match &self.value {
            Some(field) => at.value(field, self.value_optional)?,
            None => None,
        };
        let text = match &self.text {
            Some(field) => at.string(FieldName::Text, field)?,
            None => None,
        };
        let observed_at_ms = at.timestamp(&self.timestamp, self.timestamp_format)?;
        let signature = match &self.signature {
            Some(field) => {
                Some(at.string(FieldName::Signature, field)?.ok_or_else(|| at.missing(FieldName::Signature, field))?)
            }
            None => None,
        };
        Ok(Observation { source: source.to_string(), symbol, value, text, observed_at_ms, received_at_ms, signature })
    }
}

/// One element being mapped, with the pointer prefix that locates it in the payload.
struct Item<'a> {
    raw: &'a RawValue,
    prefix: &'a str,
}

/// A looked-up field: its literal (a JSON value) or a constant.
enum Found<'a> {
    Raw(&'a RawValue),
    Fixed(&'a str),
}

impl<'a> Item<'a> {
    fn location(&self, field: &Field) -> String {
        match field {
            Field::Pointer(p) => format!("{}{p}", self.prefix),
            Field::Fixed(_) => FIXED.to_string(),
        }
    }

    fn missing(&self, name: FieldName, field: &Field) -> MappingError {
        MappingError::Missing { field: name, pointer: self.location(field) }
    }

    /// The field's value; `None` when absent or null.
    fn lookup<'f>(&self, field: &'f Field) -> Result<Option<Found<'f>>, MappingError>
    where
        'a: 'f,
    {
        match field {
            Field::Fixed(v) => Ok(Some(Found::Fixed(v))),
            Field::Pointer(p) => {
                let raw = json::resolve(self.raw, p)
                    .map_err(|e| MappingError::Json { pointer: self.location(field), reason: e.to_string() })?;
                Ok(raw.filter(|r| Kind::of(r) != Kind::Null).map(Found::Raw))
            }
        }
    }

    /// A string field; `None` when absent or null.
    fn string(&self, name: FieldName, field: &Field) -> Result<Option<String>, MappingError> {
        let text = match self.lookup(field)? {
            None => return Ok(None),
            Some(Found::Fixed(v)) => v.to_string(),
            Some(Found::Raw(raw)) => {
                if Kind::of(raw) != Kind::String {
                    return Err(MappingError::WrongType {
                        field: name,
                        pointer: self.location(field),
                        expected: "a string",
                        found: Kind::of(raw).name(),
                    });
                }
                json::string_content(raw)
                    .map_err(|e| MappingError::Json { pointer: self.location(field), reason: e.to_string() })?
            }
        };
        check_string(name, &text).map_err(|reason| MappingError::Invalid {
            field: name,
            pointer: self.location(field),
            reason,
        })?;
        Ok(Some(text))
    }

    /// The value: a decimal string as is, or a short-enough number literal as a decimal string;
    /// `None` only when absent and `optional`.
    fn value(&self, field: &Field, optional: bool) -> Result<Option<String>, MappingError> {
        let invalid = |source| MappingError::Value { pointer: self.location(field), source };
        let found = match self.lookup(field)? {
            Some(found) => found,
            None if optional => return Ok(None),
            None => return Err(self.missing(FieldName::Value, field)),
        };
        let value = match found {
            Found::Fixed(v) => Ok(decimal::validate_decimal(v).map_err(invalid)?.to_string()),
            Found::Raw(raw) => match Kind::of(raw) {
                Kind::Number => decimal::json_number_to_decimal(raw.get()).map_err(invalid),
                Kind::String => {
                    let s = json::string_content(raw)
                        .map_err(|e| MappingError::Json { pointer: self.location(field), reason: e.to_string() })?;
                    decimal::validate_decimal(&s).map_err(invalid)?;
                    Ok(s)
                }
                other => Err(MappingError::WrongType {
                    field: FieldName::Value,
                    pointer: self.location(field),
                    expected: "a decimal string or a number",
                    found: other.name(),
                }),
            },
        };
        value.map(Some)
    }

    fn timestamp(&self, field: &Field, format: TimestampFormat) -> Result<i64, MappingError> {
        let invalid = |source| MappingError::Timestamp { pointer: self.location(field), source };
        let text = match self.lookup(field)?.ok_or_else(|| self.missing(FieldName::Timestamp, field))? {
            Found::Fixed(v) => v.to_string(),
            Found::Raw(raw) => match Kind::of(raw) {
                Kind::Number if format != TimestampFormat::Rfc3339 => raw.get().to_string(),
                Kind::String => json::string_content(raw)
                    .map_err(|e| MappingError::Json { pointer: self.location(field), reason: e.to_string() })?,
                other => {
                    return Err(MappingError::WrongType {
                        field: FieldName::Timestamp,
                        pointer: self.location(field),
                        expected: if format == TimestampFormat::Rfc3339 { "a string" } else { "a number or a string" },
                        found: other.name(),
                    });
                }
            },
        };
        format.parse_ms(&text).map_err(invalid)
    }
}

/// The rule of each string field: non-empty symbol without control characters, bounded lengths,
/// hex signatures.
fn check_string(name: FieldName, s: &str) -> Result<(), String> {
    let chars = s.chars().count();
    match name {
        FieldName::Symbol => {
            if s.is_empty() || chars > MAX_SYMBOL_CHARS || s.chars().any(char::is_control) {
                return Err(format!("a symbol must be 1 to {MAX_SYMBOL_CHARS} characters without control characters"));
            }
        }
        FieldName::Text => {
            if chars > MAX_TEXT_CHARS {
                return Err(format!("text of {chars} characters exceeds the limit of {MAX_TEXT_CHARS}"));
            }
        }
        FieldName::Signature => {
            let hex = s.strip_prefix("0x").unwrap_or(s);
            if s.len() > MAX_SIGNATURE_CHARS || hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "a signature must be 1 to {MAX_SIGNATURE_CHARS} hex characters (optionally 0x-prefixed)"
                ));
            }
        }
        FieldName::Items | FieldName::Value | FieldName::Timestamp => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price_map() -> FieldMap {
        FieldMap::new(Field::fixed("XAU/USD"), Field::pointer("/ts"))
            .value(Field::pointer("/price"))
            .signature(Field::pointer("/sig"))
    }

    #[test]
    fn one_object_maps_to_one_observation() {
        let obs = price_map().apply(r#"{"price": "2650.12", "ts": 1700000000000, "sig": "abCD01"}"#, "s", 7).unwrap();
        assert_eq!(
            obs,
            vec![Observation {
                source: "s".into(),
                symbol: "XAU/USD".into(),
                value: Some("2650.12".into()),
                text: None,
                observed_at_ms: 1_700_000_000_000,
                received_at_ms: 7,
                signature: Some("abCD01".into()),
            }]
        );
    }

    #[test]
    fn arrays_map_all_or_nothing_with_absolute_pointers() {
        let map = FieldMap::new(Field::pointer("/s"), Field::pointer("/t"))
            .items("/data")
            .value(Field::pointer("/p"))
            .timestamp_format(TimestampFormat::Rfc3339);
        let ok = r#"{"data": [{"s": "XAU/USD", "p": 2650.5, "t": "2024-11-05T14:30:00Z"},
                               {"s": "XAU/INR", "p": "221000.75", "t": "2024-11-05T14:30:01Z"}]}"#;
        let obs = map.apply(ok, "s", 0).unwrap();
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[0].value.as_deref(), Some("2650.5"));
        assert_eq!(obs[1].value.as_deref(), Some("221000.75"));
        let bad = r#"{"data": [{"s": "XAU/USD", "p": "1", "t": "2024-11-05T14:30:00Z"},
                                {"s": "XAU/INR", "p": 2650.12000000000000001, "t": "2024-11-05T14:30:01Z"}]}"#;
        let err = map.apply(bad, "s", 0).unwrap_err();
        assert!(
            matches!(&err, MappingError::Value { pointer, source: DecimalError::InexactNumber { .. } } if pointer == "/data/1/p")
        );
        assert!(err.to_string().contains("\"/data/1/p\""), "{err}");
    }

    #[test]
    fn errors_name_the_field_and_pointer() {
        let map = price_map();
        let cases = [
            (r#"{"ts": 1, "sig": "aa"}"#, "field value at pointer \"/price\" is missing"),
            (r#"{"price": null, "ts": 1, "sig": "aa"}"#, "field value at pointer \"/price\" is missing"),
            (
                r#"{"price": "1e3", "ts": 1, "sig": "aa"}"#,
                "field value at pointer \"/price\": \"1e3\" is not a plain decimal",
            ),
            (r#"{"price": true, "ts": 1, "sig": "aa"}"#, "field value at pointer \"/price\" is a boolean"),
            (r#"{"price": "1", "sig": "aa"}"#, "field timestamp at pointer \"/ts\" is missing"),
            (r#"{"price": "1", "ts": "x", "sig": "aa"}"#, "field timestamp at pointer \"/ts\""),
            (r#"{"price": "1", "ts": 1, "sig": "zz"}"#, "field signature at pointer \"/sig\": a signature must be"),
            (r#"{"price": "1", "ts": 1}"#, "field signature at pointer \"/sig\" is missing"),
            (r#"{"price": "1", "ts": 1, "sig": "aa""#, "payload is not valid JSON"),
        ];
        for (payload, want) in cases {
            let err = map.apply(payload, "s", 0).unwrap_err().to_string();
            assert!(err.contains(want), "{payload}: {err}");
        }
    }

    #[test]
    fn events_have_text_and_no_value() {
        let map = FieldMap::new(Field::pointer("/type"), Field::pointer("/at"))
            .text(Field::pointer("/notice"))
            .timestamp_format(TimestampFormat::UnixSeconds);
        let obs = map.apply(r#"[{"type": "halt", "at": 1700000000, "notice": "vault audit"}, {"type": "resume", "at": "1700000100"}]"#, "c", 0).unwrap();
        assert_eq!(obs[0].symbol, "halt");
        assert_eq!(obs[0].text.as_deref(), Some("vault audit"));
        assert_eq!(obs[0].value, None);
        assert_eq!(obs[1].text, None);
        assert_eq!(obs[1].observed_at_ms, 1_700_000_100_000);
    }

    #[test]
    fn optional_values_serve_mixed_streams_but_stay_exact() {
        let map =
            FieldMap::new(Field::pointer("/type"), Field::pointer("/ts")).optional_value(Field::pointer("/amount"));
        let obs = map
            .apply(r#"[{"type": "RESERVE", "amount": "12000.000", "ts": 1}, {"type": "halt", "ts": 2}]"#, "c", 0)
            .unwrap();
        assert_eq!(obs[0].value.as_deref(), Some("12000.000"));
        assert_eq!(obs[1].value, None);
        assert!(
            map.apply(r#"{"type": "RESERVE", "amount": "1e3", "ts": 1}"#, "c", 0).is_err(),
            "present means checked"
        );
    }

    #[test]
    fn validate_checks_pointers_and_constants() {
        assert!(price_map().validate().is_ok());
        let bad_ptr = FieldMap::new(Field::fixed("X"), Field::pointer("ts"));
        assert!(matches!(bad_ptr.validate(), Err(FieldMapError::BadPointer { field: FieldName::Timestamp, .. })));
        let bad_value = FieldMap::new(Field::fixed("X"), Field::pointer("/ts")).value(Field::fixed("1.2.3"));
        assert!(matches!(bad_value.validate(), Err(FieldMapError::BadFixed { field: FieldName::Value, .. })));
        let bad_symbol = FieldMap::new(Field::fixed(""), Field::pointer("/ts"));
        assert!(bad_symbol.validate().is_err());
    }
}
