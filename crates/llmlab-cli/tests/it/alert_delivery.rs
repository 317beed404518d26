//! Alerts reach people, once (issue 16): a real `llmlab serve` and local
//! receivers standing in for a webhook endpoint, Slack and Discord. Crossing
//! 80% then 100% of a budget delivers exactly two alerts to every channel,
//! one by one, in one batch that jumps past both, and with two replicas
//! tracking at once on PostgreSQL; a receiver that is down (refusing
//! connections, then answering 500) gets the alert once it is back, once,
//! even across a server restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use llmlab_server::service::alerts::deliver::sign;
use llmlab_test_support::{Api, TestBackend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::BIN;

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

#[derive(Clone, Default)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many requests before answering 200.
    fail_first: Arc<Mutex<usize>>,
}

/// A local HTTP receiver recording every POST (any path); answers 200
/// unless told to fail first.
struct Receiver {
    url: String,
    state: ReceiverState,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, ReceiverState::default())
    }

    /// A receiver on `port`, which was free a moment ago.
    async fn start_on(port: u16, fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let state = ReceiverState { fail_first: Arc::new(Mutex::new(fail_first)), ..ReceiverState::default() };
        Self::serve(listener, state)
    }

    fn serve(listener: tokio::net::TcpListener, state: ReceiverState) -> Receiver {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().route("/{*path}", post(receive)).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, state }
    }

    /// What arrived at `path` and was answered 200.
    fn delivered(&self, path: &str) -> Vec<Received> {
        self.state.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    fn all(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    {
        let mut fail = state.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return AxumStatus::INTERNAL_SERVER_ERROR;
        }
    }
    let headers = headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    let received: Received =
        Received { path: uri.path().to_owned(), headers, body: serde_json::from_slice(&body).unwrap_or(Value::Null) };
    // The generic webhook's signature, checked as a receiver would.
    if let Some(signature) = received.headers.get("webhook-signature") {
        let secret = SECRETS.lock().unwrap().get(&received.path).cloned().expect("a secret for the path");
        let id = &received.headers["webhook-id"];
        let timestamp: i64 = received.headers["webhook-timestamp"].parse().unwrap();
        assert_eq!(signature, &sign(&secret, id, timestamp, &body), "the webhook signature verifies");
    }
    state.received.lock().unwrap().push(received);
    AxumStatus::OK
}

/// Signing secrets by receiver path (`/webhook-…`), as the channel's owner keeps them.
static SECRETS: std::sync::LazyLock<Mutex<BTreeMap<String, String>>> = std::sync::LazyLock::new(Mutex::default);

/// A webhook, a Slack and a Discord channel, all at `receiver`; returns the paths.
async fn add_channels(api: &Api, receiver: &Receiver, tag: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for kind in ["webhook", "slack", "discord"] {
        let path = format!("/{kind}-{tag}");
        let added =
            api.post("/api/alerts/channels", json!({"kind": kind, "target": format!("{}{path}", receiver.url)})).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        if kind == "webhook" {
            let secret = added.body["secret"].as_str().unwrap();
            assert!(secret.starts_with("whsec_"), "{secret}");
            SECRETS.lock().unwrap().insert(path.clone(), secret.to_owned());
        } else {
            assert!(added.body.get("secret").is_none(), "only webhooks are signed: {}", added.text);
        }
        paths.push(path);
    }
    paths
}

/// A $1 budget of the account for all time: a total budget has no forecast,
/// so the only alerts are its thresholds', whatever the day of the month.
async fn total_budget(api: &Api) {
    let created = api.post("/api/budgets/scoped", json!({"amount_usd": "1", "period": "total"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
}

async fn track(api: &Api, cost: &str) {
    let event =
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5, "cost_usd": cost});
    let tracked = api.post("/api/events/track", event).await;
    assert!(tracked.status.is_success(), "{}", tracked.text);
}

/// Waits until `count` requests reached `path` (at most 15 s), then a
/// little longer, so one too many would show.
async fn arrivals(receiver: &Receiver, path: &str, count: usize, log: impl Fn() -> String) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while receiver.delivered(path).len() < count {
        assert!(
            Instant::now() < deadline,
            "{path} got {:?} of {count}\n{}",
            receiver.delivered(path).iter().map(|r| r.body.to_string()).collect::<Vec<_>>(),
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past the worker's poll interval: anything sent twice would be here by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    receiver.delivered(path)
}

/// The budget thresholds in what a channel received, whatever its format.
fn thresholds(received: &[Received]) -> Vec<String> {
    let mut found: Vec<String> = received
        .iter()
        .map(|r| {
            let text = r.body.to_string();
            if text.contains("80% of the total budget") {
                "80".to_owned()
            } else if text.contains("100% of the total budget") {
                "100".to_owned()
            } else {
                format!("other: {text}")
            }
        })
        .collect();
    found.sort();
    found
}

async fn start(backend: TestBackend) -> TestServer {
    let env = [("LLMLAB_ALERTS_ALLOW_PRIVATE", "1"), ("LLMLAB_PUBLIC_URL", "http://llmlab.test")];
    TestServer::start_with_env(Path::new(BIN), backend, &env).await
}

async fn eighty_then_hundred_one_event_at_a_time(backend: TestBackend) {
    let receiver = Receiver::start().await;
    let server = start(backend).await;
    let api = Api::signup(&server, "alice").await;
    let paths = add_channels(&api, &receiver, &format!("steps-{backend:?}")).await;
    total_budget(&api).await;
    for cost in ["0.5", "0.29", "0.01", "0.15", "0.05", "0.3"] {
        track(&api, cost).await;
    }
    for path in &paths {
        let got = arrivals(&receiver, path, 2, || server.log()).await;
        assert_eq!(thresholds(&got), ["100", "80"], "{path}: exactly two alerts");
    }
    let webhook = receiver.delivered(&paths[0]);
    let ids: Vec<&str> = webhook.iter().map(|r| r.headers["webhook-id"].as_str()).collect();
    assert_ne!(ids[0], ids[1], "two alerts, two ids");
    assert_eq!(webhook[0].body["type"], "budget.threshold");
    assert_eq!(webhook[0].body["data"]["link"], "http://llmlab.test/dashboard");
    // The log shows each alert delivered to the three channels in one attempt.
    let log = api.get("/api/alerts").await.body;
    let alerts = log["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{log}");
    for alert in alerts {
        let deliveries = alert["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 3, "{alert}");
        assert!(
            deliveries.iter().all(|d| d["state"] == "delivered" && d["attempts"] == 1 && d["last_status_code"] == 200),
            "{alert}"
        );
        assert!(
            deliveries.iter().all(|d| !d["target_hint"].as_str().unwrap().contains(&receiver.url[7..])
                || d["target_hint"].as_str().unwrap().contains('…')),
            "{alert}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_80_then_100_delivers_two_alerts_to_every_channel_on_sqlite() {
    eighty_then_hundred_one_event_at_a_time(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_80_then_100_delivers_two_alerts_to_every_channel_on_postgres() {
    eighty_then_hundred_one_event_at_a_time(TestBackend::Postgres).await;
}

async fn one_batch_past_both(backend: TestBackend) {
    let receiver = Receiver::start().await;
    let server = start(backend).await;
    let api = Api::signup(&server, "alice").await;
    let paths = add_channels(&api, &receiver, &format!("batch-{backend:?}")).await;
    total_budget(&api).await;
    let event = |cost: &str| json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1, "cost_usd": cost});
    let batch = api.post("/api/events/batch", json!({"events": [event("0.2"), event("0.7"), event("0.4")]})).await;
    assert!(batch.status.is_success(), "{}", batch.text);
    for path in &paths {
        let got = arrivals(&receiver, path, 2, || server.log()).await;
        assert_eq!(thresholds(&got), ["100", "80"], "{path}: exactly two alerts");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_past_80_and_100_delivers_both_alerts_once_on_sqlite() {
    one_batch_past_both(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_past_80_and_100_delivers_both_alerts_once_on_postgres() {
    one_batch_past_both(TestBackend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_tracking_at_once_deliver_each_alert_once_on_postgres() {
    let receiver = Receiver::start().await;
    // Replicas share the server key, as the deployment guide says they must.
    let env =
        [("LLMLAB_ALERTS_ALLOW_PRIVATE", "1"), ("LLMLAB_SECRET_KEY", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=")];
    let server = TestServer::start_with_env(Path::new(BIN), TestBackend::Postgres, &env).await;
    let replica = server.replica();
    let api = Api::signup(&server, "alice").await;
    let paths = add_channels(&api, &receiver, "replicas").await;
    total_budget(&api).await;
    // 100 calls of 2¢ at once, half through each replica: $2 in all.
    let bases = [server.base_url.clone(), replica.base_url.clone()];
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let on = Api { base: bases[i % 2].clone(), ..api.clone() };
            tokio::spawn(async move { track(&on, "0.02").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    for path in &paths {
        let got = arrivals(&receiver, path, 2, || format!("{}\n--- replica:\n{}", server.log(), replica.log())).await;
        assert_eq!(thresholds(&got), ["100", "80"], "{path}: exactly two alerts across both replicas");
    }
    let summary = api.get("/api/costs/summary").await.body;
    assert_eq!(summary["all_time_usd"], "2", "{summary}");
}

async fn a_receiver_down_gets_the_alert_once_it_is_back(backend: TestBackend) {
    // A port with nobody listening: connections are refused.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let env = [("LLMLAB_ALERTS_ALLOW_PRIVATE", "1"), ("LLMLAB_ALERTS_RETRY_BASE", "0.2")];
    let mut server = TestServer::start_with_env(Path::new(BIN), backend, &env).await;
    let api = Api::signup(&server, "alice").await;
    let target = format!("http://127.0.0.1:{port}/down");
    let added = api.post("/api/alerts/channels", json!({"kind": "webhook", "target": target})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    SECRETS.lock().unwrap().insert("/down".to_owned(), added.body["secret"].as_str().unwrap().to_owned());
    total_budget(&api).await;
    track(&api, "0.85").await;

    // Attempts fail while nobody listens, and the log says why.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = api.get("/api/alerts").await.body;
        let delivery = &log["alerts"][0]["deliveries"][0];
        if delivery["attempts"].as_u64().unwrap_or(0) >= 2 {
            assert_eq!(delivery["state"], "pending", "{log}");
            assert!(delivery["last_error"].as_str().unwrap().to_lowercase().contains("connect"), "{log}");
            assert!(delivery["next_attempt_at"].is_string(), "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "no second attempt: {log}\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The server restarts while the receiver is still down; the alert is in the outbox.
    server.signal("TERM");
    server.restart();

    // The receiver comes back answering 500 twice, then 200.
    let receiver = Receiver::start_on(port, 2).await;
    let got = arrivals(&receiver, "/down", 1, || server.log()).await;
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    assert_eq!(got[0].body["type"], "budget.threshold");
    let log = api.get("/api/alerts").await.body;
    let delivery = &log["alerts"][0]["deliveries"][0];
    assert_eq!(delivery["state"], "delivered", "{log}");
    assert!(delivery["attempts"].as_u64().unwrap() >= 4, "refused twice or more, 500 twice, then delivered: {log}");
    assert_eq!(log["alerts"].as_array().unwrap().len(), 1, "{log}");
    // Every attempt carried the same alert id.
    assert!(receiver.all().iter().all(|r| r.headers["webhook-id"] == log["alerts"][0]["id"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_the_alert_once_across_a_restart_on_sqlite() {
    a_receiver_down_gets_the_alert_once_it_is_back(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_the_alert_once_across_a_restart_on_postgres() {
    a_receiver_down_gets_the_alert_once_it_is_back(TestBackend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_local_and_private_targets_are_refused_by_default_on_sqlite() {
    let server = TestServer::start(Path::new(BIN), TestBackend::Sqlite).await;
    let api = Api::signup(&server, "alice").await;
    for (target, needs) in [
        ("http://169.254.169.254/latest/meta-data/", "never"),
        ("http://127.0.0.1:9/hook", "--alerts-allow-private"),
        ("http://10.1.2.3/hook", "--alerts-allow-private"),
    ] {
        let added = api.post("/api/alerts/channels", json!({"kind": "webhook", "target": target})).await;
        assert_eq!(added.status, StatusCode::UNPROCESSABLE_ENTITY, "{target}: {}", added.text);
        assert_eq!(added.code(), "target_refused");
        assert!(added.message().contains(needs), "{}", added.message());
    }
    let email = api.post("/api/alerts/channels", json!({"kind": "email", "target": "not-an-address"})).await;
    assert_eq!(email.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", email.text);
    assert!(api.get("/api/alerts/channels").await.body["channels"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_targets_are_sealed_at_rest_and_never_returned_on_sqlite() {
    let receiver = Receiver::start().await;
    let server = start(TestBackend::Sqlite).await;
    let api = Api::signup(&server, "alice").await;
    let secret_path = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXsecret";
    let added = api
        .post(
            "/api/alerts/channels",
            json!({"kind": "slack", "target": format!("{}{secret_path}", receiver.url), "name": "ops"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let listed = api.get("/api/alerts/channels").await;
    assert!(!listed.text.contains("XXXXXXXXsecret"), "{}", listed.text);
    assert_eq!(listed.body["channels"][0]["name"], "ops");
    // Not in the database file in clear either.
    let path = llmlab_store::DbSettings::from_url(server.db().url()).unwrap().sqlite_path().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(format!("{}-wal", path.display())).unwrap_or_default();
    for file in [&bytes, &wal] {
        assert!(!String::from_utf8_lossy(file).contains("XXXXXXXXsecret"), "the target is stored in clear");
    }
}
