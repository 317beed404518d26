//! The proxy end to end, in process: a real server on a loopback port, a
//! stub upstream (axum) serving the shared fixtures, and an HTTP client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use llmlab_store::DbSettings;
use llmlab_test_support::TestDb;
use serde_json::{Value, json};

use super::ProxySettings;
use crate::{ServeOptions, ServerSettings};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/", $path)).as_slice()
    };
}

const CHAT: &[u8] = fixture!("openai/chat_basic_gpt-4o-mini.body.json");
const CHAT_STREAM: &[u8] = fixture!("openai/chat_stream_basic_gpt-4o-mini.body.sse");
const CHAT_STREAM_NO_USAGE: &[u8] = fixture!("invalid/chat_stream_without_include_usage.body.sse");
const MESSAGES_STREAM: &[u8] = fixture!("anthropic/stream_basic_haiku-4-5.body.sse");
const GEMINI: &[u8] = fixture!("gemini/generate_basic_gemini-2.5-flash.body.json");

/// What the stub upstream saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Starts the stub upstream; returns its base URL and request log.
async fn stub_upstream() -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages))
        .route("/v1beta/models/{call}", post(|| async { json_response(GEMINI) }))
        .route("/v1/models", get(|| async { axum::Json(json!({"object": "list", "data": []})) }))
        .route("/slow/v1/chat/completions", post(slow))
        .route("/split/v1/responses", post(split))
        .route("/refuse/v1/chat/completions", post(refuse))
        .layer(axum::middleware::from_fn_with_state(log.clone(), remember))
        .with_state(log.clone());
    (serve_stub(app).await, log)
}

async fn serve_stub(app: Router) -> String {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // The stub sets TCP_NODELAY too, or its own writes would stall the latency test.
    let listener = listener.tap_io(|tcp| tcp.set_nodelay(true).unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

async fn remember(State(log): State<Log>, request: Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let seen = Seen {
        path_and_query: parts.uri.path_and_query().map(ToString::to_string).unwrap_or_default(),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    log.lock().unwrap().push(seen);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

fn json_response(body: &'static [u8]) -> Response {
    ([("content-type", "application/json"), ("x-upstream", "stub")], body).into_response()
}

/// An SSE body sent in two parts, `gap` apart.
fn sse_in_two_parts(body: &'static [u8], gap: Duration) -> Response {
    let (first, second) = body.split_at(body.len() / 2);
    let parts = futures::stream::iter([(first, Duration::ZERO), (second, gap)]).then(move |(part, wait)| async move {
        tokio::time::sleep(wait).await;
        Ok::<_, std::io::Error>(Bytes::from_static(part))
    });
    ([("content-type", "text/event-stream")], Body::from_stream(parts)).into_response()
}

use futures::StreamExt;

async fn chat(body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    if request["stream"] == true {
        let stream =
            if request["stream_options"]["include_usage"] == true { CHAT_STREAM } else { CHAT_STREAM_NO_USAGE };
        return sse_in_two_parts(stream, Duration::from_millis(5));
    }
    json_response(CHAT)
}

async fn messages() -> Response {
    sse_in_two_parts(MESSAGES_STREAM, Duration::from_millis(400))
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(5)).await;
    json_response(CHAT)
}

/// Headers first, the body a moment later: the pattern that stalls ~40 ms
/// per response on a kept-alive connection without `TCP_NODELAY`.
async fn split() -> Response {
    let body = futures::stream::once(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, std::io::Error>(Bytes::from_static(CHAT))
    });
    ([("content-type", "application/json")], Body::from_stream(body)).into_response()
}

async fn refuse() -> Response {
    let body = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
}

/// A running LLMLab server with an account.
struct Harness {
    base: String,
    key: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    db: TestDb,
}

impl Harness {
    async fn start(configure: impl FnOnce(&mut ProxySettings)) -> Harness {
        let mut proxy = ProxySettings { upstream_timeout: Duration::from_secs(5), ..ProxySettings::default() };
        configure(&mut proxy);
        let db = TestDb::sqlite();
        let options = ServeOptions {
            address: "127.0.0.1:0".parse().unwrap(),
            database: DbSettings::from_url(db.url()).unwrap(),
            settings: ServerSettings { proxy, ..ServerSettings::default() },
            show_admin_token: None,
            server_key: None,
        };
        let (ready, bound) = tokio::sync::oneshot::channel::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            crate::serve(
                options,
                move |address| {
                    let _ = ready.send(address);
                },
                async move {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
        });
        let base = format!("http://{}", bound.await.unwrap());
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
        let signup: Value =
            client.post(format!("{base}/api/auth/signup")).json(&json!({})).send().await.unwrap().json().await.unwrap();
        let key = signup["api_key"].as_str().unwrap().to_owned();
        Harness { base, key, client, stop: Some(stop), server: Some(server), db }
    }

    fn proxy(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).header("x-llmlab-key", &self.key)
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// Waits until `calls` events are stored, then returns them (CSV rows as maps).
    async fn events(&self, calls: u64) -> Vec<std::collections::HashMap<String, String>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let summary = self.api(reqwest::Method::GET, "/api/costs/summary", None).await;
            let stored = summary["all_time_calls"].as_u64().unwrap();
            if stored >= calls {
                assert_eq!(stored, calls, "more events than calls");
                break;
            }
            assert!(Instant::now() < deadline, "only {stored} of {calls} calls were recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let csv = self
            .client
            .get(format!("{}/api/events/export", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|row| headers.iter().map(str::to_owned).zip(row.unwrap().iter().map(str::to_owned)).collect())
            .collect()
    }

    /// Shuts the server down gracefully; returns its database.
    async fn stop(mut self) -> TestDb {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(15), self.server.take().unwrap()).await.unwrap().unwrap();
        self.db
    }
}

fn point_all_at(url: &str) -> impl FnOnce(&mut ProxySettings) + '_ {
    move |settings| {
        settings.upstream_openai = url.to_owned();
        settings.upstream_anthropic = url.to_owned();
        settings.upstream_gemini = url.to_owned();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_forwarded_untouched_answered_byte_for_byte_and_priced() {
    let (upstream, log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;
    let request = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}"#;

    let response = app
        .proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions?trace=1")
        .header("authorization", "Bearer sk-provider-key")
        .header("x-llmlab-project", "search")
        .header("x-llmlab-tags", "team=core,env=prod")
        .header("x-custom", "kept")
        .header("content-type", "application/json")
        .body(request.as_slice())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-upstream"], "stub");
    assert_eq!(response.bytes().await.unwrap(), CHAT);
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.path_and_query, "/v1/chat/completions?trace=1");
    assert_eq!(seen.body, request.as_slice());
    assert_eq!(seen.headers["authorization"], "Bearer sk-provider-key");
    assert_eq!(seen.headers["x-custom"], "kept");
    assert_eq!(seen.headers["host"], upstream.trim_start_matches("http://"));
    assert!(seen.headers.keys().all(|name| !name.as_str().starts_with("x-llmlab-")), "{:?}", seen.headers);
    let events = app.events(1).await;
    assert_eq!(events[0]["cost_usd"], "0.00002925");
    assert_eq!(events[0]["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(events[0]["project"], "search");
    assert_eq!(events[0]["status"], "ok");
    assert_eq!(serde_json::from_str::<Value>(&events[0]["tags"]).unwrap(), json!({"env": "prod", "team": "core"}));
    assert!(events[0]["latency_ms"].parse::<u64>().is_ok());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_arrive_as_they_are_sent_not_when_they_end() {
    let (upstream, _log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;
    let started = Instant::now();

    let mut response = app
        .proxy(reqwest::Method::POST, "/proxy/anthropic/v1/messages")
        .header("x-api-key", "sk-ant")
        .body(r#"{"model":"claude-haiku-4-5","stream":true,"max_tokens":10,"messages":[]}"#)
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let mut whole = first.to_vec();
    while let Some(chunk) = response.chunk().await.unwrap() {
        whole.extend_from_slice(&chunk);
    }

    // The stub holds the second half back for 400 ms: the first half must not wait for it.
    assert!(first_at < Duration::from_millis(300), "first bytes after {first_at:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(whole, MESSAGES_STREAM);
    let events = app.events(1).await;
    assert_eq!(events[0]["cost_usd"], "0.000315");
    assert!(events[0]["latency_ms"].parse::<u64>().unwrap() >= 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_keys_in_the_query_pass_through_and_the_model_comes_from_the_path() {
    let (upstream, log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;

    let response = app
        .proxy(reqwest::Method::POST, "/proxy/gemini/v1beta/models/gemini-2.5-flash:generateContent?key=AIza-secret")
        .body(r#"{"contents":[]}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.bytes().await.unwrap(), GEMINI);
    assert_eq!(
        log.lock().unwrap()[0].path_and_query,
        "/v1beta/models/gemini-2.5-flash:generateContent?key=AIza-secret"
    );
    let events = app.events(1).await;
    assert_eq!((events[0]["provider"].as_str(), events[0]["cost_usd"].as_str()), ("google", "0.0000717"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streams_without_include_usage_are_usage_unknown_unless_the_proxy_adds_it() {
    let (upstream, log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;
    let stream_request = r#"{"model":"gpt-4o-mini","stream":true,"messages":[]}"#;

    let plain = app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions").body(stream_request).send();
    assert_eq!(plain.await.unwrap().bytes().await.unwrap(), CHAT_STREAM_NO_USAGE);
    let opted_in = app
        .proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions")
        .header("x-llmlab-include-usage", "true")
        .body(stream_request)
        .send();
    assert_eq!(opted_in.await.unwrap().bytes().await.unwrap(), CHAT_STREAM);

    assert_eq!(log.lock().unwrap()[0].body, stream_request.as_bytes(), "forwarded unchanged without the opt-in");
    let sent: Value = serde_json::from_slice(&log.lock().unwrap()[1].body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let events = app.events(2).await;
    let unknown = events.iter().find(|e| e["cost_usd"].is_empty()).expect("a usage-unknown event");
    assert!(unknown["unpriced_reason"].contains("include_usage"), "{unknown:?}");
    assert_eq!(unknown["model"], "gpt-4o-mini");
    assert!(events.iter().any(|e| e["cost_usd"] == "0.00001005"), "{events:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_wide_opt_in_adds_include_usage_too() {
    let (upstream, log) = stub_upstream().await;
    let app = Harness::start(|s| {
        point_all_at(&upstream)(s);
        s.include_usage = true;
    })
    .await;

    let response = app
        .proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions")
        .body(r#"{"model":"gpt-4o-mini","stream":true}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.bytes().await.unwrap(), CHAT_STREAM);
    let sent: Value = serde_json::from_slice(&log.lock().unwrap()[0].body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(app.events(1).await[0]["cost_usd"], "0.00001005");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_valid_llmlab_key_are_refused_in_the_providers_format() {
    let (upstream, log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;

    let missing = app.client.post(format!("{}/proxy/openai/v1/chat/completions", app.base)).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("X-LLMLab-Key"), "{body}");
    let wrong = app
        .client
        .post(format!("{}/proxy/anthropic/v1/messages", app.base))
        .header("x-llmlab-key", format!("llm_{}", "x".repeat(48)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    let bad_tags = app.proxy(reqwest::Method::POST, "/proxy/gemini/v1beta/models/m:generateContent");
    let bad_tags = bad_tags.header("x-llmlab-tags", r#"{"a": 1}"#).send().await.unwrap();
    assert_eq!(bad_tags.status(), 400);
    assert_eq!(bad_tags.json::<Value>().await.unwrap()["error"]["status"], "INVALID_ARGUMENT");

    assert!(log.lock().unwrap().is_empty(), "nothing was forwarded");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_hard_budget_every_provider_gets_a_429_in_its_own_format_and_nothing_is_sent() {
    let (upstream, log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;
    app.api(reqwest::Method::POST, "/api/budgets", Some(json!({"amount_usd": "0.00001", "period": "monthly"}))).await;
    app.api(reqwest::Method::PATCH, "/api/account", Some(json!({"hard_budget": true}))).await;

    // Each call's worst case is above $0.00001: none is sent.
    let openai = app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions");
    let openai = openai.body(r#"{"model":"gpt-4o-mini","max_tokens":5}"#).send().await.unwrap();
    assert_eq!(openai.status(), 429);
    assert_eq!(openai.headers()["x-should-retry"], "false");
    let body: Value = openai.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("hard budget reached: the month budget of the account is $0.00001"), "{message}");
    assert!(message.contains("llmlab budget <amount> --period month --hard"), "{message}");
    let anthropic = app.proxy(reqwest::Method::POST, "/proxy/anthropic/v1/messages");
    let anthropic = anthropic.body(r#"{"model":"claude-haiku-4-5","max_tokens":5}"#).send().await.unwrap();
    assert_eq!(anthropic.status(), 429);
    assert_eq!(anthropic.json::<Value>().await.unwrap()["error"]["type"], "rate_limit_error");
    let gemini = app.proxy(reqwest::Method::POST, "/proxy/gemini/v1beta/models/gemini-2.5-flash:generateContent");
    let gemini = gemini.body("{}").send().await.unwrap();
    assert_eq!(gemini.status(), 429);
    assert_eq!(gemini.json::<Value>().await.unwrap()["error"]["status"], "RESOURCE_EXHAUSTED");
    // A call whose cost has no bound cannot be held: refused, and told why.
    let unbounded = app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions").body("{}");
    let unbounded = unbounded.send().await.unwrap();
    assert_eq!(unbounded.status(), 400);
    assert_eq!(unbounded.headers()["x-llmlab-error"], "llmlab_budget_unbounded");
    assert!(unbounded.text().await.unwrap().contains("names no model"));
    assert!(log.lock().unwrap().is_empty(), "nothing reached the upstream");

    // A model LLMLab cannot price is never held or refused (it is recorded as unpriced).
    let local = app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions");
    let local = local.body(r#"{"model":"my-local-llama","max_tokens":5}"#).send().await.unwrap();
    assert_eq!(local.status(), 200);
    local.bytes().await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_is_down_or_silent_gets_502_or_504_and_the_call_is_recorded() {
    let (upstream, _log) = stub_upstream().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = Harness::start(|s| {
        point_all_at(&upstream)(s);
        s.upstream_anthropic.clone_from(&closed);
        s.upstream_timeout = Duration::from_millis(300);
    })
    .await;

    let down = app.proxy(reqwest::Method::POST, "/proxy/anthropic/v1/messages").body(r#"{"model":"claude-haiku-4-5"}"#);
    let down = down.send().await.unwrap();
    assert_eq!(down.status(), 502);
    assert_eq!(down.json::<Value>().await.unwrap()["error"]["type"], "api_error");
    let silent =
        app.proxy(reqwest::Method::POST, "/proxy/openai/slow/v1/chat/completions").body(r#"{"model":"gpt-4o"}"#);
    let silent = silent.send().await.unwrap();
    assert_eq!(silent.status(), 504);
    assert_eq!(silent.json::<Value>().await.unwrap()["error"]["code"], "llmlab_upstream_timeout");
    let refused = app.proxy(reqwest::Method::POST, "/proxy/openai/refuse/v1/chat/completions").body("{}").send();
    assert_eq!(refused.await.unwrap().status(), 429, "the upstream's own errors pass through");
    // Not a billed endpoint, so not recorded.
    let models = app.proxy(reqwest::Method::GET, "/proxy/openai/v1/models").send().await.unwrap();
    assert_eq!(models.status(), 200);

    let events = app.events(3).await;
    let by_status =
        |status: &str| events.iter().find(|e| e["status"] == status).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(by_status("502")["cost_usd"], "0", "nothing was sent, nothing billed");
    assert_eq!(by_status("502")["model"], "claude-haiku-4-5");
    assert_eq!(by_status("504")["cost_usd"], "", "the provider may have billed a call it never answered");
    assert!(by_status("504")["unpriced_reason"].contains("did not answer"));
    assert_eq!(by_status("429")["cost_usd"], "0");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_go_through_the_tls_connector() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://{}", listener.local_addr().unwrap())
    };
    let app = Harness::start(point_all_at(&closed)).await;

    let response =
        app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions").body("{}").send().await.unwrap();

    assert_eq!(response.status(), 502);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_breaks_off_mid_body_is_recorded_as_an_error() {
    // A raw upstream that starts an answer and hangs up: a small one with a
    // length (which the proxy waits for whole), or a chunked stream.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let read = socket.read(&mut request).await.unwrap_or(0);
            let head = if String::from_utf8_lossy(&request[..read]).contains("/chunked/") {
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata: \r\n"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"id\":\"x\","
            };
            let _ = socket.write_all(head.as_bytes()).await;
        }
    });
    let app = Harness::start(point_all_at(&broken)).await;

    let whole = app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions").body(r#"{"model":"gpt-4o"}"#);
    let whole = whole.send().await.unwrap();
    assert_eq!(whole.status(), 502, "nothing was sent yet, so LLMLab can still answer");
    let stream = app.proxy(reqwest::Method::POST, "/proxy/openai/chunked/v1/chat/completions");
    let stream = stream.body(r#"{"model":"gpt-4o","stream":true}"#).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.bytes().await.is_err(), "the client sees the cut too");

    let events = app.events(2).await;
    let by_status =
        |status: &str| events.iter().find(|e| e["status"] == status).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(by_status("502")["cost_usd"], "");
    assert!(by_status("502")["unpriced_reason"].contains("broke off"), "{events:?}");
    assert_eq!(by_status("error")["cost_usd"], "");
    assert!(by_status("error")["unpriced_reason"].contains("broke off"), "{events:?}");
    app.stop().await;
}

/// Nagle + delayed ACK add ~40 ms to every response written as headers then
/// body on a kept-alive connection. Twenty calls must take well under 20 × 40 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_calls_on_one_connection_do_not_stall_on_nagle() {
    let (upstream, _log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;
    let call =
        || app.proxy(reqwest::Method::POST, "/proxy/openai/split/v1/responses").body(r#"{"model":"gpt-4o-mini"}"#);
    call().send().await.unwrap().bytes().await.unwrap();

    let started = Instant::now();
    for _ in 0..20 {
        let body = call().send().await.unwrap().bytes().await.unwrap();
        assert_eq!(body, CHAT);
    }
    let elapsed = started.elapsed();

    assert!(elapsed < Duration::from_millis(400), "20 calls took {elapsed:?}: a TCP_NODELAY regression?");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stores_every_call_already_answered() {
    let (upstream, _log) = stub_upstream().await;
    let app = Harness::start(point_all_at(&upstream)).await;
    let key_id = crate::auth::key_id(&app.key).to_owned();
    for _ in 0..25 {
        let response = app.proxy(reqwest::Method::POST, "/proxy/openai/v1/chat/completions").body("{}").send();
        response.await.unwrap().bytes().await.unwrap();
    }

    // Stop at once: the calls may still be queued for the recorder.
    let db = app.stop().await;

    let store = llmlab_store::Store::connect(&DbSettings::from_url(db.url()).unwrap()).await.unwrap();
    let (_, user) = store.find_key(&key_id).await.unwrap().unwrap();
    let calls: u64 = store.spend_all_time(user.id, None).await.unwrap().iter().map(|row| row.calls).sum();
    assert_eq!(calls, 25);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_gemini_reports_in_its_header_is_priced_and_a_fallback_is_noted() {
    // Gemini says which tier served a call only in `x-gemini-service-tier`: a
    // priority request over the priority limit is served (and billed) at standard.
    let stub = Router::new().route(
        "/v1beta/models/{call}",
        post(|headers: HeaderMap| async move {
            let served = if headers.contains_key("x-test-over-limit") { "standard" } else { "priority" };
            let mut response = json_response(GEMINI);
            response.headers_mut().insert("x-gemini-service-tier", served.parse().unwrap());
            response
        }),
    );
    let upstream = serve_stub(stub).await;
    let app = Harness::start(point_all_at(&upstream)).await;
    let request = r#"{"contents":[],"generationConfig":{"serviceTier":"priority"}}"#;
    for over_limit in [true, false] {
        let mut call = app
            .proxy(reqwest::Method::POST, "/proxy/gemini/v1beta/models/gemini-2.5-flash:generateContent")
            .body(request);
        if over_limit {
            call = call.header("x-test-over-limit", "1");
        }
        let response = call.send().await.unwrap();
        assert_eq!(response.bytes().await.unwrap(), GEMINI);
        // One at a time, so the export lists them in this order.
        app.events(if over_limit { 1 } else { 2 }).await;
    }
    let events = app.events(2).await;
    // 14 input × $0.30/M + 27 output × $2.50/M at standard.
    assert_eq!((events[0]["service_tier"].as_str(), events[0]["cost_usd"].as_str()), ("standard", "0.0000717"));
    assert!(events[0]["notes"].contains("asked for the `priority` tier"), "{}", events[0]["notes"]);
    // 14 × $0.54/M + 27 × $4.50/M at priority, as asked: no note.
    assert_eq!((events[1]["service_tier"].as_str(), events[1]["cost_usd"].as_str()), ("priority", "0.00012906"));
    assert_eq!(events[1]["notes"], "");
    app.stop().await;
}
