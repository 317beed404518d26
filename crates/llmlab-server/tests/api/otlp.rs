//! `POST /v1/traces`: OTLP/HTTP exports (protobuf, JSON, gzip) recorded as
//! events with the catalog's prices; partial success, keys, limits, retries.

use std::io::Write;

use llmlab_test_support::Api;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::server_test;

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..KeyValue::default() }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, Any::StringValue(value.to_owned()))
}

fn n(key: &str, value: i64) -> KeyValue {
    kv(key, Any::IntValue(value))
}

fn now_nanos() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_nanos()).unwrap() - 60_000_000_000
}

fn span(id: u8, name: &str, attributes: Vec<KeyValue>) -> Span {
    let start = now_nanos();
    Span {
        trace_id: vec![7; 16],
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        name: name.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_250_000_000,
        attributes,
        ..Span::default()
    }
}

/// gpt-4o: 86 uncached × $2.50/M + 1,920 cached × $1.25/M + 300 output × $10/M = $0.005615.
fn openai_chat(id: u8) -> Span {
    span(
        id,
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            n("gen_ai.usage.input_tokens", 2_006),
            n("gen_ai.usage.cache_read.input_tokens", 1_920),
            n("gen_ai.usage.output_tokens", 300),
        ],
    )
}

/// claude-sonnet-4-5 with OpenLLMetry's input (cache included): 10 × $3/M + 2,000 reads × $0.30/M +
/// 1,000 writes × $3.75/M + 50 output × $15/M = $0.00513.
fn anthropic_chat(id: u8) -> Span {
    span(
        id,
        "anthropic.chat",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "anthropic"),
            s("gen_ai.request.model", "claude-sonnet-4-5"),
            n("gen_ai.usage.input_tokens", 3_010),
            n("gen_ai.usage.cache_read.input_tokens", 2_000),
            n("gen_ai.usage.cache_creation.input_tokens", 1_000),
            n("gen_ai.usage.output_tokens", 50),
            s("llmlab.tag.team", "search"),
        ],
    )
}

fn http_span(id: u8) -> Span {
    span(id, "POST", vec![s("http.request.method", "POST"), n("http.response.status_code", 200)])
}

fn request(scope: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![s("service.name", "checkout")], ..Resource::default() }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.to_owned(),
                    version: "0.62.4".to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

async fn send(api: &Api, body: Vec<u8>, content_type: &str, gzip: bool) -> Answer {
    let mut request = api.client.post(format!("{}/v1/traces", api.base)).header("content-type", content_type);
    if let Some(key) = &api.key {
        request = request.bearer_auth(key);
    }
    let body = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&body).unwrap();
        request = request.header("content-encoding", "gzip");
        encoder.finish().unwrap()
    } else {
        body
    };
    let response = request.body(body).send().await.expect("the server answers");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    Answer { status, content_type, body: response.bytes().await.unwrap().to_vec() }
}

async fn send_protobuf(api: &Api, request: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let answer = send(api, request.encode_to_vec(), "application/x-protobuf", false).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.content_type, "application/x-protobuf");
    ExportTraceServiceResponse::decode(&answer.body[..]).expect("an ExportTraceServiceResponse")
}

async fn totals(api: &Api) -> (Decimal, u64, Value) {
    let summary = api.get("/api/costs/summary").await;
    let cost = summary.body["all_time_usd"].as_str().unwrap().parse().unwrap();
    (cost, summary.body["all_time_calls"].as_u64().unwrap(), summary.body)
}

server_test!(otlp_protobuf_export_records_llm_spans_at_catalog_prices, |server| async move {
    let api = Api::signup(&server, "otel").await;
    let export =
        request("opentelemetry.instrumentation.anthropic", vec![openai_chat(1), http_span(2), anthropic_chat(3)]);
    let response = send_protobuf(&api, &export).await;
    assert_eq!(response.partial_success, None);
    let (cost, calls, summary) = totals(&api).await;
    assert_eq!(calls, 2, "the HTTP span is not a call: {summary}");
    assert_eq!(cost, Decimal::new(10_745, 6), "$0.005615 + $0.00513: {summary}");
    let projects = api.get("/api/projects").await;
    assert!(projects.text.contains("checkout"), "service.name is the project: {}", projects.text);
    let csv = api.get("/api/events/export").await.text;
    assert!(csv.contains("otel-07070707070707070707070707070707-0000000000000003"), "{csv}");
    assert!(csv.contains("team") && csv.contains("search") && csv.contains("otel"), "tags: {csv}");
});

server_test!(otlp_json_and_gzip_exports_are_read_like_protobuf, |server| async move {
    let api = Api::signup(&server, "otel-json").await;
    let export = request("opentelemetry.instrumentation.openai_v2", vec![openai_chat(1)]);
    // The OTLP/JSON encoding: camelCase, hex ids, 64-bit integers as strings.
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"], "0000000000000001");
    let answer = send(&api, json.to_string().into_bytes(), "application/json", true).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&answer.body).unwrap(), serde_json::json!({}));
    let gzipped = request("opentelemetry.instrumentation.anthropic", vec![anthropic_chat(2)]);
    let answer = send(&api, gzipped.encode_to_vec(), "application/x-protobuf", true).await;
    assert_eq!(answer.status, StatusCode::OK);
    let (cost, calls, summary) = totals(&api).await;
    assert_eq!((cost, calls), (Decimal::new(10_745, 6), 2), "{summary}");
});

server_test!(otlp_unusable_llm_spans_are_a_partial_success, |server| async move {
    let api = Api::signup(&server, "otel-partial").await;
    let mut no_model = openai_chat(2);
    no_model.attributes.retain(|kv| !matches!(kv.key.as_str(), "gen_ai.request.model" | "gen_ai.response.model"));
    let mut negative = openai_chat(3);
    negative.attributes.push(n("gen_ai.usage.output_tokens", -1));
    negative.attributes.retain(|kv| kv.value != Some(AnyValue { value: Some(Any::IntValue(300)) }));
    let export = request("opentelemetry.instrumentation.openai_v2", vec![openai_chat(1), no_model, negative]);
    let response = send_protobuf(&api, &export).await;
    let partial = response.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 2);
    assert!(partial.error_message.contains("span 0000000000000002 (chat gpt-4o) names no model"), "{partial:?}");
    assert!(partial.error_message.contains("gen_ai.usage.output_tokens"), "{partial:?}");
    let (cost, calls, _) = totals(&api).await;
    assert_eq!((cost, calls), (Decimal::new(5_615, 6), 1), "the usable span is recorded");

    // The same in JSON: `rejectedSpans` is a decimal string, as the protobuf JSON mapping writes int64.
    let json = serde_json::to_vec(&export).unwrap();
    let answer = send(&api, json, "application/json", false).await;
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "2", "{body}");
});

server_test!(otlp_a_retried_export_records_each_call_once, |server| async move {
    let api = Api::signup(&server, "otel-retry").await;
    let export = request("opentelemetry.instrumentation.openai_v2", vec![openai_chat(1), openai_chat(1)]);
    send_protobuf(&api, &export).await;
    send_protobuf(&api, &export).await;
    let (cost, calls, _) = totals(&api).await;
    assert_eq!((cost, calls), (Decimal::new(5_615, 6), 1));
});

server_test!(otlp_refuses_bad_keys_bodies_and_sizes, |server| async move {
    let api = Api::signup(&server, "otel-refusals").await;
    let export = request("opentelemetry.instrumentation.openai_v2", vec![openai_chat(1)]).encode_to_vec();
    // Keys: missing or wrong → 401 with a google.rpc.Status body.
    let anonymous = Api::anonymous(&server);
    let answer = send(&anonymous, export.clone(), "application/x-protobuf", false).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let wrong = api.with_key("llm_AAAAAAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    let answer = send(&wrong, b"{}".to_vec(), "application/json", false).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let status: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(status["code"], 16, "UNAUTHENTICATED: {status}");
    // Undecodable bodies → 400.
    let answer = send(&api, b"\xff\xff\xff".to_vec(), "application/x-protobuf", false).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = send(&api, b"{\"resourceSpans\": 3}".to_vec(), "application/json", false).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let message = serde_json::from_slice::<Value>(&answer.body).unwrap()["message"].to_string();
    assert!(message.contains("not an OTLP ExportTraceServiceRequest in JSON"), "{message}");
    let answer = send(&api, export.clone(), "text/plain", false).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Over the body limit, sent as is or inflating past it → 413.
    let answer = send(&api, vec![0; llmlab_server::BODY_LIMIT + 1], "application/x-protobuf", false).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let answer = send(&api, vec![0; llmlab_server::BODY_LIMIT + 1], "application/x-protobuf", true).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, calls, _) = totals(&api).await;
    assert_eq!(calls, 0);
});

server_test!(otlp_json_vercel_ai_sdk_spans_count_the_provider_call_once, |server| async move {
    let api = Api::signup(&server, "otel-vercel").await;
    let start = now_nanos();
    // As the JavaScript OTLP/JSON exporter sends them: the outer `ai.streamText` span repeats the
    // usage summed over steps and is skipped; the inner `doStream` span is the billed call.
    // claude-sonnet-4-5, input without cache (the AI SDK passes Anthropic's count through):
    // 12 × $3/M + 2,048 reads × $0.30/M + 512 writes × $3.75/M + 90 × $15/M = $0.0039204.
    let attributes = |operation: &str| {
        serde_json::json!([
            {"key": "ai.operationId", "value": {"stringValue": operation}},
            {"key": "ai.model.provider", "value": {"stringValue": "anthropic.messages"}},
            {"key": "ai.model.id", "value": {"stringValue": "claude-sonnet-4-5"}},
            {"key": "ai.response.model", "value": {"stringValue": "claude-sonnet-4-5-20250929"}},
            {"key": "ai.usage.inputTokens", "value": {"intValue": 12}},
            {"key": "ai.usage.cachedInputTokens", "value": {"intValue": "2048"}},
            {"key": "ai.usage.outputTokens", "value": {"doubleValue": 90.0}},
            {"key": "ai.response.providerMetadata",
             "value": {"stringValue": "{\"anthropic\":{\"cacheCreationInputTokens\":512}}"}},
            {"key": "ai.telemetry.metadata.tags", "value": {"arrayValue": {}}}
        ])
    };
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "llmlab.project", "value": {"stringValue": "web"}}]},
        "scopeSpans": [{"scope": {"name": "ai"}, "spans": [
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "ai.streamText",
             "kind": 1, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 2_000_000_000).to_string(),
             "attributes": attributes("ai.streamText")},
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
             "parentSpanId": "eee19b7ec3c1b174", "name": "ai.streamText.doStream", "kind": 3,
             "startTimeUnixNano": start, "endTimeUnixNano": start + 1_900_000_000,
             "attributes": attributes("ai.streamText.doStream")}
        ]}]
    }]});
    let answer = send(&api, body.to_string().into_bytes(), "application/json", false).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    let (cost, calls, summary) = totals(&api).await;
    assert_eq!((cost, calls), (Decimal::new(39_204, 7), 1), "{summary}");
    let csv = api.get("/api/events/export").await.text;
    assert!(csv.contains("otel-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b175"), "{csv}");
    assert!(csv.contains(",web,"), "the resource's llmlab.project: {csv}");
});
