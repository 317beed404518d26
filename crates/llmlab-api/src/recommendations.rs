//! Cost-saving recommendations.

use llmlab_core::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One tip, computed from the catalog and the account's last 30 days;
/// `GET /api/recommendations` returns a list of them, largest saving first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Recommendation {
    /// `switch_model`, `prompt_caching`, `batch_api` or `top_spend`.
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub provider: Option<String>,
    pub current_model: Option<String>,
    pub suggested_model: Option<String>,
    /// The estimated saving per month; `null` for informational tips.
    #[schema(value_type = Option<String>)]
    pub monthly_savings_usd: Option<Money>,
    /// The figures and assumptions the tip rests on, one per line.
    pub assumptions: Vec<String>,
    /// `provider_report` when the tip comes from the providers' usage reports (`llmlab connect`), because the
    /// account tracked nothing in the last 30 days; absent for tips from tracked calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}
