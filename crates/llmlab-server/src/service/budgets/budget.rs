//! A stored budget, read: its scope, period and thresholds parsed, and
//! what the API and messages say about it. Depends on nothing above it, so
//! the server's shared state can cache budgets.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_api::{BudgetState, ScopedBudgetStatus};
use llmlab_core::Money;
use llmlab_core::budget::{self, BudgetPeriod, Crossing, Percent, PeriodBounds, Scope, Thresholds};
use llmlab_store::{BudgetRow, PeriodSpend};
use rust_decimal::prelude::ToPrimitive;
use std::str::FromStr;

use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};

/// A stored budget, read: its scope and period parsed.
pub struct Budget {
    pub row: BudgetRow,
    pub scope: Scope,
    pub period: BudgetPeriod,
    pub thresholds: Thresholds,
}

impl Budget {
    /// Parses a stored row; a row that no longer parses is an internal error.
    pub fn read(row: BudgetRow) -> ApiResult<Budget> {
        let scope = Scope::parse(&row.scope, &row.target).map_err(ApiError::internal)?;
        let period = BudgetPeriod::from_str(&row.period).map_err(ApiError::internal)?;
        let thresholds = Thresholds::from_str(&row.thresholds).map_err(ApiError::internal)?;
        Ok(Budget { row, scope, period, thresholds })
    }

    #[must_use]
    pub fn amount(&self) -> Money {
        Money::from_nanos(self.row.amount_nusd)
    }

    /// The period containing `now` in `tz`.
    pub fn bounds(&self, now: Timestamp, tz: &TimeZone) -> ApiResult<PeriodBounds> {
        self.period.bounds(now, tz).map_err(ApiError::internal)
    }

    /// How the budget is named in messages: `the month budget of project search`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("the {} budget of {} (${})", self.period, self.scope, self.amount())
    }

    /// The `llmlab budget` flags that name this budget's scope and period.
    #[must_use]
    pub fn cli_flags(&self) -> String {
        let scope = match &self.scope {
            Scope::Account => String::new(),
            Scope::Project(name) => format!(" --project {}", shell_word(name)),
            Scope::Key(key) => format!(" --key {key}"),
            Scope::Tag { .. } => format!(" --tag {}", shell_word(&self.scope.target())),
        };
        format!("{scope} --period {}", self.period)
    }
}

/// `word`, quoted for a shell when it needs to be.
fn shell_word(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=/:@".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A budget's period figures as the API shows them.
#[must_use]
pub fn status_of(budget: &Budget, bounds: &PeriodBounds, spend: PeriodSpend, now: Timestamp) -> ScopedBudgetStatus {
    let amount = budget.amount();
    let spent = Money::from_nanos(spend.spent_nusd);
    let reserved = Money::from_nanos(spend.reserved_nusd.max(0));
    let available = Money::from_nanos((amount.nanos() - spent.nanos() - reserved.nanos()).max(0));
    let crossing = budget::projected_crossing(spent, amount, Percent::HUNDRED, bounds, now);
    ScopedBudgetStatus {
        state: api_state(budget.thresholds.state(spent, amount)),
        period_start: bounds.first_day.map(|d| d.to_string()),
        period_end: bounds.end.map(|end| rfc3339(end.as_millisecond())),
        spent_usd: spent,
        reserved_usd: reserved,
        available_usd: available,
        // A display figure only; states are decided on exact integers.
        percent_used: budget::percent_used(spent, amount).to_f64().unwrap_or(f64::MAX),
        projected_usd: budget::projected(spent, bounds, now),
        projected_crossing_at: match crossing {
            Some(Crossing::At(at)) => Some(rfc3339(at.as_millisecond())),
            Some(Crossing::Reached) | None => None,
        },
        unpriced_calls: u64::try_from(spend.unpriced_calls).unwrap_or(0),
    }
}

#[must_use]
pub fn api_state(state: budget::BudgetState) -> BudgetState {
    match state {
        budget::BudgetState::Ok => BudgetState::Ok,
        budget::BudgetState::Warning => BudgetState::Warning,
        budget::BudgetState::Exceeded => BudgetState::Exceeded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_flags_name_the_scope_and_period_as_a_shell_reads_them() {
        let budget = |scope: &str, target: &str, period: &str| {
            Budget::read(BudgetRow {
                id: 1,
                user_id: 1,
                scope: scope.into(),
                target: target.into(),
                period: period.into(),
                amount_nusd: 200_000_000_000,
                hard: true,
                thresholds: "80,100".into(),
                created_at: 0,
                updated_at: 0,
            })
            .unwrap()
        };
        assert_eq!(budget("account", "", "month").cli_flags(), " --period month");
        assert_eq!(budget("project", "search", "week").cli_flags(), " --project search --period week");
        assert_eq!(budget("project", "my app", "day").cli_flags(), " --project 'my app' --period day");
        assert_eq!(budget("tag", "customer=acme", "total").cli_flags(), " --tag customer=acme --period total");
        assert_eq!(budget("key", "llm_ab12cd34", "month").describe(), "the month budget of key llm_ab12cd34 ($200)");
    }
}
