//! OTLP trace exports → events: each span the core reads as an LLM call
//! ([`llmlab_core::otel::map_span`]) is prepared and stored through the same
//! ingest path as every other event (pricing, budgets, alerts). A span that
//! is an LLM call but cannot be recorded is rejected on its own (OTLP's
//! partial success); the others are stored.

use std::collections::HashSet;
use std::fmt::Write as _;

use llmlab_api::TrackEvent;
use llmlab_core::otel::{AttrValue, Attribute, LlmCall, Scope, SpanOutcome, SpanView, is_marker, map_span};
use llmlab_store::User;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use crate::clock::now_ms;
use crate::error::ApiResult;
use crate::service::ingest::{self, PreparedEvent, prepare};
use crate::state::AppState;

/// The tag every event from a span carries (unless the span sets its own `llmlab.tag.source`).
pub const SOURCE_TAG: (&str, &str) = ("source", "otel");
/// How many rejected spans the partial-success message describes one by one.
const MESSAGES_SHOWN: usize = 5;

/// What an export gave.
#[derive(Debug, Default)]
pub struct Exported {
    /// LLM calls newly stored.
    pub recorded: usize,
    /// LLM calls stored before (an exporter's retry) or repeated in this export.
    pub duplicates: usize,
    /// LLM spans that could not be recorded.
    pub rejected: usize,
    /// Why, for the first few of them.
    pub reasons: Vec<String>,
}

impl Exported {
    /// OTLP's `error_message`: the reasons shown, and how many more there were.
    #[must_use]
    pub fn message(&self) -> String {
        let mut message = self.reasons.join("; ");
        if self.rejected > self.reasons.len() {
            let _ = write!(message, "; and {} more", self.rejected - self.reasons.len());
        }
        message
    }

    fn reject(&mut self, span: &Span, why: &str) {
        self.rejected += 1;
        if self.reasons.len() < MESSAGES_SHOWN {
            self.reasons.push(format!("span {} ({}) {why}", hex(&span.span_id), span.name));
        }
    }
}

/// Records the LLM calls of one export for `user`, sent with the API key `api_key`.
pub async fn export(
    state: &AppState,
    user: &User,
    api_key: &str,
    request: &ExportTraceServiceRequest,
) -> ApiResult<Exported> {
    let custom = state.custom_prices(user.id).await?;
    let catalog = state.catalog();
    let now = now_ms();
    let mut exported = Exported::default();
    let mut prepared = Vec::new();
    let mut seen = HashSet::new();
    for resource_spans in &request.resource_spans {
        let resource: Vec<Attribute<'_>> =
            resource_spans.resource.iter().flat_map(|r| r.attributes.iter().map(attribute)).collect();
        for scope_spans in &resource_spans.scope_spans {
            let scope = scope_spans
                .scope
                .as_ref()
                .map_or_else(Scope::default, |s| Scope { name: &s.name, version: &s.version });
            for span in &scope_spans.spans {
                // Most spans of a trace are not LLM calls: their keys alone say so.
                if !span.attributes.iter().any(|kv| is_marker(&kv.key)) {
                    continue;
                }
                let attributes: Vec<Attribute<'_>> = span.attributes.iter().map(attribute).collect();
                let view = view(span, scope, &attributes, &resource);
                match map_span(&view) {
                    SpanOutcome::NotLlm => {}
                    SpanOutcome::Unusable(why) => exported.reject(span, &why),
                    SpanOutcome::Call(call) => {
                        if !seen.insert(call.event_id.clone()) {
                            exported.duplicates += 1;
                            continue;
                        }
                        match prepare(&track_event(&call), "", &catalog.catalog, &custom, now) {
                            Ok(event) => prepared.push(with_notes(event, call.notes)),
                            Err(error) => exported.reject(span, &error.message),
                        }
                    }
                }
            }
        }
    }
    if !prepared.is_empty() {
        let stored = ingest::store_prepared(state, user, api_key, prepared).await?;
        let duplicates = stored.events.iter().filter(|e| e.duplicate).count();
        exported.duplicates += duplicates;
        exported.recorded += stored.events.len() - duplicates;
    }
    Ok(exported)
}

fn view<'a>(
    span: &'a Span,
    scope: Scope<'a>,
    attributes: &'a [Attribute<'a>],
    resource: &'a [Attribute<'a>],
) -> SpanView<'a> {
    SpanView {
        trace_id: &span.trace_id,
        span_id: &span.span_id,
        name: &span.name,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        failed: span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32),
        scope,
        attributes,
        resource,
    }
}

/// A proto attribute as the core reads it, borrowed.
fn attribute(kv: &KeyValue) -> Attribute<'_> {
    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => AttrValue::Str(s),
        Some(Value::IntValue(n)) => AttrValue::Int(*n),
        Some(Value::DoubleValue(d)) => AttrValue::Double(*d),
        Some(Value::BoolValue(b)) => AttrValue::Bool(*b),
        _ => AttrValue::Other,
    };
    Attribute { key: &kv.key, value }
}

/// The call as the REST API's event, so it is validated and priced exactly like one.
fn track_event(call: &LlmCall) -> TrackEvent {
    let mut tags = call.tags.clone();
    tags.entry(SOURCE_TAG.0.to_owned()).or_insert_with(|| SOURCE_TAG.1.to_owned());
    let timestamp = jiff::Timestamp::from_millisecond(call.started_at_ms).map(|t| t.to_string()).ok();
    let tokens = call.tokens;
    TrackEvent {
        provider: call.provider.clone(),
        model: call.model.clone(),
        input_tokens: tokens.map(|t| t.input_tokens),
        cache_read_tokens: tokens.map(|t| t.cache_read_tokens),
        cache_write_tokens: tokens.map(|t| t.cache_write_tokens),
        output_tokens: tokens.map(|t| t.output_tokens),
        reasoning_tokens: tokens.map(|t| t.reasoning_tokens),
        event_id: Some(call.event_id.clone()),
        // An unreadable time is refused by `prepare`, naming the field.
        timestamp: timestamp.or_else(|| Some(call.started_at_ms.to_string())),
        project: call.project.clone(),
        tags: Some(tags),
        latency_ms: call.latency_ms,
        status: call.status.clone(),
        ..TrackEvent::default()
    }
}

/// Adds the span's own notes (an instrumentation's cost, a correction) to the event's.
fn with_notes(mut event: PreparedEvent, notes: Vec<String>) -> PreparedEvent {
    if notes.is_empty() {
        return event;
    }
    event.response.notes.extend(notes);
    event.record.notes = Some(serde_json::Value::from(event.response.notes.clone()).to_string());
    event
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}
