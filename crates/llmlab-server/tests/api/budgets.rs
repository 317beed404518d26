//! Scoped budgets on a real server: created, replaced, changed and removed
//! through the API; what each scope counts, at exactly 80% and 100%, per
//! period in a non-UTC time zone; holds for the SDK's hard mode.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use llmlab_test_support::Api;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::server_test;

async fn patch(api: &Api, path: &str, body: Value) -> llmlab_test_support::Reply {
    api.send(Method::PATCH, path, Some(body.to_string().into_bytes())).await
}

fn spend(usd: &str) -> Value {
    json!({ "provider": "openai", "model": "gpt-4o", "cost_usd": usd, "input_tokens": 1 })
}

async fn budget(api: &Api, id: &Value) -> Value {
    let reply = api.get(&format!("/api/budgets/scoped/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

server_test!(scoped_budgets_are_created_replaced_changed_and_removed, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let key = api.post("/api/keys", json!({ "name": "ci" })).await;
    let ci_key_id = key.body["key"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/budgets/scoped").await.body, json!({ "budgets": [] }));

    let created = api
        .post(
            "/api/budgets/scoped",
            json!({ "amount_usd": "200", "scope": "project", "target": "search", "period": "week", "hard": true }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let project = &created.body;
    assert_eq!(
        (project["scope"].as_str(), project["target"].as_str(), project["period"].as_str(), project["hard"].as_bool()),
        (Some("project"), Some("search"), Some("week"), Some(true))
    );
    assert_eq!(project["thresholds"], json!([80.0, 100.0]));
    assert_eq!(project["status"]["state"], "ok");
    assert_eq!(project["status"]["spent_usd"], "0");
    // The same scope and period again replaces it: 200, same id.
    let replaced = api
        .post(
            "/api/budgets/scoped",
            json!({ "amount_usd": "300", "scope": "project", "target": "search", "period": "week" }),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(
        (replaced.body["id"].clone(), replaced.body["amount_usd"].as_str()),
        (project["id"].clone(), Some("300"))
    );
    assert_eq!(replaced.body["hard"], false);

    // A key by its name; a tag; the account's month (the seed's budget).
    let by_name = api
        .post("/api/budgets/scoped", json!({ "amount_usd": "5", "scope": "key", "target": "ci", "period": "day" }))
        .await;
    assert_eq!(by_name.status, StatusCode::CREATED, "{}", by_name.text);
    assert_eq!(
        (by_name.body["target"].as_str(), by_name.body["target_name"].as_str()),
        (Some(ci_key_id.as_str()), Some("ci"))
    );
    let tag = api
        .post("/api/budgets/scoped", json!({ "amount_usd": "50", "scope": "tag", "target": "customer=acme", "period": "total", "thresholds": [50, 92.5, 100] }))
        .await;
    assert_eq!(tag.status, StatusCode::CREATED, "{}", tag.text);
    assert_eq!(tag.body["thresholds"], json!([50.0, 92.5, 100.0]));
    assert!(tag.body["status"]["period_start"].is_null() && tag.body["status"]["period_end"].is_null());
    let account = api.post("/api/budgets/scoped", json!({ "amount_usd": "1000" })).await;
    assert_eq!(account.status, StatusCode::CREATED, "{}", account.text);
    assert_eq!(
        api.get("/api/budgets").await.body["budget"]["amount_usd"],
        "1000",
        "the seed API sees the account's month"
    );
    assert_eq!(api.get("/api/budgets").await.body["budget"]["period"], "monthly");
    let listed = api.get("/api/budgets/scoped").await.body;
    assert_eq!(listed["budgets"].as_array().unwrap().len(), 4);

    // Changed: amount, hardness, thresholds, period (counted again for the new period).
    let id = &tag.body["id"];
    let changed = patch(
        &api,
        &format!("/api/budgets/scoped/{id}"),
        json!({ "amount_usd": "60", "hard": true, "thresholds": [75], "period": "month" }),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(
        (changed.body["amount_usd"].as_str(), changed.body["hard"].as_bool(), changed.body["period"].as_str()),
        (Some("60"), Some(true), Some("month"))
    );
    assert_eq!(changed.body["thresholds"], json!([75.0]));

    // Bad requests name the field; nothing changes.
    for (bad, field) in [
        (json!({ "amount_usd": "0" }), "amount_usd"),
        (json!({ "amount_usd": "5", "period": "fortnight" }), "period"),
        (json!({ "amount_usd": "5", "scope": "tag", "target": "acme" }), "target"),
        (json!({ "amount_usd": "5", "scope": "key", "target": "nobody" }), "target"),
        (json!({ "amount_usd": "5", "scope": "project" }), "target"),
        (json!({ "amount_usd": "5", "target": "x" }), "target"),
        (json!({ "amount_usd": "5", "thresholds": [0] }), "thresholds"),
        (json!({ "amount_usd": "5", "thresholds": [80, 80] }), "thresholds"),
        (json!({ "amount_usd": "5", "thresholds": [80.125] }), "thresholds"),
    ] {
        let reply = api.post("/api/budgets/scoped", bad.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", reply.text);
        assert!(reply.message().contains(&format!("`{field}`")), "{bad}: {}", reply.message());
    }
    assert_eq!(api.get("/api/budgets/scoped").await.body["budgets"].as_array().unwrap().len(), 4);

    // Removed; then gone. Another account sees none of them.
    let bob = Api::signup(&server, "bob").await;
    assert_eq!(bob.get(&format!("/api/budgets/scoped/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.delete(&format!("/api/budgets/scoped/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        patch(&bob, &format!("/api/budgets/scoped/{id}"), json!({ "hard": false })).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(bob.get("/api/budgets/scoped").await.body, json!({ "budgets": [] }));
    assert_eq!(api.delete(&format!("/api/budgets/scoped/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/api/budgets/scoped/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/budgets/scoped/not-a-number").await.code(), "not_found");
    // The seed's DELETE removes the account's month budget only.
    assert_eq!(api.delete("/api/budgets").await.status, StatusCode::OK);
    assert_eq!(api.get("/api/budgets/scoped").await.body["budgets"].as_array().unwrap().len(), 2);
});

server_test!(each_scope_counts_only_its_calls_to_exactly_80_and_100_percent, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let second = api.post("/api/keys", json!({ "name": "batch" })).await.body["api_key"].as_str().unwrap().to_owned();
    let batch_key = api.with_key(&second);
    let create = |body: Value| {
        let api = api.clone();
        async move {
            let reply = api.post("/api/budgets/scoped", body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
            reply.body["id"].clone()
        }
    };
    let tag = create(json!({ "amount_usd": "10", "scope": "tag", "target": "customer=acme", "period": "day" })).await;
    let key = create(json!({ "amount_usd": "10", "scope": "key", "target": "batch", "period": "day" })).await;
    let project = create(json!({ "amount_usd": "10", "scope": "project", "target": "search", "period": "day" })).await;

    let tagged = |usd: &str, customer: &str| {
        let mut event = spend(usd);
        event["tags"] = json!({ "customer": customer });
        event
    };
    // Untagged and other customers' calls do not count against the tag's budget.
    for event in [spend("5"), tagged("5", "acme-2"), tagged("7.99", "acme")] {
        assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    }
    let state = |b: &Value| (b["status"]["state"].as_str().map(str::to_owned), b["status"]["percent_used"].as_f64());
    assert_eq!(state(&budget(&api, &tag).await), (Some("ok".into()), Some(79.9)));
    api.post("/api/events/track", tagged("0.01", "acme")).await;
    assert_eq!(state(&budget(&api, &tag).await), (Some("warning".into()), Some(80.0)));
    api.post("/api/events/track", tagged("2", "acme")).await;
    assert_eq!(state(&budget(&api, &tag).await), (Some("exceeded".into()), Some(100.0)));

    // Only the `batch` key's calls count against its budget.
    assert_eq!(budget(&api, &key).await["status"]["spent_usd"], "0");
    batch_key.post("/api/events/track", spend("8")).await;
    assert_eq!(state(&budget(&api, &key).await), (Some("warning".into()), Some(80.0)));
    batch_key.post("/api/events/batch", json!({ "events": [spend("1"), spend("1")] })).await;
    assert_eq!(state(&budget(&api, &key).await), (Some("exceeded".into()), Some(100.0)));

    // A project budget, with an unpriced call counted apart.
    let mut in_search = spend("10");
    in_search["project"] = json!("search");
    api.post("/api/events/track", in_search).await;
    let unpriced = json!({ "provider": "openai", "model": "no-such-model", "input_tokens": 1, "project": "search" });
    api.post("/api/events/track", unpriced).await;
    let search = budget(&api, &project).await;
    assert_eq!(state(&search), (Some("exceeded".into()), Some(100.0)));
    assert_eq!(search["status"]["unpriced_calls"], 1);
});

server_test!(a_week_starts_on_monday_in_the_accounts_time_zone, |server| async move {
    let api = Api::signup(&server, "alice").await;
    // Kolkata is UTC+5:30: its Monday starts at 18:30 UTC on Sunday.
    let moved = patch(&api, "/api/account", json!({ "timezone": "Asia/Kolkata" })).await;
    assert_eq!(moved.body["timezone"], "Asia/Kolkata", "{}", moved.text);
    let tz = TimeZone::get("Asia/Kolkata").unwrap();
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    let monday = today.checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days()).unwrap();
    let week_start = monday.to_zoned(tz).unwrap().timestamp();
    let at = |t: Timestamp, usd: &str| {
        let mut event = spend(usd);
        event["timestamp"] = json!(t.to_string());
        event
    };
    // Sunday 23:59:59.999 local: last week. Monday 00:00 local: this week.
    let before = at(week_start - 1.millisecond(), "100");
    let first = at(week_start, "8");
    for event in [before, first] {
        assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    }
    let created = api.post("/api/budgets/scoped", json!({ "amount_usd": "10", "period": "week" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let status = &created.body["status"];
    assert_eq!(status["period_start"], json!(monday.to_string()));
    assert_eq!(
        status["period_end"],
        json!(format!("{}", (week_start + 168.hours()).strftime("%Y-%m-%dT%H:%M:%S.000Z")))
    );
    assert_eq!((status["spent_usd"].as_str(), status["state"].as_str()), (Some("8"), Some("warning")), "{status}");
    assert_eq!(status["percent_used"], 80.0);
    // Moving the account to UTC moves the week's start: counted again.
    patch(&api, "/api/account", json!({ "timezone": "UTC" })).await;
    let utc_monday = {
        let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
        today.checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days()).unwrap()
    };
    let after = budget(&api, &created.body["id"]).await;
    assert_eq!(after["status"]["period_start"], json!(utc_monday.to_string()));
    // Kolkata's Monday 00:00 is Sunday 18:30 UTC: in last week's UTC count, except late on a Sunday
    // (UTC), when Kolkata's week has begun and UTC's has not.
    let expected = if utc_monday == monday { "0" } else { "8" };
    assert_eq!(after["status"]["spent_usd"], expected, "{after}");
});

server_test!(the_sdk_hard_mode_holds_through_the_api_and_the_event_settles_it, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let request = json!({ "model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}] });
    let reserve = |body: Value| {
        let api = api.clone();
        async move { api.post("/api/budgets/reserve", body).await }
    };
    // No hard budget: nothing to hold.
    let free = reserve(json!({ "provider": "openai", "request": request })).await;
    assert_eq!(free.status, StatusCode::OK, "{}", free.text);
    assert!(free.body["reservation_id"].is_null());

    let created =
        api.post("/api/budgets/scoped", json!({ "amount_usd": "0.001", "hard": true, "period": "day" })).await;
    let id = created.body["id"].clone();
    let held = reserve(json!({ "provider": "openai", "request": request, "project": "p" })).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.text);
    let worst = held.body["reserved_usd"].as_str().unwrap().to_owned();
    assert_eq!(budget(&api, &id).await["status"]["reserved_usd"], json!(worst));
    assert_eq!(held.body["budget_ids"], json!([id]));
    // Without the request, the input is bounded by the model's context window: far more than the budget.
    let unseen = reserve(json!({ "provider": "openai", "model": "gpt-4o-mini", "max_output_tokens": 100 })).await;
    assert_eq!((unseen.status, unseen.code()), (StatusCode::TOO_MANY_REQUESTS, "budget_exceeded"), "{}", unseen.text);
    assert!(unseen.message().contains("the day budget of the account is $0.001"), "{}", unseen.message());
    // A model priced at $0 is never refused, and an unbounded call is.
    let priced = api
        .post(
            "/api/prices",
            json!({ "model": "local-llama", "input_per_million_usd": "0", "output_per_million_usd": "0" }),
        )
        .await;
    assert_eq!(priced.status, StatusCode::CREATED, "{}", priced.text);
    let local = reserve(json!({ "provider": "openai", "model": "local-llama" })).await;
    assert_eq!((local.status, local.body["reservation_id"].is_null()), (StatusCode::OK, true), "{}", local.text);
    // An image's tokens are not bounded by its bytes: the model's context window is, over this budget.
    let image = json!({ "model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}] });
    let refused = reserve(json!({ "provider": "openai", "request": image, "path": "/v1/chat/completions" })).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
    // A hold whose call is not made is released by the caller, once.
    let second = reserve(json!({ "provider": "openai", "request": request })).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let hold = second.body["reservation_id"].as_str().unwrap().to_owned();
    assert_eq!(api.delete(&format!("/api/budgets/reservations/{hold}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.delete(&format!("/api/budgets/reservations/{hold}")).await.status, StatusCode::NOT_FOUND);

    // The call's event replaces the hold with the actual cost.
    let mut event =
        json!({ "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5, "project": "p" });
    event["reservation_id"] = held.body["reservation_id"].clone();
    assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    let settled = budget(&api, &id).await;
    assert_eq!(settled["status"]["reserved_usd"], "0");
    assert_eq!(settled["status"]["spent_usd"], "0.0000045");
    let bad = reserve(json!({ "provider": "openai" })).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
});

server_test!(an_empty_batch_is_stored_as_nothing_with_budgets_counting, |server| async move {
    // Found by schema fuzzing: counting budgets for no events queried `in ()`, a PostgreSQL syntax error.
    let api = Api::signup(&server, "alice").await;
    api.post("/api/budgets/scoped", json!({ "amount_usd": "10", "period": "day" })).await;
    let reply = api.post("/api/events/batch", json!({ "events": [] })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["inserted"], 0);
});
