//! MIME header parameters (RFC 2045 §5.1 `; attribute=value`) for `Content-Type` and
//! `Content-Disposition`, including file names that are not plain ASCII: RFC 2231 extended
//! values (`filename*=UTF-8''…`, with §3 continuations for long names) and the
//! RFC 2047-inside-quotes `name="=?UTF-8?B?…?="` form that Outlook and older clients read.
//!
//! Produces folding words for [`super::header::fold`]; never writes CR or LF itself.

use super::header::{SOFT_LINE, encoded_words, one_line, quoted_string};

/// A field value with its parameters, as folding words (each starting with a space).
#[derive(Debug, Clone)]
pub(crate) struct Params {
    words: Vec<String>,
}

impl Params {
    /// Starts a field whose value is `value` (`text/plain`, `attachment`).
    pub(crate) fn new(value: &str) -> Self {
        Self { words: vec![format!(" {value}")] }
    }

    /// The folding words, `;` already placed between parameters.
    pub(crate) fn words(&self) -> &[String] {
        &self.words
    }

    fn push(&mut self, word: String) {
        if let Some(last) = self.words.last_mut() {
            last.push(';');
        }
        self.words.push(word);
    }

    /// `attribute=value` with a value that is an RFC 2045 §5.1 token (`charset=utf-8`).
    pub(crate) fn token(mut self, attribute: &str, value: &str) -> Self {
        self.push(format!(" {attribute}={value}"));
        self
    }

    /// `attribute="value"` (RFC 2045 §5.1 quoted-string) for printable ASCII values such as
    /// boundaries, which contain the tspecial `=` and so must be quoted.
    pub(crate) fn quoted(mut self, attribute: &str, value: &str) -> Self {
        self.push(format!(" {attribute}={}", quoted_string(&one_line(value))));
        self
    }

    /// A file name the RFC 2231 way (`filename`): a plain quoted-string when the name is
    /// printable ASCII and fits a line, else `attribute*=UTF-8''percent-encoded`, split into
    /// `attribute*0*=`, `attribute*1*=`, … continuations (RFC 2231 §3, §4.1) when it would
    /// not fit in 78 columns. Segments end between characters, so a reader that decodes each
    /// segment on its own still gets whole characters.
    pub(crate) fn extended(mut self, attribute: &str, value: &str) -> Self {
        let value = one_line(value);
        if is_plain(&value) {
            let word = format!(" {attribute}={}", quoted_string(&value));
            if word.len() < SOFT_LINE {
                self.push(word);
                return self;
            }
        }
        let pieces: Vec<String> = value.chars().map(percent_encode).collect();
        let single = format!(" {attribute}*=UTF-8''{}", pieces.concat());
        if single.len() < SOFT_LINE {
            self.push(single);
            return self;
        }
        let mut n = 0;
        let mut current = format!(" {attribute}*0*=UTF-8''");
        let mut empty = true;
        for piece in pieces {
            // +1 for the `;` that follows every segment but the last.
            if !empty && current.len() + piece.len() + 1 > SOFT_LINE {
                self.push(std::mem::take(&mut current));
                n += 1;
                current = format!(" {attribute}*{n}*=");
            }
            current.push_str(&piece);
            empty = false;
        }
        self.push(current);
        self
    }

    /// A name for readers that do not know RFC 2231 (`name` of `Content-Type`): a plain
    /// quoted-string when printable ASCII, else RFC 2047 encoded-words inside the quotes.
    /// RFC 2047 §5 does not allow encoded-words in a quoted-string, but Outlook, Gmail and
    /// most clients write and read them there; RFC 2231 readers use `filename*` instead.
    pub(crate) fn encoded(mut self, attribute: &str, value: &str) -> Self {
        let value = one_line(value);
        if is_plain(&value) {
            self.push(format!(" {attribute}={}", quoted_string(&value)));
            return self;
        }
        let words = encoded_words(&value);
        let last = words.len().saturating_sub(1);
        for (i, word) in words.into_iter().enumerate() {
            let open = if i == 0 { format!("{attribute}=\"") } else { String::new() };
            let close = if i == last { "\"" } else { "" };
            let word = format!(" {open}{word}{close}");
            // Only the first word is a new parameter; the others continue its quoted value
            // (the white space between them is folding white space, RFC 5322 §3.2.4).
            if i == 0 {
                self.push(word);
            } else {
                self.words.push(word);
            }
        }
        self
    }
}

/// Printable ASCII without `=?` (which a reader might take for an encoded-word).
fn is_plain(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (0x20..0x7f).contains(&b)) && !value.contains("=?")
}

/// RFC 2231 §7 `extended-other-values`: a character as itself when it is an attribute-char
/// (the RFC 5987 §3.2.1 `attr-char` set, which leaves out every tspecial), else `%XX` of each
/// of its UTF-8 bytes.
fn percent_encode(c: char) -> String {
    if c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c) {
        return c.to_string();
    }
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(p: &Params) -> String {
        p.words().concat()
    }

    #[test]
    fn ascii_file_name_is_a_quoted_string() {
        let p = Params::new("attachment").extended("filename", "plain \"x\".txt");
        assert_eq!(joined(&p), " attachment; filename=\"plain \\\"x\\\".txt\"");
    }

    #[test]
    fn non_ascii_file_name_is_rfc2231() {
        let p = Params::new("attachment").extended("filename", "vertrag ä.pdf");
        assert_eq!(joined(&p), " attachment; filename*=UTF-8''vertrag%20%C3%A4.pdf");
    }

    #[test]
    fn long_file_name_uses_numbered_continuations_within_78_columns() {
        let name = format!("{}.pdf", "Überweisungsträger-".repeat(8));
        let p = Params::new("attachment").extended("filename", &name);
        let words = p.words();
        assert!(words.len() > 3);
        assert!(words[1].starts_with(" filename*0*=UTF-8''"));
        assert!(words[2].starts_with(" filename*1*="));
        assert!(words.iter().all(|w| w.len() <= SOFT_LINE), "{words:?}");
        // Segments end between characters: every segment's %XX bytes decode to UTF-8.
        for w in &words[1..] {
            let value = w.trim_end_matches(';').split_once("*=").unwrap().1.trim_start_matches("UTF-8''");
            let mut bytes = Vec::new();
            let mut rest = value.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                if b == b'%' {
                    bytes.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
                    rest = &tail[2..];
                } else {
                    bytes.push(b);
                    rest = tail;
                }
            }
            String::from_utf8(bytes).unwrap();
        }
    }

    #[test]
    fn encoded_name_fallback_keeps_quotes_around_all_words() {
        let p = Params::new("application/pdf").encoded("name", &"ä".repeat(30));
        let text = joined(&p);
        assert!(text.starts_with(" application/pdf; name=\"=?UTF-8?B?"), "{text}");
        assert!(text.ends_with("?=\""));
        assert_eq!(text.matches('"').count(), 2);
        let p = Params::new("text/plain").encoded("name", "plain.txt");
        assert_eq!(joined(&p), " text/plain; name=\"plain.txt\"");
    }
}
