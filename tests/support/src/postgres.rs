//! A private PostgreSQL cluster for the tests (the multi-node store is tested against a real
//! PostgreSQL, docs/service.md#storage): `initdb` into a temporary directory, `pg_ctl start` on a free
//! port of `127.0.0.1` with password (SCRAM) authentication, and a fresh database per
//! [`create_database`] call.
//!
//! One cluster per test process, shared by the tests running at the same time: it starts
//! with the first database asked for (~1–2 s) and stops (`pg_ctl stop -m immediate`) when
//! the last [`Database`] handle is dropped. `fsync=off`: a test cluster need not survive a
//! power cut, and the durability tests crash sealmail, not PostgreSQL. Benchmarks take
//! [`create_durable_database`] instead: a cluster of its own with `fsync=on` and the default
//! `synchronous_commit=on`, so commits cost what they cost in production (durable
//! commits).
//!
//! `initdb` refuses to run as root, and tests run as root on the project's machines: then
//! the cluster belongs to the `postgres` user (Debian's package creates it) and its programs
//! run through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The superuser's password of the test clusters (they listen on loopback only).
const PASSWORD: &str = "sealmail-test-password";

/// Where Debian's `postgresql` package puts the server programs (`cargo xtask setup`
/// installs it).
const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// A running cluster; stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    /// Runs the server programs as `postgres` when we are root.
    as_postgres: bool,
}

/// Whether a cluster flushes its commits to disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// `fsync=off`: the tests' cluster.
    Off,
    /// `fsync=on`, `synchronous_commit=on` (PostgreSQL's defaults): the benchmarks' cluster.
    On,
}

/// A database of the test cluster, empty when created. Keeps the cluster running.
pub struct Database {
    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/NAME`.
    pub url: String,
    /// Its name.
    pub name: String,
    cluster: Arc<Cluster>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("url", &self.url).finish()
    }
}

impl Database {
    /// A client connected to this database (for tests that inspect rows directly).
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Every text and byte value of every table, concatenated: what a search for a secret
    /// in the database must look through (the counterpart of reading the SQLite file).
    pub async fn dump(&self) -> Vec<u8> {
        use tokio_postgres::types::Type;
        let client = self.connect().await;
        let tables = client
            .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", &[])
            .await
            .expect("list tables");
        let mut out = Vec::new();
        for table in tables {
            let name: String = table.get(0);
            for row in client.query(&format!("SELECT * FROM \"{name}\""), &[]).await.expect("read table") {
                for (i, column) in row.columns().iter().enumerate() {
                    match *column.type_() {
                        Type::BYTEA => out.extend(row.get::<_, Option<Vec<u8>>>(i).unwrap_or_default()),
                        Type::TEXT => out.extend(row.get::<_, Option<String>>(i).unwrap_or_default().into_bytes()),
                        _ => {}
                    }
                }
                out.push(b'\n');
            }
        }
        out
    }

    /// The cluster's server log (for failure messages).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.cluster.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The pid of the cluster's postmaster (the first line of `postmaster.pid`): the parent
    /// of every PostgreSQL process of the cluster, for benchmarks that read their CPU time.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let pid_file = std::fs::read_to_string(self.cluster.data().join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }
}

/// A fresh, empty database on the shared test cluster (started if none is running).
pub async fn create_database() -> Database {
    create_database_on(Durability::Off).await
}

/// A fresh, empty database on a cluster that commits durably (`fsync=on`,
/// `synchronous_commit=on`), shared by the callers of this function only: for benchmarks.
pub async fn create_durable_database() -> Database {
    create_database_on(Durability::On).await
}

async fn create_database_on(durability: Durability) -> Database {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = shared_cluster(durability);
    let name = format!("sealmail_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = connect(&cluster.url("postgres")).await;
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
    Database { url: cluster.url(&name), name, cluster }
}

/// The running cluster of that durability, or a new one when the last user has gone.
fn shared_cluster(durability: Durability) -> Arc<Cluster> {
    static SHARED: [Mutex<Weak<Cluster>>; 2] = [const { Mutex::new(Weak::new()) }; 2];
    let mut shared = SHARED[usize::from(durability == Durability::On)].lock().unwrap_or_else(|e| e.into_inner());
    if let Some(cluster) = shared.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(Cluster::start(durability));
    *shared = Arc::downgrade(&cluster);
    cluster
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

impl Cluster {
    fn start(durability: Durability) -> Self {
        let initdb = Path::new(BIN_DIR).join("initdb");
        assert!(initdb.is_file(), "{} is missing; run `cargo xtask setup` (it installs postgresql)", initdb.display());
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("sealmail-pg-").tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pwfile"), PASSWORD).expect("password file");
        if as_postgres {
            let (uid, gid) = (id(&["-u", "postgres"]), id(&["-g", "postgres"]));
            for path in [dir.path().to_owned(), dir.path().join("pwfile")] {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }
        let data = dir.path().join("data");
        let mut init = Command::new(&initdb);
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256", "--no-sync", "--encoding=UTF8", "--locale=C"])
            .arg(format!("--pwfile={}", dir.path().join("pwfile").display()));
        run(as_postgres, init, "initdb");
        // The port was free a moment ago; another process may take it before the server
        // binds it: try a few.
        let fsync = if durability == Durability::On { "on" } else { "off" };
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = crate::free_port();
            let mut start = Command::new(Path::new(BIN_DIR).join("pg_ctl"));
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("server.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=300",
                    dir.path().display()
                ))
                .arg("start");
            match output(as_postgres, start) {
                Ok(()) => return Self { dir, port, as_postgres },
                Err(e) => last_error = e,
            }
        }
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start: {last_error}\n{log}");
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = Command::new(Path::new(BIN_DIR).join("pg_ctl"));
        stop.arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]);
        let _ = output(self.as_postgres, stop);
    }
}

fn is_root() -> bool {
    id(&["-u"]) == 0
}

/// What `id ARGS` prints, a number.
fn id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| panic!("id {args:?}: {out:?}"))
}

/// Runs `command` (as `postgres` through `runuser` when asked); panics with its output.
fn run(as_postgres: bool, command: Command, what: &str) {
    if let Err(e) = output(as_postgres, command) {
        panic!("{what} failed: {e}");
    }
}

fn output(as_postgres: bool, command: Command) -> Result<(), String> {
    let mut command = if as_postgres {
        let mut wrapped = Command::new("runuser");
        wrapped.args(["-u", "postgres", "--"]).arg(command.get_program()).args(command.get_args());
        wrapped
    } else {
        command
    };
    let out = command.output().map_err(|e| format!("cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}
