//! A small client for the server tests, and the macro that runs a test
//! against a real `llmlab serve` on SQLite and on PostgreSQL.

use llmlab_test_support::{TestBackend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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

/// A client of one server, optionally signed in.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) key: Option<String>,
}

/// A response: status and JSON body (or `Value::Null`), plus the raw text.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) text: String,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The error code of an error reply.
    pub(crate) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub(crate) fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub(crate) fn anonymous(server: &TestServer) -> Api {
        Api { client: reqwest::Client::new(), base: server.base_url.clone(), key: None }
    }

    /// Signs up a new account and returns a client using its key.
    pub(crate) async fn signup(server: &TestServer, name: &str) -> Api {
        let anonymous = Api::anonymous(server);
        let reply = anonymous.post("/api/auth/signup", json!({ "name": name })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let key = reply.body["api_key"].as_str().expect("a key").to_owned();
        Api { key: Some(key), ..anonymous }
    }

    pub(crate) fn with_key(&self, key: &str) -> Api {
        Api { key: Some(key.to_owned()), ..self.clone() }
    }

    pub(crate) async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, headers }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body.to_string().into_bytes())).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}
