//! One span → one LLM call, or nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::input_counting::{InputCounting, counting_for};
use super::{AttrValue, Attribute, SpanView, find, text};
use crate::TokenBuckets;

/// Span or resource attributes named `llmlab.tag.<key>` become the event's tag `<key>`.
pub const TAG_PREFIX: &str = "llmlab.tag.";
/// The span or resource attribute naming the event's project (else `service.name`).
pub const PROJECT_KEY: &str = "llmlab.project";

/// What a span is to LLMLab.
#[derive(Clone, Debug, PartialEq)]
pub enum SpanOutcome {
    /// Not an LLM call (an HTTP request, a tool, an agent step, a wrapper span).
    NotLlm,
    /// A billed LLM call.
    Call(Box<LlmCall>),
    /// An LLM call that cannot be recorded, and why.
    Unusable(String),
}

/// An LLM call read from a span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmCall {
    /// `otel-<trace id>-<span id>` in hex: an exporter's retry is the same event.
    pub event_id: String,
    pub provider: String,
    pub model: String,
    /// Disjoint buckets, or `None` when the span reports no usage at all.
    pub tokens: Option<TokenBuckets>,
    /// When the span started, Unix milliseconds.
    pub started_at_ms: i64,
    pub latency_ms: Option<u64>,
    pub project: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The HTTP status the span reports, else `error` for a failed span.
    pub status: Option<String>,
    /// Facts for the event's notes (an instrumentation's own cost, a correction).
    pub notes: Vec<String>,
}

/// The attributes that mark a span as a possible LLM call; a span with none
/// of them is skipped without reading any value.
const MARKERS: &[&str] = &["gen_ai.operation.name", "openinference.span.kind", "ai.operationId", "llm.request.type"];

/// `gen_ai.operation.name` (and OpenLLMetry's older `llm.request.type`)
/// values that are a model call; `invoke_agent`, `execute_tool`… are not
/// (an agent span's usage sums its model calls', counted on their own spans).
const MODEL_OPERATIONS: &[&str] =
    &["chat", "text_completion", "completion", "generate_content", "embeddings", "embedding", "responses"];

/// The Vercel AI SDK's spans around one provider call; its outer spans
/// (`ai.generateText`, `ai.streamText`…) repeat the usage summed over steps.
const VERCEL_MODEL_CALLS: &[&str] = &[
    "ai.generateText.doGenerate",
    "ai.streamText.doStream",
    "ai.generateObject.doGenerate",
    "ai.streamObject.doStream",
    "ai.embed.doEmbed",
    "ai.embedMany.doEmbed",
];

const INPUT: &[&str] = &[
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
    "ai.usage.tokens",
];
const OUTPUT: &[&str] = &[
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
];
const CACHE_READ: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.cachedInputTokens",
];
const CACHE_WRITE: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
];
const REASONING: &[&str] = &[
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.reasoningTokens",
];
const PROVIDER: &[&str] = &["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider"];
const MODEL: &[&str] =
    &["gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "ai.response.model", "ai.model.id"];
/// An instrumentation's own cost (OpenLIT, OpenInference): kept beside LLMLab's price, never instead of it.
const COST: &[&str] = &["gen_ai.usage.cost", "llm.cost.total"];

/// Whether any attribute key marks a possible LLM call (keys only, no values read).
#[must_use]
pub fn is_candidate(attributes: &[Attribute<'_>]) -> bool {
    attributes.iter().any(|a| is_marker(a.key))
}

/// Whether an attribute key marks a possible LLM call (see [`is_candidate`]).
#[must_use]
pub fn is_marker(key: &str) -> bool {
    MARKERS.contains(&key)
}

/// Reads one span.
#[must_use]
pub fn map_span(span: &SpanView<'_>) -> SpanOutcome {
    if !is_candidate(span.attributes) || !is_model_call(span.attributes) {
        return SpanOutcome::NotLlm;
    }
    match call(span) {
        Ok(call) => SpanOutcome::Call(Box::new(call)),
        Err(why) => SpanOutcome::Unusable(why),
    }
}

fn is_model_call(attributes: &[Attribute<'_>]) -> bool {
    if let Some(operation) = text(attributes, "ai.operationId") {
        return VERCEL_MODEL_CALLS.contains(&operation);
    }
    if let Some(kind) = text(attributes, "openinference.span.kind") {
        return kind.eq_ignore_ascii_case("LLM") || kind.eq_ignore_ascii_case("EMBEDDING");
    }
    ["gen_ai.operation.name", "llm.request.type"]
        .iter()
        .find_map(|key| text(attributes, key))
        .is_some_and(|operation| MODEL_OPERATIONS.contains(&operation))
}

fn call(span: &SpanView<'_>) -> Result<LlmCall, String> {
    let attributes = span.attributes;
    let event_id = event_id(span.trace_id, span.span_id)?;
    let provider_attribute = PROVIDER.iter().find_map(|key| text(attributes, key));
    let provider = provider_attribute.map(provider_name).or_else(|| provider_from_scope(span.scope.name));
    let provider = provider.ok_or("names no provider (`gen_ai.provider.name` or `gen_ai.system`)")?;
    let model = MODEL.iter().find_map(|key| text(attributes, key)).filter(|m| !m.trim().is_empty());
    let model = model.ok_or("names no model (`gen_ai.response.model` or `gen_ai.request.model`)")?.to_owned();
    if span.start_unix_nano == 0 {
        return Err("has no start time".to_owned());
    }
    let started_at_ms = i64::try_from(span.start_unix_nano / 1_000_000).map_err(|_| "starts too late".to_owned())?;
    let latency_ms = (span.end_unix_nano >= span.start_unix_nano && span.end_unix_nano > 0)
        .then(|| (span.end_unix_nano - span.start_unix_nano) / 1_000_000);
    let mut notes = Vec::new();
    let counting_provider = provider_attribute.unwrap_or(&provider);
    let tokens = tokens(span, counting_provider, &mut notes)?;
    notes.extend(instrumentation_cost(attributes));
    Ok(LlmCall {
        event_id,
        provider,
        model,
        tokens,
        started_at_ms,
        latency_ms,
        project: project(span),
        tags: tags(span),
        status: status(span),
        notes,
    })
}

/// `otel-<32 hex>-<16 hex>`; a missing or all-zero id is refused (it would
/// make unrelated spans one event).
fn event_id(trace_id: &[u8], span_id: &[u8]) -> Result<String, String> {
    if trace_id.len() != 16 || trace_id.iter().all(|b| *b == 0) {
        return Err("has no valid trace id (16 bytes, not all zero)".to_owned());
    }
    if span_id.len() != 8 || span_id.iter().all(|b| *b == 0) {
        return Err("has no valid span id (8 bytes, not all zero)".to_owned());
    }
    let mut id = String::with_capacity(54);
    id.push_str("otel-");
    push_hex(&mut id, trace_id);
    id.push('-');
    push_hex(&mut id, span_id);
    Ok(id)
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// LLMLab's provider name for a `gen_ai.provider.name` / `gen_ai.system`
/// value (`gcp.gemini`, `az.ai.openai`) or a Vercel provider id (`anthropic.messages`).
fn provider_name(value: &str) -> String {
    let lower = value.trim().to_ascii_lowercase();
    let google = ["gemini", "google", "vertex_ai", "gcp.gemini", "gcp.gen_ai", "gcp.vertex_ai", "google.vertex"];
    if google.contains(&lower.as_str()) || lower.starts_with("google.") || lower.starts_with("gcp.") {
        return "google".to_owned();
    }
    if matches!(lower.as_str(), "az.ai.openai" | "azure.ai.openai") || lower.starts_with("openai.") {
        return "openai".to_owned();
    }
    if lower.starts_with("anthropic.") {
        return "anthropic".to_owned();
    }
    lower
}

/// The provider an instrumentation is made for, when its spans do not say.
fn provider_from_scope(scope: &str) -> Option<String> {
    let known = [("openai", "openai"), ("anthropic", "anthropic"), ("google_genai", "google"), ("gemini", "google")];
    known.iter().find(|(part, _)| scope.contains(part)).map(|(_, provider)| (*provider).to_owned())
}

/// A whole, non-negative count: an integer, an integral double (JavaScript
/// exporters), or digits in a string.
fn count(attributes: &[Attribute<'_>], keys: &[&str]) -> Result<Option<u64>, String> {
    let Some((key, value)) = keys.iter().find_map(|key| find(attributes, key).map(|v| (*key, v))) else {
        return Ok(None);
    };
    let parsed = match value {
        AttrValue::Int(n) => u64::try_from(n).ok(),
        // 2^53: every integral double below it is an exact count.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        AttrValue::Double(d) if d.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&d) => Some(d as u64),
        AttrValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| format!("has `{key}` that is not a whole number of tokens at least 0"))
}

/// The span's disjoint token buckets, its input split by the counting table.
fn tokens(span: &SpanView<'_>, provider: &str, notes: &mut Vec<String>) -> Result<Option<TokenBuckets>, String> {
    let attributes = span.attributes;
    let input = count(attributes, INPUT)?;
    let mut output = count(attributes, OUTPUT)?;
    let cache_read = count(attributes, CACHE_READ)?.unwrap_or(0);
    let mut cache_write = count(attributes, CACHE_WRITE)?.unwrap_or(0);
    if cache_write == 0 && span.scope.name == "ai" {
        cache_write = vercel_anthropic_cache_write(attributes);
    }
    let reasoning = count(attributes, REASONING)?.unwrap_or(0);
    if input.is_none() && output.is_none() && cache_read == 0 && cache_write == 0 {
        return Ok(None);
    }
    let input = input.unwrap_or(0);
    let cached = cache_read.saturating_add(cache_write);
    let (counting, row) = counting_for(span.scope.name, span.scope.version, provider);
    let uncached = match counting {
        InputCounting::ExcludesCache => input,
        InputCounting::IncludesCache if input >= cached => input - cached,
        InputCounting::IncludesCache => {
            let rule = row.map_or("the GenAI conventions", |_| "its instrumentation");
            notes.push(format!(
                "the span's input count ({input}) is smaller than its cache tokens ({cached}), so it was read as \
                 uncached input only, although {rule} counts cached tokens in it"
            ));
            input
        }
    };
    if output.is_some_and(|o| reasoning > o) {
        notes
            .push("the span's output count is smaller than its reasoning tokens; the reasoning was added to it".into());
        output = output.map(|o| o + reasoning);
    }
    Ok(Some(TokenBuckets {
        input_tokens: uncached,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        output_tokens: output.unwrap_or(0),
        reasoning_tokens: reasoning,
        ..TokenBuckets::default()
    }))
}

/// The Vercel AI SDK reports Anthropic's cache writes only in the provider
/// metadata (`ai.response.providerMetadata`, JSON text): `anthropic.cacheCreationInputTokens`.
fn vercel_anthropic_cache_write(attributes: &[Attribute<'_>]) -> u64 {
    text(attributes, "ai.response.providerMetadata")
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|metadata| metadata.pointer("/anthropic/cacheCreationInputTokens")?.as_u64())
        .unwrap_or(0)
}

fn instrumentation_cost(attributes: &[Attribute<'_>]) -> Option<String> {
    let (key, value) = COST.iter().find_map(|key| find(attributes, key).map(|v| (*key, v)))?;
    let amount = match value {
        AttrValue::Double(d) => format!("{d}"),
        AttrValue::Int(n) => n.to_string(),
        AttrValue::Str(s) => s.trim().to_owned(),
        _ => return None,
    };
    Some(format!(
        "the instrumentation reported a cost of {amount} USD (`{key}`); LLMLab prices the call from its tokens, \
         so that figure is only for comparison"
    ))
}

fn project(span: &SpanView<'_>) -> Option<String> {
    let named = text(span.attributes, PROJECT_KEY).or_else(|| text(span.resource, PROJECT_KEY));
    let service = text(span.resource, "service.name").filter(|name| !name.starts_with("unknown_service"));
    named.or(service).map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned)
}

/// `llmlab.tag.<key>` attributes of the resource, then of the span (which wins).
fn tags(span: &SpanView<'_>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for attribute in span.resource.iter().chain(span.attributes) {
        let Some(key) = attribute.key.strip_prefix(TAG_PREFIX) else { continue };
        let value = match attribute.value {
            AttrValue::Str(s) => s.to_owned(),
            AttrValue::Int(n) => n.to_string(),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Double(d) => {
                let mut text = String::new();
                let _ = write!(text, "{d}");
                text
            }
            AttrValue::Other => continue,
        };
        tags.insert(key.to_owned(), value);
    }
    tags
}

fn status(span: &SpanView<'_>) -> Option<String> {
    let http = ["http.response.status_code", "http.status_code"].iter().find_map(|key| find(span.attributes, key));
    match http {
        Some(AttrValue::Int(code)) => Some(code.to_string()),
        Some(AttrValue::Str(code)) => Some(code.to_owned()),
        _ => span.failed.then(|| "error".to_owned()),
    }
}

#[cfg(test)]
mod tests;
