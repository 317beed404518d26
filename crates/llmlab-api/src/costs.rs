//! `GET /api/costs/summary`.

use llmlab_core::{Money, UnpricedCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Spend totals, breakdowns and the 30-day trend, in the requested time zone.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CostSummary {
    /// The IANA time zone "today", "this month" and the daily dates are in.
    pub timezone: String,
    /// The project the summary is limited to, if any.
    pub project: Option<String>,
    #[schema(value_type = String)]
    pub today_usd: Money,
    #[schema(value_type = String)]
    pub month_usd: Money,
    #[schema(value_type = String)]
    pub all_time_usd: Money,
    pub today_calls: u64,
    pub month_calls: u64,
    pub all_time_calls: u64,
    /// Calls stored without a price (unknown provider or model, no usage, or an anomaly), all time.
    /// Calls the provider refused (an error status, no usage) cost $0 and are not counted here.
    pub unpriced_calls: u64,
    /// As `month_partial_calls`, today (for `today_usd`).
    #[serde(default)]
    pub today_partial_calls: u64,
    /// Calls priced from a stream cut off before its final usage, this month: their cost is a lower
    /// bound, so when this is not 0 `month_usd` is "at least" that much. Not counted as unpriced.
    #[serde(default)]
    pub month_partial_calls: u64,
    /// As `month_partial_calls`, all time (for `all_time_usd`).
    #[serde(default)]
    pub all_time_partial_calls: u64,
    /// Unpriced calls per model, so they can be fixed with a custom price.
    pub unpriced_models: Vec<UnpricedModel>,
    /// Spend per model this month, most expensive first.
    pub by_model: Vec<ModelSpend>,
    /// Spend per provider this month.
    pub by_provider: Vec<ProviderSpend>,
    /// Spend per project this month.
    pub by_project: Vec<ProjectSpend>,
    /// The last 30 days, oldest first, zero days included.
    pub daily: Vec<DailySpend>,
    /// Spend the providers' own usage and cost reports show for the last 30 UTC days, on the days and
    /// providers WITHOUT tracked events (never added to the totals above); `None` without a provider
    /// connection or reported spend (then absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_reported: Option<crate::ReportedSpend>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelSpend {
    pub provider: String,
    pub model: String,
    #[schema(value_type = String)]
    pub cost_usd: Money,
    pub calls: u64,
    pub unpriced_calls: u64,
    /// Calls priced from a cut-off stream: `cost_usd` is at least this model's spend.
    #[serde(default)]
    pub partial_calls: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cache_write_1h_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProviderSpend {
    pub provider: String,
    #[schema(value_type = String)]
    pub cost_usd: Money,
    pub calls: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectSpend {
    pub project: String,
    #[schema(value_type = String)]
    pub cost_usd: Money,
    pub calls: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DailySpend {
    /// `YYYY-MM-DD` in the summary's time zone.
    pub date: String,
    #[schema(value_type = String)]
    pub cost_usd: Money,
    pub calls: u64,
}

impl UnpricedModel {
    /// Whether a price for the model would price these calls (so a
    /// `llmlab prices set` suggestion helps); true when the cause is not known.
    #[must_use]
    pub fn priced_by_a_price(&self) -> bool {
        self.code.as_deref().is_none_or(|code| UnpricedCode::from_name(code).is_none_or(UnpricedCode::repriceable))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UnpricedModel {
    pub provider: String,
    pub model: String,
    pub calls: u64,
    /// Why these calls have no price, as a stable code (see the track response's `unpriced_code`);
    /// only `unknown_provider`, `unknown_model` and `missing_price` are fixed by adding a price.
    #[serde(default)]
    pub code: Option<String>,
    /// Why these calls have no price (the reason of one of them).
    pub reason: Option<String>,
}
