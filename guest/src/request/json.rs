//! The JSON document model the validator walks.
//!
//! `serde_json::Value` keeps the last of two equal keys and forgets the first, so a request
//! `{"subject": …, "subject": …}` would mean different things to sealmail and to a proxy in
//! front of it. This tree keeps every key in order, which lets the validator report
//! duplicates with their path. Parsing never recurses deeper than serde_json's limit (128
//! levels), so hostile nesting is an error, not a stack overflow.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value with object members in document order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Any number.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in document order (keys may repeat).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The JSON type's name, for messages ("expected a string, found an array").
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Why the request could not be read as JSON at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Not UTF-8 (RFC 8259 §8.1 requires it).
    #[error("the request is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// Not JSON; the message carries serde_json's line and column.
    #[error("the request is not valid JSON: {0}")]
    Syntax(String),
}

/// Parses a request body. A UTF-8 byte order mark is skipped (RFC 8259 §8.1 allows a parser
/// to ignore it).
pub fn parse(bytes: &[u8]) -> Result<Json, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 { offset: e.valid_up_to() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| ParseError::Syntax(e.to_string()))
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v).map(Json::Number).ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicate_keys_in_order() {
        let v = parse(br#"{"a":1,"b":[true,null],"a":"x"}"#).unwrap();
        let Json::Object(m) = v else { panic!("not an object") };
        let keys: Vec<_> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "a"]);
        assert_eq!(m[2].1, Json::String("x".into()));
    }

    #[test]
    fn rejects_non_utf8_with_offset() {
        assert_eq!(parse(b"{\"a\":\"\xff\"}"), Err(ParseError::NotUtf8 { offset: 6 }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        match parse(deep.as_bytes()) {
            Err(ParseError::Syntax(m)) => assert!(m.contains("recursion limit"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        // serde_json reports where it stopped reading: after `tru`, at the space.
        match parse(b"{\n  \"a\": tru }") {
            Err(ParseError::Syntax(m)) => assert!(m.contains("line 2 column 11"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skips_a_byte_order_mark() {
        assert_eq!(parse("\u{feff}[1]".as_bytes()).unwrap(), Json::Array(vec![Json::Number(1.into())]));
    }
}
