//! Provider reports: connections to the providers' admin APIs, syncs,
//! provider-reported spend and the reconciliation of tracked against billed.
//! Days are UTC, as the providers report them.

use llmlab_core::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/connections`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// `openai` or `anthropic`.
    pub provider: String,
    /// The organization's admin key (`sk-admin-…` for OpenAI, `sk-ant-admin…` for Anthropic). Stored
    /// sealed with the server key; never shown again.
    pub admin_key: String,
    /// Days of reports to import now (1 to 365; default 30).
    #[serde(default)]
    pub days: Option<u32>,
}

/// A provider connection, as the API shows it: never the key, only a hint.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Connection {
    pub provider: String,
    /// The key's prefix and last four characters.
    pub key_hint: String,
    pub backfill_days: u32,
    pub created_at: String,
    pub last_sync_at: Option<String>,
    /// Why the last sync failed; `None` when it succeeded.
    pub last_error: Option<String>,
    /// The first UTC day (`YYYY-MM-DD`) the next usage sync starts from, once one has run.
    pub usage_synced_until: Option<String>,
    /// As `usage_synced_until`, for the cost report.
    pub cost_synced_until: Option<String>,
}

/// `GET /api/connections`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionList {
    pub connections: Vec<Connection>,
}

/// `POST /api/sync`: every connection, or one provider's.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    #[serde(default)]
    pub provider: Option<String>,
    /// Sync this many days back instead of resuming where the last sync stopped (1 to 365).
    #[serde(default)]
    pub days: Option<u32>,
}

/// What one provider's sync did.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncResult {
    pub provider: String,
    /// The first UTC day synced (`YYYY-MM-DD`).
    pub from: String,
    /// The day after the last one synced.
    pub until: String,
    pub pages: u64,
    pub usage_rows: u64,
    pub cost_rows: u64,
    /// Why it stopped early; the next sync resumes where this one stopped.
    pub error: Option<String>,
    /// `admin_key_refused` when the provider refused the key (401/403), `report_failed` otherwise.
    pub error_code: Option<String>,
}

/// `POST /api/connections` and `POST /api/sync`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncReport {
    pub results: Vec<SyncResult>,
}

/// `POST /api/connections/{provider}/test`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionTest {
    pub provider: String,
    pub ok: bool,
    pub message: String,
}

/// Spend the providers' own reports show for UTC days and providers without
/// tracked events (never counted in the tracked totals).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportedSpend {
    /// The first and last UTC day covered (`YYYY-MM-DD`).
    pub from: String,
    pub to: String,
    /// What the providers billed on those days (their cost reports), exactly.
    #[schema(value_type = String)]
    pub billed_usd: Money,
    /// LLMLab's price of the tokens the usage reports show.
    #[schema(value_type = String)]
    pub priced_usd: Money,
    pub by_model: Vec<ReportedModel>,
    /// Days with reported spend, oldest first.
    pub daily: Vec<ReportedDaily>,
    pub note: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportedModel {
    pub provider: String,
    pub model: String,
    /// LLMLab's price of the reported tokens; `None` when the model has no price.
    #[schema(value_type = Option<String>)]
    pub priced_usd: Option<Money>,
    /// Requests, where the provider reports them (OpenAI).
    pub requests: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportedDaily {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub provider: String,
    #[schema(value_type = String)]
    pub billed_usd: Money,
    #[schema(value_type = String)]
    pub priced_usd: Money,
}

/// `GET /api/reconciliation`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Reconciliation {
    /// `YYYY-MM`, UTC days.
    pub month: String,
    /// One row per UTC day and provider, oldest first.
    pub days: Vec<ReconciledDay>,
    #[schema(value_type = String)]
    pub tracked_usd: Money,
    #[schema(value_type = String)]
    pub billed_usd: Money,
    #[schema(value_type = String)]
    pub untracked_usd: Money,
    #[schema(value_type = Option<String>)]
    pub untracked_share_percent: Option<Decimal>,
    pub note: String,
}

/// Tracked against reported and billed, for one UTC day and provider.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReconciledDay {
    pub date: String,
    pub provider: String,
    pub tracked_calls: u64,
    #[schema(value_type = String)]
    pub tracked_usd: Money,
    /// LLMLab's price of the tokens the usage report shows.
    #[schema(value_type = String)]
    pub reported_usd: Money,
    /// What the cost report bills, every line item (also those naming no model).
    #[schema(value_type = String)]
    pub billed_usd: Money,
    /// Billed minus tracked: what LLMLab never saw (negative: tracked more than billed).
    #[schema(value_type = String)]
    pub untracked_usd: Money,
    #[schema(value_type = Option<String>)]
    pub untracked_share_percent: Option<Decimal>,
    /// Whether the drift passes the alert threshold (more than 5% and more than $1 by default).
    pub drift_alert: bool,
    pub models: Vec<ReconciledModel>,
}

/// One model's row of a reconciled day.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReconciledModel {
    pub model: String,
    pub tracked_calls: u64,
    pub tracked_tokens: u64,
    #[schema(value_type = String)]
    pub tracked_usd: Money,
    pub reported_tokens: u64,
    #[schema(value_type = String)]
    pub reported_usd: Money,
    /// `None` when the cost report names no model for this day's lines.
    #[schema(value_type = Option<String>)]
    pub billed_usd: Option<Money>,
    /// Reported minus tracked tokens.
    pub token_drift: i64,
    /// Billed (or, without a billed figure, reported) minus tracked.
    #[schema(value_type = String)]
    pub untracked_usd: Money,
}
