//! The `template` target: the FreeMarker subset parsed and rendered with arbitrary data.

use super::input::Fields;
use crate::template::{Escape, Template};

/// Input: the template source, then 0x1E-separated `name=value` personalization entries.
/// Checks:
///
/// - parsing gives the same answer twice; a refusal names a 1-based line and column within
///   the source and says what is wrong;
/// - the required variables are listed once each;
/// - rendering with every required variable given cannot fail (the promise validation
///   relies on), with the fuzzed values, with every name present, and with none present
///   when nothing is required;
/// - [`Escape::Html`] escapes every value: with every name bound to `<x>`, the output holds
///   exactly as many `<` as with every name bound to the empty string.
pub fn template_target(data: &[u8]) {
    let f = Fields::split(data);
    let source = f.text(0);
    let parsed = Template::parse(&source);
    assert_eq!(parsed, Template::parse(&source), "parsing is not deterministic");
    let template = match parsed {
        Err(e) => {
            let lines = source.split('\n').count() as u32;
            assert!(e.line >= 1 && e.line <= lines, "error line {} outside 1..={lines}: {e}", e.line);
            assert!(e.column >= 1, "error column 0: {e}");
            assert!(!e.message.trim().is_empty(), "error without a message");
            return;
        }
        Ok(t) => t,
    };
    let required: Vec<&str> = template.required_variables().collect();
    for (i, name) in required.iter().enumerate() {
        assert!(!required[..i].contains(name), "{name} listed twice as required");
    }

    let vars: Vec<(String, String)> = (1..f.len())
        .map(|i| {
            let entry = f.text(i);
            match entry.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (entry, String::new()),
            }
        })
        .collect();
    let lookup = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let complete = required.iter().all(|name| lookup(name).is_some());
    for escape in [Escape::Html, Escape::None] {
        let rendered = template.render(&lookup, escape);
        assert!(!complete || rendered.is_ok(), "render failed with every required variable given: {rendered:?}");
        let all = template.render(&|_: &str| Some("v"), escape);
        assert!(all.is_ok(), "render failed with every variable present: {all:?}");
        if required.is_empty() {
            let none = template.render(&|_: &str| None, escape);
            assert!(none.is_ok(), "render failed with nothing required and nothing given: {none:?}");
        }
    }
    let angles = |value: &'static str| {
        let out = template.render(&|_: &str| Some(value), Escape::Html).unwrap_or_default();
        out.matches('<').count()
    };
    assert_eq!(angles("<x>"), angles(""), "an HTML-escaped interpolation let a '<' through");
}
