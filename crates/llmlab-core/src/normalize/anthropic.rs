//! Anthropic Messages usage.
//!
//! Billing facts (reference §1.7, §1.8, G1, G4): `input_tokens` EXCLUDES the
//! cache reads and writes, which are billed on top; `cache_creation` splits the
//! writes into 5-minute and 1-hour TTLs; thinking is INSIDE `output_tokens`.
//! In a stream, `message_start.message.usage` comes first and each
//! `message_delta.usage` carries cumulative totals that OVERWRITE the fields
//! they contain; they are never summed. The usage is complete at `message_stop`
//! (or at the `message_delta` with the `stop_reason`); a stream cut off before
//! both is priced from the usage so far as a lower bound ([`Partial`]).

use serde::Deserialize;

use super::envelope::{Envelope, parse_embedded};
use super::stream::rules::{StreamIdentity, StreamRules, truncated};
use super::{NormalizeError, parse_usage};
use crate::provider::Provider;
use crate::usage::{Anomaly, AnomalyKind, ApiKind, NormalizedUsage, Partial, ServiceTier, TokenBuckets, Uplifts};

/// An Anthropic `usage` object (or a `message_delta` usage, where most
/// fields are absent). Explicit `null`s are treated as absent.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
    server_tool_use: Option<ServerToolUse>,
    service_tier: Option<String>,
    /// `standard` or `fast` (fast mode, billed at a premium).
    speed: Option<String>,
    /// Where the call ran: `us` for US-only inference (billed at a premium on
    /// newer models), `global` otherwise.
    inference_geo: Option<String>,
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
struct ServerToolUse {
    web_search_requests: Option<u64>,
    web_fetch_requests: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
struct OutputDetails {
    thinking_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Applies a cumulative `message_delta` usage: present fields replace ours.
    pub(crate) fn overwrite_with(&mut self, delta: AnthropicUsage) {
        fn take<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        take(&mut self.input_tokens, delta.input_tokens);
        take(&mut self.output_tokens, delta.output_tokens);
        take(&mut self.cache_creation_input_tokens, delta.cache_creation_input_tokens);
        take(&mut self.cache_read_input_tokens, delta.cache_read_input_tokens);
        take(&mut self.cache_creation, delta.cache_creation);
        take(&mut self.server_tool_use, delta.server_tool_use);
        take(&mut self.service_tier, delta.service_tier);
        take(&mut self.speed, delta.speed);
        take(&mut self.inference_geo, delta.inference_geo);
        take(&mut self.output_tokens_details, delta.output_tokens_details);
    }

    /// True when the object has a field only Anthropic uses.
    pub(crate) fn has_anthropic_markers(&self) -> bool {
        self.cache_creation_input_tokens.is_some()
            || self.cache_read_input_tokens.is_some()
            || self.cache_creation.is_some()
            || self.server_tool_use.is_some()
    }
}

/// Normalizes one Anthropic usage object.
pub(crate) fn normalize(usage: &AnthropicUsage) -> Result<NormalizedUsage, String> {
    if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
        return Err("the usage object has neither `input_tokens` nor `output_tokens`".to_owned());
    }
    let mut anomalies = Vec::new();
    let mut notes = Vec::new();
    let written = usage.cache_creation_input_tokens.unwrap_or(0);
    let (write_5m, write_1h) = match usage.cache_creation {
        Some(split) => {
            let five = split.ephemeral_5m_input_tokens.unwrap_or(0);
            let hour = split.ephemeral_1h_input_tokens.unwrap_or(0);
            if usage.cache_creation_input_tokens.is_some() && five.saturating_add(hour) != written {
                anomalies.push(Anomaly::new(
                    AnomalyKind::Inconsistent,
                    format!(
                        "cache_creation splits into {five} (5m) + {hour} (1h) tokens but cache_creation_input_tokens is {written}"
                    ),
                ));
            }
            (five, hour)
        }
        None => (written, 0),
    };
    let output = usage.output_tokens.unwrap_or(0);
    let buckets = TokenBuckets {
        input_tokens: usage.input_tokens.unwrap_or(0),
        cache_read_tokens: usage.cache_read_input_tokens.unwrap_or(0),
        cache_write_tokens: write_5m,
        cache_write_1h_tokens: write_1h,
        output_tokens: output,
        reasoning_tokens: usage.output_tokens_details.and_then(|d| d.thinking_tokens).unwrap_or(0),
        input_audio_tokens: 0,
        cache_read_audio_tokens: 0,
        output_audio_tokens: 0,
        web_search_requests: usage.server_tool_use.and_then(|s| s.web_search_requests).unwrap_or(0),
        web_fetch_requests: usage.server_tool_use.and_then(|s| s.web_fetch_requests).unwrap_or(0),
        ..TokenBuckets::default()
    };
    buckets.check_magnitude().map_err(|e| e.to_string())?;
    if let Err(anomaly) = buckets.check_parts() {
        anomalies.push(anomaly);
    }
    let (service_tier, tier_note) =
        usage.service_tier.as_deref().map_or((ServiceTier::Standard, None), ServiceTier::from_name);
    notes.extend(tier_note);
    let uplifts = Uplifts {
        fast_mode: usage.speed.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("fast")),
        us_inference: usage.inference_geo.as_deref().is_some_and(|g| g.eq_ignore_ascii_case("us")),
        regional_processing: false,
    };
    Ok(NormalizedUsage {
        provider: Provider::Anthropic,
        api: Some(ApiKind::AnthropicMessages),
        model: None,
        buckets,
        service_tier,
        uplifts,
        anomalies,
        notes,
        partial: None,
    })
}

/// An Anthropic stream so far; see the module docs.
#[derive(Default)]
pub(super) struct StreamUsage {
    usage: Option<AnthropicUsage>,
    deltas: usize,
    /// A `message_delta` with a `stop_reason`: the message's last usage.
    final_delta: bool,
    stopped: bool,
}

impl StreamUsage {
    fn start(&mut self, env: &Envelope<'_>, identity: &mut StreamIdentity) -> Result<(), NormalizeError> {
        let Some(raw) = env.message else { return Ok(()) };
        let message = parse_embedded(raw, "message")?;
        identity.set_model(message.model());
        if let Some(usage) = message.usage {
            self.usage = Some(parse_usage(usage)?);
        }
        Ok(())
    }

    fn delta(&mut self, env: &Envelope<'_>) -> Result<(), NormalizeError> {
        if let Some(raw) = env.usage {
            let delta: AnthropicUsage = parse_usage(raw)?;
            self.usage.get_or_insert_with(AnthropicUsage::default).overwrite_with(delta);
            self.deltas += 1;
        }
        self.final_delta |= env.delta.is_some_and(has_stop_reason);
        Ok(())
    }
}

impl StreamRules for StreamUsage {
    fn claims(kind: &str, _: &Envelope<'_>) -> bool {
        matches!(
            kind,
            "message_start"
                | "message_delta"
                | "message_stop"
                | "content_block_start"
                | "content_block_delta"
                | "content_block_stop"
                | "ping"
        )
    }

    fn apply(&mut self, kind: &str, env: &Envelope<'_>, identity: &mut StreamIdentity) -> Result<(), NormalizeError> {
        if kind == "message_stop" {
            self.stopped = true;
            return Ok(());
        }
        identity.set_api(ApiKind::AnthropicMessages);
        match kind {
            "message_start" => self.start(env, identity),
            "message_delta" => self.delta(env),
            _ => Ok(()),
        }
    }

    fn finish(&self, api: ApiKind, _: Option<&str>) -> Result<NormalizedUsage, NormalizeError> {
        let Some(usage) = &self.usage else {
            return Err(truncated(api, "has no `message_start` event"));
        };
        let mut normalized = normalize(usage).map_err(NormalizeError::InvalidUsage)?;
        if !self.stopped && !self.final_delta {
            // The usage in hand is a running count: `message_start` gives the
            // input exactly, each `message_delta` the output so far.
            normalized.partial = Some(Partial::counted(if self.deltas == 0 {
                "the stream ended after `message_start`, before any `message_delta`: input tokens are exact, output \
                 counted up to `message_start`"
            } else {
                "the stream ended before `message_stop`: input tokens are exact, output counted up to the last \
                 `message_delta`"
            }));
        }
        Ok(normalized)
    }
}

/// True when a `message_delta`'s raw `delta` names a `stop_reason`. An
/// unescaped `"stop_reason"` inside the raw JSON can only be a key.
fn has_stop_reason(delta: &str) -> bool {
    delta.match_indices("\"stop_reason\"").any(|(at, key)| {
        let rest = delta[at + key.len()..].trim_start();
        rest.strip_prefix(':').is_some_and(|v| !v.trim_start().starts_with("null"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(json: &str) -> AnthropicUsage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn cache_tokens_are_on_top_of_input() {
        let n = normalize(&usage(
            r#"{"input_tokens":50,"cache_creation_input_tokens":2000,"cache_read_input_tokens":10000,
                "cache_creation":{"ephemeral_5m_input_tokens":1500,"ephemeral_1h_input_tokens":500},
                "output_tokens":300,"server_tool_use":{"web_search_requests":2},"service_tier":"standard"}"#,
        ))
        .unwrap();
        assert_eq!(n.buckets.input_tokens, 50);
        assert_eq!(n.buckets.cache_read_tokens, 10_000);
        assert_eq!(n.buckets.cache_write_tokens, 1500);
        assert_eq!(n.buckets.cache_write_1h_tokens, 500);
        assert_eq!(n.buckets.web_search_requests, 2);
        assert_eq!(n.buckets.prompt_tokens(), 12_050);
        assert!(n.anomalies.is_empty());
    }

    #[test]
    fn writes_without_a_split_are_five_minute_writes() {
        let n = normalize(&usage(r#"{"input_tokens":5,"cache_creation_input_tokens":700,"output_tokens":1}"#)).unwrap();
        assert_eq!(n.buckets.cache_write_tokens, 700);
        assert_eq!(n.buckets.cache_write_1h_tokens, 0);
    }

    #[test]
    fn deltas_overwrite_instead_of_adding() {
        let mut start = usage(r#"{"input_tokens":472,"cache_read_input_tokens":100,"output_tokens":2}"#);
        start.overwrite_with(usage(r#"{"output_tokens":40}"#));
        start.overwrite_with(usage(r#"{"output_tokens":89,"server_tool_use":{"web_search_requests":1}}"#));
        let n = normalize(&start).unwrap();
        assert_eq!(n.buckets.output_tokens, 89);
        assert_eq!(n.buckets.input_tokens, 472);
        assert_eq!(n.buckets.cache_read_tokens, 100);
        assert_eq!(n.buckets.web_search_requests, 1);
    }

    #[test]
    fn a_split_that_disagrees_with_the_total_is_an_anomaly() {
        let n = normalize(&usage(
            r#"{"input_tokens":1,"output_tokens":1,"cache_creation_input_tokens":10,
                "cache_creation":{"ephemeral_5m_input_tokens":4,"ephemeral_1h_input_tokens":4}}"#,
        ))
        .unwrap();
        assert_eq!(n.anomalies[0].kind, AnomalyKind::Inconsistent);
    }

    #[test]
    fn fast_mode_and_us_only_inference_are_read_from_the_usage() {
        let n =
            normalize(&usage(r#"{"input_tokens":1,"output_tokens":1,"speed":"fast","inference_geo":"us"}"#)).unwrap();
        assert_eq!(n.uplifts, Uplifts { fast_mode: true, us_inference: true, regional_processing: false });
        let n =
            normalize(&usage(r#"{"input_tokens":1,"output_tokens":1,"speed":"standard","inference_geo":"global"}"#))
                .unwrap();
        assert!(n.uplifts.is_none());
        let n = normalize(&usage(r#"{"input_tokens":1,"output_tokens":1,"speed":null,"inference_geo":null}"#)).unwrap();
        assert!(n.uplifts.is_none(), "explicit nulls are absent");
    }

    #[test]
    fn batch_results_bill_on_the_batch_tier() {
        let n = normalize(&usage(r#"{"input_tokens":1,"output_tokens":1,"service_tier":"batch"}"#)).unwrap();
        assert_eq!(n.service_tier, ServiceTier::Batch);
    }
}
