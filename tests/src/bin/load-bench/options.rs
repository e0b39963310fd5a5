//! The command line, and the store setups a closed-loop run compares (`--stores`).

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::measure::progress;

/// The PostgreSQL the harness starts its clusters with (Debian's `postgresql`); without it
/// the scale-out runs default to SQLite alone.
pub const POSTGRES_INITDB: &str = "/usr/lib/postgresql/15/bin/initdb";

pub struct Options {
    /// Jobs per closed-loop run.
    pub jobs: usize,
    /// Concurrent submitters in the closed loop.
    pub concurrency: usize,
    /// Offered rate of the open loop, requests per second.
    pub rate: u32,
    /// Length of the open loop.
    pub rate_secs: u32,
    /// `[queue] workers` of each closed-loop run; the first one also serves the open loop.
    pub workers: Vec<usize>,
    /// Scan with a real clamd (else `allow_insecure_no_antivirus`).
    pub antivirus: bool,
    /// How long to wait for the sink to receive everything after the last submission.
    pub drain: Duration,
    /// The configurations compared side by side (`--stores`).
    pub stores: Vec<Setup>,
}

impl Options {
    pub fn parse() -> Result<Options> {
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
    pub fn scale_workers(&self) -> usize {
        *self.workers.last().expect("--workers is never empty")
    }
}

/// Where a closed-loop run keeps its queue, and how many server processes share it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Setup {
    /// One node on its own SQLite file (the default store).
    Sqlite,
    /// `nodes` server processes on one PostgreSQL database.
    Postgres { nodes: usize },
}

impl Setup {
    /// `sqlite`, or `pgN` for N nodes on PostgreSQL.
    pub fn parse(name: &str) -> Result<Setup> {
        if name == "sqlite" {
            return Ok(Setup::Sqlite);
        }
        match name.strip_prefix("pg").map(str::parse::<usize>) {
            Some(Ok(nodes)) if nodes >= 1 => Ok(Setup::Postgres { nodes }),
            _ => bail!("unknown store {name:?}: sqlite, pg1, pg2, …"),
        }
    }

    pub fn nodes(self) -> usize {
        match self {
            Setup::Sqlite => 1,
            Setup::Postgres { nodes } => nodes,
        }
    }

    pub fn nodes_on_postgres(self) -> Option<usize> {
        match self {
            Setup::Sqlite => None,
            Setup::Postgres { nodes } => Some(nodes),
        }
    }

    pub fn label(self) -> String {
        match self {
            Setup::Sqlite => "SQLite, 1 node".to_owned(),
            Setup::Postgres { nodes: 1 } => "PostgreSQL, 1 node".to_owned(),
            Setup::Postgres { nodes } => format!("PostgreSQL, {nodes} nodes"),
        }
    }
}
