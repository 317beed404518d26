//! Budget state: spent this calendar month (in the account's time zone)
//! against the monthly budget, and each threshold crossing recorded once per
//! period. The arithmetic (periods, states, projection) is
//! [`llmlab_core::budget`]'s; this module reads, caches and records.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_api::{BudgetState, BudgetStatus};
use llmlab_core::Money;
use llmlab_core::budget::{self, BudgetPeriod, PeriodBounds, Thresholds};
use llmlab_store::{BudgetRow, Store, User};
use rust_decimal::prelude::ToPrimitive;

use crate::error::{ApiError, ApiResult};

/// How long a cached month stays trusted before it is read again; other
/// replicas' events show up within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// The calendar month containing `now` in `tz`.
pub fn month_of(now: Timestamp, tz: &TimeZone) -> ApiResult<PeriodBounds> {
    BudgetPeriod::Month.bounds(now, tz).map_err(ApiError::internal)
}

/// The account's time zone, or UTC if it was stored unreadable.
#[must_use]
pub fn account_tz(user: &User) -> TimeZone {
    TimeZone::get(&user.timezone).unwrap_or(TimeZone::UTC)
}

#[derive(Clone)]
struct Month {
    loaded: Instant,
    period: PeriodBounds,
    budget: Option<BudgetRow>,
    spent: Money,
    unpriced: u64,
    recorded: BTreeSet<String>,
}

/// Per-account month figures, kept in memory between requests so a track
/// request does not re-sum the month; refreshed every [`CACHE_TTL`].
#[derive(Default)]
pub struct Budgets {
    months: Mutex<HashMap<i64, Month>>,
}

impl Budgets {
    /// Forgets an account's figures (after its budget or time zone changed).
    pub fn invalidate(&self, user_id: i64) {
        self.months.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&user_id);
    }

    /// The status after `new_events` (time, cost) were stored for `user`.
    /// `fresh` reads everything from the database instead of the cache.
    pub async fn status(
        &self,
        store: &Store,
        user: &User,
        new_events: &[(i64, Option<Money>)],
        fresh: bool,
    ) -> ApiResult<BudgetStatus> {
        let now = Timestamp::now();
        let period = month_of(now, &account_tz(user))?;
        let cached = self.cached(user.id, period, new_events, fresh);
        let mut month = match cached {
            Some(month) => month,
            None => load_month(store, user.id, period).await?,
        };
        let mut status = evaluate(&month, now);
        if let Some(alert) = self.record_crossings(store, user.id, &mut month, status.state).await? {
            status.alert = Some(alert);
        }
        self.months.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(user.id, month);
        Ok(status)
    }

    /// The cached month with `new_events` added, or `None` when it must be
    /// read from the database. When an entry goes stale, the first request
    /// to see it reloads it while concurrent ones keep using it: one reload
    /// per account per [`CACHE_TTL`], however many requests are in flight.
    fn cached(
        &self,
        user_id: i64,
        period: PeriodBounds,
        new_events: &[(i64, Option<Money>)],
        fresh: bool,
    ) -> Option<Month> {
        let mut months = self.months.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let month = months.get_mut(&user_id).filter(|m| !fresh && m.period == period)?;
        // Events committed before this read are in the database, not yet here.
        let range = period.ms_range();
        for (_, cost) in new_events.iter().filter(|(at, _)| range.contains(at)) {
            match cost {
                Some(cost) => month.spent += *cost,
                None => month.unpriced += 1,
            }
        }
        if month.loaded.elapsed() < CACHE_TTL {
            return Some(month.clone());
        }
        month.loaded = Instant::now(); // claim the reload
        None
    }

    /// Records thresholds reached for the first time this period; returns
    /// the highest newly recorded one.
    async fn record_crossings(
        &self,
        store: &Store,
        user_id: i64,
        month: &mut Month,
        state: BudgetState,
    ) -> ApiResult<Option<BudgetState>> {
        let reached: &[(&str, BudgetState)] = match state {
            BudgetState::Warning => &[("warning", BudgetState::Warning)],
            BudgetState::Exceeded => &[("warning", BudgetState::Warning), ("exceeded", BudgetState::Exceeded)],
            BudgetState::Ok | BudgetState::None => &[],
        };
        let mut newest = None;
        let period_start = month.period.key();
        for (threshold, as_state) in reached {
            if month.recorded.contains(*threshold) {
                continue;
            }
            let first_time =
                store.record_budget_alert(user_id, &period_start, threshold, crate::clock::now_ms()).await?;
            month.recorded.insert((*threshold).to_owned());
            if first_time {
                newest = Some(*as_state);
            }
        }
        Ok(newest)
    }
}

async fn load_month(store: &Store, user_id: i64, period: PeriodBounds) -> ApiResult<Month> {
    let range = period.ms_range();
    let rows = store.spend_between(user_id, range.start, range.end, None).await?;
    let budget = store.budget(user_id).await?;
    let recorded = store.budget_alerts(user_id, &period.key()).await?.into_iter().collect();
    Ok(Month {
        loaded: Instant::now(),
        period,
        budget,
        spent: rows.iter().map(|r| r.cost).sum(),
        unpriced: rows.iter().map(|r| r.unpriced_calls).sum(),
        recorded,
    })
}

/// The state of a month's spend against its budget, at `now`.
fn evaluate(month: &Month, now: Timestamp) -> BudgetStatus {
    let Some(row) = &month.budget else {
        return BudgetStatus::none(month.spent, month.unpriced);
    };
    let amount = Money::from_nanos(row.amount_nusd);
    // A display figure only; states are decided on exact integers.
    let percent = budget::percent_used(month.spent, amount).to_f64().unwrap_or(f64::MAX);
    let thresholds: Thresholds = row.thresholds.parse().unwrap_or_default();
    BudgetStatus {
        state: api_state(thresholds.state(month.spent, amount)),
        amount_usd: Some(amount),
        spent_usd: month.spent,
        percent_used: Some(percent),
        projected_usd: budget::projected(month.spent, &month.period, now),
        // The seed API's name for the account's `month` budget.
        period: Some("monthly".to_owned()),
        period_start: month.period.first_day.map(|day| day.to_string()),
        unpriced_calls: month.unpriced,
        alert: None,
    }
}

fn api_state(state: budget::BudgetState) -> BudgetState {
    match state {
        budget::BudgetState::Ok => BudgetState::Ok,
        budget::BudgetState::Warning => BudgetState::Warning,
        budget::BudgetState::Exceeded => BudgetState::Exceeded,
    }
}
