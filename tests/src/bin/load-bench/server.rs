//! The servers under load: the release `sealmail serve` processes (one per node), their
//! configuration and readiness, the warm-up before a measured phase, and what the report says
//! about clamd and PostgreSQL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealmail_test_support::postgres::Database;
use sealmail_test_support::server::TEST_STORAGE_KEY;
use sealmail_test_support::{ACCOUNT, free_port, wait_ready};

use crate::job::{JobBody, MESSAGES_PER_JOB, next_body};
use crate::measure::tail;
use crate::sink::Sink;

/// Jobs sent (and fully delivered) before each measured phase: the SQLite file, the instance
/// pool and the connections exist before the clock starts.
pub const WARM_UP_JOBS: usize = 20;

/// How long a server may take to answer `/readyz`.
pub const READY_DEADLINE: Duration = Duration::from_secs(120);

/// What the benchmark's PostgreSQL reports about itself: the settings that decide what a
/// commit costs, read back rather than assumed.
#[derive(Clone)]
pub struct PostgresSettings {
    pub version: String,
    pub fsync: String,
    pub synchronous_commit: String,
    pub wal_sync_method: String,
    pub shared_buffers: String,
}

impl PostgresSettings {
    pub async fn read(database: &Database) -> Result<PostgresSettings> {
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

/// How every server of the run is started.
pub struct Launch {
    pub binary: PathBuf,
    /// One precompiled-component cache for the run: only the first start compiles.
    pub cache_dir: PathBuf,
    /// `tcp://…` of clamd, or `None` for `allow_insecure_no_antivirus`.
    pub scanner: Option<String>,
}

/// The release `sealmail`: `$SEALMAIL_BIN`, else `target/release/sealmail` of this workspace.
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SEALMAIL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| sealmail_test_support::repo_root().join("target"), PathBuf::from);
    target.join("release").join("sealmail")
}

/// A running server with its own data directory; drop kills it. Logs at the default level
/// (`info`) to a file: the harness' `Sealmail` logs at `trace`, which would measure logging.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub base_url: String,
    pub client: reqwest::Client,
}

impl Server {
    /// A server on its own SQLite file, or on `database_url` (PostgreSQL, with the harness'
    /// storage key, which every node on one database must share).
    pub async fn start(launch: &Launch, smtp_port: u16, workers: usize, database_url: Option<&str>) -> Result<Server> {
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        tail(&log, 4000).to_owned()
    }

    /// `POST /rest/v1/jobs`; the status code, or the client error.
    pub async fn submit(&self, body: Vec<u8>) -> Result<u16, String> {
        self.submit_answer(body).await.map(|(status, _)| status)
    }

    /// `POST /rest/v1/jobs`; the status code and the response body, or the client error.
    pub async fn submit_answer(&self, body: Vec<u8>) -> Result<(u16, String), String> {
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

pub fn clamd_version() -> String {
    Command::new("/usr/sbin/clamd")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "clamd (unknown version)".to_owned())
}

/// Sends [`WARM_UP_JOBS`] and waits until the sink has all their messages.
pub async fn warm_up(server: &Server, sink: &Sink, bodies: &JobBody) -> Result<()> {
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
