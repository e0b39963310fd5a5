//! Header fields: RFC 5322 §2.2 syntax with §2.2.3 folding, RFC 2047 encoded-words for text
//! that is not plain ASCII, and mailbox lists (RFC 5322 §3.4).
//!
//! Every value goes through [`one_line`] first: the validator already refuses CR and LF in
//! header values, but this module must never be the place where one gets in (a CR/LF in a
//! value would start a new header field or the body, RFC 5322 §2.2).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::request::address::Mailbox;

/// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters (excluding CRLF).
pub(crate) const SOFT_LINE: usize = 78;
/// RFC 5322 §2.1.1: lines MUST be at most 998 octets (excluding CRLF).
pub(crate) const HARD_LINE: usize = 998;

/// UTF-8 bytes per encoded-word: 42 bytes are 56 base64 characters, so a word is
/// `=?UTF-8?B?` + 56 + `?=` = 68 characters, within RFC 2047 §2's 75, and `Reply-To: ` plus
/// one word still fits in 78 columns.
const ENCODED_WORD_BYTES: usize = 42;

/// A header section being built: each field folded and CRLF-terminated, in push order.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeaderBlock {
    out: String,
}

impl HeaderBlock {
    /// An empty header section.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The fields written so far, each ending in CRLF.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.out.as_bytes()
    }

    /// A structured field made of space-separated tokens that may be folded between them
    /// (`Date`, `MIME-Version`, `Content-Transfer-Encoding`, `Message-ID`).
    pub(crate) fn structured(&mut self, name: &str, value: &str) {
        let value = one_line(value);
        let words: Vec<String> = value.split_ascii_whitespace().map(|w| format!(" {w}")).collect();
        self.push_words(name, &words, false);
    }

    /// A field from pre-built words; see [`fold`]. Used with [`super::param`] for
    /// `Content-Type` and `Content-Disposition`.
    pub(crate) fn push_words(&mut self, name: &str, words: &[String], fold_first: bool) {
        // A token that cannot fit in 998 octets even on a line of its own (only an
        // absurdly long Message-ID or URI from a request could be one) cannot be sent
        // without breaking it; the field is left out rather than sent broken.
        if let Some(field) = fold(name, words, fold_first) {
            self.out.push_str(&field);
        }
    }

    /// An unstructured field (RFC 5322 §3.2.5 `unstructured`: `Subject`, `X-…`).
    ///
    /// Plain ASCII is folded at its own white space, so unfolding (§2.2.3) gives back the
    /// exact value. Anything else (non-ASCII, a literal `=?` that a reader would try to
    /// decode, a word too long for one line) becomes RFC 2047 encoded-words, which carry
    /// the white space inside them.
    pub(crate) fn unstructured(&mut self, name: &str, value: &str) {
        let value = one_line(value);
        let tokens = wsp_tokens(&value);
        let plain = value.is_ascii() && !value.contains("=?") && tokens.iter().all(|t| t.len() <= HARD_LINE);
        if plain {
            self.push_words(name, &tokens, false);
            return;
        }
        let words: Vec<String> = encoded_words(&value).into_iter().map(|w| format!(" {w}")).collect();
        // A long `X-` name leaves no room for an encoded-word on the first line.
        let fold_first = words.first().is_some_and(|w| name.len() + 1 + w.len() > SOFT_LINE);
        self.push_words(name, &words, fold_first);
    }

    /// An address-list field (RFC 5322 §3.4 `mailbox-list`): `From`, `To`, `Cc`, `Reply-To`.
    pub(crate) fn mailboxes<'m>(&mut self, name: &str, list: impl IntoIterator<Item = &'m Mailbox>) {
        let mut words: Vec<String> = Vec::new();
        for mailbox in list {
            if let Some(last) = words.last_mut() {
                last.push(',');
            }
            words.extend(mailbox_words(mailbox));
        }
        if !words.is_empty() {
            self.push_words(name, &words, false);
        }
    }
}

/// Lays out one field: `name:` then `words`, each of which starts with white space (the
/// place where it may be folded, RFC 5322 §2.2.3: folding inserts CRLF *before* existing
/// white space, so unfolding restores the value).
///
/// The first word stays on the name's line unless `fold_first` or the line would pass 998
/// octets; later words go to a new line when the current one would pass 78 characters.
/// `None` when a word cannot fit in 998 octets at all.
pub(crate) fn fold(name: &str, words: &[String], fold_first: bool) -> Option<String> {
    let mut out = String::with_capacity(name.len() + 2 + words.iter().map(|w| w.len() + 2).sum::<usize>());
    out.push_str(name);
    out.push(':');
    let mut line = out.len();
    for (i, word) in words.iter().enumerate() {
        let fold = if i == 0 { fold_first || line + word.len() > HARD_LINE } else { line + word.len() > SOFT_LINE };
        if fold {
            out.push_str("\r\n");
            line = 0;
        }
        if line + word.len() > HARD_LINE {
            return None;
        }
        out.push_str(word);
        line += word.len();
    }
    out.push_str("\r\n");
    Some(out)
}

/// `s` with every control character but tab replaced by a space: a header value is one line.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| c != '\t' && c.is_control()) {
        Cow::Owned(s.chars().map(|c| if c != '\t' && c.is_control() { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// RFC 5322 §3.6.4 `msg-id` from an id with or without its angle brackets: `<id>`, with
/// anything that is not printable ASCII (or is a bracket) dropped, so the result is one
/// unbreakable token.
pub(crate) fn msg_id(id: &str) -> String {
    let inner: String = id.chars().filter(|c| c.is_ascii_graphic() && *c != '<' && *c != '>').collect();
    format!("<{inner}>")
}

/// Splits text at white space into fold units: each unit is a run of white space followed
/// by a run of other characters (the first unit gets one space after the colon); trailing
/// white space stays with the last unit so that no line is white space only (§2.2.3).
fn wsp_tokens(value: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::from(" ");
    let mut in_word = false;
    for c in value.chars() {
        let wsp = c == ' ' || c == '\t';
        if wsp && in_word {
            tokens.push(std::mem::take(&mut current));
            in_word = false;
        }
        in_word |= !wsp;
        current.push(c);
    }
    if in_word {
        tokens.push(current);
    } else if let Some(last) = tokens.last_mut() {
        last.push_str(&current);
    }
    tokens
}

/// RFC 2047 §4.1 `B` encoded-words of `text`, each at most [`ENCODED_WORD_BYTES`] of UTF-8 so
/// the word stays within 75 characters (§2), and split only between characters: §5 requires
/// each encoded-word to hold whole characters (a reader decodes each word on its own).
/// Empty text gives no words.
pub(crate) fn encoded_words(text: &str) -> Vec<String> {
    let word = |chunk: &str| format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk));
    let mut words = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > ENCODED_WORD_BYTES {
            words.push(word(&text[start..i]));
            start = i;
        }
    }
    if start < text.len() {
        words.push(word(&text[start..]));
    }
    words
}

/// RFC 5322 §3.2.3 `atext`: the characters an atom may have.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// The folding words of a display name (RFC 5322 §3.2.5 `phrase`): atoms as they are,
/// ASCII with specials (`Doe, Jane`) as one quoted-string (§3.2.4) with `"` and `\`
/// escaped, and anything else (non-ASCII, a literal `=?`, a quoted-string too long for a
/// line) as RFC 2047 encoded-words, which §5(3) allows in a phrase.
fn phrase_words(name: &str) -> Vec<String> {
    let name = one_line(name);
    let name = name.trim();
    if name.is_ascii() && !name.contains("=?") {
        let atoms: Vec<&str> = name.split_ascii_whitespace().collect();
        if atoms.iter().all(|a| a.len() < SOFT_LINE && a.chars().all(is_atext)) {
            return atoms.into_iter().map(|a| format!(" {a}")).collect();
        }
        let quoted = quoted_string(name);
        if quoted.len() < SOFT_LINE {
            return vec![format!(" {quoted}")];
        }
    }
    encoded_words(name).into_iter().map(|w| format!(" {w}")).collect()
}

/// RFC 5322 §3.2.4 quoted-string of ASCII text: `"` and `\` become quoted-pairs.
pub(crate) fn quoted_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The folding words of one mailbox (RFC 5322 §3.4): `name <address>`, or the bare address.
fn mailbox_words(mailbox: &Mailbox) -> Vec<String> {
    // The validator guarantees an ASCII address without white space or controls; dropping
    // anything else keeps a broken model from breaking the field.
    let address: String = mailbox.address.chars().filter(|c| !c.is_control()).collect();
    match mailbox.name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(name) => {
            let mut words = phrase_words(name);
            words.push(format!(" <{address}>"));
            words
        }
        None => vec![format!(" {address}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(f: impl FnOnce(&mut HeaderBlock)) -> String {
        let mut h = HeaderBlock::new();
        f(&mut h);
        String::from_utf8(h.as_bytes().to_vec()).unwrap()
    }

    fn unfold(s: &str) -> String {
        s.trim_end_matches("\r\n").replace("\r\n", "")
    }

    fn assert_line_lengths(s: &str, max: usize) {
        for line in s.split("\r\n") {
            assert!(line.len() <= max, "line of {} > {max}: {line:?}", line.len());
        }
    }

    fn decode_words(value: &str) -> String {
        value
            .split_ascii_whitespace()
            .map(|w| {
                let b64 = w.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
                String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn short_ascii_subject_is_one_line() {
        assert_eq!(field(|h| h.unstructured("Subject", "Hello there")), "Subject: Hello there\r\n");
    }

    #[test]
    fn long_ascii_subject_folds_at_white_space_and_unfolds_exactly() {
        let subject =
            "The quick brown fox jumps over the lazy dog;\tand again, the quick brown fox jumps over  the lazy dog";
        let out = field(|h| h.unstructured("Subject", subject));
        assert!(out.matches("\r\n").count() > 1, "{out}");
        assert_line_lengths(&out, SOFT_LINE);
        assert_eq!(unfold(&out), format!("Subject: {subject}"));
        // Folding happens before white space: no continuation line starts with a non-space.
        assert!(out.split("\r\n").skip(1).filter(|l| !l.is_empty()).all(|l| l.starts_with([' ', '\t'])));
    }

    #[test]
    fn a_word_longer_than_a_line_is_kept_whole_when_it_fits_998() {
        let token = "a".repeat(200);
        let out = field(|h| h.unstructured("X-Token", &format!("x {token} y")));
        assert_eq!(out, format!("X-Token: x\r\n {token}\r\n y\r\n"));
    }

    #[test]
    fn a_word_longer_than_998_becomes_encoded_words() {
        let token = "b".repeat(998);
        let out = field(|h| h.unstructured("Subject", &token));
        assert!(out.starts_with("Subject: =?UTF-8?B?"));
        assert_line_lengths(&out, SOFT_LINE);
        assert_eq!(decode_words(unfold(&out).strip_prefix("Subject:").unwrap()), token);
    }

    #[test]
    fn non_ascii_subject_is_encoded_words_within_limits() {
        let subject = "Grüße – Ihr Vertrag über 😀😀😀 und noch viel mehr Text, der umbrochen werden muss";
        let out = field(|h| h.unstructured("Subject", subject));
        assert_line_lengths(&out, SOFT_LINE);
        let value = unfold(&out);
        for word in value.strip_prefix("Subject:").unwrap().split_ascii_whitespace() {
            assert!(word.len() <= 75, "{word}");
        }
        assert_eq!(decode_words(value.strip_prefix("Subject:").unwrap()), subject);
    }

    #[test]
    fn encoded_words_split_only_between_characters() {
        // 3-byte and 4-byte characters at every alignment against the 42-byte chunk size.
        for prefix in 0..4 {
            let text = format!("{}{}", "a".repeat(prefix), "€😀".repeat(30));
            let words = encoded_words(&text);
            assert!(words.len() > 1);
            for w in &words {
                assert!(w.len() <= 75);
                let b64 = w.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
                // Every word decodes to valid UTF-8 on its own.
                String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
            }
            assert_eq!(decode_words(&words.join(" ")), text);
        }
        assert!(encoded_words("").is_empty());
    }

    #[test]
    fn literal_encoded_word_syntax_is_encoded_so_it_round_trips() {
        let out = field(|h| h.unstructured("Subject", "=?utf-8?q?hi?="));
        assert!(out.starts_with("Subject: =?UTF-8?B?"));
    }

    #[test]
    fn long_header_name_folds_before_the_first_encoded_word() {
        let name = format!("X-{}", "n".repeat(70));
        let out = field(|h| h.unstructured(&name, "é"));
        assert_eq!(out, format!("{name}:\r\n =?UTF-8?B?w6k=?=\r\n"));
    }

    #[test]
    fn control_characters_never_reach_the_output() {
        let out = field(|h| h.unstructured("Subject", "a\r\nBcc: x@y.example\0"));
        assert_eq!(out, "Subject: a  Bcc: x@y.example \r\n");
        let m = Mailbox { name: Some("Eve\r\nBcc: e@x".into()), address: "e@x.example".into() };
        let out = field(|h| h.mailboxes("To", [&m]));
        assert_eq!(out.matches("\r\n").count(), 1, "{out}");
    }

    #[test]
    fn mailboxes_quote_or_encode_display_names() {
        let list = [
            Mailbox { name: Some("Jane Doe".into()), address: "jane@example.org".into() },
            Mailbox { name: Some("Doe, \"JJ\" Jane".into()), address: "jj@example.org".into() },
            Mailbox { name: None, address: "bare@example.org".into() },
            Mailbox { name: Some("Jörg Müller".into()), address: "j@example.org".into() },
            Mailbox { name: Some("John Q. Public".into()), address: "q@example.org".into() },
        ];
        let out = field(|h| h.mailboxes("To", &list));
        assert_line_lengths(&out, SOFT_LINE);
        assert_eq!(
            unfold(&out),
            "To: Jane Doe <jane@example.org>, \"Doe, \\\"JJ\\\" Jane\" <jj@example.org>, bare@example.org, \
             =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <j@example.org>, \"John Q. Public\" <q@example.org>"
        );
    }

    #[test]
    fn message_ids_get_one_pair_of_brackets() {
        assert_eq!(msg_id("abc@x.example"), "<abc@x.example>");
        assert_eq!(msg_id("<abc@x.example>"), "<abc@x.example>");
        assert_eq!(msg_id(" <a b\r\n@x> "), "<ab@x>");
    }

    #[test]
    fn empty_list_writes_no_field() {
        assert_eq!(field(|h| h.mailboxes("Cc", [])), "");
    }

    #[test]
    fn unfittable_token_leaves_the_field_out() {
        let id = format!("<{}@x>", "i".repeat(996));
        assert_eq!(field(|h| h.structured("In-Reply-To", &id)), "");
        let id = format!("<{}@x>", "i".repeat(990));
        assert_eq!(field(|h| h.structured("In-Reply-To", &id)), format!("In-Reply-To:\r\n {id}\r\n"));
        let id = format!("<{}@x>", "i".repeat(980));
        assert_eq!(field(|h| h.structured("In-Reply-To", &id)), format!("In-Reply-To: {id}\r\n"));
    }
}
