//! An account's own prices.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use llmlab_api::{CustomPrice as PriceView, SetPriceRequest, SetPriceResponse};
use llmlab_core::catalog::canonical_model_id;
use llmlab_core::cost::quote;
use llmlab_core::{Money, Provider, ServiceTier};
use llmlab_store::{CustomPrice, Repriced, StoredEvent};

use super::rfc3339;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::ingest::rate_card;
use crate::json::Json;
use crate::labels;
use crate::state::AppState;

/// The most a price may be, per 1M tokens: far above any real model.
const MAX_PRICE_USD: i64 = 100_000;

fn check_price(field: &str, value: Money) -> ApiResult<String> {
    if value < Money::ZERO {
        return Err(ApiError::invalid(field, "must not be negative"));
    }
    if value > Money::from_nanos(MAX_PRICE_USD * 1_000_000_000) {
        return Err(ApiError::invalid(field, format!("must be at most {MAX_PRICE_USD} (USD per 1M tokens)")));
    }
    Ok(value.to_string())
}

fn view(price: CustomPrice) -> PriceView {
    let money = |s: &str| s.parse::<Money>().unwrap_or(Money::ZERO);
    PriceView {
        input_per_million_usd: money(&price.input),
        output_per_million_usd: money(&price.output),
        cache_read_per_million_usd: price.cache_read.as_deref().map(money),
        cache_write_per_million_usd: price.cache_write_5m.as_deref().map(money),
        cache_write_1h_per_million_usd: price.cache_write_1h.as_deref().map(money),
        model: price.model_key,
        provider: price.provider,
        created_at: rfc3339(price.created_at),
        updated_at: rfc3339(price.updated_at),
    }
}

/// Sets the account's price for a model (USD per 1M tokens) and reprices its
/// earlier unpriced events of that model.
#[utoipa::path(post, path = "/api/prices", tag = "prices", security(("api_key" = [])), request_body = SetPriceRequest,
    responses((status = 201, body = SetPriceResponse), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SetPriceRequest>,
) -> ApiResult<(StatusCode, Reply<SetPriceResponse>)> {
    let model = labels::text(&request.model, labels::MAX_MODEL_CHARS).map_err(|e| ApiError::invalid("model", e))?;
    // A blank provider means "any", like an omitted one.
    let provider = match request.provider.as_deref() {
        Some(p) => {
            labels::optional_text(p, labels::MAX_PROVIDER_CHARS).map_err(|e| ApiError::invalid("provider", e))?
        }
        None => None,
    }
    .map(Provider::parse);
    let optional = |field: &str, v: Option<Money>| v.map(|m| check_price(field, m)).transpose();
    let now = now_ms();
    let price = CustomPrice {
        model_key: canonical_model_id(model),
        provider: provider.as_ref().map(|p| p.as_str().to_owned()),
        input: check_price("input_per_million_usd", request.input_per_million_usd)?,
        output: check_price("output_per_million_usd", request.output_per_million_usd)?,
        cache_read: optional("cache_read_per_million_usd", request.cache_read_per_million_usd)?,
        cache_write_5m: optional("cache_write_per_million_usd", request.cache_write_per_million_usd)?,
        cache_write_1h: optional("cache_write_1h_per_million_usd", request.cache_write_1h_per_million_usd)?,
        created_at: now,
        updated_at: now,
    };
    let card = rate_card(&price).map_err(ApiError::internal)?;
    let reprice = |event: &StoredEvent| -> Option<Repriced> {
        if provider.as_ref().is_some_and(|p| p.as_str() != event.provider) {
            return None;
        }
        let (tier, _) = ServiceTier::from_name(&event.service_tier);
        let q = quote(&card, &event.tokens(), tier, &price.model_key).ok()?;
        // An event this price would make dearer than any one event may be stays unpriced.
        if q.cost > llmlab_core::Money::MAX_PER_EVENT {
            return None;
        }
        Some(Repriced { event: event.clone(), cost: q.cost, source: "custom", priced_as: price.model_key.clone() })
    };
    let (stored, repriced_events) = state.store.set_custom_price(caller.user.id, &price, reprice, now).await?;
    state.forget_account(caller.user.id);
    tracing::info!(user = %caller.user.public_id, model = %stored.model_key, repriced_events, "custom price set");
    Ok((StatusCode::CREATED, Reply(SetPriceResponse { price: view(stored), repriced_events })))
}

/// The account's custom prices.
#[utoipa::path(get, path = "/api/prices", tag = "prices", security(("api_key" = [])),
    responses((status = 200, body = Vec<PriceView>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<Vec<PriceView>>> {
    let prices = state.store.custom_prices(caller.user.id).await?;
    Ok(Reply(prices.into_iter().map(view).collect()))
}

/// `DELETE /api/prices/{model}` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ModelPath {
    /// The model id, as it was set.
    #[param(schema_with = llmlab_api::limits::model, required = true)]
    model: String,
}

/// Removes the account's price for a model (events priced with it keep their cost).
#[utoipa::path(delete, path = "/api/prices/{model}", tag = "prices", security(("api_key" = [])), params(ModelPath),
    responses((status = 204, description = "Removed"),
              (status = 404, body = llmlab_api::ErrorBody, description = "The account has no price for this model")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(ModelPath { model }): Path<ModelPath>,
) -> ApiResult<StatusCode> {
    let model = labels::text(&model, labels::MAX_MODEL_CHARS).map_err(|e| ApiError::invalid("model", e))?;
    if state.store.delete_custom_price(caller.user.id, &canonical_model_id(model)).await? {
        state.forget_account(caller.user.id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("this account has no price for `{model}`")))
    }
}
