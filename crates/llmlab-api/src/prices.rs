//! An account's own prices.

use llmlab_core::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/prices`: a price for a model the catalog lacks (or to override it),
/// in USD per 1M tokens. Adding one reprices the account's unpriced events of that model.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPriceRequest {
    /// The model id as events report it (snapshots and prefixes are normalized).
    #[schema(schema_with = crate::limits::model)]
    pub model: String,
    /// The provider the price applies to; any when omitted or blank.
    #[serde(default)]
    #[schema(schema_with = price_provider)]
    pub provider: Option<String>,
    #[schema(schema_with = rate)]
    pub input_per_million_usd: Money,
    #[schema(schema_with = rate)]
    pub output_per_million_usd: Money,
    #[serde(default)]
    #[schema(schema_with = optional_rate)]
    pub cache_read_per_million_usd: Option<Money>,
    #[serde(default)]
    #[schema(schema_with = optional_rate)]
    pub cache_write_per_million_usd: Option<Money>,
    #[serde(default)]
    #[schema(schema_with = optional_rate)]
    pub cache_write_1h_per_million_usd: Option<Money>,
    /// Store prices that look like a slip: a per-token price (below $0.001 per 1M),
    /// or one a thousand times off the catalog's for the model. Without it they get 422.
    #[serde(default)]
    pub force: bool,
}

fn price_provider() -> utoipa::openapi::schema::Schema {
    crate::limits::blank_or_text_schema(
        crate::limits::MAX_PROVIDER_CHARS,
        true,
        "The provider the price applies to (`gemini` is stored as `google`); any when omitted.",
    )
}

/// USD per 1M tokens, at most 100,000 (far above any real model).
fn rate() -> utoipa::openapi::schema::Schema {
    crate::limits::money(5, false, false, "USD per 1M tokens, a decimal string such as `\"0.50\"`.")
}

fn optional_rate() -> utoipa::openapi::schema::Schema {
    crate::limits::money(5, false, true, "USD per 1M tokens, a decimal string such as `\"0.50\"`.")
}

/// A stored custom price.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomPrice {
    pub model: String,
    pub provider: Option<String>,
    #[schema(value_type = String)]
    pub input_per_million_usd: Money,
    #[schema(value_type = String)]
    pub output_per_million_usd: Money,
    #[schema(value_type = Option<String>)]
    pub cache_read_per_million_usd: Option<Money>,
    #[schema(value_type = Option<String>)]
    pub cache_write_per_million_usd: Option<Money>,
    #[schema(value_type = Option<String>)]
    pub cache_write_1h_per_million_usd: Option<Money>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SetPriceResponse {
    pub price: CustomPrice,
    /// Previously unpriced events of this model that now have a cost.
    pub repriced_events: u64,
}
