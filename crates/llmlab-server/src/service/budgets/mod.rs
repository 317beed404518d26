//! The monthly budget: set, read and removed per account, and its state
//! (`ok`, `warning` from 80%, `exceeded` from 100%) from the [`tracker`],
//! which keeps each account's month cached.

pub mod tracker;

use llmlab_api::{Budget, BudgetResponse, BudgetStatus, SetBudgetRequest};
use llmlab_core::Money;
use llmlab_store::{BudgetRow, User};

pub use tracker::{Budgets, account_tz, month_of};

use crate::clock::{now_ms, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The largest budget accepted: one billion USD a month.
pub const MAX_BUDGET_USD: i64 = 1_000_000_000;

/// The account's budget as the API shows it.
fn view(row: BudgetRow) -> Budget {
    Budget {
        amount_usd: Money::from_nanos(row.amount_nusd),
        period: row.period,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

/// The account's budget, if one is set.
pub async fn current(state: &AppState, user: &User) -> ApiResult<BudgetResponse> {
    Ok(BudgetResponse { budget: state.store.budget(user.id).await?.map(view) })
}

/// Sets the monthly budget (calendar months in the account's time zone).
pub async fn set(state: &AppState, user: &User, request: &SetBudgetRequest) -> ApiResult<BudgetResponse> {
    if request.amount_usd <= Money::ZERO {
        return Err(ApiError::invalid("amount_usd", "must be more than 0"));
    }
    if request.amount_usd > Money::from_nanos(MAX_BUDGET_USD * 1_000_000_000) {
        return Err(ApiError::invalid("amount_usd", format!("must be at most {MAX_BUDGET_USD}")));
    }
    if request.period != "monthly" {
        return Err(ApiError::invalid("period", format!("`{}` is not supported; use `monthly`", request.period)));
    }
    let row = state.store.set_budget(user.id, request.amount_usd.nanos(), &request.period, now_ms()).await?;
    state.budgets.invalidate(user.id);
    Ok(BudgetResponse { budget: Some(view(row)) })
}

/// Removes the budget: no more warnings, and the proxy's hard budget stops refusing calls.
pub async fn remove(state: &AppState, user: &User) -> ApiResult<BudgetResponse> {
    state.store.delete_budget(user.id).await?;
    state.budgets.invalidate(user.id);
    Ok(BudgetResponse { budget: None })
}

/// Spend this month against the budget, read fresh.
pub async fn status(state: &AppState, user: &User) -> ApiResult<BudgetStatus> {
    state.budgets.status(&state.store, user, &[], true).await
}
