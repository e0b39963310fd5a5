//! Python scripts as third-party checkers: `python3 -c SCRIPT` with its input on stdin.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `script` with `python3 -c`, the arguments `args` and `input` on stdin (bodies can be
/// large, and secrets do not belong in a process list); its stdout, or its stdout and stderr
/// when it fails.
pub fn python(script: &str, args: &[&std::ffi::OsStr], input: &[u8]) -> Result<String, String> {
    crate::require_tool("python3");
    let mut child = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(input).expect("writing to python3");
    let output = child.wait_with_output().expect("python3 finishes");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)))
    }
}
