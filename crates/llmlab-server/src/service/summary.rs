//! `GET /api/costs/summary`, computed from the rollups only: the month's
//! rows, the 15-minute buckets of the last 30 days, and the all-time totals.
//! Local days are exact sums of buckets because every time zone offset is a
//! multiple of 15 minutes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use llmlab_api::{CostSummary, DailySpend, ModelSpend, ProjectSpend, ProviderSpend, UnpricedModel};
use llmlab_core::Money;
use llmlab_core::catalog::canonical_model_id;
use llmlab_store::{SeriesStep, SpendRow, Store, User};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::service::budgets::{account_tz, month_of};
use crate::service::{labels, reports};
use crate::state::AppState;

/// Days in the trend.
const TREND_DAYS: i16 = 30;

/// The time zone to report in: the `tz` parameter, else the account's.
/// The summary as `GET /api/costs/summary` and the dashboard show it: in
/// the requested time zone (default: the account's), for one project or
/// all (a blank name means all).
pub async fn summary(state: &AppState, user: &User, tz: Option<&str>, project: Option<&str>) -> ApiResult<CostSummary> {
    let (tz, tz_name) = time_zone(tz, user)?;
    let project = match project {
        Some(p) => labels::optional_text(p, labels::MAX_PROJECT_CHARS).map_err(|e| ApiError::invalid("project", e))?,
        None => None,
    };
    if let Some(name) = project {
        check_project_exists(state, user, name).await?;
    }
    summarize(&state.store, user, &tz, tz_name, project).await
}

/// A 404 naming the account's projects when it has none called `name`: a
/// typo would otherwise read as a project that cost nothing.
async fn check_project_exists(state: &AppState, user: &User, name: &str) -> ApiResult<()> {
    let projects = state.store.list_projects(user.id).await?;
    if projects.iter().any(|p| p.name == name) {
        return Ok(());
    }
    let names: Vec<String> = projects.iter().map(|p| format!("`{}`", p.name)).collect();
    Err(ApiError::new(
        ErrorCode::ProjectNotFound,
        format!("this account has no project `{name}`; its projects are {}", names.join(", ")),
    ))
}

pub fn time_zone(requested: Option<&str>, user: &User) -> ApiResult<(TimeZone, String)> {
    match requested.map(str::trim).filter(|t| !t.is_empty()) {
        Some(name) => TimeZone::get(name)
            .map(|tz| (tz, name.to_owned()))
            .map_err(|_| ApiError::invalid("tz", format!("`{name}` is not an IANA time zone such as `Europe/Paris`"))),
        None => Ok((account_tz(user), user.timezone.clone())),
    }
}

/// Builds the summary for `user` in `tz`, optionally for one project.
pub async fn summarize(
    store: &Store,
    user: &User,
    tz: &TimeZone,
    tz_name: String,
    project: Option<&str>,
) -> ApiResult<CostSummary> {
    let now = Timestamp::now();
    let today = now.to_zoned(tz.clone()).date();
    let month = month_of(now, tz)?.ms_range();
    let first_trend_day = today.checked_sub(jiff::Span::new().days(TREND_DAYS - 1)).map_err(ApiError::internal)?;
    let trend_start = midnight(first_trend_day, tz)?;
    let tomorrow = midnight(today.tomorrow().map_err(ApiError::internal)?, tz)?;

    let month_rows = store.spend_between(user.id, month.start, month.end, project).await?;
    let step = series_step(first_trend_day, today, tz)?;
    let buckets = store.spend_series(user.id, trend_start, tomorrow, project, step).await?;
    let all_time = store.spend_all_time(user.id, project).await?;

    let mut daily: BTreeMap<Date, (Money, u64)> = BTreeMap::new();
    let mut day = first_trend_day;
    while day <= today {
        daily.insert(day, (Money::ZERO, 0));
        day = day.tomorrow().map_err(ApiError::internal)?;
    }
    let mut today_partial_calls = 0;
    for bucket in &buckets {
        let date = Timestamp::from_millisecond(bucket.bucket).map_err(ApiError::internal)?.to_zoned(tz.clone()).date();
        if let Some((cost, calls)) = daily.get_mut(&date) {
            *cost += bucket.cost;
            *calls += bucket.calls;
        }
        if date == today {
            today_partial_calls += bucket.partial_calls;
        }
    }
    let (today_usd, today_calls) = daily.get(&today).copied().unwrap_or_default();

    let unpriced_models = all_time_unpriced(store, user, &all_time).await?;
    // The providers' reports are per organization, not per LLMLab project.
    let provider_reported = if project.is_none() {
        let today_utc = now.to_zoned(TimeZone::UTC).date();
        let first_utc = today_utc.checked_sub(jiff::Span::new().days(TREND_DAYS - 1)).map_err(ApiError::internal)?;
        reports::reported::reported_spend(store, user.id, first_utc, today_utc).await?
    } else {
        None
    };
    Ok(CostSummary {
        timezone: tz_name,
        project: project.map(str::to_owned),
        today_usd,
        month_usd: month_rows.iter().map(|r| r.cost).sum(),
        all_time_usd: all_time.iter().map(|r| r.cost).sum(),
        today_calls,
        month_calls: month_rows.iter().map(|r| r.calls).sum(),
        all_time_calls: all_time.iter().map(|r| r.calls).sum(),
        unpriced_calls: all_time.iter().map(|r| r.unpriced_calls).sum(),
        today_partial_calls,
        month_partial_calls: month_rows.iter().map(|r| r.partial_calls).sum(),
        all_time_partial_calls: all_time.iter().map(|r| r.partial_calls).sum(),
        unpriced_models,
        by_model: by_model(&month_rows),
        by_provider: by_provider(&month_rows),
        by_project: by_project(&month_rows),
        daily: daily
            .into_iter()
            .map(|(date, (cost_usd, calls))| DailySpend { date: date.to_string(), cost_usd, calls })
            .collect(),
        provider_reported,
    })
}

/// Hourly totals when every local midnight of the trend is a whole UTC hour
/// (most zones); quarter-hours for the others (India, Nepal, parts of Australia).
fn series_step(first: Date, last: Date, tz: &TimeZone) -> ApiResult<SeriesStep> {
    let mut day = first;
    while day <= last.tomorrow().map_err(ApiError::internal)? {
        if midnight(day, tz)?.rem_euclid(3_600_000) != 0 {
            return Ok(SeriesStep::Quarter);
        }
        day = day.tomorrow().map_err(ApiError::internal)?;
    }
    Ok(SeriesStep::Hour)
}

fn midnight(date: Date, tz: &TimeZone) -> ApiResult<i64> {
    Ok(date.to_zoned(tz.clone()).map_err(ApiError::internal)?.timestamp().as_millisecond())
}

/// Rows merged per (provider, model), most expensive first.
#[must_use]
pub fn by_model(rows: &[SpendRow]) -> Vec<ModelSpend> {
    let mut merged: BTreeMap<(&str, &str), SpendRow> = BTreeMap::new();
    for row in rows {
        let entry = merged.entry((&row.provider, &row.model)).or_insert_with(|| SpendRow {
            provider: row.provider.clone(),
            model: row.model.clone(),
            ..SpendRow::default()
        });
        entry.add(row);
    }
    let mut list: Vec<ModelSpend> = merged.into_values().map(model_spend).collect();
    list.sort_by(|a, b| b.cost_usd.cmp(&a.cost_usd).then(b.calls.cmp(&a.calls)).then(a.model.cmp(&b.model)));
    list
}

/// A model's merged row as the API shows it.
fn model_spend(row: SpendRow) -> ModelSpend {
    let t = row.tokens;
    ModelSpend {
        provider: row.provider,
        model: row.model,
        cost_usd: row.cost,
        calls: row.calls,
        unpriced_calls: row.unpriced_calls,
        partial_calls: row.partial_calls,
        input_tokens: t.input_tokens,
        cache_read_tokens: t.cache_read_tokens,
        cache_write_tokens: t.cache_write_tokens,
        cache_write_1h_tokens: t.cache_write_1h_tokens,
        output_tokens: t.output_tokens,
        reasoning_tokens: t.reasoning_tokens,
    }
}

fn by_provider(rows: &[SpendRow]) -> Vec<ProviderSpend> {
    merged_by(
        rows,
        |row| &row.provider,
        |provider, cost_usd, calls| ProviderSpend { provider: provider.to_owned(), cost_usd, calls },
    )
}

fn by_project(rows: &[SpendRow]) -> Vec<ProjectSpend> {
    merged_by(
        rows,
        |row| &row.project,
        |project, cost_usd, calls| ProjectSpend { project: project.to_owned(), cost_usd, calls },
    )
}

/// Spend and calls summed per `key` of the rows, dearest first (ties in key order).
fn merged_by<'r, T>(
    rows: &'r [SpendRow],
    key: impl Fn(&'r SpendRow) -> &'r str,
    build: impl Fn(&str, Money, u64) -> T,
) -> Vec<T> {
    let mut merged: BTreeMap<&str, (Money, u64)> = BTreeMap::new();
    for row in rows {
        let entry = merged.entry(key(row)).or_default();
        entry.0 += row.cost;
        entry.1 += row.calls;
    }
    let mut list: Vec<_> = merged.into_iter().collect();
    list.sort_by_key(|(_, (cost, _))| std::cmp::Reverse(*cost));
    list.into_iter().map(|(key, (cost, calls))| build(key, cost, calls)).collect()
}

/// Models with unpriced calls, from the totals, most calls first; the first
/// [`MAX_UNPRICED_REASONS`] with why one of their calls is unpriced (a
/// lookup on the unpriced-events index each).
async fn all_time_unpriced(store: &Store, user: &User, all_time: &[SpendRow]) -> ApiResult<Vec<UnpricedModel>> {
    let mut models: Vec<ModelSpend> = by_model(all_time).into_iter().filter(|m| m.unpriced_calls > 0).collect();
    models.sort_by_key(|m| std::cmp::Reverse(m.unpriced_calls));
    let mut list = Vec::with_capacity(models.len());
    for (rank, m) in models.into_iter().enumerate() {
        let cause = if rank < MAX_UNPRICED_REASONS {
            store.unpriced_reason(user.id, &m.provider, &m.model, &canonical_model_id(&m.model)).await?
        } else {
            None
        };
        let (code, reason) = cause.map_or((None, None), |c| (c.code, c.reason));
        list.push(UnpricedModel { code, reason, provider: m.provider, model: m.model, calls: m.unpriced_calls });
    }
    Ok(list)
}

/// Unpriced models whose reason a summary looks up.
const MAX_UNPRICED_REASONS: usize = 20;
