//! LiteLLM's `model_prices_and_context_window.json`: one object per model id,
//! prices in USD per token (`input_cost_per_token`), tiers as suffixes
//! (`_batches`, `_flex`, `_priority`), long-context prices as
//! `_above_200k_tokens`. It has no dates: added models take effect on the
//! import date (their prices then apply to every earlier event too, as the
//! catalog's earliest period does).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::{
    CardOut, Import, ImportError, ModelOut, SourceFormat, SourceInfo, Unmapped, agree, append_models, exact_number,
    fold_equal_audio, known_provider, same_classes, show_prices,
};
use crate::catalog::{
    Catalog, LongContextTier, ModelKind, ModelStatus, PriceSet, canonical_model_id, strip_date_suffix,
};

const NAME: &str = "LiteLLM model_prices_and_context_window.json";
const URL: &str = "https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json";

/// Cost fields that do not change what a call's tokens cost: shown, never blocking.
const NOT_MODELLED: [&str; 2] = ["search_context_cost_per_query", "fedramp_uplift_multiplier"];

/// Maps `json` onto the catalog in force (`in_force`, whose file is `in_force_text`).
pub fn import(in_force_text: &str, in_force: &Catalog, json: &str, today: Date) -> Result<Import, ImportError> {
    let shape = |detail: String| ImportError::Shape { format: SourceFormat::Litellm, detail };
    let entries: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(json).map_err(|e| shape(format!("expected an object of model entries: {e}")))?;
    let source = SourceInfo::new(SourceFormat::Litellm, NAME, URL, today, in_force_text);
    let mut out = Import {
        format: SourceFormat::Litellm,
        text: String::new(),
        added: Vec::new(),
        unchanged: 0,
        differing: Vec::new(),
        unmapped: Vec::new(),
    };
    let mut models: Vec<ModelOut> = Vec::new();
    let mut other_providers: BTreeMap<String, usize> = BTreeMap::new();
    for (key, raw) in &entries {
        if key == "sample_spec" {
            continue;
        }
        let Ok(fields) = serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(raw.get()) else {
            out.unmapped.push(Unmapped { model: key.clone(), reason: "not an object".into() });
            continue;
        };
        let entry = Entry { key, fields: &fields };
        let provider_name = entry.string("litellm_provider").unwrap_or_default();
        let Some((provider, provider_str)) = known_provider(&provider_name) else {
            *other_providers.entry(provider_name).or_default() += 1;
            continue;
        };
        let mapped = match entry.map(today) {
            Ok(mapped) => mapped,
            Err(reason) => {
                out.unmapped.push(Unmapped { model: key.clone(), reason });
                continue;
            }
        };
        let id = canonical_model_id(key);
        // Already in the catalog: compared, never changed.
        if let Some(found) = in_force.resolve(Some(&provider), &id) {
            let ours = &found.entry.rates_on(today).standard;
            if agree(ours, &mapped.card.standard) {
                out.unchanged += 1;
            } else if found.matched_by == crate::catalog::ModelMatch::DateSuffix {
                // A dated snapshot priced differently from its base gets its own entry.
                add(&mut models, &mut out, mapped, id, provider_str, &source);
            } else {
                out.differing.push(Unmapped {
                    model: key.clone(),
                    reason: format!(
                        "LiteLLM: {}; the catalog ({}): {}; not changed",
                        show_prices(&mapped.card.standard),
                        found.entry.id,
                        show_prices(ours)
                    ),
                });
            }
            continue;
        }
        // Added by this import already (`gpt-x` and `openai/gpt-x`), or a dated snapshot of a model it added.
        let base = strip_date_suffix(&id).unwrap_or(&id).to_owned();
        if let Some(earlier) = models.iter_mut().find(|m| m.id == id || m.id == base) {
            if earlier.card == mapped.card && earlier.provider == provider_str {
                if earlier.id != id && !earlier.snapshots.contains(&id) {
                    earlier.snapshots.push(id);
                }
                continue;
            }
            if earlier.id == id {
                out.unmapped.push(Unmapped {
                    model: key.clone(),
                    reason: format!("listed again as `{id}` with other prices; only the first is imported"),
                });
                continue;
            }
        }
        add(&mut models, &mut out, mapped, id, provider_str, &source);
    }
    for (provider, count) in other_providers {
        let name = if provider.is_empty() { "(none)".to_owned() } else { provider };
        out.unmapped.push(Unmapped {
            model: format!("provider {name}"),
            reason: format!("{count} model(s) of a provider LLMLab does not price"),
        });
    }
    out.text = append_models(in_force_text, &source, &models, today)?;
    Ok(out)
}

fn add(
    models: &mut Vec<ModelOut>,
    out: &mut Import,
    mapped: Mapped,
    id: String,
    provider: &'static str,
    source: &SourceInfo,
) {
    for note in &mapped.left_out {
        out.unmapped.push(Unmapped { model: mapped.key.clone(), reason: note.clone() });
    }
    out.added.push(id.clone());
    let mut notes = "Imported; the source gives no dates, so it takes effect on the import date. In a class of its \
                     own: no switch tip compares it until it is classified."
        .to_owned();
    if !mapped.left_out.is_empty() {
        let _ = write!(notes, " Not imported: {}.", mapped.left_out.join("; "));
    }
    models.push(ModelOut {
        class: id.clone(),
        id,
        provider,
        kind: mapped.kind,
        status: mapped.status,
        snapshots: Vec::new(),
        effective_from: mapped.effective_from,
        deprecated_on: mapped.deprecated_on,
        source: format!("{} {}", source.code, mapped.key),
        notes,
        max_input_tokens: mapped.max_input_tokens,
        max_output_tokens: mapped.max_output_tokens,
        card: mapped.card,
        history: Vec::new(),
    });
}

struct Entry<'a> {
    key: &'a str,
    fields: &'a BTreeMap<String, Box<RawValue>>,
}

/// A model entry mapped onto the catalog, with what was left out of it.
struct Mapped {
    key: String,
    kind: ModelKind,
    status: ModelStatus,
    effective_from: Date,
    deprecated_on: Option<Date>,
    max_input_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    card: CardOut,
    left_out: Vec<String>,
}

/// A price class of the catalog and the tier/long-context table a LiteLLM field prices.
type TableKey = (Option<&'static str>, Option<u64>);

impl Entry<'_> {
    fn string(&self, field: &str) -> Option<String> {
        serde_json::from_str::<String>(self.fields.get(field)?.get()).ok()
    }

    fn map(&self, today: Date) -> Result<Mapped, String> {
        let mode = self.string("mode").unwrap_or_else(|| "chat".to_owned());
        let kind = match mode.as_str() {
            "chat" | "responses" | "completion" => ModelKind::Chat,
            "embedding" => ModelKind::Embedding,
            other => return Err(format!("mode `{other}` is not priced per token by LLMLab")),
        };
        let mut tables: BTreeMap<TableKey, PriceSet> = BTreeMap::new();
        let mut seen: BTreeMap<TableKey, [bool; 2]> = BTreeMap::new();
        let mut left_out = Vec::new();
        let mut reasoning = None;
        for (field, value) in self.fields {
            if !(field.contains("cost") || field.contains("multiplier")) {
                continue;
            }
            if NOT_MODELLED.contains(&field.as_str()) {
                left_out.push(format!("`{field}` (not modelled by LLMLab)"));
                continue;
            }
            let Some(price) =
                exact_number(value.get()).map(|per_token| (per_token * Decimal::from(1_000_000)).normalize())
            else {
                return Err(format!("`{field}` is not a number"));
            };
            if field == "output_cost_per_reasoning_token" {
                reasoning = Some(price);
                continue;
            }
            let Some((class, key)) = parse_field(field) else {
                return Err(format!("prices `{field}`, which LLMLab does not model; not imported"));
            };
            let set = tables.entry(key).or_default();
            let flags = seen.entry(key).or_default();
            match class {
                "input" => (set.input, flags[0]) = (price, true),
                "output" => (set.output, flags[1]) = (price, true),
                "cache_read" => set.cache_read = Some(price),
                "cache_write_5m" => set.cache_write_5m = Some(price),
                "cache_write_1h" => set.cache_write_1h = Some(price),
                "input_audio" => set.input_audio = Some(price),
                "output_audio" => set.output_audio = Some(price),
                _ => set.cache_read_audio = Some(price),
            }
        }
        if seen.get(&(None, None)) != Some(&[true, true]) {
            return Err("no per-token input and output prices".into());
        }
        tables.values_mut().for_each(fold_equal_audio);
        let standard = tables.remove(&(None, None)).unwrap_or_default();
        if reasoning.is_some_and(|r| r != standard.output) {
            return Err("prices reasoning tokens apart from output, which LLMLab does not model".into());
        }
        let card = build_card(&standard, tables, &seen, &mut left_out)?;
        let deprecated_on = self.string("deprecation_date").and_then(|d| d.parse::<Date>().ok());
        let status =
            if deprecated_on.is_some_and(|d| d <= today) { ModelStatus::Retired } else { ModelStatus::Current };
        let tokens = |field: &str| self.fields.get(field).and_then(|v| v.get().parse::<u64>().ok());
        Ok(Mapped {
            key: self.key.to_owned(),
            kind,
            status,
            effective_from: today,
            deprecated_on,
            max_input_tokens: tokens("max_input_tokens"),
            max_output_tokens: tokens("max_output_tokens"),
            card,
            left_out,
        })
    }
}

/// The tier and long-context tables around `standard`; a tier table that does
/// not price exactly the standard classes is left out (and said so), a
/// long-context table that does not is refused (leaving it out would price
/// long prompts too low).
fn build_card(
    standard: &PriceSet,
    mut tables: BTreeMap<TableKey, PriceSet>,
    seen: &BTreeMap<TableKey, [bool; 2]>,
    left_out: &mut Vec<String>,
) -> Result<CardOut, String> {
    let thresholds: Vec<u64> =
        tables.keys().filter_map(|(_, above)| *above).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    if thresholds.len() > 1 {
        return Err("several long-context thresholds, which LLMLab does not model".into());
    }
    // A table LiteLLM gives only partly inherits nothing: its missing classes are unknown.
    let complete = |key: &TableKey, set: &PriceSet| seen.get(key) == Some(&[true, true]) && same_classes(set, standard);
    let mut card = CardOut { standard: standard.clone(), ..CardOut::default() };
    let mut tiers_kept = Vec::new();
    for tier in ["batch", "flex", "priority"] {
        let key = (Some(tier), None);
        let Some(set) = tables.remove(&key) else { continue };
        if complete(&key, &set) {
            tiers_kept.push(tier);
            match tier {
                "batch" => card.batch = Some(set),
                "flex" => card.flex = Some(set),
                _ => card.priority = Some(set),
            }
        } else {
            left_out.push(format!("the {tier} prices (LiteLLM does not give every class `standard` has)"));
        }
    }
    if let Some(&above) = thresholds.first() {
        let key = (None, Some(above));
        let long_standard = tables.remove(&key).filter(|set| complete(&key, set)).ok_or_else(|| {
            format!("its prices above {above} prompt tokens do not cover every class; LLMLab cannot price long prompts")
        })?;
        let mut long = LongContextTier {
            above_prompt_tokens: above,
            standard: long_standard,
            batch: None,
            flex: None,
            priority: None,
        };
        for tier in tiers_kept {
            let key = (Some(tier), Some(above));
            let set = tables.remove(&key).filter(|set| complete(&key, set));
            let Some(set) = set else {
                left_out.push(format!("the {tier} prices (none above {above} prompt tokens)"));
                match tier {
                    "batch" => card.batch = None,
                    "flex" => card.flex = None,
                    _ => card.priority = None,
                }
                continue;
            };
            match tier {
                "batch" => long.batch = Some(set),
                "flex" => long.flex = Some(set),
                _ => long.priority = Some(set),
            }
        }
        card.long_context = Some(long);
    }
    for ((tier, above), _) in tables {
        let what = match (tier, above) {
            (Some(t), Some(a)) => format!("the {t} prices above {a} prompt tokens"),
            (Some(t), None) => format!("the {t} prices"),
            (None, Some(a)) => format!("the prices above {a} prompt tokens"),
            (None, None) => continue,
        };
        if !left_out.iter().any(|l| l.starts_with(&what)) {
            left_out.push(format!("{what} (incomplete)"));
        }
    }
    Ok(card)
}

/// The catalog class and table of a LiteLLM cost field, e.g.
/// `cache_read_input_token_cost_above_200k_tokens_priority` → (`cache_read`, (priority, 200000)).
fn parse_field(field: &str) -> Option<(&'static str, TableKey)> {
    let mut rest = field;
    let mut tier = None;
    for (suffix, name) in [("_batches", "batch"), ("_flex", "flex"), ("_priority", "priority")] {
        if let Some(stripped) = rest.strip_suffix(suffix) {
            rest = stripped;
            tier = Some(name);
            break;
        }
    }
    let mut above = None;
    if let Some(position) = rest.find("_above_") {
        let tail = &rest[position + "_above_".len()..];
        if let Some(thousands) = tail.strip_suffix("k_tokens").and_then(|n| n.parse::<u64>().ok()) {
            above = Some(thousands * 1000);
            rest = &rest[..position];
        }
    }
    let class = match rest {
        "input_cost_per_token" => "input",
        "output_cost_per_token" => "output",
        "cache_read_input_token_cost" => "cache_read",
        "cache_creation_input_token_cost" => "cache_write_5m",
        "cache_creation_input_token_cost_above_1hr" => "cache_write_1h",
        "input_cost_per_audio_token" => "input_audio",
        "output_cost_per_audio_token" => "output_audio",
        "cache_read_input_audio_token_cost" => "cache_read_audio",
        _ => return None,
    };
    Some((class, (tier, above)))
}
