//! The rules that tell which API produced a provider JSON object, and the
//! dispatch of its usage to that provider's module.

use super::anthropic::{self, AnthropicUsage};
use super::envelope::{Envelope, parse_embedded, parse_envelope, utf8};
use super::fees;
use super::gemini::{self, GeminiUsage};
use super::openai::{self, OpenAiUsage};
use super::{Hints, NormalizeError, check_provider, parse_usage};
use crate::provider::Provider;
use crate::usage::{ApiKind, NormalizedUsage, ServiceTier};

/// Normalizes one complete JSON object body.
pub(super) fn normalize_json_object(body: &[u8], hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    let text = utf8(body)?;
    let envelope = parse_envelope(text)?;
    normalize_object(&envelope, text, hints)
}

/// Normalizes a complete (non-streamed) provider JSON object; `text` is the
/// object's own JSON, read as usage when the input is a bare usage object.
pub(super) fn normalize_object(
    env: &Envelope<'_>,
    text: &str,
    hints: &Hints,
) -> Result<NormalizedUsage, NormalizeError> {
    if env.custom_id {
        return normalize_batch_line(env, hints);
    }
    if is_stream_event(env) {
        return Err(NormalizeError::NotAResponse(
            "this is a single stream event; pass the whole stream as it was received".to_owned(),
        ));
    }
    let bare_usage = env.usage.is_none() && env.usage_metadata.is_none() && is_bare_usage(env);
    let Some(api) = detect_api(env, text, hints)? else {
        if let Some(message) = env.error_message() {
            return Err(NormalizeError::NoUsage(format!("the body is an error response: {message}")));
        }
        return Err(NormalizeError::NotAResponse(
            "found no `usage`, `usageMetadata` or other OpenAI, Anthropic or Gemini response fields".to_owned(),
        ));
    };
    check_provider(hints, api)?;
    let usage_raw = if api == ApiKind::GeminiGenerateContent { env.usage_metadata } else { env.usage };
    let usage_text = match (usage_raw, bare_usage) {
        (Some(raw), _) => raw,
        (None, true) => text,
        (None, false) => {
            let field = if api == ApiKind::GeminiGenerateContent { "usageMetadata" } else { "usage" };
            return Err(NormalizeError::NoUsage(format!("the {} response has no `{field}` object", api.label())));
        }
    };
    let mut normalized = normalize_api_usage(api, usage_text)?;
    fees::of_object(api, env)?.apply(&mut normalized);
    let body_model = if api == ApiKind::GeminiGenerateContent { env.gemini_model() } else { env.model() };
    normalized.model = body_model.or_else(|| hints.model.clone());
    fees::apply_chat_search(&mut normalized);
    if matches!(api, ApiKind::OpenAiChat | ApiKind::OpenAiResponses) {
        openai::apply_service_tier(&mut normalized, env.service_tier.as_deref());
    }
    Ok(normalized)
}

/// Parses the usage object of an API whose shape is known.
pub(super) fn normalize_api_usage(api: ApiKind, json: &str) -> Result<NormalizedUsage, NormalizeError> {
    match api {
        ApiKind::OpenAiChat | ApiKind::OpenAiResponses | ApiKind::OpenAiEmbeddings => {
            openai::normalize(&parse_usage::<OpenAiUsage>(json)?, Some(api))
        }
        ApiKind::AnthropicMessages => anthropic::normalize(&parse_usage::<AnthropicUsage>(json)?),
        ApiKind::GeminiGenerateContent => gemini::normalize(&parse_usage::<GeminiUsage>(json)?),
    }
    .map_err(NormalizeError::InvalidUsage)
}

/// A line of a batch's results: an OpenAI batch output line
/// (`{custom_id, response: {status_code, body}}`) or an Anthropic message
/// batch result (`{custom_id, result: {type: succeeded, message}}`), billed
/// at batch prices.
fn normalize_batch_line(env: &Envelope<'_>, hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    if let Some(result) = env.result {
        return normalize_batch_result(result, hints);
    }
    let Some(response) = env.response else {
        let reason = env.error_message().unwrap_or_else(|| "it has no `response`".to_owned());
        return Err(NormalizeError::NoUsage(format!("the batch line failed: {reason}")));
    };
    let embedded = parse_embedded(response, "response")?;
    let Some(body) = embedded.body else {
        return Err(NormalizeError::NoUsage(format!(
            "the batch line's response (status {}) has no body",
            embedded.status_code.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
        )));
    };
    let inner = parse_envelope(body)?;
    let mut normalized = normalize_object(&inner, body, hints)?;
    normalized.service_tier = ServiceTier::Batch;
    Ok(normalized)
}

/// An Anthropic message batch result: only `succeeded` results are billed.
fn normalize_batch_result(result: &str, hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    let outcome = parse_embedded(result, "result")?;
    let kind = outcome.kind.as_deref().unwrap_or("unknown");
    let Some(message) = outcome.message.filter(|_| kind == "succeeded") else {
        let reason = outcome.error.and_then(nested_error_message).map_or_else(String::new, |m| format!(": {m}"));
        return Err(NormalizeError::NoUsage(format!("the batch request {kind} (not billed){reason}")));
    };
    let inner = parse_embedded(message, "result.message")?;
    let mut normalized = normalize_object(&inner, message, hints)?;
    normalized.service_tier = ServiceTier::Batch;
    Ok(normalized)
}

/// The `message` of an error object, or of the error it wraps
/// (`{"type": "error", "error": {"type": …, "message": …}}`).
fn nested_error_message(error: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(error).ok()?;
    let message = value.get("message").or_else(|| value.get("error")?.get("message"))?;
    message.as_str().map(str::to_owned)
}

fn is_stream_event(env: &Envelope<'_>) -> bool {
    let kind = env.kind.as_deref().unwrap_or_default();
    kind.starts_with("message_") || kind.starts_with("content_block_") || kind.starts_with("response.")
}

fn is_bare_usage(env: &Envelope<'_>) -> bool {
    env.bare_usage || env.bare_gemini_usage
}

/// Decides which API produced an object, from its own fields first and the
/// caller's provider only where the fields are ambiguous.
fn detect_api(env: &Envelope<'_>, text: &str, hints: &Hints) -> Result<Option<ApiKind>, NormalizeError> {
    if env.looks_like_gemini() || env.bare_gemini_usage {
        return Ok(Some(ApiKind::GeminiGenerateContent));
    }
    match (env.object.as_deref(), env.kind.as_deref()) {
        (_, Some("message")) => return Ok(Some(ApiKind::AnthropicMessages)),
        (Some("chat.completion" | "chat.completion.chunk"), _) => return Ok(Some(ApiKind::OpenAiChat)),
        (Some("response"), _) => return Ok(Some(ApiKind::OpenAiResponses)),
        (Some("list"), _) if env.usage.is_some() => return Ok(Some(ApiKind::OpenAiEmbeddings)),
        _ => {}
    }
    let usage_text = match env.usage {
        Some(raw) => raw,
        None if is_bare_usage(env) => text,
        None => return Ok(None),
    };
    guess_from_text(usage_text, hints)
}

fn guess_from_text(usage: &str, hints: &Hints) -> Result<Option<ApiKind>, NormalizeError> {
    match hints.provider {
        Some(Provider::Anthropic) => Ok(Some(ApiKind::AnthropicMessages)),
        Some(Provider::Google) => Ok(Some(ApiKind::GeminiGenerateContent)),
        Some(Provider::OpenAi) => {
            let parsed: OpenAiUsage = parse_usage(usage)?;
            Ok(Some(parsed.api().unwrap_or(ApiKind::OpenAiChat)))
        }
        _ => guess_usage_shape(usage),
    }
}

/// Recognises a usage object's API from its field names alone; `None` when
/// it could be either OpenAI Responses or Anthropic.
pub(super) fn guess_usage_shape(usage: &str) -> Result<Option<ApiKind>, NormalizeError> {
    let gemini: GeminiUsage = parse_usage(usage)?;
    if gemini::normalize(&gemini).is_ok() {
        return Ok(Some(ApiKind::GeminiGenerateContent));
    }
    let anthropic: AnthropicUsage = parse_usage(usage)?;
    if anthropic.has_anthropic_markers() {
        return Ok(Some(ApiKind::AnthropicMessages));
    }
    let openai: OpenAiUsage = parse_usage(usage)?;
    match openai.api() {
        Some(ApiKind::OpenAiResponses) if !openai.has_responses_markers() => Err(NormalizeError::NotAResponse(
            "a bare `input_tokens`/`output_tokens` object could be OpenAI or Anthropic; name the provider".to_owned(),
        )),
        other => Ok(other),
    }
}
