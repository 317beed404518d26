//! Which database to use, and how to connect to it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Pool, StoreError, StoreResult};

/// How long a query waits for a connection before failing (and the API
/// answering 503): short, so an outage is reported within a client's timeout.
pub(crate) const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The two supported databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database URL and pool size. `Debug` never shows a password.
#[derive(Clone)]
pub struct DbSettings {
    url: String,
    backend: Backend,
    /// Most connections the pool opens.
    pub max_connections: u32,
}

impl fmt::Debug for DbSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbSettings")
            .field("url", &redact(&self.url))
            .field("backend", &self.backend)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// The URL with any password replaced by `***`.
#[must_use]
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl DbSettings {
    /// False behind a transaction-mode pooler: the PostgreSQL URL says
    /// `statement-cache-capacity=0` (sqlx's own setting) or `pgbouncer=true`
    /// (the convention other tools use), and then no query uses a named
    /// prepared statement.
    #[must_use]
    pub fn prepared_statements(&self) -> bool {
        let Some((_, query)) = self.url.split_once('?') else { return true };
        !query.split('&').any(|pair| matches!(pair, "statement-cache-capacity=0" | "pgbouncer=true"))
    }

    /// The URL sqlx gets: without our own `pgbouncer` parameter, and with the
    /// statement cache off whenever prepared statements are.
    fn sqlx_url(&self) -> String {
        let Some((base, query)) = self.url.split_once('?') else { return self.url.clone() };
        let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.starts_with("pgbouncer=")).collect();
        if !self.prepared_statements() && !pairs.iter().any(|p| p.starts_with("statement-cache-capacity=")) {
            pairs.push("statement-cache-capacity=0");
        }
        if pairs.is_empty() { base.to_owned() } else { format!("{base}?{}", pairs.join("&")) }
    }

    /// Parses `sqlite://PATH`, `sqlite::memory:`, `postgres://…` or `postgresql://…`.
    pub fn from_url(url: &str) -> StoreResult<DbSettings> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::InvalidUrl(format!(
                "`{}` is neither `sqlite://PATH` nor `postgres://…`",
                redact(url)
            )));
        };
        let max_connections = if backend == Backend::Sqlite { 8 } else { 16 };
        Ok(DbSettings { url: url.to_owned(), backend, max_connections })
    }

    /// A SQLite database file at `path`.
    #[must_use]
    pub fn sqlite_file(path: &std::path::Path) -> DbSettings {
        DbSettings { url: format!("sqlite://{}", path.display()), backend: Backend::Sqlite, max_connections: 8 }
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with the password hidden, for messages.
    #[must_use]
    pub fn display_url(&self) -> String {
        redact(&self.url)
    }

    /// The SQLite file path, if this is a file database.
    #[must_use]
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let path = self.url.strip_prefix("sqlite://").or_else(|| self.url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next().unwrap_or(path);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    pub(crate) async fn connect(&self) -> StoreResult<Pool> {
        match self.backend {
            Backend::Sqlite => {
                if let Some(parent) = self.sqlite_path().as_deref().and_then(std::path::Path::parent) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::InvalidUrl(format!("cannot create the folder `{}`: {e}", parent.display()))
                    })?;
                }
                let options = SqliteConnectOptions::from_str(&self.url)
                    .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
                    .create_if_missing(true)
                    // WAL: readers never block the writer. NORMAL sync: a commit
                    // survives a process crash (SIGKILL); only power loss can drop
                    // the last transactions.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    .max_connections(self.max_connections)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(Pool::Sqlite(pool))
            }
            Backend::Postgres => {
                // `?statement-cache-capacity=0` in the URL turns prepared-statement
                // caching off, as transaction-mode poolers (Supabase port 6543) need.
                let options = PgConnectOptions::from_str(&self.sqlx_url())
                    .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
                    .disable_statement_logging();
                first_connection(&options).await?;
                let pool = PgPoolOptions::new()
                    .max_connections(self.max_connections)
                    // While the database is down a request waits this long for a
                    // connection, then answers 503: well within a client's timeout
                    // (the SDK's is 5 s), and long enough for a busy pool.
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(if self.prepared_statements() { Pool::Postgres(pool) } else { Pool::PostgresPooled(pool) })
            }
        }
    }
}

impl DbSettings {
    /// PostgreSQL (direct, not behind a transaction-mode pooler): a few
    /// connections for hard-budget holds, with `synchronous_commit` off. A
    /// hold is visible to every replica as soon as it commits, flushed or
    /// not; only a crash of the database server could lose it, and a hold
    /// is transient anyway (its call's event or its expiry replaces it).
    /// Not waiting for the WAL flush takes the disk's fsync off every call.
    pub(crate) fn connect_holds(&self) -> StoreResult<Option<sqlx::postgres::PgPool>> {
        if self.backend != Backend::Postgres || !self.prepared_statements() {
            return Ok(None);
        }
        let options = PgConnectOptions::from_str(&self.sqlx_url())
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .options([("synchronous_commit", "off")])
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(HOLD_CONNECTIONS)
            .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Some(pool))
    }
}

/// Connections of the holds pool: a hold is one short statement.
const HOLD_CONNECTIONS: u32 = 4;

/// How long the first connection may take before start-up gives up.
const FIRST_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (and closes) one connection outside the pool. The pool retries a
/// failed connection until its acquire timeout and then reports only "pool
/// timed out"; one direct attempt gets the real reason at once (refused,
/// unknown host, login or database rejected), for a few milliseconds more
/// on a good start.
async fn first_connection(options: &PgConnectOptions) -> StoreResult<()> {
    let address = format!("{}:{}", options.get_host(), options.get_port());
    let attempt = tokio::time::timeout(FIRST_CONNECTION_TIMEOUT, options.connect()).await;
    let connection = match attempt {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return Err(StoreError::Connect(ConnectError::of(&error, &address))),
        Err(_) => {
            return Err(StoreError::Connect(ConnectError {
                problem: ConnectProblem::TimedOut,
                detail: format!("no answer from {address} within {} seconds", FIRST_CONNECTION_TIMEOUT.as_secs()),
            }));
        }
    };
    // A failed goodbye does not matter: the server works either way.
    let _ = sqlx::Connection::close(connection).await;
    Ok(())
}

/// What kept the server from connecting to its database at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectProblem {
    /// Nothing accepts connections at the host and port.
    Refused,
    /// The host name does not resolve.
    UnknownHost,
    /// Something answers at the host and port, but not PostgreSQL.
    NotPostgres,
    /// The database refused the user name or password.
    Authentication,
    /// The database named in the URL does not exist.
    NoDatabase,
    /// No answer in time (a firewall dropping packets, a host that is down).
    TimedOut,
    /// Anything else (TLS, a protocol error…).
    Other,
}

/// Why the first connection failed, in one sentence.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ConnectError {
    pub problem: ConnectProblem,
    pub detail: String,
}

impl ConnectError {
    fn of(error: &sqlx::Error, address: &str) -> ConnectError {
        let (problem, detail) = match error {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                (ConnectProblem::Refused, format!("connection refused: nothing accepts connections at {address}"))
            }
            // The resolver's failure has no kind of its own; its message says "lookup".
            sqlx::Error::Io(io) if io.to_string().contains("lookup") => {
                let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
                (ConnectProblem::UnknownHost, format!("unknown host `{host}` ({io})"))
            }
            // Something answered, but not in PostgreSQL's protocol (a web server on that port, say).
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => (
                ConnectProblem::NotPostgres,
                format!("something answers at {address}, but not as PostgreSQL does ({io})"),
            ),
            sqlx::Error::Protocol(detail) => (
                ConnectProblem::NotPostgres,
                format!("something answers at {address}, but not as PostgreSQL does ({detail})"),
            ),
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                (ConnectProblem::TimedOut, format!("no answer from {address} ({io})"))
            }
            sqlx::Error::Database(db) => {
                let problem = match db.code().as_deref() {
                    // 28000 invalid_authorization_specification (an unknown role), 28P01 invalid_password.
                    Some(code) if code.starts_with("28") => ConnectProblem::Authentication,
                    // 3D000 invalid_catalog_name: the database does not exist.
                    Some("3D000") => ConnectProblem::NoDatabase,
                    _ => ConnectProblem::Other,
                };
                (problem, format!("PostgreSQL at {address} said: {}", db.message()))
            }
            other => (ConnectProblem::Other, format!("cannot connect to {address}: {other}")),
        };
        ConnectError { problem, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example.com:5432/llmlab"),
            "postgres://app:***@db.example.com:5432/llmlab"
        );
        let settings = DbSettings::from_url("postgres://app:s3cret@db/x").unwrap();
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn a_pooler_url_turns_prepared_statements_off() {
        let direct = DbSettings::from_url("postgres://u@db:5432/x").unwrap();
        assert!(direct.prepared_statements());
        let pooled = DbSettings::from_url("postgres://u@pooler:6543/x?sslmode=require&pgbouncer=true").unwrap();
        assert!(!pooled.prepared_statements());
        assert_eq!(pooled.sqlx_url(), "postgres://u@pooler:6543/x?sslmode=require&statement-cache-capacity=0");
        assert!(!DbSettings::from_url("postgres://u@p/x?statement-cache-capacity=0").unwrap().prepared_statements());
    }

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(DbSettings::from_url("sqlite:///tmp/x.db").unwrap().backend(), Backend::Sqlite);
        assert_eq!(DbSettings::from_url("postgresql://h/db").unwrap().backend(), Backend::Postgres);
        assert!(DbSettings::from_url("mysql://h/db").is_err());
        assert_eq!(
            DbSettings::from_url("sqlite:///tmp/a/b.db?mode=rwc").unwrap().sqlite_path(),
            Some(PathBuf::from("/tmp/a/b.db"))
        );
    }
}
