//! The OpenAPI 3.1 document of the REST API, served at `GET /openapi.json`.
//!
//! It is derived from the router: every route is registered through utoipa-axum's
//! `OpenApiRouter` in `api::routes()`, each handler carries its `#[utoipa::path]`, and the
//! document is what that router collected (`split_for_parts`), completed here with what no
//! handler describes: the title, the HTTP Basic security scheme, the tags and the callback
//! POST as a webhook. A route cannot be served without being documented, and the unit test
//! below pins the list. The schemas of the bodies are in [`job_request`] (what clients send,
//! schema only: the component judges requests) and [`responses`] (what they get back: the
//! types the handlers serialize).

pub mod callbacks;
pub mod job_request;
pub mod responses;

use std::sync::OnceLock;

use axum::Extension;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

/// The name of the security scheme of the job routes.
pub const BASIC_AUTH: &str = "basicAuth";

/// The parts of the document no handler describes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "sealmail",
        description = "A self-hostable transactional e-mail service with Secure Document Handling: \
            attachments flagged in a JSON send request are scanned for viruses, packed into one \
            AES-256 password-protected ZIP, the mail is delivered, and only after it was delivered \
            to a recipient does a separate mail carry the password to that recipient. Requests use \
            the Retarus Transactional Email JobRequest format. Jobs are processed asynchronously: \
            `POST /rest/v1/jobs` answers `202` once the job is stored durably; \
            `GET /rest/v1/jobs/{jobId}` reports its progress, and a callback endpoint receives \
            every event (see `webhooks`). The job and suppression routes authenticate with HTTP Basic (account \
            name and secret); every other route is public. Any path not listed here answers `404` \
            with `{\"code\":\"NOT_FOUND\",\"message\":\"no such resource\"}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Completion),
    tags(
        (name = "jobs", description = "Submitting jobs and following them (HTTP Basic)."),
        (name = "suppressions", description = "The account's suppression list: addresses that bounced \
            and are not sent to for a while (HTTP Basic)."),
        (name = "health", description = "Liveness and readiness for orchestrators."),
        (name = "preview", description = "The browser encryption preview: files are sealed and \
            requests validated in the browser, by the component compiled to JavaScript; nothing \
            a person provides leaves the browser."),
        (name = "documentation", description = "This document and its readable rendering."),
        (name = "callbacks", description = "What sealmail sends to callback endpoints."),
    )
)]
pub struct ApiDoc;

/// Adds the security scheme and the webhook.
struct Completion;

impl utoipa::Modify for Completion {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BASIC_AUTH,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The account name and its secret (`sealmail account add NAME` prints one; \
                         or `[[accounts]]` in the configuration). A wrong or missing credential is \
                         a `401` with `WWW-Authenticate: Basic realm=\"sealmail\"`.",
                    ))
                    .build(),
            ),
        );
        openapi.webhooks = Some(callbacks::webhooks());
    }
}

/// The finished document: what the router collected, with the callback schemas, axum's
/// catch-all segments (`{*path}`) written as OpenAPI path parameters (`{path}`), and optional
/// headers typed as what they are.
pub fn finish(api: &OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        *paths = std::mem::take(paths).into_iter().map(|(path, item)| (path.replace("{*", "{"), item)).collect();
    }
    for section in ["paths", "webhooks"] {
        // `get_mut`, not indexing: indexing a missing key would insert a `null`.
        for item in doc.get_mut(section).and_then(Value::as_object_mut).into_iter().flat_map(|m| m.values_mut()) {
            for operation in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                auth_throttled(operation);
                let parameters = operation.get_mut("parameters").and_then(Value::as_array_mut);
                for parameter in parameters.into_iter().flatten() {
                    not_null_header(parameter);
                }
            }
        }
    }
    if let Value::Object(root) = &mut doc {
        let components = root.entry("components").or_insert_with(|| Value::Object(Map::new()));
        if let Some(components) = components.as_object_mut() {
            let schemas = components.entry("schemas").or_insert_with(|| Value::Object(Map::new()));
            if let Some(schemas) = schemas.as_object_mut() {
                callbacks::add_schemas(schemas);
            }
        }
    }
    doc
}

/// Every operation with credentials may answer `429 AUTH_THROTTLED` (`api::throttle`, a
/// middleware no handler describes): added to its `429`, or as its `429`.
fn auth_throttled(operation: &mut Value) {
    if operation.get("security").and_then(Value::as_array).is_none_or(|s| s.is_empty()) {
        return;
    }
    const WHY: &str = "`AUTH_THROTTLED`: too many failed authentications from this client address or for \
        this account name (`[limits] failed_auths_per_client`, `failed_auths_per_account`); nothing was \
        checked. Retry after `Retry-After`.";
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    match responses.get_mut("429").and_then(|r| r.get_mut("description")) {
        Some(Value::String(description)) => *description = format!("{description} {WHY}"),
        _ => {
            responses.insert(
                "429".into(),
                serde_json::json!({
                    "description": WHY,
                    "headers": { "Retry-After": {
                        "description": "Seconds until the throttle ends.",
                        "schema": { "type": "integer", "format": "int32", "minimum": 1 },
                    } },
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
                }),
            );
        }
    }
}

/// utoipa types an optional header parameter (`Option<String>`) as `["string", "null"]`,
/// whatever its `nullable` says; a header is absent or a string, never JSON `null`.
fn not_null_header(parameter: &mut Value) {
    if parameter["in"] != "header" {
        return;
    }
    if let Some(Value::Array(types)) = parameter.get_mut("schema").and_then(|s| s.get_mut("type")) {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            parameter["schema"]["type"] = only;
        }
    }
}

/// The finished document, as the router hands it to the handlers that publish it (an
/// `Extension`: the document is derived from the route table those handlers are part of).
#[derive(Clone, Copy)]
pub struct Published(pub &'static Value);

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapiDocument",
    tag = "documentation",
    summary = "This OpenAPI document",
    description = "The OpenAPI 3.1 document of this API, derived from the server's router: every \
        route the server answers is in it.",
    responses(
        (status = 200, description = "The document.", content_type = "application/json", body = Object),
    )
)]
pub(crate) async fn openapi_json(Extension(Published(document)): Extension<Published>) -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let mut response = (StatusCode::OK, TEXT.get_or_init(|| document.to_string()).as_str()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::document;

    /// Every (method, path) of the document's `paths`, sorted.
    fn operations(doc: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                out.push((method.clone(), path.clone()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_router() {
        // The router and the document come out of one `OpenApiRouter`: what it registered
        // with axum is what it wrote into `paths`.
        let (_, api) = crate::routes::routes().split_for_parts();
        let registered: Vec<(String, String)> = {
            let mut v: Vec<_> = api
                .paths
                .paths
                .iter()
                .flat_map(|(path, item)| {
                    let item = serde_json::to_value(item).expect("path item");
                    let methods: Vec<String> = item.as_object().expect("object").keys().cloned().collect();
                    methods.into_iter().map(move |m| (m, path.clone()))
                })
                .collect();
            v.sort();
            v
        };
        let expected: Vec<(String, String)> = [
            ("delete", "/rest/v1/jobs/{jobId}"),
            ("delete", "/rest/v1/suppressions/{email}"),
            ("get", "/docs"),
            ("get", "/healthz"),
            ("get", "/metrics"),
            ("get", "/openapi.json"),
            ("get", "/preview"),
            ("get", "/preview/"),
            ("get", "/preview/{*path}"),
            ("get", "/readyz"),
            ("get", "/rest/v1/jobs/{jobId}"),
            ("get", "/rest/v1/suppressions"),
            ("get", "/rest/v1/suppressions/{email}"),
            ("post", "/rest/v1/jobs"),
        ]
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
        assert_eq!(registered, expected);

        // The served document has the same operations, the catch-all as a path parameter.
        let served = operations(document());
        let renamed: Vec<(String, String)> = {
            let mut v: Vec<_> = expected.iter().map(|(m, p)| (m.clone(), p.replace("{*path}", "{path}"))).collect();
            v.sort();
            v
        };
        assert_eq!(served, renamed);
    }

    #[test]
    fn operations_carry_no_null_members() {
        for (method, path) in operations(document()) {
            let operation = document()["paths"][&path][&method].as_object().expect("operation");
            for (key, value) in operation {
                assert!(!value.is_null(), "{method} {path}: {key} is null");
            }
        }
    }

    #[test]
    fn the_job_routes_require_basic_auth_and_the_others_do_not() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["components"]["securitySchemes"][BASIC_AUTH]["scheme"], "basic");
        let key = &doc["paths"]["/rest/v1/jobs"]["post"]["parameters"][0];
        assert_eq!(
            (&key["name"], &key["in"], &key["schema"]["type"]),
            (&"Idempotency-Key".into(), &"header".into(), &"string".into())
        );
        for (method, path) in operations(doc) {
            let security = &doc["paths"][&path][&method]["security"];
            if path.starts_with("/rest/") {
                assert_eq!(security, &serde_json::json!([{ BASIC_AUTH: [] }]), "{method} {path}");
            } else {
                assert!(security.is_null(), "{method} {path} must be public");
            }
        }
    }

    #[test]
    fn the_request_examples_are_the_samples() {
        let examples =
            &document()["paths"]["/rest/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["examples"];
        for (name, _) in job_request::SAMPLES {
            assert_eq!(examples[name]["value"], job_request::sample(name), "{name}");
        }
    }

    #[test]
    fn the_problem_kinds_are_the_wit_cases_and_refused_address() {
        let wit = include_str!("../../../../wit/validation.wit");
        let start = wit.find("enum problem-kind {").expect("problem-kind in the WIT");
        let body = &wit[start..start + wit[start..].find('}').expect("end of the enum")];
        let mut wit_kinds: Vec<String> = body
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && !l.is_empty())
            .map(|l| l.trim_end_matches(',').to_owned())
            .collect();
        wit_kinds.push("refused-address".to_owned());
        let documented: Vec<String> = document()["components"]["schemas"]["ProblemKind"]["enum"]
            .as_array()
            .expect("ProblemKind is an enum")
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect();
        assert_eq!(documented, wit_kinds);
    }

    #[test]
    fn the_webhook_describes_the_callback_post() {
        let hook = &document()["webhooks"][callbacks::WEBHOOK]["post"];
        assert_eq!(
            hook["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/CallbackBody"
        );
        assert!(document()["components"]["schemas"]["CallbackBody"]["properties"]["notifications"].is_object());
    }

    #[test]
    fn the_callback_schemas_replace_no_schema_of_the_handlers() {
        let (_, api) = crate::routes::routes().split_for_parts();
        let ours: Vec<String> = api.components.expect("components").schemas.keys().cloned().collect();
        let mut added = Map::new();
        callbacks::add_schemas(&mut added);
        for name in added.keys() {
            assert!(!ours.contains(name), "{name} is both a handler schema and a callback schema");
        }
        let all = document()["components"]["schemas"].as_object().expect("schemas");
        assert_eq!(all.len(), ours.len() + added.len());
    }
}
