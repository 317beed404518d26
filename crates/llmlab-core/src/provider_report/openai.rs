//! OpenAI's organization reports: `GET /v1/organization/usage/completions`
//! and `GET /v1/organization/costs`, one page at a time.
//!
//! Usage: `input_tokens` INCLUDES `input_cached_tokens`, so LLMLab's uncached
//! input is their difference; audio tokens are parts of input and output.
//! The fields read are `input_tokens`, `input_cached_tokens`,
//! `input_audio_tokens`, `output_tokens`, `output_audio_tokens`,
//! `num_model_requests` and the grouped `model`, `project_id`, `api_key_id`,
//! `batch`, `service_tier`. Costs: `amount.value` is a JSON NUMBER of
//! DOLLARS, read from its text into a decimal.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{CostRow, Page, ReportError, UsageRow, decimal_text, model_of_line_item, next_cursor};
use crate::usage::{ServiceTier, TokenBuckets};

const NAME: &str = "OpenAI";

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
    start_time: i64,
    #[serde(default = "Vec::new")]
    results: Vec<R>,
}

#[derive(Deserialize)]
struct UsageResult {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    input_cached_tokens: u64,
    #[serde(default)]
    input_audio_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    output_audio_tokens: u64,
    #[serde(default)]
    num_model_requests: Option<u64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    api_key_id: Option<String>,
    #[serde(default)]
    batch: Option<bool>,
    #[serde(default)]
    service_tier: Option<String>,
}

#[derive(Deserialize)]
struct CostResult {
    amount: Amount,
    #[serde(default)]
    line_item: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
}

#[derive(Deserialize)]
struct Amount {
    value: Box<RawValue>,
    #[serde(default)]
    currency: Option<String>,
}

fn shape(error: &serde_json::Error) -> ReportError {
    ReportError::Shape { provider: NAME, detail: error.to_string() }
}

fn day_of(start_time: i64) -> Result<Date, ReportError> {
    let bad = || ReportError::Day { provider: NAME, text: start_time.to_string() };
    let at = Timestamp::from_second(start_time).map_err(|_| bad())?;
    Ok(at.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Reads one page of the completions usage report.
pub fn parse_usage_page(body: &[u8]) -> Result<Page<UsageRow>, ReportError> {
    let page: PageFile<UsageResult> = serde_json::from_slice(body).map_err(|e| shape(&e))?;
    let mut rows = Vec::new();
    let mut days = Vec::with_capacity(page.data.len());
    for bucket in page.data {
        let day = day_of(bucket.start_time)?;
        days.push(day);
        rows.extend(bucket.results.into_iter().map(|r| usage_row(day, r)));
    }
    Ok(Page { rows, days, next_page: next_cursor(page.has_more, page.next_page) })
}

fn usage_row(day: Date, r: UsageResult) -> UsageRow {
    let cached = r.input_cached_tokens.min(r.input_tokens);
    let uncached = r.input_tokens - cached;
    let tokens = TokenBuckets {
        input_tokens: uncached,
        cache_read_tokens: cached,
        // Audio is a part of input; the cached share of it is not reported apart, so at most the uncached input.
        input_audio_tokens: r.input_audio_tokens.min(uncached),
        output_tokens: r.output_tokens,
        output_audio_tokens: r.output_audio_tokens.min(r.output_tokens),
        ..TokenBuckets::default()
    };
    let (service_tier, tier_name) = match (r.batch, r.service_tier.as_deref()) {
        (Some(true), _) => (ServiceTier::Batch, None),
        (_, Some(name)) => {
            let (tier, unknown) = ServiceTier::from_name(name);
            (tier, unknown.map(|_| name.to_owned()))
        }
        (_, None) => (ServiceTier::Standard, None),
    };
    UsageRow {
        day,
        model: r.model.unwrap_or_default(),
        project: r.project_id,
        api_key_id: r.api_key_id,
        service_tier,
        tier_name,
        context_window: None,
        tokens,
        requests: r.num_model_requests,
    }
}

/// Reads one page of the costs report.
pub fn parse_cost_page(body: &[u8]) -> Result<Page<CostRow>, ReportError> {
    let page: PageFile<CostResult> = serde_json::from_slice(body).map_err(|e| shape(&e))?;
    let mut rows = Vec::new();
    let mut days = Vec::with_capacity(page.data.len());
    for bucket in page.data {
        let day = day_of(bucket.start_time)?;
        days.push(day);
        for r in bucket.results {
            let text = r.amount.value.get().to_owned();
            let amount_usd =
                decimal_text(&text).ok_or_else(|| ReportError::Amount { provider: NAME, text: text.clone() })?;
            rows.push(CostRow {
                day,
                model: r.line_item.as_deref().and_then(model_of_line_item),
                line_item: r.line_item,
                project: r.project_id,
                amount_text: text,
                amount_usd,
                currency: r.amount.currency.unwrap_or_else(|| "usd".to_owned()),
                detail: None,
            });
        }
    }
    Ok(Page { rows, days, next_page: next_cursor(page.has_more, page.next_page) })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn usage_input_includes_cached_so_uncached_is_the_difference() {
        let body = br#"{"object":"page","data":[{"object":"bucket","start_time":1764547200,"end_time":1764633600,
            "results":[{"object":"organization.usage.completions.result","input_tokens":1000,"input_cached_tokens":400,
            "output_tokens":50,"input_audio_tokens":0,"output_audio_tokens":0,"num_model_requests":3,
            "project_id":"proj_a","user_id":null,"api_key_id":null,"model":"gpt-4o-mini-2024-07-18","batch":false}]}],
            "has_more":true,"next_page":"page_2"}"#;
        let page = parse_usage_page(body).unwrap();
        let row = &page.rows[0];
        assert_eq!(row.day.to_string(), "2025-12-01");
        assert_eq!((row.tokens.input_tokens, row.tokens.cache_read_tokens, row.tokens.output_tokens), (600, 400, 50));
        assert_eq!(row.requests, Some(3));
        assert_eq!(row.service_tier, ServiceTier::Standard);
        assert_eq!(page.next_page.as_deref(), Some("page_2"));
    }

    #[test]
    fn batch_rows_are_the_batch_tier_and_the_last_page_has_no_cursor() {
        let body = br#"{"data":[{"start_time":1764547200,"results":[{"input_tokens":10,"output_tokens":1,
            "model":"gpt-4o","batch":true}]},{"start_time":1764633600,"results":[]}],"has_more":false,"next_page":"x"}"#;
        let page = parse_usage_page(body).unwrap();
        assert_eq!(page.rows[0].service_tier, ServiceTier::Batch);
        assert_eq!(page.days.len(), 2);
        assert_eq!(page.next_page, None);
    }

    #[test]
    fn cost_amounts_are_dollars_read_from_the_number_text() {
        // 0.1 + 0.2 through f64 would be 0.30000000000000004; each amount stays exactly as written.
        let body = br#"{"object":"page","data":[{"object":"bucket","start_time":1764547200,"end_time":1764633600,
            "results":[{"object":"organization.costs.result","amount":{"value":0.1000000000000000055511151231257827,
            "currency":"usd"},"line_item":"gpt-4o-mini-2024-07-18, input","project_id":"proj_a"},
            {"object":"organization.costs.result","amount":{"value":2e-1,"currency":"usd"},"line_item":"Image models",
            "project_id":null}]}],"has_more":false,"next_page":null}"#;
        let page = parse_cost_page(body).unwrap();
        // More digits than a decimal holds: rounded far below a nano-dollar, the text kept as written.
        assert_eq!(crate::Money::from_decimal_usd(page.rows[0].amount_usd), Ok("0.1".parse().unwrap()));
        assert_eq!(page.rows[0].amount_text, "0.1000000000000000055511151231257827");
        assert_eq!(page.rows[0].model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(page.rows[1].amount_usd, Decimal::from_str("0.2").unwrap());
        assert_eq!(page.rows[1].model, None);
    }

    #[test]
    fn a_page_that_is_not_a_report_is_refused_with_the_reason() {
        let error = parse_cost_page(br#"{"error":{"message":"bad"}}"#).unwrap_err();
        assert!(error.to_string().starts_with("the OpenAI report is not the documented JSON"), "{error}");
        let amount = parse_cost_page(br#"{"data":[{"start_time":0,"results":[{"amount":{"value":"abc"}}]}]}"#);
        assert!(matches!(amount, Err(ReportError::Amount { .. })), "{amount:?}");
    }
}
