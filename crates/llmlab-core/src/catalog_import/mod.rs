//! The two maintained public price sources, mapped onto LLMLab's catalog:
//! LiteLLM's `model_prices_and_context_window.json` ([`litellm`]) and the
//! data JSON of pydantic's genai-prices ([`genai_prices`]).
//!
//! An import never overwrites what the catalog in force says: it ADDS the
//! models of OpenAI, Anthropic and Google the catalog lacks (with the tiers,
//! long-context prices and dated price periods the source gives), appended to
//! the catalog's own text under a new `[[sources]]` entry, and lists the rest:
//! models the catalog prices differently (shown for review, not applied),
//! and whatever the source says that LLMLab cannot express (never guessed).
//! The result is an ordinary catalog file, validated like any other.

pub mod genai_prices;
pub mod litellm;

use std::fmt;
use std::fmt::Write as _;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::{Catalog, CatalogError, LongContextTier, ModelKind, ModelStatus, PriceSet};
use crate::provider::Provider;

/// The formats `llmlab prices update` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// LLMLab's own catalog TOML (`data/prices.toml`).
    Llmlab,
    /// LiteLLM's `model_prices_and_context_window.json`.
    Litellm,
    /// genai-prices' data JSON (a list of providers).
    GenaiPrices,
}

impl SourceFormat {
    /// The format of `text`: a JSON object is LiteLLM's, a JSON array genai-prices', anything else TOML.
    #[must_use]
    pub fn detect(text: &str) -> SourceFormat {
        match text.trim_start().as_bytes().first() {
            Some(b'{') => SourceFormat::Litellm,
            Some(b'[') if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => SourceFormat::GenaiPrices,
            _ => SourceFormat::Llmlab,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Llmlab => "llmlab",
            SourceFormat::Litellm => "litellm",
            SourceFormat::GenaiPrices => "genai-prices",
        }
    }
}

impl std::str::FromStr for SourceFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "llmlab" | "toml" => Ok(SourceFormat::Llmlab),
            "litellm" => Ok(SourceFormat::Litellm),
            "genai-prices" | "genai_prices" => Ok(SourceFormat::GenaiPrices),
            other => Err(format!("`{other}` is not a catalog format: use `llmlab`, `litellm` or `genai-prices`")),
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a source file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not a {format} price file: {detail}")]
    Shape { format: SourceFormat, detail: String },
    #[error("the imported catalog is invalid: {0}")]
    Catalog(#[from] CatalogError),
}

/// Something in the source that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmapped {
    /// The source's model id (or provider, for a whole provider skipped).
    pub model: String,
    pub reason: String,
}

/// The result of an import: a complete catalog text and what happened to each model.
#[derive(Clone, Debug, Serialize)]
pub struct Import {
    pub format: SourceFormat,
    /// The catalog in force with the added models appended: an ordinary catalog file.
    #[serde(skip)]
    pub text: String,
    /// Catalog ids added.
    pub added: Vec<String>,
    /// Models the catalog already has at the source's prices.
    pub unchanged: usize,
    /// Models the catalog has at other prices: listed for review, not applied.
    pub differing: Vec<Unmapped>,
    /// What could not be mapped: models left out, and parts of added models left out.
    pub unmapped: Vec<Unmapped>,
}

/// One model as written to the catalog file (the shape `Catalog::from_toml` reads).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ModelOut {
    pub id: String,
    pub provider: &'static str,
    pub kind: ModelKind,
    pub status: ModelStatus,
    pub class: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    pub effective_from: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated_on: Option<Date>,
    pub source: String,
    pub notes: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(flatten)]
    pub card: CardOut,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryOut>,
}

/// A rate card as written to the file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CardOut {
    pub standard: PriceSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<PriceSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flex: Option<PriceSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriceSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextTier>,
}

/// An earlier price period as written to the file.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct HistoryOut {
    pub until: Date,
    pub source: String,
    #[serde(flatten)]
    pub card: CardOut,
}

#[derive(Serialize)]
struct SourceOut<'a> {
    code: &'a str,
    name: &'a str,
    date: String,
    url: &'a str,
}

#[derive(Serialize)]
struct Appendix<'a> {
    sources: Vec<SourceOut<'a>>,
    models: &'a [ModelOut],
}

/// Where the imported prices come from, as the new `[[sources]]` entry names it.
pub(crate) struct SourceInfo {
    /// A whole word, unique per format and day (`IMPORTLITELLM20261207`).
    pub code: String,
    pub name: &'static str,
    pub url: &'static str,
}

impl SourceInfo {
    /// A source whose code `in_force_text` does not declare yet (a second import on one day gets `…B`).
    pub(crate) fn new(
        format: SourceFormat,
        name: &'static str,
        url: &'static str,
        today: Date,
        in_force_text: &str,
    ) -> Self {
        let tag: String = format.as_str().chars().filter(char::is_ascii_alphanumeric).collect();
        let base = format!("IMPORT{}{}", tag.to_ascii_uppercase(), today.strftime("%Y%m%d"));
        let mut code = base.clone();
        for suffix in 'B'..='Z' {
            if !in_force_text.contains(&format!("code = \"{code}\"")) {
                break;
            }
            code = format!("{base}{suffix}");
        }
        SourceInfo { code, name, url }
    }
}

/// `in_force_text` with `updated` set to `today` and the models appended
/// (under a new source), validated as a catalog.
pub(crate) fn append_models(
    in_force_text: &str,
    source: &SourceInfo,
    models: &[ModelOut],
    today: Date,
) -> Result<String, ImportError> {
    let mut text = String::with_capacity(in_force_text.len() + models.len() * 600);
    let mut replaced = false;
    for line in in_force_text.lines() {
        if !replaced && line.starts_with("updated = ") {
            let _ = writeln!(text, "updated = \"{today}\"");
            replaced = true;
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    if !models.is_empty() {
        let appendix = Appendix {
            sources: vec![SourceOut {
                code: &source.code,
                name: source.name,
                date: today.to_string(),
                url: source.url,
            }],
            models,
        };
        let written = toml::to_string(&appendix).map_err(|e| ImportError::Shape {
            format: SourceFormat::Llmlab,
            detail: format!("cannot write the imported models: {e}"),
        })?;
        let _ = writeln!(text, "\n# ---- imported from {} on {today} by `llmlab prices update` ----", source.name);
        text.push_str(&written);
    }
    Catalog::from_toml(&text)?;
    Ok(text)
}

/// The provider of a source's provider name, when LLMLab prices it.
pub(crate) fn known_provider(name: &str) -> Option<(Provider, &'static str)> {
    match Provider::parse(name) {
        Provider::OpenAi => Some((Provider::OpenAi, "openai")),
        Provider::Anthropic => Some((Provider::Anthropic, "anthropic")),
        Provider::Google => Some((Provider::Google, "google")),
        Provider::Other(_) => None,
    }
}

/// Which optional classes a set prices: tier tables must match `standard`.
pub(crate) fn same_classes(a: &PriceSet, b: &PriceSet) -> bool {
    let shape = |s: &PriceSet| {
        [
            s.cache_read.is_some(),
            s.cache_write_5m.is_some(),
            s.cache_write_1h.is_some(),
            s.input_audio.is_some(),
            s.cache_read_audio.is_some(),
            s.output_audio.is_some(),
        ]
    };
    shape(a) == shape(b)
}

/// Drops audio classes priced exactly as their text class: the catalog lists
/// them only where they cost more (an audio token then bills as text).
pub(crate) fn fold_equal_audio(set: &mut PriceSet) {
    if set.input_audio == Some(set.input) {
        set.input_audio = None;
    }
    if set.output_audio == Some(set.output) {
        set.output_audio = None;
    }
    if set.cache_read_audio.is_some() && set.cache_read_audio == set.cache_read {
        set.cache_read_audio = None;
    }
}

/// Input/output/cache-read of a set, as shown when the catalog and a source differ.
pub(crate) fn show_prices(set: &PriceSet) -> String {
    let mut out = format!("${}/${}", set.input.normalize(), set.output.normalize());
    if let Some(cache) = set.cache_read {
        let _ = write!(out, " (cache read ${})", cache.normalize());
    }
    out
}

/// The prices two sets share compare equal (classes only one of them has are not compared).
pub(crate) fn agree(a: &PriceSet, b: &PriceSet) -> bool {
    let same = |x: Option<Decimal>, y: Option<Decimal>| match (x, y) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    a.input == b.input
        && a.output == b.output
        && same(a.cache_read, b.cache_read)
        && same(a.cache_write_5m, b.cache_write_5m)
        && same(a.cache_write_1h, b.cache_write_1h)
}

/// Parses `text` from a JSON number's literal (`2.5e-06`, `0.1`) exactly, never through a float.
pub(crate) fn exact_number(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let exact = if text.contains(['e', 'E']) { Decimal::from_scientific(text).ok() } else { text.parse().ok() };
    exact.map(|d: Decimal| d.normalize())
}

#[cfg(test)]
mod tests;
