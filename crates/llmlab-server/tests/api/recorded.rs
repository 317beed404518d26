//! What gets recorded: calls the provider refused, providers LLMLab does not
//! know, and the two names of Google's provider.

use llmlab_test_support::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server_test;

async fn track(api: &Api, event: Value) -> Value {
    let reply = api.post("/api/events/track", event).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

server_test!(a_call_the_provider_refused_costs_zero_and_is_never_in_the_unpriced_list, |server| async move {
    let api = Api::signup(&server, "alice").await;

    // What the SDK sends for an official client's APIStatusError, and the proxy for an error answer.
    for (provider, model, status) in [
        ("openai", "gpt-5-typo", "404"),
        ("anthropic", "claude-haiku-4-5", "429"),
        ("google", "gemini-2.5-flash", "500"),
    ] {
        let reply = track(&api, json!({ "provider": provider, "model": model, "status": status })).await;
        assert_eq!(reply["priced"], true, "{reply}");
        assert_eq!(reply["cost_usd"], "0", "{reply}");
        assert_eq!(reply["cost_source"], "refused", "{reply}");
        assert!(reply["unpriced_reason"].is_null() && reply["unpriced_code"].is_null(), "{reply}");
        let note = format!("the provider refused the call (HTTP {status}); refused calls are not billed");
        assert!(reply["notes"][0].as_str().unwrap().starts_with(&note), "{reply}");
    }
    // The SDK sends in batches: the same rule there.
    let batch = api
        .post("/api/events/batch", json!({ "events": [{ "provider": "openai", "model": "gpt-4o", "status": "429" }] }))
        .await;
    assert_eq!(batch.status, StatusCode::CREATED, "{}", batch.text);
    assert_eq!(
        (batch.body["results"][0]["priced"].clone(), batch.body["results"][0]["cost_usd"].clone()),
        (json!(true), json!("0"))
    );

    let summary = api.get("/api/costs/summary").await;
    assert_eq!(summary.body["all_time_calls"], 4, "{}", summary.text);
    assert_eq!(summary.body["all_time_usd"], "0");
    assert_eq!(summary.body["unpriced_calls"], 0, "{}", summary.text);
    assert_eq!(summary.body["unpriced_models"], json!([]), "{}", summary.text);
    let requested = summary.body["by_model"].as_array().unwrap().iter().any(|m| m["model"] == "gpt-5-typo");
    assert!(requested, "the requested model is what is recorded: {}", summary.text);
});

server_test!(only_an_http_error_without_usage_is_a_free_refusal, |server| async move {
    let api = Api::signup(&server, "alice").await;

    // No HTTP answer at all (a timeout, a reset): the provider may have billed it.
    let unanswered = track(&api, json!({ "provider": "openai", "model": "gpt-4o", "status": "error" })).await;
    assert_eq!((unanswered["priced"].clone(), unanswered["unpriced_code"].clone()), (json!(false), json!("no_usage")));
    // An error answer that reports usage is priced from it.
    let billed = json!({ "provider": "openai", "model": "gpt-4o", "status": "400", "input_tokens": 1_000_000 });
    let billed = track(&api, billed).await;
    assert_eq!((billed["cost_usd"].clone(), billed["cost_source"].clone()), (json!("2.5"), json!("catalog")));
    // A stated cost still wins.
    let stated = json!({ "provider": "openai", "model": "gpt-4o", "status": "404", "cost_usd": "0.01" });
    assert_eq!(track(&api, stated).await["cost_source"], "explicit");
});

server_test!(an_unknown_provider_is_named_with_the_nearest_built_in_one_and_can_be_priced, |server| async move {
    let api = Api::signup(&server, "alice").await;

    let event = json!({ "provider": "opena", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 0 });
    let reply = track(&api, event.clone()).await;
    let reason = "provider `opena` is not built in (did you mean `openai`?); price its models with `llmlab prices set \
                  gpt-4o --provider opena …` or POST /api/prices";
    assert_eq!(reply["priced"], false, "{reply}");
    assert_eq!(reply["unpriced_code"], "unknown_provider", "{reply}");
    assert_eq!(reply["unpriced_reason"], reason, "{reply}");
    let batch = api.post("/api/events/batch", json!({ "events": [event] })).await;
    assert_eq!(batch.body["results"][0]["unpriced_code"], "unknown_provider", "{}", batch.text);
    assert_eq!(batch.body["results"][0]["unpriced_reason"], reason, "{}", batch.text);
    let own = track(&api, json!({ "provider": "acme", "model": "acme-7b", "input_tokens": 10 })).await;
    assert!(own["unpriced_reason"].as_str().unwrap().starts_with("provider `acme` is not built in; price"), "{own}");

    let summary = api.get("/api/costs/summary").await;
    let listed = summary.body["unpriced_models"].as_array().unwrap();
    let opena = listed.iter().find(|m| m["provider"] == "opena").unwrap_or_else(|| panic!("{}", summary.text));
    assert_eq!((opena["model"].clone(), opena["reason"].clone()), (json!("gpt-4o"), json!(reason)));

    // A custom provider stays accepted: its own price prices its calls, earlier ones included.
    let price =
        json!({ "model": "gpt-4o", "provider": "opena", "input_per_million_usd": "1", "output_per_million_usd": "1" });
    let set = api.post("/api/prices", price).await;
    assert_eq!((set.status, set.body["repriced_events"].clone()), (StatusCode::CREATED, json!(2)), "{}", set.text);
    assert_eq!(track(&api, event).await["cost_usd"], "1");
});

server_test!(gemini_and_google_are_one_provider_shown_as_google_on_every_input, |server| async move {
    let api = Api::signup(&server, "alice").await;

    // Events: 1M input tokens of gemini-2.5-flash at $0.30/M, under either name.
    for name in ["gemini", "google", "Gemini"] {
        let event = json!({ "provider": name, "model": "gemini-2.5-flash", "input_tokens": 1_000_000 });
        let reply = track(&api, event).await;
        assert_eq!(
            (reply["cost_usd"].clone(), reply["priced_as"].clone()),
            (json!("0.3"), json!("gemini-2.5-flash")),
            "{name}"
        );
    }
    let summary = api.get("/api/costs/summary").await;
    assert_eq!(
        summary.body["by_provider"],
        json!([{ "provider": "google", "cost_usd": "0.9", "calls": 3 }]),
        "{}",
        summary.text
    );
    assert_eq!(summary.body["by_model"][0]["provider"], "google");

    // Prices: set under one name, applied to events under the other, listed as `google`.
    for (set_as, tracked_as) in [("gemini", "google"), ("google", "gemini")] {
        let model = format!("tuned-{set_as}");
        let price =
            json!({ "model": model, "provider": set_as, "input_per_million_usd": "2", "output_per_million_usd": "2" });
        let set = api.post("/api/prices", price).await;
        assert_eq!(set.status, StatusCode::CREATED, "{}", set.text);
        assert_eq!(set.body["price"]["provider"], "google", "{}", set.text);
        let event = json!({ "provider": tracked_as, "model": model, "input_tokens": 1_000_000 });
        assert_eq!(track(&api, event).await["cost_usd"], "2", "set as {set_as}, tracked as {tracked_as}");
    }
    let listed = api.get("/api/prices").await;
    assert!(listed.body.as_array().unwrap().iter().all(|p| p["provider"] == "google"), "{}", listed.text);
});
