//! Budget state: spent this calendar month (in the account's time zone)
//! against the monthly budget, decided with exact integers, and each
//! threshold crossing recorded once per period.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use llmlab_api::{BudgetState, BudgetStatus};
use llmlab_core::Money;
use llmlab_store::{BudgetRow, Store, User};
use rust_decimal::Decimal;

use crate::error::{ApiError, ApiResult};

/// How long a cached month stays trusted before it is read again; other
/// replicas' events show up within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// A calendar month in a time zone, as Unix ms `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub first_day: Date,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Period {
    /// The month containing `now` in `tz`.
    pub fn month_of(now: Timestamp, tz: &TimeZone) -> ApiResult<Period> {
        let local = now.to_zoned(tz.clone());
        let first_day = local.date().first_of_month();
        let start = first_day.to_zoned(tz.clone()).map_err(ApiError::internal)?;
        let next = first_day.last_of_month().tomorrow().map_err(ApiError::internal)?;
        let end = next.to_zoned(tz.clone()).map_err(ApiError::internal)?;
        Ok(Period { first_day, start_ms: start.timestamp().as_millisecond(), end_ms: end.timestamp().as_millisecond() })
    }

    fn contains(&self, ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&ms)
    }
}

/// The account's time zone, or UTC if it was stored unreadable.
#[must_use]
pub fn account_tz(user: &User) -> TimeZone {
    TimeZone::get(&user.timezone).unwrap_or(TimeZone::UTC)
}

#[derive(Clone)]
struct Month {
    loaded: Instant,
    period: Period,
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
        let period = Period::month_of(now, &account_tz(user))?;
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
    fn cached(&self, user_id: i64, period: Period, new_events: &[(i64, Option<Money>)], fresh: bool) -> Option<Month> {
        let mut months = self.months.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let month = months.get_mut(&user_id).filter(|m| !fresh && m.period == period)?;
        // Events committed before this read are in the database, not yet here.
        for (_, cost) in new_events.iter().filter(|(at, _)| period.contains(*at)) {
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
        let period_start = month.period.first_day.to_string();
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

async fn load_month(store: &Store, user_id: i64, period: Period) -> ApiResult<Month> {
    let rows = store.spend_between(user_id, period.start_ms, period.end_ms, None).await?;
    let budget = store.budget(user_id).await?;
    let recorded = store.budget_alerts(user_id, &period.first_day.to_string()).await?.into_iter().collect();
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
    let Some(budget) = &month.budget else {
        return BudgetStatus::none(month.spent, month.unpriced);
    };
    let amount = Money::from_nanos(budget.amount_nusd);
    BudgetStatus {
        state: state_of(month.spent, amount),
        amount_usd: Some(amount),
        spent_usd: month.spent,
        percent_used: Some(percent(month.spent, amount)),
        projected_usd: Some(projected(month.spent, month.period, now)),
        period: Some(budget.period.clone()),
        period_start: Some(month.period.first_day.to_string()),
        unpriced_calls: month.unpriced,
        alert: None,
    }
}

/// `warning` from exactly 80%, `exceeded` from exactly 100%, in integer nano-USD.
#[must_use]
pub fn state_of(spent: Money, amount: Money) -> BudgetState {
    let spent = i128::from(spent.nanos());
    let amount = i128::from(amount.nanos());
    if spent >= amount {
        BudgetState::Exceeded
    } else if spent * 5 >= amount * 4 {
        BudgetState::Warning
    } else {
        BudgetState::Ok
    }
}

/// `spent / amount × 100`, rounded to two places; a display figure only.
fn percent(spent: Money, amount: Money) -> f64 {
    if amount.nanos() == 0 {
        return 0.0;
    }
    let exact = Decimal::from(spent.nanos()) * Decimal::ONE_HUNDRED / Decimal::from(amount.nanos());
    rust_decimal::prelude::ToPrimitive::to_f64(&exact.round_dp(2)).unwrap_or(f64::MAX)
}

/// Month-end spend at the run rate so far: spent × month length ÷ elapsed.
fn projected(spent: Money, period: Period, now: Timestamp) -> Money {
    let elapsed = (now.as_millisecond() - period.start_ms).max(1);
    let length = period.end_ms - period.start_ms;
    let exact = Decimal::from(spent.nanos()) * Decimal::from(length) / Decimal::from(elapsed);
    Money::from_nanos(rust_decimal::prelude::ToPrimitive::to_i64(&exact.round()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn states_change_exactly_at_80_and_100_percent() {
        let budget = usd("500");
        assert_eq!(state_of(usd("399.999999999"), budget), BudgetState::Ok);
        assert_eq!(state_of(usd("400"), budget), BudgetState::Warning);
        assert_eq!(state_of(usd("499.999999999"), budget), BudgetState::Warning);
        assert_eq!(state_of(usd("500"), budget), BudgetState::Exceeded);
        assert_eq!(state_of(usd("0.000000008"), usd("0.00000001")), BudgetState::Warning);
        assert_eq!(state_of(usd("0.000000007"), usd("0.00000001")), BudgetState::Ok);
    }

    #[test]
    fn months_follow_the_time_zone() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // 2026-12-01 03:00 UTC is still November 30th in New York.
        let now: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        let period = Period::month_of(now, &tz).unwrap();
        assert_eq!(period.first_day, Date::constant(2026, 11, 1));
        let utc = Period::month_of(now, &TimeZone::UTC).unwrap();
        assert_eq!(utc.first_day, Date::constant(2026, 12, 1));
    }

    #[test]
    fn projection_scales_the_run_rate_to_the_whole_month() {
        let period = Period::month_of("2026-11-16T00:00:00Z".parse().unwrap(), &TimeZone::UTC).unwrap();
        // Half of November (15 of 30 days) gone, $100 spent → $200 projected.
        let projected = projected(usd("100"), period, "2026-11-16T00:00:00Z".parse().unwrap());
        assert_eq!(projected, usd("200"));
    }
}
