//! RFC 6901 JSON pointers evaluated over the payload *text*, not over a parsed `serde_json::Value`:
//! a `Value` would hold numbers as f64 and lose the literal the source wrote, which is what the
//! exactness rule of [`crate::decimal`] needs. Each step parses only the container it descends into
//! (`serde_json`'s `RawValue` borrows the rest unparsed), and a key that appears twice in an object
//! on the path is refused: parsers disagree on which copy wins, and a signed payload must mean one
//! thing.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Most elements taken from one payload's array of observations.
pub const MAX_ITEMS_PER_PAYLOAD: usize = 10_000;

/// A JSON value's kind, as read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number literal.
    Number,
    /// `true`/`false`
    Bool,
    /// `null`
    Null,
}

impl Kind {
    /// The kind of `raw` (already validated JSON).
    pub fn of(raw: &RawValue) -> Kind {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
        }
    }
}

/// Parse a whole payload (validating all of it) without materialising it.
pub fn parse_document(text: &str) -> Result<&RawValue, serde_json::Error> {
    serde_json::from_str(text)
}

/// Whether `pointer` is a syntactically valid RFC 6901 pointer (`""` or `/`-separated tokens in
/// which `~` is always followed by `0` or `1`).
pub fn is_valid_pointer(pointer: &str) -> bool {
    if pointer.is_empty() {
        return true;
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|token| {
        let b = token.as_bytes();
        b.iter().enumerate().all(|(i, &c)| c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
    })
}

/// Escape a key or index as one pointer token (for naming locations in errors).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The value `pointer` designates in `doc`, `Ok(None)` if there is none. `pointer` must be valid
/// ([`is_valid_pointer`]); an invalid one designates nothing.
pub fn resolve<'a>(doc: &'a RawValue, pointer: &str) -> Result<Option<&'a RawValue>, serde_json::Error> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Ok(pointer.is_empty().then_some(doc));
    };
    let mut current = doc;
    for escaped in rest.split('/') {
        let token = escaped.replace("~1", "/").replace("~0", "~");
        let next = match Kind::of(current) {
            Kind::Object => {
                let mut de = serde_json::Deserializer::from_str(current.get());
                FindKey { key: &token }.deserialize(&mut de)?
            }
            Kind::Array => match array_index(&token) {
                Some(index) => {
                    let mut de = serde_json::Deserializer::from_str(current.get());
                    FindIndex { index }.deserialize(&mut de)?
                }
                None => None,
            },
            _ => None,
        };
        match next {
            Some(value) => current = value,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// The elements of an array, at most [`MAX_ITEMS_PER_PAYLOAD`] of them (`Err` beyond).
pub fn elements(array: &RawValue) -> Result<Vec<&RawValue>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(array.get());
    Elements.deserialize(&mut de)
}

/// The content of a JSON string value (escapes decoded).
pub fn string_content(raw: &RawValue) -> Result<String, serde_json::Error> {
    serde_json::from_str(raw.get())
}

/// An array index token: `0` or digits without a leading zero (RFC 6901 §4); `-` designates nothing.
fn array_index(token: &str) -> Option<usize> {
    let ok =
        token == "0" || (!token.starts_with('0') && !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()));
    if ok { token.parse().ok() } else { None }
}

struct FindKey<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for FindKey<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FindKey<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.key {
                if found.is_some() {
                    return Err(de::Error::custom(format_args!("key {:?} appears twice", self.key)));
                }
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct FindIndex {
    index: usize,
}

impl<'de> DeserializeSeed<'de> for FindIndex {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FindIndex {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut i = 0usize;
        loop {
            if i == self.index {
                match seq.next_element::<&'de RawValue>()? {
                    Some(v) => found = Some(v),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
}

struct Elements;

impl<'de> DeserializeSeed<'de> for Elements {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<&'de RawValue>()? {
            if out.len() == MAX_ITEMS_PER_PAYLOAD {
                return Err(de::Error::custom(format_args!(
                    "more than {MAX_ITEMS_PER_PAYLOAD} items (the per-payload limit)"
                )));
            }
            out.push(v);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(doc: &'a RawValue, p: &str) -> Option<&'a str> {
        resolve(doc, p).unwrap().map(RawValue::get)
    }

    #[test]
    fn pointers_resolve_to_literals() {
        let text = r#"{"a": {"b/c": [10, 2650.12000000000000001, {"~k": "v"}]}, "n": null, "e": ""}"#;
        let doc = parse_document(text).unwrap();
        assert_eq!(at(doc, "/a/b~1c/1"), Some("2650.12000000000000001"));
        assert_eq!(at(doc, "/a/b~1c/2/~0k"), Some(r#""v""#));
        assert_eq!(at(doc, "/n"), Some("null"));
        assert_eq!(at(doc, ""), Some(text));
        assert_eq!(at(doc, "/a/b~1c/3"), None);
        assert_eq!(at(doc, "/a/b~1c/01"), None);
        assert_eq!(at(doc, "/a/b~1c/-"), None);
        assert_eq!(at(doc, "/missing"), None);
        assert_eq!(at(doc, "/e/x"), None);
        assert_eq!(at(doc, "/"), None);
    }

    #[test]
    fn duplicate_keys_on_the_path_are_refused() {
        let doc = parse_document(r#"{"price": "1", "price": "2", "other": 1, "other": 2}"#).unwrap();
        assert!(resolve(doc, "/price").unwrap_err().to_string().contains("appears twice"));
    }

    #[test]
    fn pointer_syntax() {
        for ok in ["", "/", "/a", "/a~0b/~1", "/0/x"] {
            assert!(is_valid_pointer(ok), "{ok}");
        }
        for bad in ["a", "/a~", "/a~2", "#/a"] {
            assert!(!is_valid_pointer(bad), "{bad}");
        }
        assert_eq!(escape_token("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn invalid_documents_and_item_limit() {
        assert!(parse_document("{\"a\": 1,}").is_err());
        assert!(parse_document("[1] x").is_err());
        let many = format!("[{}0]", "0,".repeat(MAX_ITEMS_PER_PAYLOAD));
        let doc = parse_document(&many).unwrap();
        assert!(elements(doc).is_err());
        let ok = format!("[{}0]", "0,".repeat(MAX_ITEMS_PER_PAYLOAD - 1));
        assert_eq!(elements(parse_document(&ok).unwrap()).unwrap().len(), MAX_ITEMS_PER_PAYLOAD);
    }
}
