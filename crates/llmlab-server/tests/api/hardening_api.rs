//! Red-team findings (issue 11) on the REST API: text that reaches SQL is
//! checked first (a NUL byte was a 500 on PostgreSQL), JSON bodies must say
//! they are JSON, and the `OpenAPI` document states the server's rules.
//! Every test runs on SQLite and PostgreSQL and expects the same answer.

use llmlab_api::limits::{MAX_MODEL_CHARS, MAX_PROVIDER_CHARS, MAX_TAGS};
use llmlab_test_support::{Api, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::server_test;

/// Sends `body` as is, with `content_type` (none when `None`).
async fn raw(api: &Api, method: Method, path: &str, content_type: Option<&str>, body: &'static str) -> Reply {
    let mut request = api.client.request(method, format!("{}{path}", api.base)).body(body);
    if let Some(key) = &api.key {
        request = request.bearer_auth(key);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, headers }
}

fn assert_invalid(reply: &Reply, field: &str) {
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(reply.code(), "invalid_field", "{}", reply.text);
    assert!(reply.message().contains(&format!("`{field}`")), "the message names `{field}`: {}", reply.text);
}

server_test!(a_nul_byte_in_the_summary_project_filter_is_422_on_every_backend, |server| async move {
    let api = Api::signup(&server, "alice").await;
    assert_invalid(&api.get("/api/costs/summary?project=a%00b").await, "project");
    assert_invalid(&api.get(&format!("/api/costs/summary?project={}", "p".repeat(101))).await, "project");
    // Blank still means every project.
    let all = api.get("/api/costs/summary?project=%20").await;
    assert_eq!((all.status, all.body["project"].clone()), (StatusCode::OK, Value::Null), "{}", all.text);
    let event = json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1, "project": "web" });
    assert_eq!(api.post("/api/events/track", event).await.status, StatusCode::CREATED);
    let one = api.get("/api/costs/summary?project=%20web%20").await;
    assert_eq!(one.body["project"], "web", "{}", one.text);
});

server_test!(prices_refuse_control_characters_and_overlong_models_and_providers, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let price = |model: &str, provider: &str| json!({ "model": model, "provider": provider, "input_per_million_usd": "1", "output_per_million_usd": "2" });
    assert_invalid(&api.post("/api/prices", price("my\u{0}model", "acme")).await, "model");
    assert_invalid(&api.post("/api/prices", price("my-model\n", "acme")).await, "model");
    assert_invalid(&api.post("/api/prices", price(&"m".repeat(MAX_MODEL_CHARS + 1), "acme")).await, "model");
    assert_invalid(&api.post("/api/prices", price("my-model", "ac\u{7}me")).await, "provider");
    assert_invalid(&api.post("/api/prices", price("my-model", &"p".repeat(10_000))).await, "provider");
    assert_invalid(&api.post("/api/prices", price("my-model", "p\u{0}")).await, "provider");

    let longest = "p".repeat(MAX_PROVIDER_CHARS);
    let set = api.post("/api/prices", price(" my-model ", &longest)).await;
    assert_eq!(set.status, StatusCode::CREATED, "{}", set.text);
    assert_eq!(set.body["price"]["model"], "my-model");
    assert_eq!(api.get("/api/prices").await.body.as_array().map(Vec::len), Some(1), "nothing else was stored");

    assert_invalid(&api.delete("/api/prices/my%00model").await, "model");
    assert_eq!(api.delete("/api/prices/my-model").await.status, StatusCode::NO_CONTENT);
});

server_test!(display_names_refuse_control_characters_and_a_blank_one_changes_nothing, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let reply = api.send(Method::PATCH, "/api/account", Some(br#"{"name": "a\u0000b"}"#.to_vec())).await;
    assert_invalid(&reply, "name");
    assert_invalid(&api.post("/api/keys", json!({ "name": "ci\u{0}" })).await, "name");
    let renamed = api.send(Method::PATCH, "/api/account", Some(br#"{"name": "   "}"#.to_vec())).await;
    assert_eq!((renamed.status, renamed.body["name"].as_str()), (StatusCode::OK, Some("alice")), "{}", renamed.text);
});

server_test!(a_json_body_must_be_declared_as_application_json, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let budget = r#"{"amount_usd": "50"}"#;
    for content_type in [None, Some("text/plain"), Some("application/jsonp"), Some("application/json-seq")] {
        let reply = raw(&api, Method::POST, "/api/budgets", content_type, budget).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}: {}", reply.text);
        assert_eq!(reply.code(), "unsupported_media_type", "{content_type:?}");
        assert!(reply.message().contains("application/json"), "{}", reply.text);
    }
    assert_eq!(api.get("/api/budgets").await.body["budget"], Value::Null, "no refused body was applied");
    for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
        let reply = raw(&api, Method::POST, "/api/budgets", Some(content_type), budget).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{content_type}: {}", reply.text);
    }
    // No body at all is still `{}` where every field is optional.
    let signup = raw(&Api::anonymous(&server), Method::POST, "/api/auth/signup", None, "").await;
    assert_eq!(signup.status, StatusCode::CREATED, "{}", signup.text);
    let key = raw(&api, Method::POST, "/api/keys", None, "").await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.text);
    // A required body is still required.
    assert_eq!(raw(&api, Method::POST, "/api/budgets", None, "").await.status, StatusCode::UNPROCESSABLE_ENTITY);
});

server_test!(a_body_must_be_an_object_and_malformed_json_is_400, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let reply = raw(&api, Method::PATCH, "/api/account", Some("application/json"), "[null, null]").await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"), "{}", reply.text);
    let reply = raw(&api, Method::PATCH, "/api/account", Some("application/json"), "[null,").await;
    assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "malformed_json"), "{}", reply.text);
});

server_test!(a_query_string_that_does_not_fit_is_a_json_422, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let reply = api.get("/api/costs/summary?tz=UTC&tz=UTC").await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"), "{}", reply.text);
    assert!(reply.message().contains("tz"), "{}", reply.text);
});

server_test!(token_counts_may_be_written_with_a_zero_fraction, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let event = |tokens: Value| json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": tokens });
    let reply = api.post("/api/events/track", event(json!(1000.0))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["tokens"]["input_tokens"], 1000);
    for refused in [json!(1.5), json!(-1), json!(1e19)] {
        assert_invalid(&api.post("/api/events/track", event(refused.clone())).await, "input_tokens");
    }
});

server_test!(the_document_states_the_rules_the_server_enforces, |server| async move {
    let document = Api::anonymous(&server).get("/api/openapi.json").await.body;
    let schema = |name: &str| document["components"]["schemas"][name].clone();
    let price = schema("SetPriceRequest");
    assert_eq!(price["properties"]["model"]["maxLength"], MAX_MODEL_CHARS);
    assert_eq!(price["properties"]["model"]["minLength"], 1);
    assert_eq!(price["properties"]["provider"]["maxLength"], MAX_PROVIDER_CHARS);
    assert!(price["properties"]["model"]["pattern"].as_str().unwrap().contains(r"\x00-\x1F"));
    assert_eq!(schema("TrackEvent")["properties"]["tags"]["maxProperties"], MAX_TAGS);
    assert_eq!(schema("SetBudgetRequest")["properties"]["period"]["enum"], json!(["monthly"]));
    let keys = &document["paths"]["/api/keys/{key_id}"]["delete"];
    assert_eq!(keys["parameters"][0]["schema"]["pattern"], "^llm_[0-9A-Za-z]{8}$");
    for status in ["401", "403", "404"] {
        assert!(keys["responses"][status].is_object(), "DELETE /api/keys/{{key_id}} lists {status}");
    }
    let budgets = &document["paths"]["/api/budgets"]["post"];
    for status in ["400", "401", "403", "413", "415", "422"] {
        assert!(budgets["responses"][status].is_object(), "POST /api/budgets lists {status}");
    }
    assert_eq!(budgets["requestBody"]["required"], true);
    // Bodies whose fields are all optional may be left out, and are never `null`.
    for (path, method) in [("/api/auth/signup", "post"), ("/api/keys", "post"), ("/api/account", "patch")] {
        let body = &document["paths"][path][method]["requestBody"];
        assert_ne!(body["required"], true, "{method} {path}");
        assert!(body["content"]["application/json"]["schema"]["$ref"].is_string(), "{method} {path}: {body}");
    }
    let tz = &document["paths"]["/api/costs/summary"]["get"]["parameters"][0]["schema"]["enum"];
    assert!(tz.as_array().unwrap().contains(&json!("Europe/Paris")));
});
