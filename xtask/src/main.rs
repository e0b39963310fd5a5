//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `setup`: installs what the tests need on a Debian machine, idempotently (the wasm
//!   target, 7-Zip, bsdtar, ClamAV, Chromium, Node.js, Python's pyzipper and checkers).
//! - `build-guest`: builds the component (`wasm32-wasip2`) that the host embeds, and the
//!   hostile test component of the sandbox tests (`tests/hostile-guest/`). It runs before
//!   every host build because a `build.rs` that runs cargo deadlocks on the target directory
//!   lock.
//! - `build-web`: transpiles the `library` component with jco for the browser preview
//!   (`web/dist/preview/`, embedded by the host and served at `/preview`) and for Node
//!   (`web/dist/node/`), and lays out the published artefacts (`web/dist/artefacts/`:
//!   `sealmail.wasm` and the WIT package).
//! - `run`: the main job: the server on embedded defaults (with a `demo` account).
//! - `test`: setup, build, formatting, and every test; clippy lints while the tests build
//!   (see [`LINT`]). `test-postgres`: only the system tests on PostgreSQL (after `test`).
//! - `modules`: the module graph of every crate; fails on an import cycle spanning more than
//!   two files (`test` runs it too).
//! - `bench`: the sealing benchmark (`docs/performance.md`); `bench load`: the service under
//!   load (HTTP in, Postfix's `smtp-sink` out; installs Postfix for its test programs).
//! - `fault-run`: the fault tests with their full profile.
//! - `fuzz [seconds-per-target] [target…]`: the libFuzzer targets on nightly, one after the
//!   other (`fuzz/run.sh`, docs/fuzzing.md).
//!
//! Every cargo build this program starts runs clippy as it compiles (see [`LINT`]): a lint
//! fails the build it appears in, and the builds of `test`, `run` and `bench` share their
//! artifacts (a plain `cargo` command afterwards rebuilds the workspace's own crates once).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

mod modules;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    std::env::set_current_dir(&root)?;
    if !matches!(args.first().map(String::as_str), Some("setup" | "fuzz") | None) {
        lint_while_building()?;
    }
    match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("build-guest") => build_guest(),
        Some("build-web") => build_guest().and_then(|()| build_web()),
        Some("run") => run_main_job(&args[1..]),
        Some("test") => test(),
        Some("modules") => modules::check(&root),
        Some("test-postgres") => test_on_postgres(),
        Some("bench") => bench(&args[1..]),
        Some("fault-run") => fault_run(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup | build-guest | build-web | run | test | test-postgres | modules | bench [load] | fault-run | fuzz [seconds] [target…]>"
            );
            std::process::exit(2);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command, echoing it, and fails with its exit status.
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", describe(cmd));
    let started = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("cannot start {}", describe(cmd)))?;
    // Each step's wall time, so a slow CI run shows where its minutes went.
    eprintln!("  ({:.1} s: {})", started.elapsed().as_secs_f64(), short(cmd));
    if !status.success() {
        bail!("{} failed ({status})", describe(cmd));
    }
    Ok(())
}

/// The program and its first two arguments: enough to tell the steps apart.
fn short(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args().take(2))
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How every cargo build of xtask lints, set once at start ([`lint_while_building`]): the
/// environment `cargo clippy` gives clippy-driver. `cargo clippy --all-targets` beside the
/// builds cost as much as the test build again (check and build artifacts are not shared);
/// as the workspace's rustc wrapper, clippy-driver compiles *and* lints every workspace crate
/// in the one build the tests need anyway (dependencies are not linted: cargo wraps only
/// workspace members). `cargo test --workspace` compiles every target `--all-targets` did
/// (libs, bins, unit and integration tests; the workspace has no benches or examples), and
/// [`build_guest`] builds the guests for wasm32 with both feature sets.
static LINT: OnceLock<Vec<(&'static str, OsString)>> = OnceLock::new();

/// Sets [`LINT`]: clippy-driver of the toolchain in use (rust-toolchain.toml names the
/// component) with warnings denied, exactly as `cargo clippy -- -D warnings` passes them.
fn lint_while_building() -> Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().context("cannot run rustc")?;
    if !sysroot.status.success() {
        bail!("rustc --print sysroot failed: {}", String::from_utf8_lossy(&sysroot.stderr));
    }
    let driver = Path::new(String::from_utf8_lossy(&sysroot.stdout).trim()).join("bin").join("clippy-driver");
    if !driver.is_file() {
        bail!("{} is missing: `rustup component add clippy`", driver.display());
    }
    // `cargo clippy` ends every argument with this separator (clippy's `CLIPPY_ARGS`).
    let clippy_args = "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__";
    let env = vec![("RUSTC_WORKSPACE_WRAPPER", driver.into_os_string()), ("CLIPPY_ARGS", clippy_args.into())];
    LINT.set(env).map_err(|_| anyhow::anyhow!("the lint environment is set once"))
}

/// `cargo`, with the lint environment of [`LINT`] once it is set.
fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, value) in LINT.get().into_iter().flatten() {
        cargo.env(name, value);
    }
    cargo
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .is_ok_and(|s| s.success())
}

fn python_has(module: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success())
}

/// Debian packages the tests use, by the command that proves each is installed.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("7z", "p7zip-full"),
    ("bsdtar", "libarchive-tools"),
    // The antivirus tests start their own clamd (tests/support/src/clamd.rs); apt does not
    // start the service here, and the tests never use it.
    ("clamscan", "clamav"),
    ("/usr/sbin/clamd", "clamav-daemon"),
    // The browser preview's test drives Debian's Chromium with playwright-core (no
    // browser download); jco and playwright-core run on Node.js.
    ("/usr/bin/chromium", "chromium"),
    ("node", "nodejs"),
    ("npm", "npm"),
    // The MX delivery and DKIM tests serve their MX, A and TXT records with their own
    // dnsmasq (tests/support/src/dns.rs); `dnsmasq-base` is the binary without the service.
    ("/usr/sbin/dnsmasq", "dnsmasq-base"),
    // The PostgreSQL store's tests start a private cluster (tests/support/src/postgres.rs)
    // with these programs; the system's cluster is never started.
    ("/usr/lib/postgresql/15/bin/initdb", "postgresql"),
];

/// Debian packages only the load benchmark uses (`cargo xtask bench load`): Postfix for its
/// test programs `smtp-sink` (the next hop) and `smtp-source` (the raw SMTP rate). The Postfix
/// daemon itself is never configured or started. Its scale-out runs need PostgreSQL too,
/// which [`APT_PACKAGES`] installs (`setup` runs first).
const LOAD_BENCH_APT_PACKAGES: &[(&str, &str)] = &[("/usr/sbin/smtp-sink", "postfix")];

/// Answers for packages that would otherwise ask at install time. Postfix asks for a mail
/// configuration type; "No configuration" leaves the system's mail setup alone.
const DEBCONF_PRESEED: &[(&str, &str)] = &[("postfix", "postfix postfix/main_mailer_type select No configuration")];

/// Python packages the tests use (module, pip spec): the third-party AE-2 reader, an
/// independent Standard Webhooks verifier and a JSON Schema validator for the callback body.
const PIP_PACKAGES: &[(&str, &str)] = &[
    ("pyzipper", "pyzipper==0.4.0"),
    ("standardwebhooks", "standardwebhooks==1.1.0"),
    ("jsonschema", "jsonschema==4.26.0"),
    // Lets jsonschema check the `date-time` format (without it the format is not checked).
    ("rfc3339_validator", "rfc3339-validator==0.1.4"),
    // Checks the server's OpenAPI document (`/openapi.json`).
    ("openapi_spec_validator", "openapi-spec-validator==0.9.0"),
    // An independent DKIM verifier (RFC 6376) and the DNS client its key lookup uses.
    ("dkim", "dkimpy==1.1.8"),
    ("dns", "dnspython==2.9.2"),
    // Parses `/metrics` as Prometheus would (the OpenMetrics text parser).
    ("prometheus_client", "prometheus-client==0.23.1"),
];

fn setup() -> Result<()> {
    // rust-toolchain.toml names the target; rustup installs it on first use, but say it
    // explicitly so a machine whose rustup does not auto-install still works.
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    apt_install(APT_PACKAGES)?;
    for (module, spec) in PIP_PACKAGES {
        if !python_has(module) {
            run(Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                spec,
            ]))?;
        }
    }
    Ok(())
}

/// Installs the packages of `packages` whose command is missing, without questions.
fn apt_install(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().filter(|(cmd, _)| !have(cmd)).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let command = |program: &str, args: &[&str]| {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push(program);
        all.extend_from_slice(args);
        let mut c = Command::new(all[0]);
        c.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    for (package, answer) in DEBCONF_PRESEED {
        if missing.contains(package) {
            eprintln!("+ debconf-set-selections <<< {answer:?}");
            let mut child = command("debconf-set-selections", &[])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .context("cannot start debconf-set-selections")?;
            use std::io::Write as _;
            child.stdin.take().context("debconf-set-selections stdin")?.write_all(format!("{answer}\n").as_bytes())?;
            if !child.wait()?.success() {
                bail!("debconf-set-selections refused {answer:?}");
            }
        }
    }
    run(&mut command("apt-get", &["update", "-q"]))?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    run(&mut command("apt-get", &install))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Where the build scripts of `host/sandbox` and `host/workflow` find the components: `target/components/{library,service}.wasm`.
pub fn component_path(world: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("components").join(format!("{world}.wasm"))
}

/// Builds both worlds' components from the one guest crate (`service`: with the `service`
/// feature). Both builds write `sealmail_guest.wasm`, so each result is copied to
/// [`component_path`] — only when its bytes changed, so that an unchanged component does
/// not make cargo rebuild the host that embeds it. The same for the hostile test guest
/// (`tests/hostile-guest/`, `hostile-{service,library}.wasm`), which the sandbox tests load
/// from there; it builds in seconds.
fn build_guest() -> Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let service = &["--features", "service"][..];
    for (package, world, features) in [
        ("sealmail-guest", "service", service),
        ("sealmail-guest", "library", &[][..]),
        ("sealmail-hostile-guest", "hostile-service", service),
        ("sealmail-hostile-guest", "hostile-library", &[][..]),
    ] {
        let built = target.join("wasm32-wasip2").join("guest").join(format!("{}.wasm", package.replace('-', "_")));
        let guest = ["build", "--package", package, "--target", "wasm32-wasip2", "--profile", "guest"];
        run(cargo().args(guest).args(features))?;
        let bytes = std::fs::read(&built).with_context(|| format!("the build did not produce {}", built.display()))?;
        let dest = component_path(world);
        if std::fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::create_dir_all(dest.parent().expect("a file path"))?;
            let partial = dest.with_extension("wasm.partial");
            std::fs::write(&partial, &bytes)?;
            std::fs::rename(&partial, &dest)?;
        }
        eprintln!("component ({world} world): {} ({} KiB)", dest.display(), bytes.len() / 1024);
    }
    Ok(())
}

/// The npm packages of `web/` (jco, the WASI shim, playwright-core), installed from the
/// lock file when it is newer than the installation.
fn npm_install() -> Result<()> {
    let web = root().join("web");
    let installed = web.join("node_modules").join(".package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&installed).is_some() && modified(&installed) >= modified(&web.join("package-lock.json")) {
        return Ok(());
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&web))
}

/// The WASI interfaces the component may import, each mapped to its browser shim module.
const BROWSER_SHIMS: &[&str] = &["cli", "clocks", "filesystem", "http", "io", "random", "sockets"];

/// See the module documentation. Every output is written only when its bytes change, so
/// an unchanged preview does not make cargo rebuild the host that embeds it.
fn build_web() -> Result<()> {
    for tool in ["node", "npm"] {
        if !have(tool) {
            bail!("{tool} is missing: `cargo xtask setup` installs Node.js (Debian's nodejs and npm)");
        }
    }
    npm_install()?;
    let web = root().join("web");
    let dist = web.join("dist");
    let library = component_path("library");
    let staging = tempfile_dir(&dist)?;
    let jco = web.join("node_modules").join(".bin").join("jco");
    let transpile = |out: &Path, extra: &[String]| {
        run(Command::new(&jco)
            .arg("transpile")
            .arg(&library)
            .arg("-o")
            .arg(out)
            .args(["--name", "sealmail", "--quiet"])
            .args(extra))
    };
    // Node resolves the shim's bare specifiers from web/node_modules.
    transpile(&staging.join("node").join("sealmail"), &[])?;
    // The browser: the core module inlined as base64 (the page's CSP forbids fetch, and
    // fetching the .wasm would need `connect-src`), and the WASI imports mapped to the
    // shim's browser modules by relative path (no bundler, no import map).
    let mut browser = vec!["--base64-cutoff".to_owned(), "100000000".to_owned(), "--no-wasi-shim".to_owned()];
    browser.push("--map".to_owned());
    browser.extend(BROWSER_SHIMS.iter().map(|m| format!("wasi:{m}/*=../shim/{m}.js#*")));
    let preview = staging.join("preview");
    transpile(&preview.join("sealmail"), &browser)?;
    let shim = web.join("node_modules").join("@bytecodealliance").join("preview2-shim").join("dist").join("browser");
    copy_tree(&shim, &preview.join("shim"), &|p| p.extension().is_some_and(|e| e == "js"))?;
    copy_tree(&web.join("preview"), &preview, &|_| true)?;
    // The published artefacts: the library component and its WIT package.
    let artefacts = staging.join("artefacts");
    std::fs::create_dir_all(&artefacts)?;
    std::fs::copy(&library, artefacts.join("sealmail.wasm"))?;
    copy_tree(&root().join("wit"), &artefacts.join("wit"), &|p| p.extension().is_some_and(|e| e == "wit"))?;
    for part in ["node", "preview", "artefacts"] {
        sync_tree(&staging.join(part), &dist.join(part))?;
    }
    std::fs::remove_dir_all(&staging)?;
    eprintln!("web: {} (preview, node, artefacts)", dist.display());
    Ok(())
}

/// A fresh staging directory beside `dist`.
fn tempfile_dir(dist: &Path) -> Result<PathBuf> {
    let staging = dist.with_file_name("dist.staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    Ok(staging)
}

/// Copies the files under `from` that `keep` accepts to `to`, keeping the layout.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let path = entry?.path();
        let dest = to.join(path.file_name().expect("a directory entry has a name"));
        if path.is_dir() {
            copy_tree(&path, &dest, keep)?;
        } else if keep(&path) {
            std::fs::copy(&path, &dest).with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

/// Makes `to` hold exactly the files of `from`, rewriting only files whose bytes differ.
fn sync_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(to)? {
        let path = entry?.path();
        let source = from.join(path.file_name().expect("a directory entry has a name"));
        if !source.exists() || source.is_dir() != path.is_dir() {
            if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
        }
    }
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let dest = to.join(path.file_name().expect("a directory entry has a name"));
        if path.is_dir() {
            sync_tree(&path, &dest)?;
        } else {
            let bytes = std::fs::read(&path)?;
            if std::fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
                std::fs::write(&dest, bytes)?;
            }
        }
    }
    Ok(())
}

fn run_main_job(extra: &[String]) -> Result<()> {
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    build_guest()?;
    // The preview page needs Node.js to build; the server runs without it.
    if have("node") && have("npm") {
        build_web()?;
    } else {
        eprintln!("note: Node.js is missing, so /preview is not built (`cargo xtask setup` installs it)");
    }
    run(cargo().args(["build", "--release", "--package", "sealmail"]))?;
    let exe = root().join("target").join("release").join("sealmail");
    if !extra.is_empty() {
        return run(Command::new(&exe).args(extra));
    }
    // The server on embedded defaults: SQLite and the outbox in ./sealmail-data, on
    // 127.0.0.1:8080. A `demo` account is created once; its secret is kept (mode 0600) in
    // sealmail-data/demo-account.txt so that the README's curl examples work.
    let data = root().join("sealmail-data");
    let secret_file = data.join("demo-account.txt");
    if !secret_file.is_file() {
        let out = Command::new(&exe).args(["account", "add", "demo"]).output().context("sealmail account add")?;
        if !out.status.success() {
            bail!("sealmail account add demo failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let secret = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("secret:").map(|s| s.trim().to_owned()))
            .context("account add printed no secret")?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        use std::io::Write as _;
        options.open(&secret_file)?.write_all(format!("demo:{secret}\n").as_bytes())?;
        eprintln!("created the account `demo`; its credentials are in {}", secret_file.display());
    }
    run(Command::new(&exe).arg("serve"))
}

fn test() -> Result<()> {
    setup()?;
    build_guest()?;
    build_web()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    modules::check(&root())?;
    // Built (and linted, see LINT) first, so the step times tell building from testing. The
    // system tests start the server binary (tests/support/src/server.rs); `cargo test`
    // builds it for host/sealmail/tests/cli.rs, with the workspace's unified features (a
    // separate `cargo build -p sealmail` would compile many dependencies a second time).
    run(cargo().args(["test", "--workspace", "--no-run"]))?;
    run(cargo().args(["test", "--workspace", "--no-fail-fast"]))?;
    test_on_postgres()
}

/// The modules of the system tests (`tests/it/`) that exercise the store, run once more with
/// every server on PostgreSQL (docs/service.md#storage: both stores tested in CI).
const POSTGRES_PASS: &[&str] = &[
    "pipeline",
    "callbacks",
    "durability",
    "api",
    "suppression",
    "late_bounce",
    "faults",
    "isolation",
    "secrets",
    "key_rotation",
    "retention",
];

fn test_on_postgres() -> Result<()> {
    let it = system_test_binary()?;
    let tests = tests_in_modules(&it, POSTGRES_PASS)?;
    eprintln!("on PostgreSQL: {} tests of {} modules", tests.len(), POSTGRES_PASS.len());
    run(system_tests(&it, &tests).env("SEALMAIL_TEST_DATABASE", "postgres"))
        .context("on PostgreSQL, system tests failed")
}

/// The system-test binary of the workspace's test build (`cargo test --workspace --no-run`,
/// with the same environment as the build of `test`, so nothing is rebuilt): running it
/// directly avoids `cargo test --package … --test …`, which would resolve features for fewer
/// targets and compile much of the tree a second time (minutes in CI).
fn system_test_binary() -> Result<PathBuf> {
    let output = cargo()
        .args(["test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo test --no-run")?;
    if !output.status.success() {
        bail!("cargo test --workspace --no-run failed ({})", output.status);
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|message| {
            message["target"]["name"] == "it"
                && message["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "test"))
        })
        .and_then(|message| message["executable"].as_str().map(PathBuf::from))
        .context("the workspace's test build has no system-test binary `it`")
}

/// The full names (`module::test`) of the tests of `binary` in `modules`, by module path
/// rather than by substring filters (`api::` would also match `openapi::`). Fails when a
/// module has no test: a renamed module must not drop out of a pass silently.
fn tests_in_modules(binary: &Path, modules: &[&str]) -> Result<Vec<String>> {
    let output = Command::new(binary)
        .args(["--list", "--format", "terse"])
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !output.status.success() {
        bail!("{} --list failed ({})", binary.display(), output.status);
    }
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    let in_module = |name: &str, module: &str| name.strip_prefix(module).is_some_and(|rest| rest.starts_with("::"));
    let tests: Vec<String> = listed
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|name| modules.iter().any(|module| in_module(name, module)))
        .map(str::to_owned)
        .collect();
    let empty: Vec<&&str> = modules.iter().filter(|m| !tests.iter().any(|t| in_module(t, m))).collect();
    if !empty.is_empty() {
        bail!("{} has no tests in the modules {empty:?}", binary.display());
    }
    Ok(tests)
}

/// `binary` running exactly `tests`, as cargo runs it: from the package's directory.
fn system_tests(binary: &Path, tests: &[String]) -> Command {
    let mut command = Command::new(binary);
    command.arg("--exact").args(tests).current_dir(root().join("tests"));
    command
}

/// The full fault profile: 500 jobs through an SMTP outage of 60 s, a callback
/// endpoint down for the whole run, and two nodes on PostgreSQL with one SIGKILLed mid-run.
/// The same tests run in `test` with the small profile; here they print their figures.
fn fault_run() -> Result<()> {
    setup()?;
    build_guest()?;
    build_web()?;
    let it = system_test_binary()?;
    let tests = tests_in_modules(&it, &["faults", "scale_out"])?;
    run(system_tests(&it, &tests).args(["--nocapture", "--test-threads", "1"]).env("SEALMAIL_FAULT_PROFILE", "full"))
}

fn bench(extra: &[String]) -> Result<()> {
    if extra.first().map(String::as_str) == Some("load") {
        return bench_load(&extra[1..]);
    }
    setup()?;
    build_guest()?;
    run(cargo().args(["run", "--release", "--package", "sealmail-tests", "--bin", "seal-bench", "--"]).args(extra))
}

/// `bench load`: the service under load (`tests/src/bin/load-bench/`) against the release
/// server binary, which `cargo run` of the benchmark alone would not build.
fn bench_load(extra: &[String]) -> Result<()> {
    setup()?;
    apt_install(LOAD_BENCH_APT_PACKAGES)?;
    build_guest()?;
    run(cargo().args(["build", "--release", "--package", "sealmail"]))?;
    run(cargo().args(["run", "--release", "--package", "sealmail-tests", "--bin", "load-bench", "--"]).args(extra))
}

/// `cargo xtask fuzz [seconds] [target…]`: `fuzz/run.sh`, which installs cargo-fuzz if
/// needed and runs each libFuzzer target on nightly (docs/fuzzing.md).
fn fuzz(args: &[String]) -> Result<()> {
    run(Command::new("bash").arg("fuzz/run.sh").args(args))
}
