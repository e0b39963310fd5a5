//! Checks of a callback by implementations we did not write: its Standard Webhooks signature
//! with the `standardwebhooks` Python package, its body against `docs/callbacks.schema.json`
//! with Python's `jsonschema`.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::python::python;
use crate::receiver::Headers;

/// Verifies one secret after the other with the `standardwebhooks` package; prints one line
/// per secret that does not verify.
const STANDARD_WEBHOOKS_VERIFY: &str = r#"
import sys, json, base64
from standardwebhooks.webhooks import Webhook
data = json.load(sys.stdin)
body = base64.b64decode(data["body"])
failures = []
for i, secret in enumerate(data["secrets"]):
    try:
        Webhook(secret).verify(body, data["headers"])
    except Exception as e:
        failures.append("secret #%d: %s: %s" % (i, type(e).__name__, e))
if failures:
    print("\n".join(failures))
    sys.exit(1)
"#;

/// Checks a callback's Standard Webhooks signature with the `standardwebhooks` Python package
/// (an implementation we did not write): `headers` must carry `webhook-id`,
/// `webhook-timestamp` (within its 5-minute tolerance of now) and `webhook-signature`, once
/// each, and the signature must verify over `body` with **every** secret of `secrets`
/// (`whsec_…`), each on its own. `Err` says which secret failed and why (e.g. "No matching
/// signature found").
pub fn verify_webhook(secrets: &[&str], headers: &Headers, body: &[u8]) -> Result<(), String> {
    let mut picked = serde_json::Map::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        match headers.get(name).map(Vec::as_slice) {
            None | Some([]) => return Err(format!("no {name} header")),
            Some([value]) => {
                picked.insert(name.to_owned(), Value::String(value.clone()));
            }
            Some(values) => return Err(format!("{name} appears {} times", values.len())),
        }
    }
    let input = json!({
        "secrets": secrets,
        "headers": picked,
        "body": base64::engine::general_purpose::STANDARD.encode(body),
    });
    python(STANDARD_WEBHOOKS_VERIFY, &[], &serde_json::to_vec(&input).expect("JSON")).map(drop)
}

/// Validates stdin against the schema file argv[1] (itself checked first) with format
/// checking; prints one line per error.
const JSON_SCHEMA_VALIDATE: &str = r#"
import sys, json
from jsonschema import Draft202012Validator
with open(sys.argv[1], encoding="utf-8") as f:
    schema = json.load(f)
Draft202012Validator.check_schema(schema)
instance = json.load(sys.stdin)
validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
for e in errors:
    print("/" + "/".join(map(str, e.absolute_path)) + ": " + e.message)
    for sub in e.context or []:
        print("    /" + "/".join(map(str, sub.absolute_path)) + ": " + sub.message)
sys.exit(1 if errors else 0)
"#;

/// The documented shape of a callback body.
pub fn callback_schema_path() -> std::path::PathBuf {
    crate::repo_root().join("docs").join("callbacks.schema.json")
}

/// Validates a callback body against `docs/callbacks.schema.json` with Python's `jsonschema`
/// (draft 2020-12, formats such as `date-time` and `uuid` checked where the package can);
/// `Err` lists every violation with its JSON path.
pub fn check_callback_schema(body: &Value) -> Result<(), String> {
    let schema = callback_schema_path();
    python(JSON_SCHEMA_VALIDATE, &[schema.as_os_str()], &serde_json::to_vec(body).expect("JSON")).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "5d6c1f0e-3b2a-4c1d-8e9f-0a1b2c3d4e5f";

    fn valid_body() -> Value {
        json!({
            "meta": {
                "version": "1.0", "jobId": JOB, "account": "acme", "customerNo": "1001",
                "receivedTs": "2026-11-30T06:01:02.345Z", "referenceJob": "ref-1"
            },
            "notifications": [{ "meta": {
                "tag": format!("{JOB}.3"),
                "mail": {
                    "id": "8f0e7d6c-5b4a-5392-8170-6f5e4d3c2b1a", "email": "r@rcpt.example",
                    "from": "billing@sender.example", "reference": "block-1"
                },
                "event": {
                    "phase": "DELIVER", "state": "FINISHED", "type": "BOUNCED", "subType": "HARD_BOUNCE",
                    "ts": "2026-11-30T06:01:03.000Z", "description": "550 5.1.1 User unknown"
                }
            } }]
        })
    }

    #[test]
    fn the_schema_accepts_the_documented_shape_and_refuses_deviations() {
        check_callback_schema(&valid_body()).expect("the documented example is valid");
        /// What a case breaks, and how.
        type Spoil = (&'static str, fn(&mut Value));
        let cases: [Spoil; 7] = [
            ("an event combination that does not exist", |b| {
                b["notifications"][0]["meta"]["event"]["type"] = json!("DELIVERED")
            }),
            ("a timestamp without milliseconds", |b| {
                b["notifications"][0]["meta"]["event"]["ts"] = json!("2026-11-30T06:01:03Z")
            }),
            ("a timestamp that is no date", |b| b["meta"]["receivedTs"] = json!("2026-13-30T06:01:02.345Z")),
            ("an unknown field", |b| b["notifications"][0]["meta"]["mail"]["password"] = json!("x")),
            ("a missing customerNo", |b| drop(b["meta"].as_object_mut().unwrap().remove("customerNo"))),
            ("no notification", |b| b["notifications"] = json!([])),
            ("a tag of another form", |b| b["notifications"][0]["meta"]["tag"] = json!("event-3")),
        ];
        for (what, spoil) in cases {
            let mut body = valid_body();
            spoil(&mut body);
            assert!(check_callback_schema(&body).is_err(), "the schema accepts {what}: {body}");
        }
        let mut no_customer = valid_body();
        no_customer["meta"]["customerNo"] = Value::Null;
        check_callback_schema(&no_customer).expect("customerNo may be null");
    }

    /// Signs like a sender would, with Python's own `hmac` (not the package under test).
    fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
        const SIGN: &str = r#"
import sys, hmac, hashlib, base64, json
d = json.load(sys.stdin)
key = base64.b64decode(d["secret"][len("whsec_"):])
msg = ("%s.%s." % (d["id"], d["ts"])).encode() + base64.b64decode(d["body"])
print("v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode(), end="")
"#;
        let input = json!({
            "secret": secret, "id": id, "ts": timestamp,
            "body": base64::engine::general_purpose::STANDARD.encode(body)
        });
        python(SIGN, &[], &serde_json::to_vec(&input).unwrap()).expect("signing")
    }

    #[test]
    fn verify_webhook_needs_every_secret_and_the_exact_body() {
        let a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let b = "whsec_c2VhbG1haWwtdGVzdC1zZWNvbmQtc2VjcmV0LTEyMzQ=";
        let body = br#"{"meta":{"jobId":"j"}}"#;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let headers = |signature: String, ts: u64| -> Headers {
            Headers::from([
                ("webhook-id".to_owned(), vec!["msg_1".to_owned()]),
                ("webhook-timestamp".to_owned(), vec![ts.to_string()]),
                ("webhook-signature".to_owned(), vec![signature]),
            ])
        };
        let both = headers(format!("{} {}", sign(a, "msg_1", now, body), sign(b, "msg_1", now, body)), now);
        verify_webhook(&[a, b], &both, body).expect("both secrets verify");
        let only_a = headers(sign(a, "msg_1", now, body), now);
        verify_webhook(&[a], &only_a, body).expect("a verifies");
        let error = verify_webhook(&[a, b], &only_a, body).expect_err("b has no signature");
        assert!(error.contains("secret #1") && !error.contains("secret #0"), "{error}");
        let error = verify_webhook(&[a], &only_a, br#"{"meta":{"jobId":"k"}}"#).expect_err("tampered body");
        assert!(error.contains("No matching signature"), "{error}");
        let old = now - 3600;
        let error = verify_webhook(&[a], &headers(sign(a, "msg_1", old, body), old), body).expect_err("too old");
        assert!(error.contains("too old"), "{error}");
        let mut twice = only_a.clone();
        twice.get_mut("webhook-signature").unwrap().push("v1,xyz".to_owned());
        assert!(verify_webhook(&[a], &twice, body).is_err());
        assert!(verify_webhook(&[a], &Headers::new(), body).is_err());
    }
}
