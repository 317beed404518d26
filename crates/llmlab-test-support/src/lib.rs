//! Test helpers shared by the store and server test suites.
//!
//! Every test gets its own database: a SQLite file in a temporary folder, or
//! a PostgreSQL database `llmlab_test_<uuid>` created on the server named by
//! `LLMLAB_TEST_PG_URL` (default: `postgres://postgres@127.0.0.1:5432/postgres`)
//! and dropped when the test ends. A test never skips itself: when that
//! server cannot be used it fails with one line saying what failed and how
//! to fix it. Which tests run is decided before the run: `cargo dev test`
//! probes PostgreSQL and PgBouncer and leaves out (nextest: skips) the tests
//! named `on_postgres` / `on_pgbouncer` it cannot run, except under
//! `CI=true`, where an unusable server fails the run.
//!
//! A server for a test: [`TestApp`] runs it in the test's process (the HTTP
//! API tests); [`TestServer`] runs the `llmlab` binary (tests about the
//! process: its log, signals, restarts, replicas). [`Api`] talks to either.
//! [`report_stub::ReportStub`] stands in for OpenAI's and Anthropic's admin report APIs.
#![allow(clippy::print_stderr)] // a test database left behind is worth a warning

mod app;
mod client;
pub mod report_stub;
mod server;

use std::path::{Path, PathBuf};

pub use app::TestApp;
pub use client::{Api, Reachable, Reply};
pub use server::TestServer;

use std::time::Duration;

use llmlab_pg_probe::Service;
use sqlx::Connection;

/// The backend a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
    /// PostgreSQL through PgBouncer in transaction mode (`LLMLAB_TEST_PGBOUNCER_URL`),
    /// as behind Supabase's transaction pooler.
    PgBouncer,
}

/// A database that exists for one test.
pub struct TestDb {
    url: String,
    backend: TestBackend,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite database file.
    #[must_use]
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path: PathBuf = dir.path().join("llmlab.db");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            backend: TestBackend::Sqlite,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database on the server of `LLMLAB_TEST_PG_URL`
    /// (or its default).
    ///
    /// # Panics
    /// With one line naming what failed, when that server cannot be used.
    pub async fn postgres() -> TestDb {
        let admin_url = postgres_admin_url();
        let name = format!("llmlab_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = admin_connection(Service::Postgres, &admin_url).await;
        // Simple-protocol statements: they also work through a transaction-mode pooler.
        sqlx::raw_sql(&format!("create database {name}")).execute(&mut admin).await.expect("create the test database");
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        TestDb { url, backend: TestBackend::Postgres, _dir: None, postgres: Some((admin_url, name)) }
    }

    /// A fresh PostgreSQL database reached through the transaction-mode
    /// PgBouncer of `LLMLAB_TEST_PGBOUNCER_URL` (or its default).
    ///
    /// # Panics
    /// With one line naming what failed, when PostgreSQL or PgBouncer cannot be used.
    pub async fn pgbouncer() -> TestDb {
        let bouncer = Service::PgBouncer.url();
        let mut db = TestDb::postgres().await;
        let name = db.postgres.as_ref().map(|(_, name)| name.clone()).expect("a PostgreSQL test database");
        db.url = with_database(&bouncer, &name);
        db.backend = TestBackend::PgBouncer;
        // Fail here, in one line, rather than as a server that cannot start.
        let _ = admin_connection(Service::PgBouncer, &db.url).await.close().await;
        db
    }

    /// A fresh database of the given backend.
    pub async fn new(backend: TestBackend) -> TestDb {
        match backend {
            TestBackend::Sqlite => TestDb::sqlite(),
            TestBackend::Postgres => TestDb::postgres().await,
            TestBackend::PgBouncer => TestDb::pgbouncer().await,
        }
    }

    /// Another handle on the same database that does not drop it: for a
    /// second server on it. The original must outlive it.
    #[must_use]
    pub fn shared(&self) -> TestDb {
        TestDb { url: self.url.clone(), backend: self.backend, _dir: None, postgres: None }
    }

    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    #[must_use]
    pub fn backend(&self) -> TestBackend {
        self.backend
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else { return };
        // Drop may run inside a runtime; a dedicated thread with its own runtime avoids nesting.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let mut admin =
                    sqlx::PgConnection::connect(llmlab_pg_probe::without_pooler_flag(&admin_url).as_str()).await?;
                sqlx::raw_sql(&format!("drop database if exists {name} with (force)")).execute(&mut admin).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop a test database");
        }
    }
}

/// The repository's shared `fixtures/` folder (recorded provider bodies).
#[must_use]
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The PostgreSQL server for tests: `LLMLAB_TEST_PG_URL`, else
/// `postgres://postgres@127.0.0.1:5432/postgres`.
#[must_use]
pub fn postgres_admin_url() -> String {
    Service::Postgres.url()
}

/// A connection to `service` at `url`.
///
/// # Panics
/// With the probe's one line (what failed, how to fix it) when there is none.
async fn admin_connection(service: Service, url: &str) -> sqlx::PgConnection {
    match llmlab_pg_probe::connect(service, url, Duration::from_secs(10)).await {
        Ok(connection) => connection,
        Err(unusable) => {
            panic!("{unusable} (`cargo dev test` checks this before the run and skips these tests outside CI)")
        }
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
    match query {
        Some(q) => format!("{prefix}/{database}?{q}"),
        None => format!("{prefix}/{database}"),
    }
}

/// Defines `on_sqlite` and `on_postgres` tests, each running `$body` with a
/// fresh server from `$start(backend)` (`TestApp::start` in process, or a
/// crate's own start of the `llmlab serve` binary) bound to `$server`.
/// `cargo dev test` leaves out the `on_postgres` ones when PostgreSQL cannot be used.
#[macro_export]
macro_rules! server_test_with {
    ($start:path, $name:ident, |$server:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                #[allow(unused_mut)]
                let mut $server = $start($crate::TestBackend::Sqlite).await;
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                #[allow(unused_mut)]
                let mut $server = $start($crate::TestBackend::Postgres).await;
                $body.await;
            }
        }
    };
}

/// Defines one `#[tokio::test]` per backend running the same async body with
/// a fresh `TestDb`: `both_backends!(name, |db| async move { … });`
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$db:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let $db = $crate::TestDb::sqlite();
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let $db = $crate::TestDb::postgres().await;
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_pgbouncer() {
                let $db = $crate::TestDb::pgbouncer().await;
                $body.await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(
            with_database("postgres://u@h/postgres?statement-cache-capacity=0", "t1"),
            "postgres://u@h/t1?statement-cache-capacity=0"
        );
    }
}
