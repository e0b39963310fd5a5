//! The OpenAPI document from outside: the real `sealmail serve` process serves
//! `GET /openapi.json`, and
//!
//! - the document passes an OpenAPI validator we did not write (Python's
//!   `openapi-spec-validator`), and a deliberately broken copy does not;
//! - every route the server answers is in it (a probe of many paths and methods finds
//!   nothing but documented operations, `405`s on documented paths and the fallback's `404`),
//!   and every documented operation answers, with and without credentials, with a documented
//!   status and a body that its documented schema accepts (checked with Python's
//!   `jsonschema`, draft 2020-12, against the document's own components);
//! - the documented request examples (the samples) are accepted (`202`), and the status
//!   reports of real jobs — delivered, secure, with a callback delivered and one failed —
//!   match the documented status schema;
//! - `GET /docs` is a script-free HTML page that shows every path and operation.

use std::time::{Duration, Instant};

use reqwest::Method;
use sealmail_test_support::{ACCOUNT, Receiver, Sealmail, python};
use serde_json::{Value, json};

/// Generous: two cores shared with the server and the other tests of this file.
const FINISH: Duration = Duration::from_secs(60);

/// The fallback's answer for a path no route serves.
fn is_fallback(answer: &Answer) -> bool {
    answer.status == 404 && answer.json() == json!({ "code": "NOT_FOUND", "message": "no such resource" })
}

/// A client that shows redirects instead of following them (`/preview` answers one).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// One answer of the server.
struct Answer {
    status: u16,
    /// The media type without parameters, lower case (`""` when there is none).
    media_type: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request: `credentials` adds the test account's HTTP Basic header; `body` is
/// (content type, bytes).
async fn fetch(
    http: &reqwest::Client,
    method: &Method,
    url: &str,
    credentials: bool,
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let mut request = http.request(method.clone(), url);
    if credentials {
        request = request.basic_auth(ACCOUNT.0, Some(ACCOUNT.1));
    }
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let media_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    Answer { status, media_type, headers, body }
}

/// `GET /openapi.json`, checked to be served as JSON.
async fn document(server: &Sealmail) -> Value {
    let answer = fetch(&client(), &Method::GET, &format!("{}/openapi.json", server.base_url), false, None).await;
    assert_eq!((answer.status, answer.media_type.as_str()), (200, "application/json"), "{}", answer.text());
    let doc = answer.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "{doc}");
    doc
}

/// Validates the OpenAPI document on stdin with openapi-spec-validator (3.1 by its
/// `openapi` field): checks the structure, references and path parameters.
const SPEC_VALIDATE: &str = r#"
import sys, json
from openapi_spec_validator import validate
validate(json.load(sys.stdin))
"#;

fn validate_spec(doc: &Value) -> Result<String, String> {
    python(SPEC_VALIDATE, &[], &serde_json::to_vec(doc).expect("JSON"))
}

/// Validates instances against schemas of an OpenAPI document with `jsonschema` (draft
/// 2020-12, the dialect of OpenAPI 3.1). stdin: `{"document": …, "checks": [{"what",
/// "at": [JSON Pointer tokens of the schema], "instance"}]}`; the document is registered as
/// one resource, so the schemas' `#/components/schemas/…` references resolve inside it. One
/// line per violation.
const SCHEMA_VALIDATE: &str = r#"
import sys, json
from urllib.parse import quote
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
data = json.load(sys.stdin)
registry = Registry().with_resource("urn:openapi", Resource.from_contents(data["document"], default_specification=DRAFT202012))
failures = []
for check in data["checks"]:
    pointer = "".join("/" + quote(t.replace("~", "~0").replace("/", "~1"), safe="") for t in check["at"])
    validator = Draft202012Validator({"$ref": "urn:openapi#" + pointer}, registry=registry,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    for e in sorted(validator.iter_errors(check["instance"]), key=lambda e: list(map(str, e.absolute_path))):
        failures.append("%s: /%s: %s" % (check["what"], "/".join(map(str, e.absolute_path)), e.message))
print("\n".join(failures))
sys.exit(1 if failures else 0)
"#;

/// One instance to validate against the schema at `at` in the document.
struct SchemaCheck {
    what: String,
    at: Vec<String>,
    instance: Value,
}

fn validate_schemas(doc: &Value, checks: &[SchemaCheck]) -> Result<(), String> {
    let checks: Vec<Value> =
        checks.iter().map(|c| json!({ "what": c.what, "at": c.at, "instance": c.instance })).collect();
    let input = json!({ "document": doc, "checks": checks });
    python(SCHEMA_VALIDATE, &[], &serde_json::to_vec(&input).expect("JSON")).map(drop)
}

/// Every (method, path, operation) of the document, methods lower case.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// The documented response of `op` for `status` (exact, else its class like `4XX`).
fn documented_response(op: &Value, status: u16) -> Option<(String, &Value)> {
    let responses = op["responses"].as_object()?;
    let exact = status.to_string();
    let class = format!("{}XX", status / 100);
    [exact, class, "default".to_owned()].into_iter().find_map(|key| responses.get(&key).map(|r| (key, r)))
}

/// Checks one answer of the documented operation (`method`, `path`): its status is
/// documented, its media type is one the response lists, and a JSON body is queued for
/// validation against the documented schema.
fn check_answer(what: &str, method: &str, path: &str, op: &Value, answer: &Answer, checks: &mut Vec<SchemaCheck>) {
    assert!(!is_fallback(answer), "{what}: the documented {method} {path} answered with the fallback 404");
    let Some((key, response)) = documented_response(op, answer.status) else {
        panic!("{what}: status {} is not documented for {method} {path}: {}", answer.status, answer.text());
    };
    let Some(content) = response["content"].as_object() else {
        return; // no body documented (e.g. a redirect)
    };
    assert!(
        content.contains_key(&answer.media_type),
        "{what}: {method} {path} answered {} with {:?}; documented: {:?}",
        answer.status,
        answer.media_type,
        content.keys().collect::<Vec<_>>()
    );
    if answer.media_type == "application/json" && content[&answer.media_type].get("schema").is_some() {
        let instance = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("{what}: {method} {path} answered invalid JSON ({e}): {}", answer.text()));
        checks.push(SchemaCheck {
            what: format!("{what} ({method} {path} → {})", answer.status),
            at: ["paths", path, method, "responses", &key, "content", "application/json", "schema"]
                .map(str::to_owned)
                .to_vec(),
            instance,
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_passes_an_openapi_validator_and_a_broken_copy_does_not() {
    let server = Sealmail::start("").await;
    let doc = document(&server).await;
    if let Err(why) = validate_spec(&doc) {
        panic!("openapi-spec-validator refuses the document:\n{why}");
    }

    // The validator can fail: an undeclared path parameter, a dangling reference and a
    // response without a description are each refused.
    let mut undeclared = doc.clone();
    undeclared["paths"]["/rest/v1/jobs/{jobId}"]["get"].as_object_mut().expect("operation").remove("parameters");
    let mut dangling = doc.clone();
    dangling["paths"]["/rest/v1/jobs"]["post"]["responses"]["202"]["content"]["application/json"]["schema"] =
        json!({ "$ref": "#/components/schemas/NoSuchSchema" });
    let mut undescribed = doc.clone();
    undescribed["paths"]["/healthz"]["get"]["responses"]["200"]
        .as_object_mut()
        .expect("response")
        .remove("description");
    for (what, broken) in
        [("undeclared path parameter", undeclared), ("dangling $ref", dangling), ("no description", undescribed)]
    {
        let verdict = validate_spec(&broken);
        assert!(verdict.is_err(), "openapi-spec-validator accepted a document with a {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_operation_answers_as_documented() {
    let server = Sealmail::start("").await;
    let doc = document(&server).await;
    let http = client();
    let base = &server.base_url;
    let plain = doc["paths"]["/rest/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        ["plain"]["value"]
        .clone();
    assert!(plain.is_object(), "the plain sample is a documented example");
    let job_id = server.submit(&plain).await;

    // Every documented operation, with the credentials and without, plus the errors a client
    // can provoke: each answer's status and body must be documented.
    let mut checks = Vec::new();
    let documented = operations(&doc);
    let mut paths_seen = Vec::new();
    for (method, path, op) in &documented {
        // `DELETE` erases its job (once finished): it gets one of its own.
        let job_id = if method == "delete" && path.contains("{jobId}") {
            let id = server.submit(&plain).await;
            server.wait_finished(&id, FINISH).await;
            id
        } else {
            job_id.clone()
        };
        let concrete = path
            .replace("{jobId}", &job_id)
            .replace("{path}", "index.html")
            .replace("{email}", "nobody@recipient.example");
        assert!(!concrete.contains('{'), "{path}: an undocumented kind of path parameter");
        let url = format!("{base}{concrete}");
        let verb = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        let json_body = || Some(("application/json", serde_json::to_vec(&plain).expect("JSON")));
        let body = |b: Option<(&'static str, Vec<u8>)>| if verb == Method::POST { b } else { None };

        let answer = fetch(&http, &verb, &url, true, body(json_body())).await;
        check_answer("with credentials", method, path, op, &answer, &mut checks);
        // Nothing is on the suppression list: one address's entry is a (documented) 404.
        let expected_missing = path.contains("{email}") && answer.status == 404;
        assert!(
            answer.status < 400 || expected_missing,
            "{method} {path} with credentials: {} {}",
            answer.status,
            answer.text()
        );
        let answer = fetch(&http, &verb, &url, false, body(json_body())).await;
        check_answer("without credentials", method, path, op, &answer, &mut checks);
        if secured {
            assert_eq!(answer.status, 401, "{method} {path} needs credentials: {}", answer.text());
            let challenge = answer.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(challenge.starts_with("Basic "), "{method} {path}: WWW-Authenticate {challenge:?}");
        } else {
            assert!(answer.status < 400, "{method} {path} is public: {} {}", answer.status, answer.text());
        }
        if verb == Method::POST {
            let invalid = Some(("application/json", br#"{"mail": {"from": {"email": "nobody"}}}"#.to_vec()));
            let answer = fetch(&http, &verb, &url, true, invalid).await;
            assert_eq!(answer.status, 400, "{}", answer.text());
            check_answer("an invalid JobRequest", method, path, op, &answer, &mut checks);
            let wrong_type = Some(("text/plain", serde_json::to_vec(&plain).expect("JSON")));
            let answer = fetch(&http, &verb, &url, true, wrong_type).await;
            assert_eq!(answer.status, 415, "{}", answer.text());
            check_answer("a text/plain body", method, path, op, &answer, &mut checks);
        }
        if path.contains("{jobId}") {
            let missing = url.replace(&job_id, "3f2b8c1e-0000-4000-8000-000000000000");
            let answer = fetch(&http, &verb, &missing, true, None).await;
            assert_eq!(answer.status, 404, "{}", answer.text());
            check_answer("an unknown job", method, path, op, &answer, &mut checks);
        }
        if path.contains("{path}") {
            let missing = url.replace("index.html", "no/such/file.js");
            let answer = fetch(&http, &verb, &missing, false, None).await;
            check_answer("a missing preview file", method, path, op, &answer, &mut checks);
        }
        paths_seen.push(path.clone());
    }
    for expected in ["/rest/v1/jobs", "/rest/v1/jobs/{jobId}", "/healthz", "/readyz", "/preview", "/preview/"] {
        assert!(paths_seen.iter().any(|p| p == expected), "{expected} is not documented");
    }
    for expected in ["/preview/{path}", "/openapi.json", "/docs", "/metrics", "/rest/v1/suppressions/{email}"] {
        assert!(paths_seen.iter().any(|p| p == expected), "{expected} is not documented");
    }
    if let Err(why) = validate_schemas(&doc, &checks) {
        panic!("answers that do not match their documented schemas:\n{why}");
    }
    assert!(checks.len() >= 10, "too few JSON answers were checked: {}", checks.len());

    // Probe: whatever the server answers other than with its fallback must be a documented
    // operation, or axum's 405 on a documented path for a method it does not serve.
    let probes = [
        "/",
        "/index.html",
        "/rest",
        "/rest/v1",
        "/rest/v1/jobs",
        "/rest/v1/jobs/",
        &format!("/rest/v1/jobs/{job_id}"),
        &format!("/rest/v1/jobs/{job_id}/events"),
        "/rest/v2/jobs",
        "/healthz",
        "/readyz",
        "/health",
        "/metrics",
        "/rest/v1/suppressions",
        "/rest/v1/suppressions/nobody@recipient.example",
        "/preview",
        "/preview/",
        "/preview/index.html",
        "/preview/no-such-file.js",
        "/openapi.json",
        "/openapi.yaml",
        "/docs",
        "/docs/",
        "/swagger-ui",
        "/api-docs",
        "/favicon.ico",
        "/accounts",
    ];
    // HEAD is left out: axum answers it with the GET handler (OpenAPI documents the GET), and
    // a body-less answer cannot be told from the fallback.
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];
    let mut served = Vec::new();
    for probe in probes {
        for verb in &methods {
            let answer = fetch(&http, verb, &format!("{base}{probe}"), true, None).await;
            if is_fallback(&answer) {
                continue;
            }
            let method = verb.as_str().to_lowercase();
            let matches: Vec<&(String, String, Value)> =
                documented.iter().filter(|(_, template, _)| template_matches(template, probe)).collect();
            assert!(
                !matches.is_empty(),
                "{verb} {probe} answers {} but no documented path matches: {}",
                answer.status,
                answer.text()
            );
            match matches.iter().find(|(m, _, _)| *m == method) {
                Some((_, template, op)) => {
                    assert!(
                        documented_response(op, answer.status).is_some(),
                        "{verb} {probe} ({template}) answered the undocumented status {}",
                        answer.status
                    );
                    served.push((method.clone(), template.clone()));
                }
                None => {
                    assert_eq!(answer.status, 405, "{verb} {probe} is served but not documented: {}", answer.text())
                }
            }
        }
    }
    // The probe reached every documented operation, so it looked where the routes are.
    for (method, path, _) in &documented {
        assert!(served.iter().any(|(m, p)| m == method && p == path), "the probe never reached {method} {path}");
    }
}

/// Whether `path` matches the documented `template` (a parameter stands for one or more
/// characters, `/` included: the preview's file path is a catch-all).
fn template_matches(template: &str, path: &str) -> bool {
    let mut rest = path;
    let mut parts = template.split(['{', '}']).enumerate().peekable();
    while let Some((i, part)) = parts.next() {
        if i % 2 == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else {
            // A parameter: up to the next literal (or the end).
            let next = parts.peek().map(|(_, p)| *p).unwrap_or_default();
            let end = if next.is_empty() { rest.len() } else { rest.find(next).unwrap_or(0) };
            if end == 0 {
                return false;
            }
            rest = &rest[end..];
        }
    }
    rest.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_examples_are_accepted_and_status_reports_match_their_schema() {
    let receiver = Receiver::start().await;
    // The secure samples ask for a virus scan: without a scanner they are accepted unscanned
    // (ANTIVIRUS_SKIPPED). One try per callback, so the unreachable endpoint of the
    // secure-document sample ends FAILED quickly; the receiver on 127.0.0.1 is allowed.
    let server = Sealmail::start(
        "[antivirus]\nallow_insecure_no_antivirus = true\n\n\
         [callbacks]\nallowed_callback_ranges = [\"127.0.0.1/32\"]\ntries = 1\ntimeout_secs = 5\n",
    )
    .await;
    let doc = document(&server).await;
    let examples = doc["paths"]["/rest/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("the JobRequest has examples")
        .clone();
    let names: Vec<&str> = examples.keys().map(String::as_str).collect();
    for sample in ["plain", "secure-document", "retarus-doc-style"] {
        assert!(names.contains(&sample), "the sample {sample} is not an example: {names:?}");
    }

    let mut checks = Vec::new();
    let accepted_schema =
        ["paths", "/rest/v1/jobs", "post", "responses", "202", "content", "application/json", "schema"];
    let mut jobs = Vec::new();
    for (name, example) in &examples {
        let request = example["value"].clone();
        checks.push(SchemaCheck {
            what: format!("example {name} against the request schema"),
            at: ["paths", "/rest/v1/jobs", "post", "requestBody", "content", "application/json", "schema"]
                .map(str::to_owned)
                .to_vec(),
            instance: request.clone(),
        });
        let (status, body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&request).expect("JSON"), &[]).await;
        assert_eq!(status, 202, "the documented example {name} was refused: {body}");
        checks.push(SchemaCheck {
            what: format!("202 of example {name}"),
            at: accepted_schema.map(str::to_owned).to_vec(),
            instance: body.clone(),
        });
        jobs.push((name.clone(), body["jobId"].as_str().expect("jobId").to_owned()));
    }
    // The plain example with a callback endpoint that answers: delivered notifications.
    let mut hooked = examples["plain"]["value"].clone();
    hooked["notification"] = json!({ "endPoint": { "url": receiver.url("/sealmail") } });
    let hooked_id = server.submit(&hooked).await;
    jobs.push(("plain with a callback".to_owned(), hooked_id));

    let status_schema =
        ["paths", "/rest/v1/jobs/{jobId}", "get", "responses", "200", "content", "application/json", "schema"];
    let mut notification_states = Vec::new();
    for (name, id) in &jobs {
        server.wait_finished(id, FINISH).await;
        // Wait for the callbacks too, so their final states are checked.
        let deadline = Instant::now() + FINISH;
        let report = loop {
            let report = server.status(id).await;
            let pending = report["events"]
                .as_array()
                .is_some_and(|events| events.iter().any(|e| e["notification"]["state"] == "PENDING"));
            if !pending {
                break report;
            }
            assert!(Instant::now() < deadline, "{name}: callbacks still pending: {report:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(report["events"].as_array().is_some_and(|e| !e.is_empty()), "{name}: {report:#}");
        for event in report["events"].as_array().into_iter().flatten() {
            notification_states.push(event["notification"]["state"].as_str().unwrap_or("null").to_owned());
        }
        checks.push(SchemaCheck {
            what: format!("status report of {name}"),
            at: status_schema.map(str::to_owned).to_vec(),
            instance: report,
        });
    }
    // The reports exercised every shape of `notification`: none, delivered, failed.
    for state in ["null", "DELIVERED", "FAILED"] {
        assert!(
            notification_states.iter().any(|s| s == state),
            "no event with notification {state}: {notification_states:?}"
        );
    }

    // A report that breaks the schema is caught: the check can fail.
    let mut broken = checks.last().expect("a report").instance.clone();
    broken["events"][0]["notification"] = json!({ "state": "SENT", "tries": 1 });
    broken["surprise"] = json!(true);
    let refused = validate_schemas(
        &doc,
        &[SchemaCheck {
            what: "broken report".to_owned(),
            at: status_schema.map(str::to_owned).to_vec(),
            instance: broken,
        }],
    );
    let why = refused.expect_err("a broken status report passed the schema");
    assert!(why.contains("surprise") && why.contains("SENT"), "{why}");

    if let Err(why) = validate_schemas(&doc, &checks) {
        panic!("answers or examples that do not match their documented schemas:\n{why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_is_script_free_html_that_shows_every_path() {
    let server = Sealmail::start("").await;
    let doc = document(&server).await;
    let answer = fetch(&client(), &Method::GET, &format!("{}/docs", server.base_url), false, None).await;
    assert_eq!((answer.status, answer.media_type.as_str()), (200, "text/html"), "{}", answer.text());
    let policy = answer.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(policy.starts_with("default-src 'none'"), "Content-Security-Policy {policy:?}");
    assert!(!policy.contains("script-src"), "no scripts may run: {policy:?}");
    let html = answer.text();
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..html.len().min(200)]);
    assert!(!html.to_lowercase().contains("<script"), "the page has a script");
    for loader in ["<link", " src=", "@import", "url("] {
        assert!(!html.contains(loader), "the page loads something ({loader})");
    }
    for (method, path, op) in operations(&doc) {
        assert!(html.contains(&format!("<code>{path}</code>")), "{path} is not on the page");
        let id = op["operationId"].as_str().expect("operationId");
        assert!(html.contains(&format!("id=\"op-{id}\"")), "{method} {path} ({id}) has no section");
        if let Some(summary) = op["summary"].as_str() {
            assert!(html.contains(&summary.replace('\'', "&#39;")), "{method} {path}: summary {summary:?} missing");
        }
    }
    // The request examples, pretty-printed; the webhook and the problem kinds.
    assert!(html.contains("&quot;secureDocument&quot;: true"), "the secure-document example is not shown");
    assert!(html.contains("jobEvents") && html.contains("CallbackBody"), "the callback webhook is not shown");
    for kind in ["malformed-json", "header-injection", "refused-address"] {
        assert!(html.contains(kind), "problem kind {kind} is not listed");
    }
}
