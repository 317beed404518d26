//! Budgets. Each has a scope (the account, a project, an API key, a tag), a
//! period (day, week, month, total) and may be hard ([`holds`]: calls it
//! cannot cover are not sent). [`scoped`] creates, changes and reads them.
//! The seed API's one monthly budget is the account's `month` budget, read
//! and written here with its original shapes; its state rides on every
//! track response from the [`tracker`], which keeps each account's month cached.

pub mod budget;
pub mod holds;
pub mod ledger;
pub mod scoped;
pub mod tracker;

use llmlab_api::{Budget, BudgetResponse, BudgetStatus, ReserveRequest, ReserveResponse, SetBudgetRequest};
use llmlab_core::Money;
use llmlab_core::Provider;
use llmlab_core::budget::{BudgetPeriod, Thresholds};
use llmlab_store::{BudgetRow, NewBudget, User};

pub use tracker::{Budgets, account_tz, month_of};

use crate::clock::{now_ms, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::service::labels;
use crate::state::AppState;

/// The largest budget accepted: one billion USD.
pub const MAX_BUDGET_USD: i64 = 1_000_000_000;

/// The account's monthly budget as the seed API shows it.
fn view(row: &BudgetRow) -> Budget {
    Budget {
        amount_usd: Money::from_nanos(row.amount_nusd),
        // The seed API's name for a calendar month.
        period: "monthly".to_owned(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

/// The account's monthly budget, if one is set.
pub async fn current(state: &AppState, user: &User) -> ApiResult<BudgetResponse> {
    Ok(BudgetResponse { budget: state.store.budget(user.id).await?.as_ref().map(view) })
}

/// Sets the account's monthly budget (calendar months in the account's time
/// zone), keeping its hardness and thresholds if it had them.
pub async fn set(state: &AppState, user: &User, request: &SetBudgetRequest) -> ApiResult<BudgetResponse> {
    if request.amount_usd <= Money::ZERO {
        return Err(ApiError::invalid("amount_usd", "must be more than 0"));
    }
    if request.amount_usd > Money::from_nanos(MAX_BUDGET_USD * 1_000_000_000) {
        return Err(ApiError::invalid("amount_usd", format!("must be at most {MAX_BUDGET_USD}")));
    }
    if request.period != "monthly" {
        return Err(ApiError::invalid(
            "period",
            format!(
                "`{}` is not supported here; use `monthly`, or `POST /api/budgets/scoped` for day, week and total budgets",
                request.period
            ),
        ));
    }
    let existing = state.store.budget(user.id).await?;
    let budget = NewBudget {
        scope: "account".to_owned(),
        target: String::new(),
        period: BudgetPeriod::Month.as_str().to_owned(),
        amount_nusd: request.amount_usd.nanos(),
        hard: existing.as_ref().map_or(user.hard_budget, |b| b.hard),
        thresholds: existing.map_or_else(|| Thresholds::default().to_string(), |b| b.thresholds),
    };
    let bounds = month_of(jiff::Timestamp::now(), &account_tz(user))?;
    let (row, created) = state.store.save_budget(user.id, &budget, &bounds, now_ms()).await?;
    if created {
        recount_again_later(state, user);
    }
    scoped::changed(state, user.id);
    Ok(BudgetResponse { budget: Some(view(&row)) })
}

/// Removes the monthly budget: no more warnings, and the proxy stops refusing calls for it.
pub async fn remove(state: &AppState, user: &User) -> ApiResult<BudgetResponse> {
    state.store.delete_budget(user.id).await?;
    scoped::changed(state, user.id);
    Ok(BudgetResponse { budget: None })
}

/// Spend this month against the monthly budget, read fresh.
pub async fn status(state: &AppState, user: &User) -> ApiResult<BudgetStatus> {
    state.budgets.status(&state.store, user, &[], true).await
}

/// Makes the account's monthly budget hard or soft (the account's
/// `hard_budget` setting, which also applies to a monthly budget set later).
pub async fn set_account_hardness(state: &AppState, user: &User, hard: bool) -> ApiResult<()> {
    if let Some(row) = state.store.budget(user.id).await?
        && row.hard != hard
    {
        state.store.update_budget(user.id, row.id, None, Some(hard), None, None, now_ms()).await?;
        scoped::changed(state, user.id);
    }
    Ok(())
}

/// How long after counting a budget from the stored events it is counted
/// again, on PostgreSQL: long enough for every group commit that was in
/// flight during the first count to have ended (they take milliseconds).
pub const RECOUNT_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// On PostgreSQL, counts the account's budgets once more after
/// [`RECOUNT_AGAIN_AFTER`]: a group commit running beside a count can slip
/// between it (see `llmlab_store`'s budgets module); the second count sets
/// each total from everything stored by then.
pub fn recount_again_later(state: &AppState, user: &User) {
    if state.store.backend() != llmlab_store::Backend::Postgres {
        return;
    }
    let (state, user) = (state.clone(), user.clone());
    tokio::spawn(async move {
        tokio::time::sleep(RECOUNT_AGAIN_AFTER).await;
        if let Err(error) = count_all(&state, &user).await {
            tracing::warn!(error = %error.message, "could not count the account's budgets again");
        }
    });
}

/// Counts every budget's current period again from the stored events
/// (after the account's time zone changed, or its events were repriced).
pub async fn recount(state: &AppState, user: &User) -> ApiResult<()> {
    count_all(state, user).await?;
    recount_again_later(state, user);
    Ok(())
}

async fn count_all(state: &AppState, user: &User) -> ApiResult<()> {
    let now = jiff::Timestamp::now();
    let tz = account_tz(user);
    state
        .store
        .recount_budgets(user.id, |row| {
            let period: BudgetPeriod = row.period.parse().ok()?;
            period.bounds(now, &tz).ok()
        })
        .await?;
    if let Some(ledger) = state.writer.ledger() {
        let ids: Vec<i64> = state.store.budgets(user.id).await?.iter().map(|b| b.id).collect();
        ledger.forget_spent(&ids);
    }
    scoped::changed(state, user.id);
    Ok(())
}

/// `POST /api/budgets/reserve`: the SDK's hard mode, before it calls the provider.
pub async fn reserve(
    state: &AppState,
    user: &User,
    api_key: &str,
    request: &ReserveRequest,
) -> ApiResult<(ReserveResponse, bool)> {
    let provider = Provider::parse(
        labels::text(&request.provider, labels::MAX_PROVIDER_CHARS).map_err(|e| ApiError::invalid("provider", e))?,
    );
    let project = request
        .project
        .as_deref()
        .map(|p| labels::text(p, labels::MAX_PROJECT_CHARS).map_err(|e| ApiError::invalid("project", e)))
        .transpose()?;
    labels::tags(request.tags.as_ref()).map_err(|e| ApiError::invalid("tags", e))?;
    let default_path = match &provider {
        Provider::Anthropic => "/v1/messages".to_owned(),
        Provider::Google => format!("/v1beta/models/{}:generateContent", request.model.as_deref().unwrap_or("")),
        _ => "/v1/chat/completions".to_owned(),
    };
    let path = request.path.clone().unwrap_or(default_path);
    let model = request.model.as_deref().map(str::trim).filter(|m| !m.is_empty());
    let request_kind = match (&request.request, model) {
        (Some(body), _) => holds::Request::Seen { path: &path, body: body.get().as_bytes() },
        (None, Some(model)) => holds::Request::Unseen { model, max_output_tokens: request.max_output_tokens },
        (None, None) => return Err(ApiError::invalid("model", "give the `model`, or the `request` about to be sent")),
    };
    let call = holds::Call {
        provider: &provider,
        labels: holds::labels(project, api_key, request.tags.as_ref()),
        request: request_kind,
    };
    match holds::admit(state, user, &call).await? {
        holds::Admission::Send(Some(hold)) => Ok((
            ReserveResponse {
                reservation_id: Some(hold.id),
                reserved_usd: hold.amount,
                expires_at: Some(rfc3339(hold.expires_at)),
                budget_ids: hold.budget_ids,
            },
            true,
        )),
        holds::Admission::Send(None) => Ok((
            ReserveResponse {
                reservation_id: None,
                reserved_usd: Money::ZERO,
                expires_at: None,
                budget_ids: Vec::new(),
            },
            false,
        )),
        holds::Admission::Refuse(refusal) => Err(refusal.into_error()),
    }
}
