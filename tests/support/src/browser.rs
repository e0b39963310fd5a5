//! A real browser for the tests: Debian's Chromium driven by npm `playwright-core` (installed
//! in `web/node_modules` by `cargo xtask setup` / `build-web`) through Node.js scripts under
//! `web/tests/`. A script does the clicking and prints one JSON object of what it saw; the
//! Rust test judges it. Files a person should be able to look at afterwards (screenshots) go
//! to `target/test-artifacts/`.
//!
//! A missing Node.js, Chromium or playwright-core is a failure with instructions, never a
//! silent skip; a script that hangs is killed at its deadline.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Chromium the scripts launch: `$CHROMIUM`, else Debian's.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Fails with instructions unless Node.js, Chromium and playwright-core are all there.
pub fn require_browser() {
    crate::require_tool("node");
    let chromium = chromium();
    assert!(chromium.is_file(), "{} is missing; run `cargo xtask setup` (it installs Chromium)", chromium.display());
    let playwright = crate::repo_root().join("web").join("node_modules").join("playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing; run `cargo xtask setup` or `cargo xtask build-web` (they install it with npm)",
        playwright.display()
    );
}

/// What a browser script printed.
#[derive(Debug)]
pub struct ScriptOutput {
    /// Its standard output (the JSON report).
    pub stdout: String,
    /// Its standard error (Playwright's call log when something went wrong).
    pub stderr: String,
}

/// Runs `node SCRIPT ARGS…` from the repository root and waits at most `patience`. `Err`
/// carries the exit status (or the timeout) and both outputs, for the assertion message.
/// Outputs go to files rather than pipes, so a chatty script cannot block on a full pipe
/// while it is being waited for.
pub fn run_node_script(script: &Path, args: &[&OsStr], patience: Duration) -> Result<ScriptOutput, String> {
    require_browser();
    let dir = tempfile::tempdir().expect("temp dir");
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    let create = |path: &Path| std::fs::File::create(path).expect("output file");
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(crate::repo_root())
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(create(&stdout_path))
        .stderr(create(&stderr_path))
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + patience;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let output = ScriptOutput { stdout: read(&stdout_path), stderr: read(&stderr_path) };
    match status {
        Some(status) if status.success() => Ok(output),
        Some(status) => Err(format!(
            "{} failed ({status}):\n--- stderr ---\n{}\n--- stdout ---\n{}",
            script.display(),
            output.stderr,
            output.stdout
        )),
        None => Err(format!(
            "{} did not finish within {patience:?} (killed):\n--- stderr ---\n{}",
            script.display(),
            output.stderr
        )),
    }
}

/// `target/test-artifacts/NAME/` (under `$CARGO_TARGET_DIR` when set), created: where a test
/// keeps files for people to look at after the run.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::repo_root().join("target"), PathBuf::from);
    let dir = target.join("test-artifacts").join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
