//! Anthropic's Admin API reports: `GET /v1/organizations/usage_report/messages`
//! and `GET /v1/organizations/cost_report`, one page at a time.
//!
//! Usage: `uncached_input_tokens` is reported apart from cache reads and
//! writes (additive, like the Messages API's `input_tokens`); `cache_creation`
//! splits writes by TTL. Costs: `amount` is a DECIMAL STRING in CENTS.

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{CostRow, Page, ReportError, UsageRow, decimal_text, next_cursor};
use crate::usage::{ServiceTier, TokenBuckets};

const NAME: &str = "Anthropic";

#[derive(Deserialize)]
struct PageFile<R> {
    data: Vec<Bucket<R>>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct Bucket<R> {
    starting_at: String,
    #[serde(default = "Vec::new")]
    results: Vec<R>,
}

#[derive(Default, Deserialize)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    ephemeral_1h_input_tokens: u64,
}

#[derive(Default, Deserialize)]
struct ServerToolUse {
    #[serde(default)]
    web_search_requests: u64,
}

#[derive(Deserialize)]
struct UsageResult {
    #[serde(default)]
    uncached_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    server_tool_use: Option<ServerToolUse>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    api_key_id: Option<String>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    context_window: Option<String>,
}

#[derive(Deserialize)]
struct CostResult {
    amount: String,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    cost_type: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    context_window: Option<String>,
}

fn shape(error: &serde_json::Error) -> ReportError {
    ReportError::Shape { provider: NAME, detail: error.to_string() }
}

fn day_of(starting_at: &str) -> Result<Date, ReportError> {
    let at: Timestamp =
        starting_at.parse().map_err(|_| ReportError::Day { provider: NAME, text: starting_at.to_owned() })?;
    Ok(at.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Reads one page of the messages usage report.
pub fn parse_usage_page(body: &[u8]) -> Result<Page<UsageRow>, ReportError> {
    let page: PageFile<UsageResult> = serde_json::from_slice(body).map_err(|e| shape(&e))?;
    let mut rows = Vec::new();
    let mut days = Vec::with_capacity(page.data.len());
    for bucket in page.data {
        let day = day_of(&bucket.starting_at)?;
        days.push(day);
        rows.extend(bucket.results.into_iter().map(|r| usage_row(day, r)));
    }
    Ok(Page { rows, days, next_page: next_cursor(page.has_more, page.next_page) })
}

fn usage_row(day: Date, r: UsageResult) -> UsageRow {
    let cache = r.cache_creation.unwrap_or_default();
    let tokens = TokenBuckets {
        input_tokens: r.uncached_input_tokens,
        cache_read_tokens: r.cache_read_input_tokens,
        cache_write_tokens: cache.ephemeral_5m_input_tokens,
        cache_write_1h_tokens: cache.ephemeral_1h_input_tokens,
        output_tokens: r.output_tokens,
        web_search_requests: r.server_tool_use.unwrap_or_default().web_search_requests,
        ..TokenBuckets::default()
    };
    let (service_tier, tier_name) = match r.service_tier.as_deref() {
        Some(name) => {
            let (tier, unknown) = ServiceTier::from_name(name);
            (tier, unknown.map(|_| name.to_owned()))
        }
        None => (ServiceTier::Standard, None),
    };
    UsageRow {
        day,
        model: r.model.unwrap_or_default(),
        project: r.workspace_id,
        api_key_id: r.api_key_id,
        service_tier,
        tier_name,
        context_window: r.context_window,
        tokens,
        requests: None,
    }
}

/// Reads one page of the cost report.
pub fn parse_cost_page(body: &[u8]) -> Result<Page<CostRow>, ReportError> {
    let page: PageFile<CostResult> = serde_json::from_slice(body).map_err(|e| shape(&e))?;
    let mut rows = Vec::new();
    let mut days = Vec::with_capacity(page.data.len());
    for bucket in page.data {
        let day = day_of(&bucket.starting_at)?;
        days.push(day);
        for r in bucket.results {
            let cents = decimal_text(&r.amount)
                .ok_or_else(|| ReportError::Amount { provider: NAME, text: r.amount.clone() })?;
            let detail =
                [r.cost_type, r.token_type, r.service_tier, r.context_window].map(Option::unwrap_or_default).join("|");
            rows.push(CostRow {
                day,
                line_item: r.description,
                model: r.model,
                project: r.workspace_id,
                amount_usd: cents / Decimal::ONE_HUNDRED,
                amount_text: r.amount,
                currency: r.currency.unwrap_or_else(|| "USD".to_owned()),
                detail: Some(detail),
            });
        }
    }
    Ok(Page { rows, days, next_page: next_cursor(page.has_more, page.next_page) })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn uncached_input_is_additive_and_cache_writes_split_by_ttl() {
        let body = br#"{"data":[{"starting_at":"2025-12-01T00:00:00Z","ending_at":"2025-12-02T00:00:00Z",
            "results":[{"uncached_input_tokens":1500,"cache_creation":{"ephemeral_1h_input_tokens":1000,
            "ephemeral_5m_input_tokens":500},"cache_read_input_tokens":200,"output_tokens":500,
            "server_tool_use":{"web_search_requests":10},"api_key_id":null,"workspace_id":"wrkspc_01",
            "model":"claude-sonnet-4-5-20250929","service_tier":"standard","context_window":"0-200k"}]}],
            "has_more":true,"next_page":"page_abc"}"#;
        let page = parse_usage_page(body).unwrap();
        let t = page.rows[0].tokens;
        assert_eq!(
            (t.input_tokens, t.cache_read_tokens, t.cache_write_tokens, t.cache_write_1h_tokens, t.output_tokens),
            (1500, 200, 500, 1000, 500)
        );
        assert_eq!(t.web_search_requests, 10);
        assert_eq!(page.rows[0].context_window.as_deref(), Some("0-200k"));
        assert_eq!(page.next_page.as_deref(), Some("page_abc"));
    }

    #[test]
    fn cost_amounts_are_cents_as_decimal_strings() {
        let body = br#"{"data":[{"starting_at":"2025-12-01T00:00:00Z","ending_at":"2025-12-02T00:00:00Z",
            "results":[{"currency":"USD","amount":"123.78912","workspace_id":null,
            "description":"Claude Sonnet 4.5 Usage - Input Tokens","cost_type":"tokens","context_window":"0-200k",
            "model":"claude-sonnet-4-5-20250929","service_tier":"standard","token_type":"uncached_input_tokens"}]}],
            "has_more":false,"next_page":null}"#;
        let page = parse_cost_page(body).unwrap();
        assert_eq!(page.rows[0].amount_usd, Decimal::from_str("1.2378912").unwrap());
        assert_eq!(page.rows[0].amount_text, "123.78912");
        assert_eq!(page.rows[0].model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(page.next_page, None);
    }

    #[test]
    fn a_bucket_time_that_is_not_rfc3339_is_refused() {
        let error = parse_cost_page(br#"{"data":[{"starting_at":"yesterday","results":[]}]}"#).unwrap_err();
        assert_eq!(error, ReportError::Day { provider: NAME, text: "yesterday".to_owned() });
    }
}
