//! The built-in price catalog: one human-editable TOML file (`data/prices.toml`),
//! compiled into the binary and validated when first used.
//!
//! Prices are decimal strings in USD per 1M tokens. Each model entry carries a
//! source and the date its current prices took effect, plus the earlier price
//! periods (`[[models.history]]`) so that an event is priced at the rates that
//! applied on its own date, never at today's.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::provider::Provider;

/// The catalog file shipped with LLMLab.
pub const BUILTIN_CATALOG_TOML: &str = include_str!("../data/prices.toml");

static BUILTIN: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::from_toml(BUILTIN_CATALOG_TOML).unwrap_or_else(|e| panic!("the built-in price catalog is invalid: {e}"))
});

/// Why a catalog file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("price catalog is not valid TOML for its schema: {0}")]
    Parse(String),
    #[error("price catalog entry `{model}`: {problem}")]
    Invalid { model: String, problem: String },
}

/// What a model is used for; only models of one kind are compared with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Chat,
    Embedding,
}

/// Whether a model can still be called; recommendations only suggest `current` ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    Current,
    Legacy,
    Retired,
}

/// Prices of each token class in USD per 1M tokens. A `None` class is not
/// offered by the model; tokens reported in it make the event unpriced
/// rather than silently free.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSet {
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<Decimal>,
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<Decimal>,
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<Decimal>,
    /// Audio input tokens, where they cost more than text.
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub input_audio: Option<Decimal>,
    /// Audio read from the prompt cache, where it costs more than cached text (Gemini).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub cache_read_audio: Option<Decimal>,
    /// Audio output tokens, where they cost more than text.
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub output_audio: Option<Decimal>,
}

impl PriceSet {
    /// The names of the optional classes this set prices, for shape checks.
    fn offered_classes(&self) -> [bool; 6] {
        [
            self.cache_read.is_some(),
            self.cache_write_5m.is_some(),
            self.cache_write_1h.is_some(),
            self.input_audio.is_some(),
            self.cache_read_audio.is_some(),
            self.output_audio.is_some(),
        ]
    }

    fn all_prices(&self) -> impl Iterator<Item = Decimal> + '_ {
        [self.input, self.output]
            .into_iter()
            .chain(self.cache_read)
            .chain(self.cache_write_5m)
            .chain(self.cache_write_1h)
            .chain(self.input_audio)
            .chain(self.cache_read_audio)
            .chain(self.output_audio)
    }
}

/// Fees charged per request rather than per token, in USD per request (per
/// search, call, container session or grounded prompt). A fee the model does
/// not charge is `None`; requests counted in it make the event unpriced. A
/// tool that costs nothing beyond its tokens is an explicit `"0"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFees {
    /// One web search (`web_search_requests`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub web_search: Option<Decimal>,
    /// One Anthropic web fetch (`web_fetch_requests`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub web_fetch: Option<Decimal>,
    /// One OpenAI file search call (`file_search_calls`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub file_search: Option<Decimal>,
    /// One OpenAI code-interpreter container session (`container_sessions`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub container_session: Option<Decimal>,
    /// One Gemini prompt grounded with Google Search (`grounded_prompts`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub grounded_prompt: Option<Decimal>,
}

impl RequestFees {
    /// The fee of a catalog price class (`web_search`, `file_search`, …), if the model charges it.
    #[must_use]
    pub fn price(&self, class: &str) -> Option<Decimal> {
        match class {
            "web_search" => self.web_search,
            "web_fetch" => self.web_fetch,
            "file_search" => self.file_search,
            "container_session" => self.container_session,
            "grounded_prompt" => self.grounded_prompt,
            _ => None,
        }
    }

    /// Every fee the model charges, `$0` ones included.
    pub fn all(&self) -> impl Iterator<Item = Decimal> + '_ {
        [self.web_search, self.web_fetch, self.file_search, self.container_session, self.grounded_prompt]
            .into_iter()
            .flatten()
    }
}

/// Multipliers on every token price (not on per-request fees) when the
/// response shows the call was served that way. Where a call shows more than
/// one, they multiply. A model without a multiplier is priced without it
/// (and the event's note says so): never guessed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpliftPrices {
    /// Anthropic fast mode (`usage.speed: "fast"`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub fast_mode: Option<Decimal>,
    /// Anthropic US-only inference (`usage.inference_geo: "us"`).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub us_inference: Option<Decimal>,
    /// OpenAI data residency: calls sent to a regional host (`eu.api.openai.com`, …).
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub regional_processing: Option<Decimal>,
}

impl UpliftPrices {
    /// Each multiplier with its name, as written in the catalog.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, Decimal)> + '_ {
        [
            ("fast_mode", self.fast_mode),
            ("us_inference", self.us_inference),
            ("regional_processing", self.regional_processing),
        ]
        .into_iter()
        .filter_map(|(name, m)| m.map(|m| (name, m)))
    }
}

/// A long-context tier: once a request's prompt (counted as
/// [`crate::TokenBuckets::prompt_tokens`]) is above the threshold, the
/// WHOLE request is billed at these prices, not only the excess.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongContextTier {
    pub above_prompt_tokens: u64,
    pub standard: PriceSet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<PriceSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex: Option<PriceSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriceSet>,
}

/// Every price of one model for one span of time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCard {
    pub standard: PriceSet,
    /// Batch API prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<PriceSet>,
    /// Flex processing prices; when absent, flex bills at the batch prices
    /// (OpenAI: "priced at Batch API rates"; Gemini: the same 50% discount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex: Option<PriceSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriceSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fees: Option<RequestFees>,
    /// Multipliers for fast mode, US-only inference and data residency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplifts: Option<UpliftPrices>,
}

impl RateCard {
    /// True when every price on the card is zero (a local model, a custom
    /// $0 price): any call to it costs exactly $0.
    #[must_use]
    pub fn is_free(&self) -> bool {
        let tables = [Some(&self.standard), self.batch.as_ref(), self.flex.as_ref(), self.priority.as_ref()];
        let long = self
            .long_context
            .iter()
            .flat_map(|l| [Some(&l.standard), l.batch.as_ref(), l.flex.as_ref(), l.priority.as_ref()]);
        let fees = self.request_fees.iter().flat_map(RequestFees::all);
        tables.into_iter().chain(long).flatten().flat_map(PriceSet::all_prices).chain(fees).all(|p| p.is_zero())
    }

    /// A card with only standard prices, as an account's custom price is.
    #[must_use]
    pub fn standard_only(standard: PriceSet) -> Self {
        RateCard { standard, ..RateCard::default() }
    }
}

/// An earlier price period of a model, in force until (excluding) `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PriceHistoryEntry {
    pub until: Date,
    /// Where the prices come from, in words (the file's source codes replaced by the sources' names).
    pub source: String,
    /// The sources cited, with their dates.
    pub sources: Vec<CatalogSource>,
    #[serde(flatten)]
    pub rates: RateCard,
}

/// One model in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelEntry {
    /// The provider's canonical model id, e.g. `gpt-4o`, `claude-sonnet-4-5`, `gemini-2.5-pro`.
    pub id: String,
    pub provider: Provider,
    pub kind: ModelKind,
    pub status: ModelStatus,
    /// Capability class: models are only compared within one provider and class.
    pub class: String,
    /// Dated snapshot ids and aliases billed at exactly this entry's prices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    /// Cheaper models judged able to take the same workload, for `switch_model` tips.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
    pub effective_from: Date,
    /// The day the provider retires the model, when announced; recommendations
    /// never suggest a model that is about to go away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated_on: Option<Date>,
    /// Where the prices come from, in words (the file's source codes replaced by the sources' names).
    pub source: String,
    /// The sources cited, with their dates.
    pub sources: Vec<CatalogSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The most tokens a prompt may hold (the context window), when the sources give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// The most tokens one response may generate, reasoning included, when the sources give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(flatten)]
    pub rates: RateCard,
    /// Earlier price periods, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<PriceHistoryEntry>,
}

impl ModelEntry {
    /// The rate card in force on `date` (the current one for dates on or after
    /// `effective_from`, and for dates before any recorded history).
    #[must_use]
    pub fn rates_on(&self, date: Date) -> &RateCard {
        self.history.iter().find(|period| date < period.until).map_or(&self.rates, |period| &period.rates)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    schema: u32,
    updated: Date,
    #[serde(default)]
    sources: Vec<CatalogSource>,
    models: Vec<ModelEntryFile>,
}

/// A reference the catalog's prices were taken from, declared once in the
/// file (`[[sources]]`) and cited by its `code` in the entries' `source`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSource {
    /// How the file cites it: a short code (`L110`) or the page's URL. Not shown to users.
    #[serde(skip_serializing)]
    pub code: String,
    /// What it is, e.g. `LiteLLM 1.110.2` or `OpenAI API pricing page`.
    pub name: String,
    /// When it was published or read, as precisely as known (`2026-11-20`, `early 2026`).
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The file's source codes, turned into names for people.
struct SourceTable<'a>(&'a [CatalogSource]);

impl SourceTable<'_> {
    /// The sources `text` cites, in the table's order.
    fn cited(&self, text: &str) -> Vec<CatalogSource> {
        self.0.iter().filter(|s| cites(text, &s.code)).cloned().collect()
    }

    /// `text` with each short code replaced by its source's name (URLs stay: they are readable and useful).
    fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() * 2);
        let mut rest = text;
        while let Some(start) = rest.find(char::is_alphanumeric) {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let end = rest.find(|c: char| !c.is_alphanumeric()).unwrap_or(rest.len());
            let word = &rest[..end];
            match self.0.iter().find(|s| !s.code.contains("://") && s.code == word) {
                Some(source) => out.push_str(&source.name),
                None => out.push_str(word),
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }
}

/// Whether `text` cites `code`: a URL anywhere, a short code as a whole word
/// (`GP` is not cited by `GPT`).
fn cites(text: &str, code: &str) -> bool {
    if code.contains("://") {
        return text.contains(code);
    }
    text.split(|c: char| !c.is_alphanumeric()).any(|word| word == code)
}

/// The rate-card fields as written in the file. (`serde(flatten)` would
/// silently accept misspelt keys, so the file shape is spelt out here.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelEntryFile {
    id: String,
    provider: Provider,
    kind: ModelKind,
    status: ModelStatus,
    class: String,
    #[serde(default)]
    snapshots: Vec<String>,
    #[serde(default)]
    alternatives: Vec<String>,
    effective_from: Date,
    #[serde(default)]
    deprecated_on: Option<Date>,
    source: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    max_input_tokens: Option<u64>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    standard: PriceSet,
    batch: Option<PriceSet>,
    flex: Option<PriceSet>,
    priority: Option<PriceSet>,
    long_context: Option<LongContextTier>,
    request_fees: Option<RequestFees>,
    uplifts: Option<UpliftPrices>,
    #[serde(default)]
    history: Vec<PriceHistoryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceHistoryFile {
    until: Date,
    source: String,
    standard: PriceSet,
    batch: Option<PriceSet>,
    flex: Option<PriceSet>,
    priority: Option<PriceSet>,
    long_context: Option<LongContextTier>,
    request_fees: Option<RequestFees>,
    uplifts: Option<UpliftPrices>,
}

impl ModelEntry {
    fn from_file(f: ModelEntryFile, sources: &SourceTable<'_>) -> Self {
        ModelEntry {
            id: f.id,
            provider: f.provider,
            kind: f.kind,
            status: f.status,
            class: f.class,
            snapshots: f.snapshots,
            alternatives: f.alternatives,
            effective_from: f.effective_from,
            deprecated_on: f.deprecated_on,
            sources: sources.cited(&f.source),
            source: sources.expand(&f.source),
            notes: f.notes.map(|n| sources.expand(&n)),
            max_input_tokens: f.max_input_tokens,
            max_output_tokens: f.max_output_tokens,
            rates: RateCard {
                standard: f.standard,
                batch: f.batch,
                flex: f.flex,
                priority: f.priority,
                long_context: f.long_context,
                request_fees: f.request_fees,
                uplifts: f.uplifts,
            },
            history: f
                .history
                .into_iter()
                .map(|h| PriceHistoryEntry {
                    until: h.until,
                    sources: sources.cited(&h.source),
                    source: sources.expand(&h.source),
                    rates: RateCard {
                        standard: h.standard,
                        batch: h.batch,
                        flex: h.flex,
                        priority: h.priority,
                        long_context: h.long_context,
                        request_fees: h.request_fees,
                        uplifts: h.uplifts,
                    },
                })
                .collect(),
        }
    }
}

/// How a requested model id was matched to a catalog entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelMatch {
    /// The id (after removing a provider prefix) is the entry's id.
    Exact,
    /// The id is one of the entry's listed snapshots or aliases.
    Snapshot,
    /// The id is an unlisted dated snapshot (`-YYYY-MM-DD`, `-YYYYMMDD`) of the entry.
    DateSuffix,
}

/// A requested model id resolved to a catalog entry.
#[derive(Clone, Copy, Debug)]
pub struct Resolution<'c> {
    pub entry: &'c ModelEntry,
    pub matched_by: ModelMatch,
}

/// The validated, indexed price catalog.
#[derive(Clone, Debug)]
pub struct Catalog {
    updated: Date,
    models: Vec<ModelEntry>,
    index: HashMap<String, (usize, ModelMatch)>,
}

impl Catalog {
    /// The catalog compiled into this binary.
    #[must_use]
    pub fn builtin() -> &'static Catalog {
        &BUILTIN
    }

    /// Parses and validates a catalog file.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        if file.schema != 1 {
            return Err(CatalogError::Parse(format!("unsupported schema version {}", file.schema)));
        }
        let table = SourceTable(&file.sources);
        let models: Vec<ModelEntry> = file.models.into_iter().map(|m| ModelEntry::from_file(m, &table)).collect();
        let mut index = HashMap::new();
        for (position, entry) in models.iter().enumerate() {
            validate_entry(entry)?;
            let names = std::iter::once((&entry.id, ModelMatch::Exact))
                .chain(entry.snapshots.iter().map(|s| (s, ModelMatch::Snapshot)));
            for (name, how) in names {
                if index.insert(name.clone(), (position, how)).is_some() {
                    return Err(invalid(&entry.id, format!("the id `{name}` is listed twice")));
                }
            }
        }
        let catalog = Catalog { updated: file.updated, models, index };
        catalog.validate_alternatives()?;
        Ok(catalog)
    }

    /// The date the catalog file was last reviewed.
    #[must_use]
    pub fn updated(&self) -> Date {
        self.updated
    }

    /// All entries, in file order.
    #[must_use]
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The entry with exactly this canonical id.
    #[must_use]
    pub fn entry(&self, id: &str) -> Option<&ModelEntry> {
        match self.index.get(id) {
            Some(&(position, ModelMatch::Exact)) => Some(&self.models[position]),
            _ => None,
        }
    }

    /// Resolves a model id as a provider or SDK reports it.
    ///
    /// Order: exact id or listed snapshot (after removing `models/`,
    /// `gemini/`-style prefixes and fine-tune suffixes), then an unlisted
    /// dated snapshot of a known base id. There is deliberately no prefix
    /// matching: `claude-opus-4` must never price as `claude-opus-4-5`.
    /// With a known `provider`, entries of another provider never match; an
    /// unknown provider (an OpenAI-compatible gateway, say) matches nothing,
    /// since its prices are its own.
    #[must_use]
    pub fn resolve(&self, provider: Option<&Provider>, model: &str) -> Option<Resolution<'_>> {
        if provider.is_some_and(|p| !p.is_known()) {
            return None;
        }
        // Most ids arrive canonical already; only the rest pay for rewriting.
        let canonical: std::borrow::Cow<'_, str> = if is_canonical(model) {
            std::borrow::Cow::Borrowed(model)
        } else {
            std::borrow::Cow::Owned(canonical_model_id(model))
        };
        let found = self.lookup(&canonical).or_else(|| {
            let base = strip_date_suffix(&canonical)?;
            self.lookup(base).map(|(entry, _)| (entry, ModelMatch::DateSuffix))
        })?;
        let (entry, matched_by) = found;
        if provider.is_some_and(|p| *p != entry.provider) {
            return None;
        }
        Some(Resolution { entry, matched_by })
    }

    fn lookup(&self, id: &str) -> Option<(&ModelEntry, ModelMatch)> {
        self.index.get(id).map(|&(position, how)| (&self.models[position], how))
    }

    fn validate_alternatives(&self) -> Result<(), CatalogError> {
        for entry in &self.models {
            for alternative in &entry.alternatives {
                let Some(target) = self.entry(alternative) else {
                    return Err(invalid(&entry.id, format!("alternative `{alternative}` is not a catalog id")));
                };
                if target.provider != entry.provider || target.kind != entry.kind {
                    return Err(invalid(
                        &entry.id,
                        format!("alternative `{alternative}` is not a {} {:?} model", entry.provider, entry.kind),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
        })
    }
}

fn invalid(model: &str, problem: String) -> CatalogError {
    CatalogError::Invalid { model: model.to_owned(), problem }
}

fn validate_entry(entry: &ModelEntry) -> Result<(), CatalogError> {
    if entry.id.trim().is_empty() || entry.id != canonical_model_id(&entry.id) {
        return Err(invalid(&entry.id, "ids must be bare, lowercase and without provider prefixes".into()));
    }
    if !entry.provider.is_known() {
        return Err(invalid(&entry.id, format!("unknown provider `{}`", entry.provider)));
    }
    validate_rate_card(&entry.id, &entry.rates)?;
    let mut previous_until = None;
    for period in &entry.history {
        validate_rate_card(&entry.id, &period.rates)?;
        if previous_until.is_some_and(|before| before >= period.until) || period.until > entry.effective_from {
            return Err(invalid(
                &entry.id,
                "history must be oldest first and end on or before `effective_from`".into(),
            ));
        }
        previous_until = Some(period.until);
    }
    let mut seen = HashSet::new();
    if !entry.alternatives.iter().all(|a| seen.insert(a) && *a != entry.id) {
        return Err(invalid(&entry.id, "alternatives must be distinct and not the model itself".into()));
    }
    Ok(())
}

/// A batch, flex, priority or long-context table must price the same classes
/// as the standard one, so choosing a table can never silently drop a class;
/// and a long-context tier must exist for every service tier the model has.
fn validate_rate_card(model: &str, card: &RateCard) -> Result<(), CatalogError> {
    let shape = card.standard.offered_classes();
    let check = |set: &PriceSet, what: &str| -> Result<(), CatalogError> {
        if set.offered_classes() != shape {
            return Err(invalid(model, format!("the {what} prices must cover the same token classes as `standard`")));
        }
        if set.all_prices().any(|p| p.is_sign_negative()) {
            return Err(invalid(model, format!("the {what} prices must not be negative")));
        }
        Ok(())
    };
    check(&card.standard, "standard")?;
    if card.request_fees.iter().flat_map(RequestFees::all).any(|p| p.is_sign_negative()) {
        return Err(invalid(model, "the request fees must not be negative".into()));
    }
    for (name, multiplier) in card.uplifts.iter().flat_map(UpliftPrices::named) {
        // An uplift is a premium: a factor at or below 1 (or absurdly high) is a typo.
        if multiplier <= Decimal::ONE || multiplier > Decimal::TEN {
            return Err(invalid(model, format!("the {name} uplift must be above 1 and at most 10, not {multiplier}")));
        }
    }
    let tiers = [("batch", &card.batch), ("flex", &card.flex), ("priority", &card.priority)];
    for (name, table) in tiers {
        if let Some(set) = table {
            check(set, name)?;
        }
    }
    if let Some(long) = &card.long_context {
        check(&long.standard, "long-context standard")?;
        let long_tiers = [("batch", &long.batch), ("flex", &long.flex), ("priority", &long.priority)];
        for ((name, base), (_, long_table)) in tiers.into_iter().zip(long_tiers) {
            match (base, long_table) {
                (Some(_), Some(set)) => check(set, &format!("long-context {name}"))?,
                (None, None) => {}
                _ => {
                    return Err(invalid(
                        model,
                        format!("long_context must have a {name} table exactly when the model has one"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Removes what providers and SDKs put around a model id: surrounding
/// whitespace, `models/` (Gemini), `gemini/`, `openai/`, `anthropic/`,
/// `google/` (gateway style), Vertex's `@` date separator, and the
/// organisation/suffix parts of an OpenAI fine-tune id (`ft:base:org::id`).
#[must_use]
pub fn canonical_model_id(model: &str) -> String {
    let mut id = model.trim();
    for prefix in ["openai/", "anthropic/", "gemini/", "google/", "vertex_ai/"] {
        if let Some(rest) = id.strip_prefix(prefix) {
            id = rest;
            break;
        }
    }
    if let Some(rest) = id.strip_prefix("models/") {
        id = rest;
    }
    let id = match id.strip_prefix("ft:") {
        Some(rest) => format!("ft:{}", rest.split(':').next().unwrap_or(rest)),
        None => id.to_owned(),
    };
    id.replace('@', "-").to_ascii_lowercase()
}

/// True when [`canonical_model_id`] would return `id` unchanged.
fn is_canonical(id: &str) -> bool {
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_'))
        && !id.starts_with("models")
}

/// The base id of a dated snapshot id (`gpt-4o-2024-08-06` → `gpt-4o`,
/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`), or `None` when the id
/// does not end in a full date. Short suffixes such as `-0125` or `-001` are
/// not dates: `gpt-3.5-turbo-1106` is priced differently from its base.
#[must_use]
pub fn strip_date_suffix(id: &str) -> Option<&str> {
    let bytes = id.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let n = bytes.len();
    // -YYYY-MM-DD
    let dashed = n > 11 && bytes[n - 11] == b'-' && bytes[n - 6] == b'-' && bytes[n - 3] == b'-';
    if dashed && digits(n - 10..n - 6) && digits(n - 5..n - 3) && digits(n - 2..n) && plausible_date(&bytes[n - 10..]) {
        return Some(&id[..n - 11]);
    }
    // -YYYYMMDD
    if n > 9 && bytes[n - 9] == b'-' && digits(n - 8..n) && plausible_date(&bytes[n - 8..]) {
        return Some(&id[..n - 9]);
    }
    None
}

/// A year in 2020–2099 and a month 01–12; keeps `-20250514` but not an
/// arbitrary eight-digit build number.
fn plausible_date(date: &[u8]) -> bool {
    let digits: Vec<u8> = date.iter().copied().filter(u8::is_ascii_digit).map(|d| d - b'0').collect();
    let year_ok = digits[0] == 2 && digits[1] == 0 && digits[2] >= 2;
    let month = digits[4] * 10 + digits[5];
    let day = digits[6] * 10 + digits[7];
    year_ok && (1..=12).contains(&month) && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static Catalog {
        Catalog::builtin()
    }

    #[test]
    fn the_builtin_catalog_loads_and_validates() {
        assert!(builtin().models().len() > 50);
    }

    #[test]
    fn canonical_ids_drop_prefixes_and_fine_tune_suffixes() {
        for id in ["gpt-4o", "gemini-2.5-pro", "claude-3-5-haiku-20241022", "text-embedding-3-small"] {
            assert!(is_canonical(id));
            assert_eq!(canonical_model_id(id), id);
        }
        assert!(!is_canonical("models-x") && !is_canonical("GPT-4o") && !is_canonical("ft:gpt-4o"));
        assert_eq!(canonical_model_id("models/gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(canonical_model_id("gemini/gemini-2.5-pro"), "gemini-2.5-pro");
        assert_eq!(canonical_model_id(" GPT-4o "), "gpt-4o");
        assert_eq!(canonical_model_id("claude-sonnet-4-5@20250929"), "claude-sonnet-4-5-20250929");
        assert_eq!(canonical_model_id("ft:gpt-4o-mini-2024-07-18:acme:support:9xYz"), "ft:gpt-4o-mini-2024-07-18");
    }

    #[test]
    fn only_full_dates_are_stripped() {
        assert_eq!(strip_date_suffix("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(strip_date_suffix("claude-opus-4-5-20251101"), Some("claude-opus-4-5"));
        assert_eq!(strip_date_suffix("gpt-3.5-turbo-1106"), None);
        assert_eq!(strip_date_suffix("gemini-2.0-flash-001"), None);
        assert_eq!(strip_date_suffix("claude-opus-4-5"), None);
        assert_eq!(strip_date_suffix("model-12345678"), None);
    }

    #[test]
    fn snapshots_with_other_prices_have_their_own_entry() {
        let old = builtin().resolve(None, "gpt-4o-2024-05-13").unwrap();
        assert_eq!(old.entry.id, "gpt-4o-2024-05-13");
        assert_eq!(old.entry.rates.standard.input, Decimal::new(5, 0));
        let same = builtin().resolve(None, "gpt-4o-2024-08-06").unwrap();
        assert_eq!(same.entry.id, "gpt-4o");
        assert_eq!(same.matched_by, ModelMatch::Snapshot);
    }

    #[test]
    fn never_matches_by_prefix() {
        let opus_4 = builtin().resolve(None, "claude-opus-4").map(|r| r.entry.id.as_str());
        assert_ne!(opus_4, Some("claude-opus-4-5"));
        assert!(builtin().resolve(None, "gpt-4").is_some_and(|r| r.entry.id == "gpt-4"));
        assert!(builtin().resolve(None, "gpt-4o-mini-2099-01-01").is_some_and(|r| r.entry.id == "gpt-4o-mini"));
        assert!(builtin().resolve(None, "gpt-4o-ultra").is_none());
    }

    #[test]
    fn unlisted_dated_snapshots_fall_back_to_their_base_and_say_so() {
        let resolved = builtin().resolve(None, "gpt-4o-mini-2099-01-01").unwrap();
        assert_eq!(resolved.matched_by, ModelMatch::DateSuffix);
    }

    #[test]
    fn provider_mismatch_and_unknown_providers_never_match() {
        assert!(builtin().resolve(Some(&Provider::Anthropic), "gpt-4o").is_none());
        assert!(builtin().resolve(Some(&Provider::Other("openrouter".into())), "gpt-4o").is_none());
        assert!(builtin().resolve(Some(&Provider::Google), "models/gemini-2.5-pro").is_some());
    }

    #[test]
    fn history_applies_by_event_date() {
        let o3 = builtin().entry("o3").unwrap();
        let before = o3.rates_on(Date::constant(2025, 5, 1));
        let after = o3.rates_on(Date::constant(2025, 7, 1));
        assert_eq!(before.standard.input, Decimal::new(10, 0));
        assert_eq!(after.standard.input, Decimal::new(2, 0));
    }

    #[test]
    fn gemini_4_argon_doubled_when_its_introductory_price_ended() {
        // Google's pricing page, as genai-prices 0.2.5 cites it: $2 / $10 per 1M
        // through 2026-11-30, $4 / $20 from 2026-12-01; batch half, priority 1.8x.
        let argon = builtin().entry("gemini-4-argon").unwrap();
        let last_intro_day = argon.rates_on(Date::constant(2026, 11, 30));
        let first_day = argon.rates_on(Date::constant(2026, 12, 1));
        assert_eq!(
            (last_intro_day.standard.input, last_intro_day.standard.output),
            (Decimal::new(2, 0), Decimal::new(10, 0))
        );
        assert_eq!((first_day.standard.input, first_day.standard.output), (Decimal::new(4, 0), Decimal::new(20, 0)));
        assert_eq!(first_day.standard.cache_read, Some(Decimal::new(2, 1)));
        let batch = first_day.batch.as_ref().unwrap();
        assert_eq!((batch.input, batch.output), (Decimal::new(2, 0), Decimal::new(10, 0)));
        let priority = first_day.priority.as_ref().unwrap();
        assert_eq!((priority.input, priority.output), (Decimal::new(72, 1), Decimal::new(36, 0)));
    }

    #[test]
    fn every_entry_names_its_sources_instead_of_citing_codes() {
        let codes = ["L110", "L81", "GP", "GP025"];
        let words = |text: &str| text.split(|c: char| !c.is_alphanumeric()).map(str::to_owned).collect::<Vec<_>>();
        for entry in builtin().models() {
            assert!(!entry.sources.is_empty(), "{} cites no declared source: {}", entry.id, entry.source);
            let mut texts = vec![entry.source.clone()];
            texts.extend(entry.notes.clone());
            for period in &entry.history {
                assert!(!period.sources.is_empty(), "{} history cites no declared source", entry.id);
                texts.push(period.source.clone());
            }
            for text in texts {
                assert!(
                    !words(&text).iter().any(|w| codes.contains(&w.as_str())),
                    "{}: a code is left in {text}",
                    entry.id
                );
            }
        }
        let gpt_4o = builtin().entry("gpt-4o").unwrap();
        let names: Vec<(&str, &str)> = gpt_4o.sources.iter().map(|s| (s.name.as_str(), s.date.as_str())).collect();
        assert_eq!(
            names,
            [
                ("LiteLLM 1.110.2", "2026-11-20"),
                ("pydantic/genai-prices", "2026-08-21"),
                ("OpenAI API pricing page", "2026-11-27")
            ]
        );
        assert!(gpt_4o.source.starts_with("LiteLLM 1.110.2 gpt-4o (= "), "{}", gpt_4o.source);
        assert!(gpt_4o.source.contains("; pydantic/genai-prices agrees;"), "{}", gpt_4o.source);
    }

    #[test]
    fn rejects_a_batch_table_missing_a_class() {
        let text = r#"
schema = 1
updated = "2026-11-27"
[[models]]
id = "m"
provider = "openai"
kind = "chat"
status = "current"
class = "small"
effective_from = "2025-01-01"
source = "test"
standard = { input = "1", output = "2", cache_read = "0.5" }
batch = { input = "0.5", output = "1" }
"#;
        let err = Catalog::from_toml(text).unwrap_err().to_string();
        assert!(err.contains("batch prices must cover the same token classes"), "{err}");
    }

    #[test]
    fn rejects_duplicate_ids_and_unknown_fields() {
        let dup = r#"
schema = 1
updated = "2026-11-27"
[[models]]
id = "m"
provider = "openai"
kind = "chat"
status = "current"
class = "small"
effective_from = "2025-01-01"
source = "test"
snapshots = ["m"]
standard = { input = "1", output = "2" }
"#;
        assert!(Catalog::from_toml(dup).unwrap_err().to_string().contains("listed twice"));
        let typo = dup.replace("snapshots = [\"m\"]", "snapshot = [\"m2\"]");
        assert!(matches!(Catalog::from_toml(&typo), Err(CatalogError::Parse(_))));
    }
}
