//! The worst-case cost of a call, read from its REQUEST before it is sent:
//! what a hard budget reserves (issue 15), replaced by the actual cost once
//! the response arrives.
//!
//! # The input bound
//!
//! A text prompt costs at most one token per byte of the request body. Every
//! tokenizer these providers use (byte-level BPE for OpenAI and Anthropic,
//! `SentencePiece` with byte fallback for Gemini) emits tokens that each cover
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
//! `candidateCount`): each is billed. OpenAI's Predicted Outputs bill
//! rejected prediction tokens as output too, so a `prediction` adds the
//! body's bytes. Gemini's documentation says thinking is separate from
//! `maxOutputTokens`, but the API counts thoughts within it (reported in
//! googleapis/python-genai#782 and #2062, and the reason callers raise it
//! when thinking is on); the bound follows the API.
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
use crate::cost::{Quote, Unpriced, apply_uplifts, quote};
use crate::money::Money;
use crate::provider::Provider;
use crate::usage::{ApiKind, ServiceTier, TokenBuckets, Uplifts};

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
    #[error("the request body is not a valid request: {0}")]
    Invalid(String),
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
    reserve_facts(catalog, provider, api, path_model, &facts, body.len(), on, custom)
}

/// The worst-case cost of a call whose request LLMLab does not see (the
/// SDK's hard mode without the request): its input is bounded by the
/// model's context window, its output by `max_output_tokens` or the model's
/// maximum. Much looser than [`reserve`]; a model without a context window
/// in the catalog gives [`Reservation::Unbounded`].
///
/// # Errors
/// [`ReserveError::NoModel`] for an empty model.
pub fn reserve_unseen(
    catalog: &Catalog,
    provider: &Provider,
    model: &str,
    max_output_tokens: Option<u64>,
    on: Date,
    custom: Option<&RateCard>,
) -> Result<Reservation, ReserveError> {
    let api = match provider {
        Provider::Anthropic => ApiKind::AnthropicMessages,
        Provider::Google => ApiKind::GeminiGenerateContent,
        _ => ApiKind::OpenAiChat,
    };
    let facts = RequestFacts {
        model: Some(Cow::Borrowed(model)),
        max_tokens: max_output_tokens,
        max_output_tokens_gemini: max_output_tokens,
        unbounded_input: Some("an input LLMLab did not see"),
        ..RequestFacts::default()
    };
    reserve_facts(catalog, provider, api, None, &facts, 0, on, custom)
}

/// [`reserve`] once the request is read.
#[allow(clippy::too_many_arguments)] // the request, its size, and what it is priced with
fn reserve_facts(
    catalog: &Catalog,
    provider: &Provider,
    api: ApiKind,
    path_model: Option<&str>,
    facts: &RequestFacts<'_>,
    body_len: usize,
    on: Date,
    custom: Option<&RateCard>,
) -> Result<Reservation, ReserveError> {
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
    let bounds = input_bound(facts, body_len, max_input, &priced_as, &mut notes).and_then(|input| {
        let mut output = output_bound(api, facts, max_output, &priced_as, &mut notes)?;
        if facts.prediction && api == ApiKind::OpenAiChat {
            // Rejected prediction tokens are billed as output; the prediction is in the body.
            notes.push("the prediction's tokens may be billed as output: the body's bytes are added".to_owned());
            output = output.saturating_add(body_len as u64);
        }
        let fees = tool_fees(api, facts, card, &priced_as, &mut notes)?;
        Ok((input, output, fees))
    });
    let (input, output, fees) = match bounds {
        Ok(bounds) => bounds,
        Err(reason) => return Ok(Reservation::Unbounded { priced_as, reason }),
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

    let base = TokenBuckets { output_tokens: output, ..fees };
    let base = if facts.audio_output { TokenBuckets { output_audio_tokens: output, ..base } } else { base };
    let as_input =
        TokenBuckets { input_tokens: input, input_audio_tokens: if facts.audio_input { input } else { 0 }, ..base };
    let mut candidates = vec![as_input];
    let (write_5m, write_1h) = match api {
        ApiKind::AnthropicMessages => (facts.caching >= Caching::FiveMinutes, facts.caching == Caching::OneHour),
        ApiKind::OpenAiChat | ApiKind::OpenAiResponses => (true, facts.caching == Caching::OneHour),
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
    // Fast mode and US-only inference multiply every token price: so does the hold.
    let asked = Uplifts {
        fast_mode: facts.speed.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("fast")),
        us_inference: facts.inference_geo.as_deref().is_some_and(|g| g.eq_ignore_ascii_case("us")),
        regional_processing: false,
    };
    let q = match apply_uplifts(q, card, asked, &priced_as) {
        Ok(q) => q,
        Err(reason) => return Ok(Reservation::Unpriced(reason)),
    };
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

/// The most prompt tokens the call can be billed for, or why there is no bound.
fn input_bound(
    facts: &RequestFacts<'_>,
    body_bytes: usize,
    max_input: Option<u64>,
    priced_as: &str,
    notes: &mut Vec<String>,
) -> Result<u64, String> {
    let body_bound = (body_bytes as u64).saturating_add(HIDDEN_PROMPT_TOKENS);
    let Some(what) = facts.unbounded_input else { return Ok(body_bound) };
    let why = format!("the request has {what}, whose tokens its bytes do not bound");
    match max_input {
        Some(window) => {
            notes.push(format!("{why}: the input is bounded by the context window"));
            Ok(window.max(body_bound))
        }
        None => Err(format!("{why}, and `{priced_as}` has no context window in the catalog")),
    }
}

/// The most output tokens the call can be billed for, every choice included.
fn output_bound(
    api: ApiKind,
    facts: &RequestFacts<'_>,
    max_output: Option<u64>,
    priced_as: &str,
    notes: &mut Vec<String>,
) -> Result<u64, String> {
    let requested = match api {
        ApiKind::OpenAiEmbeddings => return Ok(0),
        ApiKind::OpenAiChat => facts.max_completion_tokens.or(facts.max_tokens),
        ApiKind::OpenAiResponses => facts.max_output_tokens,
        ApiKind::AnthropicMessages => facts.max_tokens,
        ApiKind::GeminiGenerateContent => facts.max_output_tokens_gemini,
    };
    let per_choice = match (requested, max_output) {
        (Some(limit), _) => limit,
        (None, Some(limit)) => {
            notes.push(format!("the request sets no output limit: `{priced_as}`'s maximum of {limit} tokens"));
            limit
        }
        (None, None) => {
            return Err(format!(
                "the request sets no output limit and `{priced_as}` has no maximum output in the catalog"
            ));
        }
    };
    Ok(per_choice.saturating_mul(facts.choices.unwrap_or(1).max(1)))
}

/// The per-request fees the call can be billed for, as counts: only a fee the
/// model charges (above $0) counts, as the actual call is priced the same way.
/// - web searches: Anthropic's `max_uses`; OpenAI Responses' `web_search` and
///   `file_search` calls share `max_tool_calls` (the worst case puts them all on
///   the dearer tool); a chat search model searches once per call;
/// - OpenAI code interpreter: one container session per `code_interpreter` tool;
/// - Gemini Google Search: one grounded prompt (Gemini 2.x), or queries that no
///   request field limits (Gemini 3): unbounded.
fn tool_fees(
    api: ApiKind,
    facts: &RequestFacts<'_>,
    card: &RateCard,
    priced_as: &str,
    notes: &mut Vec<String>,
) -> Result<TokenBuckets, String> {
    let fee = |class: &str| card.request_fees.as_ref().and_then(|f| f.price(class)).filter(|p| !p.is_zero());
    let mut fees = TokenBuckets::default();
    let (search_fee, file_fee) = (fee("web_search"), fee("file_search"));
    match (facts.fee_tools.web_search, search_fee) {
        (WebSearch::MaxUses(uses), Some(_)) => fees.web_search_requests = uses,
        (WebSearch::Unlimited, Some(_)) if api != ApiKind::OpenAiResponses => {
            return Err("the web_search tool sets no `max_uses`, and each search is billed".to_owned());
        }
        _ => {}
    }
    let per_call_tools = api == ApiKind::OpenAiResponses
        && ((facts.fee_tools.web_search == WebSearch::Unlimited && search_fee.is_some())
            || (facts.fee_tools.file_search && file_fee.is_some()));
    if per_call_tools {
        let Some(calls) = facts.fee_tools.max_tool_calls else {
            return Err(
                "the request's web_search or file_search tool is billed per call, and it sets no `max_tool_calls`"
                    .to_owned(),
            );
        };
        notes.push(format!("up to {calls} built-in tool calls (`max_tool_calls`), each at the dearer tool's fee"));
        let on_search = facts.fee_tools.web_search == WebSearch::Unlimited
            && search_fee >= file_fee.filter(|_| facts.fee_tools.file_search);
        if on_search { fees.web_search_requests = calls } else { fees.file_search_calls = calls }
    }
    if api == ApiKind::OpenAiChat
        && search_fee.is_some()
        && crate::normalize::fees::is_openai_chat_search_model(priced_as)
    {
        fees.web_search_requests = fees.web_search_requests.max(1);
    }
    if api == ApiKind::OpenAiResponses && fee("container_session").is_some() {
        fees.container_sessions = facts.fee_tools.code_interpreters;
    }
    if facts.fee_tools.google_search {
        if search_fee.is_some() {
            return Err("Google Search grounding bills each search query, and a request cannot limit them".to_owned());
        }
        if fee("grounded_prompt").is_some() {
            fees.grounded_prompts = 1;
        }
    }
    Ok(fees)
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
    /// Anthropic `speed` (`fast`: fast mode, billed with the catalog's uplift).
    speed: Option<Cow<'a, str>>,
    /// Anthropic `inference_geo` (`us`: US-only inference, billed with the catalog's uplift).
    inference_geo: Option<Cow<'a, str>>,
    /// The first thing found whose tokens the body's bytes do not bound.
    unbounded_input: Option<&'static str>,
    /// The longest prompt caching the request asks for.
    caching: Caching,
    audio_input: bool,
    audio_output: bool,
    /// OpenAI Predicted Outputs: rejected prediction tokens are billed as output.
    prediction: bool,
    /// The server-side tools billed per request that the request enables.
    fee_tools: FeeTools,
}

/// The tools of a request that bill per request, and what bounds their calls.
#[derive(Debug, Default)]
struct FeeTools {
    web_search: WebSearch,
    /// OpenAI Responses: the most built-in tool calls the response may make.
    max_tool_calls: Option<u64>,
    /// OpenAI `file_search` tools asked for.
    file_search: bool,
    /// OpenAI `code_interpreter` tools asked for (each runs in one container).
    code_interpreters: u64,
    /// Gemini grounding with Google Search (`googleSearch`, `googleSearchRetrieval`).
    google_search: bool,
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
                None => ReserveError::Invalid(e.to_string()),
            },
            _ => ReserveError::InvalidJson(e.to_string()),
        })?;
        deserializer.end().map_err(|e| ReserveError::InvalidJson(e.to_string()))?;
        Ok(facts)
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
    match map.next_value::<Loose<'de>>()? {
        Loose::Null => Ok(None),
        Loose::Count(n) => Ok(Some(n)),
        other => Err(field_error(field, format_args!("must be a non-negative integer, not {other}"))),
    }
}

/// A string (or `null`) named `field`.
fn text<'de, A: MapAccess<'de>>(map: &mut A, field: &'static str) -> Result<Option<Cow<'de, str>>, A::Error> {
    match map.next_value::<Loose<'de>>()? {
        Loose::Null => Ok(None),
        Loose::Text(s) => Ok(Some(s)),
        other => Err(field_error(field, format_args!("must be a string, not {other}"))),
    }
}

/// Any JSON value, kept only as far as a field's type check needs, so a
/// wrong type is reported by the field's name while syntax errors stay
/// syntax errors.
enum Loose<'de> {
    Null,
    Count(u64),
    Text(Cow<'de, str>),
    Other(String),
}

impl fmt::Display for Loose<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loose::Null => f.write_str("`null`"),
            Loose::Count(n) => write!(f, "`{n}`"),
            Loose::Text(s) => write!(f, "the string `{}`", s.chars().take(40).collect::<String>()),
            Loose::Other(what) => f.write_str(what),
        }
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Loose::Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Loose::Other(format!("`{v}`")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Loose::Other(format!("`{v}`")))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Loose::Other(format!("`{v}`")))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Loose::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("a list".to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an object".to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
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
                "max_tool_calls" => facts.fee_tools.max_tool_calls = count(&mut map, "max_tool_calls")?,
                "service_tier" | "serviceTier" => facts.service_tier = text(&mut map, "service_tier")?,
                "speed" => facts.speed = text(&mut map, "speed")?,
                "inference_geo" => facts.inference_geo = text(&mut map, "inference_geo")?,
                "prompt_cache_retention" => {
                    let retention = text(&mut map, "prompt_cache_retention")?;
                    if retention.is_some_and(|r| r != "in_memory") {
                        facts.caching = Caching::OneHour;
                    }
                }
                "generationConfig" | "generation_config" => map.next_value_seed(OrNull(GenerationConfig(facts)))?,
                "modalities" => {
                    let modalities: Option<Vec<CowStr<'de>>> = map.next_value()?;
                    facts.audio_output |= modalities.iter().flatten().any(|m| m.0.eq_ignore_ascii_case("audio"));
                }
                "tools" => map.next_value_seed(OrNull(Tools(facts)))?,
                "prediction" => facts.prediction = map.next_value::<Option<IgnoredAny>>()?.is_some(),
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

/// `null`, or what the seed `S` reads: an optional object or list that a
/// request may also send as `null`.
struct OrNull<S>(S);

impl<'de, S: DeserializeSeed<'de, Value = ()>> DeserializeSeed<'de> for OrNull<S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> Visitor<'de> for OrNull<S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or a value")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.deserialize(deserializer)
    }
}

/// Gemini's `generationConfig`.
struct GenerationConfig<'f, 'a>(&'f mut RequestFacts<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for GenerationConfig<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for GenerationConfig<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a generationConfig object")
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
                    let modalities: Option<Vec<CowStr<'de>>> = map.next_value()?;
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
        deserializer.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Tools<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tools")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(tool) = seq.next_element::<Tool<'de>>()? {
            let kind = tool.kind.as_deref();
            let gemini_builtin = tool.other_keys && tool.kind.is_none();
            let builtin = matches!(kind, Some(k) if k != "function" && k != "custom") || gemini_builtin;
            if builtin {
                self.0.mark_unbounded("a server-side tool");
            }
            match kind {
                Some("file_search") => self.0.fee_tools.file_search = true,
                Some("code_interpreter") => {
                    self.0.fee_tools.code_interpreters = self.0.fee_tools.code_interpreters.saturating_add(1);
                }
                _ => {}
            }
            self.0.fee_tools.google_search |= tool.google_search;
            if kind.is_some_and(|k| k.starts_with("web_search")) {
                self.0.fee_tools.web_search = match (self.0.fee_tools.web_search, tool.max_uses) {
                    (WebSearch::Unlimited, _) | (_, None) => WebSearch::Unlimited,
                    (WebSearch::MaxUses(before), Some(uses)) => WebSearch::MaxUses(before.saturating_add(uses)),
                    (WebSearch::None, Some(uses)) => WebSearch::MaxUses(uses),
                };
            }
            self.0.caching = self.0.caching.max(tool.caching);
        }
        Ok(())
    }
}

/// One entry of `tools`, as far as the bound cares.
#[derive(Default)]
struct Tool<'de> {
    kind: Option<Cow<'de, str>>,
    max_uses: Option<u64>,
    /// Gemini's built-ins are keys of their own (`googleSearch`, `codeExecution`, …).
    other_keys: bool,
    /// Gemini's Google Search grounding tool.
    google_search: bool,
    caching: Caching,
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
                            tool.caching = tool.caching.max(Caching::of(control.as_ref()));
                        }
                        "name"
                        | "input_schema"
                        | "description"
                        | "function"
                        | "parameters"
                        | "strict"
                        | "functionDeclarations"
                        | "function_declarations" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        other => {
                            tool.other_keys = true;
                            tool.google_search |= matches!(
                                other,
                                "googleSearch" | "google_search" | "googleSearchRetrieval" | "google_search_retrieval"
                            );
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

/// Prompt caching a request asks for, cheapest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Caching {
    #[default]
    None,
    FiveMinutes,
    OneHour,
}

impl Caching {
    fn of(control: Option<&CacheControl<'_>>) -> Caching {
        match control {
            None => Caching::None,
            Some(c) if c.ttl.as_deref() == Some("1h") => Caching::OneHour,
            Some(_) => Caching::FiveMinutes,
        }
    }
}

/// The visitor methods of a walk for numbers and booleans: nothing in them
/// changes the bound.
macro_rules! numbers_and_booleans_say_nothing {
    () => {
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
    };
}

/// Walks any value, noting `cache_control` blocks and content the body's
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
    numbers_and_booleans_say_nothing!();
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
                facts.caching = facts.caching.max(Caching::of(control.as_ref()));
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
    numbers_and_booleans_say_nothing!();
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::{Value, json};

    use super::*;
    use crate::catalog::PriceSet;
    use crate::cost::price_usage;
    use crate::usage::NormalizedUsage;

    const ON: Date = Date::constant(2026, 11, 27);

    fn body_of(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    fn reserve_json(provider: &Provider, path: &str, body: &Value) -> Reservation {
        reserve(Catalog::builtin(), provider, path, &body_of(body), ON, None).unwrap()
    }

    fn bounded(reservation: Reservation) -> WorstCase {
        match reservation {
            Reservation::Bounded(worst) => worst,
            other => panic!("expected a bound, got {other:?}"),
        }
    }

    /// `input` tokens at `input_price` plus `output` tokens at `output_price` (USD per 1M), rounded once.
    fn usd(input: u64, input_price: &str, output: u64, output_price: &str) -> Money {
        let exact = Decimal::from(input) * Decimal::from_str(input_price).unwrap()
            + Decimal::from(output) * Decimal::from_str(output_price).unwrap();
        Money::from_decimal_usd(exact / Decimal::from(1_000_000)).unwrap()
    }

    fn input_bound(body: &Value) -> u64 {
        body_of(body).len() as u64 + HIDDEN_PROMPT_TOKENS
    }

    #[test]
    fn paths_name_their_api_and_gemini_paths_their_model() {
        let cases = [
            ("/v1/chat/completions", ApiKind::OpenAiChat, None),
            ("/proxy/openai/v1/responses?x=1", ApiKind::OpenAiResponses, None),
            ("/v1/embeddings", ApiKind::OpenAiEmbeddings, None),
            ("/v1/messages", ApiKind::AnthropicMessages, None),
            ("/v1beta/openai/chat/completions", ApiKind::OpenAiChat, None),
            ("/v1beta/models/gemini-2.5-pro:generateContent", ApiKind::GeminiGenerateContent, Some("gemini-2.5-pro")),
            (
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                ApiKind::GeminiGenerateContent,
                Some("gemini-2.5-flash"),
            ),
        ];
        for (path, api, model) in cases {
            assert_eq!(request_api(path).unwrap(), (api, model), "{path}");
        }
        for path in ["/v1/models", "/v1/messages/count_tokens", "/v1/files", ""] {
            assert!(matches!(request_api(path), Err(ReserveError::UnsupportedPath(_))), "{path}");
        }
    }

    #[test]
    fn openai_chat_prefers_max_completion_tokens_over_max_tokens() {
        let body = json!({"model": "gpt-4o-mini", "max_completion_tokens": 100, "max_tokens": 9000,
            "messages": [{"role": "user", "content": "Hi"}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body));
        assert_eq!(worst.buckets.output_tokens, 100);
        assert_eq!(worst.buckets.input_tokens, input_bound(&body));
        assert_eq!(worst.cost, usd(input_bound(&body), "0.15", 100, "0.6"));
        assert_eq!(worst.priced_as, "gpt-4o-mini");

        let body = json!({"model": "gpt-4o-mini", "max_tokens": 300, "messages": []});
        assert_eq!(bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body)).buckets.output_tokens, 300);
    }

    #[test]
    fn every_choice_asked_for_is_billed() {
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 300, "n": 3, "messages": []});
        assert_eq!(bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body)).buckets.output_tokens, 900);
        let body = json!({"contents": [], "generationConfig": {"maxOutputTokens": 50, "candidateCount": 2}});
        let path = "/v1beta/models/gemini-2.5-flash:generateContent";
        assert_eq!(bounded(reserve_json(&Provider::Google, path, &body)).buckets.output_tokens, 100);
    }

    #[test]
    fn without_a_limit_the_output_is_the_models_maximum_from_the_catalog() {
        let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body));
        assert_eq!(worst.buckets.output_tokens, 16_384);
        assert!(worst.notes.iter().any(|n| n.contains("maximum of 16384")), "{:?}", worst.notes);
        assert_eq!(worst.cost, usd(input_bound(&body), "2.5", 16_384, "10"));
    }

    #[test]
    fn openai_responses_reads_max_output_tokens() {
        let body = json!({"model": "gpt-5-mini", "max_output_tokens": 512, "max_tokens": 7, "input": "Hello"});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/responses", &body));
        assert_eq!(worst.buckets.output_tokens, 512);
        let body = json!({"model": "gpt-5-mini", "input": "Hello"});
        assert_eq!(bounded(reserve_json(&Provider::OpenAi, "/v1/responses", &body)).buckets.output_tokens, 128_000);
    }

    #[test]
    fn openai_input_is_priced_at_the_automatic_cache_write_where_the_model_has_one() {
        let body = json!({"model": "gpt-5.6", "max_output_tokens": 10, "input": "Hello"});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/responses", &body));
        assert_eq!(worst.buckets.cache_write_tokens, input_bound(&body));
        assert_eq!(worst.cost, usd(input_bound(&body), "5", 10, "20"));
        let extended = json!({"model": "gpt-5.6", "max_output_tokens": 10, "input": "Hello",
            "prompt_cache_retention": "24h"});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/responses", &extended));
        assert_eq!(worst.buckets.cache_write_1h_tokens, input_bound(&extended));
    }

    #[test]
    fn anthropic_reads_max_tokens_and_prices_cache_control_at_the_write_rate() {
        let plain = json!({"model": "claude-sonnet-4-5", "max_tokens": 1000,
            "messages": [{"role": "user", "content": "Hi"}]});
        let worst = bounded(reserve_json(&Provider::Anthropic, "/v1/messages", &plain));
        assert_eq!(worst.cost, usd(input_bound(&plain), "3", 1000, "15"));

        let cached = json!({"model": "claude-sonnet-4-5", "max_tokens": 1000,
            "system": [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Hi"}]});
        let worst = bounded(reserve_json(&Provider::Anthropic, "/v1/messages", &cached));
        assert_eq!(worst.buckets.cache_write_tokens, input_bound(&cached));
        assert_eq!(worst.cost, usd(input_bound(&cached), "3.75", 1000, "15"));

        let hour = json!({"model": "claude-sonnet-4-5", "max_tokens": 1000,
            "system": [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi",
                "cache_control": {"type": "ephemeral"}}]}]});
        let worst = bounded(reserve_json(&Provider::Anthropic, "/v1/messages", &hour));
        assert_eq!(worst.buckets.cache_write_1h_tokens, input_bound(&hour));
        assert_eq!(worst.cost, usd(input_bound(&hour), "6", 1000, "15"));
    }

    #[test]
    fn gemini_takes_the_model_from_the_path_and_the_limit_from_generation_config() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "generationConfig": {"maxOutputTokens": 200, "temperature": 0.2}});
        let path = "/v1beta/models/gemini-2.5-flash:generateContent";
        let worst = bounded(reserve_json(&Provider::Google, path, &body));
        assert_eq!(worst.priced_as, "gemini-2.5-flash");
        assert_eq!(worst.cost, usd(input_bound(&body), "0.3", 200, "2.5"));
        let no_limit = json!({"contents": []});
        assert_eq!(bounded(reserve_json(&Provider::Google, path, &no_limit)).buckets.output_tokens, 65_536);
    }

    #[test]
    fn embeddings_have_no_output() {
        let body = json!({"model": "text-embedding-3-small", "input": ["a", "b"]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/embeddings", &body));
        assert_eq!(worst.buckets.output_tokens, 0);
        assert_eq!(worst.cost, usd(input_bound(&body), "0.02", 0, "0"));
    }

    #[test]
    fn an_input_bound_above_the_threshold_prices_the_long_context_tier() {
        let path = "/v1beta/models/gemini-2.5-pro:generateContent";
        let text = |len: usize| {
            json!({"contents": [{"parts": [{"text": "x".repeat(len)}]}],
            "generationConfig": {"maxOutputTokens": 1000}})
        };
        let short = bounded(reserve_json(&Provider::Google, path, &text(150_000)));
        assert!(!short.long_context);
        assert_eq!(short.cost, usd(input_bound(&text(150_000)), "1.25", 1000, "10"));
        let long = bounded(reserve_json(&Provider::Google, path, &text(250_000)));
        assert!(long.long_context);
        assert_eq!(long.cost, usd(input_bound(&text(250_000)), "2.5", 1000, "15"));
    }

    #[test]
    fn the_requested_tier_is_priced_and_priority_is_dearer() {
        let body = |tier: &str| json!({"model": "gpt-4o", "max_tokens": 100, "service_tier": tier, "messages": []});
        let priority = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body("priority")));
        assert_eq!(priority.table, ServiceTier::Priority);
        assert_eq!(priority.cost, usd(input_bound(&body("priority")), "4.25", 100, "17"));
        let auto = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body("auto")));
        assert_eq!(auto.table, ServiceTier::Standard);
        assert!(auto.cost < priority.cost);
        let batch = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body("batch")));
        assert_eq!(batch.table, ServiceTier::Standard, "a live call is never billed at batch rates");
        let flex = json!({"model": "o3", "max_completion_tokens": 100, "service_tier": "flex", "messages": []});
        assert_eq!(bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &flex)).table, ServiceTier::Batch);
    }

    #[test]
    fn a_model_priced_at_zero_is_free_even_without_any_bound() {
        let free = RateCard::standard_only(PriceSet::default());
        let body = body_of(&json!({"model": "llama-local", "messages": [{"content": [{"type": "image_url"}]}]}));
        let own = Provider::parse("ollama");
        let reservation = reserve(Catalog::builtin(), &own, "/v1/chat/completions", &body, ON, Some(&free)).unwrap();
        assert_eq!(reservation, Reservation::Free { priced_as: "llama-local".into() });
        assert_eq!(reservation.cost(), Some(Money::ZERO));
    }

    #[test]
    fn a_custom_price_bounds_an_uncatalogued_model_when_the_request_sets_its_limits() {
        let card =
            RateCard::standard_only(PriceSet { input: Decimal::ONE, output: Decimal::TWO, ..PriceSet::default() });
        let own = Provider::parse("acme");
        let limited = body_of(&json!({"model": "acme-7b", "max_tokens": 10, "messages": []}));
        let worst =
            bounded(reserve(Catalog::builtin(), &own, "/v1/chat/completions", &limited, ON, Some(&card)).unwrap());
        assert_eq!(worst.cost, usd(limited.len() as u64 + HIDDEN_PROMPT_TOKENS, "1", 10, "2"));
        let open = body_of(&json!({"model": "acme-7b", "messages": []}));
        let reservation = reserve(Catalog::builtin(), &own, "/v1/chat/completions", &open, ON, Some(&card)).unwrap();
        assert!(matches!(reservation, Reservation::Unbounded { .. }), "{reservation:?}");
        assert_eq!(reservation.cost(), None);
    }

    #[test]
    fn unknown_models_and_providers_are_unpriced_never_zero() {
        let body = json!({"model": "acme-llm-7b", "max_tokens": 10, "messages": []});
        let reservation = reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body);
        assert_eq!(reservation, Reservation::Unpriced(Unpriced::UnknownModel { model: "acme-llm-7b".into() }));
        assert_eq!(reservation.cost(), None);
        let body = json!({"model": "gpt-4o", "max_tokens": 10, "messages": []});
        let reservation = reserve_json(&Provider::parse("openrouter"), "/v1/chat/completions", &body);
        assert!(matches!(reservation, Reservation::Unpriced(Unpriced::UnknownProvider { .. })), "{reservation:?}");
        let wrong_provider = reserve_json(&Provider::Anthropic, "/v1/chat/completions", &body);
        assert!(matches!(wrong_provider, Reservation::Unpriced(Unpriced::UnknownModel { .. })));
    }

    #[test]
    fn a_model_without_a_maximum_output_needs_the_request_to_set_one() {
        let body = json!({"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Hi"}]});
        let reservation = reserve_json(&Provider::Anthropic, "/v1/messages", &body);
        let Reservation::Unbounded { reason, .. } = reservation else { panic!("{reservation:?}") };
        assert!(reason.contains("no maximum output"), "{reason}");
        let body = json!({"model": "claude-3-haiku", "max_tokens": 100, "messages": []});
        assert!(matches!(reserve_json(&Provider::Anthropic, "/v1/messages", &body), Reservation::Bounded(_)));
    }

    #[test]
    fn content_the_bytes_do_not_bound_takes_the_context_window() {
        let cases = [
            (
                Provider::OpenAi,
                "/v1/chat/completions",
                json!({"model": "gpt-4o", "max_tokens": 10, "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
            ),
            (
                Provider::OpenAi,
                "/v1/responses",
                json!({"model": "gpt-4o", "max_output_tokens": 10,
                "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-abc"}]}]}),
            ),
            (
                Provider::OpenAi,
                "/v1/responses",
                json!({"model": "gpt-4o", "max_output_tokens": 10,
                "previous_response_id": "resp_1", "input": "and then?"}),
            ),
            (
                Provider::OpenAi,
                "/v1/responses",
                json!({"model": "gpt-4o", "max_output_tokens": 10, "max_tool_calls": 2,
                "tools": [{"type": "web_search"}], "input": "news?"}),
            ),
            (
                Provider::Anthropic,
                "/v1/messages",
                json!({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [
                {"role": "user", "content": [{"type": "document", "source": {"type": "base64", "data": "JVBER"}}]}]}),
            ),
            (
                Provider::Anthropic,
                "/v1/messages",
                json!({"model": "claude-haiku-4-5", "max_tokens": 10,
                "tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}], "messages": []}),
            ),
            (
                Provider::Google,
                "/v1beta/models/gemini-2.5-flash:generateContent",
                json!({
                "cachedContent": "cachedContents/abc", "contents": [], "generationConfig": {"maxOutputTokens": 10}}),
            ),
            (
                Provider::Google,
                "/v1beta/models/gemini-2.5-flash:generateContent",
                json!({"contents": [{"parts": [
                {"fileData": {"mimeType": "video/mp4", "fileUri": "https://x"}}]}], "generationConfig": {"maxOutputTokens": 10}}),
            ),
            (
                Provider::Google,
                "/v1beta/models/gemini-2.5-flash:generateContent",
                json!({"contents": [],
                "tools": [{"googleSearch": {}}], "generationConfig": {"maxOutputTokens": 10}}),
            ),
        ];
        for (provider, path, body) in cases {
            let worst = bounded(reserve_json(&provider, path, &body));
            let window = Catalog::builtin().resolve(Some(&provider), &worst.priced_as).unwrap().entry.max_input_tokens;
            assert_eq!(Some(worst.buckets.prompt_tokens()), window, "{body}");
            assert!(worst.notes.iter().any(|n| n.contains("context window")), "{:?}", worst.notes);
        }
        let text_only = json!({"model": "gpt-4o", "max_tokens": 10, "tools": [{"type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}}}], "messages": []});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &text_only));
        assert_eq!(worst.buckets.input_tokens, input_bound(&text_only), "function tools are text in the body");
        let gemini_functions = json!({"contents": [], "tools": [{"functionDeclarations": [{"name": "f"}]}]});
        let worst = bounded(reserve_json(
            &Provider::Google,
            "/v1beta/models/gemini-2.5-flash:generateContent",
            &gemini_functions,
        ));
        assert_eq!(worst.buckets.input_tokens, input_bound(&gemini_functions));
    }

    #[test]
    fn unbounded_content_on_a_model_without_a_context_window_is_unbounded() {
        let body = json!({"model": "claude-3-haiku", "max_tokens": 10, "messages": [{"role": "user",
            "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]});
        let reservation = reserve_json(&Provider::Anthropic, "/v1/messages", &body);
        let Reservation::Unbounded { reason, .. } = reservation else { panic!("{reservation:?}") };
        assert!(reason.contains("an image") && reason.contains("no context window"), "{reason}");
    }

    #[test]
    fn per_call_tool_fees_are_part_of_the_worst_case_where_the_request_bounds_them() {
        let tools = json!([{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"type": "code_interpreter", "container": {"type": "auto"}}]);
        let body =
            json!({"model": "gpt-5", "max_output_tokens": 100, "max_tool_calls": 4, "tools": tools, "input": "x"});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/responses", &body));
        assert_eq!(
            (worst.buckets.web_search_requests, worst.buckets.file_search_calls, worst.buckets.container_sessions),
            (4, 0, 1),
            "the shared calls go to the dearer web search"
        );
        let card = &Catalog::builtin().entry("gpt-5").unwrap().rates;
        let without_fees = TokenBuckets { web_search_requests: 0, container_sessions: 0, ..worst.buckets };
        let tokens_only = quote(card, &without_fees, worst.table, "gpt-5").unwrap().cost;
        assert_eq!(worst.cost, tokens_only + Money::from_nanos(70_000_000), "4 × $0.01 + 1 container × $0.03");
        let body = json!({"model": "gpt-5", "max_output_tokens": 100, "tools": tools, "input": "x"});
        let reservation = reserve_json(&Provider::OpenAi, "/v1/responses", &body);
        assert!(matches!(reservation, Reservation::Unbounded { ref reason, .. } if reason.contains("max_tool_calls")));

        let search_model = json!({"model": "gpt-4o-search-preview", "max_tokens": 10, "web_search_options": {},
            "messages": [{"role": "user", "content": "news?"}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &search_model));
        assert_eq!(worst.buckets.web_search_requests, 1, "a chat search model searches on every call");

        let grounded =
            json!({"contents": [], "tools": [{"googleSearch": {}}], "generationConfig": {"maxOutputTokens": 10}});
        let worst =
            bounded(reserve_json(&Provider::Google, "/v1beta/models/gemini-2.5-flash:generateContent", &grounded));
        assert_eq!((worst.buckets.grounded_prompts, worst.buckets.web_search_requests), (1, 0));
        let reservation =
            reserve_json(&Provider::Google, "/v1beta/models/gemini-3-flash-preview:generateContent", &grounded);
        assert!(matches!(reservation, Reservation::Unbounded { ref reason, .. } if reason.contains("search query")));
    }

    #[test]
    fn fast_mode_and_us_only_inference_are_held_at_their_uplifted_prices() {
        let hold = |extra: Value| {
            let mut body = json!({"model": "claude-opus-4-8", "max_tokens": 1000, "messages": []});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            bounded(reserve_json(&Provider::Anthropic, "/v1/messages", &body))
        };
        // Bodies of one length: the body's bytes bound the input.
        let plain = hold(json!({"speed": "norm", "inference_geo": "eu"}));
        let fast = hold(json!({"speed": "fast", "inference_geo": "eu"}));
        let both = hold(json!({"speed": "fast", "inference_geo": "us"}));
        assert_eq!(fast.cost.nanos(), plain.cost.nanos() * 2, "fast mode ×2");
        assert_eq!(both.cost.nanos() * 10, plain.cost.nanos() * 22, "×2 × 1.1");
        assert!(fast.notes.iter().any(|n| n.contains("fast mode")), "{:?}", fast.notes);
    }

    #[test]
    fn anthropic_web_searches_are_billed_up_to_max_uses_and_unbounded_without_it() {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}], "messages": []});
        let worst = bounded(reserve_json(&Provider::Anthropic, "/v1/messages", &body));
        assert_eq!(worst.buckets.web_search_requests, 5);
        assert_eq!(worst.cost, usd(200_000, "3", 100, "15") + Money::from_nanos(50_000_000));
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
            "tools": [{"type": "web_search_20250305", "name": "web_search"}], "messages": []});
        let reservation = reserve_json(&Provider::Anthropic, "/v1/messages", &body);
        assert!(matches!(reservation, Reservation::Unbounded { ref reason, .. } if reason.contains("max_uses")));
    }

    #[test]
    fn audio_output_is_priced_at_the_audio_rate() {
        let body = json!({"model": "gpt-4o-audio-preview", "modalities": ["text", "audio"], "max_tokens": 100,
            "messages": [{"role": "user", "content": "Say hi"}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body));
        assert_eq!(worst.cost, usd(input_bound(&body), "2.5", 100, "80"));
    }

    #[test]
    fn malformed_bodies_get_a_typed_error_naming_the_problem() {
        let at = |body: &[u8]| reserve(Catalog::builtin(), &Provider::OpenAi, "/v1/chat/completions", body, ON, None);
        assert!(matches!(at(b"{\"model\": "), Err(ReserveError::InvalidJson(_))));
        assert!(matches!(at(b""), Err(ReserveError::InvalidJson(_))));
        assert!(matches!(at(b"{} trailing"), Err(ReserveError::InvalidJson(_))));
        assert_eq!(at(b"[1, 2]"), Err(ReserveError::NotAnObject));
        assert_eq!(at(b"42"), Err(ReserveError::NotAnObject));
        assert_eq!(at(br#"{"messages": []}"#), Err(ReserveError::NoModel));
        assert_eq!(at(br#"{"model": "  "}"#), Err(ReserveError::NoModel));
        for (body, field) in [
            (&br#"{"model": "gpt-4o", "max_tokens": "ten"}"#[..], "max_tokens"),
            (br#"{"model": "gpt-4o", "max_completion_tokens": -1}"#, "max_completion_tokens"),
            (br#"{"model": "gpt-4o", "n": 1.5}"#, "n"),
            (br#"{"model": 4}"#, "model"),
            (br#"{"model": "gpt-4o", "tools": [{"type": "web_search", "max_uses": "x"}]}"#, "tools[].max_uses"),
        ] {
            match at(body) {
                Err(ReserveError::InvalidField { field: named, problem }) => {
                    assert_eq!(named, field, "{problem}");
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let err = at(br#"{"model": "gpt-4o", "max_tokens": "ten"}"#).unwrap_err().to_string();
        assert!(err.starts_with("`max_tokens` must be a non-negative integer"), "{err}");
        let gemini = reserve(
            Catalog::builtin(),
            &Provider::Google,
            "/v1beta/models/x:generateContent",
            br#"{"generationConfig": {"maxOutputTokens": "many"}}"#,
            ON,
            None,
        );
        assert!(matches!(gemini, Err(ReserveError::InvalidField { field: "generationConfig.maxOutputTokens", .. })));
        assert!(matches!(
            reserve(Catalog::builtin(), &Provider::OpenAi, "/v1/files", b"{}", ON, None),
            Err(ReserveError::UnsupportedPath(_))
        ));
    }

    #[test]
    fn a_limit_of_any_other_json_kind_is_named_in_the_error() {
        let at = |body: &str| {
            reserve(Catalog::builtin(), &Provider::OpenAi, "/v1/chat/completions", body.as_bytes(), ON, None)
        };
        for (value, shown) in [
            ("true", "`true`"),
            ("-1", "`-1`"),
            ("1.5", "`1.5`"),
            ("[1]", "a list"),
            ("{\"a\": 1}", "an object"),
            ("\"ten\"", "the string `ten`"),
        ] {
            match at(&format!(r#"{{"model": "gpt-4o", "max_tokens": {value}}}"#)) {
                Err(ReserveError::InvalidField { field: "max_tokens", problem }) => {
                    assert!(problem.contains(shown), "{value}: {problem}");
                }
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn values_of_every_json_kind_elsewhere_in_the_body_are_read_past() {
        // `type` keys whose values are not content kinds, and every other kind of value
        // where the bound does not look: none of them is an error or unbounds the call.
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 10, "temperature": 0.7, "seed": -3,
            "stream": true, "user": null, "logit_bias": {"50256": -100},
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Hi"}, {"type": 5}, {"type": true}, {"type": null}, {"type": 1.5},
                {"type": -2}, {"type": ["text"]}, {"type": {"nested": "text"}}]}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body));
        assert_eq!(worst.buckets.input_tokens, input_bound(&body));
        assert_eq!(worst.buckets.output_tokens, 10);
        // An escaped key or model name is read the same as a plain one.
        let escaped = br#"{"mod\u0065l": "gpt-4o-mini", "max_tok\u0065ns": 10, "messages": []}"#;
        let worst = match reserve(Catalog::builtin(), &Provider::OpenAi, "/v1/chat/completions", escaped, ON, None) {
            Ok(Reservation::Bounded(worst)) => worst,
            other => panic!("{other:?}"),
        };
        assert_eq!((worst.priced_as.as_str(), worst.buckets.output_tokens), ("gpt-4o-mini", 10));
    }

    #[test]
    fn a_prediction_may_be_billed_as_output() {
        let body = json!({"model": "gpt-4o", "max_tokens": 100, "prediction": {"type": "content", "content": "fn main() {}"},
            "messages": [{"role": "user", "content": "Rename main"}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body));
        assert_eq!(worst.buckets.output_tokens, 100 + body_of(&body).len() as u64);
    }

    #[test]
    fn reservations_serialize_with_their_kind_and_money_as_a_string() {
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 10, "messages": []});
        let value = serde_json::to_value(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body)).unwrap();
        assert_eq!(value["kind"], "bounded");
        assert!(value["cost"].is_string(), "{value}");
        let body = json!({"model": "acme-llm-7b", "max_tokens": 10, "messages": []});
        let value = serde_json::to_value(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body)).unwrap();
        assert_eq!((value["kind"].as_str(), value["code"].as_str()), (Some("unpriced"), Some("unknown_model")));
    }

    #[test]
    fn null_fields_are_absent_fields() {
        let body = json!({"model": "gpt-4o", "max_tokens": null, "max_completion_tokens": 5, "n": null,
            "service_tier": null, "tools": null, "messages": [{"role": "user", "content": null}]});
        let worst = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body));
        assert_eq!(worst.buckets.output_tokens, 5);
    }

    /// A request whose prompt is `text` and output at most `max_tokens`, and
    /// the prompt split the response could report.
    fn chat_case() -> impl Strategy<Value = (String, u64, u64, u64, u64, bool)> {
        ("[a-zé€ \n\"\\\\]{0,400}", 1u64..5000, 0u64..=100, 0u64..=100, 0u64..=100, any::<bool>())
    }

    proptest! {
        /// Whatever the response reports within the request's limits (any
        /// cached/uncached split of a prompt no larger than the text, any
        /// output up to the limit), its actual cost is never above the bound.
        #[test]
        fn no_response_within_the_requests_limits_costs_more_than_the_bound(
            (text, max_tokens, read_pct, write_pct, out_pct, cache) in chat_case()
        ) {
            let block = if cache {
                json!({"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": "1h"}})
            } else {
                json!({"type": "text", "text": text})
            };
            let body = json!({"model": "claude-sonnet-4-5", "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": [block]}]});
            let worst = bounded(reserve_json(&Provider::Anthropic, "/v1/messages", &body));
            // Any tokenizer gives at most one token per byte of the text itself.
            let prompt = text.len() as u64;
            let read = prompt * read_pct / 100;
            let write = if cache { (prompt - read) * write_pct / 100 } else { 0 };
            let (write_5m, write_1h) = if write_pct % 2 == 0 { (write, 0) } else { (0, write) };
            let buckets = TokenBuckets {
                input_tokens: prompt - read - write,
                cache_read_tokens: read,
                cache_write_tokens: write_5m,
                cache_write_1h_tokens: write_1h,
                output_tokens: max_tokens * out_pct / 100,
                ..TokenBuckets::default()
            };
            let actual = NormalizedUsage::from_buckets(Provider::Anthropic, Some("claude-sonnet-4-5".into()), buckets);
            let actual = price_usage(Catalog::builtin(), &actual, None, ON, None).cost().unwrap();
            prop_assert!(actual <= worst.cost, "actual {actual} > bound {}", worst.cost);
        }

        /// More text never lowers the bound.
        #[test]
        fn the_bound_grows_with_the_body(text in "[a-z ]{0,300}", more in "[a-z ]{1,300}") {
            let body = |t: &str| json!({"model": "gpt-4o", "max_tokens": 64, "messages": [{"role": "user", "content": t}]});
            let short = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body(&text)));
            let long = bounded(reserve_json(&Provider::OpenAi, "/v1/chat/completions", &body(&format!("{text}{more}"))));
            prop_assert!(short.cost <= long.cost);
        }
    }
}
