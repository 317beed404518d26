//! `GET /api/costs/summary`.

use axum::Json;
use axum::extract::{Query, State};
use llmlab_api::CostSummary;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::summary::{summarize, time_zone};

/// `GET /api/costs/summary` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// An IANA time zone for "today", "this month" and the daily dates (default: the account's).
    pub tz: Option<String>,
    /// Only this project's spend.
    pub project: Option<String>,
}

/// Spend today, this month and all time; by model, provider and project; the 30-day trend.
#[utoipa::path(get, path = "/api/costs/summary", tag = "costs", security(("api_key" = [])), params(SummaryQuery),
    responses((status = 200, body = CostSummary), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SummaryQuery>,
) -> ApiResult<Json<CostSummary>> {
    let (tz, tz_name) = time_zone(query.tz.as_deref(), &caller.user)?;
    let project = query.project.as_deref().map(str::trim).filter(|p| !p.is_empty());
    Ok(Json(summarize(&state.store, &caller.user, &tz, tz_name, project).await?))
}
