//! The browser encryption preview (`/preview/`, `web/preview/`) in a real browser: the
//! `sealmail` binary serves it, Debian's Chromium runs it under playwright-core
//! (`web/tests/preview.mjs` clicks, this file judges), and tools we did not write check the
//! result.
//!
//! What is proven: at 1280×800 and at 390 px wide, files picked, dropped and removed
//! again are sealed **in the browser** into an archive pyzipper opens with the password the
//! page shows, byte-identical, entry names (non-ASCII) intact; the password has the chosen
//! strength's length; after the page loaded no request other than GETs of the page's own
//! static assets was made, and the page's Content-Security-Policy forbids connections; the
//! page reports the same JSON paths for an invalid JobRequest as the wasmtime host, and the
//! same messages and sealed attachments for a valid one; neither viewport overflows
//! horizontally. Screenshots stay in `target/test-artifacts/preview/`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sealmail_sandbox::library::Strength;
use sealmail_sandbox::validation_json::problem_kind_name;
use sealmail_test_support::browser::{artifacts_dir, require_browser, run_node_script};
use sealmail_test_support::{Sealmail, pyzipper_extract};
use sealmail_test_support::{repo_root, require_tool};
use sealmail_tests::{library, samples_dir};
use serde_json::{Value, json};

/// Chromium's start and the component's compilation take seconds, or far more while the other
/// core builds; a passing run needs about ten.
const PATIENCE: Duration = Duration::from_secs(180);

/// Multi-chunk (the page reads 1 MiB slices) and not a multiple of the chunk size;
/// incompressible, so the archive stores it.
const PDF_NAME: &str = "Übersicht März 2026.pdf";
const NOTES_NAME: &str = "notes.txt";
/// No spaces to break at: it must wrap inside the 390 px layout.
const LONG_NAME: &str =
    "Quartalsbericht_2026_Q1_Konzernabschluss_endgültige_Fassung_mit_Anmerkungen_der_Geschäftsführung_und_Revision.csv";

/// What each viewport seals with: label (as the script reports it), width, strength, the
/// strength's name in the page, requested archive name.
const RUNS: [(&str, u64, Strength, &str, &str); 2] = [
    ("1280", 1280, Strength::Maximum, "maximum", "Unterlagen März"),
    ("390", 390, Strength::Medium, "medium", "mobil: Belege/2026"),
];

fn pdf_bytes() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut random = vec![0u8; (5 << 19) + 7];
    ChaCha20Rng::seed_from_u64(5).fill_bytes(&mut random);
    pdf.extend(random);
    pdf
}

fn notes_bytes() -> Vec<u8> {
    let line = "Notiz 2026-03: Unterlagen für Frau Müller geprüft · Beträge in € · Rückfrage bis Freitag\n";
    line.bytes().cycle().take(40_000).collect()
}

fn long_bytes() -> Vec<u8> {
    (0..500).map(|i| format!("{i};Position {i};{},{:02} €\n", i * 7, i % 100)).collect::<String>().into_bytes()
}

/// The secure-document sample broken in three places: a required field missing, a bad
/// recipient address, an attachment that is not base64.
fn invalid_request() -> Vec<u8> {
    let mut request: Value = serde_json::from_slice(&std::fs::read(valid_request_path()).unwrap()).unwrap();
    request["mail"].as_object_mut().expect("sample has mail").remove("from");
    request["recipients"][0]["mail"]["to"][1]["email"] = json!("anna at recipient.example");
    request["attachments"][2]["content"] = json!("not base64!");
    serde_json::to_vec_pretty(&request).unwrap()
}

fn valid_request_path() -> PathBuf {
    samples_dir().join("secure-document.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_seals_and_checks_in_the_browser_and_sends_nothing() {
    require_browser();
    require_tool("python3");
    let server = Sealmail::start("").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = dir.path().join("inputs");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&out).unwrap();

    let files = [(PDF_NAME, pdf_bytes()), (NOTES_NAME, notes_bytes()), (LONG_NAME, long_bytes())];
    let mut described = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        let path = inputs.join(format!("file-{i}"));
        std::fs::write(&path, bytes).unwrap();
        described.push(json!({ "name": name, "path": path }));
    }
    let invalid = invalid_request();
    let invalid_path = inputs.join("invalid.json");
    std::fs::write(&invalid_path, &invalid).unwrap();
    let manifest = json!({
        "files": [described[0], described[1]],
        "extraFile": described[2],
        "wide": { "strength": RUNS[0].3, "archiveName": RUNS[0].4 },
        "narrow": { "strength": RUNS[1].3, "archiveName": RUNS[1].4 },
        "invalidRequest": invalid_path,
        "validRequest": valid_request_path(),
    });
    let manifest_path = inputs.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    let script = repo_root().join("web").join("tests").join("preview.mjs");
    let base_url = server.base_url.clone();
    let args = [OsStr::new(&base_url), out.as_os_str(), manifest_path.as_os_str()].map(OsStr::to_os_string);
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_node_script(&script, &args, PATIENCE)
    })
    .await
    .expect("the browser thread");
    let kept = keep_screenshots(&out);
    let output = output.unwrap_or_else(|e| panic!("{e}\nscreenshots: {kept}"));
    let report: Value = serde_json::from_str(output.stdout.trim())
        .unwrap_or_else(|e| panic!("the script's report is not JSON ({e}):\n{}", output.stdout));
    println!("screenshots: {kept}");

    // Both seal flows: the archive opens with the password shown, byte-identical.
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), RUNS.len(), "{report}");
    let mut passwords = Vec::new();
    for (run, (label, width, strength, _, archive_name)) in runs.iter().zip(RUNS) {
        assert_eq!(run["label"], label);
        let expected: &[(&str, Vec<u8>)] = if label == "1280" { &files[..2] } else { &files };
        check_seal_flow(run, expected, strength, archive_name).await;
        check_no_overflow(run, width);
        passwords.push(run["password"].as_str().unwrap().to_owned());
    }
    assert_ne!(passwords[0], passwords[1], "every seal needs a fresh password");

    check_requests(&report, &base_url);
    check_validation(&report, &invalid).await;
}

/// The downloaded archive against the inputs, and the password against the strength.
async fn check_seal_flow(run: &Value, expected: &[(&str, Vec<u8>)], strength: Strength, archive_name: &str) {
    let label = &run["label"];
    assert_eq!(run["sealError"], Value::Null, "{label}: the page showed an error: {run}");
    let listed: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(run["listed"], json!(listed), "{label}: the chosen files (picked, dropped, removed)");
    assert_eq!(run["progress"]["value"], 100, "{label}: {run}");

    let password = run["password"].as_str().expect("password");
    let length = library().password_length(strength).await.expect("sandbox") as usize;
    assert_eq!(password.chars().count(), length, "{label}: {password:?} for {strength:?}");
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()), "{label}: {password:?}");
    assert_eq!(run["clipboard"], password, "{label}: what the Copy button put on the clipboard");

    let name = library().archive_file_name(archive_name).await.expect("sandbox");
    assert_eq!(run["suggestedFilename"], name.as_str(), "{label}: download name");
    assert_eq!(run["shownName"], name.as_str(), "{label}: the name the page announces");

    let archive = std::fs::read(run["archive"].as_str().expect("archive path")).expect("the downloaded archive");
    let extracted = pyzipper_extract(&archive, password);
    let names: Vec<&str> = extracted.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, listed, "{label}: entry names");
    for ((name, got), (_, want)) in extracted.iter().zip(expected) {
        assert!(got == want, "{label}: {name} differs ({} vs {} bytes)", got.len(), want.len());
    }
    assert_eq!(run["entriesShown"], json!(listed), "{label}: the entries the page lists");
}

fn check_no_overflow(run: &Value, width: u64) {
    let label = &run["label"];
    let overflow = &run["overflow"];
    assert_eq!(overflow["viewport"], width, "{label}: viewport");
    let scroll = overflow["scrollWidth"].as_u64().expect("scrollWidth");
    let client = overflow["clientWidth"].as_u64().expect("clientWidth");
    assert!(scroll <= client, "{label}: horizontal overflow ({scroll} > {client}): {}", overflow["culprits"]);
}

/// After the initial navigation, only GETs of the page's own static assets, without bodies;
/// no WebSocket; no CSP violation or script error; and the policy forbids connections.
fn check_requests(report: &Value, base_url: &str) {
    let csp = report["csp"].as_str().expect("the page has a Content-Security-Policy");
    assert!(csp.contains("connect-src 'none'"), "{csp}");
    assert_eq!(report["pageStatus"], 200);
    let requests = report["requests"].as_array().expect("requests");
    let page = format!("{base_url}/preview/");
    let preview_dist = repo_root().join("web").join("dist").join("preview");
    let first = &requests[0];
    assert_eq!(first["url"], page.as_str(), "the first request is the navigation: {first}");
    assert_eq!(first["resourceType"], "document");
    for request in requests {
        let url = request["url"].as_str().unwrap();
        assert!(
            request["method"] == "GET" && request["hasBody"] == false,
            "a request that is not a bodiless GET: {request}"
        );
        // Exactly a file the server embeds: no query string or fragment that could carry data.
        let asset = url.strip_prefix(&page).unwrap_or_else(|| panic!("a request outside the page's assets: {request}"));
        let served = if asset.is_empty() { "index.html" } else { asset };
        assert!(
            !served.contains(['?', '#']) && preview_dist.join(served).is_file(),
            "a request for something that is not one of the page's files: {request}"
        );
        assert_eq!(request["status"], 200, "an asset that is not there: {request}");
    }
    let urls: Vec<&str> = requests.iter().map(|r| r["url"].as_str().unwrap()).collect();
    for asset in ["preview.js", "preview.css", "sealmail/sealmail.js"] {
        let url = format!("{page}{asset}");
        assert!(urls.contains(&url.as_str()), "the log misses {url}: {urls:?}");
    }
    assert_eq!(urls.iter().filter(|u| **u == page).count(), 2, "one navigation per page: {urls:?}");
    assert_eq!(report["webSockets"], json!([]));
    assert_eq!(report["consoleErrors"], json!([]), "CSP violations are reported as console errors");
    assert_eq!(report["pageErrors"], json!([]));
}

/// The page against the wasmtime host, on the same bytes.
async fn check_validation(report: &Value, invalid: &[u8]) {
    let problems = match library().validate(invalid, None).await.expect("sandbox") {
        Ok(_) => panic!("the host accepts the broken request"),
        Err(problems) => problems,
    };
    let expected: Vec<Value> =
        problems.iter().map(|p| json!({ "path": p.path, "kind": problem_kind_name(p.kind) })).collect();
    assert!(expected.len() >= 3, "{expected:?}");
    let shown: Vec<Value> = report["invalid"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| json!({ "path": p["path"], "kind": p["kind"] }))
        .collect();
    assert_eq!(shown, expected, "the page's problems against the host's");
    assert_eq!(report["runs"][1]["problemsShown"], expected.len(), "the problems at 390 px");

    let valid = std::fs::read(valid_request_path()).unwrap();
    let summary = library().validate(&valid, None).await.expect("sandbox").expect("the sample is valid");
    let page = &report["valid"];
    let sealed: Vec<&str> = summary.attachments.iter().filter(|a| a.sealed).map(|a| a.name.as_str()).collect();
    assert!(!sealed.is_empty() && !summary.messages.is_empty());
    assert_eq!(page["messages"], summary.messages.len(), "{page}");
    assert_eq!(page["messagesShown"], summary.messages.len(), "{page}");
    assert_eq!(page["sealedCount"], sealed.len(), "{page}");
    assert_eq!(page["sealedShown"], json!(sealed), "{page}");
    assert_eq!(page["attachmentsShown"], summary.attachments.len(), "{page}");
    assert_eq!(page["problemsShown"], 0, "{page}");
    let secure = summary.secure_document.as_ref().expect("the sample is a secure document");
    assert_eq!(page["passwordSubject"], secure.password_mail_subject.as_str(), "{page}");
    assert_eq!(page["archiveName"], secure.archive_name.as_str(), "{page}");
    assert_eq!(page["callbackUrl"], json!(summary.callback.as_ref().map(|c| &c.url)), "{page}");
    let warnings: Vec<&str> = summary.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(page["warnings"], json!(warnings), "{page}");
}

/// Copies the screenshots (and a failure screenshot, if any) to `target/test-artifacts/preview/`
/// and says where they are; a missing one is reported, not fatal, so the real failure shows.
fn keep_screenshots(out: &Path) -> String {
    let kept = artifacts_dir("preview");
    let mut found = Vec::new();
    for name in ["preview-1280.png", "preview-390.png", "failure.png"] {
        let from = out.join(name);
        let to = kept.join(name);
        let _ = std::fs::remove_file(&to);
        if let Ok(png) = std::fs::read(&from) {
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{name} is no screenshot");
            std::fs::write(&to, png).unwrap();
            found.push(to.display().to_string());
        }
    }
    if found.is_empty() { format!("none in {}", kept.display()) } else { found.join(", ") }
}
