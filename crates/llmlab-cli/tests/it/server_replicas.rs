//! Two `llmlab serve` processes on one database, as replicas behind a load
//! balancer (red-team finding, issue 11): a key revoked on one is refused by
//! the other once its key cache expires.

use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Api, server_test};

server_test!(a_key_revoked_on_one_replica_is_refused_by_another_once_its_cache_expires, |server| async move {
    let replica = server.replica();
    let on_a = Api::signup(&server, "alice").await;
    let created = on_a.post("/api/keys", json!({ "name": "ci" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let second_key = created.body["api_key"].as_str().unwrap().to_owned();
    let on_b = Api { base: replica.base_url.clone(), ..on_a.with_key(&second_key) };
    assert_eq!(on_b.get("/api/account").await.status, StatusCode::OK, "replica B now caches the key");

    let revoked = on_a.delete(&format!("/api/keys/{}", &second_key[..12])).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let at_once = on_a.with_key(&second_key).get("/api/account").await;
    assert_eq!(
        (at_once.status, at_once.code()),
        (StatusCode::UNAUTHORIZED, "revoked_api_key"),
        "replica A forgets at once"
    );

    // docs/proxy.md and docs/deployment.md: other replicas refuse it within KEY_CACHE_TTL.
    tokio::time::sleep(llmlab_server::cache::KEY_CACHE_TTL + std::time::Duration::from_millis(250)).await;
    let later = on_b.get("/api/account").await;
    assert_eq!((later.status, later.code()), (StatusCode::UNAUTHORIZED, "revoked_api_key"), "{}", later.text);
    let proxied = reqwest::Client::new()
        .post(format!("{}/proxy/openai/v1/chat/completions", replica.base_url))
        .header("x-llmlab-key", &second_key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(proxied.headers()["x-llmlab-error"], "llmlab_invalid_api_key");
});
