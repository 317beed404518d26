//! A small client of the REST API for tests, usable with the in-process
//! [`crate::TestApp`] and the `llmlab serve` process ([`crate::TestServer`]).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running server a client can reach.
pub trait Reachable {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    fn base_url(&self) -> &str;
}

/// A client of one server, optionally signed in.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub key: Option<String>,
}

/// A response: status and JSON body (or `Value::Null`), plus the raw text.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The error code of an error reply.
    #[must_use]
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    #[must_use]
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl Api {
    #[must_use]
    pub fn anonymous(server: &impl Reachable) -> Api {
        Api { client: reqwest::Client::new(), base: server.base_url().to_owned(), key: None }
    }

    /// Signs up a new account and returns a client using its key.
    pub async fn signup(server: &impl Reachable, name: &str) -> Api {
        let anonymous = Api::anonymous(server);
        let reply = anonymous.post("/api/auth/signup", json!({ "name": name })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let key = reply.body["api_key"].as_str().expect("a key").to_owned();
        Api { key: Some(key), ..anonymous }
    }

    #[must_use]
    pub fn with_key(&self, key: &str) -> Api {
        Api { key: Some(key.to_owned()), ..self.clone() }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Reply {
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

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body.to_string().into_bytes())).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}
