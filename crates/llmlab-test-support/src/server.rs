//! A real `llmlab serve` process on a free port, for end-to-end tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::client::Reachable;
use crate::{TestBackend, TestDb};

/// A running server; killed when dropped.
pub struct TestServer {
    binary: PathBuf,
    child: Option<Child>,
    /// Copies the process's stderr into `log`; ends when the process does.
    log_copier: Option<std::thread::JoinHandle<()>>,
    pub base_url: String,
    db: TestDb,
    /// The URL the server connects with: the database's own, or one that reaches it another way.
    database_url: String,
    /// Environment variables set for the process (and its replicas).
    env: Vec<(String, String)>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts `binary serve` on a fresh database of `backend`.
    pub async fn start(binary: &Path, backend: TestBackend) -> TestServer {
        Self::start_reaching_database(binary, backend, str::to_owned).await
    }

    /// [`TestServer::start`] with these environment variables set (its
    /// settings: `LLMLAB_UPSTREAM_OPENAI`, `LLMLAB_BUDGET_HOLD_TTL`…); its
    /// replicas get them too.
    pub async fn start_with_env(binary: &Path, backend: TestBackend, env: &[(&str, &str)]) -> TestServer {
        let db = TestDb::new(backend).await;
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::launched(binary, db, None, env)
    }

    /// [`TestServer::start`], connecting to the database with the URL
    /// `reach` makes of its own (through a proxy that a test controls, say).
    pub async fn start_reaching_database(
        binary: &Path,
        backend: TestBackend,
        reach: impl FnOnce(&str) -> String,
    ) -> TestServer {
        let db = TestDb::new(backend).await;
        let database_url = reach(db.url());
        Self::launched(binary, db, Some(database_url), Vec::new())
    }

    fn launched(binary: &Path, db: TestDb, database_url: Option<String>, env: Vec<(String, String)>) -> TestServer {
        let log_dir = tempfile::tempdir().expect("a temporary folder");
        let mut server = TestServer {
            binary: binary.to_owned(),
            child: None,
            log_copier: None,
            base_url: String::new(),
            database_url: database_url.unwrap_or_else(|| db.url().to_owned()),
            db,
            env,
            log: log_dir.path().join("server.log"),
            _log_dir: log_dir,
        };
        server.launch(0);
        server
    }

    /// Another server process on the same database, as a second replica
    /// behind a load balancer would be; `self` must outlive it.
    #[must_use]
    pub fn replica(&self) -> TestServer {
        let log_dir = tempfile::tempdir().expect("a temporary folder");
        let mut replica = TestServer {
            binary: self.binary.clone(),
            child: None,
            log_copier: None,
            base_url: String::new(),
            db: self.db.shared(),
            database_url: self.database_url.clone(),
            env: self.env.clone(),
            log: log_dir.path().join("server.log"),
            _log_dir: log_dir,
        };
        replica.launch(0);
        replica
    }

    /// The database the server uses.
    #[must_use]
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// Everything the server logged so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts the process on `port` (0: any free port) and waits until it listens.
    fn launch(&mut self, port: u16) {
        let mut child = Command::new(&self.binary)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--database-url", &self.database_url])
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // LLMLAB_TEST_SERVER_LOG overrides the filter when a test or benchmark is being diagnosed.
            .env("LLMLAB_LOG", std::env::var("LLMLAB_TEST_SERVER_LOG").unwrap_or_else(|_| "info,sqlx=warn".to_owned()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("llmlab serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log_path = self.log.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let copier = std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).expect("log file");
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                use std::io::Write;
                let _ = writeln!(log, "{line}");
                if let Some(url) = line.split("running at ").nth(1).and_then(|rest| rest.split('/').nth(2))
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(format!("http://{url}"));
                }
            }
        });
        let url = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("llmlab serve did not start within 30 s; its log:\n{}", self.log()));
        self.base_url = url;
        self.child = Some(child);
        self.log_copier = Some(copier);
    }

    /// The port the server listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.base_url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the base URL")
    }

    /// Sends a Unix signal (`"KILL"`, `"TERM"`) and waits for the process to end.
    pub fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        assert!(send_signal(child.id(), signal), "could not send SIG{signal} to the server");
        let status = child.wait().expect("the server exits");
        // The process is gone; wait until its last lines are in the log too.
        if let Some(copier) = self.log_copier.take() {
            let _ = copier.join();
        }
        status
    }

    /// Starts the server again on the same database and port.
    pub fn restart(&mut self) {
        let port = self.port();
        self.launch(port);
    }
}

/// `kill(1)`: sends a signal without `unsafe` code in this crate.
fn send_signal(pid: u32, signal: &str) -> bool {
    Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().is_ok_and(|s| s.success())
}

impl Reachable for TestServer {
    fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
