//! The server in the test's own process, on a free port: for the HTTP API
//! tests, which need a real socket but not the `llmlab` binary.

use std::net::SocketAddr;
use std::time::Duration;

use llmlab_server::{ServeError, ServeOptions, ServerSettings};
use llmlab_store::DbSettings;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::Reachable;
use crate::{TestBackend, TestDb};

/// A running in-process server on a fresh database; stopped (abruptly) when
/// dropped, or gracefully by [`TestApp::stop`].
pub struct TestApp {
    pub base_url: String,
    /// Fields drop in order: the server goes before its database.
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    db: TestDb,
}

impl TestApp {
    /// Serves on a fresh database of `backend` with the default settings.
    pub async fn start(backend: TestBackend) -> TestApp {
        TestApp::start_with(backend, ServerSettings::default()).await
    }

    /// [`TestApp::start`] with the given settings.
    pub async fn start_with(backend: TestBackend, settings: ServerSettings) -> TestApp {
        init_log();
        let db = TestDb::new(backend).await;
        let options = ServeOptions {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: DbSettings::from_url(db.url()).expect("the test database's URL is valid"),
            settings,
            show_admin_token: None,
            server_key: None,
        };
        let (ready, bound) = oneshot::channel::<SocketAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let on_ready = move |address| {
            let _ = ready.send(address);
        };
        // A dropped sender (the app dropped without `stop`) also shuts down.
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(llmlab_server::serve(options, on_ready, shutdown));
        let address = match tokio::time::timeout(Duration::from_secs(30), bound).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) => panic!("the server did not start: {:?}", task.await),
            Err(elapsed) => panic!("the server did not start within 30 s: {elapsed}"),
        };
        TestApp { base_url: format!("http://{address}"), stop: Some(stop), task: Some(task), db }
    }

    /// The database the server uses.
    #[must_use]
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// The port the server listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.base_url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the base URL")
    }

    /// Shuts down as `llmlab serve` does on SIGTERM (running requests finish,
    /// the event writer drains, the database closes) and waits for it.
    ///
    /// # Panics
    /// When the server ends with an error.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("the server is running");
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("the server stopped with an error: {error}"),
            Err(error) => panic!("the server task failed: {error}"),
        }
    }
}

impl Reachable for TestApp {
    fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Server logs go to the test's output only when `LLMLAB_TEST_SERVER_LOG`
/// (a `tracing` filter, as for [`crate::TestServer`]) is set; quiet otherwise.
fn init_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("LLMLAB_TEST_SERVER_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;
    use crate::Api;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_app_answers_on_its_port_then_stops_gracefully() {
        let app = TestApp::start(TestBackend::Sqlite).await;
        let health = Api::anonymous(&app).get("/health").await;
        assert_eq!(health.status, StatusCode::OK, "{}", health.text);
        assert_eq!(app.port().to_string(), app.base_url.rsplit(':').next().unwrap());
        let base = app.base_url.clone();

        app.stop().await;

        assert!(reqwest::get(format!("{base}/health")).await.is_err(), "nothing listens after stop");
    }
}
