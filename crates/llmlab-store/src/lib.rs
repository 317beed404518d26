//! LLMLab's storage: one [`Store`] over SQLite (WAL, the zero-setup default)
//! or PostgreSQL (production, several stateless servers), chosen once from the
//! database URL.
//!
//! The SQL is written once: both backends accept it (`$n` placeholders,
//! `on conflict … do update`, `returning`, `cast(… as bigint)` for sums), and
//! [`with_pool!`] instantiates each query for the pool in use. Only the
//! migrations differ per backend. Every query takes the user's id: nothing
//! here can read across accounts. Money is integer nano-USD; times are Unix
//! milliseconds.

mod accounts;
mod budgets;
mod events;
mod prices;
mod records;
mod settings;
mod spend;

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

pub use accounts::DEFAULT_PROJECT;
pub use records::*;
pub use settings::{Backend, DbSettings, redact};

/// Runs `$body` with `$pool` bound to the concrete pool of `$store`, so one
/// generic-looking body compiles once per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The connection pool of the backend in use.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the database URL is invalid: {0}")]
    InvalidUrl(String),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage of one LLMLab server.
#[derive(Debug)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// (user, project name) → project id; projects are never deleted, so
    /// entries never go stale, and every event insert skips a lookup.
    project_ids: Mutex<HashMap<(i64, String), i64>>,
}

impl Store {
    /// Connects and runs the pending migrations.
    pub async fn connect(settings: &DbSettings) -> StoreResult<Store> {
        let pool = settings.connect().await?;
        match &pool {
            Pool::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Pool::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(Store { pool, backend: settings.backend(), project_ids: Mutex::new(HashMap::new()) })
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query("select 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn on_unique(error: sqlx::Error, what: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::Database(error),
    }
}
