//! Reported tokens priced with LLMLab's catalog, so a reported day reads
//! like a tracked one (and a model LLMLab cannot price is unpriced here too).
//!
//! A report row is a day's SUM of many requests, so it says nothing about
//! any one request's prompt size: it is never tested against a long-context
//! threshold. Anthropic's rows name the tier (`context_window` `200k-1M`:
//! long-context prices); OpenAI's do not, so they are priced at the
//! standard tier and the note says so where the model has a long-context tier.

use crate::Catalog;
use crate::cost::{cost_lines, select_table};
use crate::money::Money;
use crate::provider::Provider;

use super::{ReportProvider, UsageRow};

/// What a usage row costs at the catalog's prices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedRow {
    /// The catalog id the model resolved to.
    pub priced_as: Option<String>,
    /// The cost, or why there is none.
    pub cost: Result<Money, String>,
    pub note: Option<String>,
}

/// Anthropic's name of the long-context tier in `context_window`.
const ANTHROPIC_LONG_CONTEXT: &str = "200k-1M";

/// Prices one reported row at the rates in force on its day.
#[must_use]
pub fn price_row(catalog: &Catalog, provider: ReportProvider, row: &UsageRow) -> PricedRow {
    let provider_name = match provider {
        ReportProvider::OpenAi => Provider::OpenAi,
        ReportProvider::Anthropic => Provider::Anthropic,
    };
    if row.model.is_empty() {
        return PricedRow { priced_as: None, cost: Err("the report names no model".to_owned()), note: None };
    }
    let Some(found) = catalog.resolve(Some(&provider_name), &row.model) else {
        let reason = format!("`{}` is not in the price catalog", row.model);
        return PricedRow { priced_as: None, cost: Err(reason), note: None };
    };
    let card = found.entry.rates_on(row.day);
    let long = row.context_window.as_deref() == Some(ANTHROPIC_LONG_CONTEXT);
    let mut note = None;
    let (standard, batch, flex, priority) = match (&card.long_context, long) {
        (Some(tier), true) => (&tier.standard, tier.batch.as_ref(), tier.flex.as_ref(), tier.priority.as_ref()),
        (tier, _) => {
            if tier.is_some() && provider == ReportProvider::OpenAi {
                note = Some(format!(
                    "`{}` has a long-context tier the report cannot show: priced at the standard prices",
                    found.entry.id
                ));
            }
            (&card.standard, card.batch.as_ref(), card.flex.as_ref(), card.priority.as_ref())
        }
    };
    let (prices, _) = select_table(standard, batch, flex, priority, row.service_tier);
    let cost = cost_lines(prices, &row.tokens, card.request_fees.as_ref(), &found.entry.id)
        .map_err(|unpriced| unpriced.to_string())
        .and_then(|lines| Money::from_decimal_usd(lines.iter().map(|l| l.cost_usd).sum()).map_err(|e| e.to_string()));
    PricedRow { priced_as: Some(found.entry.id.clone()), cost, note }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::usage::{ServiceTier, TokenBuckets};

    fn row(model: &str, tier: ServiceTier, tokens: TokenBuckets) -> UsageRow {
        UsageRow {
            day: date(2026, 11, 3),
            model: model.to_owned(),
            project: None,
            api_key_id: None,
            service_tier: tier,
            tier_name: None,
            context_window: None,
            tokens,
            requests: None,
        }
    }

    #[test]
    fn openai_rows_price_uncached_and_cached_input_apart() {
        // gpt-4o-mini: 600 × $0.15 + 400 × $0.075 + 50 × $0.6 per 1M = $0.00009 + $0.00003 + $0.00003.
        let tokens =
            TokenBuckets { input_tokens: 600, cache_read_tokens: 400, output_tokens: 50, ..Default::default() };
        let priced = price_row(
            Catalog::builtin(),
            ReportProvider::OpenAi,
            &row("gpt-4o-mini-2024-07-18", ServiceTier::Standard, tokens),
        );
        assert_eq!(priced.cost, Ok("0.00015".parse().unwrap()));
        assert_eq!(priced.priced_as.as_deref(), Some("gpt-4o-mini"));
        let batch =
            price_row(Catalog::builtin(), ReportProvider::OpenAi, &row("gpt-4o-mini", ServiceTier::Batch, tokens));
        assert_eq!(batch.cost, Ok("0.000075".parse().unwrap()));
    }

    #[test]
    fn a_daily_sum_above_a_long_context_threshold_still_prices_at_the_standard_tier() {
        // 3M input tokens in a day of claude-sonnet-4-5 at $3 per 1M: $9, not the >200k prices.
        let tokens = TokenBuckets { input_tokens: 3_000_000, ..Default::default() };
        let mut r = row("claude-sonnet-4-5-20250929", ServiceTier::Standard, tokens);
        r.context_window = Some("0-200k".to_owned());
        assert_eq!(price_row(Catalog::builtin(), ReportProvider::Anthropic, &r).cost, Ok("9".parse().unwrap()));
        r.context_window = Some("200k-1M".to_owned());
        // The long-context tier ($6 per 1M input) because the report names it.
        assert_eq!(price_row(Catalog::builtin(), ReportProvider::Anthropic, &r).cost, Ok("18".parse().unwrap()));
    }

    #[test]
    fn an_unknown_model_is_unpriced_never_zero() {
        let tokens = TokenBuckets { input_tokens: 10, ..Default::default() };
        let priced = price_row(
            Catalog::builtin(),
            ReportProvider::OpenAi,
            &row("gpt-unheard-of", ServiceTier::Standard, tokens),
        );
        assert_eq!(priced.cost, Err("`gpt-unheard-of` is not in the price catalog".to_owned()));
    }
}
