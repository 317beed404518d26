//! Recommendations: the core's "switch X → Y, save $Z/month" tips from the
//! account's last 30 days, read from the rollups.

use std::collections::BTreeMap;

use jiff::Timestamp;
use llmlab_api::Recommendation;
use llmlab_core::recommend::{ModelUsage, Window, recommend};
use llmlab_core::{Money, Provider, TokenBuckets};
use llmlab_store::User;

use crate::error::{ApiError, ApiResult};
use crate::service::budgets::account_tz;
use crate::state::AppState;

/// Days of usage the tips are computed from.
const WINDOW_DAYS: u32 = 30;

/// Cost-saving tips from the last 30 days of the account's usage (in its
/// time zone), largest monthly saving first; each states its figures.
pub async fn tips(state: &AppState, user: &User) -> ApiResult<Vec<Recommendation>> {
    let tz = account_tz(user);
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    let window = Window::ending_on(today, WINDOW_DAYS).ok_or_else(|| ApiError::internal(std::fmt::Error))?;
    let start = window.first_day().to_zoned(tz.clone()).map_err(ApiError::internal)?;
    let end = today.tomorrow().map_err(ApiError::internal)?.to_zoned(tz).map_err(ApiError::internal)?;
    let rows = state
        .store
        .spend_between(user.id, start.timestamp().as_millisecond(), end.timestamp().as_millisecond(), None)
        .await?;
    // Rollups are per project; the engine wants one row per provider and model.
    let mut usage: BTreeMap<(String, String), ModelUsage> = BTreeMap::new();
    for row in rows {
        let entry = usage.entry((row.provider.clone(), row.model.clone())).or_insert_with(|| ModelUsage {
            provider: Provider::parse(&row.provider),
            model: row.model.clone(),
            calls: 0,
            priced_calls: 0,
            buckets: TokenBuckets::default(),
            cost: Money::ZERO,
            batch_calls: 0,
        });
        entry.calls += row.calls;
        entry.priced_calls += row.calls - row.unpriced_calls;
        // The rollups' token sums include unpriced calls; for a model the
        // catalog knows those are rare (anomalies), so the mix stays close.
        entry.buckets += row.tokens;
        entry.cost += row.cost;
        entry.batch_calls += row.batch_calls;
    }
    let mut usage: Vec<ModelUsage> = usage.into_values().collect();
    let mut source = None;
    if usage.is_empty() {
        usage = reported_usage(state, user, window).await?;
        source = (!usage.is_empty()).then(|| "provider_report".to_owned());
    }
    let tips = recommend(&state.catalog().catalog, &usage, window, today);
    Ok(tips
        .into_iter()
        .map(|tip| Recommendation {
            kind: tip.kind.as_str().to_owned(),
            title: tip.title,
            detail: tip.detail,
            provider: tip.provider.map(|p| p.to_string()),
            current_model: tip.current_model,
            suggested_model: tip.suggested_model,
            monthly_savings_usd: tip.monthly_savings,
            assumptions: tip.assumptions,
            source: source.clone(),
        })
        .collect())
}

/// The usage the providers' reports show over the window's UTC days, for an
/// account that tracked nothing in it yet: only rows with request counts
/// (OpenAI's usage report; Anthropic's has none, and the tips need calls).
async fn reported_usage(state: &AppState, user: &User, window: Window) -> ApiResult<Vec<ModelUsage>> {
    let first = window.first_day().to_zoned(jiff::tz::TimeZone::UTC).map_err(ApiError::internal)?;
    let to =
        window.first_day().checked_add(jiff::Span::new().days(i64::from(WINDOW_DAYS))).map_err(ApiError::internal)?;
    let to = to.to_zoned(jiff::tz::TimeZone::UTC).map_err(ApiError::internal)?;
    let rows = state
        .store
        .reported_usage_models(user.id, first.timestamp().as_millisecond(), to.timestamp().as_millisecond())
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| ModelUsage {
            provider: Provider::parse(&row.provider),
            model: row.model,
            calls: row.requests,
            priced_calls: row.requests,
            buckets: row.tokens,
            cost: row.cost,
            batch_calls: row.batch_requests,
        })
        .collect())
}
