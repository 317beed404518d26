//! `llmlab prices`: show the built-in price catalog.

use std::fmt::Write as _;

use clap::Args;
use llmlab_core::catalog::{CatalogSource, ModelEntry, ModelMatch, PriceSet, RateCard};
use llmlab_core::{Catalog, Provider};
use rust_decimal::Decimal;

use crate::ExitStatus;
use crate::printer::{self, Align, BOLD, DIM, Table, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab prices                       Every model, $ per 1M tokens
  llmlab prices --provider anthropic  One provider's models
  llmlab prices --provider gemini     Google's models (`gemini` and `google` are one provider)
  llmlab prices gpt-4o-2024-08-06     One model (snapshots resolve to their entry)
  llmlab prices o3 --json             The full entry, history included, as JSON
  llmlab prices set my-model --input 0.5 --output 1.5   Your account's own price (see `prices set --help`)
  llmlab prices update prices.toml --dry-run           A newer catalog for the server (see `prices update --help`)";

/// Show the built-in price catalog ($ per 1M tokens per token class)
#[derive(Args)]
#[command(after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub(crate) struct PricesArgs {
    #[command(subcommand)]
    action: Option<PricesAction>,
    /// A model id or snapshot; omit to list the whole catalog
    #[arg(value_name = "MODEL")]
    model: Option<String>,
    /// Only list this provider's models (`openai`, `anthropic`, `google`; `gemini` is the same as `google`)
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum PricesAction {
    Set(super::prices_set::PricesSetArgs),
    Update(super::prices_update::PricesUpdateArgs),
}

pub(crate) fn run(args: &PricesArgs) -> anyhow::Result<ExitStatus> {
    match &args.action {
        Some(PricesAction::Set(set)) => return super::prices_set::run(set),
        Some(PricesAction::Update(update)) => return super::prices_update::run(update),
        None => {}
    }
    let catalog = Catalog::builtin();
    let provider = args.provider.as_deref().map(Provider::parse);
    if let Some(p) = provider.as_ref().filter(|p| !p.is_known()) {
        let hint = match p.suggestion() {
            Some(name) => {
                format!("did you mean `{name}`? The built-in providers are `openai`, `anthropic` and `google`")
            }
            None => "use `openai`, `anthropic` or `google` (or its alias `gemini`)".to_owned(),
        };
        return Err(UserError::new(format!("the catalog has no models of provider `{p}`")).with_hint(hint).into());
    }
    match &args.model {
        Some(model) => show_model(catalog, provider.as_ref(), model, args.json),
        None => list_models(catalog, provider.as_ref(), args.json),
    }
}

fn list_models(catalog: &Catalog, provider: Option<&Provider>, json: bool) -> anyhow::Result<ExitStatus> {
    let entries: Vec<&ModelEntry> =
        catalog.models().iter().filter(|m| provider.is_none_or(|p| m.provider == *p)).collect();
    if json {
        printer::out_json(&entries)?;
        return Ok(ExitStatus::Success);
    }
    let mut table = Table::new(&[
        ("provider", Align::Left),
        ("model", Align::Left),
        ("input", Align::Right),
        ("cache read", Align::Right),
        ("write 5m", Align::Right),
        ("write 1h", Align::Right),
        ("output", Align::Right),
        ("also", Align::Left),
    ]);
    for entry in entries {
        let p = &entry.rates.standard;
        table.row(vec![
            entry.provider.to_string(),
            entry.id.clone(),
            price(Some(p.input)),
            price(p.cache_read),
            price(p.cache_write_5m),
            price(p.cache_write_1h),
            price(Some(p.output)),
            extras(entry),
        ]);
    }
    printer::out(&table.render());
    printer::note(&format!(
        "USD per 1M tokens; catalog reviewed {}; `llmlab prices MODEL` shows tiers, snapshots and sources",
        catalog.updated()
    ));
    Ok(ExitStatus::Success)
}

fn show_model(catalog: &Catalog, provider: Option<&Provider>, model: &str, json: bool) -> anyhow::Result<ExitStatus> {
    let Some(found) = catalog.resolve(provider, model) else {
        let needle = llmlab_core::catalog::canonical_model_id(model);
        let similar: Vec<&str> = catalog
            .models()
            .iter()
            .map(|m| m.id.as_str())
            .filter(|id| id.contains(needle.as_str()) || needle.contains(id))
            .take(5)
            .collect();
        let mut error = UserError::new(format!("`{model}` is not in the price catalog"));
        error = if similar.is_empty() {
            error.with_hint("run `llmlab prices` to list every model")
        } else {
            error.with_hint(format!("similar ids: {}", similar.join(", ")))
        };
        return Err(error.into());
    };
    let entry = found.entry;
    if json {
        printer::out_json(entry)?;
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{BOLD}{}{BOLD:#}  {DIM}{} · {} · {} · {:?}{DIM:#}",
        entry.id, entry.provider, entry.kind, entry.class, entry.status
    );
    match found.matched_by {
        ModelMatch::Exact => {}
        ModelMatch::Snapshot => {
            let _ = writeln!(text, "`{model}` is a snapshot billed exactly like `{}`", entry.id);
        }
        ModelMatch::DateSuffix => {
            let _ = writeln!(text, "`{model}` is not listed; it is priced as its base model `{}`", entry.id);
        }
    }
    if !entry.snapshots.is_empty() {
        let _ = writeln!(text, "snapshots: {}", entry.snapshots.join(", "));
    }
    let _ = writeln!(text, "effective from {}", entry.effective_from);
    let _ = writeln!(text, "sources: {}", source_names(&entry.sources));
    let _ = write!(text, "{DIM}{}{DIM:#}", crate::display::wrap(&entry.source, 100, "  "));
    if let Some(notes) = &entry.notes {
        let _ = writeln!(text, "{notes}");
    }
    text.push('\n');
    text.push_str(&rate_table(&entry.rates).render());
    if let Some(long) = &entry.rates.long_context {
        let _ = writeln!(text, "\nabove {} prompt tokens the whole request bills at:", long.above_prompt_tokens);
        let card = RateCard {
            standard: long.standard.clone(),
            batch: long.batch.clone(),
            flex: long.flex.clone(),
            priority: long.priority.clone(),
            ..RateCard::default()
        };
        text.push_str(&rate_table(&card).render());
    }
    fee_lines(&mut text, &entry.rates);
    for (name, multiplier) in entry.rates.uplifts.iter().flat_map(llmlab_core::catalog::UpliftPrices::named) {
        let what = match name {
            "fast_mode" => "fast mode",
            "us_inference" => "US-only inference",
            _ => "data residency (regional hosts)",
        };
        let _ = writeln!(text, "{what}: token prices ×{}", multiplier.normalize());
    }
    for period in &entry.history {
        let _ = writeln!(text, "\nuntil {} (sources: {}):", period.until, source_names(&period.sources));
        let _ = write!(text, "{DIM}{}{DIM:#}", crate::display::wrap(&period.source, 100, "  "));
        text.push_str(&rate_table(&period.rates).render());
        fee_lines(&mut text, &period.rates);
    }
    if !entry.alternatives.is_empty() {
        let _ = writeln!(text, "\ncheaper alternatives: {}", entry.alternatives.join(", "));
    }
    printer::out(&text);
    Ok(ExitStatus::Success)
}

/// `LiteLLM 1.110.2 (2026-11-20), pydantic/genai-prices (2026-08-21)`.
fn source_names(sources: &[CatalogSource]) -> String {
    if sources.is_empty() {
        return "not recorded".to_owned();
    }
    sources.iter().map(|s| format!("{} ({})", s.name, s.date)).collect::<Vec<_>>().join(", ")
}

/// One line per request fee of a rate card (web search, file search, …), `$0` ones included.
fn fee_lines(text: &mut String, rates: &RateCard) {
    let Some(fees) = rates.request_fees.as_ref() else { return };
    let mut first = true;
    for (class, what, unit) in [
        ("web_search", "web search", "search"),
        ("web_fetch", "web fetch", "fetch"),
        ("file_search", "file search", "call"),
        ("container_session", "code interpreter container", "session"),
        ("grounded_prompt", "search-grounded prompt", "prompt"),
    ] {
        if let Some(fee) = fees.price(class) {
            let gap = if first { "\n" } else { "" };
            first = false;
            let _ = writeln!(text, "{gap}{what}: ${} per {unit}", fee.normalize());
        }
    }
}

fn rate_table(card: &RateCard) -> Table {
    let mut table = Table::new(&[
        ("$ per 1M", Align::Left),
        ("input", Align::Right),
        ("cache read", Align::Right),
        ("write 5m", Align::Right),
        ("write 1h", Align::Right),
        ("output", Align::Right),
        ("audio in", Align::Right),
        ("audio cached", Align::Right),
        ("audio out", Align::Right),
    ]);
    let tiers: [(&str, Option<&PriceSet>); 4] = [
        ("standard", Some(&card.standard)),
        ("batch", card.batch.as_ref()),
        ("flex", card.flex.as_ref()),
        ("priority", card.priority.as_ref()),
    ];
    for (name, set) in tiers {
        if let Some(p) = set {
            table.row(vec![
                name.to_owned(),
                price(Some(p.input)),
                price(p.cache_read),
                price(p.cache_write_5m),
                price(p.cache_write_1h),
                price(Some(p.output)),
                price(p.input_audio),
                price(p.cache_read_audio),
                price(p.output_audio),
            ]);
        }
    }
    table
}

fn price(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.normalize().to_string())
}

/// A short list of what else the entry prices: tiers, long context, fees.
fn extras(entry: &ModelEntry) -> String {
    let rates = &entry.rates;
    let mut parts = Vec::new();
    if rates.batch.is_some() {
        parts.push("batch".to_owned());
    }
    if rates.priority.is_some() {
        parts.push("priority".to_owned());
    }
    if let Some(long) = &rates.long_context {
        parts.push(format!(">{}k", long.above_prompt_tokens / 1000));
    }
    if rates.request_fees.as_ref().is_some_and(|f| f.web_search.is_some()) {
        parts.push("web search".to_owned());
    }
    if !entry.history.is_empty() {
        parts.push("history".to_owned());
    }
    parts.join(", ")
}
