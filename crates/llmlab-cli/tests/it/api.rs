//! The macro that runs a test against a real `llmlab serve` process on
//! SQLite and on PostgreSQL, and the client it is driven with (shared with
//! the server crate's in-process API tests, in `llmlab-test-support`).

use llmlab_test_support::{TestBackend, TestServer};

pub(crate) use llmlab_test_support::Api;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_llmlab");

pub(crate) async fn start(backend: TestBackend) -> TestServer {
    TestServer::start(std::path::Path::new(BIN), backend).await
}

/// Defines `on_sqlite` and `on_postgres` tests running `$body` with a fresh `llmlab serve` process.
macro_rules! server_test {
    ($name:ident, |$server:ident| $body:expr) => {
        llmlab_test_support::server_test_with!(crate::api::start, $name, |$server| $body);
    };
}
pub(crate) use server_test;
