//! OpenAI usage: chat completions, the Responses API and embeddings.
//!
//! Billing facts (reference §0, G1, G2): `prompt_tokens`/`input_tokens`
//! INCLUDE the cached tokens (and, on the newest models, the cache-write
//! tokens), so uncached input is the difference; reasoning tokens are INSIDE
//! `completion_tokens`/`output_tokens` and must not be added again.
//!
//! Streams (reference G6): chat's usage is the one chunk with a non-null
//! `usage`, sent only with `stream_options.include_usage`, before
//! `data: [DONE]`; the Responses API's is `response.usage` of its terminal
//! event (`response.completed`, `response.incomplete` or `response.failed`).
//! A chat stream that reports no usage (sent without `include_usage`, or cut
//! off before the usage chunk) has its output estimated from the streamed
//! text (`estimate`), a lower bound ([`Partial`]) with the input unknown. A
//! Responses stream carries no usage before its terminal event, so one cut
//! off before it stays truncated.

use std::borrow::Cow;

use serde::Deserialize;

use super::envelope::{Envelope, parse_embedded};
use super::fees::{self, ToolCalls};
use super::stream::rules::{StreamIdentity, StreamRules, truncated};
use super::{MAX_BODY_BYTES, NormalizeError, estimate, parse_usage};
use crate::provider::Provider;
use crate::usage::{Anomaly, AnomalyKind, ApiKind, NormalizedUsage, Partial, ServiceTier, TokenBuckets, Uplifts};

/// An OpenAI `usage` object of any of the three APIs; every field is optional
/// because SDK versions and APIs differ and explicit `null`s occur.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    total_tokens: Option<u64>,
    prompt_tokens_details: Option<InputDetails>,
    input_tokens_details: Option<InputDetails>,
    completion_tokens_details: Option<OutputDetails>,
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct InputDetails {
    cached_tokens: Option<u64>,
    cache_write_tokens: Option<u64>,
    cache_write_tokens_details: Option<CacheWriteDetails>,
    audio_tokens: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct CacheWriteDetails {
    ttl_12h_tokens: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct OutputDetails {
    reasoning_tokens: Option<u64>,
    audio_tokens: Option<u64>,
}

impl OpenAiUsage {
    /// Which API the object came from, judged by its field names.
    pub(crate) fn api(&self) -> Option<ApiKind> {
        if self.prompt_tokens.is_some() {
            if self.completion_tokens.is_some() || self.completion_tokens_details.is_some() {
                Some(ApiKind::OpenAiChat)
            } else {
                Some(ApiKind::OpenAiEmbeddings)
            }
        } else if self.input_tokens.is_some() {
            Some(ApiKind::OpenAiResponses)
        } else {
            None
        }
    }

    /// True when this looks like a Responses usage object rather than an Anthropic one.
    pub(crate) fn has_responses_markers(&self) -> bool {
        self.input_tokens_details.is_some() || self.output_tokens_details.is_some() || self.total_tokens.is_some()
    }
}

/// Maps an OpenAI response's `service_tier` to the tier it was billed on.
/// `default`, `auto` and `scale` bill at standard rates.
pub(crate) fn service_tier(value: Option<&str>) -> (ServiceTier, Option<String>) {
    value.map_or((ServiceTier::Standard, None), ServiceTier::from_name)
}

/// Applies an OpenAI response's `service_tier`: the tier actually used (G14),
/// which may differ from the one requested.
pub(super) fn apply_service_tier(normalized: &mut NormalizedUsage, tier: Option<&str>) {
    let (tier, note) = service_tier(tier);
    if normalized.service_tier == ServiceTier::Standard {
        normalized.service_tier = tier;
    }
    normalized.notes.extend(note);
}

/// Normalizes the JSON text of one OpenAI usage object of `api`.
fn normalize_json(api: ApiKind, json: &str) -> Result<NormalizedUsage, NormalizeError> {
    normalize(&parse_usage::<OpenAiUsage>(json)?, Some(api)).map_err(NormalizeError::InvalidUsage)
}

/// Normalizes one OpenAI usage object. `api` is the API the caller knows
/// the object came from, or `None` to judge by field names.
pub(crate) fn normalize(usage: &OpenAiUsage, api: Option<ApiKind>) -> Result<NormalizedUsage, String> {
    let api = api
        .or_else(|| usage.api())
        .ok_or_else(|| "the usage object has neither `prompt_tokens` nor `input_tokens`".to_owned())?;
    let (prompt_name, prompt, completion, input_details, output_details) = match api {
        ApiKind::OpenAiResponses => (
            "input_tokens",
            usage.input_tokens,
            usage.output_tokens,
            usage.input_tokens_details.as_ref(),
            usage.output_tokens_details.as_ref(),
        ),
        _ => (
            "prompt_tokens",
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.prompt_tokens_details.as_ref(),
            usage.completion_tokens_details.as_ref(),
        ),
    };
    let prompt = prompt.ok_or_else(|| format!("the usage object has no `{prompt_name}`"))?;
    let output = completion.unwrap_or(0);
    let mut anomalies = Vec::new();
    let mut notes = Vec::new();

    let cached = input_details.and_then(|d| d.cached_tokens).unwrap_or(0);
    let cache_written = input_details.and_then(|d| d.cache_write_tokens).unwrap_or(0);
    let cache_written_12h =
        input_details.and_then(|d| d.cache_write_tokens_details.as_ref()).and_then(|d| d.ttl_12h_tokens).unwrap_or(0);
    if cached.saturating_add(cache_written) > prompt {
        anomalies.push(Anomaly::new(
            AnomalyKind::BucketExceedsTotal,
            format!(
                "cached_tokens ({cached}) + cache_write_tokens ({cache_written}) exceed {prompt_name} ({prompt}) that includes them"
            ),
        ));
    }
    if cache_written_12h > cache_written {
        anomalies.push(Anomaly::new(
            AnomalyKind::Inconsistent,
            format!("ttl_12h_tokens ({cache_written_12h}) exceed cache_write_tokens ({cache_written})"),
        ));
    }
    if let Some(total) = usage.total_tokens
        && prompt.saturating_add(output) > total
    {
        anomalies.push(Anomaly::new(
            AnomalyKind::BucketExceedsTotal,
            format!("{prompt_name} ({prompt}) + output ({output}) exceed total_tokens ({total})"),
        ));
    }

    let input = prompt.saturating_sub(cached).saturating_sub(cache_written);
    let reported_audio = input_details.and_then(|d| d.audio_tokens).unwrap_or(0);
    // Audio may also sit in the cache, which OpenAI does not break down by
    // modality; count at most the uncached input as audio.
    let input_audio = reported_audio.min(input);
    if input_audio < reported_audio {
        notes.push(format!(
            "{} of {reported_audio} audio input tokens were cached; they are priced at the cache-read rate",
            reported_audio - input_audio
        ));
    }
    let buckets = TokenBuckets {
        input_tokens: input,
        cache_read_tokens: cached,
        cache_write_tokens: cache_written.saturating_sub(cache_written_12h),
        cache_write_1h_tokens: cache_written_12h.min(cache_written),
        output_tokens: output,
        reasoning_tokens: output_details.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        input_audio_tokens: input_audio,
        cache_read_audio_tokens: 0,
        output_audio_tokens: output_details.and_then(|d| d.audio_tokens).unwrap_or(0),
        ..TokenBuckets::default()
    };
    buckets.check_magnitude().map_err(|e| e.to_string())?;
    if let Err(anomaly) = buckets.check_parts() {
        anomalies.push(anomaly);
    }
    Ok(NormalizedUsage {
        provider: Provider::OpenAi,
        api: Some(api),
        model: None,
        buckets,
        service_tier: ServiceTier::Standard,
        uplifts: Uplifts::default(),
        anomalies,
        notes,
        partial: None,
    })
}

/// An OpenAI stream so far, chat completions or Responses; see the module docs.
#[derive(Default)]
pub(super) struct StreamUsage {
    chat: ChatStream,
    responses: ResponsesStream,
}

#[derive(Default)]
struct ChatStream {
    /// The raw `usage` of the usage chunk, parsed only when the stream ends.
    usage: Option<String>,
    service_tier: Option<String>,
    done: bool,
    /// While no usage has come: the raw `choices` of the chunks so far,
    /// comma-separated, from which a usage-less stream's output is estimated
    /// (read only then). Emptied when the usage chunk arrives.
    choices: String,
    /// The choices passed [`MAX_BODY_BYTES`]: too many to keep for an estimate.
    choices_dropped: bool,
}

#[derive(Default)]
struct ResponsesStream {
    terminal_event: Option<String>,
    usage: Option<String>,
    service_tier: Option<String>,
    /// The hosted-tool calls of the terminal event's output list.
    tool_calls: ToolCalls,
}

/// The chat stream's last frame, the one frame that is not JSON.
const DONE_MARKER: &[u8] = b"[DONE]";

impl StreamUsage {
    /// Notes chat's `data: [DONE]`; true when `data` is that marker.
    pub(super) fn take_done_marker(&mut self, data: &[u8]) -> bool {
        let done = data.trim_ascii() == DONE_MARKER;
        self.chat.done |= done;
        done
    }

    fn apply_chunk(&mut self, env: &Envelope<'_>, identity: &mut StreamIdentity) {
        identity.set_api(ApiKind::OpenAiChat);
        identity.set_model(env.model());
        if let Some(tier) = &env.service_tier {
            self.chat.service_tier = Some(tier.to_string());
        }
        if let Some(usage) = env.usage {
            self.chat.usage = Some(usage.to_owned());
            self.chat.choices = String::new();
        } else if let Some(choices) = env.choices
            && self.chat.usage.is_none()
            && !self.chat.choices_dropped
        {
            if self.chat.choices.len() + choices.len() >= MAX_BODY_BYTES {
                self.chat.choices = String::new();
                self.chat.choices_dropped = true;
            } else {
                if !self.chat.choices.is_empty() {
                    self.chat.choices.push(',');
                }
                self.chat.choices.push_str(choices);
            }
        }
    }

    fn apply_responses_event(
        &mut self,
        kind: &str,
        env: &Envelope<'_>,
        identity: &mut StreamIdentity,
    ) -> Result<(), NormalizeError> {
        identity.set_api(ApiKind::OpenAiResponses);
        let Some(raw) = env.response else { return Ok(()) };
        let response = parse_embedded(raw, "response")?;
        identity.set_model(response.model());
        if matches!(kind, "response.completed" | "response.incomplete" | "response.failed") {
            self.responses.terminal_event = Some(kind.to_owned());
            self.responses.usage = response.usage.map(str::to_owned);
            self.responses.service_tier = response.service_tier.map(Cow::into_owned);
            self.responses.tool_calls = fees::openai_responses(response.output, response.tool_usage)?;
        }
        Ok(())
    }

    fn finish_chat(&self, api: ApiKind, model: Option<&str>) -> Result<NormalizedUsage, NormalizeError> {
        if let Some(usage) = &self.chat.usage {
            let mut normalized = normalize_json(ApiKind::OpenAiChat, usage)?;
            apply_service_tier(&mut normalized, self.chat.service_tier.as_deref());
            return Ok(normalized);
        }
        let text = estimate::streamed_text(&self.chat.choices).filter(|text| !text.is_empty());
        let Some(text) = text else {
            return Err(if self.chat.done {
                NormalizeError::NoUsage(
                    "the stream has no usage chunk; request one with `\"stream_options\": {\"include_usage\": true}`"
                        .to_owned(),
                )
            } else {
                truncated(api, "ended before its usage chunk and `data: [DONE]`")
            });
        };
        let (output_tokens, encoding) = estimate::count_tokens(model, &text);
        let buckets = TokenBuckets { output_tokens, ..TokenBuckets::default() };
        buckets.check_magnitude().map_err(|e| NormalizeError::InvalidUsage(e.to_string()))?;
        let why = if self.chat.done {
            "the stream has no usage chunk (request one with `stream_options.include_usage`)"
        } else {
            "the stream ended before its usage chunk"
        };
        let mut normalized = NormalizedUsage::from_buckets(Provider::OpenAi, None, buckets);
        normalized.api = Some(api);
        apply_service_tier(&mut normalized, self.chat.service_tier.as_deref());
        normalized.partial = Some(Partial::estimated(format!(
            "{why}: output tokens estimated from the streamed text with {encoding}; input tokens unknown (not counted)"
        )));
        Ok(normalized)
    }

    fn finish_responses(&self, api: ApiKind) -> Result<NormalizedUsage, NormalizeError> {
        let Some(terminal) = &self.responses.terminal_event else {
            return Err(truncated(api, "ended before `response.completed`"));
        };
        let Some(usage) = &self.responses.usage else {
            return Err(NormalizeError::NoUsage(format!("`{terminal}` carries no usage")));
        };
        let mut normalized = normalize_json(api, usage)?;
        self.responses.tool_calls.apply(&mut normalized);
        apply_service_tier(&mut normalized, self.responses.service_tier.as_deref());
        if terminal != "response.completed" {
            normalized.notes.push(format!("the response ended with `{terminal}`"));
        }
        Ok(normalized)
    }
}

impl StreamRules for StreamUsage {
    fn claims(kind: &str, env: &Envelope<'_>) -> bool {
        kind.starts_with("response.") || env.object.as_deref() == Some("chat.completion.chunk")
    }

    fn apply(&mut self, kind: &str, env: &Envelope<'_>, identity: &mut StreamIdentity) -> Result<(), NormalizeError> {
        if kind.starts_with("response.") {
            self.apply_responses_event(kind, env, identity)
        } else {
            self.apply_chunk(env, identity);
            Ok(())
        }
    }

    fn finish(&self, api: ApiKind, model: Option<&str>) -> Result<NormalizedUsage, NormalizeError> {
        if api == ApiKind::OpenAiResponses { self.finish_responses(api) } else { self.finish_chat(api, model) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> NormalizedUsage {
        let usage: OpenAiUsage = serde_json::from_str(json).unwrap();
        normalize(&usage, None).unwrap()
    }

    #[test]
    fn cached_tokens_are_taken_out_of_prompt_tokens() {
        let n = parse(
            r#"{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,
                "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
                "completion_tokens_details":{"reasoning_tokens":0}}"#,
        );
        assert_eq!(n.api, Some(ApiKind::OpenAiChat));
        assert_eq!(n.buckets.input_tokens, 93);
        assert_eq!(n.buckets.cache_read_tokens, 1024);
        assert_eq!(n.buckets.output_tokens, 46);
        assert!(n.anomalies.is_empty());
    }

    #[test]
    fn reasoning_stays_inside_output() {
        let n = parse(
            r#"{"input_tokens":1200,"input_tokens_details":{"cached_tokens":1024},
                "output_tokens":900,"output_tokens_details":{"reasoning_tokens":640},"total_tokens":2100}"#,
        );
        assert_eq!(n.api, Some(ApiKind::OpenAiResponses));
        assert_eq!(n.buckets.output_tokens, 900);
        assert_eq!(n.buckets.reasoning_tokens, 640);
        assert_eq!(n.buckets.input_tokens, 176);
    }

    #[test]
    fn embeddings_have_only_input() {
        let n = parse(r#"{"prompt_tokens":8,"total_tokens":8}"#);
        assert_eq!(n.api, Some(ApiKind::OpenAiEmbeddings));
        assert_eq!(n.buckets.input_tokens, 8);
        assert_eq!(n.buckets.output_tokens, 0);
    }

    #[test]
    fn cache_writes_split_by_ttl() {
        let n = parse(
            r#"{"input_tokens":5000,"output_tokens":10,"total_tokens":5010,
                "input_tokens_details":{"cached_tokens":1000,"cache_write_tokens":3000,
                "cache_write_tokens_details":{"ttl_30m_tokens":2000,"ttl_12h_tokens":1000}}}"#,
        );
        assert_eq!(n.buckets.input_tokens, 1000);
        assert_eq!(n.buckets.cache_write_tokens, 2000);
        assert_eq!(n.buckets.cache_write_1h_tokens, 1000);
    }

    #[test]
    fn cached_more_than_prompt_is_an_anomaly() {
        let n = parse(r#"{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":200}}"#);
        assert_eq!(n.anomalies[0].kind, AnomalyKind::BucketExceedsTotal);
        assert_eq!(n.buckets.input_tokens, 0);
    }

    #[test]
    fn explicit_nulls_count_as_absent() {
        let n = parse(r#"{"prompt_tokens":10,"completion_tokens":null,"prompt_tokens_details":null}"#);
        assert_eq!(n.buckets.input_tokens, 10);
    }

    #[test]
    fn unknown_service_tiers_are_noted_not_hidden() {
        assert_eq!(service_tier(Some("flex")).0, ServiceTier::Flex);
        let (tier, note) = service_tier(Some("ultrafast"));
        assert_eq!(tier, ServiceTier::Standard);
        assert!(note.unwrap().contains("ultrafast"));
    }
}
