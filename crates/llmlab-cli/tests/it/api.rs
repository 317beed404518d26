//! The macro that runs a test against a real `llmlab serve` process on
//! SQLite and on PostgreSQL, and the client it is driven with (shared with
//! the server crate's in-process API tests, in `llmlab-test-support`).

use llmlab_test_support::{TestBackend, TestServer};

pub(crate) use llmlab_test_support::Api;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_llmlab");

pub(crate) async fn start(backend: TestBackend) -> Option<TestServer> {
    TestServer::start(std::path::Path::new(BIN), backend).await
}

/// Defines `on_sqlite`, `on_postgres` and `on_pgbouncer` tests running `$body` with a fresh server.
macro_rules! server_test {
    ($name:ident, |$server:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                #[allow(unused_mut)]
                let Some(mut $server) = crate::api::start(llmlab_test_support::TestBackend::Sqlite).await else {
                    return;
                };
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                #[allow(unused_mut)]
                let Some(mut $server) = crate::api::start(llmlab_test_support::TestBackend::Postgres).await else {
                    return;
                };
                $body.await;
            }
        }
    };
}
pub(crate) use server_test;
