//! Tracking events on a real server: pricing, idempotency, validation, limits.

use llmlab_test_support::{Api, fixtures_dir};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::server_test;

fn decimal(value: &Value) -> Decimal {
    value.as_str().unwrap_or_else(|| panic!("a decimal string, got {value}")).parse().unwrap()
}

async fn all_time(api: &Api) -> (Decimal, u64) {
    let summary = api.get("/api/costs/summary").await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    (decimal(&summary.body["all_time_usd"]), summary.body["all_time_calls"].as_u64().unwrap())
}

/// Non-streamed fixtures whose body carries the usage the SDK would send.
fn usage_fixtures() -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    for provider in ["openai", "anthropic", "gemini"] {
        for entry in std::fs::read_dir(fixtures_dir().join(provider)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".body.json") {
                continue;
            }
            let expected: Value = serde_json::from_str(
                &std::fs::read_to_string(path.with_file_name(name.replace(".body.json", ".expected.json"))).unwrap(),
            )
            .unwrap();
            let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let usage = body.get("usage").or_else(|| body.get("usageMetadata")).cloned();
            if let (Some(usage), Some(model)) = (usage, expected["model"].as_str()) {
                if expected["service_tier"] != "standard" || expected["api"] == "openai.batch_line" {
                    continue; // the tier comes from outside the usage object
                }
                let mut event =
                    json!({ "provider": expected["provider"], "model": model, "usage": usage, "event_id": name });
                if let Some(parts) = response_parts(&body) {
                    event["response_parts"] = parts;
                }
                found.push((name, event, expected));
            }
        }
    }
    found
}

/// What the SDK sends beside the usage for per-request fees: the hosted-tool
/// items of an OpenAI Responses `output` (type, status, container) and the
/// Gemini candidates' search queries.
fn response_parts(body: &Value) -> Option<Value> {
    if let Some(output) = body["output"].as_array() {
        let tools: Vec<Value> = output
            .iter()
            .filter(|item| item["type"].as_str().is_some_and(|t| t.ends_with("_call")))
            .map(|item| json!({"type": item["type"], "status": item["status"], "container_id": item["container_id"]}))
            .collect();
        return (!tools.is_empty()).then(|| json!({ "output": tools }));
    }
    let candidates = body["candidates"].as_array()?;
    let grounded: Vec<Value> = candidates
        .iter()
        .filter_map(|c| c.get("groundingMetadata"))
        .map(|g| json!({"groundingMetadata": {"webSearchQueries": g["webSearchQueries"]}}))
        .collect();
    (!grounded.is_empty()).then(|| json!({ "candidates": grounded }))
}

server_test!(raw_usage_is_priced_exactly_like_llmlab_cost, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let fixtures = usage_fixtures();
    assert!(fixtures.len() > 20, "{}", fixtures.len());
    for (name, event, expected) in fixtures {
        let reply = api.post("/api/events/track", event).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.text);
        assert_eq!(reply.body["priced"], expected["priced"], "{name}: {}", reply.text);
        for (class, count) in expected["buckets"].as_object().unwrap() {
            assert_eq!(&reply.body["tokens"][class], count, "{name}: {class}");
        }
        if expected["priced"] == true {
            assert_eq!(decimal(&reply.body["cost_usd"]), decimal(&expected["cost_usd"]), "{name}");
            let lines = reply.body["cost_lines"].as_array().unwrap();
            let exact: Decimal = lines.iter().map(|line| decimal(&line["cost_usd"])).sum();
            assert_eq!(exact.round_dp(9), decimal(&expected["cost_usd"]), "{name}: the lines add up to the cost");
            for (class, fee) in [
                ("web_search_requests", "web_search"),
                ("file_search_calls", "file_search"),
                ("container_sessions", "container_session"),
                ("grounded_prompts", "grounded_prompt"),
            ] {
                let count = expected["buckets"][class].as_u64().unwrap_or(0);
                let line = lines.iter().find(|line| line["class"] == fee);
                assert_eq!(
                    line.map(|l| l["quantity"].as_u64().unwrap()),
                    (count > 0).then_some(count),
                    "{name}: {fee}"
                );
            }
            let notes = reply.body["notes"].as_array().unwrap();
            for wanted in expected["notes"].as_array().into_iter().flatten() {
                let wanted = wanted.as_str().unwrap();
                assert!(notes.iter().any(|n| n.as_str().unwrap().contains(wanted)), "{name}: `{wanted}` in {notes:?}");
            }
        } else {
            assert!(reply.body["cost_usd"].is_null(), "{name}: never a silent $0");
            assert!(reply.body["unpriced_reason"].is_string(), "{name}");
        }
    }
});

server_test!(the_served_tier_and_host_decide_the_price_and_a_requested_tier_is_noted, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // 100,000 input × $2.50/M + 10,000 output × $15/M = $0.40 for gpt-5.4 at standard rates.
    let call = json!({ "provider": "openai", "model": "gpt-5.4", "input_tokens": 100_000, "output_tokens": 10_000 });
    let mut asked_priority = call.clone();
    asked_priority["requested_service_tier"] = json!("priority");
    asked_priority["service_tier"] = json!("default");
    let reply = api.post("/api/events/track", asked_priority).await;
    assert_eq!(decimal(&reply.body["cost_usd"]), Decimal::new(4, 1), "{}", reply.text);
    assert_eq!(reply.body["service_tier"], "standard");
    let notes = reply.body["notes"].to_string();
    assert!(notes.contains("asked for the `priority` tier") && notes.contains("priced at standard"), "{notes}");
    // Served on the tier asked for: no note.
    let mut served = call.clone();
    served["requested_service_tier"] = json!("priority");
    served["service_tier"] = json!("priority");
    let reply = api.post("/api/events/track", served).await;
    assert_eq!(decimal(&reply.body["cost_usd"]), Decimal::new(8, 1), "priority: $5/M and $30/M");
    assert!(!reply.body["notes"].to_string().contains("asked for"), "{}", reply.text);
    // A regional host (data residency): ×1.1 for gpt-5.4, none for gpt-4o.
    let mut regional = call.clone();
    regional["upstream_host"] = json!("eu.api.openai.com");
    let reply = api.post("/api/events/track", regional).await;
    assert_eq!(decimal(&reply.body["cost_usd"]), Decimal::new(44, 2), "{}", reply.text);
    assert!(reply.body["notes"].to_string().contains("data residency"), "{}", reply.text);
    let mut global = call;
    global["upstream_host"] = json!("api.openai.com");
    assert_eq!(decimal(&api.post("/api/events/track", global).await.body["cost_usd"]), Decimal::new(4, 1));
    // Bad values are named.
    let reply = api
        .post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "upstream_host": "a\u{0}b" }))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.text.contains("upstream_host"), "{}", reply.text);
});

/// The cut-off stream fixtures (`"partial": true`): what an SDK sends for
/// them is the usage seen so far, here as the expected buckets, with `partial`.
fn partial_fixtures() -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    for provider in ["openai", "anthropic", "gemini"] {
        for entry in std::fs::read_dir(fixtures_dir().join(provider)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".expected.json") else { continue };
            let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if expected["partial"] != true {
                continue;
            }
            let mut event = expected["buckets"].clone();
            event["provider"] = expected["provider"].clone();
            event["model"] = expected["model"].clone();
            event["event_id"] = json!(stem);
            event["partial"] = json!(true);
            event["partial_reason"] = json!(format!("cut off: {}", expected["partial_reason"].as_str().unwrap()));
            found.push((stem.to_owned(), event, expected));
        }
    }
    found
}

server_test!(a_cut_off_stream_is_priced_as_a_lower_bound_and_counted_as_partial, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let fixtures = partial_fixtures();
    assert!(fixtures.len() >= 4, "{}", fixtures.len());
    for (name, event, expected) in &fixtures {
        let reply = api.post("/api/events/track", event.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.text);
        assert_eq!(decimal(&reply.body["cost_usd"]), decimal(&expected["cost_usd"]), "{name}");
        assert_eq!(reply.body["partial"], true, "{name}: {}", reply.text);
        assert_eq!(reply.body["partial_reason"], event["partial_reason"], "{name}");
        assert!(reply.body["unpriced_reason"].is_null(), "{name}: partial is not unpriced");
    }
    let summary = api.get("/api/costs/summary").await.body;
    assert_eq!(summary["all_time_partial_calls"].as_u64(), Some(fixtures.len() as u64), "{summary}");
    assert_eq!(summary["unpriced_calls"], 0);
    let total: Decimal = fixtures.iter().map(|(_, _, expected)| decimal(&expected["cost_usd"])).sum();
    assert_eq!(decimal(&summary["all_time_usd"]), total, "the lower bounds are in the total");

    // `partial` without a reason gets a sentence; a reason needs `partial: true`; partial needs usage.
    let bare = json!({"provider": "openai", "model": "gpt-4o", "output_tokens": 10, "partial": true});
    let reply = api.post("/api/events/track", bare).await;
    assert!(reply.body["partial_reason"].as_str().unwrap().contains("ended before its final usage"), "{}", reply.text);
    let stray = json!({"provider": "openai", "model": "gpt-4o", "output_tokens": 10, "partial_reason": "cut"});
    let reply = api.post("/api/events/track", stray).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.text.contains("partial_reason"), "{}", reply.text);
    let empty = json!({"provider": "openai", "model": "gpt-4o", "partial": true});
    let reply = api.post("/api/events/track", empty).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(reply.text.contains("usage seen so far"), "{}", reply.text);
});

server_test!(a_clients_note_is_kept_with_the_event_and_checked_like_free_text, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let noted = json!({"provider": "openai", "model": "gpt-4o", "output_tokens": 10, "note": "  billed by a plan  "});
    let reply = api.post("/api/events/track", noted).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["notes"], json!(["billed by a plan"]), "trimmed, beside the server's own notes");
    let csv = api.get("/api/events/export").await.text;
    assert!(csv.contains("billed by a plan"), "and in the export's notes: {csv}");
    for bad in [json!("line\nbreak"), json!("x".repeat(501))] {
        let event = json!({"provider": "openai", "model": "gpt-4o", "output_tokens": 10, "note": bad});
        let reply = api.post("/api/events/track", event).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        assert!(reply.text.contains("note"), "{}", reply.text);
    }
});

server_test!(buckets_batch_tier_and_explicit_cost, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // 1,000,000 input × $2.50/M + 100,000 output × $10/M = 2.5 + 1.0
    let buckets =
        json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000 });
    let reply = api.post("/api/events/track", buckets.clone()).await;
    assert_eq!(decimal(&reply.body["cost_usd"]), Decimal::new(35, 1), "{}", reply.text);
    let mut batch = buckets.clone();
    batch["batch"] = json!(true);
    assert_eq!(decimal(&api.post("/api/events/track", batch).await.body["cost_usd"]), Decimal::new(175, 2));
    let mut explicit = buckets;
    explicit["cost_usd"] = json!("0.0123");
    let reply = api.post("/api/events/track", explicit).await;
    assert_eq!(
        (decimal(&reply.body["cost_usd"]), reply.body["cost_source"].as_str()),
        (Decimal::new(123, 4), Some("explicit"))
    );
    let unknown_usage = api.post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o" })).await;
    assert_eq!(unknown_usage.status, StatusCode::CREATED);
    assert!(unknown_usage.body["cost_usd"].is_null());
    assert!(unknown_usage.body["unpriced_reason"].as_str().unwrap().contains("no usage"));
    let mut fast =
        json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "service_tier": "ultrafast" });
    let reply = api.post("/api/events/track", fast.take()).await;
    assert_eq!((reply.status, reply.body["cost_usd"].as_str()), (StatusCode::CREATED, Some("2.5")), "{}", reply.text);
    assert!(reply.body["notes"][0].as_str().unwrap().contains("`ultrafast` has no catalog prices"), "{}", reply.text);
    let (total, calls) = all_time(&api).await;
    assert_eq!((total, calls), (Decimal::new(77623, 4), 5));
});

server_test!(a_duplicate_event_id_is_counted_once, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let event = json!({ "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1000, "output_tokens": 100, "event_id": "retry-1" });
    let first = api.post("/api/events/track", event.clone()).await;
    let second = api.post("/api/events/track", event).await;
    assert_eq!((first.status, second.status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(second.body["duplicate"], true);
    assert_eq!(second.body["cost_usd"], first.body["cost_usd"]);
    let batch = json!({ "events": [
        { "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1000, "output_tokens": 100, "event_id": "retry-1" },
        { "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1000, "output_tokens": 100, "event_id": "new-1" },
        { "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1000, "output_tokens": 100, "event_id": "new-1" }
    ]});
    let reply = api.post("/api/events/batch", batch).await;
    assert_eq!(
        (reply.body["inserted"].as_u64(), reply.body["duplicates"].as_u64()),
        (Some(1), Some(2)),
        "{}",
        reply.text
    );
    // 1000 × $1/M + 100 × $5/M = 0.0015, twice.
    assert_eq!(all_time(&api).await, (Decimal::new(30, 4), 2));
});

server_test!(concurrent_calls_and_retries_are_each_counted_once, |server| async move {
    // Many requests at once end up in shared group commits (two at a time on
    // PostgreSQL); every id is sent twice, concurrently, by two accounts.
    let alice = Api::signup(&server, "alice").await;
    let bob = Api::signup(&server, "bob").await;
    let requests = (0..120).flat_map(|n| {
        let event = json!({ "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1000,
                            "output_tokens": 100 + n, "event_id": format!("call-{n}") });
        [alice.clone(), alice.clone(), bob.clone(), bob.clone()].map(|api| {
            let event = event.clone();
            async move { api.post("/api/events/track", event).await }
        })
    });
    let replies = futures::future::join_all(requests).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let repeated = replies.iter().filter(|r| r.status == StatusCode::OK && r.body["duplicate"] == true).count();
    assert_eq!((created, repeated), (240, 240), "{:?}", replies.iter().map(|r| &r.text).find(|t| t.contains("error")));
    // Each account: 120 × $0.001 input + Σ(100..220) × $5/M output = 0.12 + 0.095700.
    for api in [&alice, &bob] {
        assert_eq!(all_time(api).await, (Decimal::new(2_157, 4), 120));
    }
});

server_test!(an_unknown_model_is_unpriced_until_a_price_is_added, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for id in ["a", "b"] {
        let event = json!({ "provider": "mistral", "model": "acme-llm-7b", "input_tokens": 2_000_000, "output_tokens": 1_000_000, "event_id": id });
        let reply = api.post("/api/events/track", event).await;
        assert_eq!(reply.body["priced"], false, "{}", reply.text);
        assert!(reply.body["unpriced_reason"].as_str().unwrap().contains("acme-llm-7b"));
    }
    let summary = api.get("/api/costs/summary").await;
    assert_eq!(summary.body["unpriced_calls"], 2);
    assert_eq!(summary.body["unpriced_models"][0]["model"], "acme-llm-7b");
    assert_eq!(decimal(&summary.body["all_time_usd"]), Decimal::ZERO);

    let price = json!({ "model": "acme-llm-7b", "input_per_million_usd": "0.50", "output_per_million_usd": "1.50" });
    let set = api.post("/api/prices", price).await;
    assert_eq!(set.status, StatusCode::CREATED, "{}", set.text);
    assert_eq!(set.body["repriced_events"], 2);
    // Each: 2 × 0.50 + 1 × 1.50 = 2.50.
    let summary = api.get("/api/costs/summary").await;
    assert_eq!(decimal(&summary.body["all_time_usd"]), Decimal::new(500, 2), "{}", summary.text);
    assert_eq!(summary.body["unpriced_calls"], 0);
    let later = api
        .post(
            "/api/events/track",
            json!({ "provider": "mistral", "model": "acme-llm-7b", "input_tokens": 1_000_000, "output_tokens": 0 }),
        )
        .await;
    assert_eq!((later.body["cost_usd"].as_str(), later.body["cost_source"].as_str()), (Some("0.5"), Some("custom")));
    let listed = api.get("/api/prices").await;
    assert_eq!(listed.body[0]["model"], "acme-llm-7b");
    assert_eq!(api.delete("/api/prices/acme-llm-7b").await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.delete("/api/prices/acme-llm-7b").await.status, StatusCode::NOT_FOUND);
    let negative = api
        .post("/api/prices", json!({ "model": "x", "input_per_million_usd": "-1", "output_per_million_usd": "1" }))
        .await;
    assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(negative.message().contains("input_per_million_usd"));
});

server_test!(bad_input_gets_a_4xx_naming_the_field_and_writes_nothing, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{not json".to_vec(), StatusCode::BAD_REQUEST, "not valid JSON"),
        (br#"{"model":"gpt-4o"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "provider"),
        (
            br#"{"provider":"openai","model":"gpt-4o","input_tokens":-5}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "`input_tokens`",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","input_tokenz":5}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "input_tokenz",
        ),
        (
            br#"{"provider":"openai","model":" ","input_tokens":5}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "`model`",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","timestamp":"yesterday"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "`timestamp`",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","timestamp":"2099-01-01T00:00:00Z"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "future",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","usage":{"prompt_tokens":"ten"}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt_tokens",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","usage":{"prompt_tokens":1},"input_tokens":1}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not both",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","cost_usd":"abc"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cost_usd",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","cost_usd":"-1"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cost_usd",
        ),
        (
            br#"{"provider":"openai","model":"gpt-4o","input_tokens":5000000000000}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "input_tokens",
        ),
    ];
    for (body, status, needle) in cases {
        let reply = api.send(Method::POST, "/api/events/track", Some(body.clone())).await;
        let shown = String::from_utf8_lossy(&body);
        assert_eq!(reply.status, status, "{shown}: {}", reply.text);
        assert!(reply.message().contains(needle), "{shown}: `{}` lacks `{needle}`", reply.message());
    }
    let bad_batch = json!({ "events": [
        { "provider": "openai", "model": "gpt-4o", "input_tokens": 10 },
        { "provider": "openai", "model": "gpt-4o", "input_tokens": "ten" }
    ]});
    let reply = api.post("/api/events/batch", bad_batch).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.message().contains("events[1].input_tokens"), "{}", reply.message());
    let invalid_second = json!({ "events": [
        { "provider": "openai", "model": "gpt-4o", "input_tokens": 10 },
        { "provider": "openai", "model": "gpt-4o", "timestamp": "nope" }
    ]});
    let reply = api.post("/api/events/batch", invalid_second).await;
    assert!(reply.message().contains("events[1].timestamp"), "{}", reply.message());
    assert_eq!(all_time(&api).await.1, 0, "a rejected batch stores nothing");
});

server_test!(an_oversized_body_gets_413_and_writes_nothing, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let event =
        json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 10, "tags": { "padding": "x".repeat(400) } });
    let events: Vec<Value> = (0..1_000).map(|_| event.clone()).collect();
    // Valid JSON padded to one byte over 8 MiB. The server refuses it from its
    // `Content-Length` at once, and keeps reading (and dropping) the rest while
    // the client sends it, so the client reads the 413, not a broken pipe.
    let mut body = json!({ "events": events }).to_string().into_bytes();
    body.resize(llmlab_server::BODY_LIMIT + 1, b' ');
    let reply = api.send(Method::POST, "/api/events/batch", Some(body)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{}", reply.text);
    assert!(reply.message().contains("8 MiB"));
    assert_eq!(all_time(&api).await.1, 0);
});

server_test!(projects_are_created_on_first_use, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for project in ["search", "search", "chat"] {
        api.post(
            "/api/events/track",
            json!({ "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1_000_000, "project": project }),
        )
        .await;
    }
    let projects = api.get("/api/projects").await;
    let names: Vec<&str> = projects.body.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chat", "default", "search"]);
    let search = &projects.body[2];
    assert_eq!((search["calls"].as_u64(), search["all_time_usd"].as_str()), (Some(2), Some("0.3")));
    let only_chat = api.get("/api/costs/summary?project=chat").await;
    assert_eq!(only_chat.body["all_time_usd"], "0.15");
});

server_test!(export_streams_csv_with_a_header, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for (i, model) in ["gpt-4o", "acme, \"quoted\""].iter().enumerate() {
        api.post("/api/events/track", json!({ "provider": "openai", "model": model, "input_tokens": 1000, "event_id": format!("e{i}"), "timestamp": "2026-11-02T10:00:00Z" })).await;
    }
    let reply = api.get("/api/events/export?from=2026-11-01&to=2026-11-30").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = reply.text.lines().collect();
    assert!(lines[0].starts_with("timestamp,event_id,provider,model,project,input_tokens"), "{}", lines[0]);
    assert_eq!(lines.len(), 3, "{}", reply.text);
    assert!(
        lines[1].contains("e0,openai,gpt-4o,default,1000") && lines[1].contains(",0.0025,catalog,gpt-4o,"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains(r#""acme, ""quoted""""#), "CSV quoting: {}", lines[2]);
    let outside = api.get("/api/events/export?from=2026-10-01&to=2026-10-31").await;
    assert_eq!(outside.text.lines().count(), 1);
    let bad = api.get("/api/events/export?from=November").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
});
