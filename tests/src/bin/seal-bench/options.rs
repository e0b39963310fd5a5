//! The command line: `--json`, `--runs N`, `--component PATH.wasm`, `--write-corpus DIR`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// Default measured rounds of the big seals (after one warm-up round); `--runs` changes it.
pub const DEFAULT_RUNS: usize = 5;

pub struct Options {
    pub json: bool,
    pub runs: usize,
    pub component: ComponentSource,
    /// Write the corpus here and stop (to feed the same bytes to other tools).
    pub write_corpus: Option<PathBuf>,
}

/// Which component is measured: the one embedded in the host, or a candidate build (to
/// compare guest build settings without rebuilding the host).
pub enum ComponentSource {
    Embedded,
    File { path: PathBuf, wasm: Vec<u8> },
}

impl ComponentSource {
    pub fn wasm(&self) -> &[u8] {
        match self {
            ComponentSource::Embedded => sealmail_sandbox::runtime::COMPONENT_WASM,
            ComponentSource::File { wasm, .. } => wasm,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ComponentSource::Embedded => "embedded in the host".to_owned(),
            ComponentSource::File { path, .. } => path.display().to_string(),
        }
    }
}

pub const USAGE: &str = "usage: seal-bench [--json] [--runs N] [--component PATH.wasm] [--write-corpus DIR]\n\
  --json              print one JSON document instead of the report\n\
  --runs N            measured rounds of the big seals, after one warm-up round (default 5)\n\
  --component PATH    measure another build of the component instead of the embedded one\n\
  --write-corpus DIR  write scan.bin and ledger.txt to DIR and stop (to feed other tools)";

impl Options {
    pub fn parse() -> Result<Options> {
        let mut options =
            Options { json: false, runs: DEFAULT_RUNS, component: ComponentSource::Embedded, write_corpus: None };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--json" => options.json = true,
                "--runs" => {
                    let value = args.next().context("--runs needs a number")?;
                    options.runs = value.parse().with_context(|| format!("--runs {value}: not a number"))?;
                    if options.runs == 0 {
                        bail!("--runs must be at least 1");
                    }
                }
                "--component" => {
                    let path = PathBuf::from(args.next().context("--component needs a path")?);
                    let wasm = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    options.component = ComponentSource::File { path, wasm };
                }
                "--write-corpus" => {
                    options.write_corpus =
                        Some(PathBuf::from(args.next().context("--write-corpus needs a directory")?));
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(options)
    }
}
