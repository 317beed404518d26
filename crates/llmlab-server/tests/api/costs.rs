//! The cost summary and budgets on a real server.

use llmlab_test_support::Api;
use reqwest::StatusCode;
use serde_json::json;

use crate::server_test;

fn today_utc() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

server_test!(the_summary_has_totals_breakdowns_and_a_30_day_trend, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let now = jiff::Timestamp::now();
    let two_days_ago = now - jiff::SignedDuration::from_hours(48);
    for (model, at) in [("gpt-4o", now), ("gpt-4o", two_days_ago), ("claude-haiku-4-5", now)] {
        let provider = if model.starts_with("claude") { "anthropic" } else { "openai" };
        let reply = api
            .post(
                "/api/events/track",
                json!({ "provider": provider, "model": model, "input_tokens": 1_000_000, "timestamp": at.to_string() }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    let summary = api.get("/api/costs/summary").await.body;
    assert_eq!(summary["timezone"], "UTC");
    assert_eq!(summary["today_usd"], "3.5");
    assert_eq!(summary["all_time_usd"], "6");
    assert_eq!(summary["all_time_calls"], 3);
    let daily = summary["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    assert_eq!(daily[29]["date"], today_utc().to_string());
    assert_eq!(daily[29]["cost_usd"], "3.5");
    assert_eq!(daily[27]["cost_usd"], "2.5");
    assert_eq!(daily[0]["cost_usd"], "0", "zero days are included");
    assert_eq!(summary["by_model"][0]["model"], "gpt-4o", "most expensive first");
    assert_eq!(summary["by_provider"].as_array().unwrap().len(), 2);

    let kolkata = api.get("/api/costs/summary?tz=Asia/Kolkata").await;
    assert_eq!(kolkata.status, StatusCode::OK);
    assert_eq!(kolkata.body["timezone"], "Asia/Kolkata");
    let bad_zone = api.get("/api/costs/summary?tz=Mars/Base").await;
    assert_eq!(bad_zone.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_zone.body["error"]["message"].as_str().unwrap().contains("Mars/Base"));
});

server_test!(local_days_follow_the_time_zone, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // 23:50 UTC is 05:20 the next day in Kolkata (+05:30): the half-hour offset needs 15-minute buckets.
    let yesterday = today_utc().yesterday().unwrap();
    let late = format!("{yesterday}T23:50:00Z");
    api.post(
        "/api/events/track",
        json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "timestamp": late }),
    )
    .await;
    let utc = api.get("/api/costs/summary?tz=UTC").await.body;
    let kolkata = api.get("/api/costs/summary?tz=Asia/Kolkata").await.body;
    let day = |summary: &serde_json::Value, date: String| {
        summary["daily"].as_array().unwrap().iter().find(|d| d["date"] == date).map(|d| d["cost_usd"].clone())
    };
    assert_eq!(day(&utc, yesterday.to_string()), Some(json!("2.5")));
    assert_eq!(day(&kolkata, today_utc().to_string()), Some(json!("2.5")));
    assert_eq!(day(&kolkata, yesterday.to_string()), Some(json!("0")));
});

server_test!(budgets_warn_at_80_and_exceed_at_100_percent, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let none = api.get("/api/budgets").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(none.body["budget"].is_null());
    assert_eq!(api.get("/api/budgets/status").await.body["state"], "none");

    let set = api.post("/api/budgets", json!({ "amount_usd": "10", "period": "monthly" })).await;
    assert_eq!(set.status, StatusCode::CREATED, "{}", set.text);
    assert_eq!(api.get("/api/budgets").await.body["budget"]["amount_usd"], "10");
    for bad in [
        json!({ "amount_usd": "0" }),
        json!({ "amount_usd": "-5" }),
        json!({ "amount_usd": "ten" }),
        json!({ "amount_usd": "5", "period": "weekly" }),
    ] {
        let reply = api.post("/api/budgets", bad.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // Spend stamped last month does not count against this month's budget.
    let last_month = today_utc().first_of_month().yesterday().unwrap();
    let old = json!({ "provider": "openai", "model": "gpt-4o", "cost_usd": "9", "input_tokens": 1, "timestamp": format!("{last_month}T12:00:00Z") });
    let reply = api.post("/api/events/track", old).await;
    assert_eq!(
        (reply.body["budget"]["state"].as_str(), reply.body["budget"]["spent_usd"].as_str()),
        (Some("ok"), Some("0")),
        "{}",
        reply.text
    );

    // $7.99 → ok; +$0.01 → exactly 80% → warning, alerted once; → $10 exactly → exceeded.
    let spend = |usd: &str| json!({ "provider": "openai", "model": "gpt-4o", "cost_usd": usd, "input_tokens": 1 });
    let ok = api.post("/api/events/track", spend("7.99")).await;
    assert_eq!(ok.body["budget"]["state"], "ok", "{}", ok.text);
    let warning = api.post("/api/events/track", spend("0.01")).await;
    assert_eq!(
        (warning.body["budget"]["state"].as_str(), warning.body["budget"]["alert"].as_str()),
        (Some("warning"), Some("warning"))
    );
    assert_eq!(warning.body["budget"]["percent_used"], 80.0);
    let still = api.post("/api/events/track", spend("1")).await;
    assert_eq!(
        (still.body["budget"]["state"].as_str(), still.body["budget"]["alert"].as_str()),
        (Some("warning"), None)
    );
    let exceeded = api.post("/api/events/track", spend("1")).await;
    assert_eq!(
        (exceeded.body["budget"]["state"].as_str(), exceeded.body["budget"]["alert"].as_str()),
        (Some("exceeded"), Some("exceeded"))
    );
    let status = api.get("/api/budgets/status").await.body;
    assert_eq!(
        (status["state"].as_str(), status["spent_usd"].as_str(), status["amount_usd"].as_str()),
        (Some("exceeded"), Some("10"), Some("10"))
    );
    assert!(status["projected_usd"].is_string());
    assert!(status["period_start"].as_str().unwrap().ends_with("-01"));
});

server_test!(recommendations_name_the_saving_sorted_largest_first, |server| async move {
    let api = Api::signup(&server, "alice").await;
    assert_eq!(api.get("/api/recommendations").await.body, json!([]), "no usage, no tips");
    // 30 days of gpt-4o: 200M uncached input + 20M output = $700 in the window.
    let event = json!({ "provider": "openai", "model": "gpt-4o-2024-08-06", "input_tokens": 200_000_000, "output_tokens": 20_000_000 });
    assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    let reply = api.get("/api/recommendations").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let tips = reply.body.as_array().unwrap();
    assert!(!tips.is_empty(), "{}", reply.text);
    let switch = tips.iter().find(|t| t["kind"] == "switch_model").expect("a switch tip");
    assert_eq!(switch["current_model"], "gpt-4o");
    assert!(switch["suggested_model"].is_string());
    assert!(switch["title"].as_str().unwrap().contains("gpt-4o"));
    assert!(!switch["assumptions"].as_array().unwrap().is_empty());
    let savings: Vec<rust_decimal::Decimal> =
        tips.iter().filter_map(|t| t["monthly_savings_usd"].as_str()).map(|s| s.parse().unwrap()).collect();
    assert!(savings.windows(2).all(|w| w[0] >= w[1]), "sorted by saving: {savings:?}");
    let bob = Api::signup(&server, "bob").await;
    assert_eq!(bob.get("/api/recommendations").await.body, json!([]), "tips come from one's own usage only");
});

server_test!(a_summary_of_a_project_the_account_does_not_have_is_a_404_listing_its_projects, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for project in ["web", "batch-jobs"] {
        let event = json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000, "project": project });
        assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    }
    let bob = Api::signup(&server, "bob").await;
    let event = json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000, "project": "bobs-secret" });
    assert_eq!(bob.post("/api/events/track", event).await.status, StatusCode::CREATED);

    let reply = api.get("/api/costs/summary?project=nope").await;

    assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "project_not_found"), "{}", reply.text);
    assert_eq!(
        reply.message(),
        "this account has no project `nope`; its projects are `batch-jobs`, `default`, `web`",
        "the account's own projects only, by name"
    );
    let known = api.get("/api/costs/summary?project=web").await;
    assert_eq!((known.status, known.body["project"].as_str()), (StatusCode::OK, Some("web")), "{}", known.text);
    assert_eq!(api.get("/api/costs/summary?project=default").await.status, StatusCode::OK);
});
