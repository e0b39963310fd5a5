//! Command-line arguments and dispatch. Each subcommand has its own module.

mod bounce;
mod password;
mod rotate_key;
mod seal;
mod serve;
mod strength;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sealmail_sandbox::{RuntimeConfig, Sandbox};

/// sealmail: secure transactional e-mail. Serves a Retarus-compatible REST API, validates
/// JobRequests, generates passwords and seals files into AES-256 ZIP archives, with every
/// decision made inside a WebAssembly sandbox.
#[derive(Parser)]
#[command(version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(subcommand)]
    command: Command,
}

/// Limits of the WebAssembly sandbox.
#[derive(Args)]
struct SandboxArgs {
    /// Memory limit of the component, in MiB.
    #[arg(long, global = true, default_value_t = 256, value_name = "MIB")]
    max_memory_mib: usize,
    /// Time limit of one call into the component, in seconds.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECONDS")]
    max_call_seconds: f64,
    /// Directory for the compiled-component cache (default: $XDG_CACHE_HOME/sealmail or ~/.cache/sealmail).
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Compile the component at every start instead of caching it.
    #[arg(long, global = true)]
    no_cache: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Seal files into one AES-256 (WinZip AE-2) encrypted ZIP and print its password.
    Seal(seal::SealArgs),
    /// Check a JobRequest file against every rule; exit 1 if it would be refused.
    Validate(validate::ValidateArgs),
    /// Print a freshly generated password.
    Password(password::PasswordArgs),
    /// Run the REST server, the workers and the delivery queue.
    Serve(serve::ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Account(serve::AccountCommand),
    /// Record a DSN read from stdin (for MTAs that deliver bounces to a program, e.g. Postfix `pipe`).
    Bounce(bounce::BounceArgs),
    /// Re-seal every stored blob under `storage_key`, so `previous_storage_keys` can be removed.
    RotateKey(rotate_key::RotateKeyArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The server takes its sandbox limits from its configuration file.
    let command = match cli.command {
        Command::Serve(args) => return serve::serve(args).await,
        Command::Account(command) => return serve::account(command).await,
        Command::Bounce(args) => return bounce::run(args).await,
        Command::RotateKey(args) => return rotate_key::run(args).await,
        other => other,
    };
    let s = &cli.sandbox;
    anyhow::ensure!(
        s.max_call_seconds > 0.0 && s.max_call_seconds.is_finite(),
        "--max-call-seconds must be a positive number"
    );
    anyhow::ensure!(s.max_memory_mib >= 16, "--max-memory-mib must be at least 16");
    let config = RuntimeConfig {
        max_memory_bytes: s.max_memory_mib.saturating_mul(1 << 20),
        max_call_time: Duration::from_secs_f64(s.max_call_seconds),
        cache_dir: if s.no_cache {
            None
        } else {
            s.cache_dir.clone().or_else(sealmail_sandbox::component_cache::default_dir)
        },
        ..RuntimeConfig::default()
    };
    let library = Sandbox::new(config)
        .and_then(|sandbox| sandbox.library())
        .map_err(|e| anyhow::anyhow!("cannot load the sealmail component: {e:#}"))?;
    match command {
        Command::Serve(_) | Command::Account(_) | Command::Bounce(_) | Command::RotateKey(_) => {
            unreachable!("dispatched above")
        }
        Command::Seal(args) => seal::run(&library, args).await,
        Command::Validate(args) => validate::run(&library, args).await,
        Command::Password(args) => password::run(&library, args).await,
    }
}
