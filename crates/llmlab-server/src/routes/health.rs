//! `GET /health`.

use axum::Json;
use axum::extract::State;
use llmlab_api::{ErrorBody, Health};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Liveness and database reachability: 503 with `Retry-After` while the
/// database does not answer (within the pool's acquire timeout, a few
/// seconds), so a load balancer takes the replica out and clients back off.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health),
        (status = 503, body = ErrorBody, description = "The database does not answer (`database_unavailable`); \
            the `Retry-After` header says when to ask again")))]
pub async fn get(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await.map_err(|error| {
        let backend = state.store.backend().as_str();
        let mut api_error = ApiError::database_unavailable(error);
        api_error.message = format!("the database ({backend}) is down: it does not answer");
        api_error
    })?;
    Ok(Json(Health {
        status: "ok".to_owned(),
        database: state.store.backend().as_str().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}
