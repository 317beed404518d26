//! What `llmlab serve` writes to its log, read from the process's stderr:
//! never a key's secret, no 5xx for a NUL byte, no line a request forged.
//! The rest of the HTTP API tests run in-process, in the server crate
//! (`crates/llmlab-server/tests/api/`); these need the process and its log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api::{Api, server_test};

server_test!(signup_and_login, |server| async move {
    let anonymous = Api::anonymous(&server);
    let empty_body = anonymous.send(Method::POST, "/api/auth/signup", None).await;
    assert_eq!(empty_body.status, StatusCode::CREATED, "{}", empty_body.text);
    let key = empty_body.body["api_key"].as_str().unwrap();
    assert!(key.starts_with("llm_") && key.len() == 52, "{key}");
    assert!(empty_body.body["user_id"].as_str().unwrap().starts_with("usr_"));

    let login = anonymous.post("/api/auth/login", json!({ "api_key": key })).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.body["user_id"], empty_body.body["user_id"]);
    assert_eq!(login.body["projects"][0]["name"], "default");
    let bearer = anonymous.with_key(key).send(Method::POST, "/api/auth/login", None).await;
    assert_eq!(bearer.status, StatusCode::OK);

    let wrong = anonymous
        .post(
            "/api/auth/login",
            json!({ "api_key": format!("{}{}", &key[..51], if key.ends_with('x') { 'y' } else { 'x' }) }),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    let none = anonymous.send(Method::POST, "/api/auth/login", None).await;
    assert_eq!((none.status, none.code()), (StatusCode::UNAUTHORIZED, "missing_api_key"));
    let typo = anonymous.post("/api/auth/signup", json!({ "nmae": "x" })).await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(typo.message().contains("nmae"), "{}", typo.message());

    // The whole log, to the last line: the key (and any wrong one) was sent four times.
    assert!(server.signal("TERM").success());
    let log = server.log();
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains(&key[12..]) && !log.contains(&key[4..40]), "the key's secret must never be logged:\n{log}");
});

server_test!(a_key_id_with_a_nul_byte_is_not_found_on_every_backend, |server| async move {
    let api = Api::signup(&server, "alice").await;
    for path in ["/api/keys/llm_%00", "/api/keys/llm_%00abcdefg", "/api/keys/%00", "/api/keys/llm_abc"] {
        let reply = api.delete(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.text);
        assert_eq!(reply.code(), "not_found", "{path}");
    }
    // A well-formed id of no key of this account: 404 as well.
    assert_eq!(api.delete("/api/keys/llm_00000000").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/account").await.status, StatusCode::OK, "the caller's key still works");
    assert!(!server.log().contains("request failed"), "no 5xx was logged:\n{}", server.log());
});

server_test!(a_newline_in_a_logged_value_cannot_forge_a_log_line, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let marker = "forged-line-marker";
    let model =
        format!("probe-model\n2026-01-01T00:00:00.000000Z  INFO llmlab_server::routes::auth: {marker} API key revoked");

    let reply = alice
        .post("/api/prices", json!({ "model": model, "input_per_million_usd": "1", "output_per_million_usd": "1" }))
        .await;

    // Refusing such a name (422) is fine too; what must never happen is a line the server did not write.
    assert!(matches!(reply.status, StatusCode::CREATED | StatusCode::UNPROCESSABLE_ENTITY), "{}", reply.text);
    assert!(server.signal("TERM").success());
    let log = server.log();
    assert!(log.contains("stopped"), "{log}");
    for line in log.lines().filter(|l| l.contains(marker)) {
        assert!(line.contains("custom price set") && line.contains(r"probe-model\n2026"), "a forged line:\n{log}");
    }
    if reply.status == StatusCode::CREATED {
        assert_eq!(log.lines().filter(|l| l.contains(marker)).count(), 1, "{log}");
    }
});
