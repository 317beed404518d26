//! Tracking events, and exporting them as CSV.

use axum::Json as Reply;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use llmlab_api::{BatchRequest, BatchResponse, BatchResult, TrackEvent, TrackResponse, TrackedEvent};
use llmlab_core::Money;
use llmlab_store::{EventBatch, InsertOutcome, StoredEvent};
use serde::Deserialize;

use super::rfc3339;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::ingest::{MAX_BATCH_EVENTS, PreparedEvent, prepare};
use crate::json::Json;
use crate::query::Query;
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
    let (mut results, inserted) = ingest(&state, &caller, vec![event], "").await?;
    let event = results.pop().expect("one event in, one result out");
    let budget = budget_after(&state, &caller, inserted).await?;
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
    if request.events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::invalid("events", format!("at most {MAX_BATCH_EVENTS} events per batch; split it")));
    }
    let (results, inserted) = ingest(&state, &caller, request.events, "events").await?;
    let budget = budget_after(&state, &caller, inserted).await?;
    let duplicates = results.iter().filter(|r| r.duplicate).count() as u64;
    let inserted = results.len() as u64 - duplicates;
    let results = results
        .into_iter()
        .map(|r| BatchResult {
            event_id: r.event_id,
            duplicate: r.duplicate,
            priced: r.priced,
            cost_usd: r.cost_usd,
            unpriced_reason: r.unpriced_reason,
        })
        .collect();
    Ok((StatusCode::CREATED, Reply(BatchResponse { inserted, duplicates, results, budget })))
}

/// Validates and prices every event (any error rejects them all), then stores them.
async fn ingest(
    state: &AppState,
    caller: &Caller,
    events: Vec<TrackEvent>,
    field: &str,
) -> ApiResult<(Vec<TrackedEvent>, Vec<(i64, Option<Money>)>)> {
    let custom = state.custom_prices(caller.user.id).await?;
    let now = now_ms();
    let prepared: Vec<PreparedEvent> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let prefix = if field.is_empty() { String::new() } else { format!("{field}[{i}].") };
            prepare(&e, &prefix, state.catalog, &custom, now)
        })
        .collect::<ApiResult<_>>()?;
    let (records, mut responses): (Vec<_>, Vec<_>) = prepared.into_iter().map(|p| (p.record, p.response)).unzip();
    let times: Vec<(i64, Option<Money>)> = records.iter().map(|r| (r.occurred_at, r.price.cost())).collect();
    let outcomes = state.writer.write(EventBatch { user_id: caller.user.id, events: records }).await?;
    let mut inserted = Vec::new();
    for ((response, outcome), time) in responses.iter_mut().zip(outcomes).zip(times) {
        match outcome {
            InsertOutcome::Inserted => inserted.push(time),
            InsertOutcome::Duplicate { cost } => {
                response.duplicate = true;
                response.cost_usd = cost;
                response.priced = cost.is_some();
            }
        }
    }
    Ok((responses, inserted))
}

async fn budget_after(
    state: &AppState,
    caller: &Caller,
    inserted: Vec<(i64, Option<Money>)>,
) -> ApiResult<llmlab_api::BudgetStatus> {
    state.budgets.status(&state.store, &caller.user, &inserted, false).await
}

/// `GET /api/events/export` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day to include, `YYYY-MM-DD` (default: the beginning).
    #[param(schema_with = export_from)]
    pub from: Option<String>,
    /// Last day to include, `YYYY-MM-DD` (default: today).
    #[param(schema_with = export_to)]
    pub to: Option<String>,
    /// The time zone the days are in (default: the account's).
    #[param(schema_with = crate::routes::costs::query_time_zone)]
    pub tz: Option<String>,
}

fn export_from() -> utoipa::openapi::schema::Schema {
    llmlab_api::limits::date(false, "First day to include, `YYYY-MM-DD` (default: the beginning).")
}

fn export_to() -> utoipa::openapi::schema::Schema {
    llmlab_api::limits::date(false, "Last day to include, `YYYY-MM-DD`, not before `from` (default: today).")
}

/// The CSV header row.
pub const CSV_COLUMNS: [&str; 20] = [
    "timestamp",
    "event_id",
    "provider",
    "model",
    "project",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
    "cost_usd",
    "cost_source",
    "priced_as",
    "unpriced_reason",
    "service_tier",
    "latency_ms",
    "status",
    "tags",
];

/// Streams the account's events as CSV (header row, one row per event, oldest first).
#[utoipa::path(get, path = "/api/events/export", tag = "events", security(("api_key" = [])), params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (tz, _) = crate::summary::time_zone(query.tz.as_deref(), &caller.user)?;
    let day_start = |field: &str, text: &str| -> ApiResult<i64> {
        let date: jiff::civil::Date = text
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid(field, format!("`{text}` is not a date such as `2026-11-27`")))?;
        Ok(date.to_zoned(tz.clone()).map_err(ApiError::internal)?.timestamp().as_millisecond())
    };
    let from = query.from.as_deref().map(|t| day_start("from", t)).transpose()?.unwrap_or(0);
    let to = match query.to.as_deref() {
        Some(t) => day_start("to", t)? + 86_400_000,
        None => i64::MAX,
    };
    if from >= to {
        return Err(ApiError::invalid("to", "must not be before `from`"));
    }
    // A producer task reads rows as the client consumes them; the channel's
    // small bound keeps memory constant however many events there are.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let store = state.store.clone();
    let user_id = caller.user.id;
    tokio::spawn(async move {
        if sender.send(Ok(Bytes::from(csv_line(&CSV_COLUMNS.map(str::to_owned))))).await.is_err() {
            return;
        }
        let mut rows = store.export_events(user_id, from, to);
        while let Some(row) = rows.next().await {
            let item = row.map(|event| Bytes::from(csv_line(&row_of(&event)))).map_err(|e| {
                tracing::error!(error = %e, "export failed mid-stream");
                std::io::Error::other("export failed")
            });
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                break; // the client went away, or the database failed
            }
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)));
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"llmlab-events.csv\""),
        ],
        body,
    )
        .into_response())
}

fn row_of(e: &StoredEvent) -> [String; 20] {
    [
        rfc3339(e.occurred_at),
        e.event_id.clone(),
        e.provider.clone(),
        e.model.clone(),
        e.project.clone(),
        e.input_tokens.to_string(),
        e.cache_read_tokens.to_string(),
        e.cache_write_tokens.to_string(),
        e.cache_write_1h_tokens.to_string(),
        e.output_tokens.to_string(),
        e.reasoning_tokens.to_string(),
        e.web_search_requests.to_string(),
        e.cost_nusd.map(|n| Money::from_nanos(n).to_string()).unwrap_or_default(),
        e.cost_source.clone().unwrap_or_default(),
        e.priced_as.clone().unwrap_or_default(),
        e.unpriced_reason.clone().unwrap_or_default(),
        e.service_tier.clone(),
        e.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
        e.status.clone().unwrap_or_default(),
        e.tags.clone().unwrap_or_default(),
    ]
}

/// One CSV record, quoted as needed, with its line ending.
fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(256));
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(fields);
    writer.into_inner().unwrap_or_default()
}
