//! JobRequests and configuration snippets the system tests share.

use serde_json::{Value, json};

/// A small PDF-like attachment, base64.
pub const STATEMENT_PDF: &str =
    "JVBERi0xLjQKJSBzYW1wbGUgaW52b2ljZQoxIDAgb2JqIDw8Pj4gZW5kb2JqCnRyYWlsZXIgPDw+PgolJUVPRgo=";

/// A secure job: one flagged `statement.pdf`, sealed into `<archive>.zip`, one block `to`.
pub fn secure_statement(subject: &str, archive: &str, to: &[String]) -> Value {
    let to: Vec<Value> = to.iter().map(|email| json!({ "email": email })).collect();
    json!({
        "job": { "features": {
            "antivirus": { "active": true },
            "secureDocument": { "active": true, "filename": archive },
        } },
        "mail": { "from": { "email": "Billing <billing@sender.example>" } },
        "subject": { "content": subject },
        "body": { "contentType": "text/plain", "content": "Your statement is attached." },
        "attachments": [ {
            "name": "statement.pdf",
            "contentType": "application/pdf",
            "content": STATEMENT_PDF,
            "secureDocument": true,
        } ],
        "recipients": [ { "mail": { "to": to } } ],
    })
}

/// `[callbacks]` for receivers on this machine (127.0.0.1 allow-listed past the SSRF guard):
/// `tries` tries 1 s apart, no jitter. More keys of the table may follow.
pub fn local_callbacks(tries: u64) -> String {
    format!(
        "[callbacks]\nallowed_callback_ranges = [\"127.0.0.1/32\"]\ntries = {tries}\nearly_interval_secs = 1\n\
         late_interval_secs = 1\njitter = 0.0\n"
    )
}

/// `[transport]` for a local test relay on `port`, in clear text.
pub fn plain_relay(port: u16, timeout_secs: u64) -> String {
    format!(
        "[transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nallow_insecure_smtp = true\ntimeout_secs = {timeout_secs}\n"
    )
}

/// `[antivirus]` for a server without scanners: flagged attachments are sealed unscanned (the
/// tests that are not about scanning need no clamd).
pub const UNSCANNED: &str = "[antivirus]\nallow_insecure_no_antivirus = true\n";

/// The configuration of a server that delivers to a local test relay on `port` unscanned and
/// calls back to receivers on this machine, `tries` tries per callback.
pub fn unscanned_relay_with_callbacks(port: u16, tries: u64) -> String {
    format!("{}{UNSCANNED}\n{}", plain_relay(port, 10), local_callbacks(tries))
}
