//! Direct MX delivery (`[transport] kind = "mx"`, docs/service.md#delivery) from outside: the real
//! `sealmail` binary resolves recipient domains with a real DNS server (dnsmasq, serving the
//! test's MX/A records) and delivers to the harness SMTP servers, each MX host on its own
//! loopback address (127.0.0.2, 127.0.0.3, …) and all on one test port.
//!
//! What is proven: the preferred MX refusing connections falls through to the next one
//! (RFC 5321 §5.1), which gets the message over opportunistic STARTTLS with a certificate no
//! one trusts (RFC 7435); a domain without MX is delivered to its A record (implicit MX); a
//! null MX domain (RFC 7505) is a hard bounce without any connection; a domain that does
//! not exist is a hard bounce too; one transaction per domain.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sealmail_test_support::{DnsRecord, DnsServer, Sealmail, SmtpServer, SmtpServerConfig, TestCa};
use serde_json::{Value, json};

/// Long enough for a debug build on a busy 2-core machine.
const FINISH: Duration = Duration::from_secs(90);

const TWO_MX_A: &str = "anna@two-mx.test";
const TWO_MX_B: &str = "bert@two-mx.test";
const A_ONLY: &str = "carla@a-only.test";
const NULL_MX: &str = "dora@null-mx.test";
const NO_DOMAIN: &str = "emil@nowhere.test";

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A plain job: one block with every test recipient in `to`.
fn job(recipients: &[&str]) -> Value {
    let to: Vec<Value> = recipients.iter().map(|r| json!({ "email": r })).collect();
    json!({
        "mail": { "from": { "email": "Sender <sender@sender.test>" } },
        "subject": { "content": "MX delivery" },
        "body": { "contentType": "text/plain", "content": "Hello from the MX test" },
        "recipients": [ { "mail": { "to": to } } ],
    })
}

fn recipient<'a>(report: &'a Value, email: &str) -> &'a Value {
    report["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["email"] == email)
        .unwrap_or_else(|| panic!("no recipient {email} in {report:#}"))
}

/// The one DELIVER event of `email` of type `kind` (e.g. `"BOUNCED"`).
fn deliver_event<'a>(report: &'a Value, email: &str, kind: &str) -> &'a Value {
    let found: Vec<&Value> = report["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["email"] == email && e["phase"] == "DELIVER" && e["type"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "{email}: one DELIVER/{kind} event expected: {report:#}");
    found[0]
}

#[tokio::test]
async fn mx_fallback_implicit_mx_and_null_mx() {
    // Second MX (preference 20) on 127.0.0.3, offering STARTTLS with a certificate from a
    // CA nobody trusts; the A-only domain's server on 127.0.0.4, same port. Nothing listens
    // on 127.0.0.2, the preferred MX: its connections are refused.
    let ca = TestCa::new();
    let second_mx = SmtpServer::start_at(
        loopback(3),
        0,
        SmtpServerConfig { tls: Some(ca.issue_server()), ..SmtpServerConfig::default() },
    )
    .await;
    let port = second_mx.port();
    let a_only = SmtpServer::start_at(loopback(4), port, SmtpServerConfig::default()).await;
    let dns = DnsServer::start(&[
        DnsRecord::mx("two-mx.test", 10, "mx1.two-mx.test"),
        DnsRecord::mx("two-mx.test", 20, "mx2.two-mx.test"),
        DnsRecord::address("mx1.two-mx.test", loopback(2)),
        DnsRecord::address("mx2.two-mx.test", loopback(3)),
        DnsRecord::address("a-only.test", loopback(4)),
        DnsRecord::NullMx { domain: "null-mx.test".into() },
    ]);
    let server = Sealmail::start(&format!(
        "[transport]\nkind = \"mx\"\nnameservers = [\"{}\"]\nport = {port}\ntimeout_secs = 10\n\
         helo_name = \"sealmail.test\"\n",
        dns.address()
    ))
    .await;

    let id = server.submit(&job(&[TWO_MX_A, A_ONLY, NULL_MX, TWO_MX_B, NO_DOMAIN])).await;
    let report = server.wait_finished(&id, FINISH).await;
    let context = || format!("{report:#}\n--- dnsmasq:\n{}\n--- sealmail:\n{}", dns.log(), server.logs());

    for email in [TWO_MX_A, TWO_MX_B, A_ONLY] {
        let r = recipient(&report, email);
        assert_eq!(
            (r["status"].as_str(), r["subStatus"].as_str()),
            (Some("OK"), Some("DELIVERED")),
            "{email}: {}",
            context()
        );
    }
    for (email, enhanced) in [(NULL_MX, "5.1.10"), (NO_DOMAIN, "5.1.2")] {
        let r = recipient(&report, email);
        assert_eq!(
            (r["status"].as_str(), r["subStatus"].as_str()),
            (Some("ERROR"), Some("BOUNCED")),
            "{email}: {}",
            context()
        );
        let event = deliver_event(&report, email, "BOUNCED");
        assert_eq!(event["subType"], "HARD_BOUNCE", "{event:#}");
        let description = event["description"].as_str().unwrap_or_default();
        assert!(description.contains(enhanced), "{email}: {description}");
    }

    // Both two-mx.test recipients in one transaction at the second MX, inside TLS.
    let received = second_mx.wait_for(1, FINISH).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].rcpt_to, [TWO_MX_A, TWO_MX_B]);
    assert!(received[0].tls, "STARTTLS was offered, so it must have been used");
    assert!(String::from_utf8_lossy(&received[0].data).contains("Hello from the MX test"));
    let clear: Vec<String> = second_mx.commands().into_iter().filter(|c| !c.tls).map(|c| c.line).collect();
    assert_eq!(clear, ["EHLO sealmail.test", "STARTTLS"], "nothing else in clear text");

    // The A-only domain's own address, without TLS (not offered).
    let received = a_only.wait_for(1, FINISH).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].rcpt_to, [A_ONLY]);
    assert!(!received[0].tls);
}
