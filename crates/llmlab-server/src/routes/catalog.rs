//! The price catalog in force, and updating it without a release: the HTTP
//! side of the catalog service, for the server's operator (admin token).

use axum::Json as Reply;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use llmlab_api::{CatalogInfo, CatalogUpdateRequest, CatalogUpdateResponse};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::json::Json;
use crate::service::catalog;
use crate::signup;
use crate::state::AppState;

/// Only the server's admin token may see or change the catalog in force.
fn require_admin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if signup::is_admin(headers, state.admin_token_hash()) {
        return Ok(());
    }
    if state.admin_token_hash().is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidAdminToken,
            "this server has no admin token, so nobody can update its price catalog: set `LLMLAB_ADMIN_TOKEN` and \
             restart it",
        ));
    }
    let problem = if headers.contains_key(AUTHORIZATION) { "does not hold" } else { "is missing; it must hold" };
    Err(ApiError::new(
        ErrorCode::InvalidAdminToken,
        format!(
            "the `Authorization: Bearer …` header {problem} this server's admin token (`LLMLAB_ADMIN_TOKEN`); \
             only the server's operator can change the price catalog"
        ),
    ))
}

/// The price catalog in force: its version (`updated` date) and whether it is
/// the built-in one or an update. Needs the admin token as `Authorization: Bearer`.
#[utoipa::path(get, path = "/api/admin/catalog", tag = "catalog", security(("admin_token" = [])),
    responses((status = 200, body = CatalogInfo),
              (status = 401, body = llmlab_api::ErrorBody,
               description = "No admin token, or not this server's (`invalid_admin_token`)")))]
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Reply<CatalogInfo>> {
    require_admin(&state, &headers)?;
    Ok(Reply(catalog::info(&state)))
}

/// Previews (`dry_run`) or applies a newer price catalog: LLMLab's own TOML
/// (validated exactly like the built-in one), or LiteLLM's or genai-prices'
/// price JSON, whose models the catalog lacks are added (what cannot be
/// mapped is listed). Applying stores it (it survives restarts), puts it in
/// force, and prices every account's events that were unpriced for want of a
/// price at the rates of their own date; priced events keep their cost.
/// Needs the admin token as `Authorization: Bearer`.
#[utoipa::path(post, path = "/api/admin/catalog", tag = "catalog", security(("admin_token" = [])),
    request_body = CatalogUpdateRequest,
    responses((status = 200, body = CatalogUpdateResponse),
              (status = 401, body = llmlab_api::ErrorBody,
               description = "No admin token, or not this server's (`invalid_admin_token`)"),
              (status = 409, body = llmlab_api::ErrorBody,
               description = "The catalog is older than the one in force (`conflict`); the message names both dates"),
              (status = 422, body = llmlab_api::ErrorBody,
               description = "The file is not a valid catalog, or a price looks like a slip (per token instead of \
                              per 1M, or 1000× off) and `force` is not set (`invalid_field`)")))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<CatalogUpdateRequest>,
) -> ApiResult<Reply<CatalogUpdateResponse>> {
    require_admin(&state, &headers)?;
    Ok(Reply(catalog::update(&state, &request).await?))
}
