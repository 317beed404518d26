//! Accounts, keys, sign-in and health, on a real server.

use llmlab_test_support::Api;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::server_test;

server_test!(health_reports_the_database, |server| async move {
    let reply = Api::anonymous(&server).get("/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "ok");
    let backend = reply.body["database"].as_str().unwrap();
    assert!(backend == "sqlite" || backend == "postgres");
});

server_test!(every_protected_endpoint_needs_a_valid_key, |server| async move {
    let anonymous = Api::anonymous(&server);
    let garbage = anonymous.with_key("llm_not-a-real-key");
    for (method, path) in [
        (Method::GET, "/api/costs/summary"),
        (Method::POST, "/api/events/track"),
        (Method::POST, "/api/events/batch"),
        (Method::GET, "/api/events/export"),
        (Method::GET, "/api/budgets"),
        (Method::POST, "/api/budgets"),
        (Method::GET, "/api/budgets/status"),
        (Method::GET, "/api/budgets/scoped"),
        (Method::POST, "/api/budgets/scoped"),
        (Method::GET, "/api/budgets/scoped/1"),
        (Method::PATCH, "/api/budgets/scoped/1"),
        (Method::DELETE, "/api/budgets/scoped/1"),
        (Method::POST, "/api/budgets/reserve"),
        (Method::DELETE, "/api/budgets/reservations/rsv_x"),
        (Method::GET, "/api/prices"),
        (Method::POST, "/api/prices"),
        (Method::DELETE, "/api/prices/x"),
        (Method::GET, "/api/projects"),
        (Method::GET, "/api/recommendations"),
        (Method::GET, "/api/keys"),
        (Method::POST, "/api/keys"),
        (Method::DELETE, "/api/keys/llm_12345678"),
        (Method::GET, "/api/account"),
        (Method::PATCH, "/api/account"),
        (Method::GET, "/api/auth/sessions"),
        (Method::DELETE, "/api/auth/sessions"),
        (Method::DELETE, "/api/auth/sessions/ses_000000000000"),
        (Method::POST, "/api/auth/invites"),
    ] {
        let missing = anonymous.send(method.clone(), path, Some(b"{}".to_vec())).await;
        assert_eq!((missing.status, missing.code()), (StatusCode::UNAUTHORIZED, "missing_api_key"), "{method} {path}");
        let wrong = garbage.send(method.clone(), path, Some(b"{}".to_vec())).await;
        assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"), "{method} {path}");
    }
});

server_test!(keys_can_be_created_listed_and_revoked, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let created = alice.post("/api/keys", json!({ "name": "ci" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let second = alice.with_key(created.body["api_key"].as_str().unwrap());
    let listed = second.get("/api/keys").await;
    let keys = listed.body.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(!listed.text.contains(&created.body["api_key"].as_str().unwrap()[12..]), "secrets are never listed");
    assert_eq!(keys.iter().filter(|k| k["current"] == true).count(), 1);

    let key_id = created.body["key"]["key_id"].as_str().unwrap();
    let revoked = alice.delete(&format!("/api/keys/{key_id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert!(revoked.body["revoked_at"].is_string());
    let rejected = second.get("/api/costs/summary").await;
    assert_eq!((rejected.status, rejected.code()), (StatusCode::UNAUTHORIZED, "revoked_api_key"));
    let unknown = alice.delete("/api/keys/llm_00000000").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
});

server_test!(the_account_time_zone_can_be_changed, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    assert_eq!(alice.get("/api/account").await.body["timezone"], "UTC");
    let body = json!({ "timezone": "Asia/Kolkata", "hard_budget": true });
    let updated = alice.send(Method::PATCH, "/api/account", Some(body.to_string().into_bytes())).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(
        (updated.body["timezone"].as_str(), updated.body["hard_budget"].as_bool()),
        (Some("Asia/Kolkata"), Some(true))
    );
    let bad = alice.send(Method::PATCH, "/api/account", Some(br#"{"timezone":"Mars/Olympus"}"#.to_vec())).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.message().contains("Mars/Olympus"));
});

server_test!(the_dashboard_session_cookie_is_httponly, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let anonymous = Api::anonymous(&server);
    let signed_in = anonymous.post("/api/auth/session", json!({ "api_key": alice.key.clone().unwrap() })).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let cookie = signed_in.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let signed_out = anonymous.delete("/api/auth/session").await;
    assert!(signed_out.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
});
