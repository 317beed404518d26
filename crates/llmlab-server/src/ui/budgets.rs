//! The account's budgets as the dashboard and the settings page show them:
//! how a budget is named and its period put in words, and what of them the
//! dashboard's `ETag` must follow, read from the budget counters (never
//! from the events).

use std::fmt::Write as _;
use std::str::FromStr;

use jiff::Timestamp;
use llmlab_api::{BudgetScope, ScopedBudget};
use llmlab_core::budget::BudgetPeriod;
use llmlab_store::User;
use maud::{Markup, html};

use crate::error::{ApiError, ApiResult};
use crate::service::budgets::account_tz;
use crate::state::AppState;

/// Everything that changes what the budget bars show: each budget's
/// settings and its current period's counters (spent, held by calls in
/// flight, unpriced calls). Two small reads by account (the budgets, then
/// their counters), only the first when the account has none.
pub(super) async fn version(state: &AppState, user: &User) -> ApiResult<String> {
    let rows = state.store.budgets(user.id).await?;
    if rows.is_empty() {
        return Ok(String::new());
    }
    let now = Timestamp::now();
    let tz = account_tz(user);
    let keys = rows
        .iter()
        .map(|row| {
            let period = BudgetPeriod::from_str(&row.period).map_err(ApiError::internal)?;
            Ok((row.id, period.bounds(now, &tz).map_err(ApiError::internal)?.key()))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let spend = state.store.period_spend(user.id, &keys).await?;
    let mut version = String::new();
    for (row, key) in rows.iter().zip(&keys) {
        let mut figures = spend.get(key).copied().unwrap_or_default();
        if let Some(ledger) = state.writer.ledger() {
            // On SQLite, holds live in memory.
            figures.reserved_nusd = ledger.reserved(key.0, &key.1);
        }
        let _ = write!(
            version,
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{};",
            row.id,
            row.scope,
            row.target,
            row.period,
            row.amount_nusd,
            row.hard,
            row.thresholds,
            row.updated_at,
            key.1,
            figures.spent_nusd,
            figures.reserved_nusd,
            figures.unpriced_calls
        );
    }
    Ok(version)
}

/// The budget's name: `Monthly budget · project search`.
#[must_use]
pub(super) fn title(budget: &ScopedBudget) -> Markup {
    html! { (adjective(&budget.period)) " budget · " (scope(budget)) }
}

/// The same name as plain text, for an accessible name or a message.
#[must_use]
pub(super) fn title_text(budget: &ScopedBudget) -> String {
    format!("{} budget · {}", adjective(&budget.period), scope_text(budget))
}

/// What the budget counts: `whole account`, `project search`, `key
/// production` (with its id when the key has no name), `tag customer=acme`.
fn scope(budget: &ScopedBudget) -> Markup {
    let target = budget.target.as_deref().unwrap_or_default();
    html! {
        @match budget.scope {
            BudgetScope::Account => { "whole account" }
            BudgetScope::Project => { "project " span class="[overflow-wrap:anywhere]" { (target) } }
            BudgetScope::Key => {
                "key "
                @if let Some(name) = &budget.target_name {
                    span class="[overflow-wrap:anywhere]" title=(target) { (name) }
                } @else {
                    code class="font-mono text-[0.9em]" { (target) "…" }
                }
            }
            BudgetScope::Tag => { "tag " code class="font-mono text-[0.9em] [overflow-wrap:anywhere]" { (target) } }
        }
    }
}

fn scope_text(budget: &ScopedBudget) -> String {
    let target = budget.target.as_deref().unwrap_or_default();
    match budget.scope {
        BudgetScope::Account => "whole account".to_owned(),
        BudgetScope::Project => format!("project {target}"),
        BudgetScope::Key => format!("key {}", budget.target_name.as_deref().unwrap_or(target)),
        BudgetScope::Tag => format!("tag {target}"),
    }
}

/// `Daily`, `Weekly`, `Monthly`, `Total`.
#[must_use]
pub(super) fn adjective(period: &str) -> &str {
    match period {
        "day" => "Daily",
        "week" => "Weekly",
        "month" => "Monthly",
        "total" => "Total",
        other => other,
    }
}

/// When the spend was counted: `today`, `this week`, `this month`, `in total`.
#[must_use]
pub(super) fn this_period(period: &str) -> &str {
    match period {
        "day" => "today",
        "week" => "this week",
        "month" => "this month",
        "total" => "in total",
        other => other,
    }
}

/// The end its projection is for: `day-end`, `week-end`, `month-end`.
#[must_use]
pub(super) fn period_end(period: &str) -> &str {
    match period {
        "day" => "day-end",
        "week" => "week-end",
        "month" => "month-end",
        other => other,
    }
}

/// The periods a budget can have, as the forms offer them: (value, label).
pub(super) const PERIODS: [(&str, &str); 4] =
    [("day", "Day"), ("week", "Week (from Monday)"), ("month", "Month"), ("total", "Total (never resets)")];

/// A threshold as typed: `80`, `92.5`.
#[must_use]
pub(super) fn threshold(value: f64) -> String {
    // A display of a percentage the API rounded to two decimals, not money.
    format!("{value}")
}

/// The thresholds as a form field holds them: `80, 100`.
#[must_use]
pub(super) fn thresholds(values: &[f64]) -> String {
    values.iter().map(|t| threshold(*t)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use llmlab_api::{BudgetState, ScopedBudgetStatus};
    use llmlab_core::Money;

    use super::*;

    fn budget(scope: BudgetScope, target: Option<&str>, name: Option<&str>, period: &str) -> ScopedBudget {
        ScopedBudget {
            id: 1,
            scope,
            target: target.map(str::to_owned),
            target_name: name.map(str::to_owned),
            period: period.to_owned(),
            amount_usd: Money::from_nanos(1),
            hard: false,
            thresholds: vec![80.0, 92.5, 100.0],
            created_at: String::new(),
            updated_at: String::new(),
            status: ScopedBudgetStatus {
                state: BudgetState::Ok,
                period_start: None,
                period_end: None,
                spent_usd: Money::ZERO,
                reserved_usd: Money::ZERO,
                available_usd: Money::ZERO,
                percent_used: 0.0,
                projected_usd: None,
                projected_crossing_at: None,
                unpriced_calls: 0,
            },
        }
    }

    #[test]
    fn a_budget_is_named_by_its_period_and_scope_with_the_keys_name_when_known() {
        let account = budget(BudgetScope::Account, None, None, "month");
        assert_eq!(title_text(&account), "Monthly budget · whole account");
        let project = budget(BudgetScope::Project, Some("search"), None, "week");
        assert_eq!(
            title(&project).into_string(),
            r#"Weekly budget · project <span class="[overflow-wrap:anywhere]">search</span>"#
        );
        let named = budget(BudgetScope::Key, Some("llm_ab12cd34"), Some("ci"), "day");
        assert_eq!(title_text(&named), "Daily budget · key ci");
        assert!(title(&named).into_string().contains(r#"title="llm_ab12cd34">ci</span>"#));
        let unnamed = budget(BudgetScope::Key, Some("llm_ab12cd34"), None, "total");
        assert!(title(&unnamed).into_string().contains(">llm_ab12cd34…</code>"));
        let tag = budget(BudgetScope::Tag, Some("customer=<b>"), None, "total");
        assert_eq!(title_text(&tag), "Total budget · tag customer=<b>");
        assert!(title(&tag).into_string().contains("customer=&lt;b&gt;</code>"), "escaped");
    }

    #[test]
    fn thresholds_read_as_typed() {
        assert_eq!(thresholds(&[80.0, 92.5, 100.0]), "80, 92.5, 100");
        assert_eq!(thresholds(&[]), "");
    }
}
