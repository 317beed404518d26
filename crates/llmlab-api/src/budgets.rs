//! Budgets and their state.

use llmlab_core::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where spending stands against the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// No budget is set.
    None,
    /// Below 80%.
    Ok,
    /// From exactly 80%.
    Warning,
    /// From exactly 100%.
    Exceeded,
}

/// `POST /api/budgets`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBudgetRequest {
    /// A positive decimal string, e.g. `"500"`, of at most one billion.
    #[schema(schema_with = budget_amount)]
    pub amount_usd: Money,
    /// Only `monthly` (calendar months in the account's time zone).
    #[serde(default = "monthly")]
    #[schema(schema_with = budget_period)]
    pub period: String,
}

fn budget_amount() -> utoipa::openapi::schema::Schema {
    crate::limits::money(9, true, false, "A positive decimal string of USD, e.g. `\"500\"`, below one billion.")
}

fn budget_period() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["monthly"]))
        .default(Some("monthly".into()))
        .description(Some("Only `monthly` (calendar months in the account's time zone)."))
        .into()
}

fn monthly() -> String {
    "monthly".to_owned()
}

/// `GET /api/budgets`: the budget, or `{"budget": null}` when none is set.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BudgetResponse {
    pub budget: Option<Budget>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Budget {
    #[schema(value_type = String)]
    pub amount_usd: Money,
    pub period: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /api/budgets/status`, also embedded in every track response.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BudgetStatus {
    pub state: BudgetState,
    #[schema(value_type = Option<String>)]
    pub amount_usd: Option<Money>,
    /// Priced spend this period; unpriced calls are not in it (see `unpriced_calls`).
    #[schema(value_type = String)]
    pub spent_usd: Money,
    /// `spent / amount × 100`, or `null` without a budget.
    pub percent_used: Option<f64>,
    /// Month-end spend at the current run rate, or `null` without a budget.
    #[schema(value_type = Option<String>)]
    pub projected_usd: Option<Money>,
    pub period: Option<String>,
    /// First day of the current period (`YYYY-MM-DD`, account time zone).
    pub period_start: Option<String>,
    /// Calls this period that have no price.
    pub unpriced_calls: u64,
    /// Set when this very request crossed a threshold for the first time this period.
    pub alert: Option<BudgetState>,
}

impl BudgetStatus {
    /// The status of an account without a budget.
    #[must_use]
    pub fn none(spent: Money, unpriced_calls: u64) -> Self {
        BudgetStatus {
            state: BudgetState::None,
            amount_usd: None,
            spent_usd: spent,
            percent_used: None,
            projected_usd: None,
            period: None,
            period_start: None,
            unpriced_calls,
            alert: None,
        }
    }
}
