//! `GET /api/projects`.

use axum::Json;
use axum::extract::State;
use llmlab_api::Project;

use super::rfc3339;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

/// The account's projects (created when an event first names them), with all-time spend.
#[utoipa::path(get, path = "/api/projects", tag = "projects", security(("api_key" = [])),
    responses((status = 200, body = Vec<Project>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Project>>> {
    let projects = state.store.list_projects(caller.user.id).await?;
    Ok(Json(
        projects
            .into_iter()
            .map(|p| Project { name: p.name, created_at: rfc3339(p.created_at), calls: p.calls, all_time_usd: p.cost })
            .collect(),
    ))
}
