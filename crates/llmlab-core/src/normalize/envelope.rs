//! The top-level fields of any provider JSON object (a whole response, a
//! stream chunk or event, a batch output line), parsed without copying the
//! parts we do not need. Which API produced an object, and what its usage
//! normalizes to, is `dispatch`'s business, one layer up.

use std::borrow::Cow;

use serde::Deserialize;

use super::NormalizeError;
use super::scan::{self, ScanError};

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
    /// Anthropic `message_delta`: the delta (its `stop_reason`).
    pub(super) delta: Option<&'a str>,
    /// OpenAI chat chunks: the choices (their streamed text).
    pub(super) choices: Option<&'a str>,
    pub(super) candidates: Option<&'a str>,
    pub(super) error: Option<&'a str>,
    pub(super) body: Option<&'a str>,
    pub(super) status_code: Option<u16>,
    pub(super) custom_id: bool,
    /// OpenAI Responses: the output items (hosted tool calls bill per call).
    pub(super) output: Option<&'a str>,
    /// OpenAI Responses: usage reported by hosted tools, beside `usage`.
    pub(super) tool_usage: Option<&'a str>,
    /// Anthropic message-batch result lines: `{type, message | error}`.
    pub(super) result: Option<&'a str>,
    /// The input is itself a usage object (`prompt_tokens`/`input_tokens` at the top).
    pub(super) bare_usage: bool,
    /// The input is itself a Gemini usage object (`promptTokenCount` at the top).
    pub(super) bare_gemini_usage: bool,
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
            "delta" => self.delta = Some(value),
            "choices" => self.choices = Some(value),
            "candidates" => self.candidates = Some(value),
            "error" => self.error = Some(value),
            "body" => self.body = Some(value),
            "status_code" => self.status_code = value.parse().ok(),
            "custom_id" => self.custom_id = true,
            "result" => self.result = Some(value),
            "output" => self.output = Some(value),
            "tool_usage" => self.tool_usage = Some(value),
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
