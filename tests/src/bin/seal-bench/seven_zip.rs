//! 7-Zip (`7z`) as the reference: its seal of the corpus timed as a process, its listing of
//! the entries, and its verdict on the component's archive.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealmail_tests::machine::children_cpu;

use crate::corpus::{RANDOM_NAME, TEXT_NAME};
use crate::seal::{PASSWORD, StoredFile};

pub struct SevenZip {
    /// The version banner(s) `7z` prints.
    pub banner: String,
}

/// One timed 7-Zip process.
pub struct SevenZipRun {
    pub wall: Duration,
    /// User + system CPU time of the process: CPU time ÷ wall time is how many threads it
    /// kept busy on average.
    pub cpu: Option<Duration>,
    pub archive_len: u64,
}

impl SevenZip {
    pub const PROGRAM: &'static str = "7z";
    pub const ARCHIVE: &'static str = "7z-bench.zip";

    pub fn find() -> Option<SevenZip> {
        let output = Command::new(Self::PROGRAM).stdin(Stdio::null()).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let banner = text
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("7-Zip") || line.starts_with("p7zip"))
            .collect::<Vec<_>>()
            .join(" / ");
        Some(SevenZip { banner })
    }

    /// `7z a -tzip -mem=AES256 -mx5 -p… OUT scan.bin ledger.txt` in the corpus directory,
    /// timed from process start to exit.
    pub fn seal(&self, dir: &Path, extra: &[&str]) -> Result<SevenZipRun> {
        let archive = dir.join(Self::ARCHIVE);
        // 7z `a` on an existing archive updates it instead of writing a new one.
        let _ = std::fs::remove_file(&archive);
        let cpu_before = children_cpu();
        let start = Instant::now();
        let output = Command::new(Self::PROGRAM)
            .current_dir(dir)
            .args(["a", "-tzip", "-mem=AES256", "-mx5", &format!("-p{PASSWORD}")])
            .args(extra)
            .args([Self::ARCHIVE, RANDOM_NAME, TEXT_NAME])
            .stdin(Stdio::null())
            .output()
            .context("cannot start 7z")?;
        let wall = start.elapsed();
        let cpu = children_cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
        if !output.status.success() {
            bail!("7z a failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
        }
        let archive_len = std::fs::metadata(&archive)?.len();
        Ok(SevenZipRun { wall, cpu, archive_len })
    }

    /// Each entry's name, size and packed size, from `7z l -slt`.
    pub fn list(&self, archive: &Path) -> Result<Vec<StoredFile>> {
        let output = Command::new(Self::PROGRAM)
            .args(["l", "-slt", &format!("-p{PASSWORD}")])
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .context("cannot start 7z")?;
        let text = String::from_utf8_lossy(&output.stdout);
        // Entries follow the "----------" line; before it, "Path =" is the archive itself.
        let entries = text.split_once("\n----------").map_or("", |(_, rest)| rest);
        let mut files = Vec::new();
        for block in entries.split("\n\n").filter(|b| b.contains("Path = ")) {
            let value = |key: &str| {
                block.lines().find_map(|line| line.strip_prefix(key).map(|v| v.trim().to_owned())).unwrap_or_default()
            };
            files.push(StoredFile {
                name: value("Path = "),
                size: value("Size = ").parse().unwrap_or(0),
                stored: value("Packed Size = ").parse().unwrap_or(0),
                method: if value("Method = ").contains("Deflate") { "deflate" } else { "store" },
            });
        }
        Ok(files)
    }

    /// Whether 7-Zip decrypts and authenticates every entry of `archive` with the password.
    pub fn verify(&self, archive: &Path) -> Result<()> {
        let output = Command::new(Self::PROGRAM)
            .args(["t", &format!("-p{PASSWORD}")])
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .context("cannot start 7z")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !text.contains("Everything is Ok") {
            bail!("7-Zip does not accept the component's archive:\n{text}");
        }
        Ok(())
    }
}
