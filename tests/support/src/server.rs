//! The sealmail server as a separate process, as users run it: a temporary data directory,
//! a generated configuration, `sealmail serve --config`, readiness polled on `/readyz`,
//! and SIGKILL / restart for the crash tests. Logs go to files at trace level, so tests
//! can search them (e.g. for secrets that must never appear). With
//! `SEALMAIL_TEST_DATABASE=postgres` every server runs on a fresh database of the harness's
//! PostgreSQL cluster; [`Sealmail::start_on`] starts several nodes on one database.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::postgres::Database;

/// The test account (name, secret).
pub const ACCOUNT: (&str, &str) = ("acme", "acme-secret-0123456789abcdef0123456789");
/// A second account, for isolation tests.
pub const OTHER_ACCOUNT: (&str, &str) = ("other", "other-secret-0123456789abcdef012345678");

/// The `sealmail` binary: `$SEALMAIL_BIN`, else `target/debug/sealmail` of this workspace
/// (built by `cargo xtask test` before the tests run).
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SEALMAIL_BIN") {
        return PathBuf::from(p);
    }
    let bin = target_dir().join("debug").join("sealmail");
    assert!(bin.is_file(), "{} is missing: run `cargo build -p sealmail` (cargo xtask test does)", bin.display());
    bin
}

/// One precompiled-component cache for every test server (compiling the components
/// takes seconds; the cache's writes are atomic, so concurrent servers may share it).
fn shared_cache_dir() -> PathBuf {
    target_dir().join("test-component-cache")
}

/// The workspace's target directory (`$CARGO_TARGET_DIR` or `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::repo_root().join("target"), PathBuf::from)
}

/// Waits until the server `child` answers `/readyz` at `base_url` with a success, for at
/// most `patience`. The error says whether it exited (and how) or did not become ready.
pub async fn wait_ready(
    child: &mut Child,
    client: &reqwest::Client,
    base_url: &str,
    patience: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + patience;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("sealmail exited at start ({status})"));
        }
        let ready = client.get(format!("{base_url}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("sealmail not ready after {patience:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `storage_key` of test servers on PostgreSQL (required there): 32 bytes, base64.
pub const TEST_STORAGE_KEY: &str = "c2VhbG1haWwtdGVzdC1zdG9yYWdlLWtleS0zMmJ5dGU=";

/// The store test servers use: `SEALMAIL_TEST_DATABASE=postgres` runs them on a fresh
/// database of the harness's PostgreSQL cluster ([`crate::postgres`]), anything else (or
/// nothing) on the default SQLite file in the data directory.
async fn test_database() -> Option<Arc<Database>> {
    match std::env::var("SEALMAIL_TEST_DATABASE").as_deref() {
        Ok("postgres") => Some(Arc::new(crate::postgres::create_database().await)),
        Ok("sqlite" | "") | Err(_) => None,
        Ok(other) => panic!("SEALMAIL_TEST_DATABASE={other:?}: use postgres or sqlite"),
    }
}

/// A running sealmail server. Drop kills it.
pub struct Sealmail {
    dir: tempfile::TempDir,
    /// Its PostgreSQL database, if on PostgreSQL (kept for restarts; dropped after the kill).
    database: Option<Arc<Database>>,
    port: u16,
    child: Option<Child>,
    starts: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    client: reqwest::Client,
}

impl Sealmail {
    /// Starts a server whose configuration is the test defaults (two accounts, 1 s retries,
    /// 50 ms polling) followed by `extra_toml` (e.g. a `[transport]` and `[antivirus]`).
    pub async fn start(extra_toml: &str) -> Self {
        Self::start_with_account(extra_toml, "").await
    }

    /// Like [`Sealmail::start`], with `acme_toml` added to the `[[accounts]]` table of
    /// [`ACCOUNT`] (after its `customer_no`), e.g. `webhook_secrets = ["whsec_…"]` or a
    /// default `callback = { url = "…" }`.
    pub async fn start_with_account(extra_toml: &str, acme_toml: &str) -> Self {
        Self::launch(extra_toml, acme_toml, test_database().await, None).await
    }

    /// Like [`Sealmail::start`] (on SQLite), on a data directory that starts as a copy of the
    /// files in `seed`: a database and storage key left by another run or release.
    pub async fn start_seeded(extra_toml: &str, seed: &std::path::Path) -> Self {
        Self::launch(extra_toml, "", None, Some(seed)).await
    }

    /// Like [`Sealmail::start`], on `database`, which other servers may share: one node of
    /// several (each with its own data directory, all with [`TEST_STORAGE_KEY`]).
    pub async fn start_on(database: Arc<Database>, extra_toml: &str) -> Self {
        Self::launch(extra_toml, "", Some(database), None).await
    }

    async fn launch(
        extra_toml: &str,
        acme_toml: &str,
        database: Option<Arc<Database>>,
        seed: Option<&std::path::Path>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(seed) = seed {
            let data = dir.path().join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            for entry in std::fs::read_dir(seed).unwrap_or_else(|e| panic!("{}: {e}", seed.display())) {
                let entry = entry.expect("a seed file");
                if entry.path().is_file() {
                    std::fs::copy(entry.path(), data.join(entry.file_name())).expect("copying a seed file");
                }
            }
        }
        let port = crate::free_port();
        let store_toml = database
            .as_ref()
            .map(|d| format!("database_url = \"{}\"\nstorage_key = \"{TEST_STORAGE_KEY}\"\n", d.url))
            .unwrap_or_default();
        let config = format!(
            r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
message_id_domain = "sealmail.test"
{store_toml}{extra_toml}

[[accounts]]
name = "{a}"
secret = "{a_secret}"
customer_no = "1001"
{acme_toml}

[[accounts]]
name = "{b}"
secret = "{b_secret}"
"#,
            data = dir.path().join("data").display(),
            a = ACCOUNT.0,
            a_secret = ACCOUNT.1,
            b = OTHER_ACCOUNT.0,
            b_secret = OTHER_ACCOUNT.1,
        );
        let config = if config.contains("[queue]") {
            config
        } else {
            format!("{config}\n[queue]\nretry_delays_secs = [1]\npoll_ms = 50\nlease_secs = 30\n")
        };
        std::fs::write(dir.path().join("sealmail.toml"), config).expect("write config");
        let mut server = Self {
            dir,
            database,
            port,
            child: None,
            starts: 0,
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client"),
        };
        server.spawn().await;
        server
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sealmail.toml")
    }

    /// The data directory (database, keys, outbox).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Its PostgreSQL database, when `SEALMAIL_TEST_DATABASE=postgres` (else it runs on the
    /// SQLite file `sealmail.db` in [`Sealmail::data_dir`]).
    pub fn database(&self) -> Option<&Database> {
        self.database.as_deref()
    }

    async fn spawn(&mut self) {
        self.starts += 1;
        let log = |name: &str| {
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join(name)).expect("log file")
        };
        let child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(self.config_path())
            .env("SEALMAIL_LOG", "trace")
            // The tests' own switches look like configuration overrides (`SEALMAIL_*`) to the
            // server, which refuses unknown keys.
            .env_remove("SEALMAIL_TEST_DATABASE")
            .env_remove("SEALMAIL_FAULT_PROFILE")
            .env("SEALMAIL_CACHE_DIR", shared_cache_dir())
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .expect("start sealmail");
        let child = self.child.insert(child);
        if let Err(why) = wait_ready(child, &self.client, &self.base_url, Duration::from_secs(120)).await {
            panic!("{why}:\n{}", self.logs());
        }
    }

    /// SIGKILL: no drain, no cleanup — a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the drain to finish.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        child.wait().expect("wait")
    }

    /// Starts the server again on the same port and data.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    /// stdout and stderr of every start so far.
    pub fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("--- stdout ---\n{}\n--- stderr ---\n{}", read("stdout.log"), read("stderr.log"))
    }

    /// The port the API listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `POST /rest/v1/jobs` as `account` with `body` and extra headers; status and JSON body.
    pub async fn submit_raw(
        &self,
        account: (&str, &str),
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut request = self
            .client
            .post(format!("{}/rest/v1/jobs", self.base_url))
            .basic_auth(account.0, Some(account.1))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("POST /rest/v1/jobs");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, headers)
    }

    /// Submits `job` as the test account and returns the jobId; panics unless `202`.
    pub async fn submit(&self, job: &Value) -> String {
        let (status, body, _) = self.submit_raw(ACCOUNT, serde_json::to_vec(job).unwrap(), &[]).await;
        assert_eq!(status, 202, "submission refused: {body}");
        body["jobId"].as_str().expect("jobId").to_owned()
    }

    /// `method path` (e.g. `/rest/v1/suppressions`) as `account`: status code, headers and
    /// JSON body (`Null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        account: (&str, &str),
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .client
            .request(method.clone(), format!("{}{path}", self.base_url))
            .basic_auth(account.0, Some(account.1))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /rest/v1/jobs/{id}` as `account`: status code and body.
    pub async fn status_as(&self, account: (&str, &str), id: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}/rest/v1/jobs/{id}", self.base_url))
            .basic_auth(account.0, Some(account.1))
            .send()
            .await
            .expect("GET job");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The status report of a job of the test account.
    pub async fn status(&self, id: &str) -> Value {
        let (code, body) = self.status_as(ACCOUNT, id).await;
        assert_eq!(code, 200, "status of {id}: {body}");
        body
    }

    /// Polls until the job's `state` is `FINISHED`; returns the report.
    pub async fn wait_finished(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let report = self.status(id).await;
            if report["state"] == "FINISHED" {
                return report;
            }
            assert!(Instant::now() < deadline, "job {id} not finished after {timeout:?}: {report:#}\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Sealmail {
    fn drop(&mut self) {
        self.kill9();
    }
}
