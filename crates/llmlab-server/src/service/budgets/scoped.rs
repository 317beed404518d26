//! Budgets with a scope (the account, a project, an API key, a tag) and a
//! period (day, week, month, total): created, changed, removed, and read
//! with their current period's figures. The counting itself happens where
//! events are stored (`llmlab_store`'s budgets module); this module checks
//! what users ask for and turns stored counts into states.

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::Timestamp;
use llmlab_api::{BudgetScope, CreateBudgetRequest, ScopedBudget, ScopedBudgets, UpdateBudgetRequest};
use llmlab_core::Money;
use llmlab_core::budget::{BudgetPeriod, Percent, PeriodBounds, Scope, Thresholds};
use llmlab_store::{NewBudget, PeriodSpend, User};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::budget::{Budget, status_of};
use super::{MAX_BUDGET_USD, account_tz};
use crate::clock::{now_ms, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::service::labels;
use crate::state::AppState;

/// Most budgets one account may have.
pub const MAX_BUDGETS: usize = 100;

/// Every budget of the account with its current period.
pub async fn list(state: &AppState, user: &User) -> ApiResult<ScopedBudgets> {
    let budgets: Vec<Budget> =
        state.store.budgets(user.id).await?.into_iter().map(Budget::read).collect::<ApiResult<_>>()?;
    Ok(ScopedBudgets { budgets: views(state, user, budgets).await? })
}

/// One budget of the account.
pub async fn get(state: &AppState, user: &User, id: i64) -> ApiResult<ScopedBudget> {
    let row = state.store.budget_by_id(user.id, id).await?.ok_or_else(|| not_found(id))?;
    one_view(state, user, Budget::read(row)?).await
}

/// Creates a budget, or replaces the one the scope has for that period;
/// `true` when created.
pub async fn create(state: &AppState, user: &User, request: &CreateBudgetRequest) -> ApiResult<(ScopedBudget, bool)> {
    check_amount("amount_usd", request.amount_usd)?;
    let period = parse_period(&request.period)?;
    let thresholds = parse_thresholds(request.thresholds.as_deref())?.unwrap_or_default();
    let scope = resolve_scope(state, user, request.scope, request.target.as_deref()).await?;
    let existing = state.store.budgets(user.id).await?;
    let replaces =
        existing.iter().any(|b| b.scope == scope.kind() && b.target == scope.target() && b.period == period.as_str());
    if !replaces && existing.len() >= MAX_BUDGETS {
        return Err(ApiError::invalid(
            "scope",
            format!("an account has at most {MAX_BUDGETS} budgets; remove one first"),
        ));
    }
    let new = NewBudget {
        scope: scope.kind().to_owned(),
        target: scope.target(),
        period: period.as_str().to_owned(),
        amount_nusd: request.amount_usd.nanos(),
        hard: request.hard,
        thresholds: thresholds.to_string(),
    };
    let bounds = period.bounds(Timestamp::now(), &account_tz(user)).map_err(ApiError::internal)?;
    let (row, created) = state.store.save_budget(user.id, &new, &bounds, now_ms()).await?;
    if created {
        super::recount_again_later(state, user);
    }
    changed(state, user.id);
    Ok((one_view(state, user, Budget::read(row)?).await?, created))
}

/// Changes a budget's amount, period, hardness or thresholds.
pub async fn update(state: &AppState, user: &User, id: i64, request: &UpdateBudgetRequest) -> ApiResult<ScopedBudget> {
    if let Some(amount) = request.amount_usd {
        check_amount("amount_usd", amount)?;
    }
    let period = request.period.as_deref().map(parse_period).transpose()?;
    let thresholds = parse_thresholds(request.thresholds.as_deref())?.map(|t| t.to_string());
    let current = state.store.budget_by_id(user.id, id).await?.ok_or_else(|| not_found(id))?;
    // Only a different period needs counting again.
    let period = period.filter(|p| p.as_str() != current.period);
    let bounds =
        period.map(|p| p.bounds(Timestamp::now(), &account_tz(user)).map_err(ApiError::internal)).transpose()?;
    let row = state
        .store
        .update_budget(
            user.id,
            id,
            request.amount_usd.map(Money::nanos),
            request.hard,
            thresholds.as_deref(),
            period.zip(bounds.as_ref()).map(|(p, b)| (p.as_str(), b)),
            now_ms(),
        )
        .await?
        .ok_or_else(|| not_found(id))?;
    if period.is_some() {
        super::recount_again_later(state, user);
        if let Some(ledger) = state.writer.ledger() {
            ledger.forget_spent(&[id]);
        }
    }
    changed(state, user.id);
    one_view(state, user, Budget::read(row)?).await
}

/// Removes a budget (and releases what calls in flight hold on it).
pub async fn remove(state: &AppState, user: &User, id: i64) -> ApiResult<()> {
    if !state.store.delete_budget_by_id(user.id, id).await? {
        return Err(not_found(id));
    }
    changed(state, user.id);
    Ok(())
}

/// Forgets what is cached about the account's budgets.
pub(super) fn changed(state: &AppState, user_id: i64) {
    state.budgets.invalidate(user_id);
    state.hard_budgets.retain(|id, _| *id != user_id);
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("no budget with id {id}; `GET /api/budgets/scoped` lists them"))
}

fn check_amount(field: &str, amount: Money) -> ApiResult<()> {
    if amount <= Money::ZERO {
        return Err(ApiError::invalid(field, "must be more than 0"));
    }
    if amount > Money::from_nanos(MAX_BUDGET_USD * 1_000_000_000) {
        return Err(ApiError::invalid(field, format!("must be at most {MAX_BUDGET_USD}")));
    }
    Ok(())
}

fn parse_period(name: &str) -> ApiResult<BudgetPeriod> {
    BudgetPeriod::from_str(name).map_err(|e| ApiError::invalid("period", e))
}

/// `[80, 92.5, 100]` → thresholds; `None` when not given.
fn parse_thresholds(numbers: Option<&[serde_json::Number]>) -> ApiResult<Option<Thresholds>> {
    let Some(numbers) = numbers else { return Ok(None) };
    let percents = numbers
        .iter()
        .map(|n| {
            let decimal = Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .map_err(|_| ApiError::invalid("thresholds", format!("`{n}` is not a percentage such as 80")))?;
            Percent::from_decimal(without_float_noise(decimal)).map_err(|e| ApiError::invalid("thresholds", e))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Thresholds::new(percents).map(Some).map_err(|e| ApiError::invalid("thresholds", e))
}

/// `decimal` at two places when it differs from them only by a binary
/// float's noise (`0.30000000000000004`, written by a client computing
/// `0.1 * 3`); otherwise unchanged, so that `80.125` is still refused.
fn without_float_noise(decimal: Decimal) -> Decimal {
    let rounded = decimal.round_dp(2);
    if (decimal - rounded).abs() < Decimal::new(1, 9) { rounded } else { decimal }
}

/// The scope a request names, checked: a project name as events carry it,
/// an API key of this account (by its `llm_…` id or its name), a `key=value` tag.
async fn resolve_scope(state: &AppState, user: &User, kind: BudgetScope, target: Option<&str>) -> ApiResult<Scope> {
    let target = target.map(str::trim).filter(|t| !t.is_empty());
    match (kind, target) {
        (BudgetScope::Account, None) => Ok(Scope::Account),
        (BudgetScope::Account, Some(_)) => Err(ApiError::invalid("target", "an `account` budget has no target")),
        (_, None) => Err(ApiError::invalid(
            "target",
            format!("a `{}` budget needs a target: {}", kind.as_str(), target_help(kind)),
        )),
        (BudgetScope::Project, Some(name)) => {
            let name = labels::text(name, labels::MAX_PROJECT_CHARS).map_err(|e| ApiError::invalid("target", e))?;
            Ok(Scope::Project(name.to_owned()))
        }
        (BudgetScope::Key, Some(key)) => {
            let keys = state.store.list_keys(user.id).await?;
            let found = keys.iter().find(|k| k.key_id == key).or_else(|| {
                let named: Vec<_> = keys.iter().filter(|k| k.name.as_deref() == Some(key)).collect();
                (named.len() == 1).then(|| named[0])
            });
            match found {
                Some(found) => Ok(Scope::Key(found.key_id.clone())),
                None => Err(ApiError::invalid(
                    "target",
                    format!(
                        "`{key}` is neither the id (`llm_…`) nor the unique name of one of this account's API keys"
                    ),
                )),
            }
        }
        (BudgetScope::Tag, Some(pair)) => {
            let scope = Scope::parse("tag", pair).map_err(|e| ApiError::invalid("target", e))?;
            if let Scope::Tag { key, value } = &scope {
                labels::check_tags(&BTreeMap::from([(key.clone(), value.clone())]))
                    .map_err(|e| ApiError::invalid("target", e))?;
            }
            Ok(scope)
        }
    }
}

fn target_help(kind: BudgetScope) -> &'static str {
    match kind {
        BudgetScope::Project => "the project's name",
        BudgetScope::Key => "the key's id (`llm_…`) or name",
        BudgetScope::Tag => "the tag as `key=value`, e.g. `customer=acme`",
        BudgetScope::Account => "none",
    }
}

async fn one_view(state: &AppState, user: &User, budget: Budget) -> ApiResult<ScopedBudget> {
    let mut views = views(state, user, vec![budget]).await?;
    views.pop().ok_or_else(|| ApiError::internal(std::io::Error::other("a budget view went missing")))
}

/// The budgets with their current period's figures (one read for all).
async fn views(state: &AppState, user: &User, budgets: Vec<Budget>) -> ApiResult<Vec<ScopedBudget>> {
    let now = Timestamp::now();
    let tz = account_tz(user);
    let bounds: Vec<PeriodBounds> = budgets.iter().map(|b| b.bounds(now, &tz)).collect::<ApiResult<_>>()?;
    let keys: Vec<(i64, String)> = budgets.iter().zip(&bounds).map(|(b, p)| (b.row.id, p.key())).collect();
    let spend = state.store.period_spend(user.id, &keys).await?;
    let names: BTreeMap<String, String> = if budgets.iter().any(|b| matches!(b.scope, Scope::Key(_))) {
        state.store.list_keys(user.id).await?.into_iter().filter_map(|k| Some((k.key_id, k.name?))).collect()
    } else {
        BTreeMap::new()
    };
    Ok(budgets
        .into_iter()
        .zip(bounds)
        .zip(keys)
        .map(|((budget, bounds), key)| {
            let mut figures = spend.get(&key).copied().unwrap_or_default();
            if let Some(ledger) = state.writer.ledger() {
                // On SQLite, holds live in memory.
                figures.reserved_nusd = ledger.reserved(key.0, &key.1);
            }
            view(budget, &bounds, figures, now, &names)
        })
        .collect())
}

fn view(
    budget: Budget,
    bounds: &PeriodBounds,
    spend: PeriodSpend,
    now: Timestamp,
    names: &BTreeMap<String, String>,
) -> ScopedBudget {
    let status = status_of(&budget, bounds, spend, now);
    let target_name = match &budget.scope {
        Scope::Key(key) => names.get(key).cloned(),
        _ => None,
    };
    let Budget { row, scope, period, thresholds } = budget;
    ScopedBudget {
        id: row.id,
        scope: api_scope(&scope),
        target: (!matches!(scope, Scope::Account)).then(|| scope.target()),
        target_name,
        period: period.as_str().to_owned(),
        amount_usd: Money::from_nanos(row.amount_nusd),
        hard: row.hard,
        thresholds: thresholds.as_slice().iter().map(|t| t.to_decimal().to_f64().unwrap_or(0.0)).collect(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        status,
    }
}

fn api_scope(scope: &Scope) -> BudgetScope {
    match scope {
        Scope::Account => BudgetScope::Account,
        Scope::Project(_) => BudgetScope::Project,
        Scope::Key(_) => BudgetScope::Key,
        Scope::Tag { .. } => BudgetScope::Tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_read_exactly_from_json_numbers() {
        let numbers: Vec<serde_json::Number> = serde_json::from_str("[92.5, 50, 100]").unwrap();
        assert_eq!(parse_thresholds(Some(&numbers)).unwrap().unwrap().to_string(), "50,92.5,100");
        let noisy: Vec<serde_json::Number> = serde_json::from_str("[0.30000000000000004, 80.125]").unwrap();
        assert_eq!(parse_thresholds(Some(&noisy[..1])).unwrap().unwrap().to_string(), "0.3");
        assert!(parse_thresholds(Some(&noisy[1..])).unwrap_err().message.contains("two decimal places"));
        let bad: Vec<serde_json::Number> = serde_json::from_str("[0]").unwrap();
        assert!(parse_thresholds(Some(&bad)).unwrap_err().message.contains("`thresholds`"));
        assert!(parse_thresholds(None).unwrap().is_none());
    }
}
