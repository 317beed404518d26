//! Hard budgets hold under load (issue 15): 200 proxied calls in flight at
//! once never spend past the budget, on SQLite and on PostgreSQL with two
//! replicas; a replica killed mid-call does not hold the budget forever.
//! The upstream is a local stub that counts what reaches it.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use llmlab_test_support::{TestBackend, TestServer};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{Api, BIN};

/// An OpenAI-compatible upstream that answers each chat completion after
/// `delay` (keeping calls in flight), billing about what LLMLab's worst case
/// holds for it: a prompt of the body's length plus 1,000 tokens, and every
/// output token the request allows. `/hang/…` never answers.
struct Stub {
    url: String,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct StubState {
    calls: Arc<AtomicUsize>,
    delay: Duration,
}

impl Stub {
    async fn start(delay: Duration) -> Stub {
        let calls = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .route("/hang/v1/chat/completions", post(hang))
            .with_state(StubState { calls: calls.clone(), delay });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub { url, calls }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn answer(State(stub): State<StubState>, body: Bytes) -> axum::Json<Value> {
    stub.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(stub.delay).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let completion = request["max_tokens"].as_u64().unwrap_or(16);
    let prompt = body.len() as u64 + 1_000;
    axum::Json(json!({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1_795_000_000, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    }))
}

async fn hang(State(stub): State<StubState>) -> &'static str {
    stub.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_mins(10)).await;
    "too late"
}

const REQUEST: &str = r#"{"model":"gpt-4o-mini","max_tokens":40,"messages":[{"role":"user","content":"Say ok."}]}"#;

async fn proxied(server: &str, key: &str, project: &str, path: &str) -> reqwest::Response {
    send(server, key, project, path).await.unwrap()
}

async fn send(server: &str, key: &str, project: &str, path: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{server}/proxy/openai{path}"))
        .header("x-llmlab-key", key)
        .header("x-llmlab-project", project)
        .header("authorization", "Bearer sk-test")
        .header("content-type", "application/json")
        .body(REQUEST)
        .send()
        .await
}

fn usd(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap_or_else(|| panic!("a decimal string, not {value}"))).unwrap()
}

/// The budget's current figures, once nothing is held any more (every
/// answered call recorded, or every lapsed hold released), waiting at most `limit`.
async fn settled(api: &Api, id: i64, limit: Duration, log: impl Fn() -> String) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let budget = api.get(&format!("/api/budgets/scoped/{id}")).await.body;
        if usd(&budget["status"]["reserved_usd"]).is_zero() {
            return budget;
        }
        assert!(Instant::now() < deadline, "the budget still holds calls after {limit:?}: {budget}\n{}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cost of one call of [`REQUEST`], from a call outside any hard budget.
async fn one_call_cost(api: &Api, server: &str, key: &str) -> Decimal {
    assert_eq!(proxied(server, key, "calibrate", "/v1/chat/completions").await.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let summary = api.get("/api/costs/summary").await.body;
        let spent = usd(&summary["all_time_usd"]);
        if !spent.is_zero() {
            return spent;
        }
        assert!(Instant::now() < deadline, "the calibration call was never recorded: {summary}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[allow(clippy::print_stderr)] // prints how close the budget came to full, the figure the docs quote
async fn two_hundred_calls_never_overspend(backend: TestBackend) {
    let stub = Stub::start(Duration::from_millis(300)).await;
    let server = TestServer::start_with_env(Path::new(BIN), backend, &[("LLMLAB_UPSTREAM_OPENAI", &stub.url)]).await;
    // On PostgreSQL, half the calls go through a second replica.
    let replica = (backend == TestBackend::Postgres).then(|| server.replica());
    let api = Api::signup(&server, "alice").await;
    let key = api.key.clone().unwrap();
    let cost = one_call_cost(&api, &server.base_url, &key).await;
    let amount = cost * Decimal::from(50);
    let created = api
        .post(
            "/api/budgets/scoped",
            json!({"amount_usd": amount.to_string(), "scope": "project", "target": "load", "period": "day", "hard": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();

    let bases: Vec<String> =
        [Some(server.base_url.clone()), replica.as_ref().map(|r| r.base_url.clone())].into_iter().flatten().collect();
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let (base, key) = (bases[i % bases.len()].clone(), key.clone());
            tokio::spawn(async move {
                let response = proxied(&base, &key, "load", "/v1/chat/completions").await;
                let status = response.status();
                (status, response.text().await.unwrap())
            })
        })
        .collect();
    let (mut sent, mut refused) = (0usize, 0usize);
    for call in calls {
        let (status, body) = call.await.unwrap();
        match status {
            StatusCode::OK => sent += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(body.contains("hard budget reached: the day budget of project load"), "{body}");
                refused += 1;
            }
            other => panic!("a call got {other}: {body}"),
        }
    }
    assert_eq!(sent + refused, 200);
    assert_eq!(stub.calls(), 1 + sent, "every refused call stayed here; every other one reached the upstream");

    let budget = settled(&api, id, Duration::from_secs(15), || server.log()).await;
    let spent = usd(&budget["status"]["spent_usd"]);
    assert_eq!(spent, cost * Decimal::from(sent), "every call that went through is recorded: {budget}");
    assert!(spent <= amount, "spent {spent} of a {amount} budget");
    assert!(
        spent >= amount * Decimal::new(9, 1),
        "the budget ends at least 90% used: {spent} of {amount}, {sent} sent"
    );
    assert!(refused > 0);
    // For the record (`--no-capture`): how close the budget came to full.
    eprintln!(
        "{backend:?}: {sent} sent, {refused} refused; ${spent} spent of ${amount} ({}%)",
        spent * Decimal::from(100) / amount
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_in_flight_never_overspend_a_hard_budget_on_sqlite() {
    two_hundred_calls_never_overspend(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_in_flight_never_overspend_a_hard_budget_across_replicas_on_postgres() {
    two_hundred_calls_never_overspend(TestBackend::Postgres).await;
}

/// The documented time a killed server's holds outlive it: the hold's
/// time to live (here 2 s, `--budget-hold-ttl`) plus one sweep (1 s).
const HOLD_TTL_SECS: u64 = 2;

async fn a_killed_server_does_not_hold_the_budget_forever(backend: TestBackend) {
    let stub = Stub::start(Duration::ZERO).await;
    let ttl = HOLD_TTL_SECS.to_string();
    let env = [("LLMLAB_UPSTREAM_OPENAI", stub.url.as_str()), ("LLMLAB_BUDGET_HOLD_TTL", ttl.as_str())];
    let mut server = TestServer::start_with_env(Path::new(BIN), backend, &env).await;
    let api = Api::signup(&server, "alice").await;
    let key = api.key.clone().unwrap();
    // A budget that covers one call's worst case, not two.
    let probe: Value = serde_json::from_str(REQUEST).unwrap();
    let quote = api.post("/api/budgets/reserve", json!({"provider": "openai", "request": probe})).await;
    assert_eq!(quote.status, StatusCode::OK, "no hard budget yet, nothing held: {}", quote.text);
    let created =
        api.post("/api/budgets/scoped", json!({"amount_usd": "0.0003", "period": "month", "hard": true})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    let held = api.post("/api/budgets/reserve", json!({"provider": "openai", "request": probe})).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.text);
    let worst = usd(&held.body["reserved_usd"]);
    let hold_id = held.body["reservation_id"].as_str().unwrap();
    let release = api.delete(&format!("/api/budgets/reservations/{hold_id}")).await;
    assert_eq!(release.status, StatusCode::NO_CONTENT);
    let amount = worst * Decimal::new(15, 1);
    let patch = json!({"amount_usd": amount.to_string()}).to_string().into_bytes();
    let resized = api.send(reqwest::Method::PATCH, &format!("/api/budgets/scoped/{id}"), Some(patch)).await;
    assert_eq!(resized.status, StatusCode::OK, "{}", resized.text);

    // A call the upstream never answers holds the budget…
    let base = server.base_url.clone();
    let hanging = {
        let key = key.clone();
        tokio::spawn(async move {
            // The server dies before it answers: the client sees the connection drop.
            send(&base, &key, "default", "/hang/v1/chat/completions").await.err()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while stub.calls() == 0 {
        assert!(Instant::now() < deadline, "the hanging call never reached the upstream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let budget = api.get(&format!("/api/budgets/scoped/{id}")).await.body;
    assert_eq!(usd(&budget["status"]["reserved_usd"]), worst, "{budget}");
    // …so another call is refused.
    let survivor = (backend != TestBackend::Sqlite).then(|| server.replica());
    let other = survivor.as_ref().map_or_else(|| server.base_url.clone(), |r| r.base_url.clone());
    assert_eq!(proxied(&other, &key, "default", "/v1/chat/completions").await.status(), StatusCode::TOO_MANY_REQUESTS);

    // The server dies mid-call; its hold lapses after the TTL, released by
    // the surviving replica's sweep (SQLite: by the restarted server's).
    server.signal("KILL");
    assert!(hanging.await.unwrap().is_some(), "the hanging call was never answered");
    if survivor.is_none() {
        server.restart();
    }
    let on_survivor = Api { base: other.clone(), ..api.clone() };
    let logs = || survivor.as_ref().map_or_else(|| server.log(), TestServer::log);
    let budget = settled(&on_survivor, id, Duration::from_secs(HOLD_TTL_SECS + 1 + 3), logs).await;
    assert!(usd(&budget["status"]["spent_usd"]).is_zero(), "the killed call was never answered: {budget}");
    assert_eq!(proxied(&other, &key, "default", "/v1/chat/completions").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_call_releases_its_hold_after_the_ttl_on_sqlite() {
    a_killed_server_does_not_hold_the_budget_forever(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_call_releases_its_hold_after_the_ttl_on_postgres() {
    a_killed_server_does_not_hold_the_budget_forever(TestBackend::Postgres).await;
}
