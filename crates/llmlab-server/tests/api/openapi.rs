//! The `OpenAPI` document matches the real routes.

use llmlab_test_support::Api;
use reqwest::{Method, StatusCode};

use crate::server_test;

server_test!(every_route_is_documented_and_every_documented_route_exists, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let document = Api::anonymous(&server).get("/api/openapi.json").await;
    assert_eq!(document.status, StatusCode::OK);
    assert!(document.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document.body["paths"].as_object().unwrap();
    for expected in [
        "/health",
        "/api/auth/signup",
        "/api/auth/login",
        "/api/auth/session",
        "/api/auth/sessions",
        "/api/auth/sessions/{session_id}",
        "/api/auth/invites",
        "/api/account",
        "/api/keys",
        "/api/keys/{key_id}",
        "/api/events/track",
        "/api/events/batch",
        "/api/events/export",
        "/api/costs/summary",
        "/api/budgets",
        "/api/budgets/status",
        "/api/prices",
        "/api/prices/{model}",
        "/api/projects",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not in the OpenAPI document");
    }
    // Every documented operation is routed: no 404 (unknown path) or 405 (unknown method).
    for (path, operations) in paths {
        let concrete = path
            .replace("{key_id}", "llm_00000000")
            .replace("{model}", "nothing")
            .replace("{path}", "v1/models")
            .replace("{session_id}", "ses_000000000000");
        for method in operations.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let reply = api.send(method.clone(), &concrete, Some(b"{}".to_vec())).await;
            let unrouted = reply.status == StatusCode::METHOD_NOT_ALLOWED
                || (reply.status == StatusCode::NOT_FOUND && reply.body["error"]["code"] != "not_found");
            assert!(!unrouted, "{method} {path} is documented but not routed ({})", reply.status);
        }
    }
});
