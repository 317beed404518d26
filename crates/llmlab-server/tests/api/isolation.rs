//! One account never sees another's data, through any endpoint.

use llmlab_test_support::Api;
use reqwest::StatusCode;
use serde_json::json;

use crate::server_test;

server_test!(another_users_data_is_never_visible, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let bob = Api::signup(&server, "bob").await;
    let secret_model = "alice-secret-model";
    alice.post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "project": "alice-project", "event_id": "shared-id" })).await;
    alice.post("/api/events/track", json!({ "provider": "custom", "model": secret_model, "input_tokens": 10 })).await;
    alice
        .post(
            "/api/prices",
            json!({ "model": secret_model, "input_per_million_usd": "1", "output_per_million_usd": "1" }),
        )
        .await;
    // Six digits in a row: no timestamp or cost of Bob's can contain them by chance.
    alice.post("/api/budgets", json!({ "amount_usd": "987654" })).await;

    // Bob's own event with the same event_id is his, not a duplicate of Alice's.
    let bobs = bob
        .post(
            "/api/events/track",
            json!({ "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1_000_000, "event_id": "shared-id" }),
        )
        .await;
    assert_eq!((bobs.status, bobs.body["duplicate"].as_bool()), (StatusCode::CREATED, Some(false)));

    for path in [
        "/api/costs/summary",
        "/api/events/export",
        "/api/projects",
        "/api/prices",
        "/api/budgets",
        "/api/budgets/status",
        "/api/keys",
        "/api/account",
        "/api/recommendations",
    ] {
        let reply = bob.get(path).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.text);
        for leak in [secret_model, "alice-project", "alice", "987654", alice.key.as_deref().unwrap()] {
            assert!(!reply.text.contains(leak), "{path} shows Alice's `{leak}`: {}", reply.text);
        }
    }
    // Naming Alice's project tells Bob that he has no such project, listing only his own.
    let probe = bob.get("/api/costs/summary?project=alice-project").await;
    assert_eq!((probe.status, probe.code()), (StatusCode::NOT_FOUND, "project_not_found"), "{}", probe.text);
    assert_eq!(probe.message(), "this account has no project `alice-project`; its projects are `default`");
    let summary = bob.get("/api/costs/summary").await.body;
    assert_eq!(summary["all_time_usd"], "0.15");
    let alice_key_id = &alice.key.as_deref().unwrap()[..12];
    assert_eq!(bob.delete(&format!("/api/keys/{alice_key_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.delete(&format!("/api/prices/{secret_model}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(alice.get("/api/costs/summary").await.status, StatusCode::OK, "Alice's key still works");
});
