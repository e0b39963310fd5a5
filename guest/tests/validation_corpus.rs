//! The JobRequest corpus (`tests/requests/` at the repository root; the format is in its
//! README), run against the native build of the validator.
//!
//! - every `invalid/` case is refused with exactly its listed problems: the complete list of
//!   (path, kind), in the validator's order, not just "some problem";
//! - every `valid/` case is accepted with exactly its listed warnings, and its `summary`
//!   checks hold;
//! - every sample of `docs/samples` is accepted with
//!   exactly the warnings `tests/requests/samples.json` lists for it;
//! - every problem kind is exercised by some case, every message says something, and every
//!   path is an RFC 6901 pointer that resolves in the request when it names a present value.
//!
//! The same files drive the component-vs-native parity test (`tests/it/parity.rs`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sealmail_guest::request::summary::JobSummary;
use sealmail_guest::request::{Limits, ProblemKind, WarningKind, validate};
use serde_json::{Map, Value};

/// At least this many invalid cases (the acceptance criterion).
const MIN_INVALID_CASES: usize = 40;
/// At least this many valid cases.
const MIN_VALID_CASES: usize = 12;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("guest/ lives in the workspace").to_path_buf()
}

fn corpus_dir() -> PathBuf {
    repo_root().join("tests").join("requests")
}

/// The JobRequest samples (`docs/samples/`).
fn samples_dir() -> PathBuf {
    repo_root().join("docs").join("samples")
}

/// One case file, read and checked for shape.
struct Case {
    file: PathBuf,
    doc: Map<String, Value>,
    request: Vec<u8>,
    limits: Limits,
}

impl Case {
    fn name(&self) -> String {
        self.file.strip_prefix(repo_root()).unwrap_or(&self.file).display().to_string()
    }

    /// The request as a JSON value, for resolving pointers; `None` when it is not JSON (a
    /// byte order mark is skipped, as the validator does).
    fn request_json(&self) -> Option<Value> {
        let bytes = self.request.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&self.request);
        serde_json::from_slice(bytes).ok()
    }
}

const REQUEST_KEYS: [&str; 3] = ["request", "requestText", "requestBase64"];

fn load_dir(sub: &str, allowed: &[&str]) -> Vec<Case> {
    let dir = corpus_dir().join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .collect();
    files.sort();
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for file in files {
        match load_case(&file, allowed) {
            Ok(case) => cases.push(case),
            Err(e) => errors.push(format!("{}: {e}", file.display())),
        }
    }
    assert!(errors.is_empty(), "malformed case files:\n{}", errors.join("\n"));
    cases
}

fn load_case(file: &Path, allowed: &[&str]) -> Result<Case, String> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let numbered = name.len() > 9
        && name.as_bytes()[..3].iter().all(u8::is_ascii_digit)
        && name.as_bytes()[3] == b'-'
        && name.ends_with(".json");
    if !numbered {
        return Err("case files are named NNN-short-name.json".into());
    }
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let Value::Object(doc) = serde_json::from_str::<Value>(&text).map_err(|e| e.to_string())? else {
        return Err("a case is a JSON object".into());
    };
    for key in doc.keys() {
        if !allowed.contains(&key.as_str()) && !REQUEST_KEYS.contains(&key.as_str()) {
            return Err(format!("unknown key {key:?} (allowed: {allowed:?} and one of {REQUEST_KEYS:?})"));
        }
    }
    let description = doc.get("description").and_then(Value::as_str).unwrap_or("");
    if description.trim().is_empty() {
        return Err("\"description\" must say what the case is about".into());
    }
    let given: Vec<&str> = REQUEST_KEYS.into_iter().filter(|k| doc.contains_key(*k)).collect();
    let request = match given.as_slice() {
        ["request"] => serde_json::to_vec(&doc["request"]).map_err(|e| e.to_string())?,
        ["requestText"] => doc["requestText"].as_str().ok_or("\"requestText\" must be a string")?.as_bytes().to_vec(),
        ["requestBase64"] => base64::engine::general_purpose::STANDARD
            .decode(doc["requestBase64"].as_str().ok_or("\"requestBase64\" must be a string")?)
            .map_err(|e| format!("requestBase64: {e}"))?,
        _ => return Err(format!("give exactly one of {REQUEST_KEYS:?}")),
    };
    let limits = match doc.get("limits") {
        None => Limits::default(),
        Some(Value::Object(l)) => limits(l)?,
        Some(_) => return Err("\"limits\" must be an object".into()),
    };
    Ok(Case { file: file.to_path_buf(), doc, request, limits })
}

fn limits(l: &Map<String, Value>) -> Result<Limits, String> {
    let mut out = Limits::default();
    for (key, value) in l {
        let n = value.as_u64().ok_or_else(|| format!("limits.{key} must be a non-negative integer"))?;
        match key.as_str() {
            "maxRequestBytes" => out.max_request_bytes = n,
            "maxMessageBytes" => out.max_message_bytes = n,
            "maxAddresses" => out.max_addresses = u32::try_from(n).map_err(|e| e.to_string())?,
            "maxRenderedBytes" => out.max_rendered_bytes = n,
            other => return Err(format!("unknown limit {other:?}")),
        }
    }
    Ok(out)
}

/// `[["/path", "kind"], …]` from a case.
fn pairs(value: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let items = value.and_then(Value::as_array).ok_or_else(|| format!("\"{what}\" must be an array"))?;
    items
        .iter()
        .map(|item| match item.as_array().map(Vec::as_slice) {
            Some([Value::String(path), Value::String(kind)]) => Ok((path.clone(), kind.clone())),
            _ => Err(format!("each entry of \"{what}\" is [\"/json/pointer\", \"kind\"], not {item}")),
        })
        .collect()
}

fn kind_name<K: serde::Serialize>(kind: K) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// (path, kind, message) of what the validator said.
type Said = Vec<(String, String, String)>;

fn listing(expected: &[(String, String)], actual: &Said) -> String {
    let mut s = String::from("  expected:\n");
    for (path, kind) in expected {
        let _ = writeln!(s, "    {:<48} {kind}", format!("{path:?}"));
    }
    s.push_str("  actual:\n");
    for (path, kind, message) in actual {
        let _ = writeln!(s, "    {:<48} {kind:<20} {message}", format!("{path:?}"));
    }
    s
}

/// RFC 6901 syntax: empty, or `/`-separated segments where `~` is only `~0` or `~1`.
fn pointer_syntax_ok(path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else { return false };
    let bytes = rest.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

/// Checks what every reported item must satisfy: a message, a well-formed path, and (for a
/// present value) a path that resolves in the request.
fn check_items(case: &Case, said: &Said, skip_resolution: &[&str], failures: &mut Vec<String>) {
    let doc = case.request_json();
    for (path, kind, message) in said {
        if message.trim().is_empty() {
            failures.push(format!("{}: {kind} at {path:?} has an empty message", case.name()));
        }
        if !pointer_syntax_ok(path) {
            failures.push(format!("{}: {path:?} ({kind}) is not an RFC 6901 pointer", case.name()));
            continue;
        }
        if path.is_empty() || skip_resolution.contains(&kind.as_str()) {
            continue;
        }
        if let Some(doc) = &doc
            && doc.pointer(path).is_none()
        {
            failures.push(format!(
                "{}: {kind} at {path:?} names a value that is not in the request ({message})",
                case.name()
            ));
        }
    }
}

/// Runs a case that must be accepted: exact warnings, then the summary checks.
fn check_accepted(case: &Case, expected: &[(String, String)], summary: Option<&Value>, failures: &mut Vec<String>) {
    let validated = match validate(&case.request, &case.limits) {
        Ok(v) => v,
        Err(problems) => {
            let said: Said = problems.iter().map(|p| (p.path.clone(), kind_name(p.kind), p.message.clone())).collect();
            failures.push(format!("{}: refused, but must be accepted\n{}", case.name(), listing(expected, &said)));
            return;
        }
    };
    let said: Said =
        validated.warnings.iter().map(|w| (w.path.clone(), kind_name(w.kind), w.message.clone())).collect();
    let actual: Vec<(String, String)> = said.iter().map(|(p, k, _)| (p.clone(), k.clone())).collect();
    if actual != expected {
        failures.push(format!("{}: warnings differ\n{}", case.name(), listing(expected, &said)));
    }
    check_items(case, &said, &[], failures);
    if let Some(summary) = summary {
        let actual = JobSummary::new(&validated);
        for mismatch in summary_mismatches(summary, &actual) {
            failures.push(format!("{}: summary: {mismatch}", case.name()));
        }
    }
}

/// Compares the `summary` checks of a valid case with the actual job summary.
fn summary_mismatches(checks: &Value, s: &JobSummary) -> Vec<String> {
    let Some(checks) = checks.as_object() else { return vec!["\"summary\" must be an object".into()] };
    let secure = s.secure_document.as_ref();
    let mut out = Vec::new();
    for (key, want) in checks {
        let got: Value = match key.as_str() {
            "messages" => s.messages.len().into(),
            "envelopeRecipients" => s.envelope_recipient_count.into(),
            "envelope" => s.messages.iter().map(|m| Value::from(m.envelope_recipients.clone())).collect(),
            "messagePlans" => json(&s.messages),
            "attachments" => s.attachments.len().into(),
            "attachmentPlans" => json(&s.attachments),
            "sealed" => s.attachments.iter().filter(|a| a.sealed).map(|a| Value::from(a.index)).collect(),
            "archiveName" => secure.map_or(Value::Null, |d| d.archive_name.clone().into()),
            "strength" => secure.map_or(Value::Null, |d| json(&d.strength)),
            "subjectPrefix" => secure.map_or(Value::Null, |d| d.subject_prefix.clone().into()),
            "passwordMailSubject" => secure.map_or(Value::Null, |d| d.password_mail_subject.clone().into()),
            "subject" => s.subject.clone().into(),
            "bodyContentType" => s.body_content_type.clone().into(),
            "sender" => json(&s.sender),
            "headerFrom" => json(&s.header_from),
            "antivirus" => s.antivirus.into(),
            "callbackUrl" => s.callback.as_ref().map_or(Value::Null, |c| c.url.clone().into()),
            other => {
                out.push(format!("unknown check {other:?}"));
                continue;
            }
        };
        if &got != want {
            out.push(format!("{key}: expected {want}, got {got}"));
        }
    }
    out
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn fail_if_any(failures: Vec<String>) {
    assert!(failures.is_empty(), "{} corpus failure(s):\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn invalid_requests_are_refused_with_exactly_their_problems() {
    let cases = load_dir("invalid", &["description", "rule", "limits", "problems"]);
    let mut failures = Vec::new();
    for case in &cases {
        if case.doc.get("rule").and_then(Value::as_str).is_none_or(|r| r.trim().is_empty()) {
            failures.push(format!("{}: \"rule\" must name the rule the case breaks", case.name()));
        }
        let expected = match pairs(case.doc.get("problems"), "problems") {
            Ok(p) if p.is_empty() => {
                failures.push(format!("{}: an invalid case lists at least one problem", case.name()));
                continue;
            }
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name()));
                continue;
            }
        };
        match validate(&case.request, &case.limits) {
            Ok(v) => {
                let said: Said =
                    v.warnings.iter().map(|w| (w.path.clone(), kind_name(w.kind), w.message.clone())).collect();
                failures.push(format!(
                    "{}: accepted, but must be refused (actual = warnings)\n{}",
                    case.name(),
                    listing(&expected, &said)
                ));
            }
            Err(problems) => {
                let said: Said =
                    problems.iter().map(|p| (p.path.clone(), kind_name(p.kind), p.message.clone())).collect();
                let actual: Vec<(String, String)> = said.iter().map(|(p, k, _)| (p.clone(), k.clone())).collect();
                if actual != expected {
                    failures.push(format!("{}: problems differ\n{}", case.name(), listing(&expected, &said)));
                }
                check_items(case, &said, &["missing"], &mut failures);
            }
        }
    }
    fail_if_any(failures);
}

#[test]
fn valid_requests_are_accepted_with_exactly_their_warnings() {
    let cases = load_dir("valid", &["description", "rule", "limits", "warnings", "summary"]);
    let mut failures = Vec::new();
    for case in &cases {
        match pairs(case.doc.get("warnings"), "warnings") {
            Ok(expected) => check_accepted(case, &expected, case.doc.get("summary"), &mut failures),
            Err(e) => failures.push(format!("{}: {e}", case.name())),
        }
    }
    fail_if_any(failures);
}

#[test]
fn samples_are_accepted_with_exactly_the_warnings_they_deserve() {
    let index_file = corpus_dir().join("samples.json");
    let index: Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(&index_file).unwrap_or_else(|e| panic!("{}: {e}", index_file.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", index_file.display()));
    let dir = samples_dir();
    let mut samples: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    samples.sort();
    let listed: Vec<String> = index.keys().cloned().collect();
    assert_eq!(samples, listed, "samples.json must list exactly the samples of {}", dir.display());

    let mut failures = Vec::new();
    for (name, entry) in &index {
        let file = dir.join(name);
        let request = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let case = Case { file, doc: Map::new(), request, limits: Limits::default() };
        match pairs(entry.get("warnings"), "warnings") {
            Ok(expected) => check_accepted(&case, &expected, entry.get("summary"), &mut failures),
            Err(e) => failures.push(format!("samples.json {name}: {e}")),
        }
    }
    fail_if_any(failures);
}

#[test]
fn the_corpus_is_large_and_exercises_every_kind() {
    let invalid = load_dir("invalid", &["description", "rule", "limits", "problems"]);
    let valid = load_dir("valid", &["description", "rule", "limits", "warnings", "summary"]);
    assert!(invalid.len() >= MIN_INVALID_CASES, "only {} invalid cases; at least {MIN_INVALID_CASES}", invalid.len());
    assert!(valid.len() >= MIN_VALID_CASES, "only {} valid cases; at least {MIN_VALID_CASES}", valid.len());
    for cases in [&invalid, &valid] {
        let mut numbers = BTreeSet::new();
        for case in cases {
            let number = case.file.file_name().and_then(|n| n.to_str()).map(|n| n[..3].to_owned());
            assert!(numbers.insert(number), "{}: its number is taken by another case", case.name());
        }
    }

    let problems: BTreeSet<String> = invalid
        .iter()
        .flat_map(|c| pairs(c.doc.get("problems"), "problems").unwrap_or_default())
        .map(|(_, kind)| kind)
        .collect();
    let missing: Vec<String> = ProblemKind::ALL.into_iter().map(kind_name).filter(|k| !problems.contains(k)).collect();
    assert!(missing.is_empty(), "no invalid case expects these problem kinds: {missing:?}");
    let unknown: Vec<&String> =
        problems.iter().filter(|k| !ProblemKind::ALL.into_iter().any(|p| &kind_name(p) == *k)).collect();
    assert!(unknown.is_empty(), "cases expect problem kinds that do not exist: {unknown:?}");

    let warnings: BTreeSet<String> = valid
        .iter()
        .flat_map(|c| pairs(c.doc.get("warnings"), "warnings").unwrap_or_default())
        .map(|(_, kind)| kind)
        .collect();
    let missing: Vec<String> = WarningKind::ALL.into_iter().map(kind_name).filter(|k| !warnings.contains(k)).collect();
    assert!(missing.is_empty(), "no valid case expects these warning kinds: {missing:?}");
    let several =
        invalid.iter().filter(|c| pairs(c.doc.get("problems"), "problems").is_ok_and(|p| p.len() >= 3)).count();
    assert!(several >= 5, "only {several} invalid cases have three or more problems at once");
}
