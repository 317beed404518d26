//! `GET /api/recommendations`.

use axum::Json;
use axum::extract::State;
use llmlab_api::Recommendation;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::recommendations;
use crate::state::AppState;

/// Cost-saving tips from the last 30 days of the account's usage (in its time
/// zone), largest monthly saving first; each states the figures it rests on.
#[utoipa::path(get, path = "/api/recommendations", tag = "recommendations", security(("api_key" = [])),
    responses((status = 200, body = Vec<Recommendation>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Recommendation>>> {
    Ok(Json(recommendations::tips(&state, &caller.user).await?))
}
