//! `sealmail serve` and `sealmail account add`: the server and its account directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sealmail_api::accounts::{self, Accounts};
use sealmail_store::StoreError;

use crate::config::{Config, LogFormat};

/// Where the configuration comes from.
#[derive(Args)]
pub struct ConfigArgs {
    /// TOML configuration file (default: local defaults; `SEALMAIL_*` variables override).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArgs {
    pub(super) fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref(), std::env::vars())?)
    }
}

/// `sealmail serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// `sealmail account …`.
#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account and print its generated secret (shown once; only a keyed hash is stored).
    Add {
        /// The account name (HTTP Basic user name): letters, digits, `-_.@`.
        name: String,
        /// Retarus' customer number, echoed in callbacks.
        #[arg(long)]
        customer_no: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print a fresh Standard Webhooks secret for an account's `webhook_secrets`.
    WebhookSecret,
}

/// Runs the server.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    init_logging(config.log_format);
    crate::node::serve(config).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs an account command.
pub async fn account(command: AccountCommand) -> anyhow::Result<ExitCode> {
    match command {
        AccountCommand::Add { name, customer_no, config } => {
            anyhow::ensure!(
                accounts::valid_name(&name),
                "account name {name:?}: use 1 to 64 letters, digits and `-_.@` (no `:`)"
            );
            let config = config.load()?;
            let crate::node::Opened { store, key, .. } = crate::node::open_store(&config).await?;
            if config.accounts.iter().any(|a| a.name == name) {
                anyhow::bail!("account {name:?} is defined in the configuration file already");
            }
            let directory = Accounts::new(key.derive(accounts::KEY_PURPOSE), &[], store.clone());
            let secret = accounts::generate_secret();
            match store.add_account(&name, directory.hash(&secret), customer_no).await {
                Ok(()) => {}
                Err(StoreError::AccountExists(_)) => anyhow::bail!("account {name:?} exists already"),
                Err(e) => return Err(e.into()),
            }
            println!("account:  {name}");
            println!("secret:   {secret}");
            println!("(shown once: store it now; sealmail keeps only a keyed hash)");
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::WebhookSecret => {
            let secret = sealmail_callbacks::signature::Secret::generate()
                .map_err(|e| anyhow::anyhow!("the OS random number generator failed: {e}"))?;
            println!("{secret}");
            eprintln!(
                "add it to the account's webhook_secrets in the configuration file and give it to the \
                 receiver; during a rotation list the old and the new secret (both sign)"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Logs to stderr as `format` says; `SEALMAIL_LOG` (e.g. `debug`, `sealmail=trace`) sets the
/// filter. A job's processing runs in a `job` span, so its lines carry `job_id` either way.
pub(super) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALMAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
