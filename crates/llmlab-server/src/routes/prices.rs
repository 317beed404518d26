//! An account's own prices: the HTTP side of the prices service.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use llmlab_api::{CustomPrice as PriceView, SetPriceRequest, SetPriceResponse};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::json::Json;
use crate::service::prices;
use crate::state::AppState;

/// Sets the account's price for a model (USD per 1M tokens) and reprices its
/// earlier unpriced events of that model.
#[utoipa::path(post, path = "/api/prices", tag = "prices", security(("api_key" = [])), request_body = SetPriceRequest,
    responses((status = 201, body = SetPriceResponse), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SetPriceRequest>,
) -> ApiResult<(StatusCode, Reply<SetPriceResponse>)> {
    Ok((StatusCode::CREATED, Reply(prices::set(&state, &caller.user, &request).await?)))
}

/// The account's custom prices.
#[utoipa::path(get, path = "/api/prices", tag = "prices", security(("api_key" = [])),
    responses((status = 200, body = Vec<PriceView>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<Vec<PriceView>>> {
    Ok(Reply(prices::list(&state, &caller.user).await?))
}

/// `DELETE /api/prices/{model}` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ModelPath {
    /// The model id, as it was set.
    #[param(schema_with = llmlab_api::limits::model, required = true)]
    model: String,
}

/// Removes the account's price for a model (events priced with it keep their cost).
#[utoipa::path(delete, path = "/api/prices/{model}", tag = "prices", security(("api_key" = [])), params(ModelPath),
    responses((status = 204, description = "Removed"),
              (status = 404, body = llmlab_api::ErrorBody, description = "The account has no price for this model")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(ModelPath { model }): Path<ModelPath>,
) -> ApiResult<StatusCode> {
    prices::remove(&state, &caller.user, &model).await?;
    Ok(StatusCode::NO_CONTENT)
}
