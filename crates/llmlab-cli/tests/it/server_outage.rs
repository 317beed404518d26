//! A database outage: the API answers 503 with `Retry-After` (not 500 after
//! a long wait), `/health` says the database is down, and everything works
//! again once it is back (issue 11). PostgreSQL only: the server reaches it
//! through a TCP relay the test cuts and restores.

use std::net::SocketAddr;

use llmlab_test_support::{TestBackend, TestServer};
use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::api::{Api, BIN};

/// A TCP relay to PostgreSQL that can be cut (every connection closed, new
/// ones refused) and restored on the same port.
struct Relay {
    address: SocketAddr,
    upstream: String,
    connections: Option<JoinSet<()>>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("an address");
        let mut relay = Relay { address, upstream, connections: None };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: TcpListener) {
        let mut tasks = JoinSet::new();
        let upstream = self.upstream.clone();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.connections = Some(tasks);
    }

    /// Closes the listener and every relayed connection: the database is unreachable.
    async fn cut(&mut self) {
        if let Some(mut tasks) = self.connections.take() {
            tasks.shutdown().await;
        }
    }

    /// Listens on the same port again.
    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.address).await.expect("the relay's port is free again");
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_with_retry_after_and_recovers_on_postgres() {
    let admin_url = llmlab_test_support::postgres_admin_url();
    let upstream = reqwest::Url::parse(&admin_url).expect("LLMLAB_TEST_PG_URL is a URL");
    let upstream = format!("{}:{}", upstream.host_str().unwrap_or("127.0.0.1"), upstream.port().unwrap_or(5432));
    let mut relay = Relay::start(upstream).await;
    let relay_port = relay.address.port();
    let reach = move |url: &str| {
        let mut url = reqwest::Url::parse(url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(relay_port)).expect("a port");
        url.to_string()
    };
    let server = TestServer::start_reaching_database(std::path::Path::new(BIN), TestBackend::Postgres, reach).await;
    let api = Api::signup(&server, "alice").await;
    let event = || json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 1 });
    assert_eq!(api.post("/api/events/track", event()).await.status, StatusCode::CREATED);

    relay.cut().await;
    let health = api.get("/health").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{}", health.text);
    assert_eq!(health.code(), "database_unavailable", "{}", health.text);
    assert!(health.message().contains("database") && health.message().contains("down"), "{}", health.text);
    assert!(health.headers.contains_key("retry-after"), "{:?}", health.headers);
    for path in ["/api/events/track", "/api/costs/summary"] {
        let reply = if path.contains("track") { api.post(path, event()).await } else { api.get(path).await };
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {}", reply.text);
        assert_eq!(reply.code(), "database_unavailable", "{path}: {}", reply.text);
        assert_eq!(reply.headers.get("retry-after").map(|v| v.to_str().unwrap_or_default()), Some("5"));
    }

    relay.restore().await;
    let health = api.get("/health").await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(api.post("/api/events/track", event()).await.status, StatusCode::CREATED);
    let summary = api.get("/api/costs/summary").await;
    assert_eq!(summary.body["all_time_calls"], 2, "no event lost or doubled: {}", summary.text);
    assert!(!server.log().contains("internal_error"), "an outage is not a 500:\n{}", server.log());
}
