//! The top-level fields of any provider JSON object (a whole response, a
//! stream chunk or event, a batch output line), parsed without copying the
//! parts we do not need, and the rules that tell which API produced it.

use std::borrow::Cow;

use serde::Deserialize;

use super::anthropic::{self, AnthropicUsage};
use super::gemini::{self, GeminiUsage};
use super::openai::{self, OpenAiUsage};
use super::scan::{self, ScanError};
use super::{Hints, NormalizeError, check_provider, parse_usage};
use crate::provider::Provider;
use crate::usage::{ApiKind, NormalizedUsage, ServiceTier};

/// The top-level members of a provider object that decide its shape and
/// carry usage; objects are kept as raw JSON text, parsed only when needed.
/// A member whose value is `null` counts as absent.
#[derive(Default)]
pub(super) struct Envelope<'a> {
    pub(super) object: Option<Cow<'a, str>>,
    pub(super) kind: Option<Cow<'a, str>>,
    pub(super) model: Option<Cow<'a, str>>,
    pub(super) model_version: Option<Cow<'a, str>>,
    pub(super) service_tier: Option<Cow<'a, str>>,
    pub(super) usage: Option<&'a str>,
    pub(super) usage_metadata: Option<&'a str>,
    /// Responses stream events: the response; batch output lines: `{status_code, body}`.
    pub(super) response: Option<&'a str>,
    /// Anthropic `message_start`: the message.
    pub(super) message: Option<&'a str>,
    pub(super) candidates: Option<&'a str>,
    pub(super) error: Option<&'a str>,
    pub(super) body: Option<&'a str>,
    pub(super) status_code: Option<u16>,
    custom_id: bool,
    /// The input is itself a usage object (`prompt_tokens`/`input_tokens` at the top).
    bare_usage: bool,
    /// The input is itself a Gemini usage object (`promptTokenCount` at the top).
    bare_gemini_usage: bool,
}

impl<'a> Envelope<'a> {
    fn take(&mut self, key: &str, value: &'a str) {
        if value == "null" {
            return;
        }
        match key {
            "object" => self.object = string(value),
            "type" => self.kind = string(value),
            "model" => self.model = string(value),
            "modelVersion" | "model_version" => self.model_version = string(value),
            "service_tier" => self.service_tier = string(value),
            "usage" => self.usage = Some(value),
            "usageMetadata" | "usage_metadata" => self.usage_metadata = Some(value),
            "response" => self.response = Some(value),
            "message" => self.message = Some(value),
            "candidates" => self.candidates = Some(value),
            "error" => self.error = Some(value),
            "body" => self.body = Some(value),
            "status_code" => self.status_code = value.parse().ok(),
            "custom_id" => self.custom_id = true,
            "prompt_tokens" | "input_tokens" => self.bare_usage = true,
            "promptTokenCount" | "prompt_token_count" => self.bare_gemini_usage = true,
            _ => {}
        }
    }

    pub(super) fn looks_like_gemini(&self) -> bool {
        self.usage_metadata.is_some() || self.candidates.is_some() || self.model_version.is_some()
    }

    /// The model a Gemini object names, without its `models/` prefix.
    pub(super) fn gemini_model(&self) -> Option<String> {
        self.model_version.as_deref().map(|m| m.strip_prefix("models/").unwrap_or(m).to_owned())
    }

    pub(super) fn model(&self) -> Option<String> {
        self.model.as_deref().map(str::to_owned)
    }

    pub(super) fn error_message(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct ErrorBody {
            message: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let raw = self.error?;
        let parsed: Option<ErrorBody> = serde_json::from_str(raw).ok();
        Some(match parsed {
            Some(ErrorBody { message: Some(message), .. }) => message,
            Some(ErrorBody { kind: Some(kind), .. }) => kind,
            _ => raw.chars().take(200).collect(),
        })
    }
}

/// A JSON string value, borrowed when it has no escapes; other types are ignored.
fn string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// Reads a body or frame as text; JSON is UTF-8.
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, NormalizeError> {
    std::str::from_utf8(bytes).map_err(|e| NormalizeError::InvalidJson(format!("the body is not UTF-8 ({e})")))
}

/// Normalizes one complete JSON object body.
pub(super) fn normalize_json_object(body: &[u8], hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    let text = utf8(body)?;
    let envelope = parse_envelope(text)?;
    normalize_object(&envelope, text, hints)
}

/// Reads the top-level members of one JSON object.
pub(super) fn parse_envelope(json: &str) -> Result<Envelope<'_>, NormalizeError> {
    let mut envelope = Envelope::default();
    scan::members(json, |key, value| envelope.take(key, value)).map_err(|ScanError(message)| {
        if json.trim_ascii_start().starts_with('{') {
            NormalizeError::InvalidJson(message)
        } else {
            NormalizeError::NotAResponse("expected a JSON object".to_owned())
        }
    })?;
    Ok(envelope)
}

/// Reads an object embedded in another (a stream event's `response`, a batch
/// line's `response`, `message_start`'s `message`).
pub(super) fn parse_embedded<'a>(raw: &'a str, what: &str) -> Result<Envelope<'a>, NormalizeError> {
    parse_envelope(raw).map_err(|e| NormalizeError::NotAResponse(format!("`{what}` is malformed: {e}")))
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
            return Err(NormalizeError::NoUsage(format!("the {} response has no `{field}` object", api_label(api))));
        }
    };
    let mut normalized = normalize_api_usage(api, usage_text)?;
    let body_model = if api == ApiKind::GeminiGenerateContent { env.gemini_model() } else { env.model() };
    normalized.model = body_model.or_else(|| hints.model.clone());
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

fn normalize_batch_line(env: &Envelope<'_>, hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
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

pub(super) fn api_label(api: ApiKind) -> &'static str {
    match api {
        ApiKind::OpenAiChat => "OpenAI chat completion",
        ApiKind::OpenAiResponses => "OpenAI Responses API",
        ApiKind::OpenAiEmbeddings => "OpenAI embeddings",
        ApiKind::AnthropicMessages => "Anthropic message",
        ApiKind::GeminiGenerateContent => "Gemini generateContent",
    }
}
