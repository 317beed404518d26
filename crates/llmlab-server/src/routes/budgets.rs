//! The monthly budget: the HTTP side of the budgets service.

use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use llmlab_api::{BudgetResponse, BudgetStatus, SetBudgetRequest};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::json::Json;
use crate::service::budgets;
use crate::state::AppState;

/// The current budget, or `{"budget": null}` when none is set.
#[utoipa::path(get, path = "/api/budgets", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = BudgetResponse), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<BudgetResponse>> {
    Ok(Reply(budgets::current(&state, &caller.user).await?))
}

/// Removes the budget: no more warnings, and the proxy's hard budget (if
/// on) stops refusing calls. Answers `{"budget": null}` whether or not one
/// was set.
#[utoipa::path(delete, path = "/api/budgets", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = BudgetResponse), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn remove(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<BudgetResponse>> {
    Ok(Reply(budgets::remove(&state, &caller.user).await?))
}

/// Sets the monthly budget (calendar months in the account's time zone).
#[utoipa::path(post, path = "/api/budgets", tag = "budgets", security(("api_key" = [])), request_body = SetBudgetRequest,
    responses((status = 201, body = BudgetResponse), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SetBudgetRequest>,
) -> ApiResult<(StatusCode, Reply<BudgetResponse>)> {
    Ok((StatusCode::CREATED, Reply(budgets::set(&state, &caller.user, &request).await?)))
}

/// Spend this month against the budget: `none`, `ok`, `warning` (from 80%) or `exceeded` (from 100%).
#[utoipa::path(get, path = "/api/budgets/status", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = BudgetStatus), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<BudgetStatus>> {
    Ok(Reply(budgets::status(&state, &caller.user).await?))
}
