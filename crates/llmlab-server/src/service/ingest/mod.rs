//! Ingest: a caller's events, validated and priced ([`prepare`]), stored by
//! the group-commit [`writer`], answered with each event's price and the
//! account's budget state. The REST API's track and batch endpoints call
//! [`ingest`]; the proxy's recorder, which flushes many accounts' calls at
//! once, uses [`prepare_observed`] and the same writer.

pub mod prepare;
pub mod writer;

use llmlab_api::{BudgetStatus, TrackEvent, TrackedEvent};
use llmlab_core::Money;
use llmlab_store::{EventBatch, InsertOutcome, NewEvent, User};

pub use prepare::{CustomPrices, PreparedEvent, prepare, prepare_observed, rate_card};
pub use writer::EventWriter;

use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most events in one batch request.
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// What storing a caller's events gave: each event's answer, and the
/// account's budget state after them.
pub struct Ingested {
    pub events: Vec<TrackedEvent>,
    pub budget: BudgetStatus,
}

/// Validates and prices every event (any error rejects them all: `field`
/// names the list, `events`, or is empty for one event), stores them as
/// recorded with the API key `api_key` (its public id), and adds the newly
/// stored ones to the month's budget.
pub async fn ingest(
    state: &AppState,
    user: &User,
    api_key: &str,
    events: Vec<TrackEvent>,
    field: &str,
) -> ApiResult<Ingested> {
    if events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::invalid(field, format!("at most {MAX_BATCH_EVENTS} events per batch; split it")));
    }
    let custom = state.custom_prices(user.id).await?;
    let now = now_ms();
    let catalog = state.catalog();
    let prepared: Vec<PreparedEvent> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let prefix = if field.is_empty() { String::new() } else { format!("{field}[{i}].") };
            prepare(&e, &prefix, &catalog.catalog, &custom, now)
        })
        .collect::<ApiResult<_>>()?;
    store_prepared(state, user, api_key, prepared).await
}

/// Stores events already prepared (see [`ingest`]) as recorded with the API
/// key `api_key`, and adds the newly stored ones to the budgets.
pub async fn store_prepared(
    state: &AppState,
    user: &User,
    api_key: &str,
    prepared: Vec<PreparedEvent>,
) -> ApiResult<Ingested> {
    let (mut records, mut answers): (Vec<NewEvent>, Vec<_>) =
        prepared.into_iter().map(|p| (p.record, p.response)).unzip();
    for record in &mut records {
        record.api_key = Some(api_key.to_owned());
    }
    let priced: Vec<(i64, Option<Money>)> = records.iter().map(|r| (r.occurred_at, r.price.cost())).collect();
    let outcomes = state.writer.write(EventBatch { user_id: user.id, events: records }).await?;
    let mut inserted = Vec::new();
    for ((answer, outcome), time_and_cost) in answers.iter_mut().zip(outcomes).zip(priced) {
        match outcome {
            InsertOutcome::Inserted => inserted.push(time_and_cost),
            InsertOutcome::Duplicate { cost } => {
                answer.duplicate = true;
                answer.cost_usd = cost;
                answer.priced = cost.is_some();
                if answer.priced {
                    // The stored event is priced, whatever pricing it again said.
                    answer.unpriced_code = None;
                    answer.unpriced_reason = None;
                }
            }
        }
    }
    if !inserted.is_empty() {
        state.alerts.spent(user.id);
    }
    let budget = state.budgets.status(&state.store, user, &inserted, false).await?;
    Ok(Ingested { events: answers, budget })
}
