//! The monthly budget.

use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use llmlab_api::{Budget, BudgetResponse, BudgetStatus, SetBudgetRequest};
use llmlab_core::Money;

use super::rfc3339;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// The largest budget accepted: one billion USD a month.
const MAX_BUDGET_USD: i64 = 1_000_000_000;

/// The current budget, or `{"budget": null}` when none is set.
#[utoipa::path(get, path = "/api/budgets", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = BudgetResponse), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<BudgetResponse>> {
    let budget = state.store.budget(caller.user.id).await?;
    Ok(Reply(BudgetResponse {
        budget: budget.map(|b| Budget {
            amount_usd: Money::from_nanos(b.amount_nusd),
            period: b.period,
            created_at: rfc3339(b.created_at),
            updated_at: rfc3339(b.updated_at),
        }),
    }))
}

/// Removes the budget: no more warnings, and the proxy's hard budget (if
/// on) stops refusing calls. Answers `{"budget": null}` whether or not one
/// was set.
#[utoipa::path(delete, path = "/api/budgets", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = BudgetResponse), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn remove(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<BudgetResponse>> {
    state.store.delete_budget(caller.user.id).await?;
    state.budgets.invalidate(caller.user.id);
    Ok(Reply(BudgetResponse { budget: None }))
}

/// Sets the monthly budget (calendar months in the account's time zone).
#[utoipa::path(post, path = "/api/budgets", tag = "budgets", security(("api_key" = [])), request_body = SetBudgetRequest,
    responses((status = 201, body = BudgetResponse), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SetBudgetRequest>,
) -> ApiResult<(StatusCode, Reply<BudgetResponse>)> {
    if request.amount_usd <= Money::ZERO {
        return Err(ApiError::invalid("amount_usd", "must be more than 0"));
    }
    if request.amount_usd > Money::from_nanos(MAX_BUDGET_USD * 1_000_000_000) {
        return Err(ApiError::invalid("amount_usd", format!("must be at most {MAX_BUDGET_USD}")));
    }
    if request.period != "monthly" {
        return Err(ApiError::invalid("period", format!("`{}` is not supported; use `monthly`", request.period)));
    }
    let row = state.store.set_budget(caller.user.id, request.amount_usd.nanos(), &request.period, now_ms()).await?;
    state.budgets.invalidate(caller.user.id);
    Ok((
        StatusCode::CREATED,
        Reply(BudgetResponse {
            budget: Some(Budget {
                amount_usd: Money::from_nanos(row.amount_nusd),
                period: row.period,
                created_at: rfc3339(row.created_at),
                updated_at: rfc3339(row.updated_at),
            }),
        }),
    ))
}

/// Spend this month against the budget: `none`, `ok`, `warning` (from 80%) or `exceeded` (from 100%).
#[utoipa::path(get, path = "/api/budgets/status", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = BudgetStatus), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<BudgetStatus>> {
    Ok(Reply(state.budgets.status(&state.store, &caller.user, &[], true).await?))
}
