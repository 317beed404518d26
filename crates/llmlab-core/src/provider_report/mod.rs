//! The providers' own usage and cost reports (OpenAI's organization Usage and
//! Costs APIs, Anthropic's Admin API usage and cost reports): one page of a
//! report parsed into typed rows (`openai.rs`, `anthropic.rs`), reported
//! tokens priced with the catalog (`price.rs`), and tracked-vs-billed
//! arithmetic (`reconcile.rs`). Pure: the server fetches the pages.
//!
//! Days are UTC buckets, as both providers report them.

pub mod anthropic;
pub mod openai;
pub mod price;
pub mod reconcile;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::usage::{ServiceTier, TokenBuckets};

/// Which provider's admin API a report comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportProvider {
    #[serde(rename = "openai")]
    OpenAi,
    Anthropic,
}

impl ReportProvider {
    /// Every provider with a report API.
    pub const ALL: [ReportProvider; 2] = [ReportProvider::OpenAi, ReportProvider::Anthropic];

    /// The provider's name as events carry it (`openai`, `anthropic`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ReportProvider::OpenAi => "openai",
            ReportProvider::Anthropic => "anthropic",
        }
    }

    /// Reads `openai` or `anthropic` (any case).
    #[must_use]
    pub fn parse(name: &str) -> Option<ReportProvider> {
        match name.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(ReportProvider::OpenAi),
            "anthropic" => Some(ReportProvider::Anthropic),
            _ => None,
        }
    }

    /// How people name the provider in prose.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ReportProvider::OpenAi => "OpenAI",
            ReportProvider::Anthropic => "Anthropic",
        }
    }

    /// The prefix every admin key of the provider starts with.
    #[must_use]
    pub fn admin_key_prefix(self) -> &'static str {
        match self {
            ReportProvider::OpenAi => "sk-admin-",
            ReportProvider::Anthropic => "sk-ant-admin",
        }
    }

    /// Whether `key` looks like this provider's admin key (an ordinary API
    /// key cannot read the reports; saying so early beats a 401 later).
    #[must_use]
    pub fn is_admin_key(self, key: &str) -> bool {
        key.starts_with(self.admin_key_prefix()) && key.len() > self.admin_key_prefix().len() + 8
    }

    /// What to show of a key: its prefix and last four characters, never the key.
    #[must_use]
    pub fn key_hint(self, key: &str) -> String {
        let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}…{tail}", self.admin_key_prefix())
    }
}

impl std::fmt::Display for ReportProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of a usage report: one UTC day and one group (model, project or
/// workspace, API key, tier, context window), with its tokens as LLMLab's
/// disjoint buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    pub day: Date,
    pub model: String,
    /// OpenAI `project_id`, Anthropic `workspace_id`.
    pub project: Option<String>,
    pub api_key_id: Option<String>,
    pub service_tier: ServiceTier,
    /// The tier name as reported, when not one LLMLab maps (priced at standard).
    pub tier_name: Option<String>,
    /// Anthropic's `context_window` (`0-200k`, `200k-1M`): names the price tier.
    pub context_window: Option<String>,
    pub tokens: TokenBuckets,
    /// OpenAI `num_model_requests`; Anthropic does not report requests.
    pub requests: Option<u64>,
}

impl UsageRow {
    /// The report's own key of this row within its day: every grouped field.
    /// Re-reporting the same key replaces the row.
    #[must_use]
    pub fn bucket_key(&self) -> String {
        [
            self.model.as_str(),
            self.project.as_deref().unwrap_or(""),
            self.api_key_id.as_deref().unwrap_or(""),
            self.tier_name.as_deref().unwrap_or(self.service_tier.as_str()),
            self.context_window.as_deref().unwrap_or(""),
        ]
        .join("|")
    }
}

/// One row of a cost report: one UTC day and one line item, billed exactly
/// as the provider states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostRow {
    pub day: Date,
    /// OpenAI `line_item`, Anthropic `description` (or `cost_type`).
    pub line_item: Option<String>,
    /// The model the line bills, when the report names one.
    pub model: Option<String>,
    /// OpenAI `project_id`, Anthropic `workspace_id`.
    pub project: Option<String>,
    /// The amount as the provider wrote it (dollars for OpenAI, cents for Anthropic).
    pub amount_text: String,
    /// The same amount in US dollars, exact.
    pub amount_usd: Decimal,
    pub currency: String,
    /// Every other grouped field, for the row's key (Anthropic's token type, tier, context window).
    pub detail: Option<String>,
}

impl CostRow {
    /// The report's own key of this row within its day.
    #[must_use]
    pub fn bucket_key(&self) -> String {
        [
            self.line_item.as_deref().unwrap_or(""),
            self.model.as_deref().unwrap_or(""),
            self.project.as_deref().unwrap_or(""),
            self.detail.as_deref().unwrap_or(""),
        ]
        .join("|")
    }
}

/// One page of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// The days of the page's buckets, in order (a day without results included).
    pub days: Vec<Date>,
    /// The cursor of the next page, when there is one.
    pub next_page: Option<String>,
}

/// Why a report page could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("the {provider} report is not the documented JSON: {detail}")]
    Shape { provider: &'static str, detail: String },
    #[error("the {provider} report has an amount that is not a decimal number: `{text}`")]
    Amount { provider: &'static str, text: String },
    #[error("the {provider} report has a bucket time that is not a UTC day: `{text}`")]
    Day { provider: &'static str, text: String },
}

/// A page's `has_more`/`next_page` as one cursor: `None` when this is the last page.
fn next_cursor(has_more: bool, next_page: Option<String>) -> Option<String> {
    if has_more { next_page.filter(|p| !p.is_empty()) } else { None }
}

/// Reads a decimal written as text (`"123.78912"`, `0.06`, `1e-7`), never
/// through a float. Digits beyond a decimal's 28 are rounded (far below a nano-dollar).
fn decimal_text(text: &str) -> Option<Decimal> {
    use std::str::FromStr as _;
    let text = text.trim().trim_matches('"');
    Decimal::from_str_exact(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
        .or_else(|| Decimal::from_str(text).ok())
}

/// A model name from an OpenAI cost line item (`gpt-4o-mini-2024-07-18, input`).
fn model_of_line_item(line_item: &str) -> Option<String> {
    let (model, _) = line_item.split_once(", ")?;
    let model = model.trim();
    (!model.is_empty() && !model.contains(' ')).then(|| model.to_owned())
}

#[cfg(test)]
mod fixture_tests {
    //! The hand-written pages of `fixtures/provider_reports/`, against the
    //! figures its README computes by hand.

    use rust_decimal::Decimal;

    use super::price::price_row;
    use super::*;
    use crate::{Catalog, Money};

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../../../fixtures/provider_reports/", $name, ".json"))
        };
    }

    fn priced(provider: ReportProvider, pages: &[Page<UsageRow>]) -> (Money, usize) {
        let rows = pages.iter().flat_map(|p| &p.rows);
        let prices: Vec<_> = rows.map(|r| price_row(Catalog::builtin(), provider, r).cost).collect();
        let unpriced = prices.iter().filter(|c| c.is_err()).count();
        (prices.into_iter().flatten().sum(), unpriced)
    }

    fn billed(pages: &[Page<CostRow>]) -> Decimal {
        pages.iter().flat_map(|p| &p.rows).map(|r| r.amount_usd).sum()
    }

    #[test]
    fn openai_fixtures_price_and_bill_as_computed_by_hand() {
        let usage = [
            openai::parse_usage_page(fixture!("openai_usage_1")).unwrap(),
            openai::parse_usage_page(fixture!("openai_usage_2")).unwrap(),
        ];
        assert_eq!(usage[0].next_page.as_deref(), Some("page_AAAAAGcn"));
        assert_eq!(usage[1].next_page, None);
        assert_eq!(usage[1].days.len(), 2, "the empty bucket is a day too");
        assert_eq!(priced(ReportProvider::OpenAi, &usage), ("3.3025".parse().unwrap(), 1));
        let costs = [
            openai::parse_cost_page(fixture!("openai_costs_1")).unwrap(),
            openai::parse_cost_page(fixture!("openai_costs_2")).unwrap(),
        ];
        assert_eq!(billed(&costs), "3.36480000000000002".parse::<Decimal>().unwrap());
        let nanos: Money =
            costs.iter().flat_map(|p| &p.rows).map(|r| Money::from_decimal_usd(r.amount_usd).unwrap()).sum();
        assert_eq!(nanos, "3.3648".parse().unwrap());
    }

    #[test]
    fn anthropic_fixtures_price_and_bill_as_computed_by_hand() {
        let usage = [
            anthropic::parse_usage_page(fixture!("anthropic_usage_1")).unwrap(),
            anthropic::parse_usage_page(fixture!("anthropic_usage_2")).unwrap(),
        ];
        assert_eq!(priced(ReportProvider::Anthropic, &usage), ("19.125".parse().unwrap(), 0));
        let costs = [
            anthropic::parse_cost_page(fixture!("anthropic_costs_1")).unwrap(),
            anthropic::parse_cost_page(fixture!("anthropic_costs_2")).unwrap(),
        ];
        assert_eq!(billed(&costs), "19.12623456".parse::<Decimal>().unwrap());
    }
}
