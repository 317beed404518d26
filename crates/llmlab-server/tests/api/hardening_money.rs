//! Money that cannot overflow: per-event bounds, account totals that are
//! refused rather than wrapped, and one account's unstorable rows failing
//! only its own requests (issue 11).

use futures::StreamExt;
use llmlab_test_support::Api;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::server_test;

/// `count` events of `cost_usd` each, as one batch body.
fn costly_batch(tag: &str, count: usize, cost_usd: &str) -> Value {
    let events: Vec<Value> = (0..count)
        .map(|i| {
            json!({ "event_id": format!("{tag}-{i}"), "provider": "openai", "model": "gpt-4o", "cost_usd": cost_usd })
        })
        .collect();
    json!({ "events": events })
}

async fn all_time(api: &Api) -> (Decimal, u64) {
    let summary = api.get("/api/costs/summary").await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    let usd = summary.body["all_time_usd"].as_str().expect("a decimal string").parse().expect("a decimal");
    (usd, summary.body["all_time_calls"].as_u64().expect("a count"))
}

server_test!(an_event_may_cost_at_most_a_million_dollars, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // The red team's poison: two events of 9e9 made the month total negative.
    let reply = api.post("/api/events/batch", costly_batch("big", 2, "9000000000")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.message().contains("events[0].cost_usd"), "{}", reply.text);
    assert!(reply.message().contains("1000000"), "the message names the maximum: {}", reply.text);
    assert_eq!(all_time(&api).await, (Decimal::ZERO, 0), "nothing of a refused batch is stored");

    let reply = api.post("/api/events/batch", costly_batch("max", 2, "1000000")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "exactly the maximum is fine: {}", reply.text);
    assert_eq!(all_time(&api).await, (Decimal::from(2_000_000), 2));

    // Tokens that price above the maximum are refused too, naming them.
    let huge = json!({ "provider": "openai", "model": "gpt-4o", "output_tokens": 900_000_000_000_u64 });
    let reply = api.post("/api/events/track", huge).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.message().starts_with("`tokens`"), "{}", reply.text);
});

server_test!(totals_past_the_storable_range_are_refused_never_wrapped, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // 5,000 × $1M = $5B: fine.
    let reply = api.post("/api/events/batch", costly_batch("first", 5_000, "1000000")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    // Another $5B would pass the ~$9.22B an account's total can hold: refused by the database.
    let reply = api.post("/api/events/batch", costly_batch("second", 5_000, "1000000")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.code(), "total_out_of_range", "{}", reply.text);
    assert!(reply.message().contains("9223372036.854775807"), "{}", reply.text);
    assert_eq!(all_time(&api).await, (Decimal::from(5_000_000_000_i64), 5_000), "the total is exact, not wrapped");
    // Smaller writes still go in, and the month reads the same exact total.
    let reply = api.post("/api/events/batch", costly_batch("third", 3, "0.5")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let status = api.get("/api/budgets/status").await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    assert_eq!(all_time(&api).await, (Decimal::new(50_000_000_015, 1), 5_003));

    // One batch whose own sum passes the range is refused before the database.
    let bob = Api::signup(&server, "bob").await;
    let reply = bob.post("/api/events/batch", costly_batch("bob", 10_000, "1000000")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.code(), "total_out_of_range", "{}", reply.text);
    assert_eq!(all_time(&bob).await, (Decimal::ZERO, 0));
});

server_test!(repricing_past_the_storable_range_is_refused, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // 10,000 unpriced calls of a model with no price, 10^10 output tokens each.
    for part in 0..2 {
        let events: Vec<Value> = (0..5_000)
            .map(|i| json!({ "event_id": format!("{part}-{i}"), "provider": "acme", "model": "acme-mega", "output_tokens": 10_000_000_000_u64 }))
            .collect();
        let reply = api.post("/api/events/batch", json!({ "events": events })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    // At $100 per 1M output tokens each call costs $1M: $10B in all, past the range.
    let price = json!({ "model": "acme-mega", "input_per_million_usd": "1", "output_per_million_usd": "100" });
    let reply = api.post("/api/prices", price).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.code(), "total_out_of_range", "{}", reply.text);
    assert_eq!(all_time(&api).await, (Decimal::ZERO, 10_000), "the calls stay unpriced, none half-repriced");
    // A price that keeps the total in range reprices them all.
    let reply = api
        .post(
            "/api/prices",
            json!({ "model": "acme-mega", "input_per_million_usd": "1", "output_per_million_usd": "50" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(all_time(&api).await, (Decimal::from(5_000_000_000_i64), 10_000));
});

server_test!(one_accounts_unstorable_rows_fail_only_its_own_requests, |server| async move {
    let mallory = Api::signup(&server, "mallory").await;
    let victim = Api::signup(&server, "victim").await;
    let reply = mallory.post("/api/events/batch", costly_batch("fill", 5_000, "1000000")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    // Mallory keeps sending batches that cannot be stored while the victim
    // tracks ordinary calls; their requests share group commits.
    let poison = async {
        let mut statuses = Vec::new();
        for round in 0..12 {
            let reply =
                mallory.post("/api/events/batch", costly_batch(&format!("poison-{round}"), 5_000, "1000000")).await;
            statuses.push((reply.status, reply.code().to_owned()));
        }
        statuses
    };
    let ordinary = futures::stream::iter(0..400)
        .map(|i| {
            let victim = victim.clone();
            async move {
                let event = json!({ "event_id": format!("v-{i}"), "provider": "openai", "model": "gpt-4o",
                    "input_tokens": 1_000, "output_tokens": 100 });
                victim.post("/api/events/track", event).await
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    let (poisoned, tracked) = tokio::join!(poison, ordinary);
    for (status, code) in &poisoned {
        assert_eq!((*status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "total_out_of_range"));
    }
    for reply in &tracked {
        assert_eq!(reply.status, StatusCode::CREATED, "the victim never sees an error: {}", reply.text);
    }
    // 400 × (1,000 × $2.50/M + 100 × $10/M) = 400 × $0.0035
    assert_eq!(all_time(&victim).await, (Decimal::new(14, 1), 400));
    assert_eq!(all_time(&mallory).await, (Decimal::from(5_000_000_000_i64), 5_000));
});

server_test!(raw_usage_is_capped_in_size_and_depth, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let padding = "x".repeat(20_000);
    let large = json!({ "provider": "openai", "model": "gpt-4o",
        "usage": { "prompt_tokens": 10, "completion_tokens": 5, "note": padding } });
    let reply = api.post("/api/events/track", large).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.message().starts_with("`usage`") && reply.message().contains("16384"), "{}", reply.text);

    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let body = format!(r#"{{"provider":"openai","model":"gpt-4o","usage":{{"prompt_tokens":1,"x":{deep}}}}}"#);
    let reply = api.send(reqwest::Method::POST, "/api/events/track", Some(body.into_bytes())).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.message().starts_with("`usage`") && reply.message().contains("levels deep"), "{}", reply.text);
    assert_eq!(all_time(&api).await, (Decimal::ZERO, 0));
});

server_test!(events_before_2000_are_refused_so_the_default_export_holds_every_event, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for stamp in ["1969-12-31T23:59:59Z", "1999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"] {
        let event = json!({ "provider": "openai", "model": "gpt-4o", "cost_usd": "1", "timestamp": stamp });
        let reply = api.post("/api/events/track", event).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{stamp}: {}", reply.text);
        assert!(reply.message().contains("2000-01-01"), "{}", reply.text);
    }
    let event =
        json!({ "provider": "openai", "model": "gpt-4o", "cost_usd": "1", "timestamp": "2000-01-01T00:00:00Z" });
    assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    let export = api.get("/api/events/export").await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert_eq!(export.text.lines().count(), 2, "the header and the one event: {}", export.text);
});

server_test!(prices_that_look_like_a_slip_are_refused_unless_forced, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // An unpriced call of a model the catalog does not know.
    let event =
        json!({ "provider": "acme", "model": "acme-large", "input_tokens": 1_000_000, "output_tokens": 1_000_000 });
    assert!(api.post("/api/events/track", event).await.status.is_success());
    // $3 per 1M entered per token (LiteLLM #20615).
    let per_token =
        json!({ "model": "acme-large", "input_per_million_usd": "0.000003", "output_per_million_usd": "15" });
    let reply = api.post("/api/prices", per_token.clone()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.code(), "invalid_field");
    assert!(reply.message().contains("input_per_million_usd"), "{}", reply.text);
    assert!(reply.message().contains("looks like a price per token (it would be $3 per 1M"), "{}", reply.text);
    assert!(reply.message().contains("\"force\": true"), "{}", reply.text);
    assert!(api.get("/api/prices").await.body["prices"].as_array().is_none_or(Vec::is_empty), "nothing stored");
    // A thousand times the catalog's price of gpt-4o's output ($10 per 1M): a per-1K price, say.
    let per_thousand = json!({ "model": "gpt-4o", "provider": "openai", "input_per_million_usd": "2.5", "output_per_million_usd": "10000" });
    let reply = api.post("/api/prices", per_thousand).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.message().contains("1000 times above the catalog's $10"), "{}", reply.text);
    // A negotiated price well off the catalog's is fine.
    let negotiated = json!({ "model": "gpt-4o", "provider": "openai", "input_per_million_usd": "1.25", "output_per_million_usd": "5" });
    assert_eq!(api.post("/api/prices", negotiated).await.status, StatusCode::CREATED);
    // Forced, the per-token price is stored and prices the call: 1M × $0.000003/1M + 1M × $15/1M.
    let mut forced = per_token;
    forced["force"] = json!(true);
    let reply = api.post("/api/prices", forced).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let summary = api.get("/api/costs/summary").await.body;
    assert_eq!(summary["all_time_usd"], "15.000003", "{summary}");
});
