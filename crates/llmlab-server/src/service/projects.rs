//! Projects: created when an event first names one, listed with all-time spend.

use llmlab_api::Project;
use llmlab_store::User;

use crate::clock::rfc3339;
use crate::error::ApiResult;
use crate::state::AppState;

/// The account's projects with their all-time calls and spend.
pub async fn list(state: &AppState, user: &User) -> ApiResult<Vec<Project>> {
    let projects = state.store.list_projects(user.id).await?;
    Ok(projects
        .into_iter()
        .map(|p| Project { name: p.name, created_at: rfc3339(p.created_at), calls: p.calls, all_time_usd: p.cost })
        .collect())
}
