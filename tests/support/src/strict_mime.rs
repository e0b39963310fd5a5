//! Wire-format checks of a rendered message by a parser we did not write: Python's `email`
//! package under `email.policy.strict` (every defect is an error), plus the RFC 5322 §2.1.1
//! and §2.3 rules it does not enforce itself (CRLF line ends only, lines of at most 998
//! octets).

/// Parses stdin strictly, walks every part, reads every header (header defects are found
/// when a header is parsed) and every leaf's content (transfer-encoding defects are found
/// when it is decoded); prints one line per defect.
const STRICT_PARSE: &str = r#"
import sys
from email import policy
from email.parser import BytesParser
data = sys.stdin.buffer.read()
try:
    msg = BytesParser(policy=policy.strict).parse(__import__("io").BytesIO(data))
except Exception as e:
    print("parse: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
problems = []
for i, part in enumerate(msg.walk()):
    where = "part %d (%s)" % (i, part.get_content_type())
    problems += ["%s: %r" % (where, d) for d in part.defects]
    for name, value in part.items():
        problems += ["%s: header %s: %r" % (where, name, d) for d in getattr(value, "defects", ())]
    if not part.is_multipart():
        try:
            part.get_content()
        except Exception as e:
            problems.append("%s: content: %s: %s" % (where, type(e).__name__, e))
        problems += ["%s: after decoding: %r" % (where, d) for d in part.defects]
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(sum(1 for _ in msg.walk()))
"#;

/// Checks `message` as described in the module documentation. `Ok` holds how many MIME
/// parts Python found; `Err` lists every problem.
pub fn check_strict_mime(message: &[u8]) -> Result<usize, String> {
    let mut problems = wire_format_problems(message);
    let parts = match crate::python(STRICT_PARSE, &[], message) {
        Ok(out) => out.trim().parse::<usize>().ok(),
        Err(e) => {
            problems.push(format!("python email (policy.strict): {e}"));
            None
        }
    };
    match parts {
        Some(parts) if problems.is_empty() => Ok(parts),
        _ => Err(problems.join("\n")),
    }
}

/// Bare CR, bare LF and lines over 998 octets (without the CRLF), by line number.
fn wire_format_problems(message: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    if !message.ends_with(b"\r\n") {
        problems.push("does not end with CRLF".to_owned());
    }
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let Some(content) = line.strip_suffix(b"\r") else {
            if i + 1 < message.split(|&b| b == b'\n').count() {
                problems.push(format!("line {line_no}: bare LF"));
            }
            continue;
        };
        if content.contains(&b'\r') {
            problems.push(format!("line {line_no}: bare CR"));
        }
        if content.len() > 998 {
            problems.push(format!("line {line_no}: {} octets (at most 998)", content.len()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\
        Message-ID: <1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";

    #[test]
    fn a_clean_message_passes_and_damage_is_found() {
        assert_eq!(check_strict_mime(GOOD), Ok(1));
        let bare_lf = [GOOD, b"second\n"].concat();
        assert!(check_strict_mime(&bare_lf).unwrap_err().contains("bare LF"));
        let bare_cr = [GOOD, b"a\rb\r\n"].concat();
        assert!(check_strict_mime(&bare_cr).unwrap_err().contains("bare CR"));
        let long = [GOOD, &vec![b'x'; 999][..], b"\r\n"].concat();
        assert!(check_strict_mime(&long).unwrap_err().contains("999 octets"));
        // A multipart without its boundary is a defect Python reports (policy.strict raises).
        let broken = b"From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n";
        assert!(check_strict_mime(broken).unwrap_err().contains("python email"));
        let bad_base64 = b"From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\
            Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=x\r\n";
        assert!(check_strict_mime(bad_base64).is_err());
    }
}
