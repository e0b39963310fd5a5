//! The `library` component embedded in Node.js ("embedding in other hosts"): the
//! jco output of `cargo xtask build-web`, driven by `web/tests/node-embedding.mjs` with no
//! sealmail code beyond the WIT, must
//!
//! - validate every sample and every case of the request corpus exactly as the wasmtime
//!   host does (in process, and through `sealmail validate --json`), compared as JSON
//!   values: a difference is a bug in jco's lifting, in the WASI shim, or in the guest's
//!   dependence on its host;
//! - make archives that pyzipper and 7-Zip open with the password Node got from the
//!   component, byte-identical, through both `archive.seal` and the streaming `Sealer`;
//! - be built from the published artefacts: `web/dist/artefacts/sealmail.wasm` is the very
//!   component the host embeds, and `web/dist/artefacts/wit/` is the WIT package.
//!
//! This test builds nothing (node and jco output come from `cargo xtask build-web`, which
//! `cargo xtask test` runs first); it fails with instructions when the output is missing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealmail_test_support::{pyzipper_extract, pyzipper_try_extract, server, sevenzip_extract};
use sealmail_test_support::{repo_root, require_tool};
use sealmail_tests::{corpus, library, samples_dir};
use sealmail_tests::{invoice_text as text, random_bytes as random};
use serde_json::{Value, json};

fn web() -> PathBuf {
    repo_root().join("web")
}

/// Fails with instructions unless node and the jco output are there.
fn require_node_build() {
    require_tool("node");
    let jco_output = web().join("dist").join("node").join("sealmail").join("sealmail.js");
    assert!(
        jco_output.is_file(),
        "{} is missing: run `cargo xtask build-web` (cargo xtask test does) to transpile the component for Node",
        jco_output.display()
    );
}

fn describe(o: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the driver with `jobs` on standard input; its JSON answer.
fn node_driver(jobs: &Value) -> Value {
    require_node_build();
    let mut child = Command::new("node")
        .arg(web().join("tests").join("node-embedding.mjs"))
        .current_dir(web())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child.stdin.take().expect("stdin").write_all(&serde_json::to_vec(jobs).unwrap()).expect("writing the job list");
    let o = child.wait_with_output().expect("node finishes");
    assert!(o.status.success(), "node-embedding.mjs failed: {}", describe(&o));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("node-embedding.mjs printed no JSON ({e}): {}", describe(&o)))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

// ---------------------------------------------------------------------------------------
// Validation parity.

#[tokio::test]
async fn node_validates_every_sample_and_corpus_case_exactly_like_the_wasmtime_host() {
    let cases = corpus();
    let samples: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(!samples.is_empty(), "no samples in {}", samples_dir().display());
    for sample in &samples {
        assert!(cases.iter().any(|c| &c.file == sample), "the corpus lacks the sample {}", sample.display());
    }

    // Each request as a file, as an embedder would read it; limits where the case sets them.
    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let path = dir.path().join(format!("{i:03}.json"));
        std::fs::write(&path, &case.request).unwrap();
        let mut request = json!({ "id": i.to_string(), "path": path });
        if let Some(l) = case.limits {
            request["limits"] = json!({
                "maxRequestBytes": l.max_request_bytes,
                "maxMessageBytes": l.max_message_bytes,
                "maxAddresses": l.max_addresses,
                "maxRenderedBytes": l.max_rendered_bytes,
            });
        }
        requests.push(request);
    }
    let answer = node_driver(&json!({ "requests": requests }));
    let node: BTreeMap<String, Value> = answer["validations"]
        .as_array()
        .expect("validations")
        .iter()
        .map(|v| (v["id"].as_str().expect("id").to_owned(), v["outcome"].clone()))
        .collect();
    assert_eq!(node.len(), cases.len(), "node answered for {} of {} requests", node.len(), cases.len());

    // The in-process host: the same `Library` and JSON mapping the server and CLI use.
    let lib = library();
    let (mut valid, mut invalid) = (0, 0);
    let mut host_outcomes = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let host = sealmail_sandbox::validation_json::outcome(
            &lib.validate(&case.request, case.limits).await.expect("no trap"),
        );
        let from_node = &node[&i.to_string()];
        assert!(
            *from_node == host,
            "{}: Node and wasmtime differ\nnode:\n{}\nwasmtime:\n{}",
            case.file.display(),
            pretty(from_node),
            pretty(&host)
        );
        if host["valid"] == json!(true) {
            valid += 1
        } else {
            invalid += 1
        }
        host_outcomes.push(host);
    }
    assert!(valid >= samples.len() && invalid >= 40, "{valid} valid and {invalid} invalid requests: the corpus shrank");

    // The command line, `sealmail validate --json`, for every case on default limits (the
    // command has no limit options).
    let binary = server::binary();
    let cache = dir.path().join("component-cache");
    let mut cli_compared = 0;
    for (i, case) in cases.iter().enumerate().filter(|(_, c)| c.limits.is_none()) {
        let o = Command::new(&binary)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["validate", "--json"])
            .arg(dir.path().join(format!("{i:03}.json")))
            .output()
            .expect("sealmail runs");
        let cli: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("{}: `sealmail validate --json` printed no JSON ({e}): {}", case.file.display(), describe(&o))
        });
        assert_eq!(
            o.status.code(),
            Some(if cli["valid"] == json!(true) { 0 } else { 1 }),
            "{}: exit status",
            case.file.display()
        );
        assert!(
            cli == host_outcomes[i],
            "{}: `{} validate --json` differs from the in-process host (a stale binary? `cargo build -p sealmail`)\ncli:\n{}\nin process:\n{}",
            case.file.display(),
            binary.display(),
            pretty(&cli),
            pretty(&host_outcomes[i])
        );
        assert!(cli == node[&i.to_string()], "{}: Node and the CLI differ", case.file.display());
        cli_compared += 1;
    }
    assert!(cli_compared >= samples.len() + 40, "only {cli_compared} requests went through the CLI");
    eprintln!(
        "Node and wasmtime agree on {} requests ({valid} valid, {invalid} invalid; {} samples), \
         {cli_compared} of them also against `sealmail validate --json`",
        cases.len(),
        samples.len()
    );
}

// ---------------------------------------------------------------------------------------
// Archives.

/// One file to seal: its name (also its entry name: these need no sanitizing), content,
/// and the compression the component should pick.
struct Input {
    name: &'static str,
    content: Vec<u8>,
    compression: &'static str,
}

fn inputs() -> Vec<Input> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(random(11, 150_000));
    vec![
        Input { name: "Rechnung-Müller.pdf", content: pdf, compression: "store" },
        Input { name: "empty.txt", content: Vec::new(), compression: "store" },
        Input { name: "zufall-3MiB.bin", content: random(12, 3 << 20), compression: "store" },
        Input { name: "Notizen Ärger – 東京.txt", content: text(300_000), compression: "deflate" },
    ]
}

/// One archive the driver is asked to make.
struct ArchiveJob {
    id: &'static str,
    method: &'static str,
    archive_name: &'static str,
    expected_name: &'static str,
    strength: &'static str,
    password_length: usize,
    chunk_bytes: Option<usize>,
    files: Vec<usize>,
}

fn archive_jobs() -> Vec<ArchiveJob> {
    vec![
        ArchiveJob {
            id: "streaming",
            method: "sealer",
            archive_name: "Unterlagen",
            expected_name: "Unterlagen.zip",
            strength: "very-high",
            password_length: 15,
            chunk_bytes: None,
            files: vec![0, 1, 2, 3],
        },
        ArchiveJob {
            id: "at-once",
            method: "seal",
            archive_name: "Übersicht.zip",
            expected_name: "Übersicht.zip",
            strength: "maximum",
            password_length: 20,
            chunk_bytes: None,
            files: vec![3, 2, 1, 0],
        },
        // Chunks that do not divide the files, so every write ends mid-block.
        ArchiveJob {
            id: "odd-chunks",
            method: "sealer",
            archive_name: "odd",
            expected_name: "odd.zip",
            strength: "medium",
            password_length: 8,
            chunk_bytes: Some(65_537),
            files: vec![2, 0, 3],
        },
    ]
}

/// The password alphabet of `wit/password.wit`: letters and digits without `0 1 O o l I`.
fn check_password(password: &str, length: usize) {
    assert_eq!(password.chars().count(), length, "{password:?}");
    assert!(
        password.chars().all(|c| c.is_ascii_alphanumeric() && !"01OolI".contains(c)),
        "{password:?} has a character outside the alphabet"
    );
}

#[test]
fn node_archives_open_with_pyzipper_and_7z_byte_identically() {
    require_tool("7z");
    require_tool("python3");
    let inputs = inputs();
    let dir = tempfile::tempdir().unwrap();
    let (in_dir, out_dir) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir(&in_dir).unwrap();
    std::fs::create_dir(&out_dir).unwrap();
    for input in &inputs {
        std::fs::write(in_dir.join(input.name), &input.content).unwrap();
    }
    let jobs = archive_jobs();
    let answer = node_driver(&json!({
        "outputDir": out_dir,
        "archives": jobs.iter().map(|j| json!({
            "id": j.id,
            "method": j.method,
            "archiveName": j.archive_name,
            "strength": j.strength,
            "chunkBytes": j.chunk_bytes,
            "files": j.files.iter().map(|&f| in_dir.join(inputs[f].name)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }));
    let made = answer["archives"].as_array().expect("archives");
    assert_eq!(made.len(), jobs.len());

    let mut passwords = Vec::new();
    for (job, made) in jobs.iter().zip(made) {
        let id = job.id;
        assert_eq!(made["id"], id);
        assert_eq!(made["method"], job.method, "{id}");
        assert_eq!(made["name"], job.expected_name, "{id}: archive name");
        let archive = PathBuf::from(made["path"].as_str().expect("path"));
        assert_eq!(archive, out_dir.join(job.expected_name), "{id}");
        let password = made["password"].as_str().expect("password");
        assert_eq!(made["passwordLength"], job.password_length, "{id}: password.length({})", job.strength);
        check_password(password, job.password_length);
        passwords.push(password.to_owned());

        let expected: Vec<&Input> = job.files.iter().map(|&f| &inputs[f]).collect();
        let entries = made["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), expected.len(), "{id}");
        for (entry, input) in entries.iter().zip(&expected) {
            assert_eq!(entry["name"], input.name, "{id}");
            assert_eq!(entry["size"], input.content.len(), "{id}: {}", input.name);
            assert_eq!(entry["compression"], input.compression, "{id}: {}", input.name);
        }

        // pyzipper: every entry, in order, byte for byte.
        let bytes = std::fs::read(&archive).unwrap();
        let extracted = pyzipper_extract(&bytes, password);
        let names: Vec<&str> = extracted.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected.iter().map(|i| i.name).collect::<Vec<_>>(), "{id}: pyzipper's entries");
        for ((name, content), input) in extracted.iter().zip(&expected) {
            assert!(
                *content == input.content,
                "{id}: pyzipper: {name} differs ({} vs {} bytes)",
                content.len(),
                input.content.len()
            );
        }
        assert!(pyzipper_try_extract(&bytes, "Wrong-Passw0rd").is_err(), "{id}: pyzipper accepted a wrong password");

        // 7-Zip: the same files, nothing else.
        let seven = dir.path().join(format!("7z-{id}"));
        let o = sevenzip_extract(&archive, password, &seven);
        assert!(o.status.success(), "{id}: 7z failed: {}", describe(&o));
        for input in &expected {
            let got = std::fs::read(seven.join(input.name))
                .unwrap_or_else(|e| panic!("{id}: 7z did not extract {}: {e}", input.name));
            assert!(
                got == input.content,
                "{id}: 7z: {} differs ({} vs {} bytes)",
                input.name,
                got.len(),
                input.content.len()
            );
        }
        assert_eq!(std::fs::read_dir(&seven).unwrap().count(), expected.len(), "{id}: 7z extracted extra files");
        let o = sevenzip_extract(&archive, "Wrong-Passw0rd", &dir.path().join(format!("7z-wrong-{id}")));
        assert!(!o.status.success(), "{id}: 7z accepted a wrong password");
    }
    passwords.sort();
    passwords.dedup();
    assert_eq!(passwords.len(), jobs.len(), "every archive got a fresh password");
    eprintln!("{} archives made in Node opened byte-identically with pyzipper and 7z", jobs.len());
}

// ---------------------------------------------------------------------------------------
// The copyable example.

/// `web/examples/embed-node.mjs` as its comment says to run it: a valid request is
/// summarized and the files sealed with the printed password; an invalid one lists its
/// problems, exits 1 and writes nothing.
#[test]
fn the_node_example_validates_and_seals() {
    require_node_build();
    require_tool("python3");
    let dir = tempfile::tempdir().unwrap();
    let files = [("Grüße.txt", text(20_000)), ("zufall.bin", random(21, (1 << 20) + 17))];
    for (name, content) in &files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let example = web().join("examples").join("embed-node.mjs");
    let run = |request: &Path, out: &str| {
        Command::new("node")
            .arg(&example)
            .arg(request)
            .arg(out)
            .args(files.iter().map(|(name, _)| name))
            .current_dir(dir.path())
            .output()
            .expect("node runs")
    };

    let o = run(&samples_dir().join("secure-document.json"), "sealed.zip");
    assert!(o.status.success(), "the example failed: {}", describe(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("valid, 1 message(s) to 3 recipient(s), 3 attachment(s) (2 to seal)"), "{stdout}");
    let password = stdout.lines().find_map(|l| l.strip_prefix("password: ")).expect("the example prints the password");
    check_password(password, 15);
    let extracted = pyzipper_extract(&std::fs::read(dir.path().join("sealed.zip")).unwrap(), password);
    assert_eq!(extracted.len(), files.len());
    for ((name, content), (expected_name, expected)) in extracted.iter().zip(&files) {
        assert_eq!(name, expected_name);
        assert!(content == expected, "{name} differs");
    }

    let invalid = dir.path().join("invalid.json");
    std::fs::write(&invalid, br#"{"mail": {"from": "not an address"}}"#).unwrap();
    let o = run(&invalid, "never.zip");
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("/recipients: ") && stdout.contains("[missing]"), "{stdout}");
    assert!(!dir.path().join("never.zip").exists(), "an invalid request must not lead to an archive");
}

// ---------------------------------------------------------------------------------------
// The published artefacts.

#[test]
fn the_published_artefacts_are_the_host_component_and_the_wit_package() {
    let artefacts = web().join("dist").join("artefacts");
    let wasm = artefacts.join("sealmail.wasm");
    let published = std::fs::read(&wasm)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask build-web` (cargo xtask test does)", wasm.display()));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from);
    let built = target.join("components").join("library.wasm");
    assert!(
        published == std::fs::read(&built).unwrap_or_else(|e| panic!("{}: {e}", built.display())),
        "{} differs from {}: run `cargo xtask build-web` again",
        wasm.display(),
        built.display()
    );
    // And the component the wasmtime host embeds, so that the parity test above compares
    // the same build in both hosts.
    assert!(
        published == sealmail_sandbox::runtime::COMPONENT_WASM,
        "{} is not the component the host embeds: rebuild both (cargo xtask test)",
        wasm.display()
    );

    let wit_files = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
            .collect()
    };
    let source = wit_files(&repo_root().join("wit"));
    let copied = wit_files(&artefacts.join("wit"));
    assert!(source.contains_key("world.wit") && source.len() >= 4, "wit/ holds {:?}", source.keys());
    assert_eq!(copied.keys().collect::<Vec<_>>(), source.keys().collect::<Vec<_>>(), "the WIT files published");
    for (name, bytes) in &source {
        assert!(copied[name] == *bytes, "web/dist/artefacts/wit/{name} differs from wit/{name}");
    }
    eprintln!("artefacts: sealmail.wasm ({} KiB) and {} WIT files", published.len() / 1024, source.len());
}
