//! `llmlab status`: totals, by model, the 30-day sparkline, the budget bars and their warnings.

use serde_json::json;

use crate::api::server_test;
use crate::cli_env::{Machine, seeded, snapshot, transcript};

server_test!(status_shows_totals_models_trend_budget_and_unpriced_calls, |server| async move {
    let (machine, api) = seeded(&server).await;
    api.post("/api/budgets", json!({ "amount_usd": "6" })).await;

    let human = machine.run(&["status"]);
    let json = machine.run(&["status", "--json"]);

    assert_eq!(human.status.code(), Some(0), "{}", transcript(&human));
    snapshot!(machine, "status_human", transcript(&human));
    assert_eq!(json.status.code(), Some(0), "{}", transcript(&json));
    snapshot!(machine, "status_json", transcript(&json));
    let body: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(body["budget"]["state"], "warning");
    assert_eq!(body["summary"]["daily"].as_array().unwrap().len(), 30);
});

server_test!(status_shows_totals_with_cut_off_streams_as_at_least, |server| async move {
    let (machine, api) = seeded(&server).await;
    // A cut-off Anthropic stream: 1000 input × $1 + 200 output × $5 per 1M (haiku 4.5) = $0.002, at least.
    let cut = json!({"provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1000,
        "output_tokens": 200, "partial": true, "partial_reason": "the stream ended before message_stop"});
    let reply = api.post("/api/events/track", cut).await;
    assert_eq!(reply.body["partial"], true, "{}", reply.text);

    let output = machine.run(&["status"]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let text = transcript(&output);
    let month = text.lines().find(|l| l.trim_start().starts_with("this month")).unwrap_or_default();
    assert!(month.contains("at least $"), "{text}");
    let today = text.lines().find(|l| l.trim_start().starts_with("today")).unwrap_or_default();
    assert!(today.contains("at least $"), "{text}");
    let model = text.lines().find(|l| l.trim_start().starts_with("claude-haiku-4-5")).unwrap_or_default();
    assert!(model.contains("at least $"), "{text}");
    let gpt = text.lines().find(|l| l.trim_start().starts_with("gpt-4o")).unwrap_or_default();
    assert!(!gpt.contains("at least"), "only the model with a cut-off stream: {text}");
    assert!(text.contains("warning: 1 call ended before its final usage (a cut-off stream)"), "{text}");
});

server_test!(status_warns_when_the_budget_is_exceeded, |server| async move {
    let (machine, api) = seeded(&server).await;
    api.post("/api/budgets", json!({ "amount_usd": "5" })).await;

    let output = machine.run(&["status"]);

    assert_eq!(output.status.code(), Some(0));
    let text = transcript(&output);
    assert!(text.contains("warning: the monthly budget of $5.00 is exceeded: $5.66 spent (113."), "{text}");
    assert!(text.contains("████████████████████████  $5.66 of $5.00"), "{text}");
});

server_test!(status_of_a_new_account_shows_zeros_and_how_to_set_a_budget, |server| async move {
    let machine = Machine::of(&server);
    machine.init();

    let output = machine.run(&["status"]);

    snapshot!(machine, "status_empty", transcript(&output));
});

server_test!(status_can_be_limited_to_a_project_and_a_time_zone, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let output = machine.run(&["status", "--project", "web", "--tz", "Asia/Kolkata", "--json"]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["summary"]["project"], "web");
    assert_eq!(body["summary"]["timezone"], "Asia/Kolkata");
    assert_eq!(body["summary"]["all_time_calls"], 1);
    let bad_zone = machine.run(&["status", "--tz", "Mars/Base"]);
    assert_eq!(bad_zone.status.code(), Some(1));
    assert!(transcript(&bad_zone).contains("Mars/Base"), "{}", transcript(&bad_zone));
});

#[test]
fn status_without_a_key_says_to_run_init() {
    let machine = Machine::new("http://127.0.0.1:1");

    let output = machine.run(&["status"]);

    snapshot!(machine, "status_no_key", transcript(&output));
}

#[test]
fn status_with_the_server_down_names_the_url_and_suggests_llmlab_serve() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let machine = Machine::new(&format!("http://127.0.0.1:{port}"));

    let output = machine
        .run_with(&["status", "--server", &machine.server], &[("LLMLAB_API_KEY", "llm_abcdefghabcdefghabcdefgh")]);

    snapshot!(machine, "status_unreachable", transcript(&output));
}

server_test!(status_shows_every_budget_when_the_account_has_more_than_the_monthly_one, |server| async move {
    let (machine, api) = seeded(&server).await;
    api.post("/api/budgets", json!({ "amount_usd": "6" })).await;
    for (body, what) in [
        (json!({ "amount_usd": "2", "scope": "project", "target": "web", "period": "week", "hard": true }), "web"),
        (json!({ "amount_usd": "100", "period": "total" }), "total"),
    ] {
        let reply = api.post("/api/budgets/scoped", body).await;
        assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{what}: {}", reply.text);
    }

    let human = machine.run(&["status"]);
    let json = machine.run(&["status", "--json"]);

    assert_eq!(human.status.code(), Some(0), "{}", transcript(&human));
    snapshot!(machine, "status_budgets", transcript(&human));
    let body: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(body["budget"]["state"], "warning", "the account's monthly budget, as before: {body:#}");
    let budgets = body["budgets"].as_array().expect("every budget");
    assert_eq!(budgets.len(), 3, "{body:#}");
    let web = budgets.iter().find(|b| b["target"] == "web").unwrap();
    assert_eq!((web["status"]["state"].as_str(), web["hard"].as_bool()), (Some("exceeded"), Some(true)));
});
