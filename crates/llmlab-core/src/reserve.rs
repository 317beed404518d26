//! The worst-case cost of a call, read from its REQUEST before it is sent:
//! what a hard budget reserves (issue 15), replaced by the actual cost once
//! the response arrives.
//!
//! # The input bound
//!
//! A text prompt costs at most one token per byte of the request body. Every
//! tokenizer these providers use (byte-level BPE for OpenAI and Anthropic,
//! SentencePiece with byte fallback for Gemini) emits tokens that each cover
//! at least one byte of UTF-8 text, and the body holds that text plus JSON
//! syntax and escapes, which only add bytes (`\n` is two bytes for one
//! character). The JSON around each message (`{"role":"user","content":""}`,
//! 28 bytes) also outweighs the few tokens of chat template the provider
//! wraps it in. What the body does not show is added as
//! [`HIDDEN_PROMPT_TOKENS`]: the system prompt a provider adds for tools
//! (Anthropic documents at most 530 tokens) and similar framing.
//!
//! That reasoning holds for text only. Content the body does not carry as text
//! is NOT bounded by its bytes, and the input bound becomes the model's
//! context window (`max_input_tokens` in the catalog), since no call is
//! billed for more prompt than its model accepts:
//! - images: tokens follow their pixel size, not their bytes (a 1×1 PNG is
//!   about 90 base64 bytes but 255 tokens on `gpt-4o` at high detail), and an
//!   image URL is a few dozen bytes for up to thousands of tokens;
//! - audio, video, PDFs and other files, inline or not (silence or a still
//!   frame compresses to almost nothing, a PDF page is billed as text and an
//!   image);
//! - content referenced by id: `file_id`, `file_url`, Gemini `fileData` and
//!   `cachedContent`, OpenAI Responses `previous_response_id`, `conversation`,
//!   `prompt` and `item_reference`;
//! - server-side tools, whose results join the prompt (web search, web fetch,
//!   code execution, MCP, Gemini's Google Search).
//!
//! A model without a context window in the catalog gives
//! [`Reservation::Unbounded`] for such a call: the caller decides.
//! Known gap: a beta that widens the window (Anthropic's 1M-token context
//! header) is not visible in the body, so such calls are bounded by the
//! catalog's window.
//!
//! # The output bound
//!
//! The request's own limit (`max_completion_tokens` or `max_tokens` for OpenAI
//! chat, `max_output_tokens` for OpenAI Responses, `max_tokens` for Anthropic,
//! `generationConfig.maxOutputTokens` for Gemini), which every provider
//! applies to reasoning/thinking tokens too; otherwise the model's
//! `max_output_tokens` from the catalog, otherwise [`Reservation::Unbounded`].
//! It is multiplied by the number of choices asked for (`n`,
//! `candidateCount`): each is billed.
//!
//! # Pricing the bound
//!
//! The bound is priced by [`crate::cost::quote`], so the table, tier and
//! long-context rules are the ones actual calls are priced with. The input is
//! priced at the dearest class the request can be billed at: uncached input
//! (a cache read is cheaper), or a cache write where the request can cause one
//! (Anthropic `cache_control`, 1-hour when a `ttl` of `1h` is asked for;
//! OpenAI caches on its own, so its cache-write price counts whenever the
//! model has one, the extended one when `prompt_cache_retention` asks for
//! it). The tier is the request's `service_tier` (priority is dearer: it is
//! used when asked for). Anthropic web searches are billed per search, so a
//! `web_search` tool must set `max_uses`, or the call is unbounded.

use std::borrow::Cow;
use std::fmt;

use jiff::civil::Date;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, RateCard, canonical_model_id};
use crate::cost::{Quote, Unpriced, quote};
use crate::money::Money;
use crate::provider::Provider;
use crate::usage::{ApiKind, ServiceTier, TokenBuckets};

/// Prompt tokens a provider adds that the body does not show: its tool-use
/// system prompt (Anthropic lists 264–530 tokens per model) and chat-template
/// framing. Generous on purpose: an over-reservation is released when the
/// call settles; an under-reservation lets a budget overspend.
pub const HIDDEN_PROMPT_TOKENS: u64 = 1_024;

/// Why a request could not be read. Each message names the problem in one
/// line, for a proxy's 4xx or a log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    #[error(
        "`{0}` is not an API LLMLab can reserve for (chat completions, responses, embeddings, messages, generateContent)"
    )]
    UnsupportedPath(String),
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body must be a JSON object")]
    NotAnObject,
    #[error("the request names no model")]
    NoModel,
    #[error("`{field}` {problem}")]
    InvalidField { field: &'static str, problem: String },
}

/// What a hard budget must hold back for a call before it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reservation {
    /// The call costs at most this much.
    Bounded(WorstCase),
    /// The model is priced at $0 (a local model, a custom $0 price): such
    /// calls are never refused.
    Free { priced_as: String },
    /// The model is priced but the call's cost has no bound LLMLab can
    /// derive (no output limit in the request or the catalog, say); the
    /// caller decides whether to send it.
    Unbounded { priced_as: String, reason: String },
    /// The model or provider has no price: the caller decides.
    Unpriced(Unpriced),
}

impl Reservation {
    /// The amount to reserve: the bound, $0 for a free model, `None` when
    /// there is no bound.
    #[must_use]
    pub fn cost(&self) -> Option<Money> {
        match self {
            Reservation::Bounded(worst) => Some(worst.cost),
            Reservation::Free { .. } => Some(Money::ZERO),
            Reservation::Unbounded { .. } | Reservation::Unpriced(_) => None,
        }
    }
}

/// A bounded call: its worst-case cost and how it was reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorstCase {
    /// The bound, rounded once like every cost (so it is never below the
    /// rounded actual cost).
    pub cost: Money,
    /// The catalog (or custom) id the model resolved to.
    pub priced_as: String,
    /// The token counts priced: the input bound in the dearest input class.
    pub buckets: TokenBuckets,
    pub table: ServiceTier,
    pub long_context: bool,
    /// The assumptions made, in words.
    pub notes: Vec<String>,
}

/// The API a request path calls, and the model a Gemini path names.
/// Query strings are ignored; any prefix (`/proxy/openai`, a Vertex
/// project path, Gemini's OpenAI-compatible `/v1beta/openai/…`) is allowed.
pub fn request_api(path: &str) -> Result<(ApiKind, Option<&str>), ReserveError> {
    let path = path.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
    for (method, api) in [
        (":generateContent", ApiKind::GeminiGenerateContent),
        (":streamGenerateContent", ApiKind::GeminiGenerateContent),
    ] {
        if let Some(before) = path.strip_suffix(method) {
            let model = before.rsplit('/').next().filter(|m| !m.is_empty());
            return Ok((api, model));
        }
    }
    let api = if path.ends_with("/chat/completions") {
        ApiKind::OpenAiChat
    } else if path.ends_with("/responses") {
        ApiKind::OpenAiResponses
    } else if path.ends_with("/embeddings") {
        ApiKind::OpenAiEmbeddings
    } else if path.ends_with("/messages") {
        ApiKind::AnthropicMessages
    } else {
        return Err(ReserveError::UnsupportedPath(path.to_owned()));
    };
    Ok((api, None))
}

/// The worst-case cost of sending `body` to `path` at `provider`, priced as
/// of `on` from the account's `custom` card when it has one, else the catalog.
pub fn reserve(
    catalog: &Catalog,
    provider: &Provider,
    path: &str,
    body: &[u8],
    on: Date,
    custom: Option<&RateCard>,
) -> Result<Reservation, ReserveError> {
    let (api, path_model) = request_api(path)?;
    let facts = RequestFacts::read(body)?;
    let model = match api {
        ApiKind::GeminiGenerateContent => path_model.map(Cow::Borrowed).or(facts.model.clone()),
        _ => facts.model.clone(),
    }
    .filter(|m| !m.trim().is_empty())
    .ok_or(ReserveError::NoModel)?;

    let (card, priced_as, limits) = if let Some(card) = custom {
        let entry = catalog.resolve(Some(provider), &model).map(|r| r.entry);
        let limits = entry.map_or((None, None), |e| (e.max_input_tokens, e.max_output_tokens));
        (card, canonical_model_id(&model), limits)
    } else if !provider.is_known() {
        return Ok(Reservation::Unpriced(Unpriced::UnknownProvider {
            provider: provider.as_str().to_owned(),
            suggestion: provider.suggestion(),
            model: model.into_owned(),
        }));
    } else if let Some(found) = catalog.resolve(Some(provider), &model) {
        let entry = found.entry;
        (entry.rates_on(on), entry.id.clone(), (entry.max_input_tokens, entry.max_output_tokens))
    } else {
        return Ok(Reservation::Unpriced(Unpriced::UnknownModel { model: model.into_owned() }));
    };
    if card.is_free() {
        return Ok(Reservation::Free { priced_as });
    }
    let (max_input, max_output) = limits;
    let mut notes = Vec::new();

    let body_bound = (body.len() as u64).saturating_add(HIDDEN_PROMPT_TOKENS);
    let input = match (&facts.unbounded_input, max_input) {
        (None, _) => body_bound,
        (Some(_), Some(window)) => {
            notes.push(format!("{}: the input is bounded by the context window", facts.unbounded_input_reason()));
            window.max(body_bound)
        }
        (Some(_), None) => {
            let reason =
                format!("{}, and `{priced_as}` has no context window in the catalog", facts.unbounded_input_reason());
            return Ok(Reservation::Unbounded { priced_as, reason });
        }
    };

    let output = if api == ApiKind::OpenAiEmbeddings {
        0
    } else {
        let requested = match api {
            ApiKind::OpenAiChat => facts.max_completion_tokens.or(facts.max_tokens),
            ApiKind::OpenAiResponses => facts.max_output_tokens,
            ApiKind::AnthropicMessages => facts.max_tokens,
            ApiKind::GeminiGenerateContent => facts.max_output_tokens_gemini,
            ApiKind::OpenAiEmbeddings => Some(0),
        };
        let per_choice = match (requested, max_output) {
            (Some(limit), _) => limit,
            (None, Some(limit)) => {
                notes.push(format!("the request sets no output limit: `{priced_as}`'s maximum of {limit} tokens"));
                limit
            }
            (None, None) => {
                let reason =
                    format!("the request sets no output limit and `{priced_as}` has no maximum output in the catalog");
                return Ok(Reservation::Unbounded { priced_as, reason });
            }
        };
        per_choice.saturating_mul(facts.choices.unwrap_or(1).max(1))
    };

    // Only a model with a per-search fee bills searches (the actual call is priced the same way).
    let search_fee = card.request_fees.as_ref().is_some_and(|f| f.web_search.is_some());
    let web_searches = match facts.web_search {
        WebSearch::MaxUses(uses) if search_fee => uses,
        WebSearch::Unlimited if search_fee => {
            let reason = "the web_search tool sets no `max_uses`, and each search is billed".to_owned();
            return Ok(Reservation::Unbounded { priced_as, reason });
        }
        _ => 0,
    };

    // Anthropic's `standard_only` is the standard tier by another name.
    let tier_name = facts.service_tier.as_deref().filter(|t| *t != "standard_only");
    let tier = match tier_name.map(ServiceTier::from_name) {
        // A live call is never a Batch API call, whatever it claims.
        None | Some((ServiceTier::Batch, _)) => ServiceTier::Standard,
        Some((tier, note)) => {
            notes.extend(note);
            tier
        }
    };

    let base = TokenBuckets { output_tokens: output, web_search_requests: web_searches, ..TokenBuckets::default() };
    let base = if facts.audio_output { TokenBuckets { output_audio_tokens: output, ..base } } else { base };
    let as_input =
        TokenBuckets { input_tokens: input, input_audio_tokens: if facts.audio_input { input } else { 0 }, ..base };
    let mut candidates = vec![as_input];
    let (write_5m, write_1h) = match api {
        ApiKind::AnthropicMessages => (facts.cache_control, facts.cache_1h),
        ApiKind::OpenAiChat | ApiKind::OpenAiResponses => (true, facts.extended_retention),
        _ => (false, false),
    };
    if write_5m && card.standard.cache_write_5m.is_some() {
        candidates.push(TokenBuckets { cache_write_tokens: input, ..base });
    }
    if write_1h && card.standard.cache_write_1h.is_some() {
        candidates.push(TokenBuckets { cache_write_1h_tokens: input, ..base });
    }
    let mut worst: Option<(Quote, TokenBuckets)> = None;
    for buckets in candidates {
        match quote(card, &buckets, tier, &priced_as) {
            Ok(q) if worst.as_ref().is_none_or(|(w, _)| q.exact_usd > w.exact_usd) => worst = Some((q, buckets)),
            Ok(_) => {}
            Err(reason) => return Ok(Reservation::Unpriced(reason)),
        }
    }
    let (q, buckets) = worst.expect("the uncached input is always a candidate");
    notes.extend(q.notes);
    Ok(Reservation::Bounded(WorstCase {
        cost: q.cost,
        priced_as,
        buckets,
        table: q.table,
        long_context: q.long_context,
        notes,
    }))
}

/// Whether a request asks for Anthropic web searches, which are billed per search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum WebSearch {
    #[default]
    None,
    MaxUses(u64),
    Unlimited,
}

/// What the worst case depends on, read in one pass over the body.
#[derive(Debug, Default)]
struct RequestFacts<'a> {
    model: Option<Cow<'a, str>>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    max_output_tokens_gemini: Option<u64>,
    choices: Option<u64>,
    service_tier: Option<Cow<'a, str>>,
    /// The first thing found whose tokens the body's bytes do not bound.
    unbounded_input: Option<&'static str>,
    cache_control: bool,
    cache_1h: bool,
    extended_retention: bool,
    audio_input: bool,
    audio_output: bool,
    web_search: WebSearch,
}

impl<'a> RequestFacts<'a> {
    fn read(body: &'a [u8]) -> Result<Self, ReserveError> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        if body.trim_ascii_start().first() != Some(&b'{') {
            // Distinguish "not JSON" from "JSON, but not an object".
            return match serde_json::from_slice::<IgnoredAny>(body) {
                Ok(_) => Err(ReserveError::NotAnObject),
                Err(e) => Err(ReserveError::InvalidJson(e.to_string())),
            };
        }
        let mut facts = RequestFacts::default();
        FIELD_ERROR.set(None);
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        TopLevel(&mut facts).deserialize(&mut deserializer).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => match FIELD_ERROR.take() {
                Some((field, problem)) => ReserveError::InvalidField { field, problem },
                None => ReserveError::InvalidJson(e.to_string()),
            },
            _ => ReserveError::InvalidJson(e.to_string()),
        })?;
        deserializer.end().map_err(|e| ReserveError::InvalidJson(e.to_string()))?;
        Ok(facts)
    }

    fn unbounded_input_reason(&self) -> String {
        format!("the request has {}, whose tokens its bytes do not bound", self.unbounded_input.unwrap_or("content"))
    }

    fn mark_unbounded(&mut self, what: &'static str) {
        self.unbounded_input.get_or_insert(what);
    }
}

thread_local! {
    /// The field a typed error came from; serde's error type carries only text.
    static FIELD_ERROR: std::cell::Cell<Option<(&'static str, String)>> = const { std::cell::Cell::new(None) };
}

fn field_error<E: de::Error>(field: &'static str, problem: impl fmt::Display) -> E {
    let problem = problem.to_string();
    FIELD_ERROR.set(Some((field, problem.clone())));
    E::custom(format!("`{field}` {problem}"))
}

/// A non-negative integer (or `null`) named `field`.
fn count<'de, A: MapAccess<'de>>(map: &mut A, field: &'static str) -> Result<Option<u64>, A::Error> {
    let value: Option<serde_json::Number> = map
        .next_value()
        .map_err(|e: A::Error| field_error(field, format_args!("must be a non-negative integer ({e})")))?;
    match value {
        None => Ok(None),
        Some(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| field_error(field, format_args!("must be a non-negative integer, not `{n}`"))),
    }
}

/// A string (or `null`) named `field`.
fn text<'de, A: MapAccess<'de>>(map: &mut A, field: &'static str) -> Result<Option<Cow<'de, str>>, A::Error> {
    map.next_value::<Option<CowStr<'de>>>()
        .map(|v| v.map(|s| s.0))
        .map_err(|e: A::Error| field_error(field, format_args!("must be a string ({e})")))
}

/// A string that borrows from the body unless it has escapes.
struct CowStr<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Keys whose presence means content the body's bytes do not bound.
fn unbounded_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "image_url" | "input_image" => "an image",
        "input_audio" => "audio",
        "file_id" | "file_url" | "file_data" | "fileData" | "file_data_uri" | "fileUri" | "file_uri" => "a file",
        "inlineData" | "inline_data" => "inline media",
        _ => return None,
    })
}

/// `type` values of content parts the body's bytes do not bound.
fn unbounded_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "image" | "image_url" | "input_image" | "computer_screenshot" => "an image",
        "input_audio" | "audio" => "audio",
        "video" | "input_video" => "video",
        "document" | "file" | "input_file" | "container_upload" => "a file",
        "item_reference" => "an item reference",
        "mcp_tool_use" | "mcp_tool_result" => "MCP content",
        _ => return None,
    })
}

/// The top-level object: the fields the bound needs, and a scan of the rest.
struct TopLevel<'f, 'a>(&'f mut RequestFacts<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for TopLevel<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for TopLevel<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let facts = self.0;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match key.0.as_ref() {
                "model" => facts.model = text(&mut map, "model")?,
                "max_tokens" => facts.max_tokens = count(&mut map, "max_tokens")?,
                "max_completion_tokens" => facts.max_completion_tokens = count(&mut map, "max_completion_tokens")?,
                "max_output_tokens" => facts.max_output_tokens = count(&mut map, "max_output_tokens")?,
                "n" => facts.choices = count(&mut map, "n")?,
                "service_tier" | "serviceTier" => facts.service_tier = text(&mut map, "service_tier")?,
                "prompt_cache_retention" => {
                    let retention = text(&mut map, "prompt_cache_retention")?;
                    facts.extended_retention = retention.is_some_and(|r| r != "in_memory");
                }
                "generationConfig" | "generation_config" => map.next_value_seed(GenerationConfig(facts))?,
                "modalities" => {
                    let modalities: Option<Vec<CowStr<'de>>> = map.next_value().map_err(|e: A::Error| {
                        field_error("modalities", format_args!("must be a list of strings ({e})"))
                    })?;
                    facts.audio_output |= modalities.iter().flatten().any(|m| m.0.eq_ignore_ascii_case("audio"));
                }
                "tools" => map.next_value_seed(Tools(facts))?,
                "cachedContent" | "cached_content" => {
                    if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                        facts.mark_unbounded("cached content");
                    }
                }
                "previous_response_id" | "conversation" | "prompt" => {
                    if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                        facts.mark_unbounded("an earlier response, conversation or stored prompt");
                    }
                }
                "web_search_options" | "mcp_servers" | "container" => {
                    if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                        facts.mark_unbounded("a server-side tool");
                    }
                }
                _ => map.next_value_seed(Scan(facts))?,
            }
        }
        Ok(())
    }
}

/// Gemini's `generationConfig`.
struct GenerationConfig<'f, 'a>(&'f mut RequestFacts<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for GenerationConfig<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for GenerationConfig<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a generationConfig object")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let facts = self.0;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match key.0.as_ref() {
                "maxOutputTokens" | "max_output_tokens" => {
                    facts.max_output_tokens_gemini = count(&mut map, "generationConfig.maxOutputTokens")?;
                }
                "candidateCount" | "candidate_count" => {
                    facts.choices = count(&mut map, "generationConfig.candidateCount")?;
                }
                "responseModalities" | "response_modalities" => {
                    let modalities: Option<Vec<CowStr<'de>>> = map.next_value().map_err(|e: A::Error| {
                        field_error(
                            "generationConfig.responseModalities",
                            format_args!("must be a list of strings ({e})"),
                        )
                    })?;
                    facts.audio_output |= modalities.iter().flatten().any(|m| m.0.eq_ignore_ascii_case("audio"));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `tools` list: function tools are text in the body; any other kind
/// runs on the provider's side and adds content the body does not hold.
struct Tools<'f, 'a>(&'f mut RequestFacts<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for Tools<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Tools<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tools")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(tool) = seq.next_element::<Tool<'de>>()? {
            let kind = tool.kind.as_deref();
            let gemini_builtin = tool.other_keys && tool.kind.is_none();
            let builtin = matches!(kind, Some(k) if k != "function" && k != "custom") || gemini_builtin;
            if builtin {
                self.0.mark_unbounded("a server-side tool");
            }
            if kind.is_some_and(|k| k.starts_with("web_search")) {
                self.0.web_search = match (self.0.web_search, tool.max_uses) {
                    (WebSearch::Unlimited, _) | (_, None) => WebSearch::Unlimited,
                    (WebSearch::MaxUses(before), Some(uses)) => WebSearch::MaxUses(before.saturating_add(uses)),
                    (WebSearch::None, Some(uses)) => WebSearch::MaxUses(uses),
                };
            }
            if tool.cache_control {
                self.0.cache_control = true;
                self.0.cache_1h |= tool.cache_1h;
            }
        }
        Ok(())
    }
}

/// One entry of `tools`, as far as the bound cares.
#[derive(Default)]
struct Tool<'de> {
    kind: Option<Cow<'de, str>>,
    max_uses: Option<u64>,
    /// Anthropic client tools (`name` + `input_schema`) and OpenAI function tools.
    function_like: bool,
    /// Gemini's built-ins are keys of their own (`googleSearch`, `codeExecution`, …).
    other_keys: bool,
    cache_control: bool,
    cache_1h: bool,
}

impl<'de> Deserialize<'de> for Tool<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tool<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tool object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tool<'de>, A::Error> {
                let mut tool = Tool::default();
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    match key.0.as_ref() {
                        "type" => tool.kind = text(&mut map, "tools[].type")?,
                        "max_uses" => tool.max_uses = count(&mut map, "tools[].max_uses")?,
                        "cache_control" => {
                            let control: Option<CacheControl<'de>> = map.next_value()?;
                            if let Some(control) = control {
                                tool.cache_control = true;
                                tool.cache_1h |= control.is_1h();
                            }
                        }
                        "name"
                        | "input_schema"
                        | "description"
                        | "function"
                        | "parameters"
                        | "strict"
                        | "functionDeclarations"
                        | "function_declarations" => {
                            tool.function_like = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            tool.other_keys = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(tool)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Anthropic's `cache_control`: `{"type": "ephemeral", "ttl": "5m" | "1h"}`.
#[derive(Deserialize)]
struct CacheControl<'a> {
    #[serde(borrow, default)]
    ttl: Option<Cow<'a, str>>,
}

impl CacheControl<'_> {
    fn is_1h(&self) -> bool {
        self.ttl.as_deref() == Some("1h")
    }
}

/// Walks any value, noting cache_control blocks and content the body's
/// bytes do not bound, without building it.
struct Scan<'f, 'a>(&'f mut RequestFacts<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for Scan<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Scan<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Scan(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let facts = self.0;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let key = key.0.as_ref();
            if key == "cache_control" {
                let control: Option<CacheControl<'de>> = map.next_value()?;
                if let Some(control) = control {
                    facts.cache_control = true;
                    facts.cache_1h |= control.is_1h();
                }
            } else if key == "type" {
                map.next_value_seed(TypeValue(facts))?;
            } else if let Some(what) = unbounded_key(key) {
                facts.mark_unbounded(what);
                if what == "audio" {
                    facts.audio_input = true;
                }
                map.next_value::<IgnoredAny>()?;
            } else if key == "mimeType" || key == "mime_type" {
                map.next_value_seed(TypeValue(facts))?;
            } else {
                map.next_value_seed(Scan(&mut *facts))?;
            }
        }
        Ok(())
    }
}

/// The value of a `type` (or `mimeType`) key: a content kind, or anything else.
struct TypeValue<'f, 'a>(&'f mut RequestFacts<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for TypeValue<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for TypeValue<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let kind = v.split('/').next().unwrap_or(v);
        if let Some(what) =
            unbounded_type(kind).or(if v.contains('/') && kind != "text" { Some("inline media") } else { None })
        {
            self.0.mark_unbounded(what);
            self.0.audio_input |= what == "audio" || kind == "audio";
        }
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Scan(self.0).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Scan(self.0).visit_map(map)
    }
}
