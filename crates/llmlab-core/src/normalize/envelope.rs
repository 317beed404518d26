//! The top-level fields of any provider JSON object (a whole response, a
//! stream chunk or event, a batch output line), parsed without copying the
//! parts we do not need, and the rules that tell which API produced it.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::anthropic::{self, AnthropicUsage};
use super::gemini::{self, GeminiUsage};
use super::openai::{self, OpenAiUsage};
use super::{Hints, NormalizeError, check_provider, parse_usage};
use crate::provider::Provider;
use crate::usage::{ApiKind, NormalizedUsage, ServiceTier};

/// The fields of a provider object that decide its shape and carry usage.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    pub(super) object: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    pub(super) kind: Option<Cow<'a, str>>,
    pub(super) model: Option<String>,
    #[serde(rename = "modelVersion", alias = "model_version")]
    pub(super) model_version: Option<String>,
    #[serde(borrow)]
    pub(super) usage: Option<&'a RawValue>,
    #[serde(borrow, rename = "usageMetadata", alias = "usage_metadata")]
    pub(super) usage_metadata: Option<&'a RawValue>,
    pub(super) service_tier: Option<String>,
    #[serde(borrow)]
    pub(super) response: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) message: Option<&'a RawValue>,
    pub(super) candidates: Option<Vec<Candidate>>,
    #[serde(borrow)]
    pub(super) error: Option<&'a RawValue>,
    custom_id: Option<IgnoredAny>,
    // Bare usage objects given as the whole input.
    prompt_tokens: Option<IgnoredAny>,
    input_tokens: Option<IgnoredAny>,
    #[serde(rename = "promptTokenCount", alias = "prompt_token_count")]
    prompt_token_count: Option<IgnoredAny>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct Candidate {
    #[serde(rename = "finishReason", alias = "finish_reason")]
    pub(super) finish_reason: Option<String>,
}

impl Envelope<'_> {
    pub(super) fn looks_like_gemini(&self) -> bool {
        self.usage_metadata.is_some() || self.candidates.is_some() || self.model_version.is_some()
    }

    /// The model a Gemini object names, without its `models/` prefix.
    pub(super) fn gemini_model(&self) -> Option<String> {
        self.model_version.as_deref().map(|m| m.strip_prefix("models/").unwrap_or(m).to_owned())
    }

    pub(super) fn error_message(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct ErrorBody {
            message: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let raw = self.error?;
        let parsed: Option<ErrorBody> = serde_json::from_str(raw.get()).ok();
        Some(match parsed {
            Some(ErrorBody { message: Some(message), .. }) => message,
            Some(ErrorBody { kind: Some(kind), .. }) => kind,
            _ => raw.get().chars().take(200).collect(),
        })
    }
}

/// Parses the envelope of one JSON object.
pub(super) fn parse_envelope(json: &[u8]) -> Result<Envelope<'_>, NormalizeError> {
    serde_json::from_slice(json).map_err(|e| {
        if e.is_data() {
            NormalizeError::NotAResponse("expected a JSON object".to_owned())
        } else {
            NormalizeError::InvalidJson(e.to_string())
        }
    })
}

/// An OpenAI Responses object embedded in a stream event or batch line.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct EmbeddedResponse<'a> {
    pub(super) model: Option<String>,
    #[serde(borrow)]
    pub(super) usage: Option<&'a RawValue>,
    pub(super) service_tier: Option<String>,
    // Batch output lines: {"status_code":200,"body":{...}}
    status_code: Option<u16>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

pub(super) fn parse_embedded<'a, T: Deserialize<'a>>(raw: &'a RawValue, what: &str) -> Result<T, NormalizeError> {
    serde_json::from_str(raw.get()).map_err(|e| NormalizeError::NotAResponse(format!("`{what}` is malformed: {e}")))
}

/// Normalizes a complete (non-streamed) provider JSON object; `text` is the
/// object's own JSON, read as usage when the input is a bare usage object.
pub(super) fn normalize_object(
    env: &Envelope<'_>,
    text: &str,
    hints: &Hints,
) -> Result<NormalizedUsage, NormalizeError> {
    if env.custom_id.is_some() {
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
        (Some(raw), _) => raw.get(),
        (None, true) => text,
        (None, false) => {
            let field = if api == ApiKind::GeminiGenerateContent { "usageMetadata" } else { "usage" };
            return Err(NormalizeError::NoUsage(format!("the {} response has no `{field}` object", api_label(api))));
        }
    };
    let mut normalized = normalize_api_usage(api, usage_text)?;
    let body_model = if api == ApiKind::GeminiGenerateContent { env.gemini_model() } else { env.model.clone() };
    normalized.model = body_model.or_else(|| hints.model.clone());
    if matches!(api, ApiKind::OpenAiChat | ApiKind::OpenAiResponses) {
        apply_openai_tier(&mut normalized, env.service_tier.as_deref());
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

/// Applies an OpenAI response's `service_tier` (the tier actually used, G14).
pub(super) fn apply_openai_tier(normalized: &mut NormalizedUsage, tier: Option<&str>) {
    let (tier, note) = openai::service_tier(tier);
    if normalized.service_tier == ServiceTier::Standard {
        normalized.service_tier = tier;
    }
    normalized.notes.extend(note);
}

fn normalize_batch_line(env: &Envelope<'_>, hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    let Some(response) = env.response else {
        let reason = env.error_message().unwrap_or_else(|| "it has no `response`".to_owned());
        return Err(NormalizeError::NoUsage(format!("the batch line failed: {reason}")));
    };
    let embedded: EmbeddedResponse<'_> = parse_embedded(response, "response")?;
    let Some(body) = embedded.body else {
        return Err(NormalizeError::NoUsage(format!(
            "the batch line's response (status {}) has no body",
            embedded.status_code.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
        )));
    };
    let inner = parse_envelope(body.get().as_bytes())?;
    let mut normalized = normalize_object(&inner, body.get(), hints)?;
    normalized.service_tier = ServiceTier::Batch;
    Ok(normalized)
}

fn is_stream_event(env: &Envelope<'_>) -> bool {
    let kind = env.kind.as_deref().unwrap_or_default();
    kind.starts_with("message_") || kind.starts_with("content_block_") || kind.starts_with("response.")
}

fn is_bare_usage(env: &Envelope<'_>) -> bool {
    env.prompt_tokens.is_some() || env.input_tokens.is_some() || env.prompt_token_count.is_some()
}

/// Decides which API produced an object, from its own fields first and the
/// caller's provider only where the fields are ambiguous.
fn detect_api(env: &Envelope<'_>, text: &str, hints: &Hints) -> Result<Option<ApiKind>, NormalizeError> {
    if env.looks_like_gemini() || env.prompt_token_count.is_some() {
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
        Some(raw) => raw.get(),
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
