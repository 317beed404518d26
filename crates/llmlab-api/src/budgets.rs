//! Budgets and their state.

use std::collections::BTreeMap;

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

/// What a scoped budget counts: every call of the account, or only those of
/// one project, one API key, or one tag value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    /// Every call of the account.
    Account,
    /// Calls recorded in one project (`target` is its name).
    Project,
    /// Calls made with one API key (`target` is its public id `llm_…`; a key's name is accepted when creating).
    Key,
    /// Calls carrying one tag value (`target` is `key=value`, e.g. `customer=acme`).
    Tag,
}

impl BudgetScope {
    /// The wire name: `account`, `project`, `key` or `tag`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            BudgetScope::Account => "account",
            BudgetScope::Project => "project",
            BudgetScope::Key => "key",
            BudgetScope::Tag => "tag",
        }
    }
}

/// `POST /api/budgets/scoped`: creates the budget of a scope and period, or
/// replaces it (amount, hard, thresholds) when that scope already has a
/// budget of that period (201 when created, 200 when replaced).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBudgetRequest {
    /// A positive decimal string, e.g. `"200"`, of at most one billion.
    #[schema(schema_with = budget_amount)]
    pub amount_usd: Money,
    /// What the budget counts; `account` when omitted.
    #[serde(default = "account_scope")]
    pub scope: BudgetScope,
    /// The project name, API key (`llm_…` id or name) or `key=value` tag; omitted for `account`.
    #[serde(default)]
    pub target: Option<String>,
    /// `day`, `week` (from Monday), `month` (calendar periods in the account's time zone) or `total` (never resets); `month` when omitted.
    #[serde(default = "month")]
    #[schema(schema_with = scoped_period)]
    pub period: String,
    /// Hard: the proxy and the SDK's hard mode refuse any call the budget cannot cover. Soft (the default): warnings only.
    #[serde(default)]
    pub hard: bool,
    /// Percentages at which the budget warns (at most two decimals, above 0 and at most 1000); `[80, 100]` when omitted.
    #[serde(default)]
    #[schema(schema_with = thresholds)]
    pub thresholds: Option<Vec<serde_json::Number>>,
}

/// `PATCH /api/budgets/scoped/{id}`: the fields to change; the scope cannot change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBudgetRequest {
    #[serde(default)]
    #[schema(schema_with = optional_budget_amount)]
    pub amount_usd: Option<Money>,
    #[serde(default)]
    #[schema(schema_with = optional_scoped_period)]
    pub period: Option<String>,
    #[serde(default)]
    pub hard: Option<bool>,
    #[serde(default)]
    #[schema(schema_with = thresholds)]
    pub thresholds: Option<Vec<serde_json::Number>>,
}

fn thresholds() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .exclusive_minimum(Some(0))
                .maximum(Some(1000))
                .multiple_of(Some(0.01)),
        )
        .max_items(Some(10))
        .unique_items(true)
        .description(Some(
            "Percentages at which the budget warns, each above 0 and at most 1000 with at most two decimals; \
             `[80, 100]` when omitted.",
        ))
        .into()
}

fn account_scope() -> BudgetScope {
    BudgetScope::Account
}

fn month() -> String {
    "month".to_owned()
}

fn scoped_period() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["day", "week", "month", "total"]))
        .default(Some("month".into()))
        .description(Some(
            "Calendar day, week (from Monday) or month in the account's time zone, or `total` (never resets).",
        ))
        .into()
}

fn optional_scoped_period() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .enum_values(Some([Some("day"), Some("week"), Some("month"), Some("total"), None]))
        .into()
}

fn optional_budget_amount() -> utoipa::openapi::schema::Schema {
    crate::limits::money(9, true, true, "A positive decimal string of USD, e.g. `\"500\"`, below one billion.")
}

/// `GET /api/budgets/scoped`: every budget of the account with its current period's status.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScopedBudgets {
    pub budgets: Vec<ScopedBudget>,
}

/// One budget and where its current period stands.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScopedBudget {
    pub id: i64,
    pub scope: BudgetScope,
    /// The project, key id (`llm_…`) or `key=value` tag; `null` for `account`.
    pub target: Option<String>,
    /// The key's name, for a `key` budget whose key has one.
    pub target_name: Option<String>,
    /// `day`, `week`, `month` or `total`.
    pub period: String,
    #[schema(value_type = String)]
    pub amount_usd: Money,
    pub hard: bool,
    /// Warning percentages, ascending.
    pub thresholds: Vec<f64>,
    pub created_at: String,
    pub updated_at: String,
    pub status: ScopedBudgetStatus,
}

/// A budget's current period.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScopedBudgetStatus {
    /// `ok`, `warning` (from the lowest threshold below 100%) or `exceeded` (from 100%).
    pub state: BudgetState,
    /// First day of the period (`YYYY-MM-DD`, account time zone); `null` for `total`.
    pub period_start: Option<String>,
    /// The instant the next period starts (RFC 3339); `null` for `total`.
    pub period_end: Option<String>,
    /// Priced spend counted this period.
    #[schema(value_type = String)]
    pub spent_usd: Money,
    /// Held by hard-budget calls in flight (released when they are recorded, or when they expire).
    #[schema(value_type = String)]
    pub reserved_usd: Money,
    /// `amount − spent − reserved`, never below 0.
    #[schema(value_type = String)]
    pub available_usd: Money,
    /// `spent / amount × 100`, two decimals.
    pub percent_used: f64,
    /// Period-end spend at the run rate so far; `null` for `total`.
    #[schema(value_type = Option<String>)]
    pub projected_usd: Option<Money>,
    /// When spend is projected to reach 100% at that rate (RFC 3339), if before the period ends and not reached yet.
    pub projected_crossing_at: Option<String>,
    /// Calls counted this period that have no price.
    pub unpriced_calls: u64,
}

/// `POST /api/budgets/reserve`: hold a call's worst-case cost against every
/// hard budget that covers it, before the call is sent (the SDK's hard mode).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    /// `openai`, `anthropic`, `google`…
    pub provider: String,
    /// The model; read from `request` (or `path` for Gemini) when omitted.
    #[serde(default)]
    pub model: Option<String>,
    /// The provider request body about to be sent; the tightest bound (its
    /// size bounds the input, its output limit the output).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub request: Option<Box<serde_json::value::RawValue>>,
    /// The API path the request goes to (`/v1/chat/completions`, `/v1/responses`,
    /// `/v1/messages`, `/v1beta/models/M:generateContent`…); the provider's main chat API when omitted.
    #[serde(default)]
    pub path: Option<String>,
    /// Without `request`: the most output tokens the call may produce (the catalog's maximum when omitted).
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    #[schema(schema_with = crate::limits::project)]
    pub project: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::limits::tags)]
    pub tags: Option<BTreeMap<String, String>>,
}

/// `POST /api/budgets/reserve` answer (201 when something is held, 200 when nothing needs to be).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReserveResponse {
    /// Send it as the event's `reservation_id`: recording the event releases
    /// the hold. `null` when no hard budget covers the call, or its model is priced at $0.
    pub reservation_id: Option<String>,
    #[schema(value_type = String)]
    pub reserved_usd: Money,
    /// When the hold lapses if no event releases it (RFC 3339).
    pub expires_at: Option<String>,
    /// The hard budgets holding it.
    pub budget_ids: Vec<i64>,
}
