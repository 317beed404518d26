//! Alerts through the API: channels added, listed (hints only), tested and
//! removed, each account's own; a hard budget's refusals raise one hard-stop
//! alert per period; a day far above the recent daily norm raises one
//! spend-anomaly alert; the log's limits.

use std::time::{Duration, Instant};

use jiff::{Timestamp, ToSpan};
use llmlab_server::ServerSettings;
use llmlab_server::service::alerts::worker::check_anomaly;
use llmlab_store::{DbSettings, Store};
use llmlab_test_support::{Api, TestApp, TestBackend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server that may send to loopback receivers.
async fn start(backend: TestBackend) -> TestApp {
    let mut settings = ServerSettings::default();
    settings.alerts.allow_private = true;
    settings.alerts.public_url = Some("https://llmlab.example".to_owned());
    TestApp::start_with(backend, settings).await
}

macro_rules! alerts_test {
    ($name:ident, |$server:ident| $body:expr) => {
        llmlab_test_support::server_test_with!(start, $name, |$server| $body);
    };
}

/// The account's log, once every delivery of its newest `count` alerts left `pending` (at most 10 s).
async fn settled_log(api: &Api, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = api.get("/api/alerts").await.body;
        let alerts = log["alerts"].as_array().cloned().unwrap_or_default();
        let settled = alerts.len() >= count
            && alerts.iter().all(|a| a["deliveries"].as_array().unwrap().iter().all(|d| d["state"] != "pending"));
        if settled {
            return log;
        }
        assert!(Instant::now() < deadline, "not settled: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

alerts_test!(channels_are_added_listed_tested_and_removed, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let bob = Api::signup(&server, "bob").await;
    let none = alice.post("/api/alerts/test", json!({})).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", none.text);
    assert!(none.message().contains("llmlab alerts add"), "{}", none.text);

    // Port 9 (discard): nothing answers, so the test alert's delivery fails and is logged.
    let added = alice
        .post(
            "/api/alerts/channels",
            json!({"kind": "slack", "target": "http://127.0.0.1:9/services/T0/B0/secretpart", "name": " ops "}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["channel"]["name"], "ops");
    assert_eq!(added.body["channel"]["target_hint"], "http://127.0.0.1:9/…part");
    assert!(added.body.get("secret").is_none());
    let id = added.body["channel"]["id"].as_i64().unwrap();
    let email = alice.post("/api/alerts/channels", json!({"kind": "email", "target": "ops@example.com"})).await;
    assert_eq!(email.status, StatusCode::CREATED, "{}", email.text);
    assert_eq!(email.body["channel"]["target_hint"], "o…@example.com");

    let listed = alice.get("/api/alerts/channels").await;
    assert_eq!(listed.body["channels"].as_array().unwrap().len(), 2);
    assert!(!listed.text.contains("secretpart") && !listed.text.contains("ops@example.com"), "{}", listed.text);
    assert!(bob.get("/api/alerts/channels").await.body["channels"].as_array().unwrap().is_empty());
    assert_eq!(bob.delete(&format!("/api/alerts/channels/{id}")).await.status, StatusCode::NOT_FOUND);
    let foreign = bob.post("/api/alerts/test", json!({"channel_id": id})).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);

    let test = alice.post("/api/alerts/test", json!({"channel_id": id})).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.text);
    assert_eq!(test.body["deliveries"], 1);
    let log = alice.get("/api/alerts").await.body;
    let alert = &log["alerts"][0];
    assert_eq!(alert["id"], test.body["alert_id"]);
    assert_eq!(alert["kind"], "test");
    assert_eq!(alert["title"], "Test alert from LLMLab");
    assert_eq!(alert["deliveries"][0]["channel_kind"], "slack");
    // Without an SMTP server the email channel's test cannot deliver, and says why.
    let email_test = alice.post("/api/alerts/test", json!({"channel_id": email.body["channel"]["id"]})).await;
    assert_eq!(email_test.status, StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = alice.get("/api/alerts").await.body;
        let delivery = &log["alerts"][0]["deliveries"][0];
        if delivery["attempts"].as_u64().unwrap_or(0) >= 1 && !delivery["last_error"].is_null() {
            assert!(delivery["last_error"].as_str().unwrap().contains("LLMLAB_SMTP_HOST"), "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(alice.delete(&format!("/api/alerts/channels/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.delete(&format!("/api/alerts/channels/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(alice.delete("/api/alerts/channels/abc").await.status, StatusCode::NOT_FOUND);
    assert_eq!(alice.get("/api/alerts/channels").await.body["channels"].as_array().unwrap().len(), 1);
    assert_eq!(alice.get("/api/alerts?limit=0").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alice.get("/api/alerts?limit=1").await.body["alerts"].as_array().unwrap().len(), 1);
    assert!(bob.get("/api/alerts").await.body["alerts"].as_array().unwrap().is_empty(), "each account's own");
});

alerts_test!(bad_channels_are_refused_with_the_reason, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for (body, code, says) in [
        (json!({"kind": "webhook", "target": "not a url"}), "invalid_field", "is not a URL"),
        (json!({"kind": "webhook", "target": "ftp://example.com/x"}), "invalid_field", "https://"),
        (json!({"kind": "discord", "target": "http://169.254.169.254/"}), "target_refused", "never"),
        (json!({"kind": "email", "target": "nobody"}), "invalid_field", "not an email address"),
        (json!({"kind": "pager", "target": "x"}), "invalid_field", "kind"),
    ] {
        let reply = api.post("/api/alerts/channels", body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.text);
        assert_eq!(reply.code(), code, "{body}: {}", reply.text);
        assert!(reply.message().contains(says), "{body}: {}", reply.text);
    }
});

alerts_test!(a_hard_budget_refusing_calls_alerts_once_per_period, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let added = api.post("/api/alerts/channels", json!({"kind": "webhook", "target": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let created =
        api.post("/api/budgets/scoped", json!({"amount_usd": "0.000001", "period": "day", "hard": true})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let call = json!({"provider": "openai", "request": {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}});
    for _ in 0..3 {
        let refused = api.post("/api/budgets/reserve", call.clone()).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = api.get("/api/alerts").await.body;
        if !log["alerts"].as_array().unwrap().is_empty() {
            break log;
        }
        assert!(Instant::now() < deadline, "no hard-stop alert");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = if log["alerts"].as_array().unwrap().len() == 1 { api.get("/api/alerts").await.body } else { log };
    let alerts = log["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "once per budget and period: {log}");
    assert_eq!(alerts[0]["kind"], "hard_stop");
    assert_eq!(alerts[0]["title"], "The hard daily budget of the account is refusing calls");
    assert!(alerts[0]["action"].as_str().unwrap().contains("llmlab budget <amount> --period day --hard"), "{log}");
});

alerts_test!(a_day_far_above_the_norm_raises_one_anomaly_alert, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let now = Timestamp::now();
    let event = |days_ago: i64, usd: &str, n: usize| {
        // Today's at this very instant, so a run just after midnight still has a today.
        let at = now.checked_sub((days_ago * 24).hours()).unwrap();
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "cost_usd": usd, "timestamp": at.to_string(),
               "event_id": format!("day-{days_ago}-{n}")})
    };
    // $5 on each of the 14 days before today.
    let history: Vec<Value> = (1..=14).map(|d| event(d, "5", 0)).collect();
    assert!(api.post("/api/events/batch", json!({"events": history})).await.status.is_success());
    let store = Store::connect(&DbSettings::from_url(server.db().url()).unwrap()).await.unwrap();
    let user_id = account_id(&api, &store).await;
    // $14.99 today: under three times the norm.
    assert!(api.post("/api/events/track", event(0, "14.99", 1)).await.status.is_success());
    assert!(!check_anomaly(&store, user_id, now).await.unwrap());
    // $15 today: exactly three times; once.
    assert!(api.post("/api/events/track", event(0, "0.01", 2)).await.status.is_success());
    assert!(check_anomaly(&store, user_id, now).await.unwrap());
    assert!(api.post("/api/events/track", event(0, "50", 3)).await.status.is_success());
    assert!(!check_anomaly(&store, user_id, now).await.unwrap(), "once a day");
    let log = settled_log(&api, 1).await;
    let alert = &log["alerts"][0];
    assert_eq!(alert["kind"], "spend_anomaly", "{log}");
    assert!(alert["text"].as_str().unwrap().contains("$15.00 spent"), "{log}");
    assert!(
        alert["text"].as_str().unwrap().contains("3 times the daily average of the 14 days before ($5.00)"),
        "{log}"
    );
});

/// The account's row id (the API shows its public id), from its key.
async fn account_id(api: &Api, store: &Store) -> i64 {
    let login = api.post("/api/auth/login", json!({})).await;
    let public_id = login.body["user_id"].as_str().unwrap_or_else(|| panic!("a user id: {}", login.text)).to_owned();
    for id in 1..10 {
        if store.user(id).await.is_ok_and(|user| user.public_id == public_id) {
            return id;
        }
    }
    panic!("no account {public_id} in the database");
}
