//! The `sealmail` command line as a user runs it: exit codes, what goes to standard output
//! and standard error, and that its archives open in 7-Zip with the printed password.

use std::path::Path;
use std::process::{Command, Output};

fn sealmail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealmail")).args(args).output().expect("sealmail runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn samples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples")
}

#[test]
fn validate_prints_a_summary_and_warnings_for_a_valid_request() {
    let o = sealmail(&["validate", samples().join("retarus-doc-style.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.starts_with("valid: 1 message(s) to 2 envelope recipient(s)"), "{out}");
    assert!(out.contains("secure document: test.zip (very_high password)"), "{out}");
    assert!(out.contains("warning: /job/features/secureDocument/password/type: \"strong\""), "{out}");
}

#[test]
fn validate_lists_every_problem_with_its_path_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("bad.json");
    std::fs::write(&job, r#"{"mail":{"from":{"email":"not-an-address"}},"subject":{"content":"Hi\r\nBcc: x@y.example"},"body":{"content":"x"},"recipients":[]}"#).unwrap();
    let o = sealmail(&["validate", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<String> = stdout(&o).lines().map(|l| l.split(':').next().unwrap().to_owned()).collect();
    assert_eq!(lines, ["/mail/from/email", "/recipients", "/subject/content"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid: 3 problem(s)"));

    let o = sealmail(&["validate", "--json", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON output");
    assert_eq!(v["valid"], false);
    let kinds: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["invalid-address", "empty-value", "header-injection"]);
}

#[test]
fn validate_reports_a_missing_file_as_a_usage_error() {
    let o = sealmail(&["validate", "/nonexistent/job.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent/job.json"));
}

#[test]
fn password_prints_one_password_of_the_strength() {
    let o = sealmail(&["password", "--strength", "maximum"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.trim_end().len(), 20, "{out:?}");
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn seal_writes_an_archive_that_7zip_opens_with_the_printed_password() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("Brief Müller.txt");
    let b = dir.path().join("scan.pdf");
    std::fs::write(&a, "Sehr geehrte Frau Müller,\n".repeat(1000)).unwrap();
    std::fs::write(&b, b"%PDF-1.4\n%%EOF\n").unwrap();
    let out = dir.path().join("out.zip");
    let o = sealmail(&[
        "seal",
        "--strength",
        "high",
        "-o",
        out.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let password = stdout(&o).trim_end().to_owned();
    assert_eq!(password.len(), 10, "only the password goes to stdout: {password:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Brief Müller.txt") && err.contains("deflated") && err.contains("stored"), "{err}");
    assert!(!dir.path().join("out.zip.partial").exists());

    let x = dir.path().join("x");
    let z = Command::new("7z")
        .arg("x")
        .arg(format!("-p{password}"))
        .arg(format!("-o{}", x.display()))
        .arg(&out)
        .output()
        .expect("7z runs (cargo xtask setup installs it)");
    assert!(z.status.success(), "{}", String::from_utf8_lossy(&z.stdout));
    assert_eq!(std::fs::read(x.join("Brief Müller.txt")).unwrap(), std::fs::read(&a).unwrap());
    assert_eq!(std::fs::read(x.join("scan.pdf")).unwrap(), std::fs::read(&b).unwrap());

    // No silent overwrite.
    let o = sealmail(&["seal", "-o", out.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
}

#[test]
fn seal_refuses_a_missing_input_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.zip");
    let o = sealmail(&["seal", "-o", out.to_str().unwrap(), "/nonexistent/file.pdf"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent/file.pdf"));
    assert!(!out.exists());
}
