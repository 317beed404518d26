//! Budget arithmetic: calendar periods in the account's time zone, the state
//! of spend against an amount, threshold crossings and the period-end
//! projection. Every comparison is exact integer nano-USD; the time zone is
//! passed in, so nothing here reads a clock or a tz database file.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::Money;

mod scope;

pub use scope::{CallLabels, Scope};

/// How often a budget starts over. Day, week and month are calendar periods
/// in the account's time zone; a week starts on Monday. Serialized by its
/// [`BudgetPeriod::as_str`] name; `monthly` is read as `month`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Day,
    Week,
    #[serde(alias = "monthly")]
    Month,
    /// Never resets: everything ever spent counts.
    Total,
}

impl BudgetPeriod {
    /// Every period, shortest first.
    pub const ALL: [BudgetPeriod; 4] =
        [BudgetPeriod::Day, BudgetPeriod::Week, BudgetPeriod::Month, BudgetPeriod::Total];

    /// The canonical name: `day`, `week`, `month` or `total`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Week => "week",
            BudgetPeriod::Month => "month",
            BudgetPeriod::Total => "total",
        }
    }

    /// The period containing `now` in `tz`, as `[start, end)`.
    ///
    /// A period starts at the first instant of its first local day (midnight,
    /// or the end of a DST gap that swallows midnight), so a day lasts 23 or
    /// 25 hours across a DST change and a month is its calendar days however
    /// long they are. `Total` starts at [`Timestamp::MIN`] and never ends.
    ///
    /// # Errors
    /// [`BudgetError::OutOfRange`] when the period's edges fall outside the
    /// range `jiff` can represent (years −9999 to 9999).
    pub fn bounds(self, now: Timestamp, tz: &TimeZone) -> Result<PeriodBounds, BudgetError> {
        let today = now.to_zoned(tz.clone()).date();
        let (first_day, next_first_day) = match self {
            BudgetPeriod::Total => {
                return Ok(PeriodBounds { period: self, first_day: None, start: Timestamp::MIN, end: None });
            }
            BudgetPeriod::Day => (today, today.tomorrow()?),
            BudgetPeriod::Week => {
                let monday = today.checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days())?;
                (monday, monday.checked_add(7.days())?)
            }
            BudgetPeriod::Month => (today.first_of_month(), today.last_of_month().tomorrow()?),
        };
        Ok(PeriodBounds {
            period: self,
            first_day: Some(first_day),
            start: start_of(first_day, tz)?,
            end: Some(start_of(next_first_day, tz)?),
        })
    }
}

/// The first instant of `day` in `tz`.
fn start_of(day: Date, tz: &TimeZone) -> Result<Timestamp, BudgetError> {
    // `to_zoned` resolves a midnight lost to a DST gap to the gap's end,
    // which is exactly when the local day begins.
    Ok(day.to_zoned(tz.clone())?.timestamp())
}

impl fmt::Display for BudgetPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BudgetPeriod {
    type Err = BudgetError;

    /// `day`, `week`, `month`, `total`, and `monthly` (the seed API's name
    /// for a month). Names are case-sensitive, as on the wire.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "day" => Ok(BudgetPeriod::Day),
            "week" => Ok(BudgetPeriod::Week),
            "month" | "monthly" => Ok(BudgetPeriod::Month),
            "total" => Ok(BudgetPeriod::Total),
            _ => Err(BudgetError::UnknownPeriod(name.to_owned())),
        }
    }
}

/// One period of a budget: `[start, end)`, `end` being `None` for `Total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodBounds {
    pub period: BudgetPeriod,
    /// The period's first local day; `None` for `Total`.
    pub first_day: Option<Date>,
    /// The first instant in the period.
    pub start: Timestamp,
    /// The first instant of the next period; `None` for `Total`.
    pub end: Option<Timestamp>,
}

impl PeriodBounds {
    /// Whether `at` falls in this period.
    #[must_use]
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && self.end.is_none_or(|end| at < end)
    }

    /// The bounds in Unix milliseconds, for queries over stored events;
    /// a period without an end runs to `i64::MAX`, past any stored time.
    #[must_use]
    pub fn ms_range(&self) -> Range<i64> {
        self.start.as_millisecond()..self.end.map_or(i64::MAX, Timestamp::as_millisecond)
    }

    /// The key that tells one period of a budget from the next (for
    /// "recorded once per period"): the first day, `YYYY-MM-DD`, or `total`.
    #[must_use]
    pub fn key(&self) -> String {
        self.first_day.map_or_else(|| BudgetPeriod::Total.as_str().to_owned(), |day| day.to_string())
    }

    /// Length in milliseconds; `None` for `Total`.
    fn length_ms(&self) -> Option<i64> {
        Some(self.end?.as_millisecond() - self.start.as_millisecond())
    }

    /// Milliseconds of the period gone at `now`, at least 1 (the run rate
    /// divides by it) and at most the period's length.
    fn elapsed_ms(&self, now: Timestamp) -> Option<i64> {
        let length = self.length_ms()?;
        Some((now.as_millisecond() - self.start.as_millisecond()).clamp(1, length.max(1)))
    }
}

/// A threshold, as a percentage of a budget's amount with at most two
/// decimal places, held as hundredths of a percent so comparisons are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Percent(u32);

impl Percent {
    /// The largest threshold accepted: ten times the amount.
    pub const MAX: Percent = Percent(1000 * 100);
    /// The default warning threshold.
    pub const EIGHTY: Percent = Percent(80 * 100);
    /// The budget's amount itself.
    pub const HUNDRED: Percent = Percent(100 * 100);

    /// A threshold from a decimal percentage, e.g. `80` or `92.5`.
    ///
    /// # Errors
    /// Not above 0, above [`Percent::MAX`], or more than two decimal places.
    pub fn from_decimal(percent: Decimal) -> Result<Self, BudgetError> {
        if percent <= Decimal::ZERO {
            return Err(BudgetError::NotPositive(percent));
        }
        if percent > Percent::MAX.to_decimal() {
            return Err(BudgetError::AboveMax(percent));
        }
        let hundredths = percent * Decimal::ONE_HUNDRED;
        if hundredths.fract() != Decimal::ZERO {
            return Err(BudgetError::TooPrecise(percent));
        }
        Ok(Percent(hundredths.to_u32().ok_or(BudgetError::AboveMax(percent))?))
    }

    /// The percentage as a decimal, e.g. `80` or `92.5`.
    #[must_use]
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(i64::from(self.0), 2).normalize()
    }

    /// Whether `spent` is at least this share of `amount`, exactly.
    #[must_use]
    pub fn reached(self, spent: Money, amount: Money) -> bool {
        // Hundredths of a percent: spent / amount ≥ p / 10 000.
        i128::from(spent.nanos()) * 10_000 >= i128::from(amount.nanos()) * i128::from(self.0)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.to_decimal())
    }
}

impl FromStr for Percent {
    type Err = BudgetError;

    /// `80`, `80%` or `92.5`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.trim().strip_suffix('%').unwrap_or(text.trim()).trim();
        let percent = Decimal::from_str_exact(number).map_err(|_| BudgetError::NotAPercent(text.to_owned()))?;
        Percent::from_decimal(percent)
    }
}

/// A budget's alert thresholds: distinct, ascending, at most
/// [`Thresholds::MAX_LEN`]. The default is 80% and 100%.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Thresholds(Vec<Percent>);

impl Thresholds {
    /// The most thresholds one budget may have.
    pub const MAX_LEN: usize = 10;

    /// Thresholds from a list in any order; an empty list means no alerts.
    ///
    /// # Errors
    /// [`BudgetError::Duplicate`] for a percentage given twice,
    /// [`BudgetError::TooMany`] past [`Thresholds::MAX_LEN`].
    pub fn new(mut percents: Vec<Percent>) -> Result<Self, BudgetError> {
        if percents.len() > Self::MAX_LEN {
            return Err(BudgetError::TooMany(percents.len()));
        }
        percents.sort_unstable();
        if let Some(pair) = percents.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(BudgetError::Duplicate(pair[0]));
        }
        Ok(Thresholds(percents))
    }

    /// The thresholds, ascending.
    #[must_use]
    pub fn as_slice(&self) -> &[Percent] {
        &self.0
    }

    /// The state of `spent` against `amount`: `Exceeded` from exactly 100%
    /// (the amount is the limit, whatever the thresholds), `Warning` from
    /// the lowest threshold below 100%, otherwise `Ok`. A budget whose
    /// thresholds are all 100% or more has no warning state.
    #[must_use]
    pub fn state(&self, spent: Money, amount: Money) -> BudgetState {
        if Percent::HUNDRED.reached(spent, amount) {
            BudgetState::Exceeded
        } else if self.0.iter().any(|t| *t < Percent::HUNDRED && t.reached(spent, amount)) {
            BudgetState::Warning
        } else {
            BudgetState::Ok
        }
    }

    /// The highest threshold `spent` has reached, if any.
    #[must_use]
    pub fn highest_reached(&self, spent: Money, amount: Money) -> Option<Percent> {
        self.0.iter().rev().copied().find(|t| t.reached(spent, amount))
    }

    /// The thresholds a change from `old` to `new` spend crossed upwards
    /// (not reached at `old`, reached at `new`), ascending. Spend going
    /// down (a correction) crosses none.
    #[must_use]
    pub fn crossed(&self, old: Money, new: Money, amount: Money) -> Vec<Percent> {
        self.0.iter().copied().filter(|t| !t.reached(old, amount) && t.reached(new, amount)).collect()
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds(vec![Percent::EIGHTY, Percent::HUNDRED])
    }
}

impl fmt::Display for Thresholds {
    /// Comma-separated percentages without `%`, e.g. `80,100`: the form
    /// [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", t.to_decimal())?;
        }
        Ok(())
    }
}

impl FromStr for Thresholds {
    type Err = BudgetError;

    /// Comma-separated percentages (`80,100`, `50%, 90%`); empty for none.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Ok(Thresholds(Vec::new()));
        }
        Thresholds::new(text.split(',').map(str::parse).collect::<Result<_, _>>()?)
    }
}

/// Where spend stands against a budget's amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BudgetState {
    /// Below every threshold under 100%.
    Ok,
    /// From the lowest threshold under 100% (80% by default).
    Warning,
    /// From exactly 100% of the amount.
    Exceeded,
}

/// `spent / amount × 100`, rounded half-even to two places; 0 for a zero amount.
#[must_use]
pub fn percent_used(spent: Money, amount: Money) -> Decimal {
    if amount.nanos() == 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(spent.nanos()) * Decimal::ONE_HUNDRED / Decimal::from(amount.nanos())).round_dp(2)
}

/// Period-end spend at the run rate so far: `spent × length ÷ elapsed`,
/// rounded half-even to a nano-USD (saturating at [`Money::MAX`]). Elapsed
/// time is at least 1 ms and at most the period's length. `None` for
/// `Total`, which has no end to project to.
#[must_use]
pub fn projected(spent: Money, bounds: &PeriodBounds, now: Timestamp) -> Option<Money> {
    let length = bounds.length_ms()?;
    let elapsed = bounds.elapsed_ms(now)?;
    // ≤ 9.3·10¹⁸ nano-USD × 2.7·10⁹ ms (a 31-day month) < Decimal's 7.9·10²⁸.
    let exact = Decimal::from(spent.nanos()).checked_mul(Decimal::from(length))? / Decimal::from(elapsed);
    Some(Money::from_nanos(exact.round().to_i64().unwrap_or(i64::MAX)))
}

/// When spend reaches a threshold, at the current run rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// Spend has already reached it.
    Reached,
    /// Spend is projected to reach it at this instant, before the period ends.
    At(Timestamp),
}

/// When `spent` reaches `threshold` of `amount` if spending goes on at the
/// run rate so far (`spent ÷ elapsed`): [`Crossing::Reached`] if it already
/// has, [`Crossing::At`] the first millisecond at which the run rate reaches
/// it, or `None` when it is not projected to within the period (nothing
/// spent yet, a crossing exactly at or after the period's end) and always
/// for `Total`, which has no end to project to. With `threshold` 100% a
/// crossing is projected exactly when [`projected`] (unrounded) exceeds the
/// amount.
#[must_use]
pub fn projected_crossing(
    spent: Money,
    amount: Money,
    threshold: Percent,
    bounds: &PeriodBounds,
    now: Timestamp,
) -> Option<Crossing> {
    let end = bounds.end?;
    if threshold.reached(spent, amount) {
        return Some(Crossing::Reached);
    }
    if spent.nanos() <= 0 {
        return None;
    }
    let elapsed = bounds.elapsed_ms(now)?;
    // target / (spent / elapsed), target = amount × threshold; in i128 the
    // product stays below 9.3·10¹⁸ × 10⁵ × 2.7·10⁹ ≈ 2.5·10³³ < 1.7·10³⁸.
    let numerator = i128::from(amount.nanos()) * i128::from(threshold.0) * i128::from(elapsed);
    let denominator = i128::from(spent.nanos()) * 10_000;
    // Both positive here: `spent` is, and a non-positive amount is already reached.
    let after_ms = (numerator + denominator - 1) / denominator;
    let at_ms = i128::from(bounds.start.as_millisecond()) + after_ms;
    if at_ms >= i128::from(end.as_millisecond()) {
        return None;
    }
    Timestamp::from_millisecond(i64::try_from(at_ms).ok()?).ok().map(Crossing::At)
}

/// Why a budget setting was refused, or a period could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("`{0}` is not a budget period; use `day`, `week`, `month` or `total`")]
    UnknownPeriod(String),
    #[error("`{0}` is not a percentage such as `80` or `92.5%`")]
    NotAPercent(String),
    #[error("a threshold must be more than 0%, not {0}%")]
    NotPositive(Decimal),
    #[error("a threshold must be at most 1000%, not {0}%")]
    AboveMax(Decimal),
    #[error("a threshold has at most two decimal places, not {0}%")]
    TooPrecise(Decimal),
    #[error("the threshold {0} is given twice")]
    Duplicate(Percent),
    #[error("a budget has at most 10 thresholds, not {0}")]
    TooMany(usize),
    #[error("{0}")]
    InvalidScope(String),
    #[error("the budget period falls outside the supported dates: {0}")]
    OutOfRange(String),
}

impl From<jiff::Error> for BudgetError {
    fn from(error: jiff::Error) -> Self {
        BudgetError::OutOfRange(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn usd(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn pct(s: &str) -> Percent {
        s.parse().unwrap()
    }

    fn hours(bounds: &PeriodBounds) -> i64 {
        bounds.length_ms().unwrap() / 3_600_000
    }

    #[test]
    fn periods_parse_and_display_by_name_and_monthly_means_month() {
        for period in BudgetPeriod::ALL {
            assert_eq!(period.to_string().parse::<BudgetPeriod>(), Ok(period));
        }
        assert_eq!("monthly".parse(), Ok(BudgetPeriod::Month));
        assert_eq!(BudgetPeriod::Month.to_string(), "month");
        let error = "yearly".parse::<BudgetPeriod>().unwrap_err();
        assert_eq!(error, BudgetError::UnknownPeriod("yearly".to_owned()));
        assert_eq!(error.to_string(), "`yearly` is not a budget period; use `day`, `week`, `month` or `total`");
        assert!("Month".parse::<BudgetPeriod>().is_err());
        assert_eq!(serde_json::to_string(&BudgetPeriod::Week).unwrap(), r#""week""#);
        assert_eq!(serde_json::from_str::<BudgetPeriod>(r#""monthly""#).unwrap(), BudgetPeriod::Month);
        assert_eq!(serde_json::from_str::<BudgetPeriod>(r#""total""#).unwrap(), BudgetPeriod::Total);
    }

    #[test]
    fn states_change_exactly_at_80_and_100_percent() {
        let budget = usd("500");
        let t = Thresholds::default();
        assert_eq!(t.state(usd("399.999999999"), budget), BudgetState::Ok);
        assert_eq!(t.state(usd("400"), budget), BudgetState::Warning);
        assert_eq!(t.state(usd("499.999999999"), budget), BudgetState::Warning);
        assert_eq!(t.state(usd("500"), budget), BudgetState::Exceeded);
        assert_eq!(t.state(usd("0.000000008"), usd("0.00000001")), BudgetState::Warning);
        assert_eq!(t.state(usd("0.000000007"), usd("0.00000001")), BudgetState::Ok);
        assert_eq!(percent_used(usd("400"), budget), Decimal::new(8000, 2));
        assert_eq!(percent_used(usd("500"), budget), Decimal::ONE_HUNDRED);
        assert_eq!(percent_used(usd("1"), usd("3")), Decimal::new(3333, 2));
        assert_eq!(percent_used(usd("1"), Money::ZERO), Decimal::ZERO);
    }

    #[test]
    fn custom_thresholds_set_the_warning_and_100_percent_is_always_exceeded() {
        let amount = usd("200");
        let t: Thresholds = "50, 92.5%,150".parse().unwrap();
        assert_eq!(t.as_slice(), [pct("50"), pct("92.5"), pct("150")]);
        assert_eq!(t.to_string(), "50,92.5,150");
        assert_eq!(t.state(usd("99.999999999"), amount), BudgetState::Ok);
        assert_eq!(t.state(usd("100"), amount), BudgetState::Warning);
        assert_eq!(t.state(usd("200"), amount), BudgetState::Exceeded);
        assert_eq!(t.highest_reached(usd("185"), amount), Some(pct("92.5")));
        assert_eq!(t.highest_reached(usd("300"), amount), Some(pct("150")));
        assert_eq!(t.highest_reached(usd("1"), amount), None);
        let only_limit: Thresholds = "100".parse().unwrap();
        assert_eq!(only_limit.state(usd("199"), amount), BudgetState::Ok);
        let none: Thresholds = "".parse().unwrap();
        assert_eq!(none.as_slice(), []);
        assert_eq!(none.state(usd("200"), amount), BudgetState::Exceeded);
    }

    #[test]
    fn crossings_are_the_thresholds_passed_between_old_and_new_spend() {
        let amount = usd("100");
        let t = Thresholds::default();
        assert_eq!(t.crossed(usd("79.99"), usd("80"), amount), [Percent::EIGHTY]);
        assert_eq!(t.crossed(usd("80"), usd("99.99"), amount), []);
        assert_eq!(t.crossed(usd("10"), usd("100"), amount), [Percent::EIGHTY, Percent::HUNDRED]);
        assert_eq!(t.crossed(usd("99.999999999"), usd("100"), amount), [Percent::HUNDRED]);
        assert_eq!(t.crossed(usd("100"), usd("150"), amount), []);
        assert_eq!(t.crossed(usd("100"), usd("10"), amount), [], "spend going down crosses nothing");
    }

    #[test]
    fn thresholds_are_validated_with_typed_errors() {
        assert_eq!("0".parse::<Percent>(), Err(BudgetError::NotPositive(Decimal::ZERO)));
        assert_eq!("-5".parse::<Percent>(), Err(BudgetError::NotPositive(Decimal::from(-5))));
        assert_eq!("1000.01".parse::<Percent>(), Err(BudgetError::AboveMax(Decimal::new(100_001, 2))));
        assert_eq!("1000%".parse::<Percent>(), Ok(Percent::MAX));
        assert_eq!("80.125".parse::<Percent>(), Err(BudgetError::TooPrecise(Decimal::new(80_125, 3))));
        assert_eq!("80.10".parse::<Percent>().unwrap().to_string(), "80.1%");
        assert_eq!("0.01".parse::<Percent>().unwrap().to_string(), "0.01%");
        assert!(matches!("eighty".parse::<Percent>(), Err(BudgetError::NotAPercent(_))));
        assert_eq!("80,100,80.0".parse::<Thresholds>(), Err(BudgetError::Duplicate(Percent::EIGHTY)));
        let eleven = (1..=11).map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        assert_eq!(eleven.parse::<Thresholds>(), Err(BudgetError::TooMany(11)));
        assert_eq!("100,80".parse::<Thresholds>(), Ok(Thresholds::default()), "sorted on the way in");
        assert_eq!(
            BudgetError::AboveMax(Decimal::from(2000)).to_string(),
            "a threshold must be at most 1000%, not 2000%"
        );
    }

    #[test]
    fn months_follow_the_time_zone() {
        // 2026-12-01 03:00 UTC is still November 30th in New York.
        let now = at("2026-12-01T03:00:00Z");
        let month = BudgetPeriod::Month.bounds(now, &tz("America/New_York")).unwrap();
        assert_eq!(month.first_day, Some(Date::constant(2026, 11, 1)));
        assert_eq!(month.start, at("2026-11-01T04:00:00Z"), "EDT until November 1st");
        assert_eq!(month.end, Some(at("2026-12-01T05:00:00Z")));
        assert_eq!(month.key(), "2026-11-01");
        let utc = BudgetPeriod::Month.bounds(now, &TimeZone::UTC).unwrap();
        assert_eq!(utc.first_day, Some(Date::constant(2026, 12, 1)));
    }

    #[test]
    fn a_month_across_a_dst_change_is_its_calendar_days() {
        let berlin = tz("Europe/Berlin");
        // Summer time starts on 2026-03-29: March is one hour short.
        let march = BudgetPeriod::Month.bounds(at("2026-03-30T12:00:00Z"), &berlin).unwrap();
        assert_eq!(march.start, at("2026-02-28T23:00:00Z"));
        assert_eq!(march.end, Some(at("2026-03-31T22:00:00Z")));
        assert_eq!(hours(&march), 31 * 24 - 1);
        // Summer time ends on 2026-10-25: October is one hour long.
        let october = BudgetPeriod::Month.bounds(at("2026-10-01T00:00:00Z"), &berlin).unwrap();
        assert_eq!(october.start, at("2026-09-30T22:00:00Z"));
        assert_eq!(october.end, Some(at("2026-10-31T23:00:00Z")));
        assert_eq!(hours(&october), 31 * 24 + 1);
        // The last hour of October in UTC is already November in Berlin.
        let november = BudgetPeriod::Month.bounds(at("2026-10-31T23:00:00Z"), &berlin).unwrap();
        assert_eq!(november.first_day, Some(Date::constant(2026, 11, 1)));
    }

    #[test]
    fn days_last_23_or_25_hours_across_a_dst_change() {
        let berlin = tz("Europe/Berlin");
        let short = BudgetPeriod::Day.bounds(at("2026-03-29T12:00:00Z"), &berlin).unwrap();
        assert_eq!((short.start, short.end), (at("2026-03-28T23:00:00Z"), Some(at("2026-03-29T22:00:00Z"))));
        assert_eq!(hours(&short), 23);
        let long = BudgetPeriod::Day.bounds(at("2026-10-25T12:00:00Z"), &berlin).unwrap();
        assert_eq!((long.start, long.end), (at("2026-10-24T22:00:00Z"), Some(at("2026-10-25T23:00:00Z"))));
        assert_eq!(hours(&long), 25);
        // Chile skips midnight itself: 2026-09-06 starts at 01:00 local.
        let santiago = BudgetPeriod::Day.bounds(at("2026-09-06T12:00:00Z"), &tz("America/Santiago")).unwrap();
        assert_eq!(santiago.start, at("2026-09-06T04:00:00Z"));
        assert_eq!(hours(&santiago), 23);
    }

    #[test]
    fn weeks_start_on_monday_in_the_accounts_time_zone() {
        let kolkata = tz("Asia/Kolkata");
        // Sunday 2026-12-06 20:00 UTC is Monday 01:30 in Kolkata: a new week there.
        let now = at("2026-12-06T20:00:00Z");
        let week = BudgetPeriod::Week.bounds(now, &kolkata).unwrap();
        assert_eq!(week.first_day, Some(Date::constant(2026, 12, 7)));
        assert_eq!((week.start, week.end), (at("2026-12-06T18:30:00Z"), Some(at("2026-12-13T18:30:00Z"))));
        let utc = BudgetPeriod::Week.bounds(now, &TimeZone::UTC).unwrap();
        assert_eq!(utc.first_day, Some(Date::constant(2026, 11, 30)));
        let before = BudgetPeriod::Week.bounds(at("2026-12-06T18:29:59.999Z"), &kolkata).unwrap();
        assert_eq!(before.end, Some(week.start));
        // A Monday is the first day of its own week.
        let monday = BudgetPeriod::Week.bounds(at("2026-12-07T00:00:00Z"), &TimeZone::UTC).unwrap();
        assert_eq!(monday.first_day, Some(Date::constant(2026, 12, 7)));
    }

    #[test]
    fn a_week_across_a_dst_change_in_los_angeles_is_167_hours() {
        // Daylight time starts on Sunday 2026-03-08.
        let week = BudgetPeriod::Week.bounds(at("2026-03-08T12:00:00Z"), &tz("America/Los_Angeles")).unwrap();
        assert_eq!(week.first_day, Some(Date::constant(2026, 3, 2)));
        assert_eq!((week.start, week.end), (at("2026-03-02T08:00:00Z"), Some(at("2026-03-09T07:00:00Z"))));
        assert_eq!(hours(&week), 7 * 24 - 1);
    }

    #[test]
    fn total_starts_at_the_beginning_of_time_and_never_ends() {
        let total = BudgetPeriod::Total.bounds(at("2026-12-07T00:00:00Z"), &tz("Asia/Kolkata")).unwrap();
        assert_eq!((total.start, total.end, total.first_day), (Timestamp::MIN, None, None));
        assert!(total.contains(Timestamp::MIN) && total.contains(Timestamp::MAX));
        assert_eq!(total.ms_range().end, i64::MAX);
        assert_eq!(total.key(), "total");
        assert_eq!(projected(usd("10"), &total, Timestamp::MAX), None);
        let crossing = projected_crossing(usd("10"), usd("5"), Percent::HUNDRED, &total, Timestamp::MAX);
        assert_eq!(crossing, None, "no end, no projection, even when over");
    }

    #[test]
    fn projection_scales_the_run_rate_to_the_whole_month() {
        let now = at("2026-11-16T00:00:00Z");
        let month = BudgetPeriod::Month.bounds(now, &TimeZone::UTC).unwrap();
        // Half of November (15 of 30 days) gone, $100 spent → $200 projected.
        assert_eq!(projected(usd("100"), &month, now), Some(usd("200")));
        // A third of it gone: exact thirds round half-even to the nano-USD.
        let third = at("2026-11-11T00:00:00Z");
        assert_eq!(projected(usd("0.000000001"), &month, third), Some(usd("0.000000003")));
        assert_eq!(projected(usd("0.000000005"), &month, at("2026-11-13T00:00:00Z")), Some(usd("0.000000012")));
        // At the first millisecond the run rate divides by 1 ms, as before.
        assert_eq!(projected(usd("0.000000001"), &month, month.start), Some(usd("2.592")));
        assert_eq!(projected(Money::MAX, &month, month.start), Some(Money::MAX), "saturates");
    }

    #[test]
    fn projection_and_crossing_use_the_real_length_of_a_dst_month() {
        let berlin = tz("Europe/Berlin");
        // March in Berlin is 743 hours; 371.5 of them are gone at 10:30 UTC on the 16th.
        let now = at("2026-03-16T10:30:00Z");
        let march = BudgetPeriod::Month.bounds(now, &berlin).unwrap();
        assert_eq!(projected(usd("100"), &march, now), Some(usd("200")));
        let crossing = |amount| projected_crossing(usd("100"), usd(amount), Percent::HUNDRED, &march, now);
        // $150 is reached after 1.5 × 371.5 h = 557.25 h.
        assert_eq!(crossing("150"), Some(Crossing::At(at("2026-03-24T04:15:00Z"))));
        // $199.99: 1.9999 × 371.5 h, 133.74 s before the end.
        assert_eq!(crossing("199.99"), Some(Crossing::At(at("2026-03-31T21:57:46.260Z"))));
        assert_eq!(crossing("200"), None, "a crossing exactly at the end is not within the period");
        assert_eq!(crossing("1000"), None);
        assert_eq!(crossing("100"), Some(Crossing::Reached));
        assert_eq!(crossing("99"), Some(Crossing::Reached));
        // The 80% threshold of $150 ($120): after 1.2 × 371.5 h = 445.8 h.
        let warning = projected_crossing(usd("100"), usd("150"), Percent::EIGHTY, &march, now);
        assert_eq!(warning, Some(Crossing::At(at("2026-03-19T12:48:00Z"))));
    }

    #[test]
    fn crossings_round_up_to_the_first_millisecond_over_and_need_a_run_rate() {
        let day = BudgetPeriod::Day.bounds(at("2026-06-01T00:00:00Z"), &TimeZone::UTC).unwrap();
        let now = at("2026-06-01T00:00:01Z");
        // 3 nano-USD a second: 10 nano-USD after 3.333… s → 3.334 s.
        let crossing = projected_crossing(usd("0.000000003"), usd("0.00000001"), Percent::HUNDRED, &day, now);
        assert_eq!(crossing, Some(Crossing::At(at("2026-06-01T00:00:03.334Z"))));
        assert_eq!(projected_crossing(Money::ZERO, usd("1"), Percent::HUNDRED, &day, now), None);
        let week = BudgetPeriod::Week.bounds(now, &TimeZone::UTC).unwrap();
        // Monday 2026-06-01, one day of seven gone: $10 a day reaches $35 on Thursday noon.
        let thursday = projected_crossing(usd("10"), usd("35"), Percent::HUNDRED, &week, at("2026-06-02T00:00:00Z"));
        assert_eq!(thursday, Some(Crossing::At(at("2026-06-04T12:00:00Z"))));
        assert_eq!(projected(usd("10"), &week, at("2026-06-02T00:00:00Z")), Some(usd("70")));
    }

    const ZONES: [&str; 8] = [
        "UTC",
        "Europe/Berlin",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/St_Johns",
    ];

    proptest! {
        #[test]
        fn bounds_contain_the_instant_and_consecutive_periods_tile(
            // 1970 to 2100.
            ms in 0i64..4_102_444_800_000,
            zone in 0..ZONES.len(),
            period in 0usize..3,
        ) {
            let tz = tz(ZONES[zone]);
            let period = BudgetPeriod::ALL[period];
            let now = Timestamp::from_millisecond(ms).unwrap();
            let bounds = period.bounds(now, &tz).unwrap();
            prop_assert!(bounds.contains(now));
            let end = bounds.end.unwrap();
            let next = period.bounds(end, &tz).unwrap();
            prop_assert_eq!(next.start, end, "the next period starts where this one ends");
            let last_ms = Timestamp::from_millisecond(bounds.start.as_millisecond() - 1).unwrap();
            let previous = period.bounds(last_ms, &tz).unwrap();
            prop_assert_eq!(previous.end, Some(bounds.start), "the previous period ends where this one starts");
            prop_assert!(next.first_day > bounds.first_day && previous.first_day < bounds.first_day);
            let hours = bounds.length_ms().unwrap() / 3_600_000;
            let days = match period {
                BudgetPeriod::Day => 1..=1,
                BudgetPeriod::Week => 7..=7,
                _ => 28..=31,
            };
            prop_assert!(hours >= days.start() * 24 - 2 && hours <= days.end() * 24 + 2, "{hours} h");
            let first_day = bounds.first_day.unwrap();
            match period {
                BudgetPeriod::Week => prop_assert_eq!(first_day.weekday(), jiff::civil::Weekday::Monday),
                BudgetPeriod::Month => prop_assert_eq!(first_day.day(), 1),
                _ => prop_assert_eq!(Some(first_day), Some(now.to_zoned(tz.clone()).date())),
            }
        }

        #[test]
        fn a_crossing_is_projected_between_now_and_the_end_exactly_when_the_projection_passes_the_threshold(
            spent in 0i64..1_000_000_000_000,
            amount in 1i64..1_000_000_000_000,
            threshold in 1u32..=100_000,
            into_ms in 0i64..2_678_400_000,
            period in 0usize..3,
        ) {
            let (spent, amount, threshold) = (Money::from_nanos(spent), Money::from_nanos(amount), Percent(threshold));
            let start = BudgetPeriod::ALL[period].bounds(at("2026-10-01T00:00:00Z"), &tz("Europe/Berlin")).unwrap();
            let length = start.length_ms().unwrap();
            let now = Timestamp::from_millisecond(start.start.as_millisecond() + into_ms % length).unwrap();
            let crossing = projected_crossing(spent, amount, threshold, &start, now);
            let elapsed = i128::from(start.elapsed_ms(now).unwrap());
            // Unrounded projection > target ⇔ spent × length × 10⁴ > amount × threshold × elapsed.
            let passes = i128::from(spent.nanos()) * i128::from(length) * 10_000
                > i128::from(amount.nanos()) * i128::from(threshold.0) * elapsed;
            match crossing {
                Some(Crossing::Reached) => prop_assert!(threshold.reached(spent, amount)),
                Some(Crossing::At(t)) => {
                    prop_assert!(passes && !threshold.reached(spent, amount));
                    prop_assert!(now < t && Some(t) < start.end);
                }
                None => prop_assert!(!passes && !threshold.reached(spent, amount)),
            }
        }
    }
}
