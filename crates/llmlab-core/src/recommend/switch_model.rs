//! `switch_model`: the user's own token mix repriced at a cheaper model.
//!
//! Candidates are the catalog entry's `alternatives` that are `current` and of
//! the same provider and kind (the catalog, not this code, judges which models
//! can take a workload). Both sides are repriced the same way, with the
//! catalog prices in force on the context date, so the difference is only the
//! price list. The alternative with the largest saving is suggested; the
//! others are listed in the tip's assumptions.
//!
//! An alternative without a price for a cache class the user used (a model
//! without cache writes, say) prices those tokens as its uncached input: the
//! same prompt sent to a model that does not bill that class. An alternative
//! without a web-search fee is skipped when the user searched, and one without
//! an audio price when the user sent audio the current model prices: it cannot
//! be assumed to offer the tool or accept the audio.

use rust_decimal::Decimal;

use crate::catalog::{Catalog, ModelEntry, ModelKind, ModelStatus, PriceSet};
use crate::cost::CostLine;
use crate::money::Money;
use crate::usage::{TokenBuckets, TokenClass};

use super::mix::{ModelMix, Tables};
use super::text::{class_name, compact, count, price, price_unit, priced_calls, usage_lines, usd, usd_exact};
use super::{Context, MONTH_DAYS, Tip, TipKind};

/// The tip for `mix`'s model, if an alternative saves enough.
pub(super) fn tip(catalog: &Catalog, mix: &ModelMix<'_>, context: &Context) -> Option<Tip> {
    let current = Repriced::current(mix, context)?;
    let mut options: Vec<Repriced<'_>> = mix
        .entry
        .alternatives
        .iter()
        .filter_map(|id| catalog.entry(id))
        .filter(|candidate| can_take_over(mix.entry, candidate) && !retiring_soon(candidate, context.on))
        .filter_map(|candidate| Repriced::alternative(mix, candidate, &current, context))
        .collect();
    // Cheapest first; the sort is stable, so the catalog's order breaks ties.
    options.sort_by_key(|option| option.window_cost);
    let (best, others) = options.split_first()?;
    let window_saving = current.window_cost - best.window_cost;
    let monthly = context.worthwhile_saving(mix, window_saving)?;
    let mut assumptions = usage_lines(context, mix);
    assumptions.extend(price_lines(mix, &current, best, context));
    assumptions.extend(long_context_line(mix, &current, best));
    assumptions.extend(caveats(mix.entry, best.entry));
    if retires_within(best.entry, context.on, RETIREMENT_MENTIONED_DAYS)
        && let Some(day) = best.entry.deprecated_on
    {
        assumptions.push(format!("{} is scheduled to retire on {day}; plan the next move too.", best.entry.id));
    }
    assumptions.extend(also_compared(others, &current, context));
    Some(Tip {
        kind: TipKind::SwitchModel,
        title: format!(
            "Switch {} → {}: save {}/mo on {} calls",
            current.entry.id,
            best.entry.id,
            usd(monthly),
            compact(mix.priced_calls)
        ),
        detail: detail(mix, &current, best, window_saving, monthly, context),
        provider: Some(mix.entry.provider.clone()),
        current_model: Some(current.entry.id.clone()),
        suggested_model: Some(best.entry.id.clone()),
        monthly_savings: Some(monthly),
        assumptions,
    })
}

/// The catalog validates provider and kind; checked again so a hand-made
/// catalog can never suggest a model of another provider or kind.
fn can_take_over(current: &ModelEntry, candidate: &ModelEntry) -> bool {
    candidate.status == ModelStatus::Current
        && candidate.provider == current.provider
        && candidate.kind == current.kind
        && candidate.id != current.id
}

/// A model the provider retires within this many days is never suggested:
/// switching to it would only mean switching again right away.
const RETIREMENT_EXCLUDED_DAYS: i32 = 30;
/// A suggestion retiring within this many days says so in its assumptions.
const RETIREMENT_MENTIONED_DAYS: i32 = 180;

/// True when `entry` retires within `days` of `on`.
fn retires_within(entry: &ModelEntry, on: jiff::civil::Date, days: i32) -> bool {
    entry.deprecated_on.is_some_and(|day| on.checked_add(jiff::Span::new().days(days)).is_ok_and(|until| day <= until))
}

fn retiring_soon(candidate: &ModelEntry, on: jiff::civil::Date) -> bool {
    retires_within(candidate, on, RETIREMENT_EXCLUDED_DAYS)
}

/// One model's prices applied to the window's tokens.
struct Repriced<'c> {
    entry: &'c ModelEntry,
    tables: Tables<'c>,
    /// The model's long-context threshold, whether or not the average prompt crosses it.
    tier_threshold: Option<u64>,
    /// The on-demand prices used, after filling missing cache prices.
    on_demand: PriceSet,
    /// Cache classes the model has no price for, priced as uncached input.
    priced_as_input: Vec<&'static str>,
    window_cost: Decimal,
}

impl<'c> Repriced<'c> {
    /// The user's model at its own prices; `None` if it cannot price its own
    /// mix (tokens in a class it has no price for).
    fn current(mix: &ModelMix<'c>, context: &Context) -> Option<Self> {
        let card = mix.entry.rates_on(context.on);
        let tables = mix.tables(card);
        let window_cost = mix.window_cost(tables.on_demand, tables.batch, tables.fees, &mix.entry.id).ok()?;
        Some(Repriced {
            entry: mix.entry,
            on_demand: tables.on_demand.clone(),
            tables,
            tier_threshold: card.long_context.as_ref().map(|t| t.above_prompt_tokens),
            priced_as_input: Vec::new(),
            window_cost,
        })
    }

    /// A candidate at its prices; `None` when it cannot take the workload.
    fn alternative(
        mix: &ModelMix<'_>,
        entry: &'c ModelEntry,
        current: &Repriced<'_>,
        context: &Context,
    ) -> Option<Self> {
        let card = entry.rates_on(context.on);
        let tables = mix.tables(card);
        if lacks_a_capability(&mix.buckets, current, &tables) {
            return None;
        }
        let (on_demand, priced_as_input) = cache_classes_as_input(tables.on_demand, &mix.buckets);
        let batch = tables.batch.map(|b| cache_classes_as_input(b, &mix.buckets).0);
        let window_cost = mix.window_cost(&on_demand, batch.as_ref(), tables.fees, &entry.id).ok()?;
        let tier_threshold = card.long_context.as_ref().map(|t| t.above_prompt_tokens);
        Some(Repriced { entry, tables, tier_threshold, on_demand, priced_as_input, window_cost })
    }

    fn lines(&self, mix: &ModelMix<'_>) -> Vec<CostLine> {
        mix.lines(&self.on_demand, self.tables.fees, &self.entry.id).unwrap_or_default()
    }
}

/// Per-request fees need the tool (web searches, file searches, containers,
/// grounding: a candidate without the fee cannot run them); audio needs an audio price where the
/// current model has one. Without it `cost_lines` would bill audio at the
/// text price, which for a text-only model (an embedding model without audio
/// input, say) is a saving that cannot happen.
fn lacks_a_capability(used: &TokenBuckets, current: &Repriced<'_>, candidate: &Tables<'_>) -> bool {
    let searches = TokenClass::ALL
        .iter()
        .filter(|c| c.is_request_fee() && c.of(used) > 0)
        .any(|c| c.catalog_class().is_none_or(|class| candidate.fees.and_then(|f| f.price(class)).is_none()));
    let audio = |tokens: u64, current_price: Option<Decimal>, candidate_price: Option<Decimal>| {
        tokens > 0 && current_price.is_some() && candidate_price.is_none()
    };
    let (now, then) = (&current.on_demand, candidate.on_demand);
    searches
        || audio(used.input_audio_tokens, now.input_audio, then.input_audio)
        || audio(used.cache_read_audio_tokens, now.cache_read_audio, then.cache_read_audio)
        || audio(used.output_audio_tokens, now.output_audio, then.output_audio)
}

/// `prices` with every missing cache price the user's tokens need set to the
/// uncached input price, and the names of the classes filled.
fn cache_classes_as_input(prices: &PriceSet, used: &TokenBuckets) -> (PriceSet, Vec<&'static str>) {
    let mut filled = prices.clone();
    let mut names = Vec::new();
    let input = prices.input;
    let slots = [
        ("cache_read", used.cache_read_tokens, &mut filled.cache_read),
        ("cache_write_5m", used.cache_write_tokens, &mut filled.cache_write_5m),
        ("cache_write_1h", used.cache_write_1h_tokens, &mut filled.cache_write_1h),
    ];
    for (class, tokens, slot) in slots {
        if tokens > 0 && slot.is_none() {
            *slot = Some(input);
            names.push(class);
        }
    }
    (filled, names)
}

fn detail(
    mix: &ModelMix<'_>,
    current: &Repriced<'_>,
    best: &Repriced<'_>,
    window_saving: Decimal,
    monthly: Money,
    context: &Context,
) -> String {
    let (from, to) = (&current.entry.id, &best.entry.id);
    format!(
        "{from} served {} from {} to {}; at the catalog prices they cost {}. \
         The same tokens on {to} would cost {}: {} less in the window, {} per {MONTH_DAYS}-day month. \
         {to} is a current {} model the catalog lists as able to take {from}'s workload; \
         check its answers on your own prompts before moving everything.",
        priced_calls(mix.priced_calls),
        context.window.first_day(),
        context.window.last_day(),
        usd_exact(current.window_cost),
        usd_exact(best.window_cost),
        usd_exact(window_saving),
        usd(monthly),
        mix.entry.provider,
    )
}

/// One line per token class: quantity, current price → suggested price.
fn price_lines(mix: &ModelMix<'_>, current: &Repriced<'_>, best: &Repriced<'_>, context: &Context) -> Vec<String> {
    let suggested = best.lines(mix);
    let mut lines = vec![format!(
        "Prices on {} in USD, {} → {} (same tokens in and out assumed for the same work):",
        context.on, current.entry.id, best.entry.id
    )];
    for line in current.lines(mix) {
        let (name, unit) = class_name(line.class);
        let Some(new) = suggested.iter().find(|l| l.class == line.class) else {
            continue;
        };
        let filled = if best.priced_as_input.contains(&line.class) {
            format!(" ({} has no price for {name}: priced as its uncached input)", best.entry.id)
        } else {
            String::new()
        };
        lines.push(format!(
            "{name}: {} {unit} at {} → {} {}{filled}",
            count(line.quantity),
            price(line.unit_price_usd),
            price(new.unit_price_usd),
            price_unit(line.class),
        ));
    }
    lines
}

/// How the average prompt decided each model's table, when either has a
/// long-context tier.
fn long_context_line(mix: &ModelMix<'_>, current: &Repriced<'_>, best: &Repriced<'_>) -> Option<String> {
    if current.tier_threshold.is_none() && best.tier_threshold.is_none() {
        return None;
    }
    Some(format!(
        "Long context: prompts average {} tokens per call (input + cache reads + cache writes ÷ priced calls). \
         The totals do not keep per-call sizes, so every call is priced like the average one: {}; {}.",
        count(mix.average_prompt()),
        table_used(current),
        table_used(best),
    ))
}

fn table_used(repriced: &Repriced<'_>) -> String {
    let id = &repriced.entry.id;
    match (repriced.tables.long_context_above, repriced.tier_threshold) {
        (Some(above), _) => format!("{id} at its long-context prices (above {} tokens)", count(above)),
        (None, Some(above)) => format!("{id} at its standard prices (long-context above {} tokens)", count(above)),
        (None, None) => format!("{id} at its standard prices (no long-context tier)"),
    }
}

/// What switching costs besides the price list.
fn caveats(current: &ModelEntry, suggested: &ModelEntry) -> Vec<String> {
    let mut lines = Vec::new();
    if current.kind == ModelKind::Embedding {
        lines.push(format!(
            "Vectors from {} cannot be compared with {}'s: switching means re-embedding everything stored.",
            suggested.id, current.id
        ));
    }
    if current.id.starts_with("ft:") || suggested.id.starts_with("ft:") {
        lines.push(format!("Moving a fine-tuned model means fine-tuning {} again.", suggested.id));
    }
    match current.status {
        ModelStatus::Current => {}
        ModelStatus::Legacy => lines.push(format!("{} is a legacy model in the catalog.", current.id)),
        ModelStatus::Retired => lines.push(format!("{} is retired in the catalog.", current.id)),
    }
    lines
}

/// The other candidates, so the choice can be checked.
fn also_compared(others: &[Repriced<'_>], current: &Repriced<'_>, context: &Context) -> Option<String> {
    if others.is_empty() {
        return None;
    }
    let each: Vec<String> = others
        .iter()
        .map(|other| {
            let saving = current.window_cost - other.window_cost;
            match context.per_month(saving) {
                Some(monthly) if monthly > Decimal::ZERO => {
                    format!("{} (saves {}/mo)", other.entry.id, usd_exact(monthly))
                }
                _ => format!("{} (no saving)", other.entry.id),
            }
        })
        .collect();
    Some(format!("Also compared: {}.", each.join(", ")))
}
