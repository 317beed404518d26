//! Budgets: the HTTP side of the budgets service. The seed's monthly budget
//! (`/api/budgets`, `/api/budgets/status`), scoped budgets
//! (`/api/budgets/scoped`), and the SDK hard mode's holds.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use llmlab_api::{
    BudgetResponse, BudgetStatus, CreateBudgetRequest, ReserveRequest, ReserveResponse, ScopedBudget, ScopedBudgets,
    SetBudgetRequest, UpdateBudgetRequest,
};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::service::budgets::{self, scoped};
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

/// Every budget of the account (the account, projects, keys, tags; any
/// period) with its current period: spent, held by calls in flight, state,
/// projected period-end spend and crossing date.
#[utoipa::path(get, path = "/api/budgets/scoped", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = ScopedBudgets), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list_scoped(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<ScopedBudgets>> {
    Ok(Reply(scoped::list(&state, &caller.user).await?))
}

/// Creates the budget of a scope and period, or replaces the amount,
/// hardness and thresholds of the one it has (201 created, 200 replaced).
/// The new budget counts what its scope already spent this period.
#[utoipa::path(post, path = "/api/budgets/scoped", tag = "budgets", security(("api_key" = [])), request_body = CreateBudgetRequest,
    responses((status = 201, body = ScopedBudget, description = "Created"), (status = 200, body = ScopedBudget, description = "Replaced"),
              (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn create_scoped(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateBudgetRequest>,
) -> ApiResult<(StatusCode, Reply<ScopedBudget>)> {
    let (budget, created) = scoped::create(&state, &caller.user, &request).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Reply(budget)))
}

/// `/api/budgets/scoped/{id}` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BudgetPath {
    /// The budget's id, from `GET /api/budgets/scoped`.
    #[param(value_type = i64)]
    id: String,
}

impl BudgetPath {
    /// The id; one that is not a number names no budget.
    fn id(&self) -> ApiResult<i64> {
        self.id.trim().parse().map_err(|_| ApiError::not_found(format!("no budget with id `{}`", self.id)))
    }
}

/// One budget with its current period.
#[utoipa::path(get, path = "/api/budgets/scoped/{id}", tag = "budgets", security(("api_key" = [])), params(BudgetPath),
    responses((status = 200, body = ScopedBudget), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn get_scoped(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<BudgetPath>,
) -> ApiResult<Reply<ScopedBudget>> {
    Ok(Reply(scoped::get(&state, &caller.user, path.id()?).await?))
}

/// Changes a budget's amount, period, hardness or thresholds (its scope is fixed).
#[utoipa::path(patch, path = "/api/budgets/scoped/{id}", tag = "budgets", security(("api_key" = [])), params(BudgetPath),
    request_body = UpdateBudgetRequest,
    responses((status = 200, body = ScopedBudget), (status = 404, body = llmlab_api::ErrorBody), (status = 409, body = llmlab_api::ErrorBody)))]
pub async fn update_scoped(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<BudgetPath>,
    Json(request): Json<UpdateBudgetRequest>,
) -> ApiResult<Reply<ScopedBudget>> {
    Ok(Reply(scoped::update(&state, &caller.user, path.id()?, &request).await?))
}

/// Removes a budget, releasing what calls in flight hold on it.
#[utoipa::path(delete, path = "/api/budgets/scoped/{id}", tag = "budgets", security(("api_key" = [])), params(BudgetPath),
    responses((status = 204, description = "Removed"), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn delete_scoped(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<BudgetPath>,
) -> ApiResult<StatusCode> {
    scoped::remove(&state, &caller.user, path.id()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Before calling a provider (the SDK's hard mode): holds the call's
/// worst-case cost on every hard budget that covers it, all or none. Send the
/// answer's `reservation_id` with the call's event; storing the event
/// releases the hold. 429 `budget_exceeded` when a hard budget cannot cover
/// the call (nothing is held); 422 when a hard budget covers it and its cost
/// has no bound.
#[utoipa::path(post, path = "/api/budgets/reserve", tag = "budgets", security(("api_key" = [])), request_body = ReserveRequest,
    responses((status = 201, body = ReserveResponse, description = "Held"),
              (status = 200, body = ReserveResponse, description = "Nothing to hold: no hard budget covers the call, or it is free or unpriced"),
              (status = 429, body = llmlab_api::ErrorBody, description = "A hard budget cannot cover the call (`budget_exceeded`)")))]
pub async fn reserve(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ReserveRequest>,
) -> ApiResult<(StatusCode, Reply<ReserveResponse>)> {
    let (answer, held) = budgets::reserve(&state, &caller.user, &caller.key_id, &request).await?;
    Ok((if held { StatusCode::CREATED } else { StatusCode::OK }, Reply(answer)))
}

/// `/api/budgets/reservations/{id}` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReservationPath {
    /// The `reservation_id` from `POST /api/budgets/reserve`.
    id: String,
}

/// Releases a hold whose call was not made (an event with its
/// `reservation_id` releases it otherwise). 404 when it is already gone.
#[utoipa::path(delete, path = "/api/budgets/reservations/{id}", tag = "budgets", security(("api_key" = [])), params(ReservationPath),
    responses((status = 204, description = "Released"), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(ReservationPath { id }): Path<ReservationPath>,
) -> ApiResult<StatusCode> {
    if budgets::holds::release(&state, &caller.user, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no hold `{id}`: it was released by its event, or lapsed")))
    }
}
