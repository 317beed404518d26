//! The spend the providers' reports show where LLMLab tracked nothing: for
//! the summary's "provider-reported" part. A UTC day and provider with any
//! tracked event is left out, so nothing is counted twice.

use std::collections::{BTreeMap, HashSet};

use jiff::civil::Date;
use llmlab_api::{ReportedDaily, ReportedModel, ReportedSpend};
use llmlab_core::Money;
use llmlab_store::{ReportedModelDay, Store};

use super::sync::{day_of_ms, midnight_ms};
use crate::error::ApiResult;

const NOTE: &str = "From the providers' own usage and cost reports (UTC days), for the days and providers without \
                    tracked events; not counted in the totals, budgets or recommendations.";

/// The reported spend of the UTC days `[first, last]`; `None` when the account has no connection or nothing reported.
pub async fn reported_spend(store: &Store, user_id: i64, first: Date, last: Date) -> ApiResult<Option<ReportedSpend>> {
    if store.connections(user_id).await?.is_empty() {
        return Ok(None);
    }
    let from = midnight_ms(first);
    let to = midnight_ms(last.tomorrow().unwrap_or(last));
    let tracked: HashSet<(i64, String)> = store
        .tracked_days(user_id, from, to)
        .await?
        .into_iter()
        .filter(|t| t.calls > 0)
        .map(|t| (t.day, t.provider))
        .collect();
    let untracked = |day: i64, provider: &str| !tracked.contains(&(day, provider.to_owned()));
    let usage: Vec<ReportedModelDay> = store
        .reported_usage_days(user_id, from, to)
        .await?
        .into_iter()
        .filter(|u| untracked(u.day, &u.provider))
        .collect();
    let billed: Vec<_> =
        store.billed_days(user_id, from, to).await?.into_iter().filter(|b| untracked(b.day, &b.provider)).collect();
    if usage.is_empty() && billed.is_empty() {
        return Ok(None);
    }
    let mut daily: BTreeMap<(i64, String), (Money, Money)> = BTreeMap::new();
    for u in &usage {
        daily.entry((u.day, u.provider.clone())).or_default().1 += u.cost;
    }
    for b in &billed {
        daily.entry((b.day, b.provider.clone())).or_default().0 += b.amount;
    }
    Ok(Some(ReportedSpend {
        from: first.to_string(),
        to: last.to_string(),
        billed_usd: billed.iter().map(|b| b.amount).sum(),
        priced_usd: usage.iter().map(|u| u.cost).sum(),
        by_model: by_model(&usage),
        daily: daily
            .into_iter()
            .map(|((day, provider), (billed_usd, priced_usd))| ReportedDaily {
                date: day_of_ms(day).map(|d| d.to_string()).unwrap_or_default(),
                provider,
                billed_usd,
                priced_usd,
            })
            .collect(),
        note: NOTE.to_owned(),
    }))
}

/// Reported usage per provider and model, dearest first; unpriced when any of its rows has no price.
fn by_model(usage: &[ReportedModelDay]) -> Vec<ReportedModel> {
    let mut merged: BTreeMap<(&str, &str), (ReportedModelDay, bool)> = BTreeMap::new();
    for u in usage {
        let (sum, unpriced) = merged.entry((&u.provider, &u.model)).or_insert_with(|| {
            (
                ReportedModelDay {
                    tokens: llmlab_core::TokenBuckets::default(),
                    requests: 0,
                    cost: Money::ZERO,
                    unpriced_rows: 0,
                    ..u.clone()
                },
                false,
            )
        });
        sum.tokens += u.tokens;
        sum.requests += u.requests;
        sum.cost += u.cost;
        *unpriced |= u.unpriced_rows > 0;
    }
    let mut list: Vec<ReportedModel> = merged
        .into_values()
        .map(|(m, unpriced)| ReportedModel {
            provider: m.provider,
            model: m.model,
            priced_usd: (!unpriced).then_some(m.cost),
            requests: m.requests,
            input_tokens: m.tokens.input_tokens,
            cache_read_tokens: m.tokens.cache_read_tokens,
            cache_write_tokens: m.tokens.cache_write_tokens + m.tokens.cache_write_1h_tokens,
            output_tokens: m.tokens.output_tokens,
        })
        .collect();
    list.sort_by(|a, b| {
        b.priced_usd.unwrap_or(Money::ZERO).cmp(&a.priced_usd.unwrap_or(Money::ZERO)).then(a.model.cmp(&b.model))
    });
    list
}
