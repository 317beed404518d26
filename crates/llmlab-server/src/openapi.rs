//! What the `OpenAPI` document says about every route at once.
//!
//! Some answers do not come from a handler but from what all handlers share:
//! the [`crate::auth::Caller`] extractor (401), the [`crate::json::Json`]
//! extractor (400, 413, 415, 422), the query and path extractors (422), and
//! the cross-site check on state-changing requests (403). They are added here,
//! from the route's own description, so no route can forget one.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};

/// Adds the shared responses, and makes optional request bodies say what
/// the server does with them.
pub(crate) fn complete(document: &mut OpenApi) {
    for (path, item) in &mut document.paths.paths {
        // The proxy answers in each provider's own error format, documented with its routes.
        if !path.starts_with("/api/") {
            continue;
        }
        for (changes_state, operation) in operations(item) {
            complete_operation(operation, changes_state);
        }
    }
}

/// Every operation of a path, each with whether its method changes state.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (bool, &mut Operation)> {
    [
        (false, item.get.as_mut()),
        (true, item.post.as_mut()),
        (true, item.put.as_mut()),
        (true, item.patch.as_mut()),
        (true, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(changes_state, operation)| operation.map(|o| (changes_state, o)))
}

fn complete_operation(operation: &mut Operation, changes_state: bool) {
    let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if let Some(body) = &mut operation.request_body {
        optional_body(body);
    }
    // OpenAPI requires path parameters to say so; utoipa's `schema_with` leaves them optional.
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in == ParameterIn::Path {
            parameter.required = Required::True;
        }
    }
    let mut add = |status: &str, description: &str| {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
    };
    if has_body {
        add("400", "The body is not valid JSON (`malformed_json`).");
    }
    if authenticated {
        add(
            "401",
            "No API key, or one that is not valid or was revoked (`missing_api_key`, `invalid_api_key`, `revoked_api_key`), \
             or a dashboard session that has ended (`session_ended`).",
        );
    }
    if changes_state {
        add("403", "A cross-site request signed in with the dashboard's session cookie.");
    }
    if has_body {
        add("413", &format!("The body is larger than {}.", crate::BODY_LIMIT_TEXT));
        add("415", "The body is not declared as `Content-Type: application/json` (`unsupported_media_type`).");
    }
    if has_body || has_parameters {
        add("422", "A field or parameter is invalid; the message names it (`invalid_field`).");
    }
}

/// An optional body is read as `{}` when empty; JSON `null` is no body.
/// utoipa describes an `Option<T>` body as "`null` or `T`", which the server
/// refuses, so the `null` alternative is dropped.
fn optional_body(body: &mut RequestBody) {
    let required = matches!(body.required, Some(Required::True));
    if required {
        return;
    }
    body.description.get_or_insert_with(|| "Optional: an empty body is read as `{}`.".to_owned());
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else { continue };
        let not_null: Vec<RefOr<Schema>> = one_of.items.iter().filter(|item| !is_null(item)).cloned().collect();
        if let [only] = not_null.as_slice() {
            content.schema = Some(only.clone());
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if object.schema_type == utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::schema::Type::Null))
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The limits written as literals in `#[schema]` attributes are the ones the server enforces.
    #[test]
    fn literal_limits_in_the_document_are_the_server_s_own() {
        let document = serde_json::to_value(crate::openapi()).unwrap();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["BatchRequest"]["properties"]["events"]["maxItems"],
            crate::service::ingest::MAX_BATCH_EVENTS
        );
        let event = &schemas["TrackEvent"]["properties"];
        for bucket in ["input_tokens", "output_tokens", "cache_read_audio_tokens", "web_search_requests"] {
            assert_eq!(event[bucket]["maximum"], llmlab_core::usage::MAX_TOKENS_PER_CALL, "{bucket}");
        }
        assert_eq!(event["latency_ms"]["maximum"], i64::MAX);
        assert_eq!(event["model"]["maxLength"], crate::service::labels::MAX_MODEL_CHARS);
    }

    #[test]
    fn every_api_operation_lists_the_shared_answers_it_can_give() {
        let document = serde_json::to_value(crate::openapi()).unwrap();
        let operation = |path: &str, method: &str| document["paths"][path][method]["responses"].clone();
        let has = |responses: &Value, status: &str| responses[status]["content"]["application/json"].is_object();
        let track = operation("/api/events/track", "post");
        for status in ["400", "401", "403", "413", "415", "422"] {
            assert!(has(&track, status), "POST /api/events/track: {status}");
        }
        let summary = operation("/api/costs/summary", "get");
        assert!(has(&summary, "401") && has(&summary, "422") && !has(&summary, "403"));
        let health = operation("/health", "get");
        assert!(!has(&health, "401"), "the health check needs no key");
        let proxy = operation("/proxy/openai/{path}", "post");
        assert!(proxy.get("415").is_none() && proxy.get("403").is_none(), "the proxy documents its own answers");
    }
}
