//! Typed access to the members of one JSON object while recording what is wrong.
//!
//! Every rule that applies to *any* field lives here, once: a present key must not be
//! `null` or an empty string (Retarus), values must have the right JSON type, header values
//! must not carry control characters (header injection), duplicate and unknown keys are
//! reported. Field-specific rules live with the fields, in the sibling modules.

use std::collections::HashSet;

use crate::request::json::Json;
use crate::request::report::{Pointer, ProblemKind, Report, WarningKind};

/// The members of one object, with the pointer to it.
pub(crate) struct Fields<'a> {
    pub path: Pointer,
    members: &'a [(String, Json)],
}

/// How a string field is checked.
#[derive(Clone, Copy)]
pub(crate) struct Text {
    /// Missing is a problem.
    pub required: bool,
    /// Longest allowed value, in characters (Unicode scalar values).
    pub max_chars: usize,
    /// The value ends up in a mail header or an HTTP header: no control characters.
    pub header: bool,
}

impl Text {
    /// A header value: optional, at most `max_chars`, no control characters.
    pub const fn header(max_chars: usize) -> Self {
        Self { required: false, max_chars, header: true }
    }
    /// This rule, required.
    pub const fn required(self) -> Self {
        Self { required: true, ..self }
    }
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object: reports a wrong type, duplicate keys, and warns about keys
    /// outside `known` (Retarus clients send fields sealmail does not act on; they are
    /// accepted, and the warning names them so nobody believes they took effect).
    pub fn object(r: &mut Report, value: &'a Json, path: Pointer, known: &[&str]) -> Option<Self> {
        Self::read(r, value, path, Some(known))
    }

    /// Reads `value` as an object whose keys are data (`xHeaders`, `personalization`):
    /// only wrong types and duplicate keys are reported.
    pub fn map(r: &mut Report, value: &'a Json, path: Pointer) -> Option<Self> {
        Self::read(r, value, path, None)
    }

    fn read(r: &mut Report, value: &'a Json, path: Pointer, known: Option<&[&str]>) -> Option<Self> {
        let Json::Object(members) = value else {
            type_problem(r, &path, value, "an object");
            return None;
        };
        // RFC 8259 §4 leaves the meaning of `{"a": 1, "a": 2}` open: a proxy in front of
        // sealmail may read the other value, so such a request is refused, not guessed at.
        // A hash set keeps this linear (an object may have a million keys). Values sealmail
        // never reads (unknown keys, `job.options`) are not walked, so neither are their keys.
        let mut seen: HashSet<&str> = HashSet::with_capacity(members.len());
        for (key, _) in members {
            if !seen.insert(key) {
                r.problem(
                    &path.key(key),
                    ProblemKind::DuplicateKey,
                    format!("\"{}\" appears more than once in this object", key.escape_debug()),
                );
            } else if known.is_some_and(|known| !known.contains(&key.as_str())) {
                r.warn(&path.key(key), WarningKind::IgnoredKey, "not a JobRequest field sealmail knows; ignored");
            }
        }
        Some(Self { path, members })
    }

    /// The first value of `key`, if present (also when `null`).
    pub fn raw(&self, key: &str) -> Option<&'a Json> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The members, in document order.
    pub fn members(&self) -> &'a [(String, Json)] {
        self.members
    }

    /// Warns that `key`, if present, is accepted but not acted on, saying why. The Retarus
    /// rule still holds for it: a present key must not be `null` or `""`.
    pub fn not_acted_on(&self, r: &mut Report, key: &str, why: &str) {
        let path = self.path.key(key);
        match self.raw(key) {
            None => {}
            Some(Json::Null) => r.problem(&path, ProblemKind::NullValue, NULL_MESSAGE),
            Some(Json::String(s)) if s.trim().is_empty() => r.problem(&path, ProblemKind::EmptyValue, EMPTY_MESSAGE),
            Some(_) => r.warn(&path, WarningKind::IgnoredKey, why),
        }
    }

    /// The value of `key` unless it is absent or `null`: `null` is a problem (a present key
    /// must carry a value), absence only when `required`.
    pub fn present(&self, r: &mut Report, key: &str, required: bool) -> Option<&'a Json> {
        match self.raw(key) {
            None => {
                if required {
                    r.problem(&self.path.key(key), ProblemKind::Missing, format!("\"{key}\" is required"));
                }
                None
            }
            Some(Json::Null) => {
                r.problem(&self.path.key(key), ProblemKind::NullValue, NULL_MESSAGE);
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A string member checked against `rule`.
    pub fn text(&self, r: &mut Report, key: &str, rule: Text) -> Option<&'a str> {
        let value = self.present(r, key, rule.required)?;
        check_text(r, &self.path.key(key), value, rule)
    }

    /// A boolean member.
    pub fn boolean(&self, r: &mut Report, key: &str, required: bool) -> Option<bool> {
        match self.present(r, key, required)? {
            Json::Bool(b) => Some(*b),
            other => {
                type_problem(r, &self.path.key(key), other, "a boolean (true or false)");
                None
            }
        }
    }

    /// An object member, with its own known keys.
    pub fn object_member(&self, r: &mut Report, key: &str, required: bool, known: &[&str]) -> Option<Fields<'a>> {
        let value = self.present(r, key, required)?;
        Self::object(r, value, self.path.key(key), known)
    }

    /// A member whose keys are data (see [`Fields::map`]).
    pub fn map_member(&self, r: &mut Report, key: &str, required: bool) -> Option<Fields<'a>> {
        let value = self.present(r, key, required)?;
        Self::map(r, value, self.path.key(key))
    }

    /// An array member.
    pub fn array(&self, r: &mut Report, key: &str, required: bool) -> Option<&'a [Json]> {
        match self.present(r, key, required)? {
            Json::Array(items) => Some(items),
            other => {
                type_problem(r, &self.path.key(key), other, "an array");
                None
            }
        }
    }
}

/// Checks one JSON value as a string against `rule`.
pub(crate) fn check_text<'a>(r: &mut Report, path: &Pointer, value: &'a Json, rule: Text) -> Option<&'a str> {
    let Json::String(s) = value else {
        type_problem(r, path, value, "a string");
        return None;
    };
    if s.trim().is_empty() {
        r.problem(path, ProblemKind::EmptyValue, EMPTY_MESSAGE);
        return None;
    }
    let chars = s.chars().count();
    if chars > rule.max_chars {
        r.problem(
            path,
            ProblemKind::TooLong,
            format!("is {chars} characters long; at most {} are allowed", rule.max_chars),
        );
        return None;
    }
    if rule.header && !header_safe(path, r, s) {
        return None;
    }
    Some(s)
}

/// Whether `c` may not appear in a header value (see [`header_safe`]).
pub(crate) fn breaks_header_line(c: char) -> bool {
    (c != '\t' && c.is_control()) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Header values must not contain CR or LF (a second header or a body could be injected,
/// RFC 5322 §2.2) nor other control characters. Tab is allowed (RFC 5322 WSP). The Unicode
/// line and paragraph separators (U+2028, U+2029) are refused too: they are mandatory line
/// breaks for Unicode text (UAX #14), and RFC 6532 readers that take UTF-8 headers as they
/// come would show a second line the sender never meant to be one.
pub(crate) fn header_safe(path: &Pointer, r: &mut Report, s: &str) -> bool {
    match s.char_indices().find(|&(_, c)| breaks_header_line(c)) {
        None => true,
        Some((at, c)) => {
            let what = match c {
                '\r' => "a carriage return (CR)".to_owned(),
                '\n' => "a line feed (LF)".to_owned(),
                '\0' => "a NUL character".to_owned(),
                '\u{2028}' => "a Unicode line separator (U+2028)".to_owned(),
                '\u{2029}' => "a Unicode paragraph separator (U+2029)".to_owned(),
                c => format!("the control character U+{:04X}", c as u32),
            };
            r.problem(
                path,
                ProblemKind::HeaderInjection,
                format!(
                    "contains {what} at character {}; header values must be one line without control characters",
                    s[..at].chars().count()
                ),
            );
            false
        }
    }
}

const NULL_MESSAGE: &str = "must not be null: leave the key out instead";
const EMPTY_MESSAGE: &str = "must not be empty: leave the key out instead";

/// Records that `value` is not of the `expected` type. `null` and `""` (or white space) are
/// reported as what they are, whatever type was expected: the Retarus rule "a present key
/// must not be null or empty" is one rule with one kind of problem each.
pub(crate) fn type_problem(r: &mut Report, path: &Pointer, value: &Json, expected: &str) {
    match value {
        Json::Null => r.problem(path, ProblemKind::NullValue, NULL_MESSAGE),
        Json::String(s) if s.trim().is_empty() => r.problem(path, ProblemKind::EmptyValue, EMPTY_MESSAGE),
        _ => r.problem(path, ProblemKind::WrongType, format!("must be {expected}, not {}", value.type_name())),
    }
}
