//! The HTTP API on a real socket: the server runs in the test's process
//! ([`llmlab_test_support::TestApp`]) on a fresh database, and every test
//! runs on SQLite and on PostgreSQL. Tests that need the `llmlab serve`
//! process itself (its log, signals, replicas, crashes) live in the CLI
//! crate's integration tests.

mod accounts;
mod costs;
mod events;
mod hardening_api;
mod hardening_edge;
mod hardening_money;
mod isolation;
mod openapi;

/// Defines `on_sqlite` and `on_postgres` tests running `$body` with a fresh server.
macro_rules! server_test {
    ($name:ident, |$server:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let Some($server) = llmlab_test_support::TestApp::start(llmlab_test_support::TestBackend::Sqlite).await
                else {
                    return;
                };
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let Some($server) =
                    llmlab_test_support::TestApp::start(llmlab_test_support::TestBackend::Postgres).await
                else {
                    return;
                };
                $body.await;
            }
        }
    };
}
pub(crate) use server_test;
