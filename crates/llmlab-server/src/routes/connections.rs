//! Provider connections (admin keys for OpenAI's and Anthropic's usage and
//! cost reports) and their syncs.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use llmlab_api::{ConnectRequest, ConnectionList, ConnectionTest, SyncReport, SyncRequest};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::json::Json;
use crate::service::reports;
use crate::state::AppState;

/// The account's provider connections. Admin keys are secrets: only a hint of each is shown.
#[utoipa::path(get, path = "/api/connections", tag = "reports", security(("api_key" = [])),
    responses((status = 200, body = ConnectionList), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<ConnectionList>> {
    Ok(Reply(reports::list(&state, &caller.user).await?))
}

/// Connects the account to a provider's usage and cost reports with an
/// organization admin key (`sk-admin-…`, `sk-ant-admin…`): the key is
/// checked, kept sealed with the server key, and the last `days` days (30 by
/// default) are imported before the answer. 422 `admin_key_refused` when the
/// provider refuses the key; 502 `report_failed` when its API fails.
#[utoipa::path(post, path = "/api/connections", tag = "reports", security(("api_key" = [])), request_body = ConnectRequest,
    responses((status = 201, body = SyncReport), (status = 422, body = llmlab_api::ErrorBody), (status = 502, body = llmlab_api::ErrorBody)))]
pub async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ConnectRequest>,
) -> ApiResult<(StatusCode, Reply<SyncReport>)> {
    Ok((StatusCode::CREATED, Reply(reports::connect(&state, &caller.user, &request).await?)))
}

/// `/api/connections/{provider}` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderPath {
    /// `openai` or `anthropic`.
    provider: String,
}

/// Removes a connection, its sealed key and the report rows it imported.
#[utoipa::path(delete, path = "/api/connections/{provider}", tag = "reports", security(("api_key" = [])), params(ProviderPath),
    responses((status = 204, description = "Removed"), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ProviderPath>,
) -> ApiResult<StatusCode> {
    reports::remove(&state, &caller.user, &path.provider).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks that the provider still accepts the connection's admin key.
#[utoipa::path(post, path = "/api/connections/{provider}/test", tag = "reports", security(("api_key" = [])), params(ProviderPath),
    responses((status = 200, body = ConnectionTest), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ProviderPath>,
) -> ApiResult<Reply<ConnectionTest>> {
    Ok(Reply(reports::test(&state, &caller.user, &path.provider).await?))
}

/// Syncs the account's connections now (or one `provider`'s): from where
/// the last sync stopped (and the last three days again, which providers
/// revise), or `days` back. Each result says how far it got; a sync that
/// stopped early (`error`) resumes at the next one, and nothing is ever
/// counted twice.
#[utoipa::path(post, path = "/api/sync", tag = "reports", security(("api_key" = [])), request_body = SyncRequest,
    responses((status = 200, body = SyncReport), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SyncRequest>,
) -> ApiResult<Reply<SyncReport>> {
    Ok(Reply(reports::sync(&state, &caller.user, &request).await?))
}
