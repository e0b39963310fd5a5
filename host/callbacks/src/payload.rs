//! The callback body: the Retarus Transactional Email push format (docs/callbacks.md), documented
//! field by field in `docs/callbacks.schema.json` (JSON Schema) and `docs/callbacks.md`.
//!
//! `{"meta": {version, jobId, account, customerNo, receivedTs, referenceJob?, costCenter?,
//! campaignId?}, "notifications": [{"meta": {tag, mail: {id, email, from, mimeFrom?,
//! reference?}, event: {phase, state, type, subType, ts, description}}}]}`.
//!
//! Identifiers are derived, not stored, so they are the same on every try and after a
//! restart: an event's `tag` is `{jobId}.{seq}` (its sequence number in the store), and a
//! recipient message's `mail.id` is the name-based UUID (RFC 9562 §5.5, version 5) of the
//! block and address in the job's UUID namespace.

use serde::Serialize;

use sealmail_core::clock::rfc3339_ms;
use sealmail_store::ClaimedPost;

use crate::CallbackSetup;

/// The version of the body format.
pub const VERSION: &str = "1.0";

#[derive(Serialize)]
struct Body<'a> {
    meta: Meta<'a>,
    notifications: Vec<Notification<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    version: &'static str,
    job_id: &'a str,
    account: &'a str,
    /// Always present (null when the account has none), as in Retarus' format.
    customer_no: Option<&'a str>,
    received_ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference_job: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_center: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Notification<'a> {
    meta: NotificationMeta<'a>,
}

#[derive(Serialize)]
struct NotificationMeta<'a> {
    tag: String,
    mail: Mail<'a>,
    event: Event<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mail<'a> {
    id: String,
    email: &'a str,
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_from: Option<&'a str>,
    /// A sealmail extension: the recipient block's `reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    phase: &'static str,
    state: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    sub_type: &'static str,
    ts: String,
    description: &'a str,
}

/// The stable id of an event: `{jobId}.{seq}`.
pub fn tag(job_id: &str, seq: i64) -> String {
    format!("{job_id}.{seq}")
}

/// The stable id of the message a recipient of block `block` gets.
pub fn mail_id(job_id: &str, block: u32, address: &str) -> String {
    // A job id that is not a UUID (none is, but the store does not enforce it) gets the
    // nil namespace, which still gives a stable id.
    let namespace = uuid::Uuid::parse_str(job_id).unwrap_or_default();
    uuid::Uuid::new_v5(&namespace, format!("{block}\n{}", address.to_ascii_lowercase()).as_bytes()).to_string()
}

/// The `webhook-id` of a post: the same on every try of it.
pub fn webhook_id(job_id: &str, post_id: i64) -> String {
    format!("msg_{}_{post_id}", job_id.replace('-', ""))
}

/// The JSON body of `post`, whose job's callback setup is `setup`.
pub fn body(post: &ClaimedPost, setup: &CallbackSetup) -> Vec<u8> {
    let body = Body {
        meta: Meta {
            version: VERSION,
            job_id: &post.job_id,
            account: &post.account,
            customer_no: setup.customer_no.as_deref(),
            received_ts: rfc3339_ms(post.received_ms),
            reference_job: setup.reference_job.as_deref(),
            cost_center: setup.cost_center.as_deref(),
            campaign_id: setup.campaign_id.as_deref(),
        },
        notifications: post
            .events
            .iter()
            .map(|e| {
                let code = e.event.kind.retarus();
                Notification {
                    meta: NotificationMeta {
                        tag: tag(&post.job_id, e.event.seq),
                        mail: Mail {
                            id: mail_id(&post.job_id, e.event.block, &e.event.recipient),
                            email: &e.event.recipient,
                            from: &setup.from,
                            mime_from: setup.mime_from.as_deref(),
                            reference: e.reference.as_deref(),
                        },
                        event: Event {
                            phase: code.phase,
                            state: code.state,
                            kind: code.kind,
                            sub_type: code.sub_type,
                            ts: rfc3339_ms(e.event.ts_ms),
                            description: &e.event.description,
                        },
                    },
                }
            })
            .collect(),
    };
    serde_json::to_vec(&body).expect("the body serializes: strings and numbers only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endpoint;
    use sealmail_store::{EventKind, PostEvent, StoredEvent};
    use serde_json::{Value, json};

    const JOB: &str = "0b6e8f3c-5f3a-4d5e-9a57-2f4a6f1e9b10";

    fn setup() -> CallbackSetup {
        CallbackSetup {
            endpoint: Endpoint { url: "https://hooks.example/cb".into(), headers: vec![], basic_auth: None },
            customer_no: Some("1001".into()),
            reference_job: Some("order-17".into()),
            cost_center: None,
            campaign_id: None,
            from: "sender@acme.example".into(),
            mime_from: None,
        }
    }

    fn post(events: Vec<(i64, &str, EventKind, Option<&str>)>) -> ClaimedPost {
        ClaimedPost {
            id: 7,
            job_id: JOB.into(),
            account: "acme".into(),
            received_ms: 1_764_484_862_345,
            tries: 0,
            setup: setup().to_stored().into(),
            events: events
                .into_iter()
                .map(|(seq, recipient, kind, reference)| PostEvent {
                    event: StoredEvent {
                        seq,
                        block: 0,
                        recipient: recipient.into(),
                        kind,
                        description: "described".into(),
                        ts_ms: 1_764_484_863_000,
                        notification: None,
                    },
                    reference: reference.map(str::to_owned),
                })
                .collect(),
        }
    }

    #[test]
    fn the_body_has_the_retarus_shape_with_optional_keys_left_out() {
        let p = post(vec![
            (41, "a@x.example", EventKind::Delivered, Some("ref-a")),
            (42, "a@x.example", EventKind::PasswordMailOk, Some("ref-a")),
        ]);
        let body: Value = serde_json::from_slice(&body(&p, &setup())).unwrap();
        assert_eq!(
            body["meta"],
            json!({
                "version": "1.0", "jobId": JOB, "account": "acme", "customerNo": "1001",
                "receivedTs": "2025-11-30T06:41:02.345Z", "referenceJob": "order-17",
            })
        );
        let first = &body["notifications"][0]["meta"];
        assert_eq!(first["tag"], format!("{JOB}.41"));
        assert_eq!(
            first["event"],
            json!({"phase": "DELIVER", "state": "FINISHED", "type": "DELIVERED", "subType": "OK",
                   "ts": "2025-11-30T06:41:03.000Z", "description": "described"})
        );
        assert_eq!(first["mail"]["email"], "a@x.example");
        assert_eq!(first["mail"]["from"], "sender@acme.example");
        assert_eq!(first["mail"]["reference"], "ref-a");
        assert!(first["mail"].get("mimeFrom").is_none());
        let second = &body["notifications"][1]["meta"];
        assert_eq!(second["event"]["type"], "PASSWORD_MAIL");
        assert_eq!(second["mail"]["id"], first["mail"]["id"], "one recipient message, one mail id");
    }

    #[test]
    fn mail_ids_are_stable_uuids_per_block_and_address() {
        let a = mail_id(JOB, 0, "a@x.example");
        assert_eq!(a, mail_id(JOB, 0, "A@X.example"));
        assert_ne!(a, mail_id(JOB, 1, "a@x.example"));
        assert_ne!(a, mail_id(JOB, 0, "b@x.example"));
        assert_ne!(a, mail_id("1b6e8f3c-5f3a-4d5e-9a57-2f4a6f1e9b10", 0, "a@x.example"));
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
    }

    #[test]
    fn customer_no_is_null_rather_than_missing() {
        let p = post(vec![(1, "a@x.example", EventKind::ProcessingStarted, None)]);
        let setup = CallbackSetup { customer_no: None, ..setup() };
        let body: Value = serde_json::from_slice(&body(&p, &setup)).unwrap();
        assert_eq!(body["meta"]["customerNo"], Value::Null);
        assert!(body["notifications"][0]["meta"]["mail"].get("reference").is_none());
    }
}
