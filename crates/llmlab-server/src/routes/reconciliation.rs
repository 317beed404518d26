//! `GET /api/reconciliation`.

use axum::Json;
use axum::extract::State;
use llmlab_api::Reconciliation;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::query::Query;
use crate::service::reports::reconcile;
use crate::state::AppState;

/// `GET /api/reconciliation` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// `YYYY-MM` (UTC days); default: this month.
    month: Option<String>,
}

/// Tracked against billed, per UTC day and provider and per model within
/// it: LLMLab's tracked calls and cost, the usage report's tokens priced
/// with LLMLab's catalog, the cost report's billed amount (exact), the drift
/// and the share of the day LLMLab never saw. Only connected providers.
#[utoipa::path(get, path = "/api/reconciliation", tag = "reports", security(("api_key" = [])), params(MonthQuery),
    responses((status = 200, body = Reconciliation), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<MonthQuery>,
) -> ApiResult<Json<Reconciliation>> {
    Ok(Json(reconcile::reconciliation(&state, &caller.user, query.month.as_deref()).await?))
}
