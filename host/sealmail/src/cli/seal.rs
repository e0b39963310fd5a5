//! `sealmail seal -o OUT.zip FILE...`: streams each file into the component in 1 MiB
//! chunks (memory stays bounded by one file's compressed size), writes the archive as it
//! grows, shows progress on standard error and prints only the password on standard
//! output, so `PW=$(sealmail seal …)` works.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Args;
use sealmail_core::bindings::password::Strength;
use sealmail_sandbox::Library;
use sealmail_sandbox::library::{Compression, SealError, Timestamp};

use super::strength;

/// Chunk size fed to the component: large enough that call overhead vanishes, small enough
/// for smooth progress.
const CHUNK: usize = 1 << 20;

#[derive(Args)]
pub struct SealArgs {
    /// Files to seal (entry names are their file names, sanitized and de-duplicated).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the archive.
    #[arg(short, long, value_name = "OUT.zip")]
    output: PathBuf,
    /// Password strength.
    #[arg(long, value_parser = strength::parser(), default_value = strength::DEFAULT)]
    strength: Strength,
    /// Archive name reported with the result (default: the output's file name).
    #[arg(long)]
    name: Option<String>,
    /// Replace OUT.zip if it exists.
    #[arg(long)]
    force: bool,
}

pub async fn run(library: &Library, args: SealArgs) -> anyhow::Result<ExitCode> {
    if args.output.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", args.output.display());
    }
    let mut total = 0u64;
    for f in &args.files {
        let meta = std::fs::metadata(f).with_context(|| format!("cannot read {}", f.display()))?;
        if !meta.is_file() {
            bail!("{} is not a regular file", f.display());
        }
        total += meta.len();
    }
    let password = library.generate_password(args.strength).await?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());

    // Write next to the destination and rename at the end: a failed run leaves no
    // half-written archive under the requested name.
    let partial = partial_path(&args.output);
    let result = write_archive(library, &args, &name, &password, total, &partial).await;
    match result {
        Ok(()) => {
            std::fs::rename(&partial, &args.output)
                .with_context(|| format!("cannot move the archive to {}", args.output.display()))?;
            println!("{password}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

async fn write_archive(
    library: &Library,
    args: &SealArgs,
    name: &str,
    password: &str,
    total: u64,
    partial: &Path,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(partial).with_context(|| format!("cannot create {}", partial.display()))?,
    );
    let mut sealer = library.sealer(name, password, now()).await?.map_err(seal_error)?;
    let mut progress = Progress::new(total);
    let mut buf = vec![0u8; CHUNK];
    for path in &args.files {
        let display =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        sealer.begin_file(&display).await?.map_err(seal_error)?;
        let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        loop {
            let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            sealer.write(&buf[..n]).await?.map_err(seal_error)?;
            progress.advance(n as u64, &display);
        }
        let (entry, bytes) = sealer.end_file().await?.map_err(seal_error)?;
        out.write_all(&bytes).with_context(|| format!("cannot write {}", partial.display()))?;
        progress.file_done(&format!(
            "{} ({} → {} bytes, {})",
            entry.name,
            entry.size,
            entry.stored_size,
            match entry.compression {
                Compression::Deflate => "deflated",
                Compression::Store => "stored",
            }
        ));
    }
    let archive_name = sealer.archive_name().await?;
    let tail = sealer.finish().await?.map_err(seal_error)?;
    out.write_all(&tail)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all().with_context(|| format!("cannot write {}", partial.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "sealed {} file(s) into {} ({archive_name}, AES-256, {size} bytes, {:.1} s)",
        args.files.len(),
        args.output.display(),
        progress.started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn seal_error(e: SealError) -> anyhow::Error {
    anyhow::anyhow!(match e {
        SealError::InvalidPassword => "the password is empty or too long".to_owned(),
        SealError::InvalidTimestamp(why) => format!("invalid timestamp: {why}"),
        SealError::NoFiles => "no files to seal".to_owned(),
        SealError::FileTooLarge(name) => format!("{name} is larger than a ZIP entry without ZIP64 can hold (4 GiB)"),
        SealError::TooManyFiles => "more than 65,535 files".to_owned(),
        SealError::OutOfOrder(why) => format!("internal error (calls out of order): {why}"),
        SealError::Internal(why) => format!("internal error in the component, please report: {why}"),
    })
}

fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    output.with_file_name(name)
}

/// The current time in UTC as ZIP's MS-DOS timestamp fields (ZIP has no time zone; UTC is
/// the only choice that does not leak the sender's zone).
fn now() -> Timestamp {
    timestamp_from_unix(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
}

/// Unix seconds to calendar fields in UTC.
fn timestamp_from_unix(secs: u64) -> Timestamp {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    Timestamp {
        year: year.clamp(1980, 2107),
        month,
        day,
        hour: (rem / 3600) as u8,
        minute: (rem / 60 % 60) as u8,
        second: (rem % 60) as u8,
    }
}

/// Progress on standard error: a live line on a terminal, one line per file otherwise.
struct Progress {
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
    live: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        let now = Instant::now();
        Self { total, done: 0, started: now, last: now, live: std::io::stderr().is_terminal() }
    }

    fn advance(&mut self, n: u64, file: &str) {
        self.done += n;
        if self.live && self.last.elapsed().as_millis() >= 100 {
            self.last = Instant::now();
            let pct = if self.total == 0 { 100.0 } else { self.done as f64 * 100.0 / self.total as f64 };
            let rate = self.done as f64 / 1048576.0 / self.started.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\r\x1b[2Ksealing {file}: {pct:5.1} % of {:.1} MiB, {rate:.1} MiB/s",
                self.total as f64 / 1048576.0
            );
        }
    }

    fn file_done(&mut self, what: &str) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
        let pct = if self.total == 0 { 100.0 } else { self.done as f64 * 100.0 / self.total as f64 };
        eprintln!("[{pct:5.1} %] {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp_from_unix;

    fn fields(secs: u64) -> (u16, u8, u8, u8, u8, u8) {
        let t = timestamp_from_unix(secs);
        (t.year, t.month, t.day, t.hour, t.minute, t.second)
    }

    #[test]
    fn civil_dates_in_utc() {
        assert_eq!(fields(0), (1980, 1, 1, 0, 0, 0), "before 1980 clamps to the DOS epoch year");
        assert_eq!(fields(315_532_800), (1980, 1, 1, 0, 0, 0));
        assert_eq!(fields(951_782_400 + 3_723), (2000, 2, 29, 1, 2, 3));
        assert_eq!(fields(1_795_996_799), (2026, 11, 29, 23, 59, 59));
    }
}
