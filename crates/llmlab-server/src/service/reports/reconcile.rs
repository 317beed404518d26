//! `GET /api/reconciliation`: per UTC day and provider, and per model within
//! it, what LLMLab tracked, what the usage report shows (priced with the
//! catalog) and what the cost report bills; the drift and the share of the
//! day LLMLab never saw. Drift alerts after a sync.

use std::collections::{BTreeMap, HashSet};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use llmlab_api::{ReconciledDay, ReconciledModel, Reconciliation, SyncResult};
use llmlab_core::alert::AlertFacts;
use llmlab_core::provider_report::ReportProvider;
use llmlab_core::provider_report::reconcile::{Drift, DriftThreshold};
use llmlab_core::{Catalog, Money, Provider};
use llmlab_store::{BilledModelDay, ReportedModelDay, Store, TrackedModelDay, User};

use super::sync::{day_of_ms, midnight_ms};
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const NOTE: &str = "UTC days, as the providers report them. tracked: LLMLab's events; reported: the provider's usage \
                    report priced with LLMLab's catalog; billed: the provider's cost report, exactly. untracked = \
                    billed (or reported, on days without a cost report) minus tracked.";

/// The first day of `month` (`YYYY-MM`), or of this UTC month.
fn month_start(month: Option<&str>) -> ApiResult<Date> {
    match month.map(str::trim).filter(|m| !m.is_empty()) {
        Some(text) => format!("{text}-01")
            .parse::<Date>()
            .ok()
            .filter(|_| text.len() == 7)
            .ok_or_else(|| ApiError::invalid("month", format!("`{text}` is not a month such as `2026-11`"))),
        None => Ok(Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().first_of_month()),
    }
}

/// The reconciliation of `month` (default: this UTC month).
pub async fn reconciliation(state: &AppState, user: &User, month: Option<&str>) -> ApiResult<Reconciliation> {
    let first = month_start(month)?;
    let next = first.checked_add(1.month()).map_err(ApiError::internal)?;
    let catalog = state.catalog();
    let days =
        reconcile_days(&state.store, &catalog.catalog, user.id, first, next, &state.settings.reports.drift).await?;
    let tracked: Money = days.iter().map(|d| d.tracked_usd).sum();
    let billed: Money = days.iter().map(basis).sum();
    let drift = Drift::between(tracked, billed);
    Ok(Reconciliation {
        month: first.strftime("%Y-%m").to_string(),
        days,
        tracked_usd: tracked,
        billed_usd: billed,
        untracked_usd: drift.untracked,
        untracked_share_percent: drift.untracked_share_percent,
        note: NOTE.to_owned(),
    })
}

/// What a day's tracked spend is compared with: the billed amount, or the
/// priced usage report on a day without a cost report.
fn basis(day: &ReconciledDay) -> Money {
    if day.billed_usd == Money::ZERO { day.reported_usd } else { day.billed_usd }
}

/// A tracked model's catalog id (so a dated snapshot meets its report row), else its name.
fn model_key(catalog: &Catalog, provider: &str, model: &str) -> String {
    catalog.resolve(Some(&Provider::parse(provider)), model).map_or_else(|| model.to_owned(), |f| f.entry.id.clone())
}

#[derive(Default)]
struct ModelSides {
    tracked: Option<TrackedModelDay>,
    reported: Option<ReportedModelDay>,
    billed: Option<Money>,
}

#[derive(Default)]
struct DaySides {
    models: BTreeMap<String, ModelSides>,
    billed_total: Money,
}

/// Every reconciled day and provider of `[first, next)` for the account's connected providers.
pub async fn reconcile_days(
    store: &Store,
    catalog: &Catalog,
    user_id: i64,
    first: Date,
    next: Date,
    threshold: &DriftThreshold,
) -> ApiResult<Vec<ReconciledDay>> {
    let connected: HashSet<String> = store.connections(user_id).await?.into_iter().map(|c| c.provider).collect();
    let (from, to) = (midnight_ms(first), midnight_ms(next));
    let mut sides: BTreeMap<(i64, String), DaySides> = BTreeMap::new();
    for row in store.tracked_days(user_id, from, to).await? {
        if connected.contains(&row.provider) {
            let key = model_key(catalog, &row.provider, &row.model);
            let day = sides.entry((row.day, row.provider.clone())).or_default();
            let entry = day.models.entry(key).or_default();
            match &mut entry.tracked {
                Some(t) => {
                    t.calls += row.calls;
                    t.cost += row.cost;
                    t.tokens += row.tokens;
                }
                None => entry.tracked = Some(row),
            }
        }
    }
    for row in store.reported_usage_days(user_id, from, to).await? {
        let day = sides.entry((row.day, row.provider.clone())).or_default();
        let model = row.model.clone();
        day.models.entry(model).or_default().reported = Some(row);
    }
    for BilledModelDay { day, provider, model, amount } in store.billed_days(user_id, from, to).await? {
        let entry = sides.entry((day, provider)).or_default();
        entry.billed_total += amount;
        if let Some(model) = model {
            *entry.models.entry(model).or_default().billed.get_or_insert(Money::ZERO) += amount;
        }
    }
    Ok(sides.into_iter().map(|((day, provider), sides)| reconciled_day(day, provider, sides, threshold)).collect())
}

fn reconciled_day(day: i64, provider: String, sides: DaySides, threshold: &DriftThreshold) -> ReconciledDay {
    let models: Vec<ReconciledModel> = sides.models.into_iter().map(|(model, s)| reconciled_model(model, &s)).collect();
    let tracked_usd: Money = models.iter().map(|m| m.tracked_usd).sum();
    let tracked_calls = models.iter().map(|m| m.tracked_calls).sum();
    let reported_usd: Money = models.iter().map(|m| m.reported_usd).sum();
    let basis = if sides.billed_total == Money::ZERO { reported_usd } else { sides.billed_total };
    let drift = Drift::between(tracked_usd, basis);
    ReconciledDay {
        date: day_of_ms(day).map(|d| d.to_string()).unwrap_or_default(),
        provider,
        tracked_calls,
        tracked_usd,
        reported_usd,
        billed_usd: sides.billed_total,
        untracked_usd: drift.untracked,
        untracked_share_percent: drift.untracked_share_percent,
        // A day without tracked calls is the provider-reported case, not a drift.
        drift_alert: tracked_calls > 0 && threshold.exceeded_by(&drift),
        models,
    }
}

fn reconciled_model(model: String, s: &ModelSides) -> ReconciledModel {
    let tracked_usd = s.tracked.as_ref().map_or(Money::ZERO, |t| t.cost);
    let tracked_tokens = s.tracked.as_ref().map_or(0, |t| t.tokens.total_tokens());
    let reported_usd = s.reported.as_ref().map_or(Money::ZERO, |r| r.cost);
    let reported_tokens = s.reported.as_ref().map_or(0, |r| r.tokens.total_tokens());
    let basis = s.billed.unwrap_or(reported_usd);
    ReconciledModel {
        model,
        tracked_calls: s.tracked.as_ref().map_or(0, |t| t.calls),
        tracked_tokens,
        tracked_usd,
        reported_tokens,
        reported_usd,
        billed_usd: s.billed,
        token_drift: i64::try_from(i128::from(reported_tokens) - i128::from(tracked_tokens)).unwrap_or(i64::MAX),
        untracked_usd: Drift::between(tracked_usd, basis).untracked,
    }
}

/// After a sync: one alert per UTC day and provider whose drift passes the
/// threshold (the alert's dedupe key makes it once), when the account has
/// alert channels. Failures are logged: the sync itself succeeded.
pub async fn raise_drift_alerts(state: &AppState, user_id: i64, provider: ReportProvider, result: &SyncResult) {
    let (Ok(first), Ok(next)) = (result.from.parse::<Date>(), result.until.parse::<Date>()) else { return };
    if state.store.channels(user_id).await.map_or(true, |c| c.is_empty()) {
        return;
    }
    let catalog = state.catalog();
    let threshold = state.settings.reports.drift;
    let days = match reconcile_days(&state.store, &catalog.catalog, user_id, first, next, &threshold).await {
        Ok(days) => days,
        Err(error) => {
            tracing::warn!(%error, "could not check the drift of the synced days");
            return;
        }
    };
    for day in days.iter().filter(|d| d.drift_alert && d.provider == provider.as_str()) {
        let Ok(date) = day.date.parse::<Date>() else { continue };
        let facts = AlertFacts::ProviderDrift {
            day: date,
            provider: day.provider.clone(),
            tracked: day.tracked_usd,
            billed: basis(day),
        };
        if let Err(error) = state.store.raise_alert(user_id, &facts, None, clock::now_ms()).await {
            tracing::warn!(%error, "could not raise a drift alert");
        }
    }
}
