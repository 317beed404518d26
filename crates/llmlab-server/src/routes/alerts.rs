//! Alerts: the account's channels, test alerts, and the delivery log.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use llmlab_api::{AlertLog, ChannelList, CreateChannelRequest, CreatedChannel, TestAlertRequest, TestAlertResponse};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::query::Query;
use crate::service::alerts;
use crate::state::AppState;

/// The account's alert channels. Targets are secrets: only a hint of each is shown.
#[utoipa::path(get, path = "/api/alerts/channels", tag = "alerts", security(("api_key" = [])),
    responses((status = 200, body = ChannelList), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list_channels(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<ChannelList>> {
    Ok(Reply(alerts::channels(&state, &caller.user).await?))
}

/// Adds an alert channel: a webhook (signed per Standard Webhooks; its
/// `secret` is shown only in this answer), a Slack or Discord incoming
/// webhook, or an email address. 422 `target_refused` for link-local and
/// cloud-metadata targets, and for private or loopback ones unless the
/// server runs with `--alerts-allow-private`.
#[utoipa::path(post, path = "/api/alerts/channels", tag = "alerts", security(("api_key" = [])), request_body = CreateChannelRequest,
    responses((status = 201, body = CreatedChannel), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn add_channel(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateChannelRequest>,
) -> ApiResult<(StatusCode, Reply<CreatedChannel>)> {
    Ok((StatusCode::CREATED, Reply(alerts::add_channel(&state, &caller.user, &request).await?)))
}

/// `/api/alerts/channels/{id}` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ChannelPath {
    /// The channel's id, from `GET /api/alerts/channels`.
    #[param(value_type = i64)]
    id: String,
}

/// Removes a channel; alerts not yet delivered to it are marked failed.
#[utoipa::path(delete, path = "/api/alerts/channels/{id}", tag = "alerts", security(("api_key" = [])), params(ChannelPath),
    responses((status = 204, description = "Removed"), (status = 404, body = llmlab_api::ErrorBody)))]
pub async fn remove_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ChannelPath>,
) -> ApiResult<StatusCode> {
    let id =
        path.id.trim().parse().map_err(|_| ApiError::not_found(format!("no alert channel with id `{}`", path.id)))?;
    alerts::remove_channel(&state, &caller.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a test alert to one channel (`channel_id`) or to all; see its
/// delivery in `GET /api/alerts`.
#[utoipa::path(post, path = "/api/alerts/test", tag = "alerts", security(("api_key" = [])), request_body = TestAlertRequest,
    responses((status = 202, body = TestAlertResponse), (status = 404, body = llmlab_api::ErrorBody), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<TestAlertRequest>,
) -> ApiResult<(StatusCode, Reply<TestAlertResponse>)> {
    Ok((StatusCode::ACCEPTED, Reply(alerts::test(&state, &caller.user, request.channel_id).await?)))
}

/// `GET /api/alerts` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// How many alerts, newest first (1 to 500; default 50).
    limit: Option<i64>,
}

/// The account's alerts, newest first, each with its delivery to every
/// channel: state (`pending`, `delivered`, `failed`), attempts, the last
/// status code and error.
#[utoipa::path(get, path = "/api/alerts", tag = "alerts", security(("api_key" = [])), params(LogQuery),
    responses((status = 200, body = AlertLog), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn log(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<LogQuery>,
) -> ApiResult<Reply<AlertLog>> {
    Ok(Reply(alerts::log(&state, &caller.user, query.limit).await?))
}
