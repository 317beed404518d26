//! Provider reports through the API, against a stub of the providers' admin
//! APIs: connecting (the key checked, sealed, shown as a hint), syncing every
//! page of the four reports (a 429 waited out), the fixtures priced and
//! billed exactly as their README computes by hand, a refused key, a 500
//! mid-sync that the next sync resumes without doubling, a re-reported day
//! that replaces, and the reconciliation.

use llmlab_server::ServerSettings;
use llmlab_test_support::report_stub::{
    ANTHROPIC_ADMIN_KEY, Fault, OPENAI_ADMIN_KEY, ReportStub, StubPages, StubReport, last_days,
};
use llmlab_test_support::{Api, TestApp, TestBackend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server whose proxy upstreams (and so admin API bases) are `stub`.
async fn start_against(backend: TestBackend, stub: &ReportStub) -> TestApp {
    let mut settings = ServerSettings::default();
    settings.proxy.upstream_openai = stub.base_url.clone();
    settings.proxy.upstream_anthropic = stub.base_url.clone();
    TestApp::start_with(backend, settings).await
}

async fn connect(api: &Api, provider: &str, key: &str, days: u32) -> Value {
    let reply = api.post("/api/connections", json!({"provider": provider, "admin_key": key, "days": days})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(!reply.text.contains(key), "the key is never answered: {}", reply.text);
    reply.body
}

fn day<'a>(reconciliation: &'a Value, date: &str, provider: &str) -> &'a Value {
    reconciliation["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date && d["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} {date} in {reconciliation}"))
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                ($body)(TestBackend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                ($body)(TestBackend::Postgres).await;
            }
        }
    };
}

both!(fixture_reports_sync_every_page_and_reconcile_to_the_hand_computed_figures, |backend| async move {
    let stub = ReportStub::with_fixtures().await;
    // The second request for OpenAI's usage (its page 2) is rate limited once.
    stub.fault(Fault { report: StubReport::OpenAiUsage, nth: 2, status: 429, retry_after: Some(1) });
    let server = start_against(backend, &stub).await;
    let alice = Api::signup(&server, "alice").await;

    let openai = connect(&alice, "openai", OPENAI_ADMIN_KEY, 30).await;
    let anthropic = connect(&alice, "anthropic", ANTHROPIC_ADMIN_KEY, 30).await;

    let result = &openai["results"][0];
    assert_eq!(result["error"], Value::Null, "{openai}");
    // Usage: page 1, the 429, page 2; costs: the key check, then two pages.
    assert_eq!((result["usage_rows"].as_u64(), result["cost_rows"].as_u64()), (Some(5), Some(9)), "{openai}");
    assert_eq!(stub.requests(StubReport::OpenAiUsage), 3);
    assert_eq!(stub.requests(StubReport::OpenAiCosts), 3);
    assert_eq!(anthropic["results"][0]["usage_rows"], 3, "{anthropic}");
    assert!(stub.log().iter().any(|l| l.contains("group_by[]=context_window")), "{:?}", stub.log());

    let listed = alice.get("/api/connections").await;
    assert_eq!(listed.body["connections"][1]["key_hint"], "sk-admin-…0000", "{}", listed.text);
    assert_eq!(listed.body["connections"][0]["key_hint"], "sk-ant-admin…0000", "{}", listed.text);
    assert!(!listed.text.contains(OPENAI_ADMIN_KEY) && !listed.text.contains(ANTHROPIC_ADMIN_KEY));

    let r = alice.get("/api/reconciliation?month=2026-11").await.body;
    // fixtures/provider_reports/README.md: the figures computed by hand.
    let figures = |date, provider| {
        let d = day(&r, date, provider);
        (d["reported_usd"].as_str().unwrap().to_owned(), d["billed_usd"].as_str().unwrap().to_owned())
    };
    assert_eq!(figures("2026-11-01", "openai"), ("1.9025".to_owned(), "1.9525".to_owned()));
    assert_eq!(figures("2026-11-02", "openai"), ("0.15".to_owned(), "0.15".to_owned()));
    assert_eq!(figures("2026-11-03", "openai"), ("1.25".to_owned(), "1.2623".to_owned()));
    assert_eq!(figures("2026-11-01", "anthropic"), ("10.875".to_owned(), "10.875".to_owned()));
    assert_eq!(figures("2026-11-02", "anthropic"), ("8.25".to_owned(), "8.25123456".to_owned()));
    assert_eq!(r["billed_usd"], "22.49103456", "{r}");
    assert_eq!(r["tracked_usd"], "0");
    let unpriced = day(&r, "2026-11-03", "openai")["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "o9-unreleased")
        .cloned();
    assert_eq!(unpriced.unwrap()["billed_usd"], "0.0123", "{r}");

    // Syncing the same reports again changes nothing.
    let again = alice.post("/api/sync", json!({"days": 30})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let after = alice.get("/api/reconciliation?month=2026-11").await.body;
    assert_eq!(after["billed_usd"], "22.49103456");
    assert_eq!(day(&after, "2026-11-01", "openai")["reported_usd"], "1.9025");
});

both!(a_refused_or_wrong_admin_key_is_a_clear_error_and_nothing_is_kept, |backend| async move {
    let stub = ReportStub::with_fixtures().await;
    let server = start_against(backend, &stub).await;
    let alice = Api::signup(&server, "alice").await;

    let refused = alice
        .post("/api/connections", json!({"provider": "openai", "admin_key": "sk-admin-revoked000000000000"}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(refused.code(), "admin_key_refused");
    assert!(refused.message().starts_with("the OpenAI admin key was refused (401)"), "{}", refused.text);

    let project_key =
        alice.post("/api/connections", json!({"provider": "anthropic", "admin_key": "sk-ant-api03-abc"})).await;
    assert_eq!(project_key.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", project_key.text);
    assert!(project_key.message().contains("admin keys start with `sk-ant-admin`"), "{}", project_key.text);

    // A connection whose key the provider refuses later: the test says so, and the connection shows it.
    connect(&alice, "openai", OPENAI_ADMIN_KEY, 3).await;
    stub.set_keys("sk-admin-rotated", ANTHROPIC_ADMIN_KEY);
    let test = alice.post("/api/connections/openai/test", json!({})).await;
    assert_eq!(test.body["ok"], false, "{}", test.text);
    assert!(
        test.body["message"].as_str().unwrap().starts_with("the OpenAI admin key was refused (401)"),
        "{}",
        test.text
    );
    let listed = alice.get("/api/connections").await.body;
    assert!(listed["connections"][0]["last_error"].as_str().unwrap().contains("refused (401)"), "{listed}");
    stub.set_keys(OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY);
    assert_eq!(alice.post("/api/connections/openai/test", json!({})).await.body["ok"], true);
    assert_eq!(alice.get("/api/connections").await.body["connections"][0]["last_error"], Value::Null);
    assert_eq!(alice.delete("/api/connections/openai").await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.delete("/api/connections/openai").await.status, StatusCode::NOT_FOUND);

    let gemini = alice.post("/api/connections", json!({"provider": "gemini", "admin_key": "x"})).await;
    assert_eq!(gemini.code(), "invalid_field", "{}", gemini.text);
    assert_eq!(alice.get("/api/connections").await.body["connections"], json!([]));
    let none = alice.post("/api/sync", json!({})).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.text);
});

/// OpenAI: one gpt-4o-mini row a day of 1M uncached input ($0.15), billed $0.15 — or `tokens` for the re-report.
fn openai_usage(days: i64, tokens_on_last_day: u64) -> StubPages {
    let buckets = last_days(days, |i| {
        let input = if i == days - 1 { tokens_on_last_day } else { 1_000_000 };
        vec![json!({"object": "organization.usage.completions.result", "input_tokens": input, "output_tokens": 0,
            "input_cached_tokens": 0, "num_model_requests": 10, "model": "gpt-4o-mini", "project_id": "proj_a",
            "api_key_id": null, "batch": false})]
    });
    StubPages::Generated { buckets, per_page: 3 }
}

fn openai_costs(days: i64) -> StubPages {
    let buckets = last_days(days, |_| {
        vec![json!({"object": "organization.costs.result", "amount": {"value": 0.15, "currency": "usd"},
            "line_item": "gpt-4o-mini, input", "project_id": "proj_a"})]
    });
    StubPages::Generated { buckets, per_page: 7 }
}

both!(a_500_mid_sync_resumes_at_the_next_sync_and_a_re_reported_day_replaces, |backend| async move {
    let stub = ReportStub::start(OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY).await;
    stub.serve(StubReport::OpenAiUsage, openai_usage(10, 1_000_000));
    stub.serve(StubReport::OpenAiCosts, openai_costs(10));
    let server = start_against(backend, &stub).await;
    let alice = Api::signup(&server, "alice").await;
    connect(&alice, "openai", OPENAI_ADMIN_KEY, 10).await;
    let priced = |summary: &Value| summary["provider_reported"]["priced_usd"].as_str().unwrap_or_default().to_owned();
    let first = alice.get("/api/costs/summary?tz=UTC").await.body;
    assert_eq!(priced(&first), "1.5", "10 days × $0.15: {first}");
    assert_eq!(first["provider_reported"]["billed_usd"], "1.5");

    // Page 2 of 4 (days 4-6) fails: days 1-3 are stored again, the sync stops and says so.
    let before = stub.requests(StubReport::OpenAiUsage);
    stub.fault(Fault { report: StubReport::OpenAiUsage, nth: before + 2, status: 500, retry_after: None });
    let failed = alice.post("/api/sync", json!({"days": 10})).await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text);
    let result = &failed.body["results"][0];
    assert_eq!(result["error_code"], "report_failed", "{}", failed.text);
    assert!(result["error"].as_str().unwrap().contains("the OpenAI usage report answered HTTP 500"), "{}", failed.text);
    assert_eq!(priced(&alice.get("/api/costs/summary?tz=UTC").await.body), "1.5", "nothing doubled");
    let connection = &alice.get("/api/connections").await.body["connections"][0];
    assert!(connection["last_error"].as_str().unwrap().contains("HTTP 500"), "{connection}");

    // The next sync resumes at the failed page's first day (the 3rd), not at the start.
    let resumed = alice.post("/api/sync", json!({})).await;
    assert_eq!(resumed.body["results"][0]["error"], Value::Null, "{}", resumed.text);
    let third = llmlab_test_support::report_stub::last_days(10, |_| Vec::new())[2].start;
    let resumed_at = stub.log().iter().rev().find(|l| l.contains("usage/completions") && !l.contains("page=")).cloned();
    assert!(resumed_at.unwrap().contains(&format!("start_time={third}&")), "{:?}", stub.log());
    assert_eq!(priced(&alice.get("/api/costs/summary?tz=UTC").await.body), "1.5", "nothing doubled");
    assert_eq!(alice.get("/api/connections").await.body["connections"][0]["last_error"], Value::Null);

    // Late data: today is re-reported with 2M tokens: it replaces the 1M, never adds.
    stub.serve(StubReport::OpenAiUsage, openai_usage(10, 2_000_000));
    alice.post("/api/sync", json!({})).await;
    assert_eq!(priced(&alice.get("/api/costs/summary?tz=UTC").await.body), "1.65");

    // The dashboard shows the provider-reported spend and the reconciliation; the settings the key's hint.
    let panels = page(&server, &alice, "/dashboard/panels").await;
    assert!(panels.contains("Provider-reported spend") && panels.contains("$1.65 at LLMLab's prices"), "{panels}");
    assert!(panels.contains("Tracked against billed"), "{panels}");
    let settings = page(&server, &alice, "/settings/sections").await;
    assert!(settings.contains("sk-admin-…0000") && !settings.contains(OPENAI_ADMIN_KEY), "{settings}");
    assert!(settings.contains("data-api=\"DELETE /api/connections/openai\""), "{settings}");
});

/// A dashboard page's HTML, signed in with `api`'s key.
async fn page(server: &TestApp, api: &Api, path: &str) -> String {
    let signed_in =
        Api::anonymous(server).post("/api/auth/session", json!({"api_key": api.key.clone().unwrap()})).await;
    let cookie = signed_in.headers.get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let response = api.client.get(format!("{}{path}", server.base_url)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

both!(a_day_billed_far_above_what_was_tracked_raises_one_drift_alert, |backend| async move {
    let stub = ReportStub::start(OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY).await;
    stub.serve(StubReport::OpenAiUsage, openai_usage(3, 1_000_000));
    // $5 billed every day.
    let billed = last_days(3, |_| {
        vec![json!({"object": "organization.costs.result", "amount": {"value": 5, "currency": "usd"},
            "line_item": "gpt-4o-mini, input", "project_id": "proj_a"})]
    });
    stub.serve(StubReport::OpenAiCosts, StubPages::Generated { buckets: billed, per_page: 7 });
    let mut settings = ServerSettings::default();
    settings.proxy.upstream_openai = stub.base_url.clone();
    settings.alerts.allow_private = true;
    let server = TestApp::start_with(backend, settings).await;
    let alice = Api::signup(&server, "alice").await;
    // Port 9 (discard): the delivery fails, the alert is in the log all the same.
    let channel =
        alice.post("/api/alerts/channels", json!({"kind": "webhook", "target": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(channel.status, StatusCode::CREATED, "{}", channel.text);
    // Tracked today: 100k input of gpt-4o-mini = $0.015, against $5 billed.
    let tracked = alice
        .post("/api/events/track", json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 100_000}))
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.text);

    connect(&alice, "openai", OPENAI_ADMIN_KEY, 3).await;
    alice.post("/api/sync", json!({})).await;

    let log = alice.get("/api/alerts").await.body;
    let drift: Vec<&Value> =
        log["alerts"].as_array().unwrap().iter().filter(|a| a["kind"] == "provider_drift").collect();
    assert_eq!(drift.len(), 1, "once per day and provider, and only the day with tracked calls: {log}");
    assert!(drift[0]["action"].as_str().unwrap().contains("or cut off client-side"), "{log}");
    assert!(
        drift[0]["text"].as_str().unwrap().starts_with("$4.99 billed by openai on ")
            && drift[0]["text"].as_str().unwrap().ends_with("that LLMLab never saw: 99.7% of the day."),
        "{log}"
    );
    let reconciliation = alice.get("/api/reconciliation").await.body;
    let flagged: Vec<&Value> =
        reconciliation["days"].as_array().unwrap().iter().filter(|d| d["drift_alert"] == true).collect();
    assert_eq!(flagged.len(), 1, "{reconciliation}");
});
