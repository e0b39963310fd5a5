//! SMTP replies turned into per-recipient outcomes: the reply-code classes of RFC 5321 §4.2.1
//! and the enhanced status codes of RFC 3463 that servers put at the start of the reply text
//! (RFC 2034 §4).
//!
//! This module only interprets text it is given; it never talks to a server.

use crate::envelope::RecipientOutcome;

/// The RFC 3463 enhanced status code at the start of `text`, e.g. `"5.1.1"` in
/// `"5.1.1 User unknown"`, if present and well-formed.
///
/// Grammar (RFC 3463 §2): `class "." subject "." detail`, class one of 2/4/5, subject and
/// detail 1–3 digits. A code whose class disagrees with the reply code's class (a `250` reply
/// with `5.1.1`) is malformed and ignored, so the outcome never contradicts the reply code.
pub fn enhanced_status(code: u16, text: &str) -> Option<String> {
    let token = text.split_whitespace().next()?;
    let mut parts = token.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let class_ok = matches!(class, "2" | "4" | "5") && class == (code / 100).to_string();
    (class_ok && digits(subject) && digits(detail)).then(|| token.to_owned())
}

/// The outcome a final reply (`code` and its text, lines joined) means for a recipient.
///
/// RFC 5321 §4.2.1: 2yz is a positive completion, 4yz a transient failure worth repeating,
/// 5yz a permanent one. Anything else (1yz, 3yz) is not a legal final reply: treated as a
/// transient failure so the mail is retried rather than counted as delivered or bounced.
pub(crate) fn outcome_for_reply(code: u16, text: &str) -> RecipientOutcome {
    let reply = format_reply(code, text);
    let enhanced = enhanced_status(code, text);
    match code / 100 {
        2 => RecipientOutcome::Delivered { reply },
        5 => RecipientOutcome::Permanent { code, enhanced, reply },
        4 => RecipientOutcome::Temporary { code: Some(code), enhanced, reply },
        _ => {
            RecipientOutcome::Temporary { code: Some(code), enhanced: None, reply: format!("unexpected reply {reply}") }
        }
    }
}

/// A temporary outcome for a failure without a usable reply (connection, TLS, timeout, a
/// step that failed before any recipient was named).
pub(crate) fn temporary(reason: impl Into<String>) -> RecipientOutcome {
    RecipientOutcome::Temporary { code: None, enhanced: None, reply: reason.into() }
}

/// A temporary outcome that carries the server's reply that caused it (e.g. a `535` to AUTH:
/// a session-level refusal that says nothing about the recipient, so it is not a bounce).
pub(crate) fn temporary_with_reply(context: &str, code: u16, text: &str) -> RecipientOutcome {
    RecipientOutcome::Temporary {
        code: Some(code),
        enhanced: enhanced_status(code, text),
        reply: format!("{context}: {}", format_reply(code, text)),
    }
}

/// `"550 5.1.1 User unknown"`: the code and the text as a server would print them.
pub(crate) fn format_reply(code: u16, text: &str) -> String {
    if text.is_empty() { code.to_string() } else { format!("{code} {text}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_status_is_read_from_the_start_of_the_text() {
        assert_eq!(enhanced_status(550, "5.1.1 User unknown").as_deref(), Some("5.1.1"));
        assert_eq!(enhanced_status(451, "4.3.0 Try again").as_deref(), Some("4.3.0"));
        assert_eq!(enhanced_status(250, "2.0.0 Ok: queued as 4F").as_deref(), Some("2.0.0"));
        assert_eq!(enhanced_status(554, "5.7.125 blocked").as_deref(), Some("5.7.125"));
    }

    #[test]
    fn malformed_or_absent_enhanced_status_is_none() {
        assert_eq!(enhanced_status(550, "User unknown"), None);
        assert_eq!(enhanced_status(550, ""), None);
        assert_eq!(enhanced_status(550, "4.1.1 class disagrees with the reply"), None);
        assert_eq!(enhanced_status(550, "5.1 too short"), None);
        assert_eq!(enhanced_status(550, "5.1.1.1 too long"), None);
        assert_eq!(enhanced_status(550, "5.1234.1 subject too long"), None);
        assert_eq!(enhanced_status(550, "3.1.1 no such class"), None);
        assert_eq!(enhanced_status(550, "5.a.1 not digits"), None);
    }

    #[test]
    fn reply_classes_map_to_outcomes() {
        assert_eq!(outcome_for_reply(250, "2.0.0 Ok"), RecipientOutcome::Delivered { reply: "250 2.0.0 Ok".into() });
        assert_eq!(
            outcome_for_reply(550, "5.1.1 User unknown"),
            RecipientOutcome::Permanent {
                code: 550,
                enhanced: Some("5.1.1".into()),
                reply: "550 5.1.1 User unknown".into()
            }
        );
        assert_eq!(
            outcome_for_reply(451, "Try again"),
            RecipientOutcome::Temporary { code: Some(451), enhanced: None, reply: "451 Try again".into() }
        );
        assert!(matches!(outcome_for_reply(354, "go ahead"), RecipientOutcome::Temporary { code: Some(354), .. }));
    }
}
