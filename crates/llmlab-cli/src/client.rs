//! The HTTP client of the server-facing commands: JSON in and out, and every
//! failure turned into one line that says what to do (start the server, fix
//! the key…).

use std::future::Future;
use std::time::Duration;

use llmlab_api::ErrorBody;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Settings, mask_key};
use crate::printer::UserError;

/// Runs one command's requests on a single-threaded runtime (fast to start).
pub(crate) fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(future))
}

/// A client of one server, with or without an API key.
pub(crate) struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

impl Client {
    pub(crate) fn new(base_url: &str, api_key: Option<&str>) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("llmlab-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            // A read timeout, not a total one: an export of millions of rows may take minutes.
            .read_timeout(Duration::from_mins(1))
            .build()?;
        Ok(Client { http, base_url: base_url.to_owned(), api_key: api_key.map(str::to_owned) })
    }

    /// A client with the settings' server and (required) key.
    pub(crate) fn authenticated(settings: &Settings) -> anyhow::Result<Client> {
        Client::new(&settings.base_url.value, Some(settings.require_key()?))
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.send(Method::GET, path, None::<&()>).await?;
        self.json(path, response).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> anyhow::Result<T> {
        let response = self.send(Method::POST, path, Some(body)).await?;
        self.json(path, response).await
    }

    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.send(Method::DELETE, path, None::<&()>).await?;
        self.json(path, response).await
    }

    /// Checks the client's key: the account, or `None` when the server rejects the key.
    pub(crate) async fn login(&self) -> anyhow::Result<Option<llmlab_api::LoginResponse>> {
        let mut request = self.http.post(format!("{}/api/auth/login", self.base_url)).json(&serde_json::json!({}));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        match response.status() {
            StatusCode::UNAUTHORIZED => Ok(None),
            s if s.is_success() => self.json("/api/auth/login", response).await.map(Some),
            _ => Err(self.status_error(&Method::POST, "/api/auth/login", response).await),
        }
    }

    /// Sends a request and returns the successful response, its body unread.
    pub(crate) async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.status_error(&method, path, response).await)
    }

    async fn json<T: DeserializeOwned>(&self, path: &str, response: reqwest::Response) -> anyhow::Result<T> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            // Not JSON at all (a web page, a login form): another program answers at that address.
            if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
                return self.not_llmlab(status);
            }
            anyhow::anyhow!("the server at `{}` sent an unexpected answer to `{path}`: {e}", self.base_url)
        })
    }

    /// Another program answers at the server's address; its body (an HTML
    /// page, usually) is never shown, only the status.
    fn not_llmlab(&self, status: StatusCode) -> anyhow::Error {
        UserError::new(format!(
            "the server at `{}` does not look like an LLMLab server (HTTP {})",
            self.base_url,
            status_text(status)
        ))
        .with_hint(
            "check the URL: `llmlab config` shows where it comes from; `--server` or `LLMLAB_BASE_URL` points at another",
        )
        .into()
    }

    /// A connection failure, named with the URL and how to start a server.
    pub(crate) fn transport_error(&self, error: &reqwest::Error) -> anyhow::Error {
        if error.is_connect() || (error.is_timeout() && !error.is_body()) {
            return UserError::new(format!("cannot reach the LLMLab server at `{}`", self.base_url))
                .with_hint(
                    "start it with `llmlab serve` (in another terminal), or point `--server` or `LLMLAB_BASE_URL` at yours",
                )
                .into();
        }
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        anyhow::anyhow!("talking to the server at `{}` failed: {message}", self.base_url)
    }

    async fn status_error(&self, method: &Method, path: &str, response: reqwest::Response) -> anyhow::Error {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
        let code = body.as_ref().map(|b| b.error.code.as_str()).unwrap_or_default();
        let message = body.as_ref().map(|b| b.error.message.clone());
        let key = self.api_key.as_deref().map(mask_key).unwrap_or_default();
        match status {
            StatusCode::UNAUTHORIZED if code == "invalid_admin_token" => UserError::new(message.unwrap_or_default())
                .with_hint("pass the server's admin token with `--admin-token` or `LLMLAB_ADMIN_TOKEN`")
                .into(),
            StatusCode::UNAUTHORIZED if body.is_some() => {
                let what = if code == "revoked_api_key" { "was revoked" } else { "is not valid there" };
                UserError::new(format!("the server at `{}` rejected the API key `{key}`: it {what}", self.base_url))
                    .with_hint("run `llmlab init` to sign up, or `llmlab init --api-key llm_…` to use another key")
                    .into()
            }
            // axum's answer to a route it does not have: an empty 404 (an older LLMLab, or a typo in the path).
            StatusCode::NOT_FOUND if text.trim().is_empty() => {
                UserError::new(format!("the server at `{}` has no `{method} {}`", self.base_url, route(path)))
                    .with_hint("is it an LLMLab server, and up to date?")
                    .into()
            }
            // A proxy in front of LLMLab answers these itself while LLMLab is down.
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
                if body.is_none() =>
            {
                UserError::new(format!(
                    "the server at `{}` answered HTTP {} without LLMLab's error body",
                    self.base_url,
                    status_text(status)
                ))
                .with_hint("if LLMLab runs behind a proxy there, check that `llmlab serve` is running behind it")
                .into()
            }
            // Every LLMLab error carries `{"error": {"code", "message"}}`; anything else is another program.
            _ if body.is_none() => self.not_llmlab(status),
            s if s.is_client_error() => {
                let error = UserError::new(message.unwrap_or_else(|| format!("{s}: {}", one_line(&text))));
                match code {
                    "project_not_found" => error.with_hint("leave out `--project` to see the whole account").into(),
                    _ => error.into(),
                }
            }
            s => anyhow::anyhow!(
                "the server at `{}` failed ({s}): {}",
                self.base_url,
                message.unwrap_or_else(|| one_line(&text))
            ),
        }
    }
}

/// `501 Not Implemented`.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn route(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}
