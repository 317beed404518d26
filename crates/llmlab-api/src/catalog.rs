//! The price catalog in force, and updating it without a release (the
//! server's operator, with the admin token).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/admin/catalog`: a newer price catalog to preview or apply.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogUpdateRequest {
    /// The file's text: LLMLab's catalog TOML (the built-in format), LiteLLM's
    /// `model_prices_and_context_window.json`, or genai-prices' data JSON.
    pub content: String,
    /// `llmlab`, `litellm` or `genai-prices`; detected from the text when omitted.
    #[serde(default)]
    pub format: Option<String>,
    /// Only show what the update would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Apply prices that look like a slip (per token instead of per 1M, or
    /// a thousand times off the catalog's); without it they get 422.
    #[serde(default)]
    pub force: bool,
}

/// What an update changes (and, unless it was a dry run, changed).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogUpdateResponse {
    /// `false` for a dry run, or when the update changes nothing.
    pub applied: bool,
    /// The format read: `llmlab`, `litellm` or `genai-prices`.
    pub format: String,
    /// The `updated` date of the catalog in force before the update.
    pub from_version: String,
    /// The `updated` date of the offered catalog.
    pub to_version: String,
    pub added: Vec<CatalogModelAdded>,
    pub removed: Vec<CatalogModelRef>,
    pub changed: Vec<CatalogModelChanged>,
    /// For an import: models the catalog already has at the source's prices.
    #[serde(default)]
    pub unchanged: usize,
    /// For an import: models the catalog has at other prices (listed for review, not applied).
    #[serde(default)]
    pub differing: Vec<CatalogNote>,
    /// For an import: what the source says that LLMLab cannot express (never guessed).
    #[serde(default)]
    pub unmapped: Vec<CatalogNote>,
    /// Events that were unpriced and now have a cost (0 for a dry run).
    pub repriced_events: u64,
}

/// A model the update adds, with its standard prices.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogModelAdded {
    pub id: String,
    pub provider: String,
    /// When its prices take effect (`YYYY-MM-DD`).
    pub effective_from: String,
    /// USD per 1M input tokens, a decimal string.
    pub input_per_million_usd: String,
    /// USD per 1M output tokens, a decimal string.
    pub output_per_million_usd: String,
}

/// A model the update no longer lists.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogModelRef {
    pub id: String,
    pub provider: String,
}

/// A model whose entry changes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogModelChanged {
    pub id: String,
    pub provider: String,
    /// When the offered prices take effect (`YYYY-MM-DD`; in the future for a scheduled change).
    pub effective_from: String,
    pub prices: Vec<CatalogPriceChange>,
    /// Other changes, in words (`price history: 0 → 1 earlier periods`, `status current → legacy`).
    pub other: Vec<String>,
}

/// One price that differs; `null`: not offered.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogPriceChange {
    /// `standard`, `batch`, `flex`, `priority`, `long-context standard`, …, `request fees`.
    pub table: String,
    /// The token class (`input`, `cache_read`, …) or fee.
    pub class: String,
    /// USD per 1M tokens (per request for fees), a decimal string.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A model (or provider) and what happened to it in an import.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogNote {
    pub model: String,
    pub reason: String,
}

/// `GET /api/admin/catalog`: the catalog in force.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogInfo {
    /// Its `updated` date (`YYYY-MM-DD`).
    pub version: String,
    /// `builtin` (compiled into this server) or `update` (loaded with `llmlab prices update`).
    pub origin: String,
    /// When the update was applied (RFC 3339); absent for the built-in catalog.
    pub applied_at: Option<String>,
    /// The built-in catalog's `updated` date.
    pub builtin_version: String,
    pub models: usize,
}
