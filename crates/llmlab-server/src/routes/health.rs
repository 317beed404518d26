//! `GET /health`.

use axum::Json;
use axum::extract::State;
use llmlab_api::Health;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 500, description = "The database does not answer")))]
pub async fn get(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await.map_err(|e| {
        tracing::error!(error = %e, "health check: the database does not answer");
        ApiError::new(ErrorCode::Internal, "the database does not answer")
    })?;
    Ok(Json(Health {
        status: "ok".to_owned(),
        database: state.store.backend().as_str().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}
