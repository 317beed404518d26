//! `POST /v1/traces`: the OTLP/HTTP trace receiver. OpenTelemetry exporters
//! send spans here (protobuf or JSON, optionally gzip-compressed) with an
//! LLMLab key as `Authorization: Bearer llm_…`; the LLM calls among them are
//! recorded ([`crate::service::otlp`]).
//!
//! Answers follow OTLP/HTTP: 200 with an `ExportTraceServiceResponse` in the
//! request's encoding (`partial_success` counting the LLM spans that could
//! not be recorded, never a 5xx for them); 400 for a body that does not
//! decode, 401 for a bad key, 413 for a body over the server's limit, 415 for
//! an unknown content type or encoding, each with a `google.rpc.Status` body.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::otlp::{Exported, export};
use crate::state::AppState;
use crate::{BODY_LIMIT, BODY_LIMIT_TEXT};

/// The two OTLP/HTTP encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `google.rpc.Status`, the body of OTLP/HTTP error answers. The
/// OpenTelemetry proto crate does not carry it; prost encodes it from this
/// declaration of its first two fields (`details` is optional and unused).
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC status codes used in `google.rpc.Status.code`.
const INVALID_ARGUMENT: i32 = 3;
const UNAUTHENTICATED: i32 = 16;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;

/// OTLP/HTTP trace export (the body is an `ExportTraceServiceRequest`, in
/// protobuf or OTLP/JSON, optionally `Content-Encoding: gzip`). The spans that
/// describe an LLM call are recorded as events, priced from the catalog; the
/// others are ignored. Send your key as `Authorization: Bearer llm_…`
/// (`OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20llm_…"`). Answers follow
/// OTLP: see docs/opentelemetry.md.
#[utoipa::path(post, path = "/v1/traces", tag = "otlp", security(("api_key" = [])),
    request_body(content_type = "application/x-protobuf", description = "An OTLP `ExportTraceServiceRequest`"),
    responses((status = 200, description = "An `ExportTraceServiceResponse` in the request's encoding; \
                 `partial_success` counts the LLM spans that could not be recorded"),
              (status = 400, description = "The body does not decode (a `google.rpc.Status`)"),
              (status = 401, description = "Missing or invalid key (a `google.rpc.Status`)"),
              (status = 413, description = "The body, as sent or inflated, is over 8 MiB"),
              (status = 415, description = "Not `application/x-protobuf` or `application/json`, or not gzip")))]
#[expect(dead_code, reason = "the OpenAPI description only; `traces` serves the route")]
pub(crate) fn traces_doc() {}

/// Receives one OTLP trace export.
pub async fn traces(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = match encoding(&headers) {
        Ok(encoding) => encoding,
        Err(message) => return failure(Encoding::Json, StatusCode::UNSUPPORTED_MEDIA_TYPE, UNIMPLEMENTED, &message),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(error) if error.code.status().is_client_error() => {
            return failure(encoding, error.code.status(), UNAUTHENTICATED, &error.message);
        }
        Err(error) => return error.into_response(),
    };
    let request = match body.map_err(|r| (r.status(), r.body_text())).and_then(|b| decode(&headers, &b, encoding)) {
        Ok(request) => request,
        Err((status, message)) => {
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { RESOURCE_EXHAUSTED } else { INVALID_ARGUMENT };
            return failure(encoding, status, code, &message);
        }
    };
    match export(&state, &caller.user, &caller.key_id, &request).await {
        Ok(exported) => {
            tracing::debug!(
                recorded = exported.recorded,
                duplicates = exported.duplicates,
                rejected = exported.rejected,
                "OTLP export"
            );
            success(encoding, &exported)
        }
        // The spans were fine but storing failed (the database is down): a 5xx the exporter retries.
        Err(error) if error.code.status().is_server_error() => error.into_response(),
        Err(error) => failure(encoding, error.code.status(), INVALID_ARGUMENT, &error.message),
    }
}

/// The request's encoding, from its `Content-Type`.
fn encoding(headers: &HeaderMap) -> Result<Encoding, String> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(format!(
            "`Content-Type: {content_type}` is not an OTLP encoding: send `application/x-protobuf` or `application/json`"
        )),
    }
}

/// The export request in the body, inflated if gzip-compressed.
fn decode(
    headers: &HeaderMap,
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, (StatusCode, String)> {
    let content_encoding = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity").trim();
    let inflated;
    let bytes = match content_encoding.to_ascii_lowercase().as_str() {
        "" | "identity" => body,
        "gzip" => {
            inflated = gunzip(body)?;
            &inflated[..]
        }
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("`Content-Encoding: {other}` is not supported: send `gzip` or no encoding"),
            ));
        }
    };
    let bad = |e: &dyn std::fmt::Display| {
        let what = match encoding {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "JSON",
        };
        (StatusCode::BAD_REQUEST, format!("the body is not an OTLP ExportTraceServiceRequest in {what}: {e}"))
    };
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes).map_err(|e| bad(&e)),
        Encoding::Json => decode_json(bytes).map_err(|e| bad(&e)),
    }
}

/// An OTLP/JSON export. The proto crate's serde requires `values` in an
/// `arrayValue` / `kvlistValue` and `key` in a `KeyValue`, but the protobuf
/// JSON mapping that OTLP/JSON follows lets an encoder omit fields at their
/// default (an empty list, an empty string): when the direct decoding fails,
/// those omitted fields are filled in and the body is decoded again.
fn decode_json(bytes: &[u8]) -> Result<ExportTraceServiceRequest, serde_json::Error> {
    serde_json::from_slice(bytes).or_else(|direct| {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Err(direct) };
        fill_omitted_defaults(&mut value);
        serde_json::from_value(value)
    })
}

/// Adds the fields [`decode_json`] needs where an encoder left them out.
fn fill_omitted_defaults(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(object) => {
            for (name, member) in object.iter_mut() {
                match (name.as_str(), &mut *member) {
                    ("arrayValue" | "kvlistValue", Value::Object(list)) => {
                        list.entry("values").or_insert_with(|| Value::Array(Vec::new()));
                    }
                    ("attributes" | "values", Value::Array(items)) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            if name == "attributes" || item.contains_key("value") {
                                item.entry("key").or_insert_with(|| Value::String(String::new()));
                            }
                        }
                    }
                    _ => {}
                }
                fill_omitted_defaults(member);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fill_omitted_defaults),
        _ => {}
    }
}

/// Inflates a gzip body, refusing one that inflates past [`BODY_LIMIT`].
fn gunzip(body: &[u8]) -> Result<Vec<u8>, (StatusCode, String)> {
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(BODY_LIMIT));
    let limit = u64::try_from(BODY_LIMIT).unwrap_or(u64::MAX) + 1;
    flate2::read::GzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut inflated)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("the body is not valid gzip: {e}")))?;
    if inflated.len() > BODY_LIMIT {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body inflates to more than the {BODY_LIMIT_TEXT} limit; export smaller batches"),
        ));
    }
    Ok(inflated)
}

/// 200 with the `ExportTraceServiceResponse`; `partial_success` only when spans were rejected.
fn success(encoding: Encoding, exported: &Exported) -> Response {
    let partial_success = (exported.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(exported.rejected).unwrap_or(i64::MAX),
        error_message: exported.message(),
    });
    let body = match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse { partial_success }.encode_to_vec(),
        // Written here rather than with the proto crate's serde, which writes the
        // int64 `rejectedSpans` as a JSON number; the protobuf JSON mapping that
        // OTLP/JSON follows writes 64-bit integers as decimal strings.
        Encoding::Json => partial_success
            .map_or_else(
                || serde_json::json!({}),
                |p| {
                    serde_json::json!({"partialSuccess": {
                        "rejectedSpans": p.rejected_spans.to_string(),
                        "errorMessage": p.error_message,
                    }})
                },
            )
            .to_string()
            .into_bytes(),
    };
    (StatusCode::OK, [(CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// An error answer: `google.rpc.Status` in the request's encoding.
fn failure(encoding: Encoding, status: StatusCode, code: i32, message: &str) -> Response {
    let body = match encoding {
        Encoding::Protobuf => RpcStatus { code, message: message.to_owned() }.encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": code, "message": message}).to_string().into_bytes(),
    };
    (status, [(CONTENT_TYPE, encoding.content_type())], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_choose_the_encoding() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert_eq!(encoding(&headers), Ok(Encoding::Json));
        headers.insert(CONTENT_TYPE, "application/x-protobuf".parse().unwrap());
        assert_eq!(encoding(&headers), Ok(Encoding::Protobuf));
        headers.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(encoding(&headers).is_err_and(|m| m.contains("`Content-Type: text/plain`")));
    }

    #[test]
    fn json_fields_an_encoder_omits_at_their_default_are_accepted() {
        // An empty array, an empty key-value list and an empty key, each as a proto3 JSON encoder
        // may write it: with the field left out.
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
            "traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat",
            "startTimeUnixNano":"1764000000000000000","endTimeUnixNano":1764000001000000000,
            "attributes":[
                {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                {"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}},
                {"key":"list","value":{"arrayValue":{}}},
                {"key":"map","value":{"kvlistValue":{}}},
                {"value":{"boolValue":true}}
            ]}]}]}]}"#;
        let direct = serde_json::from_slice::<ExportTraceServiceRequest>(body).unwrap_err();
        assert!(direct.to_string().contains("missing field"), "the proto crate alone refuses it: {direct}");
        let request = decode_json(body).expect("decodes");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.span_id, [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]);
        assert_eq!(span.end_time_unix_nano, 1_764_000_001_000_000_000);
        assert_eq!(span.attributes.len(), 5);
        assert_eq!(span.attributes[4].key, "");
        let undecodable = decode_json(br#"{"resourceSpans": 3}"#).unwrap_err();
        assert!(undecodable.to_string().contains("invalid type"), "{undecodable}");
    }

    #[test]
    fn a_gzip_bomb_is_refused_as_too_large() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; BODY_LIMIT + 1]).unwrap();
        let compressed = encoder.finish().unwrap();
        assert!(compressed.len() < 64 * 1024);
        let (status, message) = gunzip(&compressed).unwrap_err();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(message.contains("8 MiB"), "{message}");
    }
}
