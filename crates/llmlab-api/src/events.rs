//! Tracking events.

use std::collections::BTreeMap;

use llmlab_core::{Money, TokenBuckets};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::budgets::BudgetStatus;

/// One LLM call, as `POST /api/events/track` takes it (and each element of a batch).
///
/// Give EITHER the provider's raw usage object (`usage`, or Gemini's
/// `usageMetadata`/`usage_metadata`), which the server normalizes with the
/// same code as `llmlab cost`, OR the normalized token buckets. With
/// neither, the call is stored as "usage unknown" (unpriced, never $0).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackEvent {
    /// `openai`, `anthropic`, `google` (or `gemini`), or any other provider name.
    #[schema(schema_with = crate::limits::provider)]
    pub provider: String,
    /// The model as the provider reported it, e.g. `gpt-4o-2024-08-06`.
    #[schema(schema_with = crate::limits::model)]
    pub model: String,
    /// The provider's raw usage object, exactly as returned: at most 16 KiB, nested at most 16 levels.
    #[serde(default, alias = "usageMetadata", alias = "usage_metadata")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub cache_read_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub cache_write_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub cache_write_1h_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub reasoning_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub input_audio_tokens: Option<u64>,
    /// Part of `cache_read_tokens`: audio read from the prompt cache (Gemini prices it apart).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub cache_read_audio_tokens: Option<u64>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub output_audio_tokens: Option<u64>,
    /// Web searches billed per search (Anthropic, OpenAI, Gemini 3 grounding queries).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub web_search_requests: Option<u64>,
    /// Anthropic web fetches (no fee beyond tokens; counted).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub web_fetch_requests: Option<u64>,
    /// OpenAI file search calls, billed per call.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub file_search_calls: Option<u64>,
    /// OpenAI code-interpreter container sessions, billed per container.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub container_sessions: Option<u64>,
    /// Gemini prompts grounded with Google Search, billed per prompt (Gemini 2.x).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_usize)]
    pub grounded_prompts: Option<u64>,
    /// With `usage` only: the members of the provider's response outside its usage that carry
    /// per-request fees, as the response has them (at most 16 KiB): OpenAI Responses `output`
    /// (its hosted-tool items; `type`, `status` and `container_id` suffice) and `tool_usage`;
    /// Gemini `candidates` (`groundingMetadata.webSearchQueries` suffices). The server counts
    /// the fees from them exactly as from a whole response.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub response_parts: Option<Box<RawValue>>,
    /// A decimal string that overrides the catalog price for this call.
    #[serde(default)]
    #[schema(schema_with = event_cost)]
    pub cost_usd: Option<Money>,
    /// A client-generated id (UUIDv7 recommended); a retried event is counted once.
    #[serde(default)]
    #[schema(schema_with = crate::limits::event_id)]
    pub event_id: Option<String>,
    /// When the call happened (RFC 3339), from 2000-01-01T00:00:00Z to a day ahead of the server's clock;
    /// defaults to when the server received it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub timestamp: Option<String>,
    /// A project name; created on first use. Defaults to `default`.
    #[serde(default)]
    #[schema(schema_with = crate::limits::project)]
    pub project: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::limits::tags)]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_usize)]
    pub latency_ms: Option<u64>,
    /// `ok`, `error`, or a provider status such as `429`.
    #[serde(default)]
    #[schema(schema_with = crate::limits::status)]
    pub status: Option<String>,
    /// True for Batch API calls (billed at batch prices).
    #[serde(default)]
    pub batch: Option<bool>,
    /// The service tier the response reports (`flex`, `priority`, `default`…).
    #[serde(default)]
    pub service_tier: Option<String>,
    /// The service tier the request asked for; see the schema.
    #[serde(default)]
    #[schema(schema_with = crate::limits::requested_service_tier)]
    pub requested_service_tier: Option<String>,
    /// The host the call was sent to; see the schema.
    #[serde(default)]
    #[schema(schema_with = crate::limits::upstream_host)]
    pub upstream_host: Option<String>,
    /// The hold `POST /api/budgets/reserve` made for this call: storing the
    /// event releases it (in the same transaction), replacing it with the actual cost.
    #[serde(default)]
    pub reservation_id: Option<String>,
    /// True when `usage` is a lower bound: the stream was cut off before the
    /// provider's final usage (the client saw no final event). The event is
    /// priced from it and shown as "at least $X".
    #[serde(default)]
    pub partial: Option<bool>,
    /// Why the usage is a lower bound, in one sentence; only with `partial: true`.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub partial_reason: Option<String>,
    /// A sentence the client adds to the event's notes (shown with the event and in the
    /// export's `notes`), e.g. why a call was billed elsewhere. At most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

fn event_cost() -> utoipa::openapi::schema::Schema {
    crate::limits::money(
        7,
        false,
        true,
        "A decimal string of USD, such as `\"0.0125\"`, that overrides the catalog price for this call; at most \
         `1000000` (one event's maximum).",
    )
}

/// A count or a duration: a JSON integer from 0 to `i64::MAX` (what the
/// database stores). JSON Schema's `integer` includes numbers written with a
/// zero fraction (`12.0`), and some clients send them so, so those count too.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    // 2^63 as a float; every integral float below it converts to u64 exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else { return Ok(None) };
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(n), _) => i64::try_from(n).is_ok().then_some(n),
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked: integral, in 0..2^63
        (None, Some(f)) => (f.fract() == 0.0 && (0.0..LIMIT).contains(&f)).then_some(f as u64),
        (None, None) => None,
    };
    whole.map(Some).ok_or_else(|| D::Error::custom(format!("`{number}` is not a whole number from 0 to {}", i64::MAX)))
}

/// `POST /api/events/batch`: all events are stored, or none.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most 10,000 events.
    #[schema(max_items = 10000)]
    pub events: Vec<TrackEvent>,
}

/// What the server made of one event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[allow(clippy::struct_excessive_bools)] // each is a fact of the wire object
pub struct TrackedEvent {
    pub event_id: String,
    /// True when an event with this `event_id` was already stored (it is not counted again).
    pub duplicate: bool,
    pub priced: bool,
    /// Decimal string, or `null` when unpriced.
    #[schema(value_type = Option<String>)]
    pub cost_usd: Option<Money>,
    /// `catalog`, `custom` (the account's own price), `explicit` (the event's `cost_usd`) or `refused`
    /// (exactly $0: a `status` of 400-599 and no usage, a call the provider refused and does not bill).
    pub cost_source: Option<String>,
    /// The catalog or custom model id the price came from.
    pub priced_as: Option<String>,
    /// Why the call is unpriced, as a stable code: `unknown_provider`, `unknown_model`, `missing_price`
    /// (adding a price fixes these), `no_usage`, `no_model` or `anomaly`.
    #[serde(default)]
    pub unpriced_code: Option<String>,
    /// Why the call is unpriced, as a sentence (an unknown provider is named, with the nearest
    /// built-in name when it looks like a typo).
    pub unpriced_reason: Option<String>,
    #[schema(value_type = Object)]
    pub tokens: TokenBuckets,
    /// How the cost adds up: one line per priced token class and per request fee (web searches,
    /// file searches, containers, grounded prompts), each with its quantity, unit price and exact
    /// cost. Empty when unpriced, or priced by the event's own `cost_usd`.
    #[serde(default)]
    pub cost_lines: Vec<EventCostLine>,
    pub service_tier: String,
    pub long_context: bool,
    pub anomalies: Vec<String>,
    pub notes: Vec<String>,
    /// True when the usage is a lower bound (a stream cut off before its
    /// final usage): `cost_usd` is "at least" that much. Not the same as unpriced.
    #[serde(default)]
    pub partial: bool,
    /// Why the usage is a lower bound (which final event was missing, what was counted or estimated).
    #[serde(default)]
    pub partial_reason: Option<String>,
}

/// One line of an event's cost: a token class or a per-request fee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventCostLine {
    /// The catalog price class: `input`, `cache_read`, `output`, …, or a fee: `web_search`,
    /// `web_fetch`, `file_search`, `container_session`, `grounded_prompt`.
    pub class: String,
    /// Tokens, or requests for a fee.
    pub quantity: u64,
    /// USD per 1M tokens, or per request for a fee, as a decimal string.
    pub unit_price_usd: String,
    /// The exact, unrounded cost of the line, as a decimal string.
    pub cost_usd: String,
}

/// `POST /api/events/track` response.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackResponse {
    #[serde(flatten)]
    pub event: TrackedEvent,
    /// The account's budget after this event, so an SDK can warn.
    pub budget: BudgetStatus,
}

/// One event of a batch, briefly: a batch of 10,000 answers in well under a
/// megabyte. (`/api/events/track` returns the full [`TrackedEvent`].)
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    pub event_id: String,
    pub duplicate: bool,
    pub priced: bool,
    #[schema(value_type = Option<String>)]
    pub cost_usd: Option<Money>,
    /// As in the track response.
    #[serde(default)]
    pub unpriced_code: Option<String>,
    pub unpriced_reason: Option<String>,
    /// As in the track response: `cost_usd` is a lower bound.
    #[serde(default)]
    pub partial: bool,
}

/// `POST /api/events/batch` response.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub inserted: u64,
    pub duplicates: u64,
    /// One per event, in the order sent.
    pub results: Vec<BatchResult>,
    pub budget: BudgetStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_tokens(json: &str) -> Result<Option<u64>, String> {
        let body = format!(r#"{{"provider": "openai", "model": "gpt-4o", "input_tokens": {json}}}"#);
        serde_json::from_str::<TrackEvent>(&body).map(|e| e.input_tokens).map_err(|e| e.to_string())
    }

    #[test]
    fn counts_are_whole_numbers_from_zero_to_i64_max_in_either_notation() {
        assert_eq!(input_tokens("12"), Ok(Some(12)));
        assert_eq!(input_tokens("12.0"), Ok(Some(12)));
        assert_eq!(input_tokens("1e3"), Ok(Some(1000)));
        assert_eq!(input_tokens("null"), Ok(None));
        assert_eq!(input_tokens("9223372036854775807"), Ok(Some(i64::MAX as u64)));
        for refused in ["12.5", "-1", "-0.5", "9223372036854775808", "1e19", "\"12\""] {
            assert!(input_tokens(refused).is_err(), "{refused}");
        }
    }
}
