//! genai-prices' data JSON (pydantic/genai-prices `prices/data.json`, the
//! file its package's updater fetches): a list of providers, each with models
//! whose `prices` are one set or dated sets (`constraint.start_date`), in USD
//! per 1M tokens (`input_mtok`), long-context tiers as `{base, tiers}`, and
//! `price_variants` that override some prices for a tier (`processing: batch`,
//! `service_tier: flex|priority`), possibly from a date.
//!
//! Dated sets become the entry's `[[models.history]]`: every date where a set
//! or a tier variant starts opens a new period, so an event is priced at the
//! rates of its own date, and a change dated in the future applies from then.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    CardOut, HistoryOut, Import, ImportError, ModelOut, SourceFormat, SourceInfo, Unmapped, agree, append_models,
    exact_number, fold_equal_audio, known_provider, same_classes, show_prices,
};
use crate::catalog::{Catalog, LongContextTier, ModelKind, ModelStatus, PriceSet, canonical_model_id};

const NAME: &str = "pydantic/genai-prices data.json";
const URL: &str = "https://github.com/pydantic/genai-prices/blob/main/prices/data.json";

#[derive(Deserialize)]
struct ProviderIn {
    id: String,
    #[serde(default)]
    models: Vec<ModelIn>,
}

#[derive(Deserialize)]
struct ModelIn {
    id: String,
    #[serde(default, rename = "match")]
    matcher: Option<serde_json::Value>,
    #[serde(default)]
    context_window: Option<u64>,
    #[serde(default)]
    deprecated: Option<bool>,
    prices: Box<RawValue>,
    #[serde(default)]
    price_variants: Vec<VariantIn>,
}

#[derive(Deserialize)]
struct ConditionalIn {
    #[serde(default)]
    constraint: Option<serde_json::Map<String, serde_json::Value>>,
    prices: BTreeMap<String, Box<RawValue>>,
}

#[derive(Deserialize)]
struct VariantIn {
    when: BTreeMap<String, String>,
    prices: BTreeMap<String, Box<RawValue>>,
    #[serde(default)]
    constraint: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct TieredIn {
    base: Box<RawValue>,
    tiers: Vec<TierIn>,
}

#[derive(Deserialize)]
struct TierIn {
    start: u64,
    price: Box<RawValue>,
}

/// One price: flat, or a base and the price above a prompt size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Price {
    Flat(Decimal),
    Tiered { base: Decimal, above: u64, long: Decimal },
}

/// A table's prices by catalog class.
type Table = BTreeMap<&'static str, Price>;

/// A period's tables: standard and the tiers in force.
#[derive(Clone, Debug, PartialEq)]
struct Period {
    start: Option<Date>,
    standard: Table,
    tiers: Vec<(&'static str, Table)>,
}

/// Maps `json` onto the catalog in force (`in_force`, whose file is `in_force_text`).
pub fn import(in_force_text: &str, in_force: &Catalog, json: &str, today: Date) -> Result<Import, ImportError> {
    let providers: Vec<ProviderIn> = serde_json::from_str(json).map_err(|e| ImportError::Shape {
        format: SourceFormat::GenaiPrices,
        detail: format!("expected a list of providers with their models: {e}"),
    })?;
    let source = SourceInfo::new(SourceFormat::GenaiPrices, NAME, URL, today, in_force_text);
    let mut out = Import {
        format: SourceFormat::GenaiPrices,
        text: String::new(),
        added: Vec::new(),
        unchanged: 0,
        differing: Vec::new(),
        unmapped: Vec::new(),
    };
    let mut models: Vec<ModelOut> = Vec::new();
    for provider_in in &providers {
        let Some((provider, provider_str)) = known_provider(&provider_in.id) else {
            out.unmapped.push(Unmapped {
                model: format!("provider {}", provider_in.id),
                reason: format!("{} model(s) of a provider LLMLab does not price", provider_in.models.len()),
            });
            continue;
        };
        for model in &provider_in.models {
            let plain = model.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
            // `gpt-4o-mini-2024-07-18.ft-`, `ft:gpt-4o`: prefixes genai-prices matches, not ids.
            if !plain || model.id.ends_with(['-', '.']) || model.id.contains(".ft") {
                let reason = "a pattern of ids rather than one model id".to_owned();
                out.unmapped.push(Unmapped { model: model.id.clone(), reason });
                continue;
            }
            if provider == crate::provider::Provider::Google && model.id.starts_with("claude") {
                let reason = "an Anthropic model as Vertex AI sells it, not a Gemini API model".to_owned();
                out.unmapped.push(Unmapped { model: model.id.clone(), reason });
                continue;
            }
            let mut left_out = Vec::new();
            let periods = match periods_of(model, &mut left_out) {
                Ok(periods) => periods,
                Err(reason) => {
                    out.unmapped.push(Unmapped { model: model.id.clone(), reason });
                    continue;
                }
            };
            let cards = match cards_of(&periods, &mut left_out) {
                Ok(cards) => cards,
                Err(reason) => {
                    out.unmapped.push(Unmapped { model: model.id.clone(), reason });
                    continue;
                }
            };
            let id = canonical_model_id(&model.id);
            let in_force_today = cards.iter().rev().find(|(start, _)| start.is_none_or(|s| s <= today));
            if let Some(found) = in_force.resolve(Some(&provider), &id) {
                let ours = &found.entry.rates_on(today).standard;
                match in_force_today {
                    Some((_, card)) if agree(ours, &card.standard) => out.unchanged += 1,
                    Some((_, card)) => out.differing.push(Unmapped {
                        model: model.id.clone(),
                        reason: format!(
                            "genai-prices: {}; the catalog ({}): {}; not changed",
                            show_prices(&card.standard),
                            found.entry.id,
                            show_prices(ours)
                        ),
                    }),
                    None => out.unchanged += 1,
                }
                continue;
            }
            if models.iter().any(|m| m.id == id) {
                out.unmapped.push(Unmapped {
                    model: model.id.clone(),
                    reason: "listed twice; only the first is imported".into(),
                });
                continue;
            }
            let Some(entry) = entry_of(model, id, provider_str, cards, &source, today, &left_out) else {
                out.unmapped.push(Unmapped {
                    model: model.id.clone(),
                    reason: "its only prices start in the future; nothing says what it costs until then".into(),
                });
                continue;
            };
            let taken = |s: &String| {
                in_force.resolve(None, s).is_some() || models.iter().any(|m| m.id == *s || m.snapshots.contains(s))
            };
            let snapshots: Vec<String> =
                exact_ids(model.matcher.as_ref()).into_iter().filter(|s| *s != entry.id && !taken(s)).collect();
            for note in &left_out {
                out.unmapped.push(Unmapped { model: model.id.clone(), reason: note.clone() });
            }
            out.added.push(entry.id.clone());
            models.push(ModelOut { snapshots, ..entry });
        }
    }
    out.text = append_models(in_force_text, &source, &models, today)?;
    Ok(out)
}

/// The catalog entry of a model whose dated cards are `cards` (oldest first).
fn entry_of(
    model: &ModelIn,
    id: String,
    provider: &'static str,
    mut cards: Vec<(Option<Date>, CardOut)>,
    source: &SourceInfo,
    today: Date,
    left_out: &[String],
) -> Option<ModelOut> {
    let (start, card) = cards.pop()?;
    if cards.is_empty() && start.is_some_and(|s| s > today) {
        return None;
    }
    let effective_from = start.unwrap_or(today);
    let cited = format!("{} {}", source.code, model.id);
    let mut history = Vec::new();
    let mut next_start = effective_from;
    for (start, card) in cards.into_iter().rev() {
        history.push(HistoryOut { until: next_start, source: cited.clone(), card });
        next_start = start.unwrap_or(next_start);
    }
    history.reverse();
    let mut notes = "Imported. In a class of its own: no switch tip compares it until it is classified.".to_owned();
    if start.is_none() {
        notes.push_str(" The source gives no start date, so it takes effect on the import date.");
    }
    if !left_out.is_empty() {
        let _ = write!(notes, " Not imported: {}.", left_out.join("; "));
    }
    Some(ModelOut {
        class: id.clone(),
        id,
        provider,
        kind: if model.id.contains("embedding") { ModelKind::Embedding } else { ModelKind::Chat },
        status: if model.deprecated == Some(true) { ModelStatus::Legacy } else { ModelStatus::Current },
        snapshots: Vec::new(),
        effective_from,
        deprecated_on: None,
        source: cited,
        notes,
        max_input_tokens: model.context_window,
        max_output_tokens: None,
        card,
        history,
    })
}

/// Every start date of a price set or tier variant opens a period; each has
/// the set in force then and each tier's variant in force then (a variant
/// overrides the set's prices it names and keeps the rest, as genai-prices
/// applies it).
fn periods_of(model: &ModelIn, left_out: &mut Vec<String>) -> Result<Vec<Period>, String> {
    let raw = model.prices.get().trim_start();
    let sets: Vec<(Option<Date>, Table)> = if raw.starts_with('[') {
        let dated: Vec<ConditionalIn> = serde_json::from_str(raw).map_err(|e| format!("unreadable prices: {e}"))?;
        let mut sets = Vec::new();
        for set in dated {
            sets.push((start_date(set.constraint.as_ref())?, table(&set.prices, left_out)?));
        }
        sets
    } else {
        let prices: BTreeMap<String, Box<RawValue>> =
            serde_json::from_str(raw).map_err(|e| format!("unreadable prices: {e}"))?;
        vec![(None, table(&prices, left_out)?)]
    };
    let mut variants: Vec<(&'static str, Option<Date>, Table)> = Vec::new();
    for variant in &model.price_variants {
        let only = variant.when.iter().next().filter(|_| variant.when.len() == 1);
        let tier = if let Some((key, value)) = only {
            match (key.as_str(), value.as_str()) {
                ("processing", "batch") => Some("batch"),
                ("service_tier", "flex") => Some("flex"),
                ("service_tier", "priority") => Some("priority"),
                ("service_tier", "default") => None,
                _ => {
                    left_out.push(format!("the `{key}: {value}` prices (not modelled by LLMLab)"));
                    None
                }
            }
        } else {
            left_out.push(format!("prices for {:?} (not modelled by LLMLab)", variant.when));
            None
        };
        if let Some(tier) = tier {
            variants.push((tier, start_date(variant.constraint.as_ref())?, table(&variant.prices, left_out)?));
        }
    }
    let mut starts: Vec<Option<Date>> =
        sets.iter().map(|(s, _)| *s).chain(variants.iter().map(|(_, s, _)| *s)).collect();
    starts.sort_unstable();
    starts.dedup();
    let latest = |start: Option<Date>, at: Option<Date>| start <= at;
    let mut periods = Vec::new();
    for at in starts {
        let Some((_, base)) = sets.iter().filter(|(s, _)| latest(*s, at)).max_by_key(|(s, _)| *s) else {
            continue;
        };
        let mut tiers = Vec::new();
        for tier in ["batch", "flex", "priority"] {
            let in_force = variants.iter().filter(|(t, s, _)| *t == tier && latest(*s, at)).max_by_key(|(_, s, _)| *s);
            if let Some((_, _, overrides)) = in_force {
                let mut merged = base.clone();
                merged.extend(overrides.iter().map(|(k, v)| (*k, *v)));
                tiers.push((tier, merged));
            }
        }
        periods.push(Period { start: at, standard: base.clone(), tiers });
    }
    Ok(periods)
}

fn start_date(constraint: Option<&serde_json::Map<String, serde_json::Value>>) -> Result<Option<Date>, String> {
    let Some(constraint) = constraint else { return Ok(None) };
    match (constraint.get("start_date").and_then(|d| d.as_str()), constraint.len()) {
        (Some(date), 1) => date.parse().map(Some).map_err(|e| format!("unreadable start date `{date}`: {e}")),
        _ => Err(format!(
            "prices constrained by {}, which LLMLab does not model",
            serde_json::Value::Object(constraint.clone())
        )),
    }
}

/// A genai-prices price set by catalog class. Units LLMLab does not price are
/// refused, except ones equal to the class they would be billed as, and
/// search fees (listed).
fn table(prices: &BTreeMap<String, Box<RawValue>>, left_out: &mut Vec<String>) -> Result<Table, String> {
    let mut out = Table::new();
    let mut same_as = Vec::new();
    for (unit, raw) in prices {
        let price = price(raw.get()).ok_or_else(|| format!("`{unit}` is not a price LLMLab can read"))?;
        let class = match unit.as_str() {
            "input_mtok" => "input",
            "output_mtok" => "output",
            "cache_read_mtok" => "cache_read",
            "cache_write_mtok" => "cache_write_5m",
            "cache_write_1h_mtok" => "cache_write_1h",
            "input_audio_mtok" => "input_audio",
            "cache_audio_read_mtok" => "cache_read_audio",
            "output_audio_mtok" => "output_audio",
            "input_image_mtok" | "input_video_mtok" => {
                same_as.push((unit.clone(), "input", price));
                continue;
            }
            "cache_image_read_mtok" => {
                same_as.push((unit.clone(), "cache_read", price));
                continue;
            }
            "output_image_mtok" | "output_video_mtok" => {
                same_as.push((unit.clone(), "output", price));
                continue;
            }
            "web_searches_kcount" | "storage_searches_kcount" => {
                let note = format!("`{unit}` (search fees are not imported)");
                if !left_out.contains(&note) {
                    left_out.push(note);
                }
                continue;
            }
            other => return Err(format!("prices `{other}`, which LLMLab does not model; not imported")),
        };
        out.insert(class, price);
    }
    for (unit, class, price) in same_as {
        if out.get(class) != Some(&price) {
            return Err(format!("prices `{unit}` apart from {class}, which LLMLab does not model; not imported"));
        }
    }
    Ok(out)
}

fn price(raw: &str) -> Option<Price> {
    if raw.trim_start().starts_with('{') {
        let tiered: TieredIn = serde_json::from_str(raw).ok()?;
        let [tier] = tiered.tiers.as_slice() else { return None };
        return Some(Price::Tiered {
            base: exact_number(tiered.base.get())?,
            above: tier.start,
            long: exact_number(tier.price.get())?,
        });
    }
    exact_number(raw).map(Price::Flat)
}

/// Each period's rate card, consecutive equal cards merged.
fn cards_of(periods: &[Period], left_out: &mut Vec<String>) -> Result<Vec<(Option<Date>, CardOut)>, String> {
    let mut cards: Vec<(Option<Date>, CardOut)> = Vec::new();
    for period in periods {
        let card = card(period, left_out)?;
        if cards.last().is_none_or(|(_, last)| *last != card) {
            cards.push((period.start, card));
        }
    }
    if cards.is_empty() {
        return Err("no prices".into());
    }
    Ok(cards)
}

fn card(period: &Period, left_out: &mut Vec<String>) -> Result<CardOut, String> {
    let (standard, long) = sets(&period.standard)?;
    let mut card = CardOut { standard, ..CardOut::default() };
    let threshold = long.as_ref().map(|(above, _)| *above);
    let mut long_tier = long.map(|(above, standard)| LongContextTier {
        above_prompt_tokens: above,
        standard,
        batch: None,
        flex: None,
        priority: None,
    });
    for (tier, table) in &period.tiers {
        let kept = sets(table).ok().filter(|(short, long)| {
            same_classes(short, &card.standard)
                && long.as_ref().map(|(above, _)| *above) == threshold
                && long.as_ref().is_none_or(|(_, set)| same_classes(set, &card.standard))
        });
        let Some((short, long)) = kept else {
            let note = format!("the {tier} prices (they do not price the classes `standard` has)");
            if !left_out.contains(&note) {
                left_out.push(note);
            }
            continue;
        };
        let (slot, long_slot) = match *tier {
            "batch" => (&mut card.batch, long_tier.as_mut().map(|l| &mut l.batch)),
            "flex" => (&mut card.flex, long_tier.as_mut().map(|l| &mut l.flex)),
            _ => (&mut card.priority, long_tier.as_mut().map(|l| &mut l.priority)),
        };
        *slot = Some(short);
        if let (Some(long_slot), Some((_, set))) = (long_slot, long) {
            *long_slot = Some(set);
        }
    }
    card.long_context = long_tier;
    Ok(card)
}

/// A table's prices below and (when any class is tiered) above its one threshold.
fn sets(table: &Table) -> Result<(PriceSet, Option<(u64, PriceSet)>), String> {
    let thresholds: std::collections::BTreeSet<u64> = table
        .values()
        .filter_map(|p| match p {
            Price::Tiered { above, .. } => Some(*above),
            Price::Flat(_) => None,
        })
        .collect();
    if thresholds.len() > 1 {
        return Err("several long-context thresholds, which LLMLab does not model".into());
    }
    let pick = |long: bool| -> Result<PriceSet, String> {
        let get = |class: &str| {
            table.get(class).map(|p| match *p {
                Price::Flat(v) => v,
                Price::Tiered { base, long: above_price, .. } => {
                    if long {
                        above_price
                    } else {
                        base
                    }
                }
            })
        };
        let mut set = PriceSet {
            input: get("input").ok_or("no input price")?,
            output: get("output").ok_or("no output price")?,
            cache_read: get("cache_read"),
            cache_write_5m: get("cache_write_5m"),
            cache_write_1h: get("cache_write_1h"),
            input_audio: get("input_audio"),
            cache_read_audio: get("cache_read_audio"),
            output_audio: get("output_audio"),
        };
        fold_equal_audio(&mut set);
        Ok(set)
    };
    let short = pick(false)?;
    let long = thresholds.first().map(|&above| pick(true).map(|set| (above, set))).transpose()?;
    Ok((short, long))
}

/// The exact ids a match clause lists (`equals`, alone or in an `or`), canonical.
fn exact_ids(matcher: Option<&serde_json::Value>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(matcher) = matcher else { return out };
    let mut visit = vec![matcher];
    while let Some(clause) = visit.pop() {
        if let Some(equals) = clause.get("equals").and_then(|e| e.as_str()) {
            let id = canonical_model_id(equals);
            if !out.contains(&id) {
                out.push(id);
            }
        }
        if let Some(list) = clause.get("or").and_then(|o| o.as_array()) {
            visit.extend(list.iter().rev());
        }
    }
    out
}
