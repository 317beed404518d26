//! `prompt_caching`: large uncached inputs that are rarely read from the cache.
//!
//! Suggested when the model has a cache-read price, the uncached input
//! averages at least [`MIN_CACHEABLE_PROMPT_TOKENS`] per call (the providers'
//! minimum cacheable prefix) and cache reads are under
//! [`MAX_CACHE_READ_PERCENT`]% of all input. The saving assumes
//! [`REPEATED_PREFIX_PERCENT`]% of the uncached input is a prefix repeated
//! across calls, written to the cache once per [`READS_PER_WRITE`] reads: the
//! reads cost the cache-read price instead of the input price, and the writes
//! cost the model's cache-write price (Anthropic's 5-minute write, 1.25x input)
//! instead of the input price, or nothing extra where writes are not billed.

use rust_decimal::Decimal;

use crate::catalog::PriceSet;
use crate::money::Money;
use crate::provider::Provider;

use super::mix::ModelMix;
use super::text::{count, percent, price, usage_lines, usd, usd_exact};
use super::{Context, MONTH_DAYS, Tip, TipKind};

/// The shortest prompt prefix OpenAI and Anthropic cache (some models need more).
pub(super) const MIN_CACHEABLE_PROMPT_TOKENS: u64 = 1024;

/// Cache reads at or above this share of input mean caching is already in use.
pub(super) const MAX_CACHE_READ_PERCENT: u64 = 20;

/// The assumed share of uncached input that is a repeated prefix.
pub(super) const REPEATED_PREFIX_PERCENT: u64 = 50;

/// The assumed reads of a cached prefix per write of it.
pub(super) const READS_PER_WRITE: u64 = 9;

const PER_MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The tip for `mix`'s model, if caching a prefix would save enough.
pub(super) fn tip(mix: &ModelMix<'_>, context: &Context) -> Option<Tip> {
    let tables = mix.tables(mix.entry.rates_on(context.on));
    let uncached = mix.buckets.input_tokens - mix.buckets.input_audio_tokens.min(mix.buckets.input_tokens);
    if !rarely_cached(mix, uncached) {
        return None;
    }
    let on_demand = Prefix::new(tables.on_demand, uncached)?;
    let batched = tables.batch.and_then(|b| Prefix::new(b, uncached)).unwrap_or(on_demand);
    let window_saving = mix.blend(on_demand.saving(), batched.saving());
    let monthly = context.worthwhile_saving(mix, window_saving)?;
    let id = &mix.entry.id;
    let mut assumptions = usage_lines(context, mix);
    assumptions.extend(prefix_lines(mix, &on_demand));
    if let Some(above) = tables.long_context_above {
        assumptions.push(format!(
            "Priced at {id}'s long-context prices: prompts average {} tokens per call, above {}.",
            count(mix.average_prompt()),
            count(above)
        ));
    }
    Some(Tip {
        kind: TipKind::PromptCaching,
        title: format!("Cache the repeated prompt prefix on {id}: save about {}/mo", usd(monthly)),
        detail: detail(mix, uncached, window_saving, monthly),
        provider: Some(mix.entry.provider.clone()),
        current_model: Some(id.clone()),
        suggested_model: None,
        monthly_savings: Some(monthly),
        assumptions,
    })
}

/// Large uncached inputs, few cache reads; decided exactly in integers.
fn rarely_cached(mix: &ModelMix<'_>, uncached: u64) -> bool {
    let large = u128::from(uncached) >= u128::from(MIN_CACHEABLE_PROMPT_TOKENS) * u128::from(mix.priced_calls);
    let reads = u128::from(mix.buckets.cache_read_tokens);
    let all_input = u128::from(mix.buckets.input_tokens) + reads;
    let few_reads = reads * 100 < all_input * u128::from(MAX_CACHE_READ_PERCENT);
    large && few_reads
}

/// The assumed repeated prefix at one price table.
#[derive(Clone, Copy)]
struct Prefix {
    reads: Decimal,
    writes: Decimal,
    input_price: Decimal,
    read_price: Decimal,
    write_price: Decimal,
    /// Whether the model bills cache writes (otherwise they cost plain input).
    writes_billed: bool,
}

impl Prefix {
    /// `None` when the table has no cache-read price.
    fn new(prices: &PriceSet, uncached: u64) -> Option<Prefix> {
        let prefix = Decimal::from(uncached) * Decimal::from(REPEATED_PREFIX_PERCENT) / Decimal::ONE_HUNDRED;
        let writes = prefix / Decimal::from(READS_PER_WRITE + 1);
        Some(Prefix {
            reads: prefix - writes,
            writes,
            input_price: prices.input,
            read_price: prices.cache_read?,
            write_price: prices.cache_write_5m.unwrap_or(prices.input),
            writes_billed: prices.cache_write_5m.is_some(),
        })
    }

    /// Reads at the read price instead of input, minus the write premium.
    fn saving(&self) -> Decimal {
        let on_reads = self.reads * (self.input_price - self.read_price);
        let on_writes = self.writes * (self.write_price - self.input_price);
        (on_reads - on_writes) / PER_MILLION
    }
}

fn detail(mix: &ModelMix<'_>, uncached: u64, window_saving: Decimal, monthly: Money) -> String {
    let id = &mix.entry.id;
    let reads = mix.buckets.cache_read_tokens;
    let all_input = Decimal::from(mix.buckets.input_tokens) + Decimal::from(reads);
    let cached = if reads == 0 {
        "none of its input".to_owned()
    } else {
        format!(
            "only {} of its input ({} of {} tokens)",
            percent(Decimal::from(reads), all_input),
            count(reads),
            count(mix.buckets.input_tokens.saturating_add(reads))
        )
    };
    format!(
        "{id} sent {} uncached input tokens per call on average and read {cached} from the prompt cache. \
         If half of that input is a prefix repeated across calls (instructions, tool definitions, documents) and \
         cached, the window's {} uncached input tokens would cost {} less: about {} per {MONTH_DAYS}-day month.{}",
        count(uncached / mix.priced_calls),
        count(uncached),
        usd_exact(window_saving),
        usd(monthly),
        how_to(&mix.entry.provider),
    )
}

/// Where the switch is, per provider.
fn how_to(provider: &Provider) -> &'static str {
    match provider {
        Provider::OpenAi => {
            " OpenAI caches a prompt prefix of 1,024+ tokens automatically: put the fixed part first and what varies last."
        }
        Provider::Anthropic => {
            " Mark the end of the fixed prefix with `cache_control`; Anthropic caches only what is marked."
        }
        Provider::Google => {
            " Gemini caches repeated prefixes implicitly on recent models; explicit context caching also bills storage \
             per hour, which this estimate leaves out."
        }
        Provider::Other(_) => "",
    }
}

fn prefix_lines(mix: &ModelMix<'_>, prefix: &Prefix) -> Vec<String> {
    let id = &mix.entry.id;
    let write_basis = if prefix.writes_billed {
        "its 5-minute cache-write price".to_owned()
    } else {
        format!("the input price: {id} bills no cache writes")
    };
    vec![
        format!(
            "Repeated prefix: {REPEATED_PREFIX_PERCENT}% of the uncached input tokens ({}).",
            count_decimal(prefix.reads + prefix.writes)
        ),
        format!(
            "Each cached prefix is written once per {READS_PER_WRITE} reads: {} tokens written at {} per 1M ({write_basis}) \
             and {} tokens read at {} per 1M, instead of {} per 1M as uncached input.",
            count_decimal(prefix.writes),
            price(prefix.write_price),
            count_decimal(prefix.reads),
            price(prefix.read_price),
            price(prefix.input_price),
        ),
        format!(
            "Only prompts of at least {} tokens can be cached (the providers' minimum prefix; some models need more); \
             cache reads are under {MAX_CACHE_READ_PERCENT}% of input.",
            count(MIN_CACHEABLE_PROMPT_TOKENS)
        ),
    ]
}

/// A token count that may be fractional after taking a share: whole tokens, rounded.
fn count_decimal(tokens: Decimal) -> String {
    u64::try_from(tokens.round()).map_or_else(|_| tokens.round().to_string(), count)
}
