//! `GET /api/costs/summary`.

use axum::Json;
use axum::extract::State;
use llmlab_api::CostSummary;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::query::Query;
use crate::service::{labels, summary};
use crate::state::AppState;

/// `GET /api/costs/summary` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// An IANA time zone for "today", "this month" and the daily dates (default: the account's).
    #[param(schema_with = query_time_zone)]
    pub tz: Option<String>,
    /// Only this project's spend; a name the account does not have is a 404 (`project_not_found`).
    #[param(schema_with = project_filter)]
    pub project: Option<String>,
}

/// A `tz` query parameter: a time zone name, or empty for the account's.
pub(crate) fn query_time_zone() -> utoipa::openapi::schema::Schema {
    let mut names: Vec<serde_json::Value> =
        llmlab_api::limits::time_zone_names().into_iter().map(serde_json::Value::from).collect();
    names.push(serde_json::Value::from(""));
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names))
        .description(Some("An IANA time zone name such as `Europe/Paris`; empty or omitted: the account's."))
        .into()
}

fn project_filter() -> utoipa::openapi::schema::Schema {
    llmlab_api::limits::blank_or_text_schema(
        labels::MAX_PROJECT_CHARS,
        false,
        "Only this project's spend; a project the account does not have is a 404 (`project_not_found`).",
    )
}

/// Spend today, this month and all time; by model, provider and project; the 30-day trend.
#[utoipa::path(get, path = "/api/costs/summary", tag = "costs", security(("api_key" = [])), params(SummaryQuery),
    responses((status = 200, body = CostSummary),
        (status = 404, body = llmlab_api::ErrorBody,
            description = "`project` names a project the account does not have (`project_not_found`); the message lists its projects"),
        (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SummaryQuery>,
) -> ApiResult<Json<CostSummary>> {
    Ok(Json(summary::summary(&state, &caller.user, query.tz.as_deref(), query.project.as_deref()).await?))
}
