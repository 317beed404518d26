//! An account's own prices: set (repricing the model's unpriced events in
//! the same transaction), listed, removed.

use llmlab_api::{CustomPrice as PriceView, SetPriceRequest, SetPriceResponse};
use llmlab_core::catalog::canonical_model_id;
use llmlab_core::cost::quote;
use llmlab_core::price_check;
use llmlab_core::{Money, PriceSource, Provider, ServiceTier};
use llmlab_store::{CustomPrice, Repriced, StoredEvent, User};

use crate::clock::now_ms;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::service::ingest::rate_card;
use crate::service::labels;
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

/// Refuses prices that look like a slip ([`llmlab_core::price_check`]):
/// per token instead of per 1M, or a thousand times off the catalog's price
/// of the model (today's standard rates), unless the request forces them.
fn check_for_slips(
    state: &AppState,
    provider: Option<&Provider>,
    model: &str,
    request: &SetPriceRequest,
) -> ApiResult<()> {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let catalog = state
        .catalog()
        .catalog
        .resolve(provider, model)
        .map(|found| price_check::catalog_prices(&found.entry.rates_on(today).standard));
    let entered = [
        ("input_per_million_usd", Some(request.input_per_million_usd)),
        ("output_per_million_usd", Some(request.output_per_million_usd)),
        ("cache_read_per_million_usd", request.cache_read_per_million_usd),
        ("cache_write_per_million_usd", request.cache_write_per_million_usd),
        ("cache_write_1h_per_million_usd", request.cache_write_1h_per_million_usd),
    ];
    for (i, (field, value)) in entered.into_iter().enumerate() {
        let Some(value) = value else { continue };
        let known = catalog.as_ref().and_then(|prices| prices[i]);
        if let Some(doubt) = price_check::doubt(value.to_decimal_usd(), known) {
            return Err(ApiError::invalid(
                field,
                format!("{doubt}. If it is right, send `\"force\": true` (`llmlab prices set … --force`)"),
            ));
        }
    }
    Ok(())
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

/// Sets the account's price for a model (USD per 1M tokens) and reprices
/// its earlier unpriced events of that model.
pub async fn set(state: &AppState, user: &User, request: &SetPriceRequest) -> ApiResult<SetPriceResponse> {
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
    if !request.force {
        check_for_slips(state, provider.as_ref(), model, request)?;
    }
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
        Some(Repriced {
            event: event.clone(),
            cost: q.cost,
            source: PriceSource::Custom,
            priced_as: price.model_key.clone(),
        })
    };
    let (stored, repriced_events) = state.store.set_custom_price(user.id, &price, reprice, now).await?;
    state.forget_account(user.id);
    if repriced_events > 0 {
        crate::service::budgets::recount(state, user).await?;
    }
    tracing::info!(user = %user.public_id, model = %stored.model_key, repriced_events, "custom price set");
    Ok(SetPriceResponse { price: view(stored), repriced_events })
}

/// The account's custom prices.
pub async fn list(state: &AppState, user: &User) -> ApiResult<Vec<PriceView>> {
    Ok(state.store.custom_prices(user.id).await?.into_iter().map(view).collect())
}

/// Removes the account's price for `model` (events priced with it keep their cost).
pub async fn remove(state: &AppState, user: &User, model: &str) -> ApiResult<()> {
    let model = labels::text(model, labels::MAX_MODEL_CHARS).map_err(|e| ApiError::invalid("model", e))?;
    if state.store.delete_custom_price(user.id, &canonical_model_id(model)).await? {
        state.forget_account(user.id);
        Ok(())
    } else {
        Err(ApiError::not_found(format!("this account has no price for `{model}`")))
    }
}
