//! Exact cost: normalized usage × the rate card in force, in `Decimal`, rounded
//! once per event to nano-USD.
//!
//! A call is priced only when every token class it used has a price. Otherwise
//! it is unpriced with a reason (unknown provider or model, a class the
//! catalog has no price for, a usage anomaly): never a silent $0. The one
//! deliberate $0 is a call the provider refused ([`refused_call`]).

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::{Catalog, ModelMatch, PriceSet, RateCard, RequestFees};
use crate::money::Money;
use crate::token_class::TokenClass;
use crate::usage::{NormalizedUsage, ServiceTier, TokenBuckets, Uplifts};

/// Where the prices of a priced call came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The built-in catalog.
    Catalog,
    /// The account's own price for the model.
    Custom,
    /// The cost the caller stated with the event (`cost_usd`).
    Explicit,
    /// Exactly $0: the provider refused the call (see [`refused_call`]).
    Refused,
}

impl PriceSource {
    /// The stored and wire name: `catalog`, `custom`, `explicit`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PriceSource::Catalog => "catalog",
            PriceSource::Custom => "custom",
            PriceSource::Explicit => "explicit",
            PriceSource::Refused => "refused",
        }
    }
}

/// Why a stored call is unpriced, as a stable code (the reason's sentence
/// goes beside it): the causes of [`Unpriced`], plus a call that reported
/// no usage at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpricedCode {
    NoUsage,
    NoModel,
    UnknownProvider,
    UnknownModel,
    Anomaly,
    MissingPrice,
}

impl UnpricedCode {
    /// The stored and wire name (`unknown_model`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            UnpricedCode::NoUsage => "no_usage",
            UnpricedCode::NoModel => "no_model",
            UnpricedCode::UnknownProvider => "unknown_provider",
            UnpricedCode::UnknownModel => "unknown_model",
            UnpricedCode::Anomaly => "anomaly",
            UnpricedCode::MissingPrice => "missing_price",
        }
    }

    /// The code of a stored or wire name (`unknown_model`, …).
    #[must_use]
    pub fn from_name(name: &str) -> Option<UnpricedCode> {
        [
            UnpricedCode::NoUsage,
            UnpricedCode::NoModel,
            UnpricedCode::UnknownProvider,
            UnpricedCode::UnknownModel,
            UnpricedCode::Anomaly,
            UnpricedCode::MissingPrice,
        ]
        .into_iter()
        .find(|code| code.as_str() == name)
    }

    /// Whether adding a price for the model can price the call later.
    #[must_use]
    pub const fn repriceable(self) -> bool {
        matches!(self, UnpricedCode::UnknownProvider | UnpricedCode::UnknownModel | UnpricedCode::MissingPrice)
    }
}

/// Why a call is not priced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Unpriced {
    #[error("the response names no model")]
    NoModel,
    /// A provider LLMLab has no prices for: accepted (users price their own
    /// providers' models), with the nearest built-in name when it looks like a typo.
    #[error(
        "provider `{provider}` is not built in{}; price its models with `llmlab prices set {model} --provider \
         {provider} …` or POST /api/prices",
        did_you_mean(.provider, .suggestion.as_deref())
    )]
    UnknownProvider { provider: String, suggestion: Option<&'static str>, model: String },
    #[error("`{model}` is not in the price catalog; add a price with `llmlab prices set` or POST /api/prices")]
    UnknownModel { model: String },
    #[error("the usage is inconsistent: {detail}")]
    Anomaly { detail: String },
    #[error("`{model}` has no `{class}` price, but the call used {tokens} of them")]
    MissingClassPrice { model: String, class: &'static str, tokens: u64 },
}

impl Unpriced {
    /// The stable code of this cause.
    #[must_use]
    pub const fn code(&self) -> UnpricedCode {
        match self {
            Unpriced::NoModel => UnpricedCode::NoModel,
            Unpriced::UnknownProvider { .. } => UnpricedCode::UnknownProvider,
            Unpriced::UnknownModel { .. } => UnpricedCode::UnknownModel,
            Unpriced::Anomaly { .. } => UnpricedCode::Anomaly,
            Unpriced::MissingClassPrice { .. } => UnpricedCode::MissingPrice,
        }
    }
}

/// What an unknown provider name most likely means: a typo of a built-in
/// one, or (the SDK's `unknown`) no name at all.
fn did_you_mean(provider: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!(" (did you mean `{name}`?)"),
        None if provider == "unknown" => {
            " (the call named no provider: give `openai`, `anthropic` or `google`, e.g. `track_cost(provider=…)`)"
                .to_owned()
        }
        None => String::new(),
    }
}

/// The HTTP status of a call the provider refused, or `None`: a call whose
/// event `status` is a 4xx or 5xx answer (`"404"`, `"429"`, `"500"`) and
/// that reported no usage. Such a call costs exactly $0, since providers do
/// not bill the calls they refuse; it is priced (source
/// [`PriceSource::Refused`]), never unpriced. `ok`, `error` (no HTTP answer
/// at all: the provider may have billed) and any other status are not
/// refusals, and an error answer that does report usage is priced from it.
/// This is the one place the rule lives: events from the API, the SDK and
/// the proxy all go through it.
#[must_use]
pub fn refused_call(status: Option<&str>, usage: Option<&NormalizedUsage>) -> Option<u16> {
    if usage.is_some() {
        return None;
    }
    let code: u16 = status?.trim().parse().ok()?;
    (400..=599).contains(&code).then_some(code)
}

/// The note beside the $0 of a refused call.
#[must_use]
pub fn refused_note(status: u16) -> String {
    format!("the provider refused the call (HTTP {status}); refused calls are not billed, so it costs $0")
}

/// The cost of one call at a set of prices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// The exact cost before rounding.
    pub exact_usd: Decimal,
    /// The cost rounded once, half to even, to nano-USD.
    pub cost: Money,
    /// The price table actually used (a tier without its own table falls back).
    pub table: ServiceTier,
    /// Whether the long-context tier applied to the whole request.
    pub long_context: bool,
    /// One line per priced class with tokens, so the figure can be checked by hand.
    pub lines: Vec<CostLine>,
    pub notes: Vec<String>,
}

/// The cost of one token class (or per-request fee) of a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CostLine {
    pub class: &'static str,
    /// Tokens (or requests, for fees).
    pub quantity: u64,
    /// USD per 1M tokens, or per request for fees.
    #[serde(with = "rust_decimal::serde::str")]
    pub unit_price_usd: Decimal,
    /// The exact, unrounded cost of this line.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_usd: Decimal,
}

/// The outcome of pricing a normalized call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pricing {
    /// The catalog (or custom) id the model resolved to.
    pub priced_as: Option<String>,
    pub model_match: Option<ModelMatch>,
    pub source: Option<PriceSource>,
    pub result: Result<Quote, Unpriced>,
}

impl Pricing {
    /// The rounded cost, or `None` when unpriced.
    #[must_use]
    pub fn cost(&self) -> Option<Money> {
        self.result.as_ref().ok().map(|q| q.cost)
    }
}

/// Prices `usage` for `model` as of `on`. An account's own `custom` card (if
/// any, looked up by the caller) wins over the catalog.
#[must_use]
pub fn price_usage(
    catalog: &Catalog,
    usage: &NormalizedUsage,
    model: Option<&str>,
    on: Date,
    custom: Option<&RateCard>,
) -> Pricing {
    let unpriced = |reason| Pricing { priced_as: None, model_match: None, source: None, result: Err(reason) };
    let Some(model) = model.or(usage.model.as_deref()) else {
        return unpriced(Unpriced::NoModel);
    };
    let (card, priced_as, model_match, source) = if let Some(card) = custom {
        (card, crate::catalog::canonical_model_id(model), None, PriceSource::Custom)
    } else if !usage.provider.is_known() {
        return unpriced(Unpriced::UnknownProvider {
            provider: usage.provider.as_str().to_owned(),
            suggestion: usage.provider.suggestion(),
            model: model.to_owned(),
        });
    } else if let Some(found) = catalog.resolve(Some(&usage.provider), model) {
        (found.entry.rates_on(on), found.entry.id.clone(), Some(found.matched_by), PriceSource::Catalog)
    } else {
        return unpriced(Unpriced::UnknownModel { model: model.to_owned() });
    };
    let result = if let Some(anomaly) = usage.anomalies.first() {
        Err(Unpriced::Anomaly { detail: anomaly.message.clone() })
    } else {
        quote(card, &usage.buckets, usage.service_tier, &priced_as)
            .and_then(|q| apply_uplifts(q, card, usage.uplifts, &priced_as))
            .map(|mut q| {
                if model_match == Some(ModelMatch::DateSuffix) {
                    q.notes.push(format!("`{model}` is not in the catalog; priced as its base model `{priced_as}`"));
                }
                q
            })
    };
    Pricing { priced_as: Some(priced_as), model_match, source: Some(source), result }
}

/// Prices buckets with one rate card.
pub fn quote(card: &RateCard, buckets: &TokenBuckets, tier: ServiceTier, model: &str) -> Result<Quote, Unpriced> {
    let mut notes = Vec::new();
    let long_tier = card.long_context.as_ref().filter(|t| buckets.prompt_tokens() > t.above_prompt_tokens);
    let (prices, table) = match long_tier {
        Some(long) => {
            select_table(&long.standard, long.batch.as_ref(), long.flex.as_ref(), long.priority.as_ref(), tier)
        }
        None => select_table(&card.standard, card.batch.as_ref(), card.flex.as_ref(), card.priority.as_ref(), tier),
    };
    if table != tier && !(tier == ServiceTier::Flex && table == ServiceTier::Batch) {
        let bound = if tier == ServiceTier::Priority { "a lower bound" } else { "an upper bound" };
        notes.push(format!("`{model}` has no {tier} prices; priced at {table} rates ({bound})"));
    }
    if let Some(long) = long_tier {
        notes.push(format!(
            "the prompt ({} tokens) is above {}: the whole request is billed at the long-context prices",
            buckets.prompt_tokens(),
            long.above_prompt_tokens
        ));
    }
    let lines = cost_lines(prices, buckets, card.request_fees.as_ref(), model)?;
    let exact_usd = lines.iter().map(|l| l.cost_usd).sum();
    let cost = Money::from_decimal_usd(exact_usd)
        .map_err(|e| Unpriced::Anomaly { detail: format!("the cost is out of range: {e}") })?;
    Ok(Quote { exact_usd, cost, table, long_context: long_tier.is_some(), lines, notes })
}

/// The token classes of [`cost_lines`]; every other line is a per-request fee.
const TOKEN_LINE_CLASSES: [&str; 8] = [
    "input",
    "input_audio",
    "cache_read",
    "cache_read_audio",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "output_audio",
];

/// Multiplies the token lines of `quote` by the card's uplift for each one
/// the call shows (fast mode, US-only inference, data residency); per-request
/// fees are not uplifted. An uplift the card has no multiplier for is noted,
/// never guessed.
pub fn apply_uplifts(mut quote: Quote, card: &RateCard, shown: Uplifts, model: &str) -> Result<Quote, Unpriced> {
    if shown.is_none() {
        return Ok(quote);
    }
    let prices = card.uplifts.clone().unwrap_or_default();
    let wanted = [
        (shown.fast_mode, prices.fast_mode, "fast mode", "a lower bound"),
        (shown.us_inference, prices.us_inference, "US-only inference", "the catalog lists no uplift for this model"),
        (
            shown.regional_processing,
            prices.regional_processing,
            "data residency (a regional host)",
            "the catalog lists no uplift for this model",
        ),
    ];
    let mut factor = Decimal::ONE;
    for (is_shown, multiplier, what, without) in wanted {
        if !is_shown {
            continue;
        }
        match multiplier {
            Some(m) => {
                factor *= m;
                quote.notes.push(format!("{what}: token prices ×{} (`{model}`'s catalog uplift)", m.normalize()));
            }
            None => quote
                .notes
                .push(format!("{what}: `{model}` has no uplift in the catalog; priced without one ({without})")),
        }
    }
    if factor == Decimal::ONE {
        return Ok(quote);
    }
    for line in quote.lines.iter_mut().filter(|l| TOKEN_LINE_CLASSES.contains(&l.class)) {
        line.unit_price_usd *= factor;
        line.cost_usd *= factor;
    }
    quote.exact_usd = quote.lines.iter().map(|l| l.cost_usd).sum();
    quote.cost = Money::from_decimal_usd(quote.exact_usd)
        .map_err(|e| Unpriced::Anomaly { detail: format!("the cost is out of range: {e}") })?;
    Ok(quote)
}

/// Picks the price table for a tier: flex falls back to batch (both bill at
/// batch rates where the catalog has no flex table); any tier without a
/// table falls back to standard.
pub(crate) fn select_table<'p>(
    standard: &'p PriceSet,
    batch: Option<&'p PriceSet>,
    flex: Option<&'p PriceSet>,
    priority: Option<&'p PriceSet>,
    tier: ServiceTier,
) -> (&'p PriceSet, ServiceTier) {
    let chosen = match tier {
        ServiceTier::Standard => None,
        ServiceTier::Batch => batch.map(|b| (b, ServiceTier::Batch)),
        ServiceTier::Flex => flex.map(|f| (f, ServiceTier::Flex)).or(batch.map(|b| (b, ServiceTier::Batch))),
        ServiceTier::Priority => priority.map(|p| (p, ServiceTier::Priority)),
    };
    chosen.unwrap_or((standard, ServiceTier::Standard))
}

/// The per-request fee classes, with the catalog price class each is billed at.
const REQUEST_FEE_CLASSES: [(TokenClass, &str); 5] = [
    (TokenClass::WebSearchRequests, "web_search"),
    (TokenClass::WebFetchRequests, "web_fetch"),
    (TokenClass::FileSearchCalls, "file_search"),
    (TokenClass::ContainerSessions, "container_session"),
    (TokenClass::GroundedPrompts, "grounded_prompt"),
];

const PER_MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The exact, unrounded cost of each class of `buckets` at `prices`; classes
/// with no tokens are left out. Fails on the first used class without a price.
pub fn cost_lines(
    prices: &PriceSet,
    buckets: &TokenBuckets,
    fees: Option<&RequestFees>,
    model: &str,
) -> Result<Vec<CostLine>, Unpriced> {
    let text_input = buckets.input_tokens - buckets.input_audio_tokens.min(buckets.input_tokens);
    let text_output = buckets.output_tokens - buckets.output_audio_tokens.min(buckets.output_tokens);
    let text_cache_read = buckets.cache_read_tokens - buckets.cache_read_audio_tokens.min(buckets.cache_read_tokens);
    let token_classes = [
        ("input", text_input, Some(prices.input)),
        ("input_audio", buckets.input_audio_tokens, prices.input_audio.or(Some(prices.input))),
        ("cache_read", text_cache_read, prices.cache_read),
        ("cache_read_audio", buckets.cache_read_audio_tokens, prices.cache_read_audio.or(prices.cache_read)),
        ("cache_write_5m", buckets.cache_write_tokens, prices.cache_write_5m),
        ("cache_write_1h", buckets.cache_write_1h_tokens, prices.cache_write_1h),
        ("output", text_output, Some(prices.output)),
        ("output_audio", buckets.output_audio_tokens, prices.output_audio.or(Some(prices.output))),
    ];
    let per_token = token_classes.into_iter().map(|(class, tokens, price)| (class, tokens, price, PER_MILLION));
    let per_request = REQUEST_FEE_CLASSES.iter().map(|&(token_class, class)| {
        let quantity = token_class.of(buckets);
        // Looked up only for fees the call incurred: most calls have none.
        let price = if quantity == 0 { None } else { fees.and_then(|f| f.price(class)) };
        (class, quantity, price, Decimal::ONE)
    });
    let mut lines = Vec::new();
    for (class, quantity, price, unit) in per_token.chain(per_request) {
        if quantity == 0 {
            continue;
        }
        let Some(unit_price_usd) = price else {
            return Err(Unpriced::MissingClassPrice { model: model.to_owned(), class, tokens: quantity });
        };
        let cost_usd = per_unit(Decimal::from(quantity) * unit_price_usd, unit);
        lines.push(CostLine { class, quantity, unit_price_usd, cost_usd });
    }
    Ok(lines)
}

/// Whether a cost line's class (as [`cost_lines`] names it) is a per-request
/// fee, priced per request rather than per 1M tokens.
#[must_use]
pub fn is_request_fee_class(class: &str) -> bool {
    REQUEST_FEE_CLASSES.iter().any(|&(_, fee)| fee == class)
}

/// Divides by 1 or by 1M exactly; the per-million case only moves the decimal
/// point, which is far cheaper than a general decimal division.
fn per_unit(amount: Decimal, unit: Decimal) -> Decimal {
    if unit == PER_MILLION && amount.scale() + 6 <= 28 {
        let mut scaled = amount;
        scaled.set_scale(amount.scale() + 6).expect("scale checked above");
        scaled
    } else {
        amount / unit
    }
}

/// The exact, unrounded cost of `buckets` at `prices`.
pub fn exact_cost(
    prices: &PriceSet,
    buckets: &TokenBuckets,
    fees: Option<&RequestFees>,
    model: &str,
) -> Result<Decimal, Unpriced> {
    Ok(cost_lines(prices, buckets, fees, model)?.iter().map(|l| l.cost_usd).sum())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::catalog::LongContextTier;
    use crate::provider::Provider;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn sonnet_like() -> RateCard {
        let standard = PriceSet {
            input: d("3"),
            output: d("15"),
            cache_read: Some(d("0.30")),
            cache_write_5m: Some(d("3.75")),
            cache_write_1h: Some(d("6")),
            ..PriceSet::default()
        };
        let long = PriceSet {
            input: d("6"),
            output: d("22.5"),
            cache_read: Some(d("0.6")),
            cache_write_5m: Some(d("7.5")),
            cache_write_1h: Some(d("12")),
            ..PriceSet::default()
        };
        RateCard {
            standard,
            long_context: Some(LongContextTier {
                above_prompt_tokens: 200_000,
                standard: long,
                batch: None,
                flex: None,
                priority: None,
            }),
            request_fees: Some(RequestFees { web_search: Some(d("0.01")), ..RequestFees::default() }),
            ..RateCard::default()
        }
    }

    #[test]
    fn the_fee_classes_are_the_token_table_s_request_fees() {
        let from_table: Vec<(TokenClass, &str)> =
            TokenClass::ALL.iter().filter(|c| c.is_request_fee()).map(|&c| (c, c.catalog_class().unwrap())).collect();
        assert_eq!(from_table, REQUEST_FEE_CLASSES);
    }

    #[test]
    fn every_class_is_priced_at_its_own_rate() {
        let buckets = TokenBuckets {
            input_tokens: 50,
            cache_read_tokens: 10_000,
            cache_write_tokens: 1_500,
            cache_write_1h_tokens: 500,
            output_tokens: 300,
            web_search_requests: 2,
            ..TokenBuckets::default()
        };
        let q = quote(&sonnet_like(), &buckets, ServiceTier::Standard, "m").unwrap();
        // 50*3 + 10000*0.3 + 1500*3.75 + 500*6 + 300*15 = 150+3000+5625+3000+4500 = 16275 → 0.016275 + 0.02
        assert_eq!(q.exact_usd, d("0.036275"));
        assert_eq!(q.cost.to_string(), "0.036275");
        assert!(!q.long_context);
    }

    #[test]
    fn crossing_the_threshold_bills_the_whole_request_at_the_tier() {
        let at = TokenBuckets {
            input_tokens: 100_000,
            cache_read_tokens: 100_000,
            output_tokens: 1000,
            ..TokenBuckets::default()
        };
        let above = TokenBuckets { input_tokens: 100_001, ..at };
        let q_at = quote(&sonnet_like(), &at, ServiceTier::Standard, "m").unwrap();
        let q_above = quote(&sonnet_like(), &above, ServiceTier::Standard, "m").unwrap();
        assert!(!q_at.long_context);
        assert!(q_above.long_context);
        assert_eq!(q_above.exact_usd, d("0.6000060") + d("0.06") + d("0.0225"));
    }

    #[test]
    fn a_class_without_a_price_makes_the_call_unpriced() {
        let card = RateCard::standard_only(PriceSet { input: d("1"), output: d("2"), ..PriceSet::default() });
        let b = TokenBuckets { input_tokens: 10, cache_read_tokens: 5, ..TokenBuckets::default() };
        let err = quote(&card, &b, ServiceTier::Standard, "m").unwrap_err();
        assert_eq!(err, Unpriced::MissingClassPrice { model: "m".into(), class: "cache_read", tokens: 5 });
    }

    #[test]
    fn a_tier_without_a_table_is_priced_at_standard_and_says_so() {
        let b = TokenBuckets { input_tokens: 1_000_000, ..TokenBuckets::default() };
        let q = quote(&sonnet_like(), &b, ServiceTier::Batch, "m").unwrap();
        assert_eq!(q.table, ServiceTier::Standard);
        assert!(q.notes[0].contains("upper bound"));
    }

    #[test]
    fn unknown_models_are_unpriced_never_zero() {
        let usage = NormalizedUsage::from_buckets(Provider::OpenAi, Some("acme-7b".into()), TokenBuckets::default());
        let p = price_usage(Catalog::builtin(), &usage, None, Date::constant(2026, 11, 27), None);
        assert!(matches!(p.result, Err(Unpriced::UnknownModel { .. })));
        assert_eq!(p.cost(), None);
    }

    #[test]
    fn an_unknown_provider_is_named_with_the_nearest_built_in_one_not_blamed_on_the_model() {
        let usage =
            NormalizedUsage::from_buckets(Provider::parse("opena"), Some("gpt-4o".into()), TokenBuckets::default());
        let p = price_usage(Catalog::builtin(), &usage, None, Date::constant(2026, 11, 27), None);
        let reason = p.result.unwrap_err();
        assert_eq!(reason.code(), UnpricedCode::UnknownProvider);
        assert_eq!(
            reason.to_string(),
            "provider `opena` is not built in (did you mean `openai`?); price its models with `llmlab prices set \
             gpt-4o --provider opena …` or POST /api/prices"
        );
        let own =
            NormalizedUsage::from_buckets(Provider::parse("acme"), Some("acme-7b".into()), TokenBuckets::default());
        let p = price_usage(Catalog::builtin(), &own, None, Date::constant(2026, 11, 27), None);
        assert!(p.result.unwrap_err().to_string().starts_with("provider `acme` is not built in; price its models"));
        let unnamed =
            NormalizedUsage::from_buckets(Provider::parse("unknown"), Some("m".into()), TokenBuckets::default());
        let p = price_usage(Catalog::builtin(), &unnamed, None, Date::constant(2026, 11, 27), None);
        assert!(p.result.unwrap_err().to_string().contains("the call named no provider"));
    }

    #[test]
    fn codes_read_back_from_their_names_and_only_price_problems_are_fixed_by_a_price() {
        for name in ["no_usage", "no_model", "unknown_provider", "unknown_model", "anomaly", "missing_price"] {
            assert_eq!(UnpricedCode::from_name(name).map(UnpricedCode::as_str), Some(name));
        }
        assert_eq!(UnpricedCode::from_name("refused"), None);
        let fixed: Vec<&str> = ["no_usage", "unknown_provider", "unknown_model", "missing_price", "anomaly"]
            .into_iter()
            .filter(|n| UnpricedCode::from_name(n).is_some_and(UnpricedCode::repriceable))
            .collect();
        assert_eq!(fixed, ["unknown_provider", "unknown_model", "missing_price"]);
    }

    #[test]
    fn only_an_http_error_status_without_usage_is_a_refusal() {
        for (status, refused) in [("404", Some(404)), ("429", Some(429)), (" 500 ", Some(500)), ("599", Some(599))] {
            assert_eq!(refused_call(Some(status), None), refused, "{status}");
        }
        for status in ["ok", "error", "cancelled", "200", "399", "600", "4O4", ""] {
            assert_eq!(refused_call(Some(status), None), None, "{status}");
        }
        assert_eq!(refused_call(None, None), None);
        let usage = NormalizedUsage::from_buckets(Provider::OpenAi, None, TokenBuckets::default());
        assert_eq!(refused_call(Some("400"), Some(&usage)), None, "an error that reports usage is billed");
    }

    #[test]
    fn a_custom_price_wins_over_the_catalog() {
        let usage = NormalizedUsage::from_buckets(
            Provider::OpenAi,
            Some("gpt-4o".into()),
            TokenBuckets { input_tokens: 1_000_000, ..TokenBuckets::default() },
        );
        let custom = RateCard::standard_only(PriceSet { input: d("1"), output: d("1"), ..PriceSet::default() });
        let p = price_usage(Catalog::builtin(), &usage, None, Date::constant(2026, 11, 27), Some(&custom));
        assert_eq!(p.source, Some(PriceSource::Custom));
        assert_eq!(p.cost().unwrap().to_string(), "1");
    }

    fn opus_call(uplifts: Uplifts) -> Pricing {
        let mut usage = NormalizedUsage::from_buckets(
            Provider::Anthropic,
            Some("claude-opus-4-8".into()),
            TokenBuckets { input_tokens: 1_000, output_tokens: 100, web_search_requests: 1, ..TokenBuckets::default() },
        );
        usage.uplifts = uplifts;
        price_usage(Catalog::builtin(), &usage, None, Date::constant(2026, 12, 7), None)
    }

    #[test]
    fn uplifts_multiply_token_prices_but_not_fees() {
        // 1,000 × $5/M + 100 × $25/M = $0.0075 of tokens, + one $0.01 search.
        assert_eq!(opus_call(Uplifts::default()).cost().unwrap().to_string(), "0.0175");
        let fast = opus_call(Uplifts { fast_mode: true, ..Uplifts::default() });
        // Fast mode ×2: $0.015 of tokens + $0.01.
        assert_eq!(fast.cost().unwrap().to_string(), "0.025");
        let quote = fast.result.unwrap();
        assert!(quote.notes.iter().any(|n| n.contains("fast mode: token prices ×2")), "{:?}", quote.notes);
        let input = quote.lines.iter().find(|l| l.class == "input").unwrap();
        assert_eq!(input.unit_price_usd, d("10"), "the line shows the uplifted price");
        let search = quote.lines.iter().find(|l| l.class == "web_search").unwrap();
        assert_eq!(search.unit_price_usd, d("0.01"), "fees are not uplifted");
        // Both: ×2 × 1.1 = ×2.2 → $0.0165 of tokens + $0.01.
        let both = opus_call(Uplifts { fast_mode: true, us_inference: true, ..Uplifts::default() });
        assert_eq!(both.cost().unwrap().to_string(), "0.0265");
    }

    #[test]
    fn an_uplift_the_catalog_lacks_is_noted_not_guessed() {
        let mut usage = NormalizedUsage::from_buckets(
            Provider::Anthropic,
            Some("claude-3-haiku".into()),
            TokenBuckets { input_tokens: 1_000_000, ..TokenBuckets::default() },
        );
        usage.uplifts.fast_mode = true;
        let quote = price_usage(Catalog::builtin(), &usage, None, Date::constant(2026, 12, 7), None).result.unwrap();
        assert_eq!(quote.cost.to_string(), "0.25", "claude-3-haiku's $0.25/M, no multiplier");
        assert!(
            quote.notes.iter().any(|n| n.contains("has no uplift") && n.contains("a lower bound")),
            "{:?}",
            quote.notes
        );
    }

    #[test]
    fn regional_hosts_uplift_only_the_models_that_say_so() {
        let call = |model: &str| {
            let mut usage = NormalizedUsage::from_buckets(
                Provider::OpenAi,
                Some(model.into()),
                TokenBuckets { input_tokens: 100_000, ..TokenBuckets::default() },
            );
            usage.uplifts.regional_processing = true;
            price_usage(Catalog::builtin(), &usage, None, Date::constant(2026, 12, 7), None).cost().unwrap()
        };
        assert_eq!(call("gpt-5.4").to_string(), "0.275", "100k × $2.50/M × 1.1");
        assert_eq!(call("gpt-4o").to_string(), "0.25", "released before 2026-03-05: no uplift");
    }
}
