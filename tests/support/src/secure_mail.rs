//! Reading a secure job's mails back: the archive of an original and the password of its
//! password mail (docs/secure-documents.md#the-password-mail), parsed with mail-parser, an
//! independent MIME parser.

use mail_parser::{MessageParser, MimeHeaders};

/// The bytes of the `.zip` attachment of an original, if it has one.
pub fn archive_of(data: &[u8]) -> Option<Vec<u8>> {
    let message = MessageParser::default().parse(data)?;
    message
        .parts
        .iter()
        .find(|p| p.attachment_name().is_some_and(|n| n.ends_with(".zip")))
        .map(|p| p.contents().to_vec())
}

/// The password of a password mail: the first non-empty line of its text after "This is the
/// password to open it:".
pub fn password_of(data: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse(data)?;
    let text = message.body_text(0)?;
    let mut lines = text.lines().skip_while(|l| !l.ends_with("password to open it:")).skip(1);
    lines.find(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned())
}
