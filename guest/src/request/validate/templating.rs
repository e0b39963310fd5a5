//! Rules across the parsed templates and the recipient blocks: every variable a template
//! needs (used without a default, outside an `<#if name??>` guard) must be in each block's
//! `personalization`, so rendering cannot fail after submission.
//!
//! What each block's rendering will produce is checked too: a one-line subject within the
//! length limit, and a rendered mail within `max-rendered-bytes`.

use std::collections::{HashMap, HashSet};

use super::fields::breaks_header_line;
use super::limits::{MAX_PERSONALIZATION_KEYS, MAX_SUBJECT_CHARS};
use crate::request::model::{RecipientBlock, Text};
use crate::request::report::{Pointer, ProblemKind, Report};
use crate::template::Escape;

/// The text parts by name (`subject`, `body`, `alternative`), each with its template if any.
pub(crate) type Parts<'a> = [(&'a str, Option<&'a Text>)];

/// One problem per block that lacks variables, at
/// `/recipients/{i}/features/templating/personalization`.
pub(crate) fn personalization(
    r: &mut Report,
    root: &Pointer,
    parts: &Parts,
    blocks: &[RecipientBlock],
    max_rendered_bytes: u64,
) {
    // Every variable the parts need, once, with the first part that needs it. A set beside
    // the list: a template may use a hundred thousand distinct names.
    let mut required: Vec<(&str, &str)> = Vec::new();
    let mut seen = HashSet::new();
    for (part, text) in parts {
        let Some(template) = text.and_then(|t| t.template.as_ref()) else { continue };
        required.extend(template.required_variables().filter(|v| seen.insert(*v)).map(|v| (v, *part)));
        // No block can hold more values than this: say so once, instead of once per block
        // with a list of every name (and a check of each name in each block).
        if required.len() > MAX_PERSONALIZATION_KEYS {
            r.problem(
                &root.key(part).key("template"),
                ProblemKind::TooMany,
                format!(
                    "the templates need more than {MAX_PERSONALIZATION_KEYS} variables without a default (`!`) \
                     outside an `<#if name??>` guard, and a personalization holds at most {MAX_PERSONALIZATION_KEYS}"
                ),
            );
            return;
        }
    }
    for (i, block) in blocks.iter().enumerate() {
        let values: Values = block.personalization.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let missing: Vec<(&str, &str)> = required.iter().filter(|(v, _)| !values.contains_key(v)).copied().collect();
        if missing.is_empty() {
            rendered_subject(r, root, parts, i, &values);
            rendered_size(r, root, parts, i, &values, max_rendered_bytes);
            continue;
        }
        let mut list: Vec<String> =
            missing.iter().take(MAX_LISTED_VARIABLES).map(|(v, part)| format!("\"{v}\" (used in {part})")).collect();
        if missing.len() > MAX_LISTED_VARIABLES {
            list.push(format!("{} more", missing.len() - MAX_LISTED_VARIABLES));
        }
        r.problem(
            &root.key("recipients").index(i).key("features").key("templating").key("personalization"),
            ProblemKind::Missing,
            format!(
                "recipient block {i} has no value for {}, used without a default (`!`) and outside \
                 an `<#if name??>` guard",
                list.join(", ")
            ),
        );
    }
}

/// One block's personalization, by name.
type Values<'a> = HashMap<&'a str, &'a str>;

/// Most missing variables named in one problem's message; the rest are counted.
const MAX_LISTED_VARIABLES: usize = 20;

/// Retarus limits a personalized mail to 1 MB: the subject, body and alternative rendered
/// for block `i` (parts without a template as given) must fit `limit` bytes. Reported at
/// the block, `/recipients/{i}`.
fn rendered_size(r: &mut Report, root: &Pointer, parts: &Parts, i: usize, values: &Values, limit: u64) {
    let lookup = |name: &str| values.get(name).copied();
    let mut bytes = 0u64;
    for (part, text) in parts {
        let Some(text) = text else { continue };
        let escape = if *part == "body" { Escape::Html } else { Escape::None };
        bytes += match &text.template {
            // The HTML escape is the larger of the two renderings: count that for the body.
            // Counted, not rendered: a large value repeated many times would not fit in memory.
            Some(template) => template.rendered_len(&lookup, escape).unwrap_or(0),
            None => text.text.len() as u64,
        };
    }
    if bytes > limit {
        r.problem(
            &root.key("recipients").index(i),
            ProblemKind::TooLarge,
            format!(
                "rendered with its personalization, recipient block {i}'s subject, body and alternative \
                 are {bytes} bytes; at most {limit} are allowed"
            ),
        );
    }
}

/// The subject rendered for block `i` (all its variables are known to be present) must
/// still be one header line within Retarus' length limit: a personalization value or a
/// default may bring a line break or make it longer. Reported at `/subject/template`, which
/// always exists, naming the block.
fn rendered_subject(r: &mut Report, root: &Pointer, parts: &Parts, i: usize, values: &Values) {
    let Some(template) =
        parts.iter().find(|(p, _)| *p == "subject").and_then(|(_, t)| t.and_then(|t| t.template.as_ref()))
    else {
        return;
    };
    let lookup = |name: &str| values.get(name).copied();
    let path = root.key("subject").key("template");
    // A character is at most 4 bytes: past that many, the subject is too long whatever it
    // holds, and is not rendered (it could be gigabytes).
    let Ok(bytes) = template.rendered_len(&lookup, Escape::None) else { return };
    if bytes > 4 * MAX_SUBJECT_CHARS as u64 {
        r.problem(
            &path,
            ProblemKind::TooLong,
            format!(
                "rendered for recipient block {i}, the subject is {bytes} bytes long; at most \
                 {MAX_SUBJECT_CHARS} characters are allowed"
            ),
        );
        return;
    }
    let Ok(subject) = template.render(&lookup, Escape::None) else { return };
    if subject.chars().any(breaks_header_line) {
        r.problem(
            &path,
            ProblemKind::HeaderInjection,
            format!(
                "rendered for recipient block {i}, the subject contains a line break or another control \
                 character (from a personalization value or a default); a subject is one line"
            ),
        );
    }
    // A literal blank subject is refused (`empty-value` at `/subject/content`); one that only
    // becomes blank with a block's values is refused the same way, naming the block.
    if subject.trim().is_empty() {
        r.problem(
            &path,
            ProblemKind::EmptyValue,
            format!(
                "rendered for recipient block {i}, the subject is blank (its personalization values or \
                 defaults are empty); a subject must say something"
            ),
        );
    }
    let chars = subject.chars().count();
    if chars > MAX_SUBJECT_CHARS {
        r.problem(
            &path,
            ProblemKind::TooLong,
            format!(
                "rendered for recipient block {i}, the subject is {chars} characters long; at most \
                 {MAX_SUBJECT_CHARS} are allowed"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::request::{Limits, validate};

    fn problems(subject: &str, body: &str, blocks: &str) -> Vec<(String, String)> {
        let request = format!(
            r#"{{"mail": {{"from": {{"email": "s@sender.example"}}}}, "subject": {subject}, "body": {body},
                "recipients": {blocks}, "job": {{"features": {{"templating": {{"active": true}}}}}}}}"#
        );
        match validate(request.as_bytes(), &Limits::default()) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| (p.path, p.message)).collect(),
        }
    }

    #[test]
    fn a_refused_construct_is_named_with_its_position() {
        let found = problems(
            r#"{"content": "Hi"}"#,
            r#"{"contentType": "text/html", "template": "<p>${name!}</p>\n  <#list xs as x>${x}</#list>"}"#,
            r#"[{"mail": {"to": [{"email": "a@r.example"}]}}]"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "/body/template");
        assert!(found[0].1.contains("line 2, column 3: `<#list>`"), "{}", found[0].1);
    }

    #[test]
    fn missing_variables_are_named_per_block() {
        let found = problems(
            r#"{"template": "Invoice ${no}"}"#,
            r#"{"template": "<#if name??>${name}</#if> ${amount}"}"#,
            r#"[{"mail": {"to": [{"email": "a@r.example"}]},
                 "features": {"templating": {"personalization": {"no": "1", "amount": 2}}}},
                {"mail": {"to": [{"email": "b@r.example"}]},
                 "features": {"templating": {"personalization": {"name": "Bo"}}}}]"#,
        );
        let missing: Vec<_> = found.iter().filter(|(p, _)| p.starts_with("/recipients")).collect();
        assert_eq!(missing.len(), 1, "{found:?}");
        assert_eq!(missing[0].0, "/recipients/1/features/templating/personalization");
        assert!(missing[0].1.contains("block 1"), "{}", missing[0].1);
        assert!(missing[0].1.contains("\"no\" (used in subject)"), "{}", missing[0].1);
        assert!(missing[0].1.contains("\"amount\" (used in body)"), "{}", missing[0].1);
        assert!(!missing[0].1.contains("\"name\""), "{}", missing[0].1);
        assert_eq!(found.len(), 1, "valid templates are rendered, not refused: {found:?}");
    }

    #[test]
    fn templates_are_decoded_before_parsing() {
        // base64 of "Hi ${name} <#list x as y>": the construct is found in the decoded text.
        let found = problems(
            r#"{"template": "SGkgJHtuYW1lfSA8I2xpc3QgeCBhcyB5Pg==", "contentEncoding": "base64"}"#,
            r#"{"content": "Hi"}"#,
            r#"[{"mail": {"to": [{"email": "a@r.example"}]}}]"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "/subject/template");
        assert!(found[0].1.contains("line 1, column 12: `<#list>`"), "{}", found[0].1);
    }

    #[test]
    fn the_rendered_subject_stays_one_line_within_the_limit() {
        let long = "x".repeat(495);
        let blocks = format!(
            r#"[{{"mail": {{"to": [{{"email": "a@r.example"}}]}},
                 "features": {{"templating": {{"personalization": {{"name": "Ana"}}}}}}}},
                {{"mail": {{"to": [{{"email": "b@r.example"}}]}},
                 "features": {{"templating": {{"personalization": {{"name": "Bo\r\nBcc: x@evil.example"}}}}}}}},
                {{"mail": {{"to": [{{"email": "c@r.example"}}]}},
                 "features": {{"templating": {{"personalization": {{"name": "{long}"}}}}}}}}]"#
        );
        let found = problems(r#"{"template": "Hello ${name}"}"#, r#"{"content": "Hi"}"#, &blocks);
        let subject: Vec<_> = found.iter().filter(|(p, _)| p == "/subject/template").map(|(_, m)| m).collect();
        assert_eq!(subject.len(), 2, "{found:?}");
        assert!(subject[0].contains("block 1") && subject[0].contains("line break"), "{}", subject[0]);
        assert!(subject[1].contains("block 2") && subject[1].contains("501 characters"), "{}", subject[1]);
    }

    #[test]
    fn a_subject_rendered_blank_for_a_block_is_refused_naming_the_block() {
        let blocks = r#"[{"mail": {"to": [{"email": "a@r.example"}]},
                 "features": {"templating": {"personalization": {"name": "Ana"}}}},
                {"mail": {"to": [{"email": "b@r.example"}]},
                 "features": {"templating": {"personalization": {"name": " "}}}}]"#;
        let found = problems(r#"{"template": " ${name}"}"#, r#"{"content": "Hi"}"#, blocks);
        let subject: Vec<_> = found.iter().filter(|(p, _)| p == "/subject/template").map(|(_, m)| m).collect();
        assert_eq!(subject.len(), 1, "{found:?}");
        assert!(subject[0].contains("block 1") && subject[0].contains("blank"), "{}", subject[0]);
    }

    #[test]
    fn a_block_rendered_beyond_the_limit_is_named() {
        let value = "x".repeat(600_000);
        let blocks = format!(
            r#"[{{"mail": {{"to": [{{"email": "a@r.example"}}]}},
                 "features": {{"templating": {{"personalization": {{"v": "small"}}}}}}}},
                {{"mail": {{"to": [{{"email": "b@r.example"}}]}},
                 "features": {{"templating": {{"personalization": {{"v": "{value}"}}}}}}}}]"#
        );
        let found = problems(r#"{"content": "Hi"}"#, r#"{"template": "${v} and again ${v}"}"#, &blocks);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "/recipients/1");
        assert!(found[0].1.contains("1200013 bytes") && found[0].1.contains("1000000"), "{}", found[0].1);
    }

    #[test]
    fn an_expansion_bomb_is_measured_not_rendered() {
        // 100,000 × 200 KB would be 20 GB rendered: counted instead, in well under a second.
        // The subject's source fits its 500 characters; rendered it would be 24 MB.
        let value = "x".repeat(200_000);
        let blocks = format!(
            r#"[{{"mail": {{"to": [{{"email": "a@r.example"}}]}},
                 "features": {{"templating": {{"personalization": {{"v": "{value}"}}}}}}}}]"#
        );
        let refs = "${v}".repeat(100_000);
        let started = std::time::Instant::now();
        let subject = "${v}".repeat(120);
        let found =
            problems(&format!(r#"{{"template": "{subject}"}}"#), &format!(r#"{{"template": "{refs}"}}"#), &blocks);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        let paths: Vec<_> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/recipients/0", "/subject/template"], "{found:?}");
        assert!(found[0].1.contains("20024000000 bytes"), "{}", found[0].1);
        assert!(found[1].1.contains("24000000 bytes"), "{}", found[1].1);
    }

    #[test]
    fn more_variables_than_a_personalization_can_hold_is_one_problem() {
        let refs: String = (0..100_000).map(|i| format!("${{v{i}}}")).collect();
        let to: Vec<String> =
            (0..100).map(|i| format!(r#"{{"mail": {{"to": [{{"email": "r{i}@r.example"}}]}}}}"#)).collect();
        let started = std::time::Instant::now();
        let found =
            problems(r#"{"content": "Hi"}"#, &format!(r#"{{"template": "{refs}"}}"#), &format!("[{}]", to.join(",")));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(found.len(), 1, "{:?}", &found[..found.len().min(3)]);
        assert_eq!(found[0].0, "/body/template");
        // 70 + 140 = 210 different names over two parts: refused at the part that passes 200.
        let subject: String = (0..70).map(|i| format!("${{s{i}}}")).collect();
        let body: String = (0..140).map(|i| format!("${{b{i}}}")).collect();
        let found = problems(
            &format!(r#"{{"template": "{subject}"}}"#),
            &format!(r#"{{"template": "{body}"}}"#),
            r#"[{"mail": {"to": [{"email": "a@r.example"}]}}]"#,
        );
        let paths: Vec<_> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/body/template"], "{found:?}");
    }

    #[test]
    fn a_template_longer_than_the_largest_rendering_is_not_parsed() {
        let found = problems(r#"{"content": "Hi"}"#, &format!(r#"{{"template": "{}"}}"#, "${a}".repeat(250_001)), "[]");
        let long: Vec<_> = found.iter().filter(|(p, _)| p == "/body/template").collect();
        assert_eq!(long.len(), 1, "{found:?}");
        assert!(long[0].1.contains("1000004 bytes"), "{}", long[0].1);
    }

    #[test]
    fn a_missing_list_names_twenty_and_counts_the_rest() {
        let refs: String = (0..150).map(|i| format!("${{v{i}}}")).collect();
        let found = problems(
            r#"{"content": "Hi"}"#,
            &format!(r#"{{"template": "{refs}"}}"#),
            r#"[{"mail": {"to": [{"email": "a@r.example"}]}}]"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("\"v19\" (used in body), 130 more"), "{}", found[0].1);
    }

    #[test]
    fn the_counted_length_is_the_rendered_length() {
        use crate::template::{Escape, Template};
        let t = Template::parse(r#"<p>${a} ${b!"<d&'\"fault>"}<#if c??>${c?html}<#else>${a}</#if></p>"#).unwrap();
        let vars = |n: &str| match n {
            "a" => Some("Tom & \"Jerry's\" <b>"),
            "c" => Some("ü€"),
            _ => None,
        };
        for escape in [Escape::None, Escape::Html] {
            assert_eq!(t.rendered_len(&vars, escape).unwrap(), t.render(&vars, escape).unwrap().len() as u64);
        }
    }

    #[test]
    fn a_hundred_templated_recipients_are_allowed() {
        let to: Vec<String> = (0..100).map(|i| format!(r#"{{"email": "r{i}@r.example"}}"#)).collect();
        let blocks = format!(r#"[{{"mail": {{"to": [{}]}}}}]"#, to.join(","));
        assert_eq!(problems(r#"{"content": "Hi"}"#, r#"{"content": "Hi"}"#, &blocks), Vec::new());
    }
}
