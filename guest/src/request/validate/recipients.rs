//! `recipients[]`: recipient blocks (one message each), their addresses, header overrides,
//! personalization and `reference`.

use super::fields::{Fields, Text, type_problem};
use super::headers::{header_options, mailbox};
use super::limits::{MAX_PERSONALIZATION_KEYS, MAX_REFERENCE_CHARS, MAX_TEMPLATED_RECIPIENTS};
use crate::request::address::Mailbox;
use crate::request::json::Json;
use crate::request::model::RecipientBlock;
use crate::request::report::{Pointer, ProblemKind, Report, WarningKind};

const BLOCK_KEYS: &[&str] = &["mail", "features", "reference"];
const BLOCK_MAIL_KEYS: &[&str] =
    &["to", "cc", "bcc", "replyTo", "inReplyTo", "priority", "listUnsubscribe", "xHeaders"];
const BLOCK_FEATURE_KEYS: &[&str] = &["templating", "openTracking", "linkTracking"];

/// Reads `/recipients`; `max_addresses` bounds to + cc + bcc over all blocks.
pub(crate) fn recipients(
    r: &mut Report,
    root: &Fields,
    max_addresses: u32,
    templating: Option<bool>,
) -> Option<Vec<RecipientBlock>> {
    let items = root.array(r, "recipients", true)?;
    let path = root.path.key("recipients");
    if items.is_empty() {
        r.problem(&path, ProblemKind::EmptyValue, "must list at least one recipient block");
        return None;
    }
    // Count before reading, so a request with a million addresses is refused without
    // parsing each one.
    let count: usize = items.iter().map(address_count).sum();
    if count > max_addresses as usize {
        r.problem(
            &path,
            ProblemKind::TooMany,
            format!("has {count} addresses (to, cc and bcc); at most {max_addresses} are allowed per request"),
        );
        return None;
    }
    if templating == Some(true) && count > MAX_TEMPLATED_RECIPIENTS {
        r.problem(
            &path,
            ProblemKind::TooMany,
            format!(
                "has {count} addresses (to, cc and bcc); with templating at most {MAX_TEMPLATED_RECIPIENTS} are allowed per job"
            ),
        );
        return None;
    }
    let mut blocks = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match block(r, item, path.index(i), templating) {
            Some(b) => blocks.push(b),
            None => ok = false,
        }
    }
    ok.then_some(blocks)
}

/// Number of array elements under `mail.to/cc/bcc` of a block, whatever their shape.
fn address_count(block: &Json) -> usize {
    let Json::Object(members) = block else { return 0 };
    let Some((_, Json::Object(mail))) = members.iter().find(|(k, _)| k == "mail") else { return 0 };
    mail.iter()
        .filter(|(k, _)| matches!(k.as_str(), "to" | "cc" | "bcc"))
        .map(|(_, v)| if let Json::Array(a) = v { a.len() } else { 0 })
        .sum()
}

fn block(r: &mut Report, value: &Json, path: Pointer, templating: Option<bool>) -> Option<RecipientBlock> {
    let fields = Fields::object(r, value, path, BLOCK_KEYS)?;
    let before = r.problem_count();
    let reference = fields.text(r, "reference", Text::header(MAX_REFERENCE_CHARS)).map(str::to_owned);
    let personalization = features(r, &fields, templating);
    let mail = fields.object_member(r, "mail", true, BLOCK_MAIL_KEYS)?;
    let to = address_list(r, &mail, "to");
    let cc = address_list(r, &mail, "cc");
    let bcc = address_list(r, &mail, "bcc");
    let headers = header_options(r, &mail);
    if r.problem_count() > before {
        return None;
    }
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        r.problem(
            &mail.path,
            ProblemKind::RuleViolation,
            "a recipient block needs at least one address in to, cc or bcc",
        );
        return None;
    }
    let block = RecipientBlock { to, cc, bcc, headers, reference, personalization };
    let unique = block.envelope_recipients().len();
    let listed = block.to.len() + block.cc.len() + block.bcc.len();
    if unique < listed {
        r.warn(
            &mail.path,
            WarningKind::IgnoredValue,
            format!("{} address(es) are listed more than once; each recipient gets the message once", listed - unique),
        );
    }
    Some(block)
}

fn address_list(r: &mut Report, mail: &Fields, key: &str) -> Vec<Mailbox> {
    let Some(items) = mail.array(r, key, false) else { return Vec::new() };
    let path = mail.path.key(key);
    items.iter().enumerate().filter_map(|(i, v)| mailbox(r, v, path.index(i))).collect()
}

/// `features`: personalization for templating; tracking is accepted and not acted on.
fn features(r: &mut Report, block: &Fields, templating: Option<bool>) -> Vec<(String, String)> {
    let Some(features) = block.object_member(r, "features", false, BLOCK_FEATURE_KEYS) else { return Vec::new() };
    for key in ["openTracking", "linkTracking"] {
        features.not_acted_on(r, key, "sealmail does not track opens or clicks; ignored");
    }
    let Some(templ) = features.object_member(r, "templating", false, &["personalization"]) else { return Vec::new() };
    let Some(map) = templ.map_member(r, "personalization", false) else { return Vec::new() };
    if templating == Some(false) {
        r.warn(&map.path, WarningKind::IgnoredValue, "ignored: /job/features/templating/active is not true");
    }
    let members = map.members();
    if members.len() > MAX_PERSONALIZATION_KEYS {
        r.problem(
            &map.path,
            ProblemKind::TooMany,
            format!("has {} variables; at most {MAX_PERSONALIZATION_KEYS} are allowed", members.len()),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(members.len());
    for (name, value) in members {
        let text = match value {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            other => {
                type_problem(
                    r,
                    &map.path.key(name),
                    other,
                    "a string, number or boolean (personalization is a flat map)",
                );
                continue;
            }
        };
        out.push((name.clone(), text));
    }
    out
}
