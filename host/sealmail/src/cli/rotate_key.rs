//! `sealmail rotate-key`: re-seals every stored blob under the current `storage_key`, so
//! that the keys in `previous_storage_keys` can be removed afterwards (docs/service.md,
//! "Storage key and rotation").

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use sealmail_store::at_rest::AtRestKey;
use sealmail_store::open::Database;
use sealmail_store::postgres::PostgresStore;
use sealmail_store::rotation::{self, Reseal};
use sealmail_store::sqlite::SqliteStore;

use super::serve::ConfigArgs;

/// `sealmail rotate-key`.
#[derive(Args)]
pub struct RotateKeyArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs the rotation and prints its progress.
pub async fn run(args: RotateKeyArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let database = config.database()?;
    let (key, _) = match (&database, config.storage_key.as_deref()) {
        (Database::Sqlite(_), configured) => {
            let file = config.data_dir.join("storage.key");
            anyhow::ensure!(
                configured.is_some() || file.exists(),
                "no storage key: set storage_key (the new key) and previous_storage_keys (the old ones)"
            );
            AtRestKey::load(configured, &file)?
        }
        (Database::Postgres(_), Some(configured)) => {
            AtRestKey::load(Some(configured), &config.data_dir.join("storage.key"))?
        }
        (Database::Postgres(_), None) => anyhow::bail!("set storage_key (the new key) in the configuration"),
    };
    let key = key.with_previous(&config.previous_storage_keys)?;
    let store: Box<dyn Reseal> = match &database {
        Database::Sqlite(path) => {
            Box::new(SqliteStore::open(path, key.clone()).with_context(|| format!("cannot open {}", path.display()))?)
        }
        Database::Postgres(url) => Box::new(
            PostgresStore::open(url, key.clone(), 1)
                .await
                .with_context(|| format!("cannot open the PostgreSQL database {}", database.describe()))?,
        ),
    };
    println!("re-sealing every stored blob under storage_key ({})", database.describe());
    let mut last = None;
    let total = rotation::rotate(store.as_ref(), &key, |column, totals| {
        let name = format!("{}.{}", column.table, column.column);
        if last.as_deref() != Some(name.as_str()) {
            println!("{name}");
            last = Some(name);
        }
        println!("  {} blobs read, {} re-sealed", totals.examined, totals.resealed);
    })
    .await
    .context("the rotation stopped (run it again once the cause is fixed; nothing is lost)")?;
    println!("done: {} blobs read, {} re-sealed", total.examined, total.resealed);
    if key.has_previous() {
        println!("every blob is now sealed under storage_key: previous_storage_keys can be removed");
    }
    Ok(ExitCode::SUCCESS)
}
