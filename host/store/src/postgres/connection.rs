//! The PostgreSQL connection pool, the transaction wrapper that repeats a transaction
//! PostgreSQL aborted for a conflict, and the job-row lock every commit of a job takes.

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::schema;
use crate::StoreError;
use crate::at_rest::AtRestKey;

/// Tries of a transaction that PostgreSQL aborted for a conflict (deadlock, serialization).
pub(super) const CONFLICT_ATTEMPTS: u32 = 5;
/// Connections per process: the workers, the dispatchers and the API share them; a claim or
/// a commit holds one for a few round trips only.
const POOL_SIZE: usize = 16;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let conflict = matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED);
        let text = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => e.to_string(),
        };
        if conflict { Self::Conflict(text) } else { Self::Database(text) }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Database(format!("no database connection: {other}")),
        }
    }
}

/// Runs `$body` (a future using the transaction `$tx`) in a transaction and commits it; the
/// result is returned only once the commit is durable. The whole transaction is repeated
/// when PostgreSQL aborts it for a conflict, so `$body` must be safe to evaluate again.
macro_rules! in_transaction {
    ($store:expr, $tx:ident => $body:expr) => {{
        let mut attempt = 1;
        loop {
            let result = async {
                let mut client = $store.pool.get().await?;
                let $tx = client.transaction().await?;
                let value = $body.await?;
                $tx.commit().await?;
                Ok::<_, $crate::StoreError>(value)
            }
            .await;
            match result {
                Err($crate::StoreError::Conflict(why)) if attempt < $crate::postgres::connection::CONFLICT_ATTEMPTS => {
                    tracing::debug!(%why, attempt, "transaction conflict; repeating it");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(super) use in_transaction;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pub(super) pool: Pool,
    pub(super) key: AtRestKey,
    pub(super) events_per_post: usize,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("events_per_post", &self.events_per_post).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`, or libpq's `key=value`
    /// form), runs pending migrations and checks that the database was set up with `key`
    /// (recording it on first start). `max_events_per_post` bounds one callback `POST`.
    pub async fn open(url: &str, key: AtRestKey, max_events_per_post: usize) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        config.application_name("sealmail");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(format!("cannot create the connection pool: {e}")))?;
        let mut client = pool.get().await?;
        schema::migrate(&mut client).await?;
        schema::check_key(&client, &key).await?;
        drop(client);
        Ok(Self { pool, key, events_per_post: max_events_per_post.max(1) })
    }
}

/// Locks the job's row until the transaction ends: one job's commits, on any node, run one
/// after the other (see the module documentation).
pub(super) async fn lock_job(tx: &impl GenericClient, job_id: &str) -> Result<(), StoreError> {
    tx.query_opt("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", &[&job_id]).await?;
    Ok(())
}
