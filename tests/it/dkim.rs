//! DKIM signing (RFC 6376) from outside: the real `sealmail` binary with a `[[dkim]]` key
//! sends a secure job through the pipeline to the harness SMTP server, and Python's `dkimpy`
//! (an implementation we did not write) verifies the original and the password mail, fetching
//! the public key from a real DNS server (dnsmasq, TXT `sel._domainkey.dkim.test`).
//!
//! What is proven: both mails carry a valid `rsa-sha256` relaxed/relaxed signature of
//! `d=dkim.test` over the identity and content headers; the same bytes with a changed
//! subject no longer verify (the check can fail); mail from another domain is not signed;
//! a broken key file stops the start-up with a message naming it.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sealmail_test_support::{DnsRecord, DnsServer, ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig, jobs, python};
use serde_json::Value;

/// Long enough for a debug build on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(90);
const DOMAIN: &str = "dkim.test";
const SELECTOR: &str = "sel";

/// Verifies the message on stdin with dkimpy, the key looked up at 127.0.0.1:argv[1] with
/// dnspython; prints "pass" or why not.
const DKIMPY_VERIFY: &str = r#"
import sys, dkim, dns.resolver
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = int(sys.argv[1])
def txt(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    answer = resolver.resolve(name, "TXT", lifetime=timeout)
    return b"".join(b"".join(record.strings) for record in answer)
message = sys.stdin.buffer.read()
try:
    ok = dkim.verify(message, dnsfunc=txt)
except Exception as e:
    print("error: %s: %s" % (type(e).__name__, e))
    sys.exit(0)
print("pass" if ok else "fail")
"#;

/// What dkimpy says about `message`.
fn dkimpy(dns: &DnsServer, message: &[u8]) -> String {
    let port = dns.address().port().to_string();
    python(DKIMPY_VERIFY, &[port.as_ref()], message).unwrap_or_else(|e| panic!("dkimpy: {e}")).trim().to_owned()
}

/// A 2048-bit RSA key written by OpenSSL (PKCS #8 PEM) and its public key as the base64
/// `p=` value of a DKIM key record (RFC 6376 §3.6.1: SubjectPublicKeyInfo, DER).
fn rsa_key(dir: &Path) -> (std::path::PathBuf, String) {
    sealmail_test_support::require_tool("openssl");
    let key = dir.join("dkim.pem");
    let status = Command::new("openssl").args(["genrsa", "-out"]).arg(&key).arg("2048").output().expect("openssl");
    assert!(status.status.success(), "openssl genrsa: {}", String::from_utf8_lossy(&status.stderr));
    let public = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .expect("openssl");
    assert!(public.status.success(), "openssl pkey: {}", String::from_utf8_lossy(&public.stderr));
    use base64::Engine as _;
    (key, base64::engine::general_purpose::STANDARD.encode(&public.stdout))
}

/// `[transport]` to `smtp`, secure jobs without clamd, and the DKIM key.
fn config(smtp: &SmtpServer, key: &Path) -> String {
    format!(
        "{}\n[antivirus]\nallow_insecure_no_antivirus = true\n\n\
         [[dkim]]\ndomain = \"{DOMAIN}\"\nselector = \"{SELECTOR}\"\nprivate_key_file = \"{}\"\n",
        jobs::plain_relay(smtp.port(), 10),
        key.display()
    )
}

/// The value of the `h=` tag of the message's DKIM-Signature, names lower-cased.
fn signed_headers(mail: &ReceivedMail) -> Vec<String> {
    let text = String::from_utf8_lossy(&mail.data);
    let signature = text.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n\t", " ").replace("\r\n ", " ");
    let line =
        signature.lines().find(|l| l.starts_with("DKIM-Signature:")).unwrap_or_else(|| panic!("unsigned:\n{text}"));
    let h = line.split(';').find_map(|tag| tag.trim().strip_prefix("h=")).expect("h= tag");
    h.split(':').map(|name| name.trim().to_ascii_lowercase()).collect()
}

fn secure_job(from: &str, archive: &str) -> Value {
    let mut job = jobs::secure_statement("Your statement", archive, &["max@rcpt.test".to_owned()]);
    job["mail"]["from"]["email"] = Value::String(from.to_owned());
    // An https address adds List-Unsubscribe-Post (RFC 8058): both must be signed.
    job["mail"]["listUnsubscribe"] = Value::String("https://sender.example/unsubscribe?u=max".to_owned());
    job
}

#[tokio::test]
async fn original_and_password_mail_verify_with_dkimpy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, public) = rsa_key(dir.path());
    let dns = DnsServer::start(&[DnsRecord::Txt {
        name: format!("{SELECTOR}._domainkey.{DOMAIN}"),
        value: format!("v=DKIM1; k=rsa; p={public}"),
    }]);
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&config(&smtp, &key)).await;

    let id = server.submit(&secure_job(&format!("Billing <billing@{DOMAIN}>"), "statement-signed")).await;
    let mails = smtp.wait_for(2, DEADLINE).await;
    assert_eq!(mails.len(), 2, "original and password mail expected: {}", server.logs());
    server.wait_finished(&id, DEADLINE).await;

    // The password mail names the archive too: tell them apart by the subject.
    let password_mails =
        mails.iter().filter(|m| String::from_utf8_lossy(&m.data).contains("\r\nSubject: Password for: "));
    assert_eq!(password_mails.count(), 1, "one original and one password mail");
    let unsubscribable =
        mails.iter().filter(|m| String::from_utf8_lossy(&m.data).contains("\r\nList-Unsubscribe-Post: "));
    assert!(unsubscribable.count() >= 1, "the original carries List-Unsubscribe(-Post)");
    for mail in &mails {
        let text = String::from_utf8_lossy(&mail.data);
        assert!(
            text.starts_with(&format!(
                "DKIM-Signature: v=1; a=rsa-sha256; s={SELECTOR}; d={DOMAIN}; c=relaxed/relaxed"
            )),
            "{}",
            text.lines().next().unwrap_or_default()
        );
        assert_eq!(dkimpy(&dns, &mail.data), "pass", "message {}", mail.seq);
        let signed = signed_headers(mail);
        for name in ["from", "subject", "date", "message-id", "to", "mime-version", "content-type"] {
            assert!(signed.iter().any(|h| h == name), "{name} not signed: {signed:?}");
        }
        if text.contains("\r\nList-Unsubscribe-Post: ") {
            for name in ["list-unsubscribe", "list-unsubscribe-post"] {
                assert!(signed.iter().any(|h| h == name), "{name} not signed: {signed:?}");
            }
        }

        // The check can fail: one changed header and the signature no longer holds.
        let tampered = text.replacen("\r\nSubject: ", "\r\nSubject: Re: ", 1);
        assert_ne!(tampered, text, "the message has a Subject");
        assert_eq!(dkimpy(&dns, tampered.as_bytes()), "fail", "a changed subject must not verify");
    }

    // Mail from a domain without a key goes out unsigned.
    let id = server.submit(&secure_job("Billing <billing@other.test>", "statement-unsigned")).await;
    let mails = smtp.wait_for(4, DEADLINE).await;
    server.wait_finished(&id, DEADLINE).await;
    assert_eq!(mails.len(), 4);
    for mail in &mails[2..] {
        assert!(!String::from_utf8_lossy(&mail.data).contains("DKIM-Signature"), "message {} is signed", mail.seq);
    }
}

#[test]
fn an_unusable_key_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("broken-dkim.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").expect("write");
    let config = dir.path().join("sealmail.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\n[[dkim]]\ndomain = \"{DOMAIN}\"\nselector = \"{SELECTOR}\"\n\
             private_key_file = \"{}\"\n",
            dir.path().join("data").display(),
            key.display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(sealmail_test_support::server::binary())
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sealmail runs");
    // Polled, so a server that wrongly starts fails the test instead of hanging it.
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sealmail started with a broken DKIM key");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "must not start with a broken key");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert!(stderr.contains("broken-dkim.pem"), "the error names the file: {stderr}");
}
