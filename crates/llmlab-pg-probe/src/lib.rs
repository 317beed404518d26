//! Can the tests use their PostgreSQL (or PgBouncer)? A real connection and
//! `select 1`, not a port check, and when it cannot, one line saying what
//! failed (refused, unknown host, authentication, missing database, timeout)
//! and how to fix it.
//!
//! `cargo dev test` probes before it runs anything and leaves out the tests
//! it cannot run; `llmlab-test-support` connects through [`connect`] so that a
//! test run without `cargo dev` fails with the same line. Neither ever
//! prints a URL: it may hold a password.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// A server the tests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// PostgreSQL itself: `LLMLAB_TEST_PG_URL`.
    Postgres,
    /// PgBouncer in transaction mode in front of it: `LLMLAB_TEST_PGBOUNCER_URL`.
    PgBouncer,
}

impl Service {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::PgBouncer => "PgBouncer",
        }
    }

    /// The environment variable naming its URL.
    #[must_use]
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Postgres => "LLMLAB_TEST_PG_URL",
            Service::PgBouncer => "LLMLAB_TEST_PGBOUNCER_URL",
        }
    }

    /// The URL used when the variable is not set: the local server as
    /// `.ci/run` starts it (trust auth).
    #[must_use]
    pub fn default_url(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
            Service::PgBouncer => "postgres://postgres@127.0.0.1:6432/postgres?pgbouncer=true",
        }
    }

    /// The URL the tests use: the variable's value, else [`Service::default_url`].
    #[must_use]
    pub fn url(self) -> String {
        std::env::var(self.env_var())
            .ok()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| self.default_url().to_owned())
    }

    /// The shape of a URL to put in the variable (the fix of most failures).
    fn example(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://USER:PASSWORD@HOST:PORT/DB",
            Service::PgBouncer => "postgres://USER:PASSWORD@HOST:PORT/DB?pgbouncer=true",
        }
    }
}

/// Why a server cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The URL does not parse (the parser's reason).
    InvalidUrl(String),
    /// The host name does not resolve.
    UnknownHost,
    /// Nothing listens on the port.
    Refused,
    /// No answer within this time.
    Timeout(Duration),
    /// Wrong or missing password (SQLSTATE 28P01; the server's message).
    Authentication(String),
    /// The server does not let the user in: no such role, no `pg_hba.conf`
    /// entry (SQLSTATE 28000; the server's message).
    NotAllowed(String),
    /// The database in the URL does not exist (SQLSTATE 3D000).
    NoDatabase,
    /// Anything else (the client's message).
    Other(String),
}

/// Where a URL points, without its password.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Place {
    host: String,
    port: u16,
    user: String,
    database: String,
    password_given: bool,
}

/// A server the tests cannot use; its `Display` is the one line for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Unusable {
    service: Service,
    place: Option<Place>,
    failure: Failure,
}

impl Unusable {
    #[must_use]
    pub fn failure(&self) -> &Failure {
        &self.failure
    }

    #[must_use]
    pub fn service(&self) -> Service {
        self.service
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.service.name();
        let var = self.service.env_var();
        let example = self.service.example();
        let Some(place) = &self.place else {
            let why = match &self.failure {
                Failure::InvalidUrl(why) | Failure::Other(why) => why.as_str(),
                _ => "it does not parse",
            };
            return write!(f, "{var} is not a PostgreSQL URL ({why}): set {var}={example}");
        };
        let Place { host, port, user, database, password_given } = place;
        let at = format!("{name} at {host}:{port}");
        match &self.failure {
            Failure::InvalidUrl(why) => write!(f, "{var} is not a PostgreSQL URL ({why}): set {var}={example}"),
            Failure::UnknownHost => {
                write!(
                    f,
                    "{name} host `{host}` is unknown (the name does not resolve): set {var}={example} with a host that exists"
                )
            }
            Failure::Refused => {
                write!(f, "{at} refused the connection (nothing listens there): start {name}, or set {var}={example}")
            }
            Failure::Timeout(limit) => write!(
                f,
                "{at} did not answer within {} s: check that it runs and the host and port are right, or set {var}={example}",
                limit.as_secs_f64()
            ),
            Failure::Authentication(why) if !password_given => write!(
                f,
                "{at} refused the passwordless user `{user}` ({why}): set {var}={example}, or run `cargo dev test` with {name}'s trust auth for `{user}`"
            ),
            Failure::Authentication(why) => {
                write!(
                    f,
                    "{at} refused user `{user}` with the password given ({why}): fix the user or password in {var}"
                )
            }
            Failure::NotAllowed(why) => {
                write!(f, "{at} does not let user `{user}` in ({why}): set {var}={example} with a user it accepts")
            }
            Failure::NoDatabase => write!(
                f,
                "{at} has no database `{database}`: create it (`createdb -h {host} -p {port} -U {user} {database}`) or set {var}={example} with one that exists"
            ),
            Failure::Other(why) => {
                write!(f, "{at} cannot be used as user `{user}` ({why}): check that it runs, or set {var}={example}")
            }
        }
    }
}

/// `url` without our `pgbouncer=true` flag, which the PostgreSQL client does not know.
#[must_use]
pub fn without_pooler_flag(url: &str) -> String {
    url.replace("&pgbouncer=true", "").replace("?pgbouncer=true&", "?").replace("?pgbouncer=true", "")
}

/// Whether the URL carries a password (`user:password@`), read without keeping it.
fn password_in_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// What a client error means for the user.
#[must_use]
pub fn classify(error: &sqlx::Error) -> Failure {
    match error {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => Failure::Refused,
            std::io::ErrorKind::TimedOut => Failure::Timeout(Duration::ZERO),
            _ => Failure::Other(io.to_string()),
        },
        sqlx::Error::Database(db) => {
            let message = db.message().to_owned();
            match db.code().as_deref() {
                Some("28P01") => Failure::Authentication(message),
                Some("28000") => Failure::NotAllowed(message),
                Some("3D000") => Failure::NoDatabase,
                // PgBouncer says so with a protocol-violation code.
                _ if message.contains("no such database") => Failure::NoDatabase,
                _ if message.contains("password authentication failed") => Failure::Authentication(message),
                _ => Failure::Other(message),
            }
        }
        sqlx::Error::Configuration(why) => Failure::InvalidUrl(why.to_string()),
        other => Failure::Other(other.to_string()),
    }
}

/// The client's options for `url` (`pgbouncer=true` allowed) and where it
/// points, or why it does not parse.
fn parse(service: Service, url: &str) -> Result<(PgConnectOptions, Place), Unusable> {
    let url = without_pooler_flag(url);
    let options = PgConnectOptions::from_str(&url).map_err(|error| Unusable {
        service,
        place: None,
        failure: Failure::InvalidUrl(error.to_string()),
    })?;
    let place = Place {
        host: options.get_host().to_owned(),
        port: options.get_port(),
        user: options.get_username().to_owned(),
        database: options.get_database().unwrap_or(options.get_username()).to_owned(),
        password_given: password_in_url(&url) || std::env::var_os("PGPASSWORD").is_some(),
    };
    Ok((options, place))
}

/// A connection to the server at `url` (`pgbouncer=true` allowed), or why
/// there is none; each step within `timeout`.
pub async fn connect(service: Service, url: &str, timeout: Duration) -> Result<PgConnection, Unusable> {
    let (options, place) = parse(service, url)?;
    connect_to(&options, timeout).await.map_err(|failure| Unusable { service, place: Some(place), failure })
}

async fn connect_to(options: &PgConnectOptions, timeout: Duration) -> Result<PgConnection, Failure> {
    // Resolve first: the client reports an unknown host as a generic I/O error.
    if options.get_socket().is_none() {
        match tokio::time::timeout(timeout, tokio::net::lookup_host((options.get_host(), options.get_port()))).await {
            Err(_) => return Err(Failure::Timeout(timeout)),
            Ok(Err(_)) => return Err(Failure::UnknownHost),
            Ok(Ok(_)) => {}
        }
    }
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Err(_) => Err(Failure::Timeout(timeout)),
        Ok(Err(error)) => Err(with_limit(classify(&error), timeout)),
        Ok(Ok(connection)) => Ok(connection),
    }
}

/// A client-side timeout reports no limit; say the one we set.
fn with_limit(failure: Failure, timeout: Duration) -> Failure {
    match failure {
        Failure::Timeout(_) => Failure::Timeout(timeout),
        other => other,
    }
}

/// Connects and runs `select 1` (the simple protocol, which a
/// transaction-mode pooler also passes); each step within `timeout`.
pub async fn probe(service: Service, url: &str, timeout: Duration) -> Result<(), Unusable> {
    let (options, place) = parse(service, url)?;
    let unusable = |failure| Unusable { service, place: Some(place.clone()), failure };
    let mut connection = connect_to(&options, timeout).await.map_err(unusable)?;
    let selected = tokio::time::timeout(timeout, sqlx::raw_sql("select 1").execute(&mut connection)).await;
    let _ = connection.close().await;
    match selected {
        Err(_) => Err(unusable(Failure::Timeout(timeout))),
        Ok(Err(error)) => Err(unusable(with_limit(classify(&error), timeout))),
        Ok(Ok(_)) => Ok(()),
    }
}

/// [`probe`] from synchronous code (its own small runtime).
pub fn probe_blocking(service: Service, url: &str, timeout: Duration) -> Result<(), Unusable> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| Unusable {
        service,
        place: None,
        failure: Failure::Other(format!("cannot start a runtime: {error}")),
    })?;
    runtime.block_on(probe(service, url, timeout))
}

#[cfg(test)]
mod tests;
