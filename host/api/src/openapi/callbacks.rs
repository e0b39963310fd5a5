//! The callback POST that sealmail sends to a job's endpoint, as an OpenAPI 3.1 webhook.
//!
//! The body's shape has one source: the JSON Schema `docs/callbacks.schema.json`, which the
//! callback tests check every received body against. It is embedded here and its `$defs`
//! become component schemas (`CallbackBody`, `CallbackJobMeta`, …), so the document needs no
//! external reference and every OpenAPI tool can resolve it.

use std::borrow::Cow;

use serde_json::{Map, Value};
use utoipa::openapi::path::{HttpMethod, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::{Paths, PathsBuilder, RefOr};

/// The JSON Schema of a callback body.
const CALLBACK_SCHEMA: &str = include_str!("../../../../docs/callbacks.schema.json");

/// The name of the webhook in the document.
pub const WEBHOOK: &str = "jobEvents";

/// The component name of the callback body.
const BODY: &str = "CallbackBody";

/// The body of a callback POST. Its schema in the document is `docs/callbacks.schema.json`
/// (merged by [`add_schemas`]); this type only lends the operation its name.
pub struct CallbackBody;

impl utoipa::PartialSchema for CallbackBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().description(Some("docs/callbacks.schema.json")).into()
    }
}

impl utoipa::ToSchema for CallbackBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(BODY)
    }
}

/// Describes the POST; never routed (sealmail sends it, it does not answer it).
#[utoipa::path(
    post,
    path = "/",
    operation_id = "jobEvents",
    tag = "callbacks",
    summary = "A job's events, pushed to its callback endpoint",
    description = "sealmail POSTs every event of a job to the job's `notification.endPoint` (or the \
        account's default endpoint) in the Retarus Transactional Email push format: processing, \
        delivery, bounces and the password mail's `OK` / `FAILED` / `NOT_TRIGGERED`. One POST \
        carries events of one job (at most `max_events_per_post`); a job's POSTs go out one at a \
        time, in order. A retried POST carries the same body, tags and `webhook-id`: de-duplicate \
        on the notifications' `tag`. The request also carries the endpoint's configured `headers` \
        and, with `authentication`, HTTP Basic credentials. Reference: docs/callbacks.md.",
    request_body(
        content = CallbackBody,
        content_type = "application/json",
        description = "The job's metadata and its events (UTF-8 JSON; timestamps RFC 3339 UTC with milliseconds).",
    ),
    params(
        ("webhook-id" = Option<String>, Header,
            description = "Standard Webhooks: the post's id, the same on every try \
                (`msg_<jobId without dashes>_<post>`). Sent when the account has webhook secrets."),
        ("webhook-timestamp" = Option<String>, Header,
            description = "Standard Webhooks: the try's time in Unix seconds. Reject values more than \
                a few minutes off. Sent when the account has webhook secrets."),
        ("webhook-signature" = Option<String>, Header,
            description = "Standard Webhooks: `v1,<base64 HMAC-SHA256(key, \"{webhook-id}.{webhook-timestamp}.{raw body}\")>`, \
                one per secret, separated by spaces (several while secrets are rotated)."),
    ),
    responses(
        (status = "2XX", description = "Delivered: no further try."),
        (status = "3XX", description = "`301`–`308`: failed for good (redirects are never followed)."),
        (status = "4XX", description = "`400`–`406`: failed for good. Any other status is tried again."),
        (status = "5XX", description = "Tried again: by default 15 tries over about 70 minutes (7 waits \
            of about 2 minutes, then 7 of about 8, each ±25 %). Timeouts and connection errors are \
            tried again too."),
    )
)]
#[allow(dead_code, reason = "only its OpenAPI description is used: sealmail sends this request, it does not serve it")]
fn job_events() {}

/// The document's `webhooks`.
pub fn webhooks() -> Paths {
    use utoipa::Path as _;
    PathsBuilder::new().path(WEBHOOK, PathItem::new(HttpMethod::Post, __path_job_events::operation())).build()
}

/// Adds the callback schema to `schemas` (the document's `components.schemas`): the root as
/// `CallbackBody`, each `$defs` entry as `Callback<Name>`, with the references rewritten.
pub fn add_schemas(schemas: &mut Map<String, Value>) {
    let Ok(Value::Object(mut root)) = serde_json::from_str::<Value>(CALLBACK_SCHEMA) else {
        // The unit tests prove the embedded schema parses.
        return;
    };
    root.remove("$schema");
    root.remove("$id");
    let defs = match root.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let mut root = Value::Object(root);
    rewrite_refs(&mut root);
    schemas.insert(BODY.to_owned(), root);
    for (name, mut schema) in defs {
        rewrite_refs(&mut schema);
        schemas.insert(component_name(&name), schema);
    }
}

/// `timestamp` → `CallbackTimestamp`.
fn component_name(def: &str) -> String {
    let mut chars = def.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase().to_string()).unwrap_or_default();
    format!("Callback{first}{}", chars.as_str())
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match (key.as_str(), &*v) {
                    ("$ref", Value::String(target)) if target.starts_with("#/$defs/") => {
                        let name = component_name(&target["#/$defs/".len()..]);
                        *v = Value::String(format!("#/components/schemas/{name}"));
                    }
                    _ => rewrite_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_schema_becomes_components_with_local_references() {
        let mut schemas = Map::new();
        add_schemas(&mut schemas);
        assert!(schemas[BODY]["properties"]["notifications"].is_object());
        assert_eq!(schemas[BODY]["properties"]["meta"]["$ref"], "#/components/schemas/CallbackJobMeta");
        assert!(schemas.contains_key("CallbackTimestamp") && schemas.contains_key("CallbackEvent"));
        let text = Value::Object(schemas).to_string();
        assert!(!text.contains("$defs") && !text.contains("\"$id\""), "{text}");
    }
}
