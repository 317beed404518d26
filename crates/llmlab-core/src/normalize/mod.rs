//! Turning what a provider returned into [`NormalizedUsage`].
//!
//! Three entry points share one set of rules:
//! - [`normalize_body`]: a whole response body (JSON, an SSE stream exactly as
//!   sent over the wire, or Gemini's JSON-array stream), provider auto-detected;
//! - [`ResponseAccumulator`]: the same, fed chunk by chunk as bytes arrive
//!   (the proxy), holding only the current frame in memory for streams;
//! - [`normalize_usage_json`]: just the provider's raw `usage` object, as the
//!   SDK sends it to the server.

mod anthropic;
mod dispatch;
mod envelope;
mod estimate;
pub mod fees;
mod gemini;
mod openai;
mod scan;
mod stream;

use serde::de::DeserializeOwned;

pub use stream::ResponseAccumulator;

use crate::provider::Provider;
use crate::usage::{ApiKind, NormalizedUsage};

/// The largest response body (or single stream frame) LLMLab will parse.
/// No provider's text response comes close; anything larger is rejected
/// rather than held in memory.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Why a body could not be normalized. Every message names the problem in
/// one line, suitable for a CLI error or an API 4xx.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is larger than the {} MiB limit for one response", MAX_BODY_BYTES >> 20)]
    TooLarge,
    #[error("the input is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the input is not a provider response: {0}")]
    NotAResponse(String),
    #[error("the body is a {detected} response, but the provider was given as `{given}`")]
    ProviderMismatch { detected: Provider, given: Provider },
    #[error("the response has no usage: {0}")]
    NoUsage(String),
    #[error("the stream is truncated: {0}")]
    Truncated(String),
    #[error("the usage is invalid: {0}")]
    InvalidUsage(String),
}

/// What the caller already knows about a response.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    /// The provider, when known (required only for bare usage objects whose
    /// shape is ambiguous, and checked against what the body shows).
    pub provider: Option<Provider>,
    /// The model to use when the body names none (the Gemini request URL's model, say).
    pub model: Option<String>,
}

/// Normalizes a whole response body; see the module docs.
pub fn normalize_body(body: &[u8], hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(NormalizeError::TooLarge);
    }
    // A whole JSON object needs no accumulation: parse it in place.
    let trimmed = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body).trim_ascii_start();
    if trimmed.first() == Some(&b'{') {
        return dispatch::normalize_json_object(trimmed, hints);
    }
    let mut accumulator = ResponseAccumulator::new(hints.clone());
    accumulator.push(body);
    accumulator.finish()
}

/// Normalizes a provider's raw usage object (`usage` for OpenAI and
/// Anthropic, `usageMetadata`/`usage_metadata` for Gemini) given as JSON text.
/// For a provider LLMLab has no rules for, the shape is recognised when it is
/// one of the three (OpenAI-compatible gateways, say) and the provider kept.
pub fn normalize_usage_json(provider: &Provider, usage_json: &str) -> Result<NormalizedUsage, NormalizeError> {
    let mut normalized = match provider {
        Provider::OpenAi => openai::normalize(&parse_usage(usage_json)?, None),
        Provider::Anthropic => anthropic::normalize(&parse_usage(usage_json)?),
        Provider::Google => gemini::normalize(&parse_usage(usage_json)?),
        Provider::Other(_) => return normalize_usage_of_unknown_shape(provider, usage_json),
    }
    .map_err(NormalizeError::InvalidUsage)?;
    normalized.provider = provider.clone();
    Ok(normalized)
}

fn normalize_usage_of_unknown_shape(provider: &Provider, usage_json: &str) -> Result<NormalizedUsage, NormalizeError> {
    let shape = dispatch::guess_usage_shape(usage_json)?.ok_or_else(|| {
        NormalizeError::InvalidUsage(
            "the usage object is not in an OpenAI, Anthropic or Gemini shape; send token buckets instead".into(),
        )
    })?;
    let mut normalized = normalize_usage_json(&shape.provider(), usage_json)?;
    normalized.provider = provider.clone();
    Ok(normalized)
}

/// Parses a usage object, naming the offending field on failure.
fn parse_usage<T: DeserializeOwned>(json: &str) -> Result<T, NormalizeError> {
    // Derived struct deserializers also accept arrays; a usage is always an object.
    if !json.trim_start().starts_with('{') {
        return Err(NormalizeError::InvalidUsage(format!(
            "the usage must be a JSON object, not `{}`",
            json.trim().chars().take(40).collect::<String>()
        )));
    }
    // The fast path is a plain parse; only a failure pays for path tracking.
    serde_json::from_str(json).map_err(|_| {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Ok(_) => NormalizeError::InvalidUsage("the usage could not be read".to_owned()),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    NormalizeError::InvalidJson(inner.to_string())
                } else {
                    NormalizeError::InvalidUsage(format!("`{path}`: {inner}"))
                }
            }
        }
    })
}

/// Checks a caller-supplied provider against the one the body shows.
fn check_provider(hints: &Hints, api: ApiKind) -> Result<(), NormalizeError> {
    match &hints.provider {
        Some(given) if given.is_known() && *given != api.provider() => {
            Err(NormalizeError::ProviderMismatch { detected: api.provider(), given: given.clone() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceTier;

    #[test]
    fn an_anthropic_batch_result_bills_its_message_at_batch_prices_and_failures_say_why() {
        let hints = Hints::default();
        let succeeded = br#"{"custom_id":"a","result":{"type":"succeeded","message":{"type":"message","model":"claude-haiku-4-5","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":2}}}}"#;
        let usage = normalize_body(succeeded, &hints).unwrap();
        assert_eq!(usage.service_tier, ServiceTier::Batch, "batch even when the usage does not say so");
        assert_eq!(
            (usage.buckets.input_tokens, usage.buckets.cache_read_tokens, usage.buckets.output_tokens),
            (10, 5, 2)
        );
        assert_eq!(usage.model.as_deref(), Some("claude-haiku-4-5"));
        let errored = br#"{"custom_id":"b","result":{"type":"errored","error":{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}}}"#;
        let error = normalize_body(errored, &hints).unwrap_err().to_string();
        assert!(error.contains("errored (not billed): Overloaded"), "{error}");
        let canceled = br#"{"custom_id":"c","result":{"type":"canceled"}}"#;
        assert!(normalize_body(canceled, &hints).unwrap_err().to_string().contains("canceled (not billed)"));
    }

    #[test]
    fn usage_errors_name_the_field() {
        let err = normalize_usage_json(&Provider::OpenAi, r#"{"prompt_tokens":"ten"}"#).unwrap_err();
        assert!(err.to_string().contains("`prompt_tokens`"), "{err}");
        let err = normalize_usage_json(&Provider::Anthropic, r#"{"input_tokens":-1}"#).unwrap_err();
        assert!(err.to_string().contains("`input_tokens`"), "{err}");
        let err = normalize_usage_json(&Provider::Google, "[1]").unwrap_err();
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
        let err = normalize_usage_json(&Provider::Google, r#"{"promptTokenCount": 1.5}"#).unwrap_err();
        assert!(err.to_string().contains("`promptTokenCount`"), "{err}");
    }

    #[test]
    fn unknown_providers_keep_their_name_with_a_known_shape() {
        let gateway = Provider::Other("openrouter".into());
        let n = normalize_usage_json(&gateway, r#"{"prompt_tokens":10,"completion_tokens":2}"#).unwrap();
        assert_eq!(n.provider, gateway);
        assert_eq!(n.buckets.input_tokens, 10);
    }
}
