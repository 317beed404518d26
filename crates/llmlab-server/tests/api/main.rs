//! The HTTP API on a real socket: the server runs in the test's process
//! ([`llmlab_test_support::TestApp`]) on a fresh database, and every test
//! runs on SQLite and on PostgreSQL. Tests that need the `llmlab serve`
//! process itself (its log, signals, replicas, crashes) live in the CLI
//! crate's integration tests.

mod accounts;
mod alerts;
mod budgets;
mod catalog;
mod costs;
mod events;
mod hardening_api;
mod hardening_edge;
mod hardening_money;
mod isolation;
mod openapi;
mod otlp;
mod proxy_batch;
mod public;
mod recorded;
mod reports;

/// Defines `on_sqlite` and `on_postgres` tests running `$body` with a fresh in-process server.
macro_rules! server_test {
    ($name:ident, |$server:ident| $body:expr) => {
        llmlab_test_support::server_test_with!(llmlab_test_support::TestApp::start, $name, |$server| $body);
    };
}
pub(crate) use server_test;
