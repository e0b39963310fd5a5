//! The hostile-input suite: well over a hundred crafted `POST /rest/v1/jobs`
//! requests sent over HTTP to one real `sealmail serve`, in eleven categories — malformed
//! JSON, wrong types, huge values, header injection, path traversal and NUL in attachment
//! names, invalid base64/quoted-printable, charset tricks, address limits, oversized bodies,
//! duplicate JSON keys and Unicode confusables (slow clients are `hostile_slow.rs`).
//!
//! Each case states the exact status, error `code` and — for a refused JobRequest — the
//! exact list of problems (JSON Pointer and kind, docs/validation.md): "some 4xx" is not
//! enough, a client must be told *where* its request is wrong. All mismatches are collected
//! and reported together. Afterwards the server must still be healthy, must still deliver an
//! ordinary job end to end (no worker is stuck), must never have answered 5xx, and its
//! stderr must show no panic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mail_parser::MessageParser;
use sealmail_test_support::{ACCOUNT, Sealmail, SmtpServer, SmtpServerConfig, jobs};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `[limits]` of the server under attack: small enough that the oversized cases cost
/// little to send, the same code paths as the defaults (28 MiB, 20 MB, 1,000 addresses).
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
const MAX_MESSAGE_BYTES: usize = 700_000;
const MAX_ADDRESSES: usize = 20;

/// No single refusal may take longer than this (two busy cores; a refusal is milliseconds).
const PER_CASE: Duration = Duration::from_secs(10);

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A valid request touching every field the cases mutate (sent as is first: it is accepted,
/// so each refusal below is caused by its mutation alone).
fn base() -> Value {
    json!({
        "job": { "referenceJob": "ref-4711", "costCenter": "finance" },
        "mail": {
            "from": { "email": "Sender <sender@sender.example>" },
            "replyTo": { "email": "reply@sender.example" },
            "inReplyTo": "<earlier@sender.example>",
            "xHeaders": { "X-Campaign": "november" },
        },
        "subject": { "content": "Your documents" },
        "body": { "contentType": "text/plain", "content": "Hello there" },
        "attachments": [ {
            "name": "report.pdf",
            "contentType": "application/pdf",
            "content": jobs::STATEMENT_PDF,
        } ],
        "recipients": [ {
            "mail": { "to": [ { "email": "Recipient <rcpt@recipient.example>" } ] },
            "reference": "rcpt-1",
        } ],
    })
}

/// [`base`] with Secure Document Handling on and its attachment flagged.
fn secure() -> Value {
    let mut v = base();
    set(
        &mut v,
        "/job/features",
        json!({
            "antivirus": { "active": true },
            "secureDocument": { "active": true, "filename": "Statement", "password": { "type": "high" } },
        }),
    );
    set(&mut v, "/attachments/0/secureDocument", json!(true));
    v
}

/// [`base`] with a callback endpoint.
fn with_callback() -> Value {
    let mut v = base();
    set(
        &mut v,
        "/notification",
        json!({ "endPoint": {
        "url": "https://hooks.customer.example/events",
        "headers": { "x-customer": "acme" },
    } }),
    );
    v
}

/// [`base`] with templating on and a personalization map in the block.
fn templated() -> Value {
    let mut v = base();
    set(&mut v, "/job/features", json!({ "templating": { "active": true } }));
    set(&mut v, "/subject", json!({ "template": "Hello ${name}" }));
    set(&mut v, "/recipients/0/features", json!({ "templating": { "personalization": { "name": "Jane" } } }));
    v
}

/// Sets the value at RFC 6901 `pointer` (no escapes), creating objects on the way.
fn set(v: &mut Value, pointer: &str, value: Value) {
    let mut at = v;
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        at = match at {
            Value::Array(items) => {
                let idx: usize = seg.parse().expect("array index");
                if last {
                    items[idx] = value;
                    return;
                }
                &mut items[idx]
            }
            Value::Object(map) => {
                if last {
                    map.insert((*seg).to_owned(), value);
                    return;
                }
                map.entry((*seg).to_owned()).or_insert_with(|| json!({}))
            }
            other => panic!("{pointer}: cannot descend into {other}"),
        };
    }
    *at = value;
}

/// `base` with `pointer` set to `value`.
fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    set(&mut base, pointer, value);
    base
}

/// What a case must get back.
struct Expect {
    status: u16,
    code: &'static str,
    /// The exact problems (pointer, kind), in the server's order; empty when the refusal is
    /// the HTTP layer's (no `problems` member then).
    problems: Vec<(String, &'static str)>,
}

/// How a case's body is sent.
enum Transfer {
    /// One request with `Content-Length`.
    Plain { content_type: &'static str },
    /// `Transfer-Encoding: chunked`, in 64 KiB chunks, over a raw socket (no length known
    /// in advance: the server must count).
    Chunked,
    /// As JSON, with one more HTTP header (raw bytes: obs-text included).
    Header { name: &'static str, value: &'static [u8] },
}

struct Case {
    category: &'static str,
    name: String,
    body: Vec<u8>,
    send: Transfer,
    expect: Expect,
}

/// The categories, in report order.
const MALFORMED: &str = "malformed JSON";
const TYPES: &str = "wrong types";
const HUGE: &str = "huge values";
const INJECTION: &str = "header injection";
const TRAVERSAL: &str = "path traversal / NUL in names";
const ENCODING: &str = "invalid base64 / QP";
const CHARSET: &str = "charset tricks";
const ADDRESSES: &str = "address limits";
const OVERSIZED: &str = "oversized bodies";
const DUPLICATES: &str = "duplicate JSON keys";
const CONFUSABLES: &str = "Unicode confusables";

/// Collects the cases.
#[derive(Default)]
struct Table(Vec<Case>);

impl Table {
    /// A refused JobRequest: `400 INVALID_REQUEST` with exactly `problems`.
    fn raw(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        body: Vec<u8>,
        problems: &[(&str, &'static str)],
    ) {
        self.0.push(Case {
            category,
            name: name.into(),
            body,
            send: Transfer::Plain { content_type: "application/json" },
            expect: Expect {
                status: 400,
                code: "INVALID_REQUEST",
                problems: problems.iter().map(|(p, k)| ((*p).to_owned(), *k)).collect(),
            },
        });
    }

    /// [`Table::raw`] for a JSON value.
    fn json(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        body: Value,
        problems: &[(&str, &'static str)],
    ) {
        self.raw(category, name, serde_json::to_vec(&body).expect("serializable"), problems);
    }

    /// [`Table::json`] with problems built at run time.
    fn listed(&mut self, category: &'static str, name: &str, body: Value, problems: Vec<(String, &'static str)>) {
        self.json(category, name, body, &[]);
        if let Some(case) = self.0.last_mut() {
            case.expect.problems = problems;
        }
    }

    /// [`Table::json`] with one problem.
    fn one(&mut self, category: &'static str, name: impl Into<String>, body: Value, path: &str, kind: &'static str) {
        self.json(category, name, body, &[(path, kind)]);
    }

    /// A refusal by the HTTP layer (no `problems`).
    fn http(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        body: Vec<u8>,
        send: Transfer,
        status: u16,
        code: &'static str,
    ) {
        self.0.push(Case {
            category,
            name: name.into(),
            body,
            send,
            expect: Expect { status, code, problems: Vec::new() },
        });
    }
}

fn malformed_json(t: &mut Table) {
    let whole = &[("", "malformed-json")][..];
    let good = serde_json::to_string(&base()).unwrap();
    t.raw(MALFORMED, "empty body", Vec::new(), whole);
    t.raw(MALFORMED, "only white space", b" \r\n\t ".to_vec(), whole);
    t.raw(MALFORMED, "trailing comma", good.replacen("}]", "},]", 1).into_bytes(), whole);
    t.raw(MALFORMED, "trailing garbage after the object", format!("{good} x").into_bytes(), whole);
    t.raw(MALFORMED, "two objects back to back", format!("{good}{good}").into_bytes(), whole);
    t.raw(MALFORMED, "truncated in the middle", good.as_bytes()[..good.len() / 2].to_vec(), whole);
    t.raw(MALFORMED, "single-quoted keys", b"{'mail': {}}".to_vec(), whole);
    t.raw(MALFORMED, "unquoted key", b"{mail: {}}".to_vec(), whole);
    t.raw(MALFORMED, "NaN literal", b"{\"subject\": NaN}".to_vec(), whole);
    t.raw(MALFORMED, "a comment", format!("/* hi */{good}").into_bytes(), whole);
    t.raw(MALFORMED, "lone UTF-16 surrogate escape", b"{\"subject\": {\"content\": \"\\ud800\"}}".to_vec(), whole);
    t.raw(MALFORMED, "raw control character in a string", b"{\"subject\": {\"content\": \"a\x01b\"}}".to_vec(), whole);
    t.raw(MALFORMED, "1,000 levels of nesting", "[".repeat(1000).into_bytes(), whole);
    t.raw(
        MALFORMED,
        "129 nested objects",
        format!("{}1{}", "{\"a\":".repeat(129), "}".repeat(129)).into_bytes(),
        whole,
    );
}

fn wrong_types(t: &mut Table) {
    t.one(TYPES, "root is an array", json!([base()]), "", "wrong-type");
    t.one(TYPES, "root is a string", json!("mail"), "", "wrong-type");
    t.one(TYPES, "root is a number", json!(42), "", "wrong-type");
    t.one(TYPES, "subject is a string", with(base(), "/subject", json!("Hello")), "/subject", "wrong-type");
    t.one(
        TYPES,
        "recipients is an object",
        with(base(), "/recipients", json!({ "to": [] })),
        "/recipients",
        "wrong-type",
    );
    t.one(
        TYPES,
        "to is a string",
        with(base(), "/recipients/0/mail/to", json!("a@b.example")),
        "/recipients/0/mail/to",
        "wrong-type",
    );
    t.one(TYPES, "email is a number", with(base(), "/mail/from/email", json!(12345)), "/mail/from/email", "wrong-type");
    t.one(
        TYPES,
        "email is an array",
        with(base(), "/mail/replyTo/email", json!(["a@b.example"])),
        "/mail/replyTo/email",
        "wrong-type",
    );
    t.one(
        TYPES,
        "attachment content is a number",
        with(base(), "/attachments/0/content", json!(1)),
        "/attachments/0/content",
        "wrong-type",
    );
    t.one(
        TYPES,
        "attachments is an object",
        with(base(), "/attachments", json!({ "name": "a" })),
        "/attachments",
        "wrong-type",
    );
    t.one(
        TYPES,
        "secureDocument flag is a number",
        with(secure(), "/attachments/0/secureDocument", json!(1)),
        "/attachments/0/secureDocument",
        "wrong-type",
    );
    t.one(
        TYPES,
        "antivirus active is the string \"true\"",
        with(base(), "/job/features/antivirus/active", json!("true")),
        "/job/features/antivirus/active",
        "wrong-type",
    );
    t.one(
        TYPES,
        "xHeaders is an array",
        with(base(), "/mail/xHeaders", json!([["X-A", "1"]])),
        "/mail/xHeaders",
        "wrong-type",
    );
    t.one(
        TYPES,
        "xHeader value is an object",
        with(base(), "/mail/xHeaders/X-Campaign", json!({ "v": 1 })),
        "/mail/xHeaders/X-Campaign",
        "wrong-type",
    );
    t.one(
        TYPES,
        "personalization value is an object",
        with(templated(), "/recipients/0/features/templating/personalization/name", json!({ "first": "Jane" })),
        "/recipients/0/features/templating/personalization/name",
        "wrong-type",
    );
    t.one(
        TYPES,
        "subject content is null",
        with(base(), "/subject/content", Value::Null),
        "/subject/content",
        "null-value",
    );
}

fn huge_values(t: &mut Table) {
    t.one(
        HUGE,
        "subject of 501 characters",
        with(base(), "/subject/content", json!("s".repeat(501))),
        "/subject/content",
        "too-long",
    );
    t.one(
        HUGE,
        "subject of 200,000 characters",
        with(base(), "/subject/content", json!("ü".repeat(200_000))),
        "/subject/content",
        "too-long",
    );
    t.one(
        HUGE,
        "attachment name of 256 characters",
        with(base(), "/attachments/0/name", json!(format!("{}.pdf", "n".repeat(252)))),
        "/attachments/0/name",
        "too-long",
    );
    t.one(
        HUGE,
        "block reference of 256 characters",
        with(base(), "/recipients/0/reference", json!("r".repeat(256))),
        "/recipients/0/reference",
        "too-long",
    );
    t.one(
        HUGE,
        "referenceJob of 100,000 characters",
        with(base(), "/job/referenceJob", json!("j".repeat(100_000))),
        "/job/referenceJob",
        "too-long",
    );
    t.one(
        HUGE,
        "xHeader value of 999 characters",
        with(base(), "/mail/xHeaders/X-Campaign", json!("v".repeat(999))),
        "/mail/xHeaders/X-Campaign",
        "too-long",
    );
    let long_name = format!("X-{}", "n".repeat(75));
    t.one(
        HUGE,
        "xHeader name of 77 characters",
        with(base(), &format!("/mail/xHeaders/{long_name}"), json!("1")),
        &format!("/mail/xHeaders/{long_name}"),
        "invalid-header-name",
    );
    t.one(
        HUGE,
        "callback URL of 1,001 characters",
        with(
            with_callback(),
            "/notification/endPoint/url",
            json!(format!("https://hooks.customer.example/{}", "u".repeat(970))),
        ),
        "/notification/endPoint/url",
        "too-long",
    );
    t.one(
        HUGE,
        "subjectPrefix of 101 characters",
        with(secure(), "/job/features/secureDocument/subjectPrefix", json!("p".repeat(101))),
        "/job/features/secureDocument/subjectPrefix",
        "too-long",
    );
    // serde_json refuses numbers beyond f64's range instead of making them infinite.
    t.raw(
        HUGE,
        "number 1e400",
        br#"{"job": {"features": {"antivirus": {"active": 1e400}}}}"#.to_vec(),
        &[("", "malformed-json")],
    );
    t.raw(
        HUGE,
        "60-digit integer as the antivirus flag",
        br#"{"job": {"features": {"antivirus": {"active": 123456789012345678901234567890123456789012345678901234567890}}}, "mail": {"from": {"email": "a@b.example"}}, "subject": {"content": "x"}, "recipients": [{"mail": {"to": [{"email": "c@d.example"}]}}]}"#.to_vec(),
        &[("/job/features/antivirus/active", "wrong-type")],
    );
}

fn header_injection(t: &mut Table) {
    let hi = "header-injection";
    t.one(
        INJECTION,
        "CRLF + Bcc in the subject",
        with(base(), "/subject/content", json!("Hi\r\nBcc: victim@evil.example")),
        "/subject/content",
        hi,
    );
    t.one(
        INJECTION,
        "bare LF in the subject",
        with(base(), "/subject/content", json!("Hi\nX-Evil: 1")),
        "/subject/content",
        hi,
    );
    t.one(
        INJECTION,
        "bare CR in the subject",
        with(base(), "/subject/content", json!("Hi\rthere")),
        "/subject/content",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF hidden in a base64 subject",
        with(
            base(),
            "/subject",
            json!({ "content": b64(b"Hi\r\nBcc: victim@evil.example"), "contentEncoding": "base64" }),
        ),
        "/subject/content",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF hidden in a Q encoded-word subject",
        with(
            base(),
            "/subject",
            json!({ "content": "=?UTF-8?Q?Hi=0D=0ABcc:_victim@evil.example?=", "contentEncoding": "quoted-printable" }),
        ),
        "/subject/content",
        hi,
    );
    t.one(
        INJECTION,
        "U+2028 line separator in the subject",
        with(base(), "/subject/content", json!("Hi\u{2028}Bcc: victim@evil.example")),
        "/subject/content",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in the sender's display name",
        with(base(), "/mail/from/email", json!("Evil\r\nBcc: victim@evil.example <sender@sender.example>")),
        "/mail/from/email",
        hi,
    );
    t.one(
        INJECTION,
        "LF after a recipient address",
        with(base(), "/recipients/0/mail/to/0/email", json!("rcpt@recipient.example\nBcc: victim@evil.example")),
        "/recipients/0/mail/to/0/email",
        hi,
    );
    t.one(
        INJECTION,
        "CR in replyTo",
        with(base(), "/mail/replyTo/email", json!("reply@sender.example\rX-Evil: 1")),
        "/mail/replyTo/email",
        hi,
    );
    t.one(
        INJECTION,
        "NEL (U+0085) in a display name",
        with(base(), "/mail/from/email", json!("Evil\u{85}Bcc <sender@sender.example>")),
        "/mail/from/email",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in an xHeader value",
        with(base(), "/mail/xHeaders/X-Campaign", json!("nov\r\nBcc: victim@evil.example")),
        "/mail/xHeaders/X-Campaign",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in an xHeader name",
        with(base(), "/mail/xHeaders/X-A\r\nBcc", json!("victim@evil.example")),
        "/mail/xHeaders/X-A\r\nBcc",
        "invalid-header-name",
    );
    t.one(
        INJECTION,
        "xHeader named Bcc",
        with(base(), "/mail/xHeaders/Bcc", json!("victim@evil.example")),
        "/mail/xHeaders/Bcc",
        "invalid-header-name",
    );
    t.one(
        INJECTION,
        "xHeader named Content-Type in a block",
        with(base(), "/recipients/0/mail/xHeaders", json!({ "Content-Type": "text/html" })),
        "/recipients/0/mail/xHeaders/Content-Type",
        "invalid-header-name",
    );
    t.one(
        INJECTION,
        "xHeader name with a colon",
        with(base(), "/mail/xHeaders/X-A: 1\r\nBcc", json!("x")),
        "/mail/xHeaders/X-A: 1\r\nBcc",
        "invalid-header-name",
    );
    t.one(
        INJECTION,
        "CRLF in an attachment name",
        with(base(), "/attachments/0/name", json!("a.pdf\r\nContent-Type: text/html")),
        "/attachments/0/name",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in an attachment contentType",
        with(base(), "/attachments/0/contentType", json!("text/html\r\nX-Evil: 1")),
        "/attachments/0/contentType",
        hi,
    );
    t.one(
        INJECTION,
        "LF in a block reference",
        with(base(), "/recipients/0/reference", json!("r1\nX-Evil: 1")),
        "/recipients/0/reference",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in inReplyTo",
        with(base(), "/mail/inReplyTo", json!("<a@b>\r\nBcc: victim@evil.example")),
        "/mail/inReplyTo",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in a callback header",
        with(with_callback(), "/notification/endPoint/headers/x-customer", json!("acme\r\nHost: evil.example")),
        "/notification/endPoint/headers/x-customer",
        hi,
    );
    t.one(
        INJECTION,
        "CRLF in the password mail's subjectPrefix",
        with(secure(), "/job/features/secureDocument/subjectPrefix", json!("Password\r\nBcc: x@evil.example")),
        "/job/features/secureDocument/subjectPrefix",
        hi,
    );
    // The pointer names the key exactly, escaped per RFC 6901 (`~1` = `/`, `~0` = `~`).
    t.one(
        INJECTION,
        "CRLF under an xHeader named X-a/b~c",
        with(base(), "/mail/xHeaders", json!({ "X-a/b~c": "v\r\nBcc: x@evil.example" })),
        "/mail/xHeaders/X-a~1b~0c",
        hi,
    );
    let good = serde_json::to_vec(&base()).unwrap();
    let key = |value: &'static [u8]| Transfer::Header { name: "idempotency-key", value };
    t.http(
        INJECTION,
        "Idempotency-Key with obs-text bytes",
        good.clone(),
        key(b"order-\xc3\xa4-1"),
        400,
        "INVALID_IDEMPOTENCY_KEY",
    );
    t.http(
        INJECTION,
        "Idempotency-Key of 256 characters",
        good.clone(),
        key(&[b'k'; 256]),
        400,
        "INVALID_IDEMPOTENCY_KEY",
    );
    t.http(INJECTION, "empty Idempotency-Key", good, key(b""), 400, "INVALID_IDEMPOTENCY_KEY");
}

fn traversal(t: &mut Table) {
    let name = "/attachments/0/name";
    for (what, bad) in [
        ("../../etc/passwd", "../../etc/passwd"),
        ("Windows traversal", "..\\..\\Windows\\System32\\evil.dll"),
        ("an absolute path", "/etc/passwd"),
        ("a drive path", "C:\\boot.ini"),
        ("a path that climbs back", "reports/../../../x.pdf"),
        ("\"..\"", ".."),
        ("\".\"", "."),
        ("dots and spaces", ". . ."),
    ] {
        t.one(TRAVERSAL, format!("attachment name: {what}"), with(base(), name, json!(bad)), name, "invalid-value");
    }
    t.one(
        TRAVERSAL,
        "sealed attachment named ../../x.pdf",
        with(secure(), name, json!("../../x.pdf")),
        name,
        "invalid-value",
    );
    t.one(
        TRAVERSAL,
        "NUL before a second extension",
        with(base(), name, json!("invoice.pdf\u{0}.exe")),
        name,
        "header-injection",
    );
    t.one(TRAVERSAL, "a name that is only NUL", with(base(), name, json!("\u{0}")), name, "header-injection");
    t.one(
        TRAVERSAL,
        "NUL in a sealed attachment's name",
        with(secure(), name, json!("a\u{0}b.pdf")),
        name,
        "header-injection",
    );
    t.one(
        TRAVERSAL,
        "NUL in the archive file name",
        with(secure(), "/job/features/secureDocument/filename", json!("docs\u{0}.exe")),
        "/job/features/secureDocument/filename",
        "header-injection",
    );
    t.one(
        TRAVERSAL,
        "NUL in a Content-ID",
        with(base(), "/attachments/0/contentId", json!("logo\u{0}@x")),
        "/attachments/0/contentId",
        "header-injection",
    );
}

fn bad_encodings(t: &mut Table) {
    let content = "/attachments/0/content";
    let ie = "invalid-encoding";
    t.one(ENCODING, "attachment: not base64 at all", with(base(), content, json!("this is not base64!")), content, ie);
    t.one(ENCODING, "attachment: base64url alphabet", with(base(), content, json!("bm-_ZQ")), content, ie);
    t.one(ENCODING, "attachment: padding in the middle", with(base(), content, json!("bm=FtZQ==")), content, ie);
    t.one(ENCODING, "attachment: impossible length", with(base(), content, json!("bmFtZ")), content, ie);
    t.one(ENCODING, "attachment: too much padding", with(base(), content, json!("bmFtZQ===")), content, ie);
    t.one(ENCODING, "attachment: NUL inside the base64", with(base(), content, json!("bmFt\u{0}ZQ==")), content, ie);
    t.one(
        ENCODING,
        "body: invalid base64",
        with(base(), "/body", json!({ "content": "SGVsbG8*", "contentEncoding": "base64" })),
        "/body/content",
        ie,
    );
    t.one(
        ENCODING,
        "body: QP escape with non-hex digits",
        with(base(), "/body", json!({ "content": "50% =G0 off", "contentEncoding": "quoted-printable" })),
        "/body/content",
        ie,
    );
    t.one(
        ENCODING,
        "body: QP '=' at the very end",
        with(base(), "/body", json!({ "content": "trailing =", "contentEncoding": "quoted-printable" })),
        "/body/content",
        ie,
    );
    t.one(
        ENCODING,
        "subject: invalid base64",
        with(base(), "/subject", json!({ "content": "@@@@", "contentEncoding": "base64" })),
        "/subject/content",
        ie,
    );
    t.one(
        ENCODING,
        "subject: unterminated encoded-word",
        with(base(), "/subject", json!({ "content": "=?UTF-8?Q?abc", "contentEncoding": "quoted-printable" })),
        "/subject/content",
        ie,
    );
    t.one(
        ENCODING,
        "subject: encoded-word in encoding X",
        with(base(), "/subject", json!({ "content": "=?UTF-8?X?abc?=", "contentEncoding": "quoted-printable" })),
        "/subject/content",
        ie,
    );
    t.one(
        ENCODING,
        "alternative: broken QP",
        with(
            with(base(), "/body", json!({ "contentType": "text/html", "content": "<p>x</p>" })),
            "/alternative",
            json!({ "content": "=Z1", "contentEncoding": "quoted-printable" }),
        ),
        "/alternative/content",
        ie,
    );
    t.one(
        ENCODING,
        "unknown contentEncoding",
        with(base(), "/body/contentEncoding", json!("base65")),
        "/body/contentEncoding",
        "invalid-value",
    );
    t.one(
        ENCODING,
        "unknown contentTransferEncoding",
        with(base(), "/body/contentTransferEncoding", json!("uuencode")),
        "/body/contentTransferEncoding",
        "invalid-value",
    );
}

fn charset_tricks(t: &mut Table) {
    let good = serde_json::to_vec(&base()).unwrap();
    let splice = |bytes: &[u8]| {
        let text = String::from_utf8(good.clone()).unwrap();
        let at = text.find("Your documents").unwrap();
        let mut out = good[..at].to_vec();
        out.extend_from_slice(bytes);
        out.extend_from_slice(&good[at..]);
        out
    };
    let not_utf8 = &[("", "not-utf8")][..];
    t.raw(CHARSET, "a Latin-1 byte in the body", splice(b"Gr\xfc\xdfe "), not_utf8);
    t.raw(CHARSET, "overlong UTF-8 '/' (C0 AF)", splice(b"\xc0\xaf"), not_utf8);
    t.raw(CHARSET, "overlong UTF-8 NUL (C0 80, Java's modified UTF-8)", splice(b"\xc0\x80"), not_utf8);
    t.raw(CHARSET, "UTF-8-encoded surrogate (CESU-8)", splice(b"\xed\xa0\x80"), not_utf8);
    t.raw(CHARSET, "a code point beyond U+10FFFF", splice(b"\xf4\x90\x80\x80"), not_utf8);
    let utf16: Vec<u8> = String::from_utf8(good.clone()).unwrap().encode_utf16().flat_map(u16::to_le_bytes).collect();
    t.raw(CHARSET, "the whole body in UTF-16LE", [&[0xff, 0xfe][..], &utf16].concat(), not_utf8);
    t.raw(
        CHARSET,
        "two byte order marks",
        [&b"\xef\xbb\xbf\xef\xbb\xbf"[..], &good].concat(),
        &[("", "malformed-json")],
    );
    t.http(
        CHARSET,
        "Content-Type charset=iso-8859-1",
        good.clone(),
        Transfer::Plain { content_type: "application/json; charset=iso-8859-1" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    t.http(
        CHARSET,
        "Content-Type charset=utf-7",
        good.clone(),
        Transfer::Plain { content_type: "application/json; charset=\"UTF-7\"" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    t.http(
        CHARSET,
        "Content-Type text/plain",
        good.clone(),
        Transfer::Plain { content_type: "text/plain" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    t.one(
        CHARSET,
        "charset UTF-7 (not a WHATWG encoding)",
        with(base(), "/body/charset", json!("UTF-7")),
        "/body/charset",
        "invalid-value",
    );
    t.one(
        CHARSET,
        "charset that does not exist",
        with(base(), "/subject/charset", json!("klingon")),
        "/subject/charset",
        "invalid-value",
    );
    t.one(
        CHARSET,
        "charset iso-2022-kr (decodes nothing)",
        with(base(), "/body/charset", json!("iso-2022-kr")),
        "/body/charset",
        "invalid-value",
    );
    t.one(
        CHARSET,
        "base64 of overlong UTF-8 declared UTF-8",
        with(
            base(),
            "/body",
            json!({ "content": b64(b"a\xc0\xafb"), "contentEncoding": "base64", "charset": "UTF-8" }),
        ),
        "/body/content",
        "invalid-encoding",
    );
    t.one(
        CHARSET,
        "Latin-1 bytes declared UTF-8",
        with(
            base(),
            "/body",
            json!({ "content": "Gr=FC=DFe", "contentEncoding": "quoted-printable", "charset": "utf-8" }),
        ),
        "/body/content",
        "invalid-encoding",
    );
    t.one(
        CHARSET,
        "odd byte count declared UTF-16",
        with(
            base(),
            "/body",
            json!({ "content": b64(b"\xff\xfeh\x00i"), "contentEncoding": "base64", "charset": "UTF-16" }),
        ),
        "/body/content",
        "invalid-encoding",
    );
    t.one(
        CHARSET,
        "encoded-word in an unknown charset",
        with(base(), "/subject", json!({ "content": "=?x-klingon?Q?abc?=", "contentEncoding": "quoted-printable" })),
        "/subject/content",
        "invalid-encoding",
    );
    t.one(
        CHARSET,
        "encoded-word with invalid UTF-8",
        with(base(), "/subject", json!({ "content": "=?UTF-8?Q?=FF=FE?=", "contentEncoding": "quoted-printable" })),
        "/subject/content",
        "invalid-encoding",
    );
    t.one(
        CHARSET,
        "encoded-word hiding a CRLF in Latin-1",
        with(
            base(),
            "/subject",
            json!({ "content": "=?ISO-8859-1?B?SGkNCkJjYzogeEBldmlsLmV4YW1wbGU=?=", "contentEncoding": "base64" }),
        ),
        "/subject/content",
        "header-injection",
    );
}

fn address_limits(t: &mut Table) {
    let to = "/recipients/0/mail/to/0/email";
    let ia = "invalid-address";
    t.one(
        ADDRESSES,
        "local part of 65 characters",
        with(base(), to, json!(format!("{}@recipient.example", "l".repeat(65)))),
        to,
        ia,
    );
    t.one(
        ADDRESSES,
        "domain label of 64 characters",
        with(base(), to, json!(format!("a@{}.example", "d".repeat(64)))),
        to,
        ia,
    );
    let long_domain = vec!["d".repeat(63); 5].join(".");
    t.one(ADDRESSES, "domain of 319 characters", with(base(), to, json!(format!("a@{long_domain}"))), to, ia);
    let address_255 = format!("{}@{}.{}.{}.example", "l".repeat(64), "a".repeat(60), "b".repeat(60), "c".repeat(60));
    assert_eq!(address_255.len(), 255);
    t.one(
        ADDRESSES,
        "address of 255 characters (RFC 5321 §4.5.3.1: at most 254)",
        with(base(), to, json!(address_255)),
        to,
        ia,
    );
    let many: Vec<Value> = (0..=MAX_ADDRESSES).map(|i| json!({ "email": format!("r{i}@recipient.example") })).collect();
    t.one(
        ADDRESSES,
        "one address more than max_addresses",
        with(base(), "/recipients/0/mail/to", json!(many)),
        "/recipients",
        "too-many",
    );
    let blocks: Vec<Value> = (0..=MAX_ADDRESSES)
        .map(|i| json!({ "mail": { "bcc": [ { "email": format!("b{i}@recipient.example") } ] } }))
        .collect();
    t.one(
        ADDRESSES,
        "max_addresses + 1 spread over bcc blocks",
        with(base(), "/recipients", json!(blocks)),
        "/recipients",
        "too-many",
    );
    t.one(ADDRESSES, "IPv4 literal out of range", with(base(), to, json!("a@[999.0.0.1]")), to, ia);
    t.one(ADDRESSES, "IPv6 literal that is not one", with(base(), to, json!("a@[IPv6:zz::1]")), to, ia);
    t.one(ADDRESSES, "bare IP without brackets, with a port", with(base(), to, json!("a@127.0.0.1:25")), to, ia);
    t.one(
        ADDRESSES,
        "quoted local part with NUL",
        with(base(), to, json!("\"a\u{0}b\"@recipient.example")),
        to,
        "header-injection",
    );
    t.one(
        ADDRESSES,
        "quoted local part with a raw quote",
        with(base(), to, json!("\"a\"b\"@recipient.example")),
        to,
        ia,
    );
    t.one(
        ADDRESSES,
        "two addresses in one field",
        with(base(), to, json!("a@recipient.example, b@recipient.example")),
        to,
        ia,
    );
    t.one(
        ADDRESSES,
        "empty local part",
        with(base(), "/mail/from/email", json!("@sender.example")),
        "/mail/from/email",
        ia,
    );
    t.one(
        ADDRESSES,
        "no '@'",
        with(base(), "/mail/replyTo/email", json!("reply.sender.example")),
        "/mail/replyTo/email",
        ia,
    );
    t.one(
        ADDRESSES,
        "source route (RFC 5321 §4.1.2, obsolete)",
        with(base(), to, json!("<@relay.example:a@recipient.example>")),
        to,
        ia,
    );
    t.one(ADDRESSES, "nested angle brackets", with(base(), to, json!("A <B <a@recipient.example>>")), to, ia);
}

fn oversized(t: &mut Table) {
    let filler = |n: usize| {
        let mut v = base();
        set(&mut v, "/body/content", json!("x".repeat(n)));
        serde_json::to_vec(&v).unwrap()
    };
    let json_ct = || Transfer::Plain { content_type: "application/json" };
    t.http(
        OVERSIZED,
        "max_request_bytes + 1 (Content-Length)",
        filler(MAX_REQUEST_BYTES + 1),
        json_ct(),
        413,
        "PAYLOAD_TOO_LARGE",
    );
    t.http(OVERSIZED, "3 MiB (Content-Length)", filler(3 * MAX_REQUEST_BYTES), json_ct(), 413, "PAYLOAD_TOO_LARGE");
    t.http(
        OVERSIZED,
        "max_request_bytes + 1, chunked",
        filler(MAX_REQUEST_BYTES + 1),
        Transfer::Chunked,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    t.http(OVERSIZED, "3 MiB, chunked", filler(3 * MAX_REQUEST_BYTES), Transfer::Chunked, 413, "PAYLOAD_TOO_LARGE");
    // Within the request limit, beyond the message limit once encoded.
    let attachment = b64(&vec![0x5a; MAX_MESSAGE_BYTES * 3 / 4 + 10_000]);
    t.one(
        OVERSIZED,
        "attachment whose message exceeds max_message_bytes",
        with(base(), "/attachments/0/content", json!(attachment)),
        "",
        "too-large",
    );
    let parts: Vec<Value> = (0..4)
        .map(|i| json!({ "name": format!("part{i}.bin"), "content": b64(&vec![i as u8; MAX_MESSAGE_BYTES / 4]) }))
        .collect();
    t.one(
        OVERSIZED,
        "four attachments adding up past max_message_bytes",
        with(base(), "/attachments", json!(parts)),
        "",
        "too-large",
    );
    t.one(
        OVERSIZED,
        "subject of 900,000 characters",
        with(base(), "/subject/content", json!("s".repeat(900_000))),
        "/subject/content",
        "too-long",
    );
    let values = format!("{{\"pad\": [{}0]}}", "0,".repeat(250_000));
    t.raw(OVERSIZED, "more than 250,000 JSON values", values.into_bytes(), &[("", "too-many")]);
    let headers: serde_json::Map<String, Value> = (0..51).map(|i| (format!("X-H{i}"), json!("v"))).collect();
    t.one(
        OVERSIZED,
        "51 xHeaders",
        with(base(), "/mail/xHeaders", Value::Object(headers)),
        "/mail/xHeaders",
        "too-many",
    );
    let vars: serde_json::Map<String, Value> = (0..201).map(|i| (format!("v{i}"), json!("x"))).collect();
    t.one(
        OVERSIZED,
        "201 personalization variables",
        with(templated(), "/recipients/0/features/templating/personalization", Value::Object(vars)),
        "/recipients/0/features/templating/personalization",
        "too-many",
    );
    // A template that multiplies a large personalization value: 100,000 × 200 KB rendered
    // would be 20 GB; the limit must be found without rendering it all.
    let mut bomb = with(templated(), "/body", json!({ "template": "${name}".repeat(100_000) }));
    set(&mut bomb, "/recipients/0/features/templating/personalization/name", json!("x".repeat(200_000)));
    set(&mut bomb, "/subject", json!({ "content": "Hi" }));
    t.one(OVERSIZED, "template expanding a 200 KB value 100,000 times", bomb, "/recipients/0", "too-large");
    // Within its 500 characters as written, 14 MB once rendered for the block.
    let mut subject_bomb = with(templated(), "/subject", json!({ "template": "${name}".repeat(70) }));
    set(&mut subject_bomb, "/recipients/0/features/templating/personalization/name", json!("x".repeat(200_000)));
    t.json(
        OVERSIZED,
        "subject template expanding a 200 KB value 70 times",
        subject_bomb,
        &[("/recipients/0", "too-large"), ("/subject/template", "too-long")],
    );
    // Parsing a template costs memory in proportion: one longer than the largest mail it
    // may render (max_rendered_bytes, 1 MB) is refused unparsed.
    t.one(
        OVERSIZED,
        "template longer than max_rendered_bytes",
        with(templated(), "/body", json!({ "template": "${name}".repeat(142_858) })),
        "/body/template",
        "too-long",
    );
    let names: String = (0..100_000).map(|i| format!("${{v{i}}}")).collect();
    t.one(
        OVERSIZED,
        "template needing 100,000 variables",
        with(templated(), "/body", json!({ "template": names })),
        "/body/template",
        "too-many",
    );
    // Every block lacks `mail`: 5,000 problems, of which the first 1,000 are listed and the
    // rest counted in one closing entry at "" (docs/validation.md).
    let empty_blocks: Vec<Value> = (0..5_000).map(|_| json!({})).collect();
    let mut listed: Vec<(String, &'static str)> =
        (0..1000).map(|i| (format!("/recipients/{i}/mail"), "missing")).collect();
    listed.push((String::new(), "too-many"));
    t.listed(OVERSIZED, "5,000 empty recipient blocks", with(base(), "/recipients", json!(empty_blocks)), listed);
    let addresses: Vec<Value> = (0..20_000).map(|i| json!({ "email": format!("r{i}@recipient.example") })).collect();
    t.one(
        OVERSIZED,
        "20,000 addresses",
        with(base(), "/recipients/0/mail/cc", json!(addresses)),
        "/recipients",
        "too-many",
    );
}

fn duplicate_keys(t: &mut Table) {
    let dk = "duplicate-key";
    let good = serde_json::to_string(&base()).unwrap();
    // Each case inserts a second member right after the first one's opening.
    let twice = |anchor: &str, extra: &str| {
        assert!(good.contains(anchor), "{anchor}");
        good.replacen(anchor, &format!("{anchor}{extra},"), 1).into_bytes()
    };
    t.raw(DUPLICATES, "subject twice", twice("{", r#""subject":{"content":"Other"}"#), &[("/subject", dk)]);
    t.raw(
        DUPLICATES,
        "subject thrice",
        twice("{", r#""subject":{"content":"A"},"subject":{"content":"B"}"#),
        &[("/subject", dk), ("/subject", dk)],
    );
    t.raw(
        DUPLICATES,
        "the same key spelt with an escape",
        twice("{", r#""\u0073ubject":{"content":"Other"}"#),
        &[("/subject", dk)],
    );
    t.raw(
        DUPLICATES,
        "recipients twice",
        twice("{", r#""recipients":[{"mail":{"to":[{"email":"other@evil.example"}]}}]"#),
        &[("/recipients", dk)],
    );
    t.raw(
        DUPLICATES,
        "email twice in from",
        twice(r#""from":{"#, r#""email":"ceo@sender.example""#),
        &[("/mail/from/email", dk)],
    );
    t.raw(
        DUPLICATES,
        "to twice in a block",
        twice(r#""recipients":[{"mail":{"#, r#""to":[{"email":"other@evil.example"}]"#),
        &[("/recipients/0/mail/to", dk)],
    );
    t.raw(
        DUPLICATES,
        "xHeader twice",
        twice(r#""xHeaders":{"#, r#""X-Campaign":"other""#),
        &[("/mail/xHeaders/X-Campaign", dk)],
    );
    t.raw(
        DUPLICATES,
        "attachment content twice",
        twice(r#""attachments":[{"#, r#""content":"bmFtZQ==""#),
        &[("/attachments/0/content", dk)],
    );
    let sec = serde_json::to_string(&secure()).unwrap();
    let flagged = sec.replacen(r#""secureDocument":true"#, r#""secureDocument":true,"secureDocument":false"#, 1);
    assert_ne!(flagged, sec);
    t.raw(
        DUPLICATES,
        "secureDocument flag true then false",
        flagged.into_bytes(),
        &[("/attachments/0/secureDocument", dk)],
    );
    let cb = serde_json::to_string(&with_callback()).unwrap();
    let cb = cb.replacen(r#""url":"#, r#""url":"https://evil.example/","url":"#, 1);
    t.raw(DUPLICATES, "callback url twice", cb.into_bytes(), &[("/notification/endPoint/url", dk)]);
    let tp = serde_json::to_string(&templated()).unwrap();
    let tp = tp.replacen(r#""personalization":{"#, r#""personalization":{"name":"Mallory","#, 1);
    t.raw(
        DUPLICATES,
        "personalization variable twice",
        tp.into_bytes(),
        &[("/recipients/0/features/templating/personalization/name", dk)],
    );
}

fn confusables(t: &mut Table) {
    let to = "/recipients/0/mail/to/0/email";
    let ia = "invalid-address";
    t.one(CONFUSABLES, "Cyrillic 'а' in the domain (аpple)", with(base(), to, json!("a@\u{430}pple.example")), to, ia);
    t.one(
        CONFUSABLES,
        "Greek omicron in the local part",
        with(base(), to, json!("inf\u{3bf}@recipient.example")),
        to,
        ia,
    );
    t.one(CONFUSABLES, "fullwidth '＠'", with(base(), to, json!("rcpt\u{ff20}recipient.example")), to, ia);
    t.one(
        CONFUSABLES,
        "fullwidth angle brackets",
        with(base(), to, json!("Bank \u{ff1c}rcpt@recipient.example\u{ff1e}")),
        to,
        ia,
    );
    t.one(
        CONFUSABLES,
        "zero-width space in the local part",
        with(base(), to, json!("rc\u{200b}pt@recipient.example")),
        to,
        ia,
    );
    t.one(
        CONFUSABLES,
        "zero-width joiner in the domain",
        with(base(), "/mail/from/email", json!("sender@send\u{200d}er.example")),
        "/mail/from/email",
        ia,
    );
    t.one(CONFUSABLES, "fullwidth digits in an IP literal", with(base(), to, json!("a@[\u{ff11}27.0.0.1]")), to, ia);
    t.one(
        CONFUSABLES,
        "RTL override in the sender's display name",
        with(base(), "/mail/from/email", json!("Your Bank \u{202e}moc.knab\u{202c} <sender@sender.example>")),
        "/mail/from/email",
        ia,
    );
    t.one(
        CONFUSABLES,
        "directional isolate in a recipient's name",
        with(base(), to, json!("\u{2067}Support\u{2069} <rcpt@recipient.example>")),
        to,
        ia,
    );
    t.one(
        CONFUSABLES,
        "RTL override in replyTo's name",
        with(base(), "/mail/replyTo/email", json!("IT\u{202e} <reply@sender.example>")),
        "/mail/replyTo/email",
        ia,
    );
    t.one(
        CONFUSABLES,
        "RTL override disguising .exe as .pdf",
        with(base(), "/attachments/0/name", json!("invoice\u{202e}fdp.exe")),
        "/attachments/0/name",
        "invalid-value",
    );
    t.one(
        CONFUSABLES,
        "RTL override in a sealed attachment's name",
        with(secure(), "/attachments/0/name", json!("scan\u{202e}gpj.js")),
        "/attachments/0/name",
        "invalid-value",
    );
    t.one(
        CONFUSABLES,
        "Cyrillic 'С' in an xHeader name",
        with(base(), "/mail/xHeaders/X-\u{421}ampaign", json!("x")),
        "/mail/xHeaders/X-\u{421}ampaign",
        "invalid-header-name",
    );
    t.one(
        CONFUSABLES,
        "U+2029 in a display name",
        with(base(), "/mail/from/email", json!("Bank\u{2029}Security <sender@sender.example>")),
        "/mail/from/email",
        "header-injection",
    );
    t.one(
        CONFUSABLES,
        "Cyrillic domain in listUnsubscribe",
        with(base(), "/mail/listUnsubscribe", json!("https://\u{430}pple.example/u")),
        "/mail/listUnsubscribe",
        "invalid-value",
    );
}

/// The whole table, in category order.
fn cases() -> Vec<Case> {
    let mut t = Table::default();
    malformed_json(&mut t);
    wrong_types(&mut t);
    huge_values(&mut t);
    header_injection(&mut t);
    traversal(&mut t);
    bad_encodings(&mut t);
    charset_tricks(&mut t);
    address_limits(&mut t);
    oversized(&mut t);
    duplicate_keys(&mut t);
    confusables(&mut t);
    t.0
}

/// What came back.
struct Answer {
    status: u16,
    body: Value,
}

/// `POST /rest/v1/jobs` over a raw socket with a chunked body, `Connection: close`.
async fn post_chunked(port: u16, body: &[u8]) -> Answer {
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let (mut reader, mut socket) = socket.into_split();
    // Read while writing: the server answers as soon as the limit is passed, and an answer
    // left unread when it closes could be lost to the reset.
    let reading = tokio::spawn(async move {
        let mut raw = Vec::new();
        let _ = reader.read_to_end(&mut raw).await;
        raw
    });
    let auth = b64(format!("{}:{}", ACCOUNT.0, ACCOUNT.1).as_bytes());
    let head = format!(
        "POST /rest/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    // The server may answer and close before everything is sent: a write error then is fine.
    for chunk in body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if socket.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let raw = reading.await.expect("reader");
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    // The answer is small and sent whole (Content-Length), or chunked in one piece.
    let json = body.find('{').and_then(|start| body.rfind('}').map(|end| &body[start..=end])).unwrap_or("null");
    Answer { status, body: serde_json::from_str(json).unwrap_or(Value::Null) }
}

async fn send(server: &Sealmail, client: &reqwest::Client, case: &Case) -> Answer {
    let (content_type, extra) = match case.send {
        Transfer::Chunked => return post_chunked(server.port(), &case.body).await,
        Transfer::Plain { content_type } => (content_type, None),
        Transfer::Header { name, value } => ("application/json", Some((name, value))),
    };
    let mut request = client
        .post(format!("{}/rest/v1/jobs", server.base_url))
        .basic_auth(ACCOUNT.0, Some(ACCOUNT.1))
        .header("content-type", content_type)
        .body(case.body.clone());
    if let Some((name, value)) = extra {
        request =
            request.header(name, reqwest::header::HeaderValue::from_bytes(value).expect("a sendable header value"));
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let status = response.status().as_u16();
    Answer { status, body: response.json().await.unwrap_or(Value::Null) }
}

/// Why `answer` is not what `case` expects, if it is not.
fn mismatch(case: &Case, answer: &Answer) -> Option<String> {
    let e = &case.expect;
    let problems: Option<Vec<(String, String)>> = answer.body.get("problems").and_then(Value::as_array).map(|list| {
        list.iter()
            .map(|p| {
                let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                (s("path"), s("kind"))
            })
            .collect()
    });
    let expected: Vec<(String, String)> = e.problems.iter().map(|(p, k)| (p.clone(), (*k).to_owned())).collect();
    let problems_ok = match &problems {
        None => expected.is_empty(),
        Some(got) => *got == expected,
    };
    if answer.status == e.status && answer.body["code"] == e.code && problems_ok {
        return None;
    }
    let shown = answer.body.to_string();
    let shown = if shown.len() > 600 { format!("{}…", &shown[..shown.floor_char_boundary(600)]) } else { shown };
    Some(format!(
        "[{}] {}: expected {} {} {:?}, got {} {:?}: {shown}",
        case.category, case.name, e.status, e.code, expected, answer.status, problems
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_precise_4xx_and_the_server_keeps_working() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let config = format!(
        "{}\n[antivirus]\nallow_insecure_no_antivirus = true\n\n[limits]\nmax_request_bytes = {MAX_REQUEST_BYTES}\n\
         max_message_bytes = {MAX_MESSAGE_BYTES}\nmax_addresses = {MAX_ADDRESSES}\nrecipients_per_hour = 0\n",
        jobs::plain_relay(smtp.port(), 5)
    );
    let server = Sealmail::start(&config).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
    let started = Instant::now();

    // The bases are valid: each refusal below is its mutation's doing.
    for (what, job) in
        [("base", base()), ("secure", secure()), ("callback", with_callback()), ("templated", templated())]
    {
        let (status, body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
        assert_eq!(status, 202, "the {what} request must be accepted: {body}");
    }

    let cases = cases();
    let mut failures = Vec::new();
    let mut server_errors = Vec::new();
    let mut per_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for case in &cases {
        let t0 = Instant::now();
        let answer = send(&server, &client, case).await;
        let took = t0.elapsed();
        let entry = per_category.entry(case.category).or_default();
        entry.0 += 1;
        if answer.status >= 500 || answer.status == 0 {
            server_errors.push(format!("[{}] {}: {} {}", case.category, case.name, answer.status, answer.body));
        }
        match mismatch(case, &answer) {
            Some(why) => failures.push(why),
            None if took > PER_CASE => failures.push(format!("[{}] {}: took {took:?}", case.category, case.name)),
            None => entry.1 += 1,
        }
    }

    println!("hostile-input suite: {} cases in {:?}", cases.len(), started.elapsed());
    for (category, (n, precise)) in &per_category {
        let verdict = if n == precise { "all precise 4xx".to_owned() } else { format!("{} wrong", n - precise) };
        println!("  {category:<32} {n:>3} cases, {verdict}");
    }
    assert!(server_errors.is_empty(), "5xx or no answer:\n{}", server_errors.join("\n"));
    assert!(
        failures.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 95, "{} cases", cases.len());
    for (category, (n, _)) in &per_category {
        assert!(*n >= 8, "{category}: only {n} cases");
    }
    assert_eq!(per_category.len(), 11);
    assert!(cases.iter().all(|c| (400..500).contains(&c.expect.status)));

    // Still healthy, and a worker still delivers: an ordinary job (whose display name holds
    // an encoded-word that decodes to a CRLF, accepted as text) arrives with no extra header.
    for path in ["/healthz", "/readyz"] {
        let status = client.get(format!("{}{path}", server.base_url)).send().await.expect(path).status();
        assert_eq!(status, 200, "{path} after the suite");
    }
    let job =
        with(base(), "/mail/from/email", json!("=?UTF-8?Q?Ops=0D=0ABcc:_x@evil.example?= <sender@sender.example>"));
    let job = with(job, "/subject/content", json!("After the storm"));
    let id = server.submit(&job).await;
    let report = server.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(report["recipients"][0]["status"], "OK", "{report:#}");
    let delivered = smtp.received();
    let mail = delivered
        .iter()
        .find(|m| String::from_utf8_lossy(&m.data).contains("After the storm"))
        .unwrap_or_else(|| panic!("the job after the suite was not delivered ({} mails)", delivered.len()));
    assert_eq!(mail.rcpt_to, ["rcpt@recipient.example"], "no recipient was added");
    let message = MessageParser::default().parse(&mail.data).expect("mail-parser reads the message");
    assert!(message.header("Bcc").is_none(), "a Bcc header appeared");
    let raw = String::from_utf8_lossy(&mail.data);
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    assert!(!head.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{head}");

    let logs = server.logs();
    assert!(!logs.contains("panicked"), "the server panicked:\n{logs}");
}
