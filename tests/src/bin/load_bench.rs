//! `load-bench`: the whole service under load, from outside. It drives the release `sealmail`
//! server over HTTP with small secure jobs (one 100 KiB flagged attachment, one recipient
//! block with two recipients) and measures, against Postfix's `smtp-sink` as the next hop:
//!
//! - the raw SMTP message rate of that sink, with Postfix's `smtp-source`, for messages of the
//!   size sealmail sends (the ceiling sealmail's delivery rate is compared with);
//! - accept latency at a fixed offered rate (open loop: requests leave on a schedule, and
//!   latency counts from the scheduled time, so a slow server cannot hide its queueing);
//! - throughput in a closed loop: accepted jobs/s, and end-to-end jobs/s from the first
//!   submission until the sink has every original and every password mail;
//! - scale-out (issue 7): the same closed loop with 1 node on SQLite, 1 node on PostgreSQL and
//!   2 nodes on one PostgreSQL database (submissions round-robin, both delivering to the one
//!   sink), side by side with the sink's raw rate. PostgreSQL is a private cluster of the
//!   harness with `fsync=on` and `synchronous_commit=on`: commits cost what they cost in
//!   production.
//!
//! The sink, clamd, PostgreSQL and the servers are separate processes, so the CPU time of each
//! is read from `/proc` and reported: on a 2-core machine they all share the same cores. The
//! figures and how to read them are in `docs/performance.md` ("Service pipeline", "Scale-out on
//! PostgreSQL"); run it with `cargo xtask bench load`.
//!
//! It prints figures and judges the targets, but it is not a test: a missed target never fails
//! it; only a broken setup (a tool missing, the server not starting, a probe job that does not
//! arrive as expected) does. Progress goes to standard error, the report to standard output.

use std::io::Read as _;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sealmail_tests::harness::postgres::{Database, create_durable_database};
use sealmail_tests::harness::server::TEST_STORAGE_KEY;
use sealmail_tests::harness::{ACCOUNT, Clamd, Signatures, SmtpServer, SmtpServerConfig, free_port, wait_ready};
use sealmail_tests::machine::{children_cpu, process_cpu, read_trimmed, utc_now};
use serde_json::json;

/// Postfix's test SMTP server: counts and discards, never touches the disk.
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
/// Postfix's test SMTP client: the raw rate of the sink.
const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";
/// The PostgreSQL the harness starts its clusters with (Debian's `postgresql`); without it
/// the scale-out runs default to SQLite alone.
const POSTGRES_INITDB: &str = "/usr/lib/postgresql/15/bin/initdb";
/// The flagged attachment: 100 KiB, incompressible (a PDF is stored, not deflated, in the ZIP).
const ATTACHMENT_LEN: usize = 100 * 1024;
/// Seed of the attachment bytes; each job changes its first bytes (see [`JobBody`]).
const ATTACHMENT_SEED: u64 = 20_260_301;
/// Messages per job: one original to both recipients, then one password mail per recipient.
const MESSAGES_PER_JOB: u64 = 3;
/// Jobs sent (and fully delivered) before each measured phase: the SQLite file, the instance
/// pool and the connections exist before the clock starts.
const WARM_UP_JOBS: usize = 20;
/// Parallel sessions of `smtp-source` (the figure sealmail's own concurrency stays under).
const RAW_SESSIONS: u32 = 20;
/// Messages per raw-rate measurement.
const RAW_MESSAGES: u32 = 2000;
/// How long a server may take to answer `/readyz`.
const READY_DEADLINE: Duration = Duration::from_secs(120);

/// Target: delivered messages/s at least this fraction of the sink's raw message rate.
const TARGET_RAW_RATIO: f64 = 0.5;
/// Target: end-to-end jobs/s (2 cores, SQLite).
const TARGET_E2E_JOBS_PER_SEC: f64 = 100.0;
/// Target: p99 accept latency at the fixed rate.
const TARGET_P99_ACCEPT: Duration = Duration::from_millis(25);

fn progress(message: &str) {
    eprintln!("[load-bench] {message}");
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse()?;
    let machine = Machine::describe();
    for tool in [SMTP_SINK, SMTP_SOURCE] {
        if !std::path::Path::new(tool).is_file() {
            bail!("{tool} is missing: `cargo xtask bench load` installs Postfix (Debian `postfix`)");
        }
    }
    let binary = server_binary();
    if !binary.is_file() {
        bail!(
            "{} is missing: run `cargo build --release -p sealmail` (`cargo xtask bench load` does)",
            binary.display()
        );
    }
    let clamd = if options.antivirus {
        progress("starting clamd (test signatures)");
        Some(Clamd::start(Signatures::Eicar))
    } else {
        None
    };
    let scanner = clamd.as_ref().map(Clamd::tcp_address);
    let bodies = Arc::new(JobBody::new());
    // `$SEALMAIL_CACHE_DIR` keeps the compiled components after the run: `perf report` needs
    // them to name the guest's functions.
    let temporary_cache = tempfile::Builder::new().prefix("sealmail-load-bench-cache-").tempdir()?;
    let cache_dir =
        std::env::var_os("SEALMAIL_CACHE_DIR").map_or_else(|| temporary_cache.path().to_path_buf(), PathBuf::from);
    let launch = Launch { binary, cache_dir, scanner };

    progress("probe: one job through an in-process SMTP server, to learn the message sizes");
    let sizes = probe(&launch, &bodies).await?;
    progress(&format!("original {} bytes, password mail {} bytes", sizes.original, sizes.password));

    progress("raw rate of the sink (smtp-source)");
    let raw = RawRates::measure(&sizes)?;

    progress(&format!(
        "phase A: open loop, {} req/s for {} s, workers {}",
        options.rate, options.rate_secs, options.workers[0]
    ));
    let accept = phase_accept(&launch, &bodies, &options).await?;

    let mut throughput = Vec::new();
    for &workers in &options.workers {
        progress(&format!(
            "phase B: closed loop, {} submitters, {} jobs, workers {workers}",
            options.concurrency, options.jobs
        ));
        throughput.push(phase_throughput(&launch, &bodies, &options, workers, Setup::Sqlite, None).await?);
    }

    // Scale-out: SQLite's figure is phase B's run with the same workers; each PostgreSQL run
    // gets a fresh database on one durable cluster, which `cluster` keeps running.
    let cluster = if options.stores.iter().any(|s| s.nodes_on_postgres().is_some()) {
        progress("starting PostgreSQL (private cluster, fsync=on, synchronous_commit=on)");
        let keeper = create_durable_database().await;
        let settings = PostgresSettings::read(&keeper).await?;
        Some((keeper, settings))
    } else {
        None
    };
    let mut scale_out = Vec::new();
    for &setup in &options.stores {
        if setup == Setup::Sqlite {
            continue;
        }
        let workers = options.scale_workers();
        progress(&format!(
            "scale-out: closed loop on {}, {} submitters, {} jobs, workers {workers} per node",
            setup.label(),
            options.concurrency,
            options.jobs
        ));
        let database = create_durable_database().await;
        scale_out.push(phase_throughput(&launch, &bodies, &options, workers, setup, Some(&database)).await?);
    }

    let report = Report {
        machine,
        options,
        antivirus: clamd.as_ref().map(|_| clamd_version()),
        sizes,
        raw,
        accept,
        throughput,
        scale_out,
        postgres: cluster.as_ref().map(|(_, settings)| settings.clone()),
    };
    report.print();
    drop(cluster);
    drop(clamd);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Options

struct Options {
    /// Jobs per closed-loop run.
    jobs: usize,
    /// Concurrent submitters in the closed loop.
    concurrency: usize,
    /// Offered rate of the open loop, requests per second.
    rate: u32,
    /// Length of the open loop.
    rate_secs: u32,
    /// `[queue] workers` of each closed-loop run; the first one also serves the open loop.
    workers: Vec<usize>,
    /// Scan with a real clamd (else `allow_insecure_no_antivirus`).
    antivirus: bool,
    /// How long to wait for the sink to receive everything after the last submission.
    drain: Duration,
    /// The configurations compared side by side (`--stores`).
    stores: Vec<Setup>,
}

impl Options {
    fn parse() -> Result<Options> {
        let mut options = Options {
            jobs: 1000,
            concurrency: 32,
            rate: 200,
            rate_secs: 10,
            workers: vec![4, 8],
            antivirus: true,
            drain: Duration::from_secs(120),
            stores: Vec::new(),
        };
        let mut stores = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--jobs" => options.jobs = value("--jobs")?.parse().context("--jobs")?,
                "--concurrency" => options.concurrency = value("--concurrency")?.parse().context("--concurrency")?,
                "--rate" => options.rate = value("--rate")?.parse().context("--rate")?,
                "--rate-secs" => options.rate_secs = value("--rate-secs")?.parse().context("--rate-secs")?,
                "--workers" => {
                    options.workers = value("--workers")?
                        .split(',')
                        .map(|w| w.trim().parse::<usize>())
                        .collect::<Result<_, _>>()
                        .context("--workers takes a list like 4,8")?;
                }
                "--drain-secs" => {
                    options.drain = Duration::from_secs(value("--drain-secs")?.parse().context("--drain-secs")?)
                }
                "--no-antivirus" => options.antivirus = false,
                "--stores" => {
                    stores = Some(
                        value("--stores")?
                            .split(',')
                            .map(|s| Setup::parse(s.trim()))
                            .collect::<Result<Vec<_>>>()
                            .context("--stores takes a list like sqlite,pg1,pg2")?,
                    );
                }
                "--help" | "-h" => {
                    println!(
                        "load-bench [--jobs N] [--concurrency N] [--rate R] [--rate-secs S] [--workers 4,8] \
                         [--drain-secs S] [--no-antivirus] [--stores sqlite,pg1,pg2]\n\
                         --stores: the configurations compared side by side (pgN = N nodes on one \
                         PostgreSQL database), each with the last --workers count per node; default \
                         all three when PostgreSQL 15 is installed"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (try --help)"),
            }
        }
        if options.workers.is_empty() || options.workers.contains(&0) {
            bail!("--workers needs at least one count, each ≥ 1");
        }
        if options.jobs == 0 || options.concurrency == 0 || options.rate == 0 || options.rate_secs == 0 {
            bail!("--jobs, --concurrency, --rate and --rate-secs must be ≥ 1");
        }
        let postgres_installed = std::path::Path::new(POSTGRES_INITDB).is_file();
        options.stores = match stores {
            Some(stores) => {
                if !postgres_installed && stores.iter().any(|s| s.nodes_on_postgres().is_some()) {
                    bail!("{POSTGRES_INITDB} is missing: `cargo xtask bench load` installs Debian's postgresql");
                }
                stores
            }
            None if postgres_installed => {
                vec![Setup::Sqlite, Setup::Postgres { nodes: 1 }, Setup::Postgres { nodes: 2 }]
            }
            None => {
                progress(&format!("{POSTGRES_INITDB} is missing: scale-out on SQLite only"));
                vec![Setup::Sqlite]
            }
        };
        Ok(options)
    }

    /// Workers per node of the scale-out runs: the last `--workers` count (so SQLite's run is
    /// phase B's).
    fn scale_workers(&self) -> usize {
        *self.workers.last().expect("--workers is never empty")
    }
}

/// Where a closed-loop run keeps its queue, and how many server processes share it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Setup {
    /// One node on its own SQLite file (the default store).
    Sqlite,
    /// `nodes` server processes on one PostgreSQL database.
    Postgres { nodes: usize },
}

impl Setup {
    /// `sqlite`, or `pgN` for N nodes on PostgreSQL.
    fn parse(name: &str) -> Result<Setup> {
        if name == "sqlite" {
            return Ok(Setup::Sqlite);
        }
        match name.strip_prefix("pg").map(str::parse::<usize>) {
            Some(Ok(nodes)) if nodes >= 1 => Ok(Setup::Postgres { nodes }),
            _ => bail!("unknown store {name:?}: sqlite, pg1, pg2, …"),
        }
    }

    fn nodes(self) -> usize {
        match self {
            Setup::Sqlite => 1,
            Setup::Postgres { nodes } => nodes,
        }
    }

    fn nodes_on_postgres(self) -> Option<usize> {
        match self {
            Setup::Sqlite => None,
            Setup::Postgres { nodes } => Some(nodes),
        }
    }

    fn label(self) -> String {
        match self {
            Setup::Sqlite => "SQLite, 1 node".to_owned(),
            Setup::Postgres { nodes: 1 } => "PostgreSQL, 1 node".to_owned(),
            Setup::Postgres { nodes } => format!("PostgreSQL, {nodes} nodes"),
        }
    }
}

/// What the benchmark's PostgreSQL reports about itself: the settings that decide what a
/// commit costs, read back rather than assumed.
#[derive(Clone)]
struct PostgresSettings {
    version: String,
    fsync: String,
    synchronous_commit: String,
    wal_sync_method: String,
    shared_buffers: String,
}

impl PostgresSettings {
    async fn read(database: &Database) -> Result<PostgresSettings> {
        let client = database.connect().await;
        let mut values = Vec::new();
        for name in ["server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers"] {
            let row = client.query_one(&format!("SHOW {name}"), &[]).await.with_context(|| format!("SHOW {name}"))?;
            values.push(row.get::<_, String>(0));
        }
        let [version, fsync, synchronous_commit, wal_sync_method, shared_buffers] =
            <[String; 5]>::try_from(values).expect("five settings");
        if fsync != "on" || synchronous_commit != "on" {
            bail!(
                "the benchmark's PostgreSQL must commit durably: fsync={fsync}, synchronous_commit={synchronous_commit}"
            );
        }
        Ok(PostgresSettings { version, fsync, synchronous_commit, wal_sync_method, shared_buffers })
    }
}

// ---------------------------------------------------------------------------------------
// The job

/// The request body of job `i`: a JobRequest with the attachment's base64 split around its
/// first 12 bytes, which carry the job number. Every job thus has different attachment bytes
/// (clamd caches the verdicts of files it has seen; real traffic does not repeat files), and
/// building a body is one concatenation. 12 bytes are 16 base64 characters without padding,
/// so the base64 of the rest is the same for every job.
struct JobBody {
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Bytes of the attachment that differ per job (a multiple of 3: whole base64 quanta).
const UNIQUE_PREFIX: usize = 12;

impl JobBody {
    fn new() -> JobBody {
        let mut rest = vec![0u8; ATTACHMENT_LEN - UNIQUE_PREFIX];
        ChaCha20Rng::seed_from_u64(ATTACHMENT_SEED).fill_bytes(&mut rest);
        let placeholder = "@@ATTACHMENT@@";
        let request = json!({
            "job": {
                "features": {
                    "antivirus": { "active": true },
                    "secureDocument": { "active": true, "filename": "statement", "password": { "type": "very_high" } }
                }
            },
            "mail": { "from": { "email": "Billing <billing@sender.example>" } },
            "subject": { "content": "Your monthly statement" },
            "body": { "contentType": "text/plain", "content": "Your statement is attached; the password follows in a separate mail." },
            "attachments": [{
                "name": "statement.pdf",
                "contentType": "application/pdf",
                "content": placeholder,
                "secureDocument": true
            }],
            "recipients": [{ "mail": { "to": [
                { "email": "Max Mustermann <max@recipient.example>" },
                { "email": "Erika Mustermann <erika@recipient.example>" }
            ] } }]
        })
        .to_string();
        let (head, tail) = request.split_once(placeholder).expect("the placeholder is in the request");
        let mut tail_bytes = STANDARD.encode(&rest).into_bytes();
        tail_bytes.extend_from_slice(tail.as_bytes());
        JobBody { head: head.as_bytes().to_vec(), tail: tail_bytes }
    }

    fn body(&self, i: u64) -> Vec<u8> {
        let prefix = format!("{i:0width$}", width = UNIQUE_PREFIX);
        let mut body = Vec::with_capacity(self.head.len() + 16 + self.tail.len());
        body.extend_from_slice(&self.head);
        body.extend_from_slice(STANDARD.encode(&prefix.as_bytes()[..UNIQUE_PREFIX]).as_bytes());
        body.extend_from_slice(&self.tail);
        body
    }
}

/// Job numbers never repeat within a run (they make the attachments unique).
static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

fn next_body(bodies: &JobBody) -> Vec<u8> {
    bodies.body(NEXT_JOB.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------
// The server

/// How every server of the run is started.
struct Launch {
    binary: PathBuf,
    /// One precompiled-component cache for the run: only the first start compiles.
    cache_dir: PathBuf,
    /// `tcp://…` of clamd, or `None` for `allow_insecure_no_antivirus`.
    scanner: Option<String>,
}

/// The release `sealmail`: `$SEALMAIL_BIN`, else `target/release/sealmail` of this workspace.
fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SEALMAIL_BIN") {
        return PathBuf::from(p);
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| sealmail_tests::repo_root().join("target"), PathBuf::from);
    target.join("release").join("sealmail")
}

/// A running server with its own data directory; drop kills it. Logs at the default level
/// (`info`) to a file: the harness' `Sealmail` logs at `trace`, which would measure logging.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
    base_url: String,
    client: reqwest::Client,
}

impl Server {
    /// A server on its own SQLite file, or on `database_url` (PostgreSQL, with the harness'
    /// storage key, which every node on one database must share).
    async fn start(launch: &Launch, smtp_port: u16, workers: usize, database_url: Option<&str>) -> Result<Server> {
        let dir = tempfile::Builder::new().prefix("sealmail-load-bench-").tempdir()?;
        let port = free_port();
        let store = database_url
            .map(|url| format!("database_url = {url:?}\nstorage_key = {TEST_STORAGE_KEY:?}\n"))
            .unwrap_or_default();
        let antivirus = match &launch.scanner {
            Some(address) => format!("scanners = [{address:?}]"),
            None => "allow_insecure_no_antivirus = true".to_owned(),
        };
        let config = format!(
            r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
message_id_domain = "sealmail.bench"
{store}
[transport]
kind = "smtp"
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
allow_insecure_smtp = true

[antivirus]
{antivirus}

[queue]
workers = {workers}

[[accounts]]
name = "{name}"
secret = "{secret}"
"#,
            data = dir.path().join("data").display(),
            name = ACCOUNT.0,
            secret = ACCOUNT.1,
        );
        let config_path = dir.path().join("sealmail.toml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(&launch.binary)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("SEALMAIL_CACHE_DIR", &launch.cache_dir)
            .env_remove("SEALMAIL_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", launch.binary.display()))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build()
            .context("http client")?;
        let mut server = Server { dir, child, base_url: format!("http://127.0.0.1:{port}"), client };
        if let Err(why) = wait_ready(&mut server.child, &server.client, &server.base_url, READY_DEADLINE).await {
            bail!("{why}:\n{}", server.log());
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        tail(&log, 4000).to_owned()
    }

    /// `POST /rest/v1/jobs`; the status code, or the client error.
    async fn submit(&self, body: Vec<u8>) -> Result<u16, String> {
        self.submit_answer(body).await.map(|(status, _)| status)
    }

    /// `POST /rest/v1/jobs`; the status code and the response body, or the client error.
    async fn submit_answer(&self, body: Vec<u8>) -> Result<(u16, String), String> {
        let response = self
            .client
            .post(format!("{}/rest/v1/jobs", self.base_url))
            .basic_auth(ACCOUNT.0, Some(ACCOUNT.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // Read the body (also so that the connection goes back to the pool).
        let answer = response.text().await.unwrap_or_default();
        Ok((status, answer))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// The sink

/// Postfix's `smtp-sink` in its own process, counting messages (`-c` prints
/// `sess=N quit=N mesg=N` after each one; a reader thread keeps the last `mesg`).
struct Sink {
    child: Child,
    port: u16,
    messages: Arc<AtomicU64>,
}

impl Sink {
    fn start() -> Result<Sink> {
        let mut last_error = String::new();
        // free_port() can race with another process taking the port: a fresh one then helps.
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(SMTP_SINK);
            command.arg("-c");
            if is_root() {
                // smtp-sink refuses to run as root without dropping privileges.
                command.args(["-u", "nobody"]);
            }
            // 1024: the listen backlog.
            let mut child = command
                .arg(format!("127.0.0.1:{port}"))
                .arg("1024")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot start {SMTP_SINK}"))?;
            let messages = Arc::new(AtomicU64::new(0));
            let mut stdout = child.stdout.take().context("smtp-sink stdout")?;
            let counter = Arc::clone(&messages);
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(n) = stdout.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buffer[..n]);
                    while let Some(end) = pending.iter().position(|b| *b == b'\r' || *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let line = String::from_utf8_lossy(&line);
                        if let Some(count) = line.split_whitespace().find_map(|f| f.strip_prefix("mesg="))
                            && let Ok(count) = count.parse::<u64>()
                        {
                            counter.fetch_max(count, Ordering::Relaxed);
                        }
                    }
                }
            });
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Sink { child, port, messages });
                }
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = stderr.read_to_string(&mut err);
                    }
                    last_error = format!("smtp-sink exited ({status}): {err}");
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = "smtp-sink did not listen within 5 s".to_owned();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        bail!("{last_error}")
    }

    /// Messages received so far (the "." of DATA answered).
    fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    fn cpu(&self) -> Duration {
        process_cpu(self.child.id()).unwrap_or_default()
    }

    /// Waits until the sink has `target` messages or `deadline` passes; the time it got there.
    async fn wait_for(&self, target: u64, deadline: Instant) -> Option<Instant> {
        loop {
            if self.messages() >= target {
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn postfix_version() -> String {
    Command::new("/usr/sbin/postconf")
        .args(["-d", "-h", "mail_version"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown version".to_owned())
}

fn clamd_version() -> String {
    Command::new("/usr/sbin/clamd")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "clamd (unknown version)".to_owned())
}

// ---------------------------------------------------------------------------------------
// Probe: the message sizes

struct Sizes {
    /// The original as sent (RFC 5322 bytes), with the sealed archive.
    original: usize,
    /// One password mail.
    password: usize,
}

/// One job through the harness' in-process SMTP server, which keeps what it receives: the
/// sizes the raw rate is measured with, and a check that a job really yields one original
/// to both recipients and one password mail to each.
async fn probe(launch: &Launch, bodies: &JobBody) -> Result<Sizes> {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Server::start(launch, smtp.port(), 4, None).await?;
    let status = server.submit(next_body(bodies)).await.map_err(anyhow::Error::msg)?;
    if status != 202 {
        bail!("the probe job was refused with {status}:\n{}", server.log());
    }
    let received = smtp.wait_for(MESSAGES_PER_JOB as usize, Duration::from_secs(60)).await;
    if received.len() != MESSAGES_PER_JOB as usize {
        bail!("the probe job produced {} messages, expected {MESSAGES_PER_JOB}:\n{}", received.len(), server.log());
    }
    let original = received.iter().find(|m| m.rcpt_to.len() == 2).context("no original to both recipients")?;
    let passwords: Vec<_> = received.iter().filter(|m| m.rcpt_to.len() == 1).collect();
    if passwords.len() != 2 {
        bail!("expected two password mails with one recipient each, got {}", passwords.len());
    }
    Ok(Sizes { original: original.data.len(), password: passwords.iter().map(|m| m.data.len()).max().unwrap_or(0) })
}

// ---------------------------------------------------------------------------------------
// Raw rate of the sink

struct RawRate {
    label: String,
    messages: u32,
    per_sec: f64,
    sink_cpu: Duration,
    source_cpu: Duration,
    elapsed: Duration,
}

struct RawRates {
    sink_version: String,
    /// Original size, 2 RCPT, a new connection per message (as sealmail's transport does).
    original: RawRate,
    /// Original size, 2 RCPT, connections reused (`-d`).
    original_reuse: RawRate,
    /// Password-mail size, 1 RCPT, a new connection per message.
    password: RawRate,
}

impl RawRates {
    fn measure(sizes: &Sizes) -> Result<RawRates> {
        Ok(RawRates {
            sink_version: postfix_version(),
            original: raw_rate("original size, 2 RCPT, new connection per message", sizes.original, 2, false)?,
            original_reuse: raw_rate("original size, 2 RCPT, connections reused (-d)", sizes.original, 2, true)?,
            password: raw_rate("password-mail size, 1 RCPT, new connection per message", sizes.password, 1, false)?,
        })
    }
}

/// `smtp-source -s 20 -m 2000 -l SIZE -r RCPTS` against a fresh sink. `-l` counts the payload
/// only; smtp-source adds ~150 bytes of headers.
fn raw_rate(label: &str, size: usize, recipients: u32, reuse: bool) -> Result<RawRate> {
    let sink = Sink::start()?;
    let children_before = children_cpu();
    let sink_before = sink.cpu();
    let started = Instant::now();
    let mut command = Command::new(SMTP_SOURCE);
    command.args(["-s", &RAW_SESSIONS.to_string(), "-m", &RAW_MESSAGES.to_string()]);
    command.args(["-l", &size.to_string(), "-r", &recipients.to_string()]);
    command.args(["-f", "billing@sender.example", "-t", "rcpt@recipient.example", "-M", "sealmail.bench"]);
    if reuse {
        command.arg("-d");
    }
    let output = command
        .arg(format!("127.0.0.1:{}", sink.port))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {SMTP_SOURCE}"))?;
    if !output.status.success() {
        bail!("smtp-source failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let elapsed = started.elapsed();
    // smtp-source exits after the last reply; the counter line follows within milliseconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.messages() < u64::from(RAW_MESSAGES) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let received = sink.messages();
    if received < u64::from(RAW_MESSAGES) {
        bail!("the sink counted {received} of {RAW_MESSAGES} messages from smtp-source");
    }
    let source_cpu = children_cpu().unwrap_or_default().saturating_sub(children_before.unwrap_or_default());
    let rate = RawRate {
        label: label.to_owned(),
        messages: RAW_MESSAGES,
        per_sec: f64::from(RAW_MESSAGES) / elapsed.as_secs_f64(),
        sink_cpu: sink.cpu().saturating_sub(sink_before),
        source_cpu,
        elapsed,
    };
    progress(&format!("  {label}: {:.0} msgs/s", rate.per_sec));
    Ok(rate)
}

// ---------------------------------------------------------------------------------------
// Phase A: accept latency at a fixed rate

struct AcceptPhase {
    workers: usize,
    offered: usize,
    offered_rate: f64,
    accepted: usize,
    refused: Vec<(String, usize)>,
    latency: Percentiles,
    /// Messages the sink had when the last response arrived, of 3 × accepted.
    delivered_during: u64,
    elapsed: Duration,
    machine_busy_percent: f64,
}

async fn phase_accept(launch: &Launch, bodies: &Arc<JobBody>, options: &Options) -> Result<AcceptPhase> {
    let workers = options.workers[0];
    let sink = Sink::start()?;
    let server = Arc::new(Server::start(launch, sink.port, workers, None).await?);
    warm_up(&server, &sink, bodies).await?;
    let baseline = sink.messages();
    let ticks_before = MachineTicks::read();

    let total = (options.rate * options.rate_secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.rate));
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_report = Duration::from_secs(2);
    for k in 0..total {
        let scheduled = started + interval * k as u32;
        tokio::time::sleep_until(scheduled).await;
        let body = next_body(bodies);
        let server = Arc::clone(&server);
        tasks.spawn(async move {
            let outcome = server.submit(body).await;
            // From the scheduled time, not the actual send: a late send is the server's delay
            // too (it holds the client's threads), so it must not vanish from the figures.
            (outcome, scheduled.elapsed())
        });
        if started.elapsed() >= next_report {
            progress(&format!(
                "  t={:>2} s: sent {}, sink has {} msgs",
                next_report.as_secs(),
                k + 1,
                sink.messages() - baseline
            ));
            next_report += Duration::from_secs(2);
        }
    }
    let mut latencies = Vec::with_capacity(total);
    let mut accepted = 0;
    let mut refused: Vec<(String, usize)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (outcome, latency) = joined.context("a submitter panicked")?;
        latencies.push(latency);
        match outcome {
            Ok(202) => accepted += 1,
            other => count_refusal(&mut refused, other),
        }
    }
    let elapsed = started.elapsed();
    let delivered_during = sink.messages() - baseline;
    let machine_busy_percent = MachineTicks::busy_percent(ticks_before.as_ref(), MachineTicks::read().as_ref());
    Ok(AcceptPhase {
        workers,
        offered: total,
        offered_rate: total as f64 / (interval * total as u32).as_secs_f64(),
        accepted,
        refused,
        latency: Percentiles::of(latencies),
        delivered_during,
        elapsed,
        machine_busy_percent,
    })
}

fn count_refusal(refused: &mut Vec<(String, usize)>, outcome: Result<u16, String>) {
    let key = match outcome {
        Ok(code) => format!("HTTP {code}"),
        Err(e) => format!("client error: {}", tail(&e, 80)),
    };
    match refused.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => refused.push((key, 1)),
    }
}

/// Sends [`WARM_UP_JOBS`] and waits until the sink has all their messages.
async fn warm_up(server: &Server, sink: &Sink, bodies: &JobBody) -> Result<()> {
    let before = sink.messages();
    for _ in 0..WARM_UP_JOBS {
        let (status, answer) = server.submit_answer(next_body(bodies)).await.map_err(anyhow::Error::msg)?;
        if status != 202 {
            bail!("a warm-up job was refused with {status} {answer}:\n{}", server.log());
        }
    }
    let target = before + WARM_UP_JOBS as u64 * MESSAGES_PER_JOB;
    if sink.wait_for(target, Instant::now() + Duration::from_secs(60)).await.is_none() {
        bail!(
            "the warm-up jobs were not delivered within 60 s ({} of {target} msgs):\n{}",
            sink.messages(),
            server.log()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Phase B: throughput

struct ThroughputPhase {
    setup: Setup,
    /// `[queue] workers` of each node.
    workers: usize,
    jobs: usize,
    accepted: usize,
    refused: Vec<(String, usize)>,
    /// First submission to last response.
    submit_time: Duration,
    latency: Percentiles,
    /// First submission to the sink's last expected message; `None` if the drain timed out.
    end_to_end: Option<Duration>,
    /// Messages the sink received from this run's jobs (all of them unless timed out).
    delivered: u64,
    /// When the sink stopped counting (end-to-end or the deadline), from the first submission.
    measured_for: Duration,
    cpu: CpuShares,
    server_peak_rss_kib: Option<u64>,
}

impl ThroughputPhase {
    fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.submit_time.as_secs_f64()
    }

    /// Jobs whose three messages all arrived per second; with a timed-out drain, the
    /// delivered messages / 3 over the time measured (a lower bound of the rate).
    fn end_to_end_jobs_per_sec(&self) -> f64 {
        self.delivered as f64 / MESSAGES_PER_JOB as f64 / self.measured_for.as_secs_f64()
    }

    fn messages_per_sec(&self) -> f64 {
        self.delivered as f64 / self.measured_for.as_secs_f64()
    }

    /// Jobs whose messages all arrived (at least 1, to divide by).
    fn jobs_delivered(&self) -> u32 {
        (self.delivered / MESSAGES_PER_JOB).max(1) as u32
    }
}

/// CPU time of each process during a phase, and how busy the machine was.
struct CpuShares {
    /// Every node together.
    server: Duration,
    clamd: Option<Duration>,
    /// The postmaster and all its processes (one backend per connection), when on PostgreSQL.
    postgres: Option<Duration>,
    sink: Duration,
    client: Duration,
    machine_busy_percent: f64,
    wall: Duration,
}

impl CpuShares {
    /// The CPU time of every process of the benchmark (the client included).
    fn all(&self) -> Duration {
        self.server + self.clamd.unwrap_or_default() + self.postgres.unwrap_or_default() + self.sink + self.client
    }

    /// `cpu` as a share of all cores over the phase's wall time, percent.
    fn share(&self, cpu: Duration, cores: usize) -> f64 {
        100.0 * cpu.as_secs_f64() / (self.wall.as_secs_f64() * cores as f64).max(f64::MIN_POSITIVE)
    }
}

/// One closed-loop run of `setup`: `database` is the (fresh) PostgreSQL database its nodes
/// share, `None` for SQLite. With several nodes, job `i` goes to node `i mod nodes`.
async fn phase_throughput(
    launch: &Launch,
    bodies: &Arc<JobBody>,
    options: &Options,
    workers: usize,
    setup: Setup,
    database: Option<&Database>,
) -> Result<ThroughputPhase> {
    let sink = Sink::start()?;
    let url = database.map(|d| d.url.as_str());
    let mut nodes = Vec::with_capacity(setup.nodes());
    for _ in 0..setup.nodes() {
        nodes.push(Server::start(launch, sink.port, workers, url).await?);
    }
    let nodes = Arc::new(nodes);
    let pids: Vec<u32> = nodes.iter().map(Server::pid).collect();
    progress(&format!("  server pid {pids:?} (for perf: `perf record -g -p PID`)"));
    for node in nodes.iter() {
        warm_up(node, &sink, bodies).await?;
    }
    let baseline = sink.messages();
    let clamd_pid = child_pid_named("clamd");
    let postmaster = database.and_then(Database::postmaster_pid);
    if database.is_some() && postmaster.is_none() {
        bail!("cannot find PostgreSQL's postmaster.pid (its CPU time would be missing)");
    }
    let before = Snapshot::take(&pids, clamd_pid, postmaster, &sink);

    let next = Arc::new(AtomicUsize::new(0));
    let accepted_count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut submitters = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (nodes, bodies, next, accepted_count) =
            (Arc::clone(&nodes), Arc::clone(bodies), Arc::clone(&next), Arc::clone(&accepted_count));
        let jobs = options.jobs;
        submitters.spawn(async move {
            let mut results = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs {
                    break;
                }
                let body = next_body(&bodies);
                let sent = Instant::now();
                let outcome = nodes[i % nodes.len()].submit(body).await;
                if outcome == Ok(202) {
                    accepted_count.fetch_add(1, Ordering::Relaxed);
                }
                results.push((outcome, sent.elapsed()));
            }
            results
        });
    }
    let mut reporter = tokio::time::interval(Duration::from_secs(2));
    reporter.tick().await;
    let mut results = Vec::with_capacity(options.jobs);
    loop {
        tokio::select! {
            joined = submitters.join_next() => match joined {
                Some(joined) => results.extend(joined.context("a submitter panicked")?),
                None => break,
            },
            _ = reporter.tick() => progress(&format!(
                "  t={:>3.0} s: accepted {}, sink has {} msgs",
                started.elapsed().as_secs_f64(),
                accepted_count.load(Ordering::Relaxed),
                sink.messages() - baseline
            )),
        }
    }
    let submit_time = started.elapsed();
    let mut accepted = 0;
    let mut refused = Vec::new();
    let mut latencies = Vec::with_capacity(results.len());
    for (outcome, latency) in results {
        latencies.push(latency);
        match outcome {
            Ok(202) => accepted += 1,
            other => count_refusal(&mut refused, other),
        }
    }
    progress(&format!(
        "  all submitted in {:.1} s ({accepted} accepted); waiting for the sink",
        submit_time.as_secs_f64()
    ));
    let target = baseline + accepted as u64 * MESSAGES_PER_JOB;
    let deadline = Instant::now() + options.drain;
    let finished = loop {
        let step = (Instant::now() + Duration::from_secs(2)).min(deadline);
        if let Some(at) = sink.wait_for(target, step).await {
            break Some(at);
        }
        if Instant::now() >= deadline {
            break None;
        }
        progress(&format!(
            "  t={:>3.0} s: sink has {} of {} msgs",
            started.elapsed().as_secs_f64(),
            sink.messages() - baseline,
            target - baseline
        ));
    };
    let measured_until = finished.unwrap_or_else(Instant::now);
    let after = Snapshot::take(&pids, clamd_pid, postmaster, &sink);
    if finished.is_none() {
        progress(&format!(
            "  the sink did not get everything within {:?}: {} of {} msgs",
            options.drain,
            sink.messages() - baseline,
            target - baseline
        ));
    }
    let server_peak_rss_kib = pids.iter().filter_map(|&pid| peak_rss_kib(pid)).max();
    Ok(ThroughputPhase {
        setup,
        workers,
        jobs: options.jobs,
        accepted,
        refused,
        submit_time,
        latency: Percentiles::of(latencies),
        end_to_end: finished.map(|at| at - started),
        delivered: (sink.messages() - baseline).min(target - baseline),
        measured_for: measured_until - started,
        cpu: after.since(&before),
        server_peak_rss_kib,
    })
}

/// CPU counters at one instant.
struct Snapshot {
    at: Instant,
    server: Duration,
    clamd: Option<Duration>,
    postgres: Option<Duration>,
    sink: Duration,
    client: Duration,
    machine: Option<MachineTicks>,
}

impl Snapshot {
    fn take(servers: &[u32], clamd: Option<u32>, postmaster: Option<u32>, sink: &Sink) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            server: servers.iter().filter_map(|&pid| process_cpu(pid)).sum(),
            clamd: clamd.and_then(process_cpu),
            postgres: postmaster.and_then(process_tree_cpu),
            sink: sink.cpu(),
            client: process_cpu(std::process::id()).unwrap_or_default(),
            machine: MachineTicks::read(),
        }
    }

    fn since(&self, before: &Snapshot) -> CpuShares {
        let busy = MachineTicks::busy_percent(before.machine.as_ref(), self.machine.as_ref());
        CpuShares {
            server: self.server.saturating_sub(before.server),
            clamd: self.clamd.zip(before.clamd).map(|(a, b)| a.saturating_sub(b)),
            postgres: self.postgres.zip(before.postgres).map(|(a, b)| a.saturating_sub(b)),
            sink: self.sink.saturating_sub(before.sink),
            client: self.client.saturating_sub(before.client),
            machine_busy_percent: busy,
            wall: self.at - before.at,
        }
    }
}

// ---------------------------------------------------------------------------------------
// /proc

/// The fields after the command name (which may contain spaces): field 3 onwards.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat.rsplit_once(") ")?.1.split_whitespace().collect())
}

/// The pid of a child of this process whose command name is `comm` (clamd is started by the
/// harness, which keeps its handle private).
fn child_pid_named(comm: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let name = stat.split_once('(')?.1.rsplit_once(')')?.0;
        let parent = *stat_fields(&stat)?.get(4 - 3)?;
        (name == comm && parent == me).then_some(pid)
    })
}

/// CPU time of a process and its children: its own user + system time, what it collected
/// from children that exited (`cutime` + `cstime`) and the user + system time of the live
/// ones. PostgreSQL runs one backend process per connection under the postmaster, besides
/// its WAL writer, checkpointer and background writer.
fn process_tree_cpu(root: u32) -> Option<Duration> {
    let ticks = |fields: &[&str], numbers: &[usize]| -> u64 {
        numbers.iter().filter_map(|&n| fields.get(n - 3)?.parse::<u64>().ok()).sum()
    };
    let stat = std::fs::read_to_string(format!("/proc/{root}/stat")).ok()?;
    let mut total = ticks(&stat_fields(&stat)?, &[14, 15, 16, 17]);
    let parent = root.to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if entry.file_name().to_str().is_none_or(|name| name.parse::<u32>().is_err()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some(fields) = stat_fields(&stat)
            && fields.get(4 - 3) == Some(&parent.as_str())
        {
            total += ticks(&fields, &[14, 15]);
        }
    }
    // USER_HZ is 100 on Linux: a tick is 10 ms.
    Some(Duration::from_millis(total * 10))
}

/// `VmHWM` (peak resident set) of a process, KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false)
}

/// The machine-wide counters of /proc/stat (proc(5)): all ticks, and idle + iowait.
struct MachineTicks {
    total: u64,
    idle: u64,
}

impl MachineTicks {
    fn read() -> Option<MachineTicks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> =
            stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user and nice).
        Some(MachineTicks { total: fields.iter().take(8).sum(), idle: fields.get(3)? + fields.get(4)? })
    }

    /// How busy all CPUs were between two readings, percent (NaN without /proc/stat).
    fn busy_percent(before: Option<&MachineTicks>, after: Option<&MachineTicks>) -> f64 {
        match (before, after) {
            (Some(b), Some(a)) => {
                let total = a.total.saturating_sub(b.total).max(1);
                100.0 * (total - a.idle.saturating_sub(b.idle).min(total)) as f64 / total as f64
            }
            _ => f64::NAN,
        }
    }
}

struct Machine {
    cpu_model: String,
    logical_cpus: usize,
    kernel: String,
    load_before: String,
    date: String,
}

impl Machine {
    fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|line| line.split(':').next().is_some_and(|key| key.trim() == "model name"))
            .and_then(|line| line.split_once(':'))
            .map_or_else(|| "unknown CPU".to_owned(), |(_, value)| value.trim().to_owned());
        Machine {
            cpu_model: model,
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            load_before: read_trimmed("/proc/loadavg"),
            date: utc_now(),
        }
    }
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

// ---------------------------------------------------------------------------------------
// Statistics

/// Nearest-rank percentiles of a set of latencies.
struct Percentiles {
    sorted: Vec<Duration>,
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        Percentiles { sorted: samples }
    }

    fn at(&self, percent: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((percent / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

// ---------------------------------------------------------------------------------------
// Report

struct Report {
    machine: Machine,
    options: Options,
    /// clamd's version, or `None` when scanning was off.
    antivirus: Option<String>,
    sizes: Sizes,
    raw: RawRates,
    accept: AcceptPhase,
    /// Phase B: SQLite, one run per `--workers` count.
    throughput: Vec<ThroughputPhase>,
    /// The PostgreSQL runs of the scale-out comparison, in `--stores` order.
    scale_out: Vec<ThroughputPhase>,
    /// The benchmark cluster's settings, when any run was on PostgreSQL.
    postgres: Option<PostgresSettings>,
}

impl Report {
    fn print(&self) {
        let m = &self.machine;
        println!("sealmail load benchmark (service pipeline, issue 3), {}", m.date);
        println!("machine:   {} × {}, Linux {}", m.logical_cpus, m.cpu_model, m.kernel);
        println!("load avg:  {} (before the run)", m.load_before);
        println!(
            "sink:      Postfix smtp-sink {} (separate process, counts and discards; nothing on disk)",
            self.raw.sink_version
        );
        println!(
            "antivirus: {}",
            self.antivirus.as_ref().map_or_else(
                || "none (allow_insecure_no_antivirus = true)".to_owned(),
                |v| format!("{v}, real clamd with test signatures, INSTREAM over TCP")
            )
        );
        println!("server:    {} (default settings but [queue] workers and the store)", server_binary().display());
        if let Some(pg) = &self.postgres {
            println!(
                "postgres:  PostgreSQL {}, private cluster on 127.0.0.1 (same machine), fsync={}, \
                 synchronous_commit={}, wal_sync_method={}, shared_buffers={}",
                pg.version, pg.fsync, pg.synchronous_commit, pg.wal_sync_method, pg.shared_buffers
            );
        }
        println!(
            "job:       1 block, 2 recipients, 1 flagged 100 KiB attachment → 1 original ({} B) + 2 password mails ({} B)",
            self.sizes.original, self.sizes.password
        );
        println!();

        println!("Raw SMTP rate of the sink (smtp-source -s {RAW_SESSIONS} -m {RAW_MESSAGES}):");
        for r in [&self.raw.original, &self.raw.original_reuse, &self.raw.password] {
            println!(
                "  {:<58} {:>6.0} msgs/s   ({} msgs in {}; CPU: sink {}, smtp-source {})",
                r.label,
                r.per_sec,
                r.messages,
                secs(r.elapsed),
                secs(r.sink_cpu),
                secs(r.source_cpu)
            );
        }
        println!();

        let a = &self.accept;
        println!(
            "Phase A: open loop, {:.0} req/s offered for {} s, workers {} ({} requests):",
            a.offered_rate, self.options.rate_secs, a.workers, a.offered
        );
        println!("  accepted (202)           {} of {}{}", a.accepted, a.offered, refusals(&a.refused));
        println!(
            "  accept latency           p50 {}   p90 {}   p99 {}   max {}",
            ms(a.latency.at(50.0)),
            ms(a.latency.at(90.0)),
            ms(a.latency.at(99.0)),
            ms(a.latency.max())
        );
        println!(
            "  delivered meanwhile      {} of {} msgs in {} (the server {} the offered rate)",
            a.delivered_during,
            a.accepted as u64 * MESSAGES_PER_JOB,
            secs(a.elapsed),
            if a.delivered_during as f64 >= 0.9 * (a.accepted as u64 * MESSAGES_PER_JOB) as f64 {
                "kept up with"
            } else {
                "queued behind"
            }
        );
        println!("  machine busy             {:.0} %", a.machine_busy_percent);
        println!();

        println!(
            "Phase B: closed loop, {} concurrent submitters, {} jobs per run:",
            self.options.concurrency, self.options.jobs
        );
        let header: Vec<String> = self.throughput.iter().map(|t| format!("workers {}", t.workers)).collect();
        let row = |label: &str, cells: Vec<String>| {
            let cells: Vec<String> = cells.iter().map(|c| format!("{c:>20}")).collect();
            println!("  {label:<34}{}", cells.join(""));
        };
        let each = |f: &dyn Fn(&ThroughputPhase) -> String| self.throughput.iter().map(f).collect::<Vec<_>>();
        row("", header);
        row("accepted", each(&|t| format!("{} of {}", t.accepted, t.jobs)));
        row("accepted jobs/s", each(&|t| format!("{:.0}", t.accepted_per_sec())));
        row("accept latency p50", each(&|t| ms(t.latency.at(50.0))));
        row("accept latency p99", each(&|t| ms(t.latency.at(99.0))));
        row(
            "end-to-end (all msgs at the sink)",
            each(&|t| t.end_to_end.map_or_else(|| format!("timed out ({})", secs(t.measured_for)), secs)),
        );
        row("end-to-end jobs/s", each(&|t| format!("{:.1}", t.end_to_end_jobs_per_sec())));
        row("delivered msgs/s", each(&|t| format!("{:.0}", t.messages_per_sec())));
        row(
            "  ÷ raw rate (new conn./reuse)",
            each(&|t| {
                format!(
                    "{:.2} / {:.2}",
                    t.messages_per_sec() / self.raw.original.per_sec,
                    t.messages_per_sec() / self.raw.original_reuse.per_sec
                )
            }),
        );
        row("CPU s: sealmail", each(&|t| format!("{:.1}", t.cpu.server.as_secs_f64())));
        row("CPU s: clamd", each(&|t| t.cpu.clamd.map_or("-".to_owned(), |c| format!("{:.1}", c.as_secs_f64()))));
        row("CPU s: smtp-sink", each(&|t| format!("{:.1}", t.cpu.sink.as_secs_f64())));
        row("CPU s: load-bench (client)", each(&|t| format!("{:.1}", t.cpu.client.as_secs_f64())));
        row("sealmail CPU per job", each(&|t| ms(t.cpu.server / t.jobs_delivered())));
        row("all processes' CPU per job", each(&|t| ms(t.cpu.all() / t.jobs_delivered())));
        row(
            &format!("CPU-bound ceiling ({} cores)", self.machine.logical_cpus),
            each(&|t| {
                let per_job = t.cpu.all().as_secs_f64() / f64::from(t.jobs_delivered());
                format!("{:.0} jobs/s", self.machine.logical_cpus as f64 / per_job)
            }),
        );
        row("machine busy (wall)", each(&|t| format!("{:.0} % ({})", t.cpu.machine_busy_percent, secs(t.cpu.wall))));
        row(
            "sealmail peak RSS",
            each(&|t| t.server_peak_rss_kib.map_or("-".to_owned(), |k| format!("{} MiB", k / 1024))),
        );
        for t in &self.throughput {
            if !t.refused.is_empty() {
                println!("  workers {}: refused{}", t.workers, refusals(&t.refused));
            }
        }
        println!();

        println!("Targets:");
        let raw = self.raw.original.per_sec;
        for t in &self.throughput {
            let ratio = t.messages_per_sec() / raw;
            println!(
                "  delivered msgs/s ≥ {TARGET_RAW_RATIO} × raw ({:.0} msgs/s), workers {:<2}  {:>6.0} msgs/s = {ratio:.2} ×    {}",
                raw,
                t.workers,
                t.messages_per_sec(),
                verdict(ratio >= TARGET_RAW_RATIO && t.end_to_end.is_some())
            );
        }
        for t in &self.throughput {
            let rate = t.end_to_end_jobs_per_sec();
            println!(
                "  end-to-end ≥ {TARGET_E2E_JOBS_PER_SEC:.0} jobs/s, workers {:<2}                      {:>6.1} jobs/s            {}",
                t.workers,
                rate,
                verdict(rate >= TARGET_E2E_JOBS_PER_SEC && t.end_to_end.is_some())
            );
        }
        let p99 = a.latency.at(99.0);
        println!(
            "  p99 accept ≤ {} at {:.0} req/s, workers {:<2}                 {:>9}              {}",
            ms(TARGET_P99_ACCEPT),
            a.offered_rate,
            a.workers,
            ms(p99),
            verdict(p99 <= TARGET_P99_ACCEPT && a.accepted == a.offered)
        );
        self.print_scale_out();
    }

    /// The scale-out comparison (issue 7): each configuration of `--stores` in a column, and
    /// the sink's raw rate for the same message sizes beside them.
    fn print_scale_out(&self) {
        let workers = self.options.scale_workers();
        let runs: Vec<&ThroughputPhase> = self
            .options
            .stores
            .iter()
            .filter_map(|&setup| match setup {
                Setup::Sqlite => self.throughput.iter().find(|t| t.workers == workers),
                _ => self.scale_out.iter().find(|t| t.setup == setup),
            })
            .collect();
        if runs.is_empty() {
            return;
        }
        let cores = self.machine.logical_cpus;
        let raw = &self.raw;
        // A job is one original and two password mails: at the raw rates, the sink alone
        // takes 1/original + 2/password seconds per job.
        let raw_jobs_per_sec = 1.0 / (1.0 / raw.original.per_sec + 2.0 / raw.password.per_sec);
        let raw_sink_per_job =
            raw.original.sink_cpu / raw.original.messages + raw.password.sink_cpu * 2 / raw.password.messages;
        let raw_source_per_job =
            raw.original.source_cpu / raw.original.messages + raw.password.source_cpu * 2 / raw.password.messages;
        let raw_share = |cpu: Duration| 100.0 * cpu.as_secs_f64() / (raw.original.elapsed.as_secs_f64() * cores as f64);
        println!();
        println!(
            "Scale-out (issue 7): closed loop, {} concurrent submitters, {} jobs, workers {workers} per node; \
             several nodes share one database, submissions round-robin, all deliver to one sink:",
            self.options.concurrency, self.options.jobs
        );
        let row = |label: &str, cells: Vec<String>, raw_cell: String| {
            let cells: Vec<String> = cells.iter().chain([&raw_cell]).map(|c| format!("{c:>22}")).collect();
            println!("  {label:<34}{}", cells.join(""));
        };
        let each = |f: &dyn Fn(&ThroughputPhase) -> String| runs.iter().map(|t| f(t)).collect::<Vec<_>>();
        let none = || "-".to_owned();
        let per_job = |t: &ThroughputPhase, cpu: Option<Duration>| {
            cpu.map_or_else(none, |c| format!("{} ({:.0} %)", ms(c / t.jobs_delivered()), t.cpu.share(c, cores)))
        };
        row("", each(&|t| t.setup.label()), "sink alone (raw)".to_owned());
        row("accepted jobs/s", each(&|t| format!("{:.0}", t.accepted_per_sec())), none());
        row(
            "accept latency p50 / p99",
            each(&|t| format!("{} / {}", ms(t.latency.at(50.0)), ms(t.latency.at(99.0)))),
            none(),
        );
        row(
            "end-to-end (all msgs at the sink)",
            each(&|t| t.end_to_end.map_or_else(|| format!("timed out ({})", secs(t.measured_for)), secs)),
            none(),
        );
        row(
            "end-to-end jobs/s",
            each(&|t| format!("{:.1}", t.end_to_end_jobs_per_sec())),
            format!("{raw_jobs_per_sec:.0} (same sizes)"),
        );
        row(
            "delivered msgs/s",
            each(&|t| format!("{:.0}", t.messages_per_sec())),
            format!("{:.0} (original size)", raw.original.per_sec),
        );
        row(
            "  ÷ raw rate (original size)",
            each(&|t| format!("{:.2}", t.messages_per_sec() / raw.original.per_sec)),
            none(),
        );
        println!("  CPU per job (share of {cores} cores):");
        row("  sealmail, all nodes", each(&|t| per_job(t, Some(t.cpu.server))), none());
        row("  PostgreSQL, all processes", each(&|t| per_job(t, t.cpu.postgres)), none());
        row("  clamd", each(&|t| per_job(t, t.cpu.clamd)), none());
        row(
            "  smtp-sink",
            each(&|t| per_job(t, Some(t.cpu.sink))),
            format!("{} ({:.0} %)", ms(raw_sink_per_job), raw_share(raw.original.sink_cpu)),
        );
        row(
            "  client (load-bench / smtp-source)",
            each(&|t| per_job(t, Some(t.cpu.client))),
            format!("{} ({:.0} %)", ms(raw_source_per_job), raw_share(raw.original.source_cpu)),
        );
        row("  all processes", each(&|t| per_job(t, Some(t.cpu.all()))), none());
        row(
            &format!("CPU-bound ceiling ({cores} cores)"),
            each(&|t| {
                let per_job = t.cpu.all().as_secs_f64() / f64::from(t.jobs_delivered());
                format!("{:.0} jobs/s", cores as f64 / per_job)
            }),
            none(),
        );
        row(
            "machine busy (wall)",
            each(&|t| format!("{:.0} % ({})", t.cpu.machine_busy_percent, secs(t.cpu.wall))),
            none(),
        );
        row(
            "sealmail peak RSS (largest node)",
            each(&|t| t.server_peak_rss_kib.map_or_else(none, |k| format!("{} MiB", k / 1024))),
            none(),
        );
        for t in &runs {
            if !t.refused.is_empty() {
                println!("  {}: refused{}", t.setup.label(), refusals(&t.refused));
            }
        }
    }
}

fn refusals(refused: &[(String, usize)]) -> String {
    if refused.is_empty() {
        return String::new();
    }
    let list: Vec<String> = refused.iter().map(|(k, n)| format!("{n} × {k}")).collect();
    format!(" (not accepted: {})", list.join(", "))
}
