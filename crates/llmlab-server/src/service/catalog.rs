//! The price catalog in force and updating it without a release: a newer
//! catalog (or a public price source mapped onto it) is validated exactly
//! like the built-in one, refused when older than the one in force, shown as
//! a diff, and applied: stored (so it survives restarts), put in force, and
//! every account's events that were unpriced for want of a price are priced
//! at the rates of their own date, in the transaction that stores it.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use llmlab_api::{
    CatalogInfo, CatalogModelAdded, CatalogModelChanged, CatalogModelRef, CatalogNote, CatalogPriceChange,
    CatalogUpdateRequest, CatalogUpdateResponse,
};
use llmlab_core::catalog_import::{Import, SourceFormat, Unmapped, genai_prices, litellm};
use llmlab_core::catalog_update::{CatalogDiff, UpdateRefusal, check_update, diff};
use llmlab_core::cost::quote;
use llmlab_core::{Catalog, Money, PriceSource, Provider, ServiceTier};
use llmlab_store::{Repriced, Store, StoredCatalog, StoredEvent};

use crate::clock::{now_ms, rfc3339};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::{ActiveCatalog, AppState};

/// The catalog to price with at start: the newest stored update when it is
/// newer than the built-in catalog, else the built-in one. A stored catalog
/// this binary cannot read (written by a newer release) is logged and skipped.
pub async fn load_at_start(store: &Store) -> Result<ActiveCatalog, llmlab_store::StoreError> {
    let builtin = ActiveCatalog::builtin();
    let Some(stored) = store.latest_catalog().await? else { return Ok(builtin) };
    match Catalog::from_toml(&stored.catalog) {
        Ok(catalog) if catalog.updated() > builtin.catalog.updated() => {
            tracing::info!(version = %catalog.updated(), "pricing with the catalog loaded by `llmlab prices update`");
            Ok(ActiveCatalog {
                catalog,
                text: std::borrow::Cow::Owned(stored.catalog),
                applied_at: Some(stored.applied_at),
            })
        }
        Ok(catalog) => {
            tracing::info!(
                stored = %catalog.updated(),
                builtin = %builtin.catalog.updated(),
                "the built-in catalog is as new as the stored update or newer; pricing with the built-in one"
            );
            Ok(builtin)
        }
        Err(error) => {
            tracing::warn!(%error, "the stored catalog update cannot be read; pricing with the built-in catalog");
            Ok(builtin)
        }
    }
}

/// How often a server looks for a catalog update applied through another replica.
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Puts in force, within [`REFRESH_EVERY`], a catalog update applied through
/// another replica (this one's own updates are in force at once).
#[must_use]
pub fn spawn_refresh(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REFRESH_EVERY);
        ticks.tick().await;
        // The newest stored update this server has looked at (not necessarily in force:
        // the built-in catalog may be newer).
        let mut seen = state.catalog().applied_at;
        loop {
            ticks.tick().await;
            let stored = match state.store.latest_catalog_applied_at().await {
                Ok(stored) => stored,
                Err(error) => {
                    tracing::warn!(%error, "could not look for a catalog update");
                    continue;
                }
            };
            if stored.is_none() || stored == seen || stored == state.catalog().applied_at {
                continue;
            }
            seen = stored;
            match load_at_start(&state.store).await {
                Ok(loaded) if loaded.applied_at.is_some() => {
                    tracing::info!(version = %loaded.catalog.updated(), "a catalog update was applied elsewhere; pricing with it");
                    state.catalogs.replace(Arc::new(loaded));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not load the catalog update"),
            }
        }
    })
}

/// The catalog in force.
#[must_use]
pub fn info(state: &AppState) -> CatalogInfo {
    let active = state.catalog();
    CatalogInfo {
        version: active.catalog.updated().to_string(),
        origin: if active.applied_at.is_some() { "update" } else { "builtin" }.to_owned(),
        applied_at: active.applied_at.map(rfc3339),
        builtin_version: Catalog::builtin().updated().to_string(),
        models: active.catalog.models().len(),
    }
}

/// Previews or applies a catalog update.
pub async fn update(state: &AppState, request: &CatalogUpdateRequest) -> ApiResult<CatalogUpdateResponse> {
    let format = match request.format.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(format) => format.parse::<SourceFormat>().map_err(|e| ApiError::invalid("format", e))?,
        None => SourceFormat::detect(&request.content),
    };
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let in_force = state.catalog();
    let (text, import) = read(&in_force, format, &request.content, today)?;
    let offered = Catalog::from_toml(&text).map_err(|e| ApiError::invalid("content", e))?;
    check_update(&in_force.catalog, &offered, today, request.force).map_err(|refusal| match refusal {
        UpdateRefusal::Older { .. } => ApiError::new(ErrorCode::Conflict, refusal.to_string()),
        other => ApiError::invalid("content", other),
    })?;
    let changes = diff(&in_force.catalog, &offered);
    let mut response = view(format, &changes, import.as_ref());
    if request.dry_run || (changes.is_empty() && offered.updated() == in_force.catalog.updated()) {
        return Ok(response);
    }
    let applied_at = now_ms();
    let stored = StoredCatalog { version: offered.updated().to_string(), catalog: text.clone(), applied_at };
    let next =
        Arc::new(ActiveCatalog { catalog: offered, text: std::borrow::Cow::Owned(text), applied_at: Some(applied_at) });
    // In force first: calls recorded while the events are repriced are priced with it already.
    let previous = state.catalogs.replace(next.clone());
    let reprice = |event: &StoredEvent| reprice(&next.catalog, event);
    let applied = match state.store.apply_catalog(&stored, reprice, applied_at).await {
        Ok(applied) => applied,
        Err(error) => {
            state.catalogs.replace(previous);
            return Err(error.into());
        }
    };
    for user_id in &applied.accounts {
        state.forget_account(*user_id);
        let user = state.store.user(*user_id).await?;
        crate::service::budgets::recount(state, &user).await?;
    }
    tracing::info!(
        from = %response.from_version,
        to = %response.to_version,
        added = changes.added.len(),
        changed = changes.changed.len(),
        removed = changes.removed.len(),
        repriced_events = applied.repriced_events,
        "price catalog updated"
    );
    response.applied = true;
    response.repriced_events = applied.repriced_events;
    Ok(response)
}

/// The catalog text an update offers: the file itself, or the catalog in
/// force with a public source's new models appended.
fn read(
    in_force: &ActiveCatalog,
    format: SourceFormat,
    content: &str,
    today: Date,
) -> ApiResult<(String, Option<Import>)> {
    let import = match format {
        SourceFormat::Llmlab => return Ok((content.to_owned(), None)),
        SourceFormat::Litellm => litellm::import(&in_force.text, &in_force.catalog, content, today),
        SourceFormat::GenaiPrices => genai_prices::import(&in_force.text, &in_force.catalog, content, today),
    }
    .map_err(|e| ApiError::invalid("content", e))?;
    Ok((import.text.clone(), Some(import)))
}

/// The price of an event that was unpriced for want of a price, from `catalog`
/// at the rates of the event's own date; `None` when it still has none.
fn reprice(catalog: &Catalog, event: &StoredEvent) -> Option<Repriced> {
    let provider = Provider::parse(&event.provider);
    let found = catalog.resolve(Some(&provider), &event.model)?;
    let date = Timestamp::from_millisecond(event.occurred_at).ok()?.to_zoned(TimeZone::UTC).date();
    let (tier, _) = ServiceTier::from_name(&event.service_tier);
    let q = quote(found.entry.rates_on(date), &event.tokens(), tier, &found.entry.id).ok()?;
    // An event this price would make dearer than any one event may be stays unpriced.
    if q.cost > Money::MAX_PER_EVENT {
        return None;
    }
    Some(Repriced {
        event: event.clone(),
        cost: q.cost,
        source: PriceSource::Catalog,
        priced_as: found.entry.id.clone(),
    })
}

fn view(format: SourceFormat, changes: &CatalogDiff, import: Option<&Import>) -> CatalogUpdateResponse {
    let show = |d: rust_decimal::Decimal| d.normalize().to_string();
    let notes = |list: &[Unmapped]| {
        list.iter().map(|u| CatalogNote { model: u.model.clone(), reason: u.reason.clone() }).collect::<Vec<_>>()
    };
    let version = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    CatalogUpdateResponse {
        applied: false,
        format: format.as_str().to_owned(),
        from_version: version(changes.from_version),
        to_version: version(changes.to_version),
        added: changes
            .added
            .iter()
            .map(|m| CatalogModelAdded {
                id: m.id.clone(),
                provider: m.provider.as_str().to_owned(),
                effective_from: m.effective_from.to_string(),
                input_per_million_usd: show(m.input),
                output_per_million_usd: show(m.output),
            })
            .collect(),
        removed: changes
            .removed
            .iter()
            .map(|m| CatalogModelRef { id: m.id.clone(), provider: m.provider.as_str().to_owned() })
            .collect(),
        changed: changes
            .changed
            .iter()
            .map(|m| CatalogModelChanged {
                id: m.id.clone(),
                provider: m.provider.as_str().to_owned(),
                effective_from: m.effective_from.to_string(),
                prices: m
                    .prices
                    .iter()
                    .map(|p| CatalogPriceChange {
                        table: p.table.clone(),
                        class: p.class.clone(),
                        before: p.before.map(show),
                        after: p.after.map(show),
                    })
                    .collect(),
                other: m.other.clone(),
            })
            .collect(),
        unchanged: import.map_or(0, |i| i.unchanged),
        differing: import.map(|i| notes(&i.differing)).unwrap_or_default(),
        unmapped: import.map(|i| notes(&i.unmapped)).unwrap_or_default(),
        repriced_events: 0,
    }
}
