//! Third-party archive tools reading what sealmail wrote: Python's pyzipper (an independent
//! WinZip AES reader) and 7-Zip. A tool that is missing fails the test with instructions
//! ([`crate::require_tool`]); it is never skipped.

use std::process::Command;

use base64::Engine as _;

/// Reads an AES ZIP with Python's pyzipper and prints `[[name, base64(bytes)], …]`.
const PYZIPPER_EXTRACT: &str = r#"
import sys, json, base64, pyzipper
with pyzipper.AESZipFile(sys.argv[1]) as z:
    z.setpassword(sys.argv[2].encode())
    json.dump([[i.filename, base64.b64encode(z.read(i)).decode()] for i in z.infolist()], sys.stdout)
"#;

/// Every entry (name and bytes, in archive order) of `zip_bytes` as pyzipper extracts it with
/// `password`; panics with pyzipper's error when it cannot (see [`pyzipper_try_extract`]).
pub fn pyzipper_extract(zip_bytes: &[u8], password: &str) -> Vec<(String, Vec<u8>)> {
    pyzipper_try_extract(zip_bytes, password).unwrap_or_else(|e| panic!("pyzipper could not extract: {e}"))
}

/// Runs 7-Zip's `7z x -pPASSWORD -oOUT -y ARCHIVE` (the exit status says whether it could).
/// p7zip converts entry names through the locale, so it runs in `C.UTF-8`.
pub fn sevenzip_extract(archive: &std::path::Path, password: &str, out: &std::path::Path) -> std::process::Output {
    crate::require_tool("7z");
    Command::new("7z")
        .env("LC_ALL", "C.UTF-8")
        .arg("x")
        .arg(format!("-p{password}"))
        .arg(format!("-o{}", out.display()))
        .arg("-y")
        .arg(archive)
        .output()
        .expect("7z runs")
}

/// Like [`pyzipper_extract`], but pyzipper's failure (e.g. a wrong password) is an `Err` with
/// its message.
pub fn pyzipper_try_extract(zip_bytes: &[u8], password: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    crate::require_tool("python3");
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("archive.zip");
    std::fs::write(&archive, zip_bytes).expect("writing the archive");
    let output = Command::new("python3")
        .args(["-c", PYZIPPER_EXTRACT])
        .arg(&archive)
        .arg(password)
        .output()
        .expect("python3 runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let entries: Vec<(String, String)> = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    Ok(entries
        .into_iter()
        .map(|(name, data)| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).expect("the script prints base64");
            (name, bytes)
        })
        .collect())
}
