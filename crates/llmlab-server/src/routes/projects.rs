//! `GET /api/projects`.

use axum::Json;
use axum::extract::State;
use llmlab_api::Project;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::projects;
use crate::state::AppState;

/// The account's projects (created when an event first names them), with all-time spend.
#[utoipa::path(get, path = "/api/projects", tag = "projects", security(("api_key" = [])),
    responses((status = 200, body = Vec<Project>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Project>>> {
    Ok(Json(projects::list(&state, &caller.user).await?))
}
