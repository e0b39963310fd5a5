//! The password mail (docs/secure-documents.md#the-password-mail): one per delivered recipient, addressed to that
//! recipient only, replying to the original message, with the archive's password as one
//! unbroken monospace token and how to open an AES-256 ZIP.
//!
//! The password must reach the reader whole: it stands on a line of its own (plain text)
//! or in a short `<code>` line (HTML), and the quoted-printable encoder never puts a soft
//! line break inside a run of ASCII letters and digits (see
//! [`super::transfer::quoted_printable_line`]), so even the encoded bytes hold it intact.
//! This module must never log, store or return the password anywhere but in the message.

use super::Envelope;
use super::date::rfc5322_date;
use super::header::{HeaderBlock, msg_id};
use super::part::Part;
use crate::request::address::Mailbox;

/// What the password mail says.
#[derive(Clone, Copy)]
pub struct PasswordMail<'a> {
    /// `From`: the original's `mimeFrom`, else `from`.
    pub from: &'a Mailbox,
    /// `To`: the one recipient this mail is for.
    pub to: &'a Mailbox,
    /// The subject, already prefix + original subject, decoded and trimmed
    /// ([`password_mail_subject`]).
    pub subject: &'a str,
    /// The archive's password (ASCII letters and digits).
    pub password: &'a str,
    /// The archive's file name, as attached to the original.
    pub archive_name: &'a str,
    /// The original's Message-ID, without angle brackets.
    pub original_message_id: &'a str,
}

impl std::fmt::Debug for PasswordMail<'_> {
    /// Everything but the password, which must never reach a log (docs/secure-documents.md#passwords).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordMail")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("password", &"<redacted>")
            .field("archive_name", &self.archive_name)
            .field("original_message_id", &self.original_message_id)
            .finish()
    }
}

/// Subject of the password mail: prefix + subject, trimmed (docs/secure-documents.md#the-password-mail). The subject is
/// trimmed, not the prefix: its trailing space (`Password for: `) separates the two.
pub fn password_mail_subject(prefix: &str, subject: &str) -> String {
    format!("{prefix}{}", subject.trim())
}

/// Renders the password mail for one recipient: `To` only that recipient, `In-Reply-To`
/// and `References` the original's Message-ID (RFC 5322 §3.6.4, so clients thread it with
/// the original), multipart/alternative of text/plain and text/html.
pub fn render_password_mail(mail: &PasswordMail<'_>, envelope: &Envelope<'_>) -> Vec<u8> {
    let mut h = HeaderBlock::new();
    h.structured("Date", &rfc5322_date(envelope.date_unix_ms));
    h.mailboxes("From", [mail.from]);
    h.mailboxes("To", [mail.to]);
    h.unstructured("Subject", mail.subject);
    h.structured("Message-ID", &msg_id(envelope.message_id));
    let original = msg_id(mail.original_message_id);
    h.structured("In-Reply-To", &original);
    h.structured("References", &original);
    h.structured("MIME-Version", "1.0");
    let body = Part::multipart(
        "alternative",
        vec![Part::text("plain", &plain_text(mail), None), Part::text("html", &html(mail), None)],
    );
    body.write_message(&h, envelope.boundary_seed)
}

/// How the sender is named in the text: the display name, else the address.
fn sender<'a>(mail: &PasswordMail<'a>) -> &'a str {
    mail.from.name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&mail.from.address)
}

/// The Linux command line, the file name quoted for a POSIX shell.
fn extract_command(archive_name: &str) -> String {
    format!("7z x '{}'", archive_name.replace('\'', r"'\''"))
}

/// The text/plain part. Windows Explorer and macOS Archive Utility only know ZipCrypto, not
/// WinZip AES (docs/secure-documents.md#the-archive), hence the list of programs that do.
fn plain_text(mail: &PasswordMail<'_>) -> String {
    let sender = sender(mail);
    let archive = mail.archive_name;
    let password = mail.password;
    let command = extract_command(archive);
    format!(
        "Hello,\n\
         \n\
         The message you received from {sender} has an encrypted attachment,\n\
         \"{archive}\". This is the password to open it:\n\
         \n\
         {password}\n\
         \n\
         The attachment is a ZIP archive encrypted with AES-256, which not every\n\
         program can open:\n\
         \n\
         - Windows: File Explorer cannot open it. Use 7-Zip (https://www.7-zip.org/)\n  \
           or WinRAR.\n\
         - macOS: Archive Utility (double-click in the Finder) cannot open it.\n  \
           Use Keka or The Unarchiver.\n\
         - Linux: run\n    \
             {command}\n  \
           (7-Zip, package 7zip or p7zip-full) and enter the password when asked.\n\
         \n\
         The password comes in this separate message so that the attachment and its\n\
         password never travel together. Please do not forward it.\n"
    )
}

/// The text/html part: the same text, the password in `<code>` on a short line of its own.
fn html(mail: &PasswordMail<'_>) -> String {
    let subject = escape(mail.subject);
    let sender = escape(sender(mail));
    let archive = escape(mail.archive_name);
    let password = escape(mail.password);
    let command = escape(&extract_command(mail.archive_name));
    format!(
        "<!DOCTYPE html>\n\
         <html>\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <title>{subject}</title>\n\
         </head>\n\
         <body style=\"font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#222\">\n\
         <p>Hello,</p>\n\
         <p>The message you received from {sender} has an encrypted attachment,\n\
         <strong>{archive}</strong>. This is the password to open it:</p>\n\
         <div style=\"font-family:Consolas,Menlo,monospace;font-size:20px;margin:16px 0\">\n\
         <code style=\"user-select:all\">{password}</code>\n\
         </div>\n\
         <p>The attachment is a ZIP archive encrypted with AES-256, which not every\n\
         program can open:</p>\n\
         <ul>\n\
         <li><strong>Windows:</strong> File Explorer cannot open it. Use\n\
         <a href=\"https://www.7-zip.org/\">7-Zip</a> or WinRAR.</li>\n\
         <li><strong>macOS:</strong> Archive Utility (double-click in the Finder)\n\
         cannot open it. Use Keka or The Unarchiver.</li>\n\
         <li><strong>Linux:</strong> run <code>{command}</code>\n\
         (7-Zip, package 7zip or p7zip-full) and enter the password when asked.</li>\n\
         </ul>\n\
         <p>The password comes in this separate message so that the attachment and\n\
         its password never travel together. Please do not forward it.</p>\n\
         </body>\n\
         </html>\n"
    )
}

/// HTML text escaping (also safe inside quoted attribute values).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;
    use crate::mime::test_support::{assert_wire_format, header};

    const PASSWORD: &str = "Ab3dEf7hKm9pQr2tUv5x";

    fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox { name: name.map(str::to_owned), address: address.to_owned() }
    }

    fn render(from: &Mailbox, to: &Mailbox, subject: &str, archive_name: &str, password: &str) -> Vec<u8> {
        let mail =
            PasswordMail { from, to, subject, password, archive_name, original_message_id: "orig.42@sealmail.example" };
        let envelope =
            Envelope { message_id: "pw.42@sealmail.example", date_unix_ms: 1_795_950_840_000, boundary_seed: "pw42" };
        render_password_mail(&mail, &envelope)
    }

    /// The raw (still transfer-encoded) bodies of the leaf parts, split at the boundaries.
    fn encoded_leaf_bodies(bytes: &[u8]) -> Vec<String> {
        let raw = String::from_utf8(bytes.to_vec()).unwrap();
        raw.split("--=_sealmail_")
            .skip(1)
            .filter_map(|section| section.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()))
            .filter(|body| !body.is_empty())
            .collect()
    }

    #[test]
    fn password_mail_parses_back() {
        let from = mailbox(Some("Billing Dept."), "billing@sender.example");
        let to = mailbox(Some("Max Müller"), "max@recipient.example");
        let subject = password_mail_subject("Password for: ", "  Grüße – Ihr Vertrag ");
        let bytes = render(&from, &to, &subject, "Rechnung-Müller.zip", PASSWORD);
        assert_wire_format(&bytes);

        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), Some("Password for: Grüße – Ihr Vertrag"));
        let to: Vec<_> =
            m.to().unwrap().iter().map(|a| (a.name().unwrap().to_owned(), a.address().unwrap().to_owned())).collect();
        assert_eq!(to, [("Max Müller".to_owned(), "max@recipient.example".to_owned())]);
        assert!(m.cc().is_none() && m.bcc().is_none());
        assert_eq!(m.from().unwrap().first().unwrap().address(), Some("billing@sender.example"));
        assert_eq!(m.in_reply_to().as_text(), Some("orig.42@sealmail.example"));
        assert_eq!(header(&bytes, "References").unwrap(), "<orig.42@sealmail.example>");
        assert_eq!(m.message_id(), Some("pw.42@sealmail.example"));
        assert_eq!(m.date().unwrap().year, 2026);
        assert_eq!(m.root_part().content_type().unwrap().subtype(), Some("alternative"));

        let text = m.body_text(0).unwrap();
        assert!(text.lines().any(|l| l == PASSWORD), "password not on its own line:\n{text}");
        let html = m.body_html(0).unwrap();
        assert!(html.contains(&format!("<code style=\"user-select:all\">{PASSWORD}</code>")), "{html}");
        for body in [text.as_ref(), html.as_ref()] {
            for needed in [
                "Rechnung-Müller.zip",
                "AES-256",
                "7-Zip",
                "WinRAR",
                "Keka",
                "The Unarchiver",
                "7z x",
                "Archive Utility",
            ] {
                assert!(body.contains(needed), "{needed} missing:\n{body}");
            }
        }

        let leaves = encoded_leaf_bodies(&bytes);
        assert_eq!(leaves.len(), 2);
        for encoded in leaves {
            assert!(encoded.contains(PASSWORD), "password broken in the encoded bytes:\n{encoded}");
        }
    }

    #[test]
    fn password_stays_whole_whatever_surrounds_it() {
        // Long, non-ASCII and markup-laden names shift every line; the password, at the
        // longest strength, must still be one token in both encoded parts.
        let password = "Zx9Wv8Tu7Sr6Qp5Nm4Lk";
        for n in 0..40 {
            let from = mailbox(Some(&format!("{}Ä & <Co> \"Ltd\"", "Ö".repeat(n))), "s@example.com");
            let to = mailbox(None, "r@example.org");
            let archive = format!("{}'s <file>.zip", "Überweisungsträger-".repeat(n % 5 + 1));
            let bytes = render(&from, &to, &"Password for: ß".repeat(n + 1), &archive, password);
            assert_wire_format(&bytes);
            for encoded in encoded_leaf_bodies(&bytes) {
                assert!(encoded.contains(password), "n = {n}:\n{encoded}");
            }
            let m = MessageParser::default().parse(&bytes).unwrap();
            let html = m.body_html(0).unwrap();
            assert!(html.contains("&lt;file&gt;.zip") && !html.contains("<file>"));
            assert!(html.contains("&lt;Co&gt;"));
            assert!(
                m.body_text(0)
                    .unwrap()
                    .contains(&format!("7z x '{}'\\''s <file>.zip'", "Überweisungsträger-".repeat(n % 5 + 1)))
            );
        }
    }

    #[test]
    fn to_is_only_the_one_recipient_even_without_a_name() {
        let from = mailbox(None, "s@example.com");
        let to = mailbox(None, "only@example.org");
        let bytes = render(&from, &to, "Password for: x", "documents.zip", PASSWORD);
        assert_eq!(header(&bytes, "To").unwrap(), "only@example.org");
        // The text names the sender by address when it has no display name.
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert!(m.body_text(0).unwrap().contains("from s@example.com has"));
    }

    #[test]
    fn subject_prefix_and_trim() {
        assert_eq!(password_mail_subject("Password for: ", "  Invoice\t42  "), "Password for: Invoice\t42");
        assert_eq!(password_mail_subject("Kennwort: ", "Grüße"), "Kennwort: Grüße");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let from = mailbox(None, "s@example.com");
        let mail = PasswordMail {
            from: &from,
            to: &from,
            subject: "s",
            password: PASSWORD,
            archive_name: "a.zip",
            original_message_id: "x@y",
        };
        assert!(!format!("{mail:?}").contains(PASSWORD));
    }

    #[test]
    fn rendering_is_deterministic() {
        let from = mailbox(Some("A"), "a@example.com");
        let a = render(&from, &from, "s", "a.zip", PASSWORD);
        let b = render(&from, &from, "s", "a.zip", PASSWORD);
        assert_eq!(a, b);
    }
}
