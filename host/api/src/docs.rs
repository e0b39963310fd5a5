//! `GET /docs`: the API documentation as one HTML page, rendered on the server from the same
//! OpenAPI value that `/openapi.json` serves ([`super::openapi::document`]), so the page and
//! the document cannot disagree.
//!
//! The page has no scripts and loads nothing: its only stylesheet is inline, and its
//! Content-Security-Policy allows exactly that stylesheet (by hash) and nothing else, so it
//! works offline and cannot be made to fetch or send anything. Every text from the document
//! is HTML-escaped.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::Extension;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value;

use crate::openapi::Published;
use sha2::{Digest, Sha256};

/// The page's stylesheet (inline; allowed by its hash in the policy).
const STYLE: &str = "
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 1.5rem;color:#1d1d1f;background:#fff}
h1 small{font-size:.5em;color:#666;font-weight:normal}
h2{border-bottom:2px solid #ddd;margin-top:2.5rem}
h3{margin:0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
code{background:#f3f3f5;padding:0 .2em;border-radius:3px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:.75rem;overflow:auto;max-height:32rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #e1e4e8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td table{margin:.25rem 0;font-size:.95em}
.op{border:1px solid #d0d7de;border-radius:8px;padding:1rem;margin:1rem 0}
.method{display:inline-block;min-width:4.5em;text-align:center;font-weight:bold;color:#fff;border-radius:4px;padding:0 .4em;margin-right:.4em;background:#57606a}
.m-get{background:#0969da}.m-post{background:#1a7f37}.m-put{background:#9a6700}.m-delete{background:#cf222e}
.summary{font-weight:600;margin:.3rem 0}
.req{color:#cf222e;font-size:.8em;margin-left:.3em}
.note{color:#57606a;font-size:.9em}
nav ul{padding-left:1.2rem}
@media (max-width:40rem){body{padding:.5rem}th,td{padding:.2rem}}
";

/// The page of `document` and its Content-Security-Policy, built once.
fn page_of(document: &Value) -> &'static (String, String) {
    static PAGE: OnceLock<(String, String)> = OnceLock::new();
    PAGE.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        let policy = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        );
        (render(document), policy)
    })
}

/// `GET /docs`.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "apiDocs",
    tag = "documentation",
    summary = "This documentation as a web page",
    description = "Every operation, webhook and schema of the OpenAPI document as one HTML page \
        without scripts, rendered by the server.",
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String,
            headers(("Content-Security-Policy" = String, description = "Only the page's own inline \
                stylesheet; no scripts, no connections, no framing."))),
    )
)]
pub(crate) async fn page(Extension(Published(document)): Extension<Published>) -> Response {
    let (html, policy) = page_of(document);
    let mut response = (StatusCode::OK, html.as_str()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(policy) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The HTTP methods of a path item, in the order they are shown.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The page for the OpenAPI document `doc`.
pub fn render(doc: &Value) -> String {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} API</title><style>{STYLE}</style></head><body>\n<h1>{t} API <small>{v}</small></h1>\n",
        t = esc(title),
        v = esc(doc["info"]["version"].as_str().unwrap_or_default()),
    );
    paragraph(&mut out, &doc["info"]["description"]);
    let _ = writeln!(
        out,
        "<p class=\"note\">Rendered from the OpenAPI {} document <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        esc(doc["openapi"].as_str().unwrap_or_default())
    );

    let webhooks = operations(doc, "webhooks");
    let operations = operations(doc, "paths");
    out.push_str("<nav><h2>Contents</h2><ul>\n");
    for op in &operations {
        let _ = writeln!(
            out,
            "<li><a href=\"#{}\">{}</a> {}</li>",
            esc(&op.anchor),
            op.heading(),
            esc(op.body["summary"].as_str().unwrap_or_default())
        );
    }
    for op in &webhooks {
        let _ = writeln!(out, "<li><a href=\"#{}\">Webhook {}</a></li>", esc(&op.anchor), op.heading());
    }
    out.push_str(
        "<li><a href=\"#authentication\">Authentication</a></li><li><a href=\"#schemas\">Schemas</a></li></ul></nav>\n",
    );

    // Operations by tag, in the document's tag order; untagged ones last.
    let mut tags: Vec<(String, Value)> = doc["tags"]
        .as_array()
        .map(|t| {
            t.iter().map(|t| (t["name"].as_str().unwrap_or_default().to_owned(), t["description"].clone())).collect()
        })
        .unwrap_or_default();
    tags.push((String::new(), Value::Null));
    for (tag, description) in &tags {
        let ops: Vec<&Operation> = operations.iter().filter(|op| op.tag() == tag.as_str()).collect();
        if ops.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h2>{}</h2>", if tag.is_empty() { "Other".to_owned() } else { esc(tag) });
        paragraph(&mut out, description);
        for op in ops {
            operation(&mut out, op);
        }
    }
    if !webhooks.is_empty() {
        out.push_str("<h2>Webhooks</h2>\n<p>Requests this service sends to your endpoints.</p>\n");
        for op in &webhooks {
            operation(&mut out, op);
        }
    }

    out.push_str("<h2 id=\"authentication\">Authentication</h2>\n");
    for (name, scheme) in doc["components"]["securitySchemes"].as_object().into_iter().flatten() {
        let _ = write!(
            out,
            "<p><code>{}</code>: {} {}.</p>",
            esc(name),
            esc(scheme["type"].as_str().unwrap_or_default()),
            esc(scheme["scheme"].as_str().unwrap_or_default())
        );
        paragraph(&mut out, &scheme["description"]);
    }

    out.push_str("<h2 id=\"schemas\">Schemas</h2>\n");
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        let _ = writeln!(out, "<section id=\"schema-{0}\"><h3>{0}</h3>", esc(name));
        paragraph(&mut out, &schema["description"]);
        schema_detail(&mut out, schema, 0);
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// One operation of `paths` or `webhooks`.
struct Operation<'a> {
    method: &'a str,
    /// The path, or the webhook's name.
    path: &'a str,
    body: &'a Value,
    anchor: String,
}

impl Operation<'_> {
    fn heading(&self) -> String {
        format!(
            "<span class=\"method m-{m}\">{}</span> <code>{}</code>",
            esc(&self.method.to_uppercase()),
            esc(self.path),
            m = esc(self.method)
        )
    }

    fn tag(&self) -> &str {
        self.body["tags"][0].as_str().unwrap_or_default()
    }
}

fn operations<'a>(doc: &'a Value, section: &str) -> Vec<Operation<'a>> {
    let mut out = Vec::new();
    for (path, item) in doc[section].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(body) = item.get(method) {
                let id = body["operationId"].as_str().map_or_else(|| format!("{method}-{path}"), str::to_owned);
                let anchor = format!("op-{}", id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"));
                out.push(Operation { method, path, body, anchor });
            }
        }
    }
    out
}

fn operation(out: &mut String, op: &Operation) {
    let o = op.body;
    let _ = writeln!(out, "<section class=\"op\" id=\"{}\"><h3>{}</h3>", esc(&op.anchor), op.heading());
    if let Some(summary) = o["summary"].as_str() {
        let _ = writeln!(out, "<p class=\"summary\">{}</p>", esc(summary));
    }
    paragraph(out, &o["description"]);
    match o["security"].as_array() {
        Some(requirements) if !requirements.is_empty() => {
            let names: Vec<String> = requirements
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys())
                .map(|k| format!("<a href=\"#authentication\"><code>{}</code></a>", esc(k)))
                .collect();
            let _ = writeln!(out, "<p class=\"note\">Authentication: {}</p>", names.join(", "));
        }
        _ => out.push_str("<p class=\"note\">Authentication: none</p>\n"),
    }

    if let Some(parameters) = o["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>\n");
        for p in parameters {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                esc(p["name"].as_str().unwrap_or_default()),
                required_mark(p["required"].as_bool().unwrap_or(false)),
                esc(p["in"].as_str().unwrap_or_default()),
                type_label(&p["schema"]),
                text(p["description"].as_str().unwrap_or_default()),
                constraints(&p["schema"]),
            );
        }
        out.push_str("</table>\n");
    }

    if let Some(body) = o.get("requestBody") {
        out.push_str("<h4>Request body</h4>\n");
        if body["required"].as_bool() == Some(true) {
            out.push_str("<p class=\"note\">Required.</p>\n");
        }
        paragraph(out, &body["description"]);
        for (media, content) in body["content"].as_object().into_iter().flatten() {
            let _ = writeln!(out, "<p><code>{}</code>: {}</p>", esc(media), type_label(&content["schema"]));
            if content["schema"].get("$ref").is_none() {
                schema_detail(out, &content["schema"], 0);
            }
            for (name, example) in content["examples"].as_object().into_iter().flatten() {
                let summary = example["summary"].as_str().map(|s| format!(": {}", text(s))).unwrap_or_default();
                let pretty = serde_json::to_string_pretty(&example["value"]).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<details><summary>Example <code>{}</code>{summary}</summary><pre>{}</pre></details>",
                    esc(name),
                    esc(&pretty)
                );
            }
        }
    }

    out.push_str(
        "<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th><th>headers</th></tr>\n",
    );
    for (status, response) in o["responses"].as_object().into_iter().flatten() {
        let mut bodies = String::new();
        for (media, content) in response["content"].as_object().into_iter().flatten() {
            let schema = &content["schema"];
            let label = if schema.is_null() { String::new() } else { format!(": {}", type_label(schema)) };
            let _ = write!(bodies, "<div><code>{}</code>{label}</div>", esc(media));
        }
        let mut headers = String::new();
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let _ = write!(
                headers,
                "<div><code>{}</code> ({}) {}</div>",
                esc(name),
                type_label(&header["schema"]),
                text(header["description"].as_str().unwrap_or_default())
            );
        }
        let _ = writeln!(
            out,
            "<tr><td><b>{}</b></td><td>{}</td><td>{bodies}</td><td>{headers}</td></tr>",
            esc(status),
            text(response["description"].as_str().unwrap_or_default())
        );
    }
    out.push_str("</table></section>\n");
}

/// The inside of a schema: its properties, alternatives, values or items.
fn schema_detail(out: &mut String, schema: &Value, depth: usize) {
    if depth > 6 {
        return;
    }
    if let Some(properties) = schema["properties"].as_object().filter(|p| !p.is_empty()) {
        let required: Vec<&str> =
            schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        out.push_str("<table><tr><th>property</th><th>type</th><th>description</th></tr>\n");
        for (name, property) in properties {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>",
                esc(name),
                required_mark(required.contains(&name.as_str())),
                type_label(property)
            );
            let words = property["description"].as_str().or_else(|| property["title"].as_str()).unwrap_or_default();
            out.push_str(&text(words));
            out.push_str(&constraints(property));
            if property.get("$ref").is_none() && has_detail(property) {
                schema_detail(out, property, depth + 1);
            }
            out.push_str("</td></tr>\n");
        }
        out.push_str("</table>\n");
        let closed = schema["additionalProperties"] == Value::Bool(false);
        if closed && depth == 0 {
            out.push_str("<p class=\"note\">No other properties.</p>\n");
        }
    } else if let Some(values) = schema["additionalProperties"].as_object() {
        let _ = writeln!(out, "<p>Values: {}</p>", type_label(&Value::Object(values.clone())));
    }
    for keyword in ["oneOf", "anyOf", "allOf"] {
        let Some(alternatives) = schema[keyword].as_array() else { continue };
        // Plain alternatives (`X or null`) are already said by the type label.
        let plain = alternatives.iter().all(|a| {
            (a.get("$ref").is_some() || a.get("type").is_some()) && !has_detail(a) && a.get("title").is_none()
        });
        if plain && keyword != "allOf" {
            continue;
        }
        let intro = match keyword {
            "oneOf" => "Exactly one of:",
            "anyOf" => "Any of:",
            _ => "All of:",
        };
        let _ = write!(out, "<p>{intro}</p><ul>");
        for alternative in alternatives {
            out.push_str("<li>");
            if let Some(title) = alternative["title"].as_str() {
                let _ = write!(out, "<b>{}</b> ", esc(title));
            }
            if alternative.get("$ref").is_some() || alternative.get("type").is_some() {
                out.push_str(&type_label(alternative));
            }
            if let Some(d) = alternative["description"].as_str() {
                let _ = write!(out, " {}", text(d));
            }
            out.push_str(&constraints(alternative));
            if alternative.get("$ref").is_none() && has_detail(alternative) {
                schema_detail(out, alternative, depth + 1);
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>\n");
    }
    if depth == 0 && schema.get("properties").is_none() {
        let c = constraints(schema);
        if !c.is_empty() || ["type", "oneOf", "anyOf"].iter().any(|k| schema.get(k).is_some()) {
            let _ = writeln!(out, "<p>{}{c}</p>", type_label(schema));
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.get("$ref").is_none() && has_detail(i)) {
        out.push_str("<p>Each item:</p>");
        schema_detail(out, items, depth + 1);
    }
}

fn has_detail(schema: &Value) -> bool {
    ["properties", "oneOf", "anyOf", "allOf"].iter().any(|k| schema.get(k).is_some())
        || schema["items"].get("properties").is_some()
}

/// A short, linked description of a schema's type: `string (uuid)`, `array of Problem`,
/// `Address or null`.
fn type_label(schema: &Value) -> String {
    let Some(map) = schema.as_object() else { return "any".to_owned() };
    if let Some(Value::String(target)) = map.get("$ref") {
        let name = target.rsplit('/').next().unwrap_or(target);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(Value::Array(alternatives)) = map.get(keyword)
            && alternatives.iter().all(|a| a.get("$ref").is_some() || a.get("type").is_some())
        {
            return alternatives.iter().map(type_label).collect::<Vec<_>>().join(" or ");
        }
    }
    if let Some(value) = map.get("const") {
        return format!("<code>{}</code>", esc(&value.to_string()));
    }
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if map.contains_key("enum") => vec!["enum"],
        _ if map.contains_key("properties") => vec!["object"],
        _ => return if map.contains_key("oneOf") { "one of (below)".to_owned() } else { "any".to_owned() },
    };
    types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", type_label(map.get("items").unwrap_or(&Value::Null))),
            "object" => match map.get("additionalProperties") {
                Some(values @ Value::Object(_)) if !map.contains_key("properties") => {
                    format!("map of string to {}", type_label(values))
                }
                _ => "object".to_owned(),
            },
            "null" => "null".to_owned(),
            other => match map.get("format").and_then(Value::as_str) {
                Some(format) => format!("{} ({})", esc(other), esc(format)),
                None => esc(other),
            },
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A schema's limits and allowed values, as a short note (or nothing).
fn constraints(schema: &Value) -> String {
    let Some(map) = schema.as_object() else { return String::new() };
    let mut notes = Vec::new();
    if let Some(Value::Array(values)) = map.get("enum") {
        let listed: Vec<String> = values.iter().map(|v| format!("<code>{}</code>", esc(&plain(v)))).collect();
        notes.push(format!("one of {}", listed.join(", ")));
    }
    let limits = [
        ("minLength", "at least {} character"),
        ("maxLength", "at most {} character"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
        ("minItems", "at least {} item"),
        ("maxItems", "at most {} item"),
        ("maxProperties", "at most {} entr"),
    ];
    for (key, phrase) in limits {
        if let Some(v) = map.get(key) {
            let plural = match (v.as_u64(), phrase.rsplit(' ').next()) {
                (Some(1), Some("entr")) => "y",
                (_, Some("entr")) => "ies",
                (Some(1), _) | (_, Some("{}")) => "",
                _ => "s",
            };
            notes.push(esc(&format!("{}{plural}", phrase.replace("{}", &v.to_string()))));
        }
    }
    if let Some(Value::String(p)) = map.get("pattern") {
        notes.push(format!("pattern <code>{}</code>", esc(p)));
    }
    if let Some(Value::String(e)) = map.get("contentEncoding") {
        notes.push(format!("encoded as {}", esc(e)));
    }
    if let Some(v) = map.get("default") {
        notes.push(format!("default <code>{}</code>", esc(&plain(v))));
    }
    let examples: Vec<&Value> = map
        .get("example")
        .into_iter()
        .chain(map.get("examples").and_then(Value::as_array).into_iter().flatten())
        .collect();
    if !examples.is_empty() {
        let listed: Vec<String> = examples.iter().map(|v| format!("<code>{}</code>", esc(&plain(v)))).collect();
        notes.push(format!("e.g. {}", listed.join(", ")));
    }
    if notes.is_empty() { String::new() } else { format!(" <span class=\"note\">({})</span>", notes.join("; ")) }
}

fn required_mark(required: bool) -> &'static str {
    if required { "<span class=\"req\">required</span>" } else { "" }
}

/// A string as itself, anything else as JSON.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// A description as a paragraph (nothing when absent).
fn paragraph(out: &mut String, description: &Value) {
    if let Some(d) = description.as_str().filter(|d| !d.is_empty()) {
        let _ = writeln!(out, "<p>{}</p>", text(d));
    }
}

/// Escaped text with `code` spans for backquoted parts.
fn text(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// HTML-escapes text and attribute values: `&`, `<`, `>` and both quotes, so one function
/// serves element text and quoted attributes alike (the pulldown-cmark project's escaper).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Writing to a `String` cannot fail.
    let _ = pulldown_cmark_escape::escape_html(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_every_operation_example_and_schema() {
        let doc = crate::routes::document();
        let html = render(doc);
        for path in doc["paths"].as_object().expect("paths").keys() {
            assert!(html.contains(&format!("<code>{}</code>", esc(path))), "{path} missing");
        }
        for name in doc["components"]["schemas"].as_object().expect("schemas").keys() {
            assert!(html.contains(&format!("id=\"schema-{name}\"")), "schema {name} missing");
        }
        // The samples, pretty-printed and escaped.
        assert!(html.contains("&quot;secureDocument&quot;: true"), "sample examples are shown");
        assert!(html.contains("Webhook"), "the callback webhook is shown");
        assert!(!html.contains("<script"), "no scripts");
    }

    #[test]
    fn text_is_escaped_and_backquotes_become_code() {
        assert_eq!(text("a `<b>` & c"), "a <code>&lt;b&gt;</code> &amp; c");
        assert_eq!(esc("\"'"), "&quot;&#39;");
    }

    #[test]
    fn the_policy_allows_only_the_inline_stylesheet() {
        let (_, policy) = page_of(crate::routes::document());
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"), "{policy}");
        assert!(!policy.contains("script-src") && !policy.contains("unsafe"), "{policy}");
    }
}
