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
    pub model: String,
    /// The provider the price applies to; any when omitted.
    #[serde(default)]
    pub provider: Option<String>,
    #[schema(value_type = String, example = "0.50")]
    pub input_per_million_usd: Money,
    #[schema(value_type = String, example = "1.50")]
    pub output_per_million_usd: Money,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub cache_read_per_million_usd: Option<Money>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub cache_write_per_million_usd: Option<Money>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub cache_write_1h_per_million_usd: Option<Money>,
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
