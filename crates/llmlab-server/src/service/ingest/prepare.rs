//! Preparing one event: validate it, normalize its usage and price it with
//! the core (the same code as `llmlab cost`), or refuse it with a 422 that
//! names the field.

use std::collections::HashMap;
use std::str::FromStr;

use jiff::Timestamp;
use llmlab_api::{EventCostLine, TrackEvent, TrackedEvent};
use llmlab_core::catalog::canonical_model_id;
use llmlab_core::cost::{price_usage, refused_call, refused_note};
use llmlab_core::normalize::{fees, normalize_usage_json};
use llmlab_core::served;
use llmlab_core::{
    Catalog, Money, NormalizedUsage, PriceSet, PriceSource, Provider, RateCard, ServiceTier, TokenBuckets, UnpricedCode,
};
use llmlab_store::{CustomPrice, EventPrice, NewEvent};
use rust_decimal::Decimal;

use crate::error::{ApiError, ApiResult};
use crate::service::labels;

/// An event may be stamped at most this far in the future (clock skew).
const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;
/// The earliest time an event may be stamped: 2000-01-01T00:00:00Z. No LLM
/// API is older; an earlier time is a unit mistake (seconds for ms, say),
/// and the default export range starts here too, so it holds every event.
pub const EARLIEST_EVENT_MS: i64 = 946_684_800_000;
/// The most bytes of raw provider `usage` one event may carry. Real usage
/// objects are well under 2 KiB (Gemini's, with per-modality details, is the
/// largest); the cap keeps a client from storing megabytes per event.
pub const MAX_RAW_USAGE_BYTES: usize = 16 * 1024;
/// The deepest nesting of arrays and objects allowed in raw `usage` (real
/// ones nest three or four levels).
pub const MAX_RAW_USAGE_DEPTH: usize = 16;

/// One event, validated and priced, with what the response will say about it.
pub struct PreparedEvent {
    pub record: NewEvent,
    pub response: TrackedEvent,
}

/// The account's custom prices, by canonical model id, as rate cards.
pub struct CustomPrices(HashMap<String, (Option<Provider>, RateCard)>);

impl CustomPrices {
    /// Converts stored custom prices; a price that no longer parses is skipped with a warning.
    #[must_use]
    pub fn new(prices: &[CustomPrice]) -> Self {
        let cards = prices
            .iter()
            .filter_map(|p| match rate_card(p) {
                Ok(card) => Some((p.model_key.clone(), (p.provider.as_deref().map(Provider::parse), card))),
                Err(e) => {
                    tracing::warn!(model = %p.model_key, error = %e, "skipping an unreadable custom price");
                    None
                }
            })
            .collect();
        CustomPrices(cards)
    }

    /// True when the account set no price.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The account's price for a model (by canonical id) at this provider, if it set one.
    #[must_use]
    pub fn card(&self, provider: &Provider, model_key: &str) -> Option<&RateCard> {
        let (only_for, card) = self.0.get(model_key)?;
        only_for.as_ref().is_none_or(|p| p == provider).then_some(card)
    }
}

/// The rate card of a stored custom price.
pub fn rate_card(price: &CustomPrice) -> Result<RateCard, rust_decimal::Error> {
    let decimal = |s: &str| Decimal::from_str(s);
    let optional = |s: &Option<String>| s.as_deref().map(decimal).transpose();
    Ok(RateCard::standard_only(PriceSet {
        input: decimal(&price.input)?,
        output: decimal(&price.output)?,
        cache_read: optional(&price.cache_read)?,
        cache_write_5m: optional(&price.cache_write_5m)?,
        cache_write_1h: optional(&price.cache_write_1h)?,
        input_audio: None,
        cache_read_audio: None,
        output_audio: None,
    }))
}

/// Validates, normalizes and prices one event. `field` prefixes error
/// messages (`events[3].`) so a batch error names its event.
pub fn prepare(
    event: &TrackEvent,
    field: &str,
    catalog: &Catalog,
    custom: &CustomPrices,
    now: i64,
) -> ApiResult<PreparedEvent> {
    prepare_with(event, field, catalog, custom, now, |provider, model, name| {
        Ok(Observed { usage: usage_of(event, provider, model, &name)?, unknown_cost: None })
    })
}

/// [`prepare`] for a call whose usage the server read itself (the proxy
/// normalizes the provider's response): `event` carries everything but the
/// usage, which is `usage` (`None` when the response reported none).
/// `unknown_cost` says why a call without usage may still have been billed
/// (the upstream broke off, timed out): it is then unpriced with that
/// reason, whatever its status, instead of priced as a refusal.
pub fn prepare_observed(
    event: &TrackEvent,
    usage: Option<NormalizedUsage>,
    unknown_cost: Option<String>,
    catalog: &Catalog,
    custom: &CustomPrices,
    now: i64,
) -> ApiResult<PreparedEvent> {
    prepare_with(event, "", catalog, custom, now, |_, _, _| Ok(Observed { usage, unknown_cost }))
}

/// What is known about a call's usage.
struct Observed {
    usage: Option<NormalizedUsage>,
    /// See [`prepare_observed`].
    unknown_cost: Option<String>,
}

/// The body of [`prepare`], with the usage coming from `usage_source`
/// (given the provider, the model and the field namer).
fn prepare_with(
    event: &TrackEvent,
    field: &str,
    catalog: &Catalog,
    custom: &CustomPrices,
    now: i64,
    usage_source: impl FnOnce(&Provider, &str, &dyn Fn(&str) -> String) -> ApiResult<Observed>,
) -> ApiResult<PreparedEvent> {
    let name = |f: &str| format!("{field}{f}");
    let provider = Provider::parse(label(&event.provider, &name("provider"), labels::MAX_PROVIDER_CHARS)?);
    let model = label(&event.model, &name("model"), labels::MAX_MODEL_CHARS)?.to_owned();
    let event_id = match &event.event_id {
        Some(id) => label(id, &name("event_id"), labels::MAX_EVENT_ID_CHARS)?.to_owned(),
        None => uuid::Uuid::now_v7().to_string(),
    };
    let occurred_at = match &event.timestamp {
        Some(text) => parse_timestamp(text, &name("timestamp"), now)?,
        None => now,
    };
    let project = match &event.project {
        Some(p) => label(p, &name("project"), labels::MAX_PROJECT_CHARS)?.to_owned(),
        None => llmlab_store::DEFAULT_PROJECT.to_owned(),
    };
    let tags = labels::tags(event.tags.as_ref()).map_err(|e| {
        let field = e.key().map_or_else(|| name("tags"), |key| format!("{}.{key}", name("tags")));
        ApiError::invalid(&field, e)
    })?;
    let status = event
        .status
        .as_deref()
        .map(|s| label(s, &name("status"), labels::MAX_STATUS_CHARS))
        .transpose()?
        .map(str::to_owned);
    let latency_ms = event.latency_ms.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    let reservation_id = event
        .reservation_id
        .as_deref()
        .map(|id| label(id, &name("reservation_id"), labels::MAX_EVENT_ID_CHARS))
        .transpose()?
        .map(str::to_owned);

    let requested_tier = optional_label(event.requested_service_tier.as_deref(), "requested_service_tier", &name)?;
    let upstream_host = optional_label(event.upstream_host.as_deref(), "upstream_host", &name)?;
    let Observed { mut usage, unknown_cost } = usage_source(&provider, &model, &name)?;
    if let (Some(usage), Some(host)) = (usage.as_mut(), upstream_host) {
        usage.uplifts.regional_processing |= served::is_regional_host(&provider, host);
    }
    let partial_reason = partial_reason(event, usage.as_ref(), &name)?;
    let (tier, tier_note) = service_tier(event, usage.as_ref());
    let tier_note = tier_note.or_else(|| requested_tier.and_then(|r| served::tier_mismatch_note(r, tier)));
    let model_key = canonical_model_id(&model);
    let date = Timestamp::from_millisecond(occurred_at).map_err(|e| ApiError::invalid(&name("timestamp"), e))?;
    let date = date.to_zoned(jiff::tz::TimeZone::UTC).date();

    let call = Call { event, usage: usage.as_ref(), unknown_cost, status: status.as_deref(), tier };
    let mut priced = price(&call, &provider, &model, &model_key, catalog, custom, date, &name)?;
    priced.notes.extend(tier_note);
    priced.notes.extend(client_note(event, &name)?);
    let tokens = usage.as_ref().map(|u| u.buckets).unwrap_or_default();
    let response = TrackedEvent {
        event_id: event_id.clone(),
        duplicate: false,
        priced: priced.price.cost().is_some(),
        cost_usd: priced.price.cost(),
        cost_source: match &priced.price {
            EventPrice::Priced { source, .. } => Some(source.as_str().to_owned()),
            EventPrice::Unpriced { .. } => None,
        },
        priced_as: match &priced.price {
            EventPrice::Priced { priced_as, .. } => priced_as.clone(),
            EventPrice::Unpriced { .. } => None,
        },
        unpriced_code: match &priced.price {
            EventPrice::Unpriced { code, .. } => Some(code.as_str().to_owned()),
            EventPrice::Priced { .. } => None,
        },
        unpriced_reason: match &priced.price {
            EventPrice::Unpriced { reason, .. } => Some(reason.clone()),
            EventPrice::Priced { .. } => None,
        },
        tokens,
        cost_lines: priced.lines,
        service_tier: tier.as_str().to_owned(),
        long_context: priced.long_context,
        anomalies: usage.as_ref().map(|u| u.anomalies.iter().map(|a| a.message.clone()).collect()).unwrap_or_default(),
        notes: priced.notes,
        partial: partial_reason.is_some(),
        partial_reason: partial_reason.clone(),
    };
    let record = NewEvent {
        event_id,
        project,
        provider: provider.as_str().to_owned(),
        model,
        model_key,
        occurred_at,
        tokens,
        price: priced.price,
        service_tier: tier,
        long_context: priced.long_context,
        latency_ms,
        status,
        tags,
        raw_usage: event.usage.as_ref().map(|raw| raw.get().to_owned()),
        // Set by the caller, who knows which key sent the event.
        api_key: None,
        notes: (!response.notes.is_empty()).then(|| serde_json::Value::from(response.notes.clone()).to_string()),
        reservation_id,
        partial_reason,
    };
    Ok(PreparedEvent { record, response })
}

/// The most characters of a client's `partial_reason`.
pub const MAX_PARTIAL_REASON_CHARS: usize = 500;

/// The client's own `note`, trimmed; `None` when absent or blank.
fn client_note(event: &TrackEvent, name: &impl Fn(&str) -> String) -> ApiResult<Option<String>> {
    let Some(note) = event.note.as_deref() else { return Ok(None) };
    let note = labels::free_text(note, MAX_PARTIAL_REASON_CHARS)
        .map_err(|problem| ApiError::invalid(&name("note"), problem))?;
    Ok(Some(note.trim().to_owned()).filter(|note| !note.is_empty()))
}

/// Why the event's usage is a lower bound, or `None` when it is complete: the
/// core's reason for a stream the server read itself (the proxy), else the
/// client's `partial: true` (an SDK that saw a stream end before its final
/// event), with its `partial_reason` or a sentence saying so.
fn partial_reason(
    event: &TrackEvent,
    usage: Option<&NormalizedUsage>,
    name: &impl Fn(&str) -> String,
) -> ApiResult<Option<String>> {
    let given = event
        .partial_reason
        .as_deref()
        .map(|reason| labels::free_text(reason, MAX_PARTIAL_REASON_CHARS).map(str::trim))
        .transpose()
        .map_err(|problem| ApiError::invalid(&name("partial_reason"), problem))?
        .filter(|reason| !reason.is_empty());
    if given.is_some() && event.partial != Some(true) {
        return Err(ApiError::invalid(&name("partial_reason"), "is only given with `partial: true`"));
    }
    if let Some(partial) = usage.and_then(|u| u.partial.as_ref()) {
        return Ok(Some(partial.reason.clone()));
    }
    if event.partial != Some(true) {
        return Ok(None);
    }
    if usage.is_none() {
        return Err(ApiError::invalid(
            &name("partial"),
            "a partial event needs the usage seen so far (`usage` or token buckets): it is priced as a lower bound",
        ));
    }
    Ok(Some(given.map_or_else(
        || {
            "the client reported that the stream ended before its final usage; the tokens are those seen so far"
                .to_owned()
        },
        str::to_owned,
    )))
}

fn parse_timestamp(text: &str, field: &str, now: i64) -> ApiResult<i64> {
    let time = Timestamp::from_str(text.trim()).map_err(|_| {
        ApiError::invalid(field, format!("`{text}` is not an RFC 3339 time such as `2026-11-27T14:03:00Z`"))
    })?;
    let ms = time.as_millisecond();
    if ms > now + MAX_FUTURE_MS {
        return Err(ApiError::invalid(field, format!("`{text}` is more than a day in the future")));
    }
    if ms < EARLIEST_EVENT_MS {
        return Err(ApiError::invalid(
            field,
            format!("`{text}` is before 2000-01-01T00:00:00Z, the earliest time an event may have"),
        ));
    }
    Ok(ms)
}

/// A required label of an event (see [`labels::text`]), or a 422 naming `field`.
/// An optional served-facts label (`requested_service_tier`, `upstream_host`), checked.
fn optional_label<'a>(
    value: Option<&'a str>,
    field: &str,
    name: &impl Fn(&str) -> String,
) -> ApiResult<Option<&'a str>> {
    let max = if field == "upstream_host" { labels::MAX_HOST_CHARS } else { labels::MAX_TIER_CHARS };
    value.map(|v| label(v, &name(field), max)).transpose()
}

fn label<'a>(value: &'a str, field: &str, max: usize) -> ApiResult<&'a str> {
    labels::text(value, max).map_err(|problem| ApiError::invalid(field, problem))
}

/// The normalized usage of an event: from the raw provider usage, from the
/// buckets, or `None` when the caller reported no usage at all.
fn usage_of(
    event: &TrackEvent,
    provider: &Provider,
    model: &str,
    name: &impl Fn(&str) -> String,
) -> ApiResult<Option<NormalizedUsage>> {
    let buckets = [
        event.input_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.cache_write_1h_tokens,
        event.output_tokens,
        event.reasoning_tokens,
        event.input_audio_tokens,
        event.cache_read_audio_tokens,
        event.output_audio_tokens,
        event.web_search_requests,
        event.web_fetch_requests,
        event.file_search_calls,
        event.container_sessions,
        event.grounded_prompts,
    ];
    let has_buckets = buckets.iter().any(Option::is_some);
    if event.response_parts.is_some() && event.usage.is_none() {
        return Err(ApiError::invalid(
            &name("response_parts"),
            "is read only with the provider's raw `usage`; with token buckets, give the fee counts themselves",
        ));
    }
    match (&event.usage, has_buckets) {
        (Some(_), true) => Err(ApiError::invalid(
            &name("usage"),
            "give either the provider's raw `usage` or token buckets such as `input_tokens`, not both",
        )),
        (Some(raw), false) => {
            check_raw_usage_size(raw.get()).map_err(|problem| ApiError::invalid(&name("usage"), problem))?;
            let mut usage =
                normalize_usage_json(provider, raw.get()).map_err(|e| ApiError::invalid(&name("usage"), e))?;
            usage.model = Some(model.to_owned());
            if let Some(parts) = &event.response_parts {
                let field = name("response_parts");
                check_response_parts_size(parts.get()).map_err(|problem| ApiError::invalid(&field, problem))?;
                fees::apply_response_parts(&mut usage, parts.get()).map_err(|e| ApiError::invalid(&field, e))?;
            }
            fees::apply_chat_search(&mut usage);
            Ok(Some(usage))
        }
        (None, true) => {
            let value = |v: Option<u64>| v.unwrap_or(0);
            let buckets = TokenBuckets {
                input_tokens: value(event.input_tokens),
                cache_read_tokens: value(event.cache_read_tokens),
                cache_write_tokens: value(event.cache_write_tokens),
                cache_write_1h_tokens: value(event.cache_write_1h_tokens),
                output_tokens: value(event.output_tokens),
                reasoning_tokens: value(event.reasoning_tokens),
                input_audio_tokens: value(event.input_audio_tokens),
                cache_read_audio_tokens: value(event.cache_read_audio_tokens),
                output_audio_tokens: value(event.output_audio_tokens),
                web_search_requests: value(event.web_search_requests),
                web_fetch_requests: value(event.web_fetch_requests),
                file_search_calls: value(event.file_search_calls),
                container_sessions: value(event.container_sessions),
                grounded_prompts: value(event.grounded_prompts),
            };
            buckets.check_magnitude().map_err(|e| ApiError::invalid(&name(e.class.name()), e))?;
            Ok(Some(NormalizedUsage::from_buckets(provider.clone(), Some(model.to_owned()), buckets)))
        }
        (None, false) => Ok(None),
    }
}

/// Refuses `response_parts` larger or deeper than the parts the fees need.
fn check_response_parts_size(json: &str) -> Result<(), String> {
    if json.len() > MAX_RAW_USAGE_BYTES {
        return Err(format!(
            "is {} bytes, more than {MAX_RAW_USAGE_BYTES}: send only the hosted-tool `output` items' `type`, `status` \
             and `container_id`, and the candidates' `groundingMetadata.webSearchQueries`",
            json.len()
        ));
    }
    if json_depth(json) > MAX_RAW_USAGE_DEPTH {
        return Err(format!("nests arrays or objects more than {MAX_RAW_USAGE_DEPTH} levels deep"));
    }
    Ok(())
}

/// Refuses raw usage larger or deeper than any real usage object.
fn check_raw_usage_size(json: &str) -> Result<(), String> {
    if json.len() > MAX_RAW_USAGE_BYTES {
        return Err(format!(
            "is {} bytes; a provider's usage object is at most {MAX_RAW_USAGE_BYTES} bytes (send only the `usage`, \
             not the whole response)",
            json.len()
        ));
    }
    if json_depth(json) > MAX_RAW_USAGE_DEPTH {
        return Err(format!("nests arrays or objects more than {MAX_RAW_USAGE_DEPTH} levels deep"));
    }
    Ok(())
}

/// The deepest nesting of `[`/`{` in a JSON text (brackets inside strings not counted).
fn json_depth(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The tier the call was billed on: `batch: true` wins, then the event's
/// `service_tier`, then what the raw usage says (Anthropic's `service_tier`).
fn service_tier(event: &TrackEvent, usage: Option<&NormalizedUsage>) -> (ServiceTier, Option<String>) {
    if event.batch == Some(true) {
        return (ServiceTier::Batch, None);
    }
    if let Some(tier) = &event.service_tier {
        return ServiceTier::from_name(tier);
    }
    (usage.map_or(ServiceTier::Standard, |u| u.service_tier), None)
}

struct PricedEvent {
    price: EventPrice,
    long_context: bool,
    notes: Vec<String>,
    /// How a priced call's cost adds up, fees included.
    lines: Vec<EventCostLine>,
}

/// What pricing needs to know about the call itself.
struct Call<'a> {
    event: &'a TrackEvent,
    usage: Option<&'a NormalizedUsage>,
    /// See [`prepare_observed`].
    unknown_cost: Option<String>,
    status: Option<&'a str>,
    tier: ServiceTier,
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the arguments
fn price(
    call: &Call<'_>,
    provider: &Provider,
    model: &str,
    model_key: &str,
    catalog: &Catalog,
    custom: &CustomPrices,
    date: jiff::civil::Date,
    name: &impl Fn(&str) -> String,
) -> ApiResult<PricedEvent> {
    let Call { event, usage, tier, .. } = *call;
    let mut notes = usage.map(|u| u.notes.clone()).unwrap_or_default();
    if let Some(cost) = event.cost_usd {
        if cost < Money::ZERO {
            return Err(ApiError::invalid(&name("cost_usd"), "must not be negative"));
        }
        if cost > Money::MAX_PER_EVENT {
            return Err(ApiError::invalid(
                &name("cost_usd"),
                format!("{cost} is more than one event may cost ({} USD)", Money::MAX_PER_EVENT),
            ));
        }
        notes.push("priced with the event's own `cost_usd`".to_owned());
        let price = EventPrice::Priced { cost, source: PriceSource::Explicit, priced_as: None };
        return Ok(PricedEvent { price, long_context: false, notes, lines: Vec::new() });
    }
    // The proxy's `unknown_cost` marks a status that is LLMLab's own (a 502
    // after the request went out), not the provider's refusal.
    let refused = refused_call(call.status, usage).filter(|_| call.unknown_cost.is_none());
    let Some(usage) = usage else {
        let price = if let Some(status) = refused {
            notes.push(refused_note(status));
            EventPrice::Priced { cost: Money::ZERO, source: PriceSource::Refused, priced_as: None }
        } else {
            let reason = call.unknown_cost.clone().unwrap_or_else(|| {
                "no usage was reported for this call (for OpenAI streams, request `stream_options.include_usage`)"
                    .to_owned()
            });
            EventPrice::Unpriced { code: UnpricedCode::NoUsage, reason }
        };
        return Ok(PricedEvent { price, long_context: false, notes, lines: Vec::new() });
    };
    let mut usage = usage.clone();
    usage.service_tier = tier;
    let pricing = price_usage(catalog, &usage, Some(model), date, custom.card(provider, model_key));
    let source = pricing.source.unwrap_or(PriceSource::Catalog);
    let (price, long_context, lines) = match pricing.result {
        Ok(quote) if quote.cost > Money::MAX_PER_EVENT => {
            let field = if event.usage.is_some() { "usage" } else { "tokens" };
            return Err(ApiError::invalid(
                &name(field),
                format!(
                    "at {} prices this call would cost {} USD, more than one event may cost ({} USD); check the \
                     token counts",
                    model,
                    quote.cost,
                    Money::MAX_PER_EVENT
                ),
            ));
        }
        Ok(quote) => {
            notes.extend(quote.notes);
            let lines = quote
                .lines
                .iter()
                .map(|line| EventCostLine {
                    class: line.class.to_owned(),
                    quantity: line.quantity,
                    unit_price_usd: line.unit_price_usd.normalize().to_string(),
                    cost_usd: line.cost_usd.normalize().to_string(),
                })
                .collect();
            (EventPrice::Priced { cost: quote.cost, source, priced_as: pricing.priced_as }, quote.long_context, lines)
        }
        Err(unpriced) => {
            (EventPrice::Unpriced { code: unpriced.code(), reason: unpriced.to_string() }, false, Vec::new())
        }
    };
    Ok(PricedEvent { price, long_context, notes, lines })
}
