//! LLMLab's storage: one [`Store`] over SQLite (WAL, the zero-setup default)
//! or PostgreSQL (production, several stateless servers), chosen once from the
//! database URL.
//!
//! The SQL is written once where it can be: both backends accept it (`$n`
//! placeholders, `on conflict … do update`, `returning`, `cast(… as bigint)`
//! for sums), and [`with_pool!`] instantiates each query for the pool in use.
//! Only the migrations and the bulk writes of a group commit (`bulk.rs`)
//! differ per backend. Every query takes the user's id: nothing here can read
//! across accounts. Money is integer nano-USD; times are Unix milliseconds.

mod accounts;
mod alerts;
mod budgets;
mod bulk;
mod catalogs;
mod events;
mod prices;
mod records;
mod reports;
mod rollups;
mod sessions;
mod settings;
mod spend;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

pub use accounts::DEFAULT_PROJECT;
pub use alerts::{
    AlertRow, ChannelRow, ClaimedDelivery, DeliveryOutcome, DeliveryRow, MAX_LOG_ALERTS, NewChannel, Raised,
};
pub use catalogs::{CatalogApplied, StoredCatalog};
pub use records::*;
pub use reports::{
    BilledModelDay, ConnectionRow, NewReportedCost, NewReportedUsage, ReportKind, ReportPage, ReportedModelDay,
    ReportedModelUsage, TrackedModelDay,
};
pub use settings::{Backend, ConnectError, ConnectProblem, DbSettings, redact};
pub use spend::SeriesStep;

/// Runs `$body` with `$pool` bound to the concrete executor of `$store`, so
/// one generic-looking body compiles once per backend. `$body` is a
/// `Result`. Behind a transaction-mode pooler every body runs in a
/// transaction of its own: that pins one server connection for the
/// statement's whole protocol exchange (sqlx describes, then binds, across
/// two syncs), which the pooler would otherwise split across connections.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
            $crate::Pool::PostgresPooled(pooled) => {
                let mut transaction = pooled.begin().await?;
                let result = {
                    let $pool = &mut *transaction;
                    $body
                };
                if result.is_ok() {
                    transaction.commit().await?;
                }
                result
            }
        }
    };
}
pub(crate) use with_pool;

/// The connection pool of the backend in use.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    /// PostgreSQL behind a transaction-mode pooler (unnamed statements, one
    /// transaction per query).
    PostgresPooled(PgPool),
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
    /// The first connection, made at start-up, failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A write would carry an account's totals past what a 64-bit integer
    /// holds (about 9.2 billion USD in nano-USD, or 9.2e18 tokens of a class).
    #[error("the account's all-time totals would pass the largest value LLMLab can store")]
    OutOfRange,
    #[error(transparent)]
    Database(sqlx::Error),
}

/// Every database error becomes a [`StoreError`] here, so the one that means
/// "a total passed the 64-bit range" is [`StoreError::OutOfRange`] wherever
/// it happens: PostgreSQL's `numeric_value_out_of_range` (22003), or
/// SQLite's `account_totals_in_range` check (SQLite turns an overflowing
/// integer sum into a float, which the check refuses).
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db)
                if db.code().as_deref() == Some("22003") || db.message().contains("account_totals_in_range") =>
            {
                StoreError::OutOfRange
            }
            _ => StoreError::Database(error),
        }
    }
}

impl From<rollups::CounterOverflow> for StoreError {
    fn from(_: rollups::CounterOverflow) -> Self {
        StoreError::OutOfRange
    }
}

impl StoreError {
    /// A deadlock or serialization failure: the database aborted the
    /// transaction because of a concurrent one, and running it again is safe.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                // SQLSTATE 40P01 deadlock_detected, 40001 serialization_failure.
                matches!(db.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        }
    }

    /// Whether the rows being written caused the failure (a value out of
    /// range, a constraint), so writing the same transaction without them
    /// may succeed; as opposed to the database being unreachable or broken.
    #[must_use]
    pub fn is_caused_by_rows(&self) -> bool {
        match self {
            StoreError::OutOfRange | StoreError::Database(sqlx::Error::Encode(_)) => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                use sqlx::error::ErrorKind;
                // SQLSTATE class 22 (data exception) and 23 (integrity constraint).
                db.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
                    || !matches!(db.kind(), ErrorKind::Other)
            }
            _ => false,
        }
    }

    /// Whether the database could not be reached at all (no connection in
    /// time, a refused or broken connection): a temporary outage.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed))
            || matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.code().is_some_and(|c| {
                // 57P01-03: admin shutdown, crash shutdown, cannot connect now; 08xxx: connection exceptions.
                c.starts_with("57P") || c.starts_with("08")
            }))
    }
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
    /// Use named (server-side cached) prepared statements. Off behind a
    /// transaction-mode pooler (PgBouncer, Supabase port 6543), where a named
    /// statement made on one server connection is missing, or already
    /// exists, on the next one; queries then use unnamed statements.
    persistent: bool,
    /// PostgreSQL's connections for hard-budget holds (`DbSettings::connect_holds`).
    holds_pool: Option<PgPool>,
    /// Told when an alert is written through this store (the delivery worker waits on it).
    alerts_raised: tokio::sync::Notify,
    /// (account, `provider/model`) whose "model without a price" alert exists:
    /// later events of theirs skip the insert that would find it.
    unpriced_alerted: Mutex<HashSet<(i64, String)>>,
}

impl Store {
    /// Connects and runs the pending migrations.
    pub async fn connect(settings: &DbSettings) -> StoreResult<Store> {
        let pool = settings.connect().await?;
        migrate(&pool).await?;
        Ok(Store {
            pool,
            backend: settings.backend(),
            project_ids: Mutex::new(HashMap::new()),
            persistent: settings.prepared_statements(),
            holds_pool: settings.connect_holds()?,
            alerts_raised: tokio::sync::Notify::new(),
            unpriced_alerted: Mutex::new(HashSet::new()),
        })
    }

    fn unpriced_alerted(&self, user_id: i64, model: &str) -> bool {
        let seen = self.unpriced_alerted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.contains(&(user_id, model.to_owned()))
    }

    fn remember_unpriced_alerted(&self, models: Vec<(i64, String)>) {
        if !models.is_empty() {
            self.unpriced_alerted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(models);
        }
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query("select 1").persistent(self.persistent).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) | Pool::PostgresPooled(pool) => pool.close().await,
        }
        if let Some(pool) = &self.holds_pool {
            pool.close().await;
        }
    }
}

/// Runs the pending migrations on one connection. `Migrator::run`'s
/// higher-ranked `Acquire` bound makes any future awaiting it non-`Send`
/// (rust-lang/rust#100013); sqlx's `run_direct` on an acquired connection is
/// its maintainers' way around that.
async fn migrate(pool: &Pool) -> StoreResult<()> {
    match pool {
        Pool::Sqlite(p) => {
            let mut connection = p.acquire().await?;
            sqlx::migrate!("./migrations/sqlite").run_direct(&mut *connection).await?;
        }
        Pool::Postgres(p) => {
            let mut connection = p.acquire().await?;
            sqlx::migrate!("./migrations/postgres").run_direct(&mut *connection).await?;
        }
        // Behind a transaction-mode pooler the migrator's queries need one
        // pinned server connection too, like every query here.
        Pool::PostgresPooled(p) => {
            let mut connection = p.acquire().await?;
            let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
            // The migrator prepares named statements (`sqlx_s_1`…), and the
            // server connection may hold another client's of the same name (a
            // second server migrating through the pooler): drop them first.
            // Nothing else here names statements behind a pooler.
            sqlx::query("deallocate all").persistent(false).execute(&mut *transaction).await?;
            sqlx::migrate!("./migrations/postgres").run_direct(&mut *transaction).await?;
            sqlx::query("deallocate all").persistent(false).execute(&mut *transaction).await?;
            transaction.commit().await?;
        }
    }
    Ok(())
}

/// Most rows in one multi-row statement: 28 parameters a row stays under
/// SQLite's 32,766-parameter limit (and PostgreSQL's 65,535).
pub(crate) const MAX_ROWS_PER_STATEMENT: usize = 512;

/// Splits `rows` into chunks whose sizes are powers of two (at most
/// [`MAX_ROWS_PER_STATEMENT`]). A multi-row statement's text depends on its
/// row count; with few distinct counts the driver's prepared-statement cache
/// always hits, instead of the database re-parsing nearly every insert.
pub(crate) fn statement_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = MAX_ROWS_PER_STATEMENT.min(1 << rows.len().ilog2());
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn on_unique(error: sqlx::Error, what: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::Database(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_chunks_are_powers_of_two_covering_every_row() {
        let rows: Vec<u32> = (0..1337).collect();
        let sizes: Vec<usize> = statement_chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [512, 512, 256, 32, 16, 8, 1]);
        assert_eq!(statement_chunks(&rows).flatten().count(), 1337);
        assert_eq!(statement_chunks::<u32>(&[]).count(), 0);
    }
}
