//! Tracking events, and exporting them as CSV: the HTTP side of the ingest
//! and export services.

use axum::Json as Reply;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use llmlab_api::{BatchRequest, BatchResponse, BatchResult, TrackEvent, TrackResponse};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::json::Json;
use crate::query::Query;
use crate::service::ingest::{Ingested, ingest};
use crate::service::{export, summary};
use crate::state::AppState;

/// Records one LLM call. Duplicate `event_id`s are answered 200 and not counted again.
#[utoipa::path(post, path = "/api/events/track", tag = "events", security(("api_key" = [])), request_body = TrackEvent,
    responses((status = 201, body = TrackResponse, description = "Stored"),
              (status = 200, body = TrackResponse, description = "Already stored (duplicate `event_id`)"),
              (status = 413, body = llmlab_api::ErrorBody), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn track(
    State(state): State<AppState>,
    caller: Caller,
    Json(event): Json<TrackEvent>,
) -> ApiResult<(StatusCode, Reply<TrackResponse>)> {
    let Ingested { mut events, budget } = ingest(&state, &caller.user, &caller.key_id, vec![event], "").await?;
    let event = events.pop().expect("one event in, one result out");
    let status = if event.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Reply(TrackResponse { event, budget })))
}

/// Records many calls at once; the batch is stored whole or not at all.
#[utoipa::path(post, path = "/api/events/batch", tag = "events", security(("api_key" = [])), request_body = BatchRequest,
    responses((status = 201, body = BatchResponse), (status = 413, body = llmlab_api::ErrorBody),
              (status = 422, body = llmlab_api::ErrorBody, description = "An event is invalid (its index is named); nothing was stored")))]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<BatchRequest>,
) -> ApiResult<(StatusCode, Reply<BatchResponse>)> {
    let Ingested { events, budget } = ingest(&state, &caller.user, &caller.key_id, request.events, "events").await?;
    let duplicates = events.iter().filter(|r| r.duplicate).count() as u64;
    let inserted = events.len() as u64 - duplicates;
    let results = events
        .into_iter()
        .map(|r| BatchResult {
            event_id: r.event_id,
            duplicate: r.duplicate,
            priced: r.priced,
            cost_usd: r.cost_usd,
            unpriced_code: r.unpriced_code,
            unpriced_reason: r.unpriced_reason,
            partial: r.partial,
        })
        .collect();
    Ok((StatusCode::CREATED, Reply(BatchResponse { inserted, duplicates, results, budget })))
}

/// `GET /api/events/export` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day to include, `YYYY-MM-DD`, or the first instant, an RFC 3339 time (default: the beginning).
    #[param(schema_with = export_from)]
    pub from: Option<String>,
    /// Last day to include, `YYYY-MM-DD`, or the last instant, an RFC 3339 time (default: today).
    #[param(schema_with = export_to)]
    pub to: Option<String>,
    /// The time zone the days are in (default: the account's).
    #[param(schema_with = crate::routes::costs::query_time_zone)]
    pub tz: Option<String>,
}

fn export_from() -> utoipa::openapi::schema::Schema {
    llmlab_api::limits::date_or_time(
        "First day to include, `YYYY-MM-DD` in `tz`, or the first instant to include, an RFC 3339 time \
         (default: the beginning).",
    )
}

fn export_to() -> utoipa::openapi::schema::Schema {
    llmlab_api::limits::date_or_time(
        "Last day to include, `YYYY-MM-DD` in `tz`, or the last instant to include, an RFC 3339 time; not before \
         `from` (default: today).",
    )
}

/// Streams the account's events as CSV (header row, one row per event, oldest first).
#[utoipa::path(get, path = "/api/events/export", tag = "events", security(("api_key" = [])), params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (tz, _) = summary::time_zone(query.tz.as_deref(), &caller.user)?;
    let (from, to) = export::range(query.from.as_deref(), query.to.as_deref(), &tz)?;
    let body = Body::from_stream(export::csv(state.store.clone(), caller.user.id, from, to));
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"llmlab-events.csv\""),
        ],
        body,
    )
        .into_response())
}
