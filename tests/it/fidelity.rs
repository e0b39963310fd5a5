//! JobRequest fidelity from outside: what a customer puts into a request is what a
//! receiving mail server gets. The real `sealmail` binary takes the requests over HTTP and
//! delivers to the harness SMTP server (or writes its outbox); the messages are read with
//! parsers we did not write — `mail-parser` and Python's `email` package under
//! `policy.strict`.
//!
//! What is proven: every header option (`replyTo`, `inReplyTo`, `priority`,
//! `listUnsubscribe`, `xHeaders`, `mimeFrom`) at job level and overridden per block; each
//! block is one message whose to/cc see each other and whose bcc appear nowhere; `xHeaders`
//! that would set standard fields or break lines are refused at submission; subjects and
//! bodies in quoted-printable and base64, UTF-8, ISO-8859-1, windows-1252 and UTF-16, arrive
//! as the same text (in the requested transfer encoding); an HTML body's `cid:` images
//! arrive in a `multipart/related`; and every sample request renders to messages Python's
//! strict parser finds no defect in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_parser::{HeaderForm, Message, MessageParser, MimeHeaders as _};
use sealmail_test_support::jobs::plain_relay;
use sealmail_test_support::strict_mime::check_strict_mime;
use sealmail_test_support::{ACCOUNT, ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig};
use serde_json::{Value, json};

/// Long enough for a debug build on a busy 2-core machine; a passing run needs seconds.
const DEADLINE: Duration = Duration::from_secs(90);

/// The envelope sender (`mail.from`): the SMTP reverse path.
const ENVELOPE_FROM: &str = "bounces@sender.example";
/// `mail.mimeFrom`: the `From` header.
const MIME_FROM: &str = "news@sender.example";

fn parse(mail: &ReceivedMail) -> Message<'static> {
    MessageParser::default()
        .parse(&mail.data)
        .unwrap_or_else(|| panic!("mail-parser cannot parse message {}", mail.seq))
        .into_owned()
}

/// The header section of a raw message (up to the first empty line).
fn head(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// The trimmed raw value of a top-level header, unfolded.
fn raw_header(message: &Message<'_>, name: &str) -> Option<String> {
    message.header_raw(name).map(|v| v.replace("\r\n", "").trim().to_owned())
}

/// A header decoded as unstructured text (RFC 2047 encoded-words decoded).
fn text_header(message: &Message<'_>, name: &str) -> Option<String> {
    message.header_as(name, HeaderForm::Text).first().and_then(|v| v.as_text()).map(str::to_owned)
}

fn addresses(address: Option<&mail_parser::Address<'_>>) -> BTreeSet<String> {
    address.map(|a| a.iter().filter_map(|a| a.address()).map(str::to_lowercase).collect()).unwrap_or_default()
}

fn lowercase(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|a| a.to_lowercase()).collect()
}

/// Three blocks: the first inherits the job's header options, the second overrides each of
/// them, the third overrides only the priority.
fn header_options_job() -> Value {
    json!({
        "mail": {
            "from": { "email": ENVELOPE_FROM },
            "mimeFrom": { "email": format!("Newsletter Müller <{MIME_FROM}>") },
            "replyTo": { "email": "Support <support@sender.example>" },
            "inReplyTo": "<order-4711@shop.example>",
            "priority": "HIGH",
            "listUnsubscribe": "mailto:unsubscribe@sender.example",
            "xHeaders": { "X-Campaign": "Grüße aus Köln – Herbst", "X-Job-Only": "job" }
        },
        "subject": { "content": "Header fidelity" },
        "body": { "contentType": "text/plain", "content": "Hello." },
        "recipients": [
            {
                "mail": {
                    "to": [{ "email": "Anna <a-to@recipient.example>" }],
                    "cc": [{ "email": "a-cc@recipient.example" }],
                    "bcc": [{ "email": "a-bcc@recipient.example" }]
                },
                "reference": "block-a"
            },
            {
                "mail": {
                    "to": [{ "email": "b-to@recipient.example" }, { "email": "b-to2@recipient.example" }],
                    "bcc": [{ "email": "b-bcc@recipient.example" }, { "email": "b-bcc2@recipient.example" }],
                    "replyTo": { "email": "Zoë <block-reply@sender.example>" },
                    "inReplyTo": "ticket-99@help.example",
                    "priority": "LOW",
                    "listUnsubscribe": "https://sender.example/unsubscribe?u=b",
                    "xHeaders": { "x-campaign": "Ω Winter ✓", "X-Block-Only": "block" }
                },
                "reference": "block-b"
            },
            {
                "mail": { "to": [{ "email": "c-to@recipient.example" }], "priority": "NORMAL" },
                "reference": "block-c"
            }
        ]
    })
}

/// The addresses of a block by role, and its reference.
type Block = (&'static [&'static str], &'static [&'static str], &'static [&'static str], &'static str);

/// `(to, cc, bcc, reference)` of each block of [`header_options_job`].
const BLOCKS: [Block; 3] = [
    (&["a-to@recipient.example"], &["a-cc@recipient.example"], &["a-bcc@recipient.example"], "block-a"),
    (
        &["b-to@recipient.example", "b-to2@recipient.example"],
        &[],
        &["b-bcc@recipient.example", "b-bcc2@recipient.example"],
        "block-b",
    ),
    (&["c-to@recipient.example"], &[], &[], "block-c"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_options_at_job_level_and_per_block_reach_the_receiver() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&plain_relay(smtp.port(), 30)).await;
    let id = server.submit(&header_options_job()).await;
    let report = server.wait_finished(&id, DEADLINE).await;

    // One SMTP transaction may carry a block to all its recipients, or several may: group
    // what arrived by Message-ID, which must be one per block.
    let received = smtp.received();
    let mut by_id: BTreeMap<String, Vec<&ReceivedMail>> = BTreeMap::new();
    for mail in &received {
        let message = parse(mail);
        let id = message.message_id().unwrap_or_else(|| panic!("no Message-ID in {}", head(&mail.data))).to_owned();
        let heads = head(&mail.data);
        let count = heads.to_ascii_lowercase().matches("\r\nmessage-id:").count()
            + usize::from(heads.to_ascii_lowercase().starts_with("message-id:"));
        assert_eq!(count, 1, "one Message-ID field per message: {heads}");
        by_id.entry(id).or_default().push(mail);
    }
    assert_eq!(by_id.len(), 3, "one message per block: {:?}", by_id.keys());

    let every_bcc: Vec<&str> = BLOCKS.iter().flat_map(|b| b.2.iter().copied()).collect();
    let mut seen_blocks = BTreeSet::new();
    for mails in by_id.values() {
        // The same bytes to every recipient of the block.
        assert!(mails.iter().all(|m| m.data == mails[0].data), "a block's transactions differ");
        let message = parse(mails[0]);
        let raw = String::from_utf8_lossy(&mails[0].data).to_lowercase();
        for bcc in &every_bcc {
            assert!(!raw.contains(bcc), "bcc {bcc} appears in a message:\n{}", head(&mails[0].data));
        }
        assert!(!head(&mails[0].data).to_ascii_lowercase().contains("\r\nbcc:"));

        let to = addresses(message.to());
        let block = BLOCKS
            .iter()
            .position(|(t, _, _, _)| lowercase(t) == to)
            .unwrap_or_else(|| panic!("To {to:?} is no block's"));
        assert!(seen_blocks.insert(block), "block {block} arrived as two messages");
        let (want_to, want_cc, want_bcc, _) = BLOCKS[block];
        assert_eq!(addresses(message.cc()), lowercase(want_cc), "Cc of block {block}");
        let rcpts: BTreeSet<String> = mails.iter().flat_map(|m| m.rcpt_to.iter().map(|r| r.to_lowercase())).collect();
        let mut want: Vec<&str> = [want_to, want_cc, want_bcc].concat();
        want.sort();
        assert_eq!(rcpts, lowercase(&want), "envelope recipients of block {block}");

        // mimeFrom is the header, from the envelope.
        for m in mails {
            assert_eq!(m.mail_from.to_lowercase(), ENVELOPE_FROM, "MAIL FROM of block {block}");
        }
        let from = message.from().and_then(|a| a.first()).expect("From");
        assert_eq!((from.name(), from.address()), (Some("Newsletter Müller"), Some(MIME_FROM)));
        assert!(!head(&mails[0].data).contains(ENVELOPE_FROM), "the envelope sender leaks into the header");

        let reply_to = message.reply_to().and_then(|a| a.first()).expect("Reply-To");
        let in_reply_to = message.in_reply_to().as_text().map(str::to_owned);
        let priority = (raw_header(&message, "X-Priority"), raw_header(&message, "Importance"));
        let unsubscribe = raw_header(&message, "List-Unsubscribe");
        let one_click = raw_header(&message, "List-Unsubscribe-Post");
        let campaign = text_header(&message, "X-Campaign");
        let (job_only, block_only) = (text_header(&message, "X-Job-Only"), text_header(&message, "X-Block-Only"));
        match block {
            0 | 2 => {
                assert_eq!((reply_to.name(), reply_to.address()), (Some("Support"), Some("support@sender.example")));
                assert_eq!(in_reply_to.as_deref(), Some("order-4711@shop.example"));
                assert_eq!(raw_header(&message, "References").as_deref(), Some("<order-4711@shop.example>"));
                assert_eq!(unsubscribe.as_deref(), Some("<mailto:unsubscribe@sender.example>"));
                assert_eq!(one_click, None, "List-Unsubscribe-Post without an https URI (RFC 8058 §3.1)");
                assert_eq!(campaign.as_deref(), Some("Grüße aus Köln – Herbst"));
                assert_eq!((job_only.as_deref(), block_only), (Some("job"), None));
                let want = if block == 0 { ("1", "high") } else { ("3", "normal") };
                assert_eq!(priority, (Some(want.0.into()), Some(want.1.into())), "block {block}");
            }
            _ => {
                assert_eq!((reply_to.name(), reply_to.address()), (Some("Zoë"), Some("block-reply@sender.example")));
                assert_eq!(in_reply_to.as_deref(), Some("ticket-99@help.example"));
                assert_eq!(unsubscribe.as_deref(), Some("<https://sender.example/unsubscribe?u=b>"));
                assert_eq!(one_click.as_deref(), Some("List-Unsubscribe=One-Click"));
                assert_eq!(campaign.as_deref(), Some("Ω Winter ✓"));
                assert_eq!((job_only.as_deref(), block_only.as_deref()), (Some("job"), Some("block")));
                assert_eq!(priority, (Some("5".into()), Some("low".into())));
            }
        }
        // Non-ASCII values travel as RFC 2047 encoded-words: the header section is ASCII.
        assert!(head(&mails[0].data).is_ascii(), "8-bit header:\n{}", head(&mails[0].data));
        check_strict_mime(&mails[0].data).unwrap_or_else(|e| panic!("block {block}: {e}"));
    }

    // The per-block reference is echoed for each recipient of the block.
    for (to, cc, bcc, reference) in BLOCKS {
        for email in [to, cc, bcc].concat() {
            let r = report["recipients"]
                .as_array()
                .expect("recipients")
                .iter()
                .find(|r| r["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)))
                .unwrap_or_else(|| panic!("{email} not in {report:#}"));
            assert_eq!(r["reference"], reference, "{email}: {r}");
            assert_eq!(r["subStatus"], "DELIVERED", "{email}: {r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_headers_setting_standard_fields_or_breaking_lines_are_refused() {
    let server = Sealmail::start("").await;
    let cases: [(Value, &str, &str); 7] = [
        (json!({ "From": "evil@attacker.example" }), "/mail/xHeaders/From", "invalid-header-name"),
        (json!({ "Content-Type": "text/html" }), "/mail/xHeaders/Content-Type", "invalid-header-name"),
        (json!({ "Bcc": "spy@attacker.example" }), "/mail/xHeaders/Bcc", "invalid-header-name"),
        (json!({ "X-Note": "one\r\nBcc: spy@attacker.example" }), "/mail/xHeaders/X-Note", "header-injection"),
        (json!({ "X-Note": "line\nbreak" }), "/mail/xHeaders/X-Note", "header-injection"),
        (json!({ "X-Note": "carriage\rreturn" }), "/mail/xHeaders/X-Note", "header-injection"),
        (json!({ "X-Bad\r\nBcc": "x" }), "/mail/xHeaders/X-Bad\r\nBcc", "invalid-header-name"),
    ];
    for (at_block, (x_headers, path, kind)) in [false, true].into_iter().flat_map(|b| cases.iter().map(move |c| (b, c)))
    {
        let mut job = json!({
            "mail": { "from": { "email": "s@sender.example" } },
            "subject": { "content": "x" },
            "body": { "content": "x" },
            "recipients": [{ "mail": { "to": [{ "email": "r@recipient.example" }] } }]
        });
        let path = if at_block {
            job["recipients"][0]["mail"]["xHeaders"] = x_headers.clone();
            path.replacen("/mail", "/recipients/0/mail", 1)
        } else {
            job["mail"]["xHeaders"] = x_headers.clone();
            path.to_string()
        };
        let (status, body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
        assert_eq!(status, 400, "{x_headers} accepted (block: {at_block}): {body}");
        assert_eq!(body["code"], "INVALID_REQUEST", "{body}");
        let problems = body["problems"].as_array().expect("problems");
        let found = problems.iter().find(|p| p["path"] == path.as_str());
        let problem = found.unwrap_or_else(|| panic!("no problem at {path:?} for {x_headers}: {body:#}"));
        assert_eq!(problem["kind"], *kind, "{problem}");
        assert!(problem["message"].as_str().is_some_and(|m| !m.is_empty()), "{problem}");
    }
}

/// RFC 2045 §6.7 quoted-printable of `bytes`: every byte but letters and digits as `=XX`,
/// soft line breaks every 72 characters (the hardest case for a decoder that is not
/// careful).
fn quoted_printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut line = 0;
    for &b in bytes {
        let token = if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("={b:02X}") };
        if line + token.len() > 72 {
            out.push_str("=\r\n");
            line = 0;
        }
        line += token.len();
        out.push_str(&token);
    }
    out
}

/// The bytes of `text` in `charset`: UTF-8, ISO-8859-1 (Latin-1 characters only),
/// windows-1252 (Latin-1 and `€` = 0x80) or UTF-16 (little-endian with a byte order mark).
fn charset_bytes(text: &str, charset: &str) -> Vec<u8> {
    let single_byte = |c: char| match (c, charset) {
        ('€', "windows-1252") => 0x80,
        (c, _) => u8::try_from(u32::from(c)).expect("a Latin-1 character"),
    };
    match charset {
        "UTF-8" => text.as_bytes().to_vec(),
        "UTF-16" => [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
        _ => text.chars().map(single_byte).collect(),
    }
}

/// A field `{content, contentEncoding, charset}` holding `text` encoded as asked.
fn encoded(text: &str, encoding: &str, charset: &str) -> Value {
    let bytes = charset_bytes(text, charset);
    let content = match encoding {
        "quoted-printable" => quoted_printable(&bytes),
        "base64" => STANDARD.encode(&bytes),
        _ => unreachable!("{encoding}"),
    };
    json!({ "content": content, "contentEncoding": encoding, "charset": charset })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_printable_and_base64_in_utf8_latin1_and_more_round_trip() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&plain_relay(smtp.port(), 30)).await;
    // Latin-1 only in the subject and text (so ISO-8859-1 can hold them); the HTML's `€` is
    // replaced for ISO-8859-1 only (windows-1252 has it at 0x80).
    let subject = "Grüße aus Köln: Straße, Größe ½, © ÿ";
    let html = "<p>Sehr geehrte Frau Müller,</p>\n<p>Ihre Bestellung über 12,50 € ist da.</p>\n";
    let html_latin1 = html.replace('€', "EUR");
    let text = "Sehr geehrte Frau Müller,\nIhre Bestellung (Größe XL, ½ Dutzend) ist da.\n= kein Soft-Break =\n";
    let mut expected = Vec::new();
    for (n, (encoding, charset)) in [
        ("quoted-printable", "UTF-8"),
        ("base64", "UTF-8"),
        ("quoted-printable", "ISO-8859-1"),
        ("base64", "ISO-8859-1"),
        ("quoted-printable", "windows-1252"),
        ("base64", "UTF-16"),
    ]
    .into_iter()
    .enumerate()
    {
        let html = if charset == "ISO-8859-1" { html_latin1.clone() } else { html.to_owned() };
        let subject = format!("{subject} #{n}");
        let mut body = encoded(&html, encoding, charset);
        body["contentType"] = json!("text/html");
        // contentTransferEncoding is how the part travels, whatever the request's encoding.
        body["contentTransferEncoding"] = json!(if n % 2 == 0 { "base64" } else { "quoted-printable" });
        let job = json!({
            "mail": { "from": { "email": "s@sender.example" } },
            "subject": encoded(&subject, encoding, charset),
            "body": body,
            "alternative": encoded(text, encoding, charset),
            "recipients": [{ "mail": { "to": [{ "email": format!("r{n}@recipient.example") }] } }]
        });
        let id = server.submit(&job).await;
        expected.push((n, id, format!("r{n}@recipient.example"), subject, html, (encoding, charset)));
    }
    for (_, id, _, _, _, _) in &expected {
        server.wait_finished(id, DEADLINE).await;
    }
    let received = smtp.wait_for(expected.len(), DEADLINE).await;
    for (n, _, rcpt, subject, html, how) in &expected {
        let mail = received
            .iter()
            .find(|m| m.rcpt_to.iter().any(|r| r == rcpt))
            .unwrap_or_else(|| panic!("nothing arrived for {rcpt}"));
        let message = parse(mail);
        // Text parts travel in canonical form (CRLF); the text is compared line by line.
        let lines = |s: &str| s.replace("\r\n", "\n");
        assert_eq!(message.subject(), Some(subject.as_str()), "{how:?}");
        assert_eq!(message.body_html(0).map(|s| lines(&s)).as_deref(), Some(html.as_str()), "{how:?}");
        assert_eq!(message.body_text(0).map(|s| lines(&s)).as_deref(), Some(text), "{how:?}");
        let html_part = message.html_part(0).expect("an HTML part");
        let want = if n % 2 == 0 { "base64" } else { "quoted-printable" };
        assert_eq!(html_part.content_transfer_encoding(), Some(want), "{how:?}");
        check_strict_mime(&mail.data).unwrap_or_else(|e| panic!("{how:?}: {e}"));
    }
}

/// The `.eml` files of an outbox folder, by name.
fn outbox_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("readable .eml")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_renders_to_messages_pythons_strict_parser_accepts() {
    // The default transport (outbox); no scanner, so antivirus jobs go out unscanned.
    let server = Sealmail::start("[antivirus]\nallow_insecure_no_antivirus = true\n").await;
    let mut samples: Vec<_> = std::fs::read_dir(sealmail_tests::samples_dir())
        .expect("samples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    samples.sort();
    assert!(samples.len() >= 3, "samples: {samples:?}");
    let mut jobs = Vec::new();
    for sample in &samples {
        let job: Value = serde_json::from_slice(&std::fs::read(sample).unwrap()).expect("sample JSON");
        jobs.push((sample.clone(), server.submit(&job).await, job));
    }
    jobs.push(("header options".into(), server.submit(&header_options_job()).await, header_options_job()));

    // Originals: one per block. Password mails: one per recipient the original reached.
    let mut expected = 0;
    let mut password_mails = 0;
    for (name, id, job) in &jobs {
        let deadline = std::time::Instant::now() + DEADLINE;
        let report = loop {
            let report = server.wait_finished(id, DEADLINE).await;
            let pending =
                report["recipients"].as_array().expect("recipients").iter().any(|r| r["passwordMail"] == "PENDING");
            if !pending {
                break report;
            }
            assert!(std::time::Instant::now() < deadline, "{name:?}: password mails pending: {report:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let recipients = report["recipients"].as_array().expect("recipients");
        assert!(recipients.iter().all(|r| r["subStatus"] == "DELIVERED"), "{name:?}: {report:#}\n{}", server.logs());
        let sent = recipients.iter().filter(|r| r["passwordMail"] == "OK").count();
        let secure = job["job"]["features"]["secureDocument"]["active"] == true;
        assert_eq!(sent > 0, secure, "{name:?}: password mails: {report:#}");
        password_mails += sent;
        expected += job["recipients"].as_array().expect("blocks").len() + sent;
    }
    assert!(password_mails > 0, "no sample made a password mail");

    let files = outbox_files(&server.data_dir().join("outbox"));
    assert_eq!(files.len(), expected, "outbox: {:?}", files.keys());
    let mut failures = Vec::new();
    let mut passwords_seen = 0;
    for (name, bytes) in &files {
        match check_strict_mime(bytes) {
            Ok(parts) => assert!(parts >= 1),
            Err(e) => failures.push(format!("{name}:\n{e}")),
        }
        let message = MessageParser::default().parse(bytes).unwrap_or_else(|| panic!("{name}: mail-parser fails"));
        passwords_seen += usize::from(message.subject().is_some_and(|s| s.starts_with("Password for: ")));
    }
    assert_eq!(passwords_seen, password_mails, "password mails in the outbox");
    assert!(
        failures.is_empty(),
        "{} of {} messages have defects:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// `type/subtype` of the part `id` of `message`.
fn mime_type(message: &Message<'_>, id: u32) -> String {
    let part = message.part(id).unwrap_or_else(|| panic!("no part {id}"));
    let ct = part.content_type().unwrap_or_else(|| panic!("part {id} has no Content-Type"));
    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default())
}

/// The child part ids of the multipart `id`.
fn children(message: &Message<'_>, id: u32) -> Vec<u32> {
    match &message.part(id).expect("part").body {
        mail_parser::PartType::Multipart(children) => children.clone(),
        _ => panic!("part {id} is not a multipart"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_body_with_a_cid_image_arrives_as_multipart_related() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let config = format!("{}\n[antivirus]\nallow_insecure_no_antivirus = true\n", plain_relay(smtp.port(), 30));
    let server = Sealmail::start(&config).await;
    // Every byte value, so any transfer-encoding slip shows.
    let logo: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied().chain((0..=255u8).cycle().take(2000)).collect();
    let job = json!({
        "job": { "features": { "antivirus": { "active": true }, "secureDocument": { "active": true } } },
        "mail": { "from": { "email": "s@sender.example" } },
        "subject": { "content": "Inline logo" },
        "body": {
            "contentType": "text/html",
            "content": "<p><img src=\"cid:logo.4711@sender.example\" alt=\"Logo\"></p><p><img src=\"cid:contract@sender.example\"></p>"
        },
        "alternative": { "content": "Logo" },
        "attachments": [
            { "name": "logo.png", "contentType": "image/png", "contentId": "<logo.4711@sender.example>",
              "content": STANDARD.encode(&logo) },
            { "name": "terms.txt", "contentType": "text/plain", "contentId": "terms@sender.example",
              "content": STANDARD.encode("Terms") },
            { "name": "contract.pdf", "contentType": "application/pdf", "contentId": "contract@sender.example",
              "content": STANDARD.encode("%PDF-1.4 secret"), "secureDocument": true }
        ],
        "recipients": [{ "mail": { "to": [{ "email": "r@recipient.example" }] } }]
    });
    let (status, body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
    assert_eq!(status, 202, "{body}");
    // A sealed attachment cannot be shown inline: its contentId is ignored, with a warning.
    let warnings = body["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w["path"] == "/attachments/2/contentId" && w["kind"] == "ignored-value"),
        "{body:#}"
    );
    let id = body["jobId"].as_str().expect("jobId");
    server.wait_finished(id, DEADLINE).await;
    let received = smtp.wait_for(2, DEADLINE).await;
    let original = received
        .iter()
        .find(|m| parse(m).subject() == Some("Inline logo"))
        .unwrap_or_else(|| panic!("no original among {} messages", received.len()));
    check_strict_mime(&original.data).unwrap_or_else(|e| panic!("{e}"));
    let message = parse(original);

    // mixed [ alternative [ plain, related [ html, png ] ], terms.txt, archive ]
    assert_eq!(mime_type(&message, 0), "multipart/mixed");
    let mixed = children(&message, 0);
    let types: Vec<String> = mixed.iter().map(|&c| mime_type(&message, c)).collect();
    assert_eq!(types, ["multipart/alternative", "text/plain", "application/zip"]);
    let alternative = children(&message, mixed[0]);
    let types: Vec<String> = alternative.iter().map(|&c| mime_type(&message, c)).collect();
    assert_eq!(types, ["text/plain", "multipart/related"]);
    let related_id = alternative[1];
    let related = message.part(related_id).unwrap();
    assert_eq!(related.content_type().and_then(|ct| ct.attribute("type")), Some("text/html"));
    let related = children(&message, related_id);
    let types: Vec<String> = related.iter().map(|&c| mime_type(&message, c)).collect();
    assert_eq!(types, ["text/html", "image/png"], "the root first (RFC 2387 §3.2)");

    let image = message.part(related[1]).unwrap();
    assert_eq!(image.content_id(), Some("logo.4711@sender.example"));
    assert_eq!(image.content_disposition().map(|d| d.ctype()), Some("inline"));
    assert_eq!(image.contents(), logo.as_slice(), "the image bytes");
    assert!(message.body_html(0).is_some_and(|h| h.contains("cid:logo.4711@sender.example")));

    // The unreferenced Content-ID stays an attachment; the sealed file is only in the archive.
    let terms = message.part(mixed[1]).unwrap();
    assert_eq!(terms.content_disposition().map(|d| d.ctype()), Some("attachment"));
    assert_eq!(terms.content_id(), Some("terms@sender.example"));
    let raw = String::from_utf8_lossy(&original.data);
    assert!(!raw.contains("<contract@sender.example>"), "a sealed attachment kept its Content-ID");
}

/// Templating (FreeMarker subset): a secure job with two blocks renders each block's
/// personalization into the subject, the HTML (escaped) and the text; each password mail's
/// subject carries its block's rendered subject; an unknown directive is a `400` naming it
/// and its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templated_secure_job_renders_every_blocks_personalization() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let config = format!("{}\n[antivirus]\nallow_insecure_no_antivirus = true\n", plain_relay(smtp.port(), 30));
    let server = Sealmail::start(&config).await;
    let block = |to: &str, personalization: Value| json!({ "mail": { "to": [{ "email": to }] }, "features": { "templating": { "personalization": personalization } } });
    let mut job = json!({
        "job": { "features": {
            "templating": { "active": true },
            "antivirus": { "active": true },
            "secureDocument": { "active": true, "subjectPrefix": "Passwort: " }
        } },
        "mail": { "from": { "email": "s@sender.example" } },
        "subject": { "template": "Rechnung ${no} für ${name}" },
        "body": { "contentType": "text/html",
                  "template": "<p>Hallo ${name},</p>\n<#if note??><p>${note}</p><#else><p>keine Notiz</p></#if>" },
        "alternative": { "template": "Hallo ${name}, ${note!\"keine Notiz\"}" },
        "attachments": [{ "name": "r.txt", "contentType": "text/plain",
                          "content": STANDARD.encode("vertraulich"), "secureDocument": true }],
        "recipients": [
            block("ana@recipient.example", json!({ "name": "Ana <b>", "no": "17", "note": "Tom & Jerry" })),
            block("bo@recipient.example", json!({ "name": "Bo", "no": "18" })),
        ]
    });
    let id = server.submit(&job).await;
    let report = server.wait_finished(&id, DEADLINE).await;
    let received = smtp.received();
    assert_eq!(received.len(), 4, "two originals and two password mails: {report:#}");
    let mut by_subject: BTreeMap<String, Message<'static>> = BTreeMap::new();
    for mail in &received {
        let message = parse(mail);
        by_subject.insert(message.subject().unwrap_or_default().to_owned(), message);
    }
    let keys: Vec<&str> = by_subject.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Passwort: Rechnung 17 für Ana <b>",
            "Passwort: Rechnung 18 für Bo",
            "Rechnung 17 für Ana <b>",
            "Rechnung 18 für Bo"
        ],
        "rendered subjects, the password mails' included"
    );
    let ana = &by_subject["Rechnung 17 für Ana <b>"];
    let html = ana.body_html(0).expect("html").into_owned();
    assert!(html.contains("<p>Hallo Ana &lt;b&gt;,</p>") && html.contains("<p>Tom &amp; Jerry</p>"), "{html}");
    assert_eq!(ana.body_text(0).expect("text").trim_end(), "Hallo Ana <b>, Tom & Jerry");
    let bo = &by_subject["Rechnung 18 für Bo"];
    assert!(bo.body_html(0).expect("html").contains("<p>keine Notiz</p>"));
    assert_eq!(bo.body_text(0).expect("text").trim_end(), "Hallo Bo, keine Notiz");
    for message in by_subject.values() {
        let raw = String::from_utf8_lossy(message.raw_message());
        assert!(!raw.contains("${"), "a template reached a recipient verbatim:\n{raw}");
    }

    // An unknown directive: 400 naming it and its line:column.
    job["body"]["template"] = json!("<p>Hallo</p>\n  <#list items as i>${i}</#list>");
    let (status, body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
    assert_eq!(status, 400, "{body}");
    let problem = body["problems"].as_array().and_then(|p| p.iter().find(|p| p["path"] == "/body/template"));
    let message = problem.and_then(|p| p["message"].as_str()).unwrap_or_else(|| panic!("{body:#}"));
    assert!(message.contains("<#list>") && message.contains("line 2, column 3"), "{message}");
}
