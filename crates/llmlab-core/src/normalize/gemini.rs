//! Gemini `usageMetadata` (Gemini Developer API and Vertex AI).
//!
//! Billing facts (reference §1.9, G1, G3): `promptTokenCount` INCLUDES the
//! cached content; `thoughtsTokenCount` is OUTSIDE `candidatesTokenCount` and
//! billed as output; `toolUsePromptTokenCount` is extra prompt. Streams
//! (SSE, or a JSON array without `alt=sse`) carry running totals, so the last
//! chunk's metadata replaces earlier ones; the usage is complete at a chunk
//! with a `finishReason`. A stream cut off before one is priced from the last
//! metadata as a lower bound ([`Partial`]).

use serde::Deserialize;

use super::envelope::Envelope;
use super::fees::{self, ToolCalls};
use super::stream::rules::{StreamIdentity, StreamRules, truncated};
use super::{NormalizeError, parse_usage};
use crate::provider::Provider;
use crate::usage::{Anomaly, AnomalyKind, ApiKind, NormalizedUsage, Partial, ServiceTier, TokenBuckets, Uplifts};

/// A Gemini usage object, in the REST API's camelCase or the Python SDK's
/// snake_case (`model_dump()`), with any field possibly missing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GeminiUsage {
    #[serde(alias = "prompt_token_count")]
    prompt_token_count: Option<u64>,
    #[serde(alias = "candidates_token_count")]
    candidates_token_count: Option<u64>,
    #[serde(alias = "total_token_count")]
    total_token_count: Option<u64>,
    #[serde(alias = "cached_content_token_count")]
    cached_content_token_count: Option<u64>,
    #[serde(alias = "thoughts_token_count")]
    thoughts_token_count: Option<u64>,
    #[serde(alias = "tool_use_prompt_token_count")]
    tool_use_prompt_token_count: Option<u64>,
    #[serde(alias = "prompt_tokens_details")]
    prompt_tokens_details: Option<Vec<ModalityCount>>,
    #[serde(alias = "cache_tokens_details")]
    cache_tokens_details: Option<Vec<ModalityCount>>,
    #[serde(alias = "candidates_tokens_details")]
    candidates_tokens_details: Option<Vec<ModalityCount>>,
    #[serde(alias = "traffic_type")]
    traffic_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ModalityCount {
    modality: Option<String>,
    #[serde(alias = "token_count")]
    token_count: Option<u64>,
}

fn audio_tokens(details: Option<&Vec<ModalityCount>>) -> u64 {
    details.into_iter().flatten().filter(|d| d.modality.as_deref() == Some("AUDIO")).filter_map(|d| d.token_count).sum()
}

/// Normalizes one Gemini usage object.
pub(crate) fn normalize(usage: &GeminiUsage) -> Result<NormalizedUsage, String> {
    let Some(prompt) = usage.prompt_token_count else {
        return Err("the usage metadata has no `promptTokenCount`".to_owned());
    };
    let mut anomalies = Vec::new();
    let mut notes = Vec::new();
    let cached = usage.cached_content_token_count.unwrap_or(0);
    let candidates = usage.candidates_token_count.unwrap_or(0);
    let thoughts = usage.thoughts_token_count.unwrap_or(0);
    let tool_prompt = usage.tool_use_prompt_token_count.unwrap_or(0);
    if cached > prompt {
        anomalies.push(Anomaly::new(
            AnomalyKind::BucketExceedsTotal,
            format!("cachedContentTokenCount ({cached}) exceeds promptTokenCount ({prompt}) that includes it"),
        ));
    }
    let visible = prompt.saturating_add(candidates).saturating_add(tool_prompt);
    let output = match usage.total_token_count {
        // G3: some responses count thoughts inside the candidates; the total tells.
        Some(total) if thoughts > 0 && visible == total => {
            notes.push("thoughtsTokenCount is already inside candidatesTokenCount (the total says so)".to_owned());
            candidates
        }
        Some(total) if visible.saturating_add(thoughts) > total => {
            anomalies.push(Anomaly::new(
                AnomalyKind::BucketExceedsTotal,
                format!(
                    "promptTokenCount ({prompt}) + candidatesTokenCount ({candidates}) + toolUsePromptTokenCount ({tool_prompt}) + thoughtsTokenCount ({thoughts}) exceed totalTokenCount ({total})"
                ),
            ));
            candidates.saturating_add(thoughts)
        }
        _ => candidates.saturating_add(thoughts),
    };
    let input = prompt.saturating_sub(cached).saturating_add(tool_prompt);
    let cached_audio = audio_tokens(usage.cache_tokens_details.as_ref());
    let input_audio = audio_tokens(usage.prompt_tokens_details.as_ref()).saturating_sub(cached_audio).min(input);
    let buckets = TokenBuckets {
        input_tokens: input,
        cache_read_tokens: cached.min(prompt),
        cache_read_audio_tokens: cached_audio.min(cached.min(prompt)),
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        output_tokens: output,
        reasoning_tokens: thoughts,
        input_audio_tokens: input_audio,
        output_audio_tokens: audio_tokens(usage.candidates_tokens_details.as_ref()),
        ..TokenBuckets::default()
    };
    buckets.check_magnitude().map_err(|e| e.to_string())?;
    if let Err(anomaly) = buckets.check_parts() {
        anomalies.push(anomaly);
    }
    // Gemini names the tier in `trafficType`: `ON_DEMAND` (standard),
    // `ON_DEMAND_FLEX`, `ON_DEMAND_PRIORITY`; the tier names map in core.
    let service_tier = usage
        .traffic_type
        .as_deref()
        .and_then(|traffic| traffic.strip_prefix("ON_DEMAND_"))
        .map_or(ServiceTier::Standard, |tier| ServiceTier::from_name(tier).0);
    Ok(NormalizedUsage {
        provider: Provider::Google,
        api: Some(ApiKind::GeminiGenerateContent),
        model: None,
        buckets,
        service_tier,
        uplifts: Uplifts::default(),
        anomalies,
        notes,
        partial: None,
    })
}

/// A Gemini stream so far; see the module docs.
#[derive(Default)]
pub(super) struct StreamUsage {
    /// The latest raw `usageMetadata`, parsed only when the stream ends.
    usage: Option<String>,
    finished: bool,
    /// The Google Search grounding of the last chunk that carried any.
    grounding: Option<ToolCalls>,
}

impl StreamRules for StreamUsage {
    fn claims(_: &str, env: &Envelope<'_>) -> bool {
        env.looks_like_gemini()
    }

    fn apply(&mut self, _: &str, env: &Envelope<'_>, identity: &mut StreamIdentity) -> Result<(), NormalizeError> {
        identity.set_api(ApiKind::GeminiGenerateContent);
        identity.set_model(env.gemini_model());
        if let Some(usage) = env.usage_metadata {
            self.usage = Some(usage.to_owned());
        }
        self.finished |= env.candidates.is_some_and(has_finish_reason);
        if let Some(grounding) = env.candidates.map(fees::gemini_grounding).transpose()?.flatten() {
            self.grounding = Some(grounding);
        }
        Ok(())
    }

    fn finish(&self, api: ApiKind, _: Option<&str>) -> Result<NormalizedUsage, NormalizeError> {
        let Some(usage) = &self.usage else {
            return Err(if self.finished {
                NormalizeError::NoUsage("no chunk carries `usageMetadata`".to_owned())
            } else {
                truncated(api, "ended before a chunk with usage")
            });
        };
        let mut normalized = normalize(&parse_usage::<GeminiUsage>(usage)?).map_err(NormalizeError::InvalidUsage)?;
        if !self.finished {
            // `usageMetadata` is a running total: the prompt is exact, the output so far.
            normalized.partial = Some(Partial::counted(
                "the stream ended before a chunk with a `finishReason`: input tokens are exact, output counted up \
                 to the last chunk's `usageMetadata`",
            ));
        }
        self.grounding.unwrap_or_default().apply(&mut normalized);
        Ok(normalized)
    }
}

/// True when a chunk's raw `candidates` carry a `finishReason`. An unescaped
/// `"finishReason"` inside the raw JSON can only be a key: quotes inside
/// strings are always escaped.
fn has_finish_reason(candidates: &str) -> bool {
    ["\"finishReason\"", "\"finish_reason\""].iter().any(|key| {
        candidates.match_indices(key).any(|(at, _)| {
            let rest = candidates[at + key.len()..].trim_start();
            rest.strip_prefix(':').is_some_and(|v| !v.trim_start().starts_with("null"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(json: &str) -> NormalizedUsage {
        normalize(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn thoughts_are_added_to_candidates_and_cache_taken_from_prompt() {
        let n = normalized(
            r#"{"promptTokenCount":12000,"candidatesTokenCount":150,"totalTokenCount":12950,
                "cachedContentTokenCount":8192,"thoughtsTokenCount":800}"#,
        );
        assert_eq!(n.buckets.input_tokens, 3808);
        assert_eq!(n.buckets.cache_read_tokens, 8192);
        assert_eq!(n.buckets.output_tokens, 950);
        assert_eq!(n.buckets.reasoning_tokens, 800);
        assert!(n.anomalies.is_empty());
    }

    #[test]
    fn thoughts_already_in_candidates_are_not_counted_twice() {
        let n = normalized(
            r#"{"promptTokenCount":10,"candidatesTokenCount":500,"totalTokenCount":510,"thoughtsTokenCount":400}"#,
        );
        assert_eq!(n.buckets.output_tokens, 500);
        assert_eq!(n.notes.len(), 1);
    }

    #[test]
    fn snake_case_from_the_python_sdk_is_accepted() {
        let n = normalized(
            r#"{"prompt_token_count":5,"candidates_token_count":39,"thoughts_token_count":186,"total_token_count":230}"#,
        );
        assert_eq!(n.buckets.output_tokens, 225);
    }

    #[test]
    fn tool_use_prompt_is_input_and_audio_is_split_out() {
        let n = normalized(
            r#"{"promptTokenCount":1000,"candidatesTokenCount":10,"toolUsePromptTokenCount":300,"totalTokenCount":1310,
                "promptTokensDetails":[{"modality":"TEXT","tokenCount":400},{"modality":"AUDIO","tokenCount":600}]}"#,
        );
        assert_eq!(n.buckets.input_tokens, 1300);
        assert_eq!(n.buckets.input_audio_tokens, 600);
    }

    #[test]
    fn cached_audio_is_split_out_of_the_cache_reads() {
        let n = normalized(
            r#"{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":10,"totalTokenCount":1010,
                "promptTokensDetails":[{"modality":"TEXT","tokenCount":400},{"modality":"AUDIO","tokenCount":600}],
                "cacheTokensDetails":[{"modality":"TEXT","tokenCount":300},{"modality":"AUDIO","tokenCount":500}]}"#,
        );
        assert_eq!(
            (n.buckets.input_tokens, n.buckets.cache_read_tokens, n.buckets.input_audio_tokens),
            (200, 800, 100)
        );
        assert_eq!(n.buckets.cache_read_audio_tokens, 500);
        assert!(n.notes.is_empty(), "{:?}", n.notes);
    }

    #[test]
    fn counts_above_the_total_are_an_anomaly() {
        let n = normalized(
            r#"{"promptTokenCount":100,"candidatesTokenCount":50,"thoughtsTokenCount":10,"totalTokenCount":120}"#,
        );
        assert_eq!(n.anomalies[0].kind, AnomalyKind::BucketExceedsTotal);
    }
}
