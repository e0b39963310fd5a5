//! The JSON document model the validator walks.
//!
//! `serde_json::Value` keeps the last of two equal keys and forgets the first, so a request
//! `{"subject": …, "subject": …}` would mean different things to sealmail and to a proxy in
//! front of it. This tree keeps every key in order, which lets the validator report
//! duplicates with their path. Parsing never recurses deeper than serde_json's limit (128
//! levels), so hostile nesting is an error, not a stack overflow.

use std::fmt;

use std::cell::Cell;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value with object members in document order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Any number.
    Number(serde_json::Number),
    /// A string, unescaped (lone surrogates are refused while parsing).
    String(String),
    /// An array, elements in document order.
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
    /// More than [`MAX_VALUES`] values.
    #[error("the request has more than {MAX_VALUES} JSON values (objects, arrays, strings, numbers…)")]
    TooManyValues,
    /// Not JSON; the message carries serde_json's line and column.
    #[error("the request is not valid JSON: {0}")]
    Syntax(String),
}

/// Most values (scalars, arrays, objects) one request may hold. A 28 MiB body of `{},`
/// would otherwise become ~9 million tree nodes, several hundred MiB: past the sandbox's
/// memory limit. The largest real requests (1,000 addresses, 100 personalized blocks) need
/// a few tens of thousands.
pub const MAX_VALUES: usize = 250_000;

/// Parses a request body. A UTF-8 byte order mark is skipped (RFC 8259 §8.1 allows a parser
/// to ignore it).
pub fn parse(bytes: &[u8]) -> Result<Json, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 { offset: e.valid_up_to() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let budget = Cell::new(MAX_VALUES);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Budget(&budget).deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| if budget.get() == 0 { ParseError::TooManyValues } else { ParseError::Syntax(e.to_string()) })
}

/// A [`DeserializeSeed`] that builds a [`Json`] while counting values against a budget
/// shared by the whole document.
#[derive(Clone, Copy)]
struct Budget<'b>(&'b Cell<usize>);

impl Budget<'_> {
    fn spend<E: de::Error>(self) -> Result<(), E> {
        match self.0.get() {
            0 => Err(E::custom(format!("more than {MAX_VALUES} JSON values"))),
            n => {
                self.0.set(n - 1);
                Ok(())
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        self.spend()?;
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        self.spend()?;
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        self.spend()?;
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        self.spend()?;
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        self.spend()?;
        serde_json::Number::from_f64(v).map(Json::Number).ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        self.spend()?;
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        self.spend()?;
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        self.spend()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        self.spend()?;
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
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
    fn a_value_flood_is_refused_before_it_exhausts_memory() {
        let flood = format!("[{}{{}}]", "{},".repeat(MAX_VALUES));
        assert_eq!(parse(flood.as_bytes()), Err(ParseError::TooManyValues));
        let fits = format!("[{}1]", "1,".repeat(MAX_VALUES - 2));
        assert!(parse(fits.as_bytes()).is_ok());
    }

    #[test]
    fn trailing_text_is_a_syntax_error() {
        assert!(matches!(parse(b"{} x"), Err(ParseError::Syntax(m)) if m.contains("trailing")));
    }

    #[test]
    fn skips_a_byte_order_mark() {
        assert_eq!(parse("\u{feff}[1]".as_bytes()).unwrap(), Json::Array(vec![Json::Number(1.into())]));
    }
}
