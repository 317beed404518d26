//! Hard budgets: before a call is sent, its worst-case cost
//! ([`llmlab_core::reserve`]) is held on every hard budget that covers it,
//! all or none, atomically in the database; the call's event releases the
//! hold in the transaction that stores it, so the budget goes from "held"
//! to "spent" with nothing in between. A hold whose event never comes (the
//! server died mid-call) lapses after [`HoldSettings::ttl`]; every server
//! sweeps lapsed holds every second.
//!
//! What is never refused: calls covered by no hard budget, calls to models
//! priced at $0 (local models, custom $0 prices), and calls LLMLab cannot
//! price at all (unknown model or provider: they are recorded as unpriced,
//! and show up as such). What is always refused under a hard budget: a call
//! whose cost has no bound (no output limit anywhere, say), since any
//! amount could be spent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_core::budget::{CallLabels, Scope};
use llmlab_core::catalog::canonical_model_id;
use llmlab_core::reserve::{Reservation, reserve, reserve_unseen};
use llmlab_core::{Money, Provider, RateCard};
use llmlab_store::{HoldOutcome, User};

use super::account_tz;
use super::budget::Budget;
use super::ledger::Limit;
use crate::clock::{now_ms, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
pub use crate::state::{DEFAULT_HOLD_TTL, HARD_BUDGET_CACHE_TTL, HoldSettings};

/// How often each server releases lapsed holds.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// What a call wants to spend, as the hard-budget check sees it.
pub struct Call<'a> {
    pub provider: &'a Provider,
    pub labels: CallLabels<'a>,
    pub request: Request<'a>,
}

/// What is known of the request.
pub enum Request<'a> {
    /// The body about to be sent, and the API path it goes to.
    Seen { path: &'a str, body: &'a [u8] },
    /// Only the model (the SDK's hard mode without the request).
    Unseen { model: &'a str, max_output_tokens: Option<u64> },
    /// A body the proxy streams through unread (no `Content-Length`, or too large).
    Unread,
}

/// The hard budgets' answer.
pub enum Admission {
    /// Send it. `Some`: what was held, for the event to release.
    Send(Option<Hold>),
    /// Do not send it; why, in a sentence that says what to do.
    Refuse(Refusal),
}

/// A hold on a call's hard budgets.
pub struct Hold {
    pub id: String,
    pub amount: Money,
    pub expires_at: i64,
    pub budget_ids: Vec<i64>,
}

/// Why a call was refused.
pub struct Refusal {
    pub message: String,
    /// True when the budget is short; false when the call's cost has no bound.
    pub over_budget: bool,
}

impl Refusal {
    /// The API's error for this refusal: 429 `budget_exceeded`, or 422 when no bound exists.
    #[must_use]
    pub fn into_error(self) -> ApiError {
        if self.over_budget {
            ApiError::new(crate::error::ErrorCode::BudgetExceeded, self.message)
        } else {
            ApiError::new(crate::error::ErrorCode::InvalidField, self.message)
        }
    }
}

/// The account's hard budgets, cached for [`HARD_BUDGET_CACHE_TTL`].
async fn hard_budgets(state: &AppState, user_id: i64) -> ApiResult<Arc<Vec<Budget>>> {
    if let Some(budgets) = state.hard_budgets.get(&user_id) {
        return Ok(budgets);
    }
    let budgets: Vec<Budget> = state
        .store
        .budgets(user_id)
        .await?
        .into_iter()
        .filter(|row| row.hard)
        .map(Budget::read)
        .collect::<ApiResult<_>>()?;
    let budgets = Arc::new(budgets);
    state.hard_budgets.insert(user_id, budgets.clone());
    Ok(budgets)
}

/// Checks a call against the account's hard budgets and holds its
/// worst-case cost on every one that covers it.
pub async fn admit(state: &AppState, user: &User, call: &Call<'_>) -> ApiResult<Admission> {
    let budgets = hard_budgets(state, user.id).await?;
    let covering: Vec<&Budget> = budgets.iter().filter(|b| b.scope.covers(&call.labels)).collect();
    if covering.is_empty() {
        return Ok(Admission::Send(None));
    }
    let custom = state.custom_prices(user.id).await?;
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let catalog = state.catalog();
    let reservation = match &call.request {
        Request::Seen { path, body } => {
            let card = custom_card(&custom, call.provider, path, body);
            reserve(&catalog.catalog, call.provider, path, body, today, card)
        }
        Request::Unseen { model, max_output_tokens } => {
            let card = custom.card(call.provider, &canonical_model_id(model));
            reserve_unseen(&catalog.catalog, call.provider, model, *max_output_tokens, today, card)
        }
        Request::Unread => {
            return Ok(Admission::Refuse(Refusal {
                message: format!(
                    "LLMLab hard budget: {} covers this call, and its request body was not read (it has no \
                     `Content-Length`, or is over 32 MiB), so its cost cannot be bounded",
                    covering[0].describe()
                ),
                over_budget: false,
            }));
        }
    };
    let reservation = match reservation {
        Ok(reservation) => reservation,
        Err(error) => {
            return Ok(Admission::Refuse(Refusal {
                message: format!(
                    "LLMLab hard budget: {} covers this call, and its cost cannot be bounded: {error}",
                    covering[0].describe()
                ),
                over_budget: false,
            }));
        }
    };
    let amount = match &reservation {
        Reservation::Bounded(worst) if worst.cost > Money::ZERO => worst.cost,
        Reservation::Bounded(_) | Reservation::Free { .. } => return Ok(Admission::Send(None)),
        Reservation::Unpriced(why) => {
            tracing::debug!(reason = %why, "hard budget: an unpriced call is sent unheld");
            return Ok(Admission::Send(None));
        }
        Reservation::Unbounded { reason, .. } => {
            return Ok(Admission::Refuse(Refusal {
                message: format!(
                    "LLMLab hard budget: {} covers this call, and its cost has no bound ({reason}); set an output \
                     limit (`max_tokens`, `max_output_tokens`, `maxOutputTokens`) so it can be held",
                    covering[0].describe()
                ),
                over_budget: false,
            }));
        }
    };
    hold(state, user, &covering, amount).await
}

/// The account's custom price for the request's model, if it set one.
fn custom_card<'c>(
    custom: &'c crate::service::ingest::prepare::CustomPrices,
    provider: &Provider,
    path: &str,
    body: &[u8],
) -> Option<&'c RateCard> {
    #[derive(serde::Deserialize)]
    struct Model {
        model: Option<String>,
    }
    if custom.is_empty() {
        return None;
    }
    let from_path = llmlab_core::reserve::request_api(path).ok().and_then(|(_, model)| model.map(str::to_owned));
    let model = from_path.or_else(|| serde_json::from_slice::<Model>(body).ok()?.model)?;
    custom.card(provider, &canonical_model_id(&model))
}

/// Holds `amount` on every budget of `covering`, or says which one cannot take it.
async fn hold(state: &AppState, user: &User, covering: &[&Budget], amount: Money) -> ApiResult<Admission> {
    let now = Timestamp::now();
    let tz = account_tz(user);
    let mut periods = Vec::with_capacity(covering.len());
    for budget in covering {
        periods.push((budget.row.id, budget.bounds(now, &tz)?.key()));
    }
    let id = format!("rsv_{}", uuid::Uuid::new_v4().simple());
    let now_ms = now_ms();
    let ttl_ms = i64::try_from(state.settings.holds.ttl.as_millis()).unwrap_or(i64::MAX);
    let expires_at = now_ms.saturating_add(ttl_ms);
    let outcome = match state.writer.ledger() {
        Some(ledger) => {
            let limits: Vec<Limit> = covering
                .iter()
                .zip(&periods)
                .map(|(b, (_, key))| Limit {
                    budget_id: b.row.id,
                    period_key: key.clone(),
                    amount_nusd: b.row.amount_nusd,
                })
                .collect();
            ledger.hold(&state.store, user.id, &id, &limits, amount.nanos(), expires_at).await?
        }
        None => state.store.hold(user.id, &id, &periods, amount.nanos(), now_ms, expires_at).await?,
    };
    match outcome {
        HoldOutcome::Held => Ok(Admission::Send(Some(Hold {
            id,
            amount,
            expires_at,
            budget_ids: covering.iter().map(|b| b.row.id).collect(),
        }))),
        HoldOutcome::Refused { budget_id, spend } => {
            let budget = covering.iter().find(|b| b.row.id == budget_id).copied().unwrap_or(covering[0]);
            let bounds = budget.bounds(now, &tz)?;
            crate::service::alerts::hard_stop(state, user, budget, &bounds.key(), spend);
            Ok(Admission::Refuse(Refusal {
                message: refusal_message(budget, &bounds, spend, amount),
                over_budget: true,
            }))
        }
    }
}

/// "LLMLab hard budget reached: …": the budget, its period, its figures, what
/// the call would take, and what to do.
fn refusal_message(
    budget: &Budget,
    bounds: &llmlab_core::budget::PeriodBounds,
    spend: llmlab_store::PeriodSpend,
    cost: Money,
) -> String {
    let spent = Money::from_nanos(spend.spent_nusd);
    let held = Money::from_nanos(spend.reserved_nusd.max(0));
    let needed = Money::from_nanos(spend.spent_nusd + spend.reserved_nusd.max(0) + cost.nanos());
    let period = match bounds.first_day {
        Some(first) => format!("this {} (since {first})", budget.period),
        None => "in total".to_owned(),
    };
    let wait = match bounds.end {
        Some(end) => format!(", or wait for the next {} ({})", budget.period, rfc3339(end.as_millisecond())),
        None => String::new(),
    };
    let scope = match &budget.scope {
        Scope::Account => "the account".to_owned(),
        other => other.to_string(),
    };
    format!(
        "LLMLab hard budget reached: the {} budget of {scope} is ${}; ${spent} is spent {period} and ${held} is held by \
         calls in flight. This call may cost up to ${cost}, so it would take a budget of at least ${needed}; it was not \
         sent. Raise the budget (`llmlab budget <amount>{} --hard`){wait}",
        budget.period,
        budget.amount(),
        budget.cli_flags(),
    )
}

/// Releases a hold whose call was never made; `false` when there was none
/// (already released by its event, or lapsed).
pub async fn release(state: &AppState, user: &User, id: &str) -> ApiResult<bool> {
    match state.writer.ledger() {
        Some(ledger) => Ok(ledger.release(user.id, id)),
        None => Ok(state.store.release_hold(user.id, id).await?),
    }
}

/// Releases lapsed holds every [`SWEEP_EVERY`], for as long as the server runs.
#[must_use = "aborting the handle stops the sweeper"]
pub fn spawn_sweeper(state: &AppState) -> tokio::task::JoinHandle<()> {
    let store = Arc::downgrade(&state.store);
    let ledger = state.writer.ledger().map(Arc::downgrade);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // The store going away means the server is shutting down.
            let Some(store) = store.upgrade() else { break };
            let released = match ledger.as_ref().and_then(std::sync::Weak::upgrade) {
                Some(ledger) => Ok(ledger.expire(now_ms()) as u64),
                None => store.expire_holds(now_ms()).await,
            };
            match released {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "hard budgets: released holds whose calls never reported"),
                Err(error) => tracing::warn!(%error, "hard budgets: could not release lapsed holds"),
            }
        }
    })
}

/// The call's labels from a project and tags.
#[must_use]
pub fn labels<'a>(
    project: Option<&'a str>,
    api_key: &'a str,
    tags: Option<&'a BTreeMap<String, String>>,
) -> CallLabels<'a> {
    CallLabels { project: project.unwrap_or(llmlab_store::DEFAULT_PROJECT), api_key: Some(api_key), tags }
}
