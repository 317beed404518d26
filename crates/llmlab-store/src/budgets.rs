//! Budgets, what each has counted per period, the holds hard budgets place
//! on calls in flight, and the record of threshold crossings.
//!
//! Counting happens where events are stored: [`Store::insert_events`] adds
//! each new event's cost to every budget covering it (its period's row in
//! `budget_spend`) and releases the holds its call placed, in the events'
//! own transaction, so spent + held never misses a call in between. A
//! budget created or changed is counted from the stored events
//! ([`Store::save_budget`], [`Store::recount_budgets`]): the count SETS the
//! period's total. On PostgreSQL a group commit running beside a count can
//! slip between them (its events not in the count's snapshot, its addition
//! overwritten by the count, or its budget list read before the budget
//! existed); the server therefore counts again a few seconds later, once
//! every commit in flight at the first count has ended. Taking a lock on the
//! account in every group commit instead would cost each one a round trip.
//!
//! A hold is a conditional update (`spent + reserved + amount <= amount`) on
//! every hard budget of the call in one transaction: atomic across replicas
//! on PostgreSQL (the row lock serializes concurrent holds and the condition
//! is re-checked on the newest row), and under SQLite's single writer lock.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_core::Money;
use llmlab_core::UnpricedCode;
use llmlab_core::alert::{AlertFacts, BudgetRef, WatchedBudget, due_budget_alerts};
use llmlab_core::budget::{BudgetPeriod, CallLabels, PeriodBounds, Scope, Thresholds};
use sqlx::Connection as _;
use sqlx::{PgConnection, SqliteConnection};

use crate::alerts::AlertTx;
use crate::bulk::EventRow;
use crate::settings::Backend;
use crate::{BudgetRow, HoldOutcome, NewBudget, PeriodSpend, SpentTotal, Store, StoreError, StoreResult, with_pool};

const BUDGET_COLUMNS: &str =
    "id, user_id, scope, target, period, amount_nusd, hard, thresholds, created_at, updated_at";

/// A budget as the event writer needs it: what it covers, and the period
/// key of an event time in its account's time zone.
pub(crate) struct Counted {
    id: i64,
    user_id: i64,
    scope: Scope,
    period: BudgetPeriod,
    tz: TimeZone,
    /// What its alerts need.
    watched: WatchedBudget,
}

impl Counted {
    fn from_row(row: &BudgetRow, tz: &str) -> Option<Counted> {
        let scope = Scope::parse(&row.scope, &row.target).ok()?;
        let period = BudgetPeriod::from_str(&row.period).ok()?;
        let watched = WatchedBudget {
            budget: BudgetRef {
                id: row.id,
                scope: row.scope.clone(),
                target: row.target.clone(),
                period: row.period.clone(),
                hard: row.hard,
                created_at: row.created_at,
            },
            amount: Money::from_nanos(row.amount_nusd),
            thresholds: Thresholds::from_str(&row.thresholds).unwrap_or_default(),
        };
        Some(Counted {
            id: row.id,
            user_id: row.user_id,
            scope,
            period,
            tz: TimeZone::get(tz).unwrap_or(TimeZone::UTC),
            watched,
        })
    }

    /// The alerts now due for its period `period_key` at `spent`, given those `alerted` already (`80,forecast`).
    fn due_alerts(&self, period_key: &str, spent: i64, alerted: &str, now: Timestamp) -> Vec<(String, AlertFacts)> {
        let raised: Vec<&str> = alerted.split(',').filter(|t| !t.is_empty()).collect();
        let current = self.period.bounds(now, &self.tz).ok();
        due_budget_alerts(&self.watched, period_key, Money::from_nanos(spent), &raised, current.as_ref(), now)
    }

    fn period_key(&self, at_ms: i64) -> Option<String> {
        let at = Timestamp::from_millisecond(at_ms).ok()?;
        Some(self.period.bounds(at, &self.tz).ok()?.key())
    }
}

/// Changes to (budget id, period key) rows: spent nano-USD and unpriced calls.
type SpendDeltas = BTreeMap<(i64, String), (i64, i64)>;

/// The labels a stored event is matched on.
fn labels_of<'a>(event: &'a crate::NewEvent, tags: Option<&'a BTreeMap<String, String>>) -> CallLabels<'a> {
    CallLabels { project: &event.project, api_key: event.api_key.as_deref(), tags }
}

/// What each budget of `budgets` gains from the new events among `rows`.
fn deltas_of(budgets: &[Counted], rows: &[EventRow<'_>], inserted: &[bool]) -> SpendDeltas {
    let mut deltas = SpendDeltas::new();
    for (row, _) in rows.iter().zip(inserted).filter(|(_, new)| **new) {
        let mine: Vec<&Counted> = budgets.iter().filter(|b| b.user_id == row.user_id).collect();
        if mine.is_empty() {
            continue;
        }
        let tags: Option<BTreeMap<String, String>> = if mine.iter().any(|b| b.scope.needs_tags()) {
            row.event.tags.as_deref().and_then(|t| serde_json::from_str(t).ok())
        } else {
            None
        };
        let labels = labels_of(row.event, tags.as_ref());
        let cost = row.event.price.cost().map(llmlab_core::Money::nanos);
        for budget in mine.into_iter().filter(|b| b.scope.covers(&labels)) {
            let Some(key) = budget.period_key(row.event.occurred_at) else { continue };
            let entry = deltas.entry((budget.id, key)).or_default();
            match cost {
                Some(cost) => entry.0 = entry.0.saturating_add(cost),
                None => entry.1 += 1,
            }
        }
    }
    deltas
}

/// The budget statements of a transaction, on either backend.
pub(crate) trait BudgetTx {
    /// The budgets of these accounts, with each account's time zone.
    fn counted_budgets(
        &mut self,
        user_ids: &[i64],
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<Vec<Counted>>> + Send;
    /// Adds to the (budget, period) rows, creating them as needed; returns each row's new spent total.
    fn add_spend(
        &mut self,
        deltas: &SpendDeltas,
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<Vec<(SpentTotal, String)>>> + Send;
    /// Deletes these holds ((user, reservation id)) and subtracts them from what their budgets hold.
    fn release_holds(
        &mut self,
        holds: &[(i64, &str)],
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;
    /// Deletes the holds that expired by `now`, and subtracts them.
    fn release_expired(&mut self, now: i64, persistent: bool) -> impl Future<Output = sqlx::Result<u64>> + Send;
    /// Sets a budget's current period from the stored events.
    fn recount(
        &mut self,
        budget: &BudgetRow,
        bounds: &PeriodBounds,
        persistent: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

macro_rules! budget_tx {
    ($connection:ty, $db:ty) => {
        impl BudgetTx for $connection {
            async fn counted_budgets(&mut self, user_ids: &[i64], persistent: bool) -> sqlx::Result<Vec<Counted>> {
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "select b.id, b.user_id, b.scope, b.target, b.period, b.amount_nusd, b.hard, b.thresholds, \
                     b.created_at, b.updated_at, u.timezone from budgets b \
                     join users u on u.id = b.user_id where b.user_id in (",
                );
                let mut ids = query.separated(", ");
                for id in user_ids {
                    ids.push_bind(*id);
                }
                query.push(")");
                let rows: Vec<BudgetWithTz> = query.build_query_as().persistent(persistent).fetch_all(&mut *self).await?;
                Ok(rows.iter().filter_map(|row| Counted::from_row(&row.budget, &row.timezone)).collect())
            }

            async fn add_spend(&mut self, deltas: &SpendDeltas, persistent: bool) -> sqlx::Result<Vec<(SpentTotal, String)>> {
                let rows: Vec<(&(i64, String), &(i64, i64))> = deltas.iter().collect();
                let mut totals = Vec::with_capacity(rows.len());
                for chunk in crate::statement_chunks(&rows) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "insert into budget_spend (budget_id, period_key, spent_nusd, unpriced_calls) ",
                    );
                    query.push_values(chunk, |mut row, ((budget, key), (spent, unpriced))| {
                        row.push_bind(*budget).push_bind(key.as_str()).push_bind(*spent).push_bind(*unpriced);
                    });
                    query.push(
                        " on conflict (budget_id, period_key) do update set \
                         spent_nusd = budget_spend.spent_nusd + excluded.spent_nusd, \
                         unpriced_calls = budget_spend.unpriced_calls + excluded.unpriced_calls \
                         returning budget_id, period_key, spent_nusd, alerted",
                    );
                    let chunk_totals: Vec<(i64, String, i64, String)> =
                        query.build_query_as().persistent(persistent).fetch_all(&mut *self).await?;
                    totals.extend(chunk_totals.into_iter().map(|(budget_id, period_key, spent_nusd, alerted)| {
                        (SpentTotal { budget_id, period_key, spent_nusd }, alerted)
                    }));
                }
                Ok(totals)
            }

            async fn release_holds(&mut self, holds: &[(i64, &str)], persistent: bool) -> sqlx::Result<u64> {
                let mut by_user: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
                for (user, id) in holds {
                    by_user.entry(*user).or_default().push(id);
                }
                let mut released: Vec<(i64, String, i64)> = Vec::new();
                for (user, ids) in &by_user {
                    for chunk in crate::statement_chunks(ids) {
                        let mut query = sqlx::QueryBuilder::<$db>::new("delete from budget_reservations where user_id = ");
                        query.push_bind(*user).push(" and id in (");
                        let mut list = query.separated(", ");
                        for id in chunk {
                            list.push_bind(*id);
                        }
                        query.push(") returning budget_id, period_key, amount_nusd");
                        let rows: Vec<(i64, String, i64)> =
                            query.build_query_as().persistent(persistent).fetch_all(&mut *self).await?;
                        released.extend(rows);
                    }
                }
                subtract(&mut *self, &released, persistent).await
            }

            async fn release_expired(&mut self, now: i64, persistent: bool) -> sqlx::Result<u64> {
                let released: Vec<(i64, String, i64)> = sqlx::query_as(
                    "delete from budget_reservations where expires_at <= $1 returning budget_id, period_key, amount_nusd",
                )
                .persistent(persistent)
                .bind(now)
                .fetch_all(&mut *self)
                .await?;
                subtract(&mut *self, &released, persistent).await
            }

            async fn recount(&mut self, budget: &BudgetRow, bounds: &PeriodBounds, persistent: bool) -> StoreResult<()> {
                let Some(counted) = Counted::from_row(budget, "UTC") else {
                    return Err(StoreError::Conflict(format!("budget {} has an unreadable scope or period", budget.id)));
                };
                let range = bounds.ms_range();
                let rows: Vec<(String, Option<String>, Option<String>, Option<i64>)> = sqlx::query_as(
                    "select p.name, e.api_key, e.tags, e.cost_nusd from cost_events e join projects p on p.id = e.project_id \
                     where e.user_id = $1 and e.occurred_at >= $2 and e.occurred_at < $3",
                )
                .persistent(persistent)
                .bind(budget.user_id)
                .bind(range.start)
                .bind(range.end)
                .fetch_all(&mut *self)
                .await?;
                let (mut spent, mut unpriced) = (0i64, 0i64);
                for (project, api_key, tags, cost) in &rows {
                    let tags: Option<BTreeMap<String, String>> = if counted.scope.needs_tags() {
                        tags.as_deref().and_then(|t| serde_json::from_str(t).ok())
                    } else {
                        None
                    };
                    let labels = CallLabels { project, api_key: api_key.as_deref(), tags: tags.as_ref() };
                    if counted.scope.covers(&labels) {
                        match cost {
                            Some(cost) => spent = spent.saturating_add(*cost),
                            None => unpriced += 1,
                        }
                    }
                }
                let key = bounds.key();
                // Rows of other periods (the budget's period changed) would be read under a wrong key later.
                sqlx::query("delete from budget_spend where budget_id = $1 and period_key <> $2")
                .persistent(persistent)
                    .bind(budget.id)
                    .bind(&key)
                    .execute(&mut *self)
                    .await?;
                // What calls in flight hold is kept: their events release it.
                // Which alerts were raised is forgotten: the count may have
                // changed under them, and each alert's dedupe key keeps it once.
                sqlx::query(
                    "insert into budget_spend (budget_id, period_key, spent_nusd, unpriced_calls) values ($1, $2, $3, $4) \
                     on conflict (budget_id, period_key) do update set spent_nusd = excluded.spent_nusd, \
                     unpriced_calls = excluded.unpriced_calls, alerted = ''",
                )
                .persistent(persistent)
                .bind(budget.id)
                .bind(&key)
                .bind(spent)
                .bind(unpriced)
                .execute(&mut *self)
                .await?;
                raise_due(&mut *self, &counted_in(budget, bounds), &key, spent, "", Timestamp::now(), persistent).await?;
                Ok(())
            }
        }
    };
}

budget_tx!(SqliteConnection, sqlx::Sqlite);
budget_tx!(PgConnection, sqlx::Postgres);

/// Subtracts released holds from their budgets' held amounts; returns how many holds.
async fn subtract<C>(connection: &mut C, released: &[(i64, String, i64)], persistent: bool) -> sqlx::Result<u64>
where
    C: SubtractHeld + Send,
{
    let mut totals: BTreeMap<(i64, &str), i64> = BTreeMap::new();
    for (budget, key, amount) in released {
        *totals.entry((*budget, key.as_str())).or_default() += amount;
    }
    for ((budget, key), amount) in totals {
        connection.subtract_held(budget, key, amount, persistent).await?;
    }
    Ok(released.len() as u64)
}

/// One `reserved_nusd -= amount` (its own trait so [`subtract`] is written once).
pub(crate) trait SubtractHeld {
    fn subtract_held(
        &mut self,
        budget: i64,
        key: &str,
        amount: i64,
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
}

macro_rules! subtract_held {
    ($connection:ty) => {
        impl SubtractHeld for $connection {
            async fn subtract_held(&mut self, budget: i64, key: &str, amount: i64, persistent: bool) -> sqlx::Result<()> {
                sqlx::query(
                    "update budget_spend set reserved_nusd = reserved_nusd - $1 where budget_id = $2 and period_key = $3",
                )
                .persistent(persistent)
                .bind(amount)
                .bind(budget)
                .bind(key)
                .execute(&mut *self)
                .await?;
                Ok(())
            }
        }
    };
}

subtract_held!(SqliteConnection);
subtract_held!(PgConnection);

/// A budget row read with its account's time zone.
#[derive(sqlx::FromRow)]
struct BudgetWithTz {
    #[sqlx(flatten)]
    budget: BudgetRow,
    timezone: String,
}

/// A budget being recounted: its period's time zone does not matter (its
/// bounds are given), so the forecast uses those bounds as they are.
fn counted_in(budget: &BudgetRow, bounds: &PeriodBounds) -> CountedIn {
    CountedIn { counted: Counted::from_row(budget, "UTC"), bounds: *bounds }
}

/// [`counted_in`]'s result.
struct CountedIn {
    counted: Option<Counted>,
    bounds: PeriodBounds,
}

/// Raises the alerts of `budget`'s period `key` due at `spent` (past those
/// already `alerted`), and records them as raised. Returns how many were.
async fn raise_due<C>(
    connection: &mut C,
    budget: &CountedIn,
    key: &str,
    spent: i64,
    alerted: &str,
    now: Timestamp,
    persistent: bool,
) -> sqlx::Result<u64>
where
    C: AlertTx + Send,
{
    let Some(counted) = &budget.counted else { return Ok(0) };
    let raised: Vec<&str> = alerted.split(',').filter(|t| !t.is_empty()).collect();
    let current = Some(budget.bounds).filter(|b| b.contains(now));
    let due = due_budget_alerts(&counted.watched, key, Money::from_nanos(spent), &raised, current.as_ref(), now);
    raise_all(connection, counted, key, alerted, due, now, persistent).await
}

/// Writes `due` alerts of a budget's period and adds their tags to `alerted`.
async fn raise_all<C>(
    connection: &mut C,
    counted: &Counted,
    key: &str,
    alerted: &str,
    due: Vec<(String, AlertFacts)>,
    now: Timestamp,
    persistent: bool,
) -> sqlx::Result<u64>
where
    C: AlertTx + Send,
{
    if due.is_empty() {
        return Ok(0);
    }
    let mut tags: Vec<&str> = alerted.split(',').filter(|t| !t.is_empty()).collect();
    let mut raised = 0;
    for (tag, facts) in &due {
        if connection.raise(counted.user_id, facts, None, now.as_millisecond(), persistent).await?.is_some() {
            raised += 1;
        }
        tags.push(tag);
    }
    connection.set_alerted(counted.id, key, &tags.join(","), persistent).await?;
    Ok(raised)
}

/// Why an event is unpriced, when that means its model has no price.
fn model_without_price(event: &crate::NewEvent) -> bool {
    matches!(
        &event.price,
        crate::EventPrice::Unpriced {
            code: UnpricedCode::UnknownModel | UnpricedCode::UnknownProvider | UnpricedCode::MissingPrice,
            ..
        }
    )
}

/// What a group commit's budget work came to.
#[derive(Debug, Default)]
pub(crate) struct Counting {
    /// The new spent totals of the (budget, period) rows it changed.
    pub(crate) totals: Vec<SpentTotal>,
    /// Alerts written.
    pub(crate) alerts: u64,
    /// (account, `provider/model`) of models without a price it checked, for
    /// the store to skip them from now on (once committed).
    pub(crate) unpriced_models: Vec<(i64, String)>,
}

/// The budget work of a group commit, inside its transaction: count the new
/// events, raise the alerts that made due (thresholds, forecasts, a model
/// without a price seen for the first time), release the holds of every
/// event's call (new or a retry).
pub(crate) async fn count_events<C>(
    connection: &mut C,
    persistent: bool,
    rows: &[EventRow<'_>],
    inserted: &[bool],
    unpriced_known: &(dyn Fn(i64, &str) -> bool + Sync),
) -> sqlx::Result<Counting>
where
    C: BudgetTx + AlertTx + Send,
{
    let mut counting = Counting::default();
    if rows.is_empty() {
        return Ok(counting);
    }
    let now = Timestamp::now();
    counting.unpriced_models = unpriced_models(rows, inserted, unpriced_known);
    for (user_id, model) in &counting.unpriced_models {
        let (provider, model) = model.split_once('/').unwrap_or(("", model));
        let facts = AlertFacts::UnpricedModel { provider: provider.to_owned(), model: model.to_owned() };
        if connection.raise(*user_id, &facts, None, now.as_millisecond(), persistent).await?.is_some() {
            counting.alerts += 1;
        }
    }
    let mut users: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    users.sort_unstable();
    users.dedup();
    let budgets = connection.counted_budgets(&users, persistent).await?;
    if !budgets.is_empty() {
        let deltas = deltas_of(&budgets, rows, inserted);
        if !deltas.is_empty() {
            for (total, alerted) in connection.add_spend(&deltas, persistent).await? {
                if let Some(counted) = budgets.iter().find(|b| b.id == total.budget_id) {
                    let due = counted.due_alerts(&total.period_key, total.spent_nusd, &alerted, now);
                    counting.alerts +=
                        raise_all(&mut *connection, counted, &total.period_key, &alerted, due, now, persistent).await?;
                }
                counting.totals.push(total);
            }
        }
    }
    let holds: Vec<(i64, &str)> =
        rows.iter().filter_map(|r| Some((r.user_id, r.event.reservation_id.as_deref()?))).collect();
    connection.release_holds(&holds, persistent).await?;
    Ok(counting)
}

/// The (account, `provider/model`) of new events whose model has no price,
/// once each, leaving out those `known` to have alerted already.
fn unpriced_models(
    rows: &[EventRow<'_>],
    inserted: &[bool],
    known: &(dyn Fn(i64, &str) -> bool + Sync),
) -> Vec<(i64, String)> {
    let mut models: Vec<(i64, String)> = rows
        .iter()
        .zip(inserted)
        .filter(|(row, new)| **new && model_without_price(row.event))
        .map(|(row, _)| (row.user_id, format!("{}/{}", row.event.provider, row.event.model)))
        .filter(|(user, model)| !known(*user, model))
        .collect();
    models.sort_unstable();
    models.dedup();
    models
}

impl Store {
    /// Every budget of the account, oldest first.
    pub async fn budgets(&self, user_id: i64) -> StoreResult<Vec<BudgetRow>> {
        let sql = format!("select {BUDGET_COLUMNS} from budgets where user_id = $1 order by id");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).fetch_all(pool).await
        })?)
    }

    /// One budget of the account.
    pub async fn budget_by_id(&self, user_id: i64, id: i64) -> StoreResult<Option<BudgetRow>> {
        let sql = format!("select {BUDGET_COLUMNS} from budgets where user_id = $1 and id = $2");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(id).fetch_optional(pool).await
        })?)
    }

    /// The account's monthly budget (the seed API's one budget), if set.
    pub async fn budget(&self, user_id: i64) -> StoreResult<Option<BudgetRow>> {
        let sql = format!(
            "select {BUDGET_COLUMNS} from budgets where user_id = $1 and scope = 'account' and target = '' and period = 'month'"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).fetch_optional(pool).await
        })?)
    }

    /// Creates the budget of a scope and period, or replaces its amount,
    /// hardness and thresholds if the scope has one of that period; then
    /// counts its current period (`bounds`) from the stored events. `true`
    /// when it was created.
    pub async fn save_budget(
        &self,
        user_id: i64,
        budget: &NewBudget,
        bounds: &PeriodBounds,
        now: i64,
    ) -> StoreResult<(BudgetRow, bool)> {
        let existing_sql = format!(
            "select {BUDGET_COLUMNS} from budgets where user_id = $1 and scope = $2 and target = $3 and period = $4"
        );
        let update_sql = format!(
            "update budgets set amount_nusd = $1, hard = $2, thresholds = $3, updated_at = $4 where id = $5 returning {BUDGET_COLUMNS}"
        );
        let insert_sql = format!(
            "insert into budgets (user_id, scope, target, period, amount_nusd, hard, thresholds, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $8) returning {BUDGET_COLUMNS}"
        );
        with_pool!(self, pool => {
            // A read comes first: on SQLite, take the write lock at once, or a write
            // committed meanwhile would make the upgrade fail (SQLITE_BUSY_SNAPSHOT).
            let mut tx = if self.backend == Backend::Sqlite { pool.begin_with("BEGIN IMMEDIATE").await? } else { pool.begin().await? };
            let existing: Option<BudgetRow> = sqlx::query_as(&existing_sql).persistent(self.persistent)
                .bind(user_id).bind(&budget.scope).bind(&budget.target).bind(&budget.period)
                .fetch_optional(&mut *tx).await?;
            let (row, created): (BudgetRow, bool) = match existing {
                Some(existing) => (
                    sqlx::query_as(&update_sql).persistent(self.persistent)
                        .bind(budget.amount_nusd).bind(budget.hard).bind(&budget.thresholds).bind(now).bind(existing.id)
                        .fetch_one(&mut *tx).await?,
                    false,
                ),
                None => (
                    sqlx::query_as(&insert_sql).persistent(self.persistent)
                        .bind(user_id).bind(&budget.scope).bind(&budget.target).bind(&budget.period)
                        .bind(budget.amount_nusd).bind(budget.hard).bind(&budget.thresholds).bind(now)
                        .fetch_one(&mut *tx).await
                        .map_err(|e| crate::on_unique(e, "this scope already has a budget of this period"))?,
                    true,
                ),
            };
            if created {
                (*tx).recount(&row, bounds, self.persistent).await?;
            } else {
                (*tx).forget_alerted(row.id, self.persistent).await?;
            }
            tx.commit().await?;
            Ok((row, created))
        })
    }

    /// Changes a budget's amount, hardness, thresholds or period; a new
    /// period is counted from the stored events (`bounds`: its current one).
    /// `None` when the account has no such budget.
    #[allow(clippy::too_many_arguments)] // each is one column of the change
    pub async fn update_budget(
        &self,
        user_id: i64,
        id: i64,
        amount_nusd: Option<i64>,
        hard: Option<bool>,
        thresholds: Option<&str>,
        period: Option<(&str, &PeriodBounds)>,
        now: i64,
    ) -> StoreResult<Option<BudgetRow>> {
        let sql = format!(
            "update budgets set amount_nusd = coalesce($1, amount_nusd), hard = coalesce($2, hard), \
             thresholds = coalesce($3, thresholds), period = coalesce($4, period), updated_at = $5 \
             where user_id = $6 and id = $7 returning {BUDGET_COLUMNS}"
        );
        with_pool!(self, pool => {
            // A read comes first: on SQLite, take the write lock at once, or a write
            // committed meanwhile would make the upgrade fail (SQLITE_BUSY_SNAPSHOT).
            let mut tx = if self.backend == Backend::Sqlite { pool.begin_with("BEGIN IMMEDIATE").await? } else { pool.begin().await? };
            let row: Option<BudgetRow> = sqlx::query_as(&sql).persistent(self.persistent)
                .bind(amount_nusd).bind(hard).bind(thresholds).bind(period.map(|(p, _)| p)).bind(now)
                .bind(user_id).bind(id)
                .fetch_optional(&mut *tx).await
                .map_err(|e| crate::on_unique(e, "this scope already has a budget of that period"))?;
            if let (Some(row), Some((_, bounds))) = (&row, period) {
                (*tx).recount(row, bounds, self.persistent).await?;
            } else if let Some(row) = &row {
                (*tx).forget_alerted(row.id, self.persistent).await?;
            }
            tx.commit().await?;
            Ok(row)
        })
    }

    /// Counts every budget of the account again from the stored events
    /// (after its time zone changed, or its events were repriced);
    /// `bounds_of` gives each budget's current period.
    pub async fn recount_budgets<F>(&self, user_id: i64, bounds_of: F) -> StoreResult<()>
    where
        F: Fn(&BudgetRow) -> Option<PeriodBounds> + Send + Sync,
    {
        let budgets = self.budgets(user_id).await?;
        if budgets.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            // A read comes first: on SQLite, take the write lock at once, or a write
            // committed meanwhile would make the upgrade fail (SQLITE_BUSY_SNAPSHOT).
            let mut tx = if self.backend == Backend::Sqlite { pool.begin_with("BEGIN IMMEDIATE").await? } else { pool.begin().await? };
            for budget in &budgets {
                if let Some(bounds) = bounds_of(budget) {
                    (*tx).recount(budget, &bounds, self.persistent).await?;
                }
            }
            tx.commit().await?;
            StoreResult::Ok(())
        })
    }

    /// Removes one budget (its counts and holds with it); `true` when there was one.
    pub async fn delete_budget_by_id(&self, user_id: i64, id: i64) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("delete from budget_reservations where user_id = $1 and budget_id = $2").persistent(self.persistent)
                .bind(user_id).bind(id).execute(&mut *tx).await?;
            sqlx::query("delete from budget_spend where budget_id in (select id from budgets where user_id = $1 and id = $2)")
                .persistent(self.persistent).bind(user_id).bind(id).execute(&mut *tx).await?;
            let deleted = sqlx::query("delete from budgets where user_id = $1 and id = $2").persistent(self.persistent)
                .bind(user_id).bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            StoreResult::Ok(deleted > 0)
        })
    }

    /// Removes the account's monthly budget (the seed API's); `true` when there was one.
    pub async fn delete_budget(&self, user_id: i64) -> StoreResult<bool> {
        match self.budget(user_id).await? {
            Some(row) => self.delete_budget_by_id(user_id, row.id).await,
            None => Ok(false),
        }
    }

    /// What each (budget, period key) has counted and holds; missing rows
    /// are zero. Only the account's own budgets are read.
    pub async fn period_spend(
        &self,
        user_id: i64,
        periods: &[(i64, String)],
    ) -> StoreResult<HashMap<(i64, String), PeriodSpend>> {
        if periods.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, String, i64, i64, i64)> = with_pool!(self, pool => {
            let mut query = sqlx::QueryBuilder::new(
                "select s.budget_id, s.period_key, s.spent_nusd, s.reserved_nusd, s.unpriced_calls from budget_spend s \
                 join budgets b on b.id = s.budget_id where b.user_id = ",
            );
            query.push_bind(user_id).push(" and (");
            let mut any = query.separated(" or ");
            for (budget, key) in periods {
                any.push("(s.budget_id = ").push_bind_unseparated(*budget);
                any.push_unseparated(" and s.period_key = ").push_bind_unseparated(key.as_str()).push_unseparated(")");
            }
            query.push(")");
            query.build_query_as().persistent(self.persistent).fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(budget, key, spent, reserved, unpriced)| {
                ((budget, key), PeriodSpend { spent_nusd: spent, reserved_nusd: reserved, unpriced_calls: unpriced })
            })
            .collect())
    }

    /// Holds `amount_nusd` on every budget in `holds` ((budget id, period
    /// key)) for the call `reservation_id`, all or none: each must still
    /// cover it (`spent + reserved + amount <= budget`). The hold lapses at
    /// `expires_at` unless the call's event releases it first.
    pub async fn hold(
        &self,
        user_id: i64,
        reservation_id: &str,
        holds: &[(i64, String)],
        amount_nusd: i64,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<HoldOutcome> {
        if let [(budget, key)] = holds
            && self.backend == Backend::Postgres
            && self.hold_one(user_id, reservation_id, *budget, key, amount_nusd, now, expires_at).await?
        {
            return Ok(HoldOutcome::Held);
        }
        let mut holds = holds.to_vec();
        // One order for every transaction: two calls never wait on each other's rows crosswise.
        holds.sort();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (budget, key) in &holds {
                let mut held = 0;
                for attempt in 0..2 {
                    held = sqlx::query(
                        "update budget_spend set reserved_nusd = reserved_nusd + $1 where budget_id = $2 and period_key = $3 \
                         and spent_nusd + reserved_nusd + $1 <= (select amount_nusd from budgets where id = $2 and user_id = $4)",
                    ).persistent(self.persistent)
                    .bind(amount_nusd).bind(*budget).bind(key.as_str()).bind(user_id)
                    .execute(&mut *tx).await?.rows_affected();
                    if held > 0 || attempt > 0 {
                        break;
                    }
                    // The period's first hold: its row may not exist yet.
                    let created = sqlx::query(
                        "insert into budget_spend (budget_id, period_key) values ($1, $2) on conflict (budget_id, period_key) do nothing",
                    ).persistent(self.persistent)
                    .bind(*budget).bind(key.as_str())
                    .execute(&mut *tx).await?.rows_affected();
                    if created == 0 {
                        break;
                    }
                }
                if held == 0 {
                    let spend: Option<PeriodSpend> = sqlx::query_as(
                        "select spent_nusd, reserved_nusd, unpriced_calls from budget_spend where budget_id = $1 and period_key = $2",
                    ).persistent(self.persistent)
                    .bind(*budget).bind(key.as_str())
                    .fetch_optional(&mut *tx).await?;
                    tx.rollback().await?;
                    return StoreResult::Ok(HoldOutcome::Refused { budget_id: *budget, spend: spend.unwrap_or_default() });
                }
            }
            let mut query = sqlx::QueryBuilder::new(
                "insert into budget_reservations (id, budget_id, user_id, period_key, amount_nusd, created_at, expires_at) ",
            );
            query.push_values(&holds, |mut row, (budget, key)| {
                row.push_bind(reservation_id).push_bind(*budget).push_bind(user_id).push_bind(key.as_str())
                    .push_bind(amount_nusd).push_bind(now).push_bind(expires_at);
            });
            query.build().persistent(self.persistent).execute(&mut *tx).await?;
            tx.commit().await?;
            StoreResult::Ok(HoldOutcome::Held)
        })
    }

    /// The common case on PostgreSQL, one hard budget: the conditional
    /// update and the hold's row in ONE statement, so the budget's row is
    /// locked for one round trip instead of a transaction's four. `false`
    /// when it held nothing (refused, or the period's row does not exist
    /// yet): the caller then takes the transaction's path, which tells them apart.
    #[allow(clippy::too_many_arguments)] // the hold's columns
    async fn hold_one(
        &self,
        user_id: i64,
        reservation_id: &str,
        budget: i64,
        key: &str,
        amount_nusd: i64,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<bool> {
        const SQL: &str = "with held as (update budget_spend s set reserved_nusd = s.reserved_nusd + $1 from budgets b \
             where b.id = s.budget_id and b.user_id = $2 and s.budget_id = $3 and s.period_key = $4 \
             and s.spent_nusd + s.reserved_nusd + $1 <= b.amount_nusd returning s.budget_id, s.period_key) \
             insert into budget_reservations (id, budget_id, user_id, period_key, amount_nusd, created_at, expires_at) \
             select $5, budget_id, $2, period_key, $1, $6, $7 from held";
        // The same query on either pool; the holds pool's connections are never behind a pooler.
        macro_rules! bound {
            ($query:expr) => {
                $query
                    .bind(amount_nusd)
                    .bind(user_id)
                    .bind(budget)
                    .bind(key)
                    .bind(reservation_id)
                    .bind(now)
                    .bind(expires_at)
            };
        }
        if let Some(holds) = &self.holds_pool {
            return Ok(bound!(sqlx::query(SQL)).execute(holds).await?.rows_affected() == 1);
        }
        let held = with_pool!(self, pool => {
            bound!(sqlx::query(SQL).persistent(self.persistent)).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(held == 1)
    }

    /// Releases a call's holds without an event (the call was never made);
    /// `true` when it held anything.
    pub async fn release_hold(&self, user_id: i64, reservation_id: &str) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let released = (*tx).release_holds(&[(user_id, reservation_id)], self.persistent).await?;
            tx.commit().await?;
            StoreResult::Ok(released > 0)
        })
    }

    /// Releases every hold that expired by `now` (the call's server died, or
    /// its event never came); how many. Cheap when there are none.
    pub async fn expire_holds(&self, now: i64) -> StoreResult<u64> {
        let due: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("select expires_at from budget_reservations where expires_at <= $1 limit 1")
                .persistent(self.persistent).bind(now).fetch_optional(pool).await
        })?;
        if due.is_none() {
            return Ok(0);
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let released = (*tx).release_expired(now, self.persistent).await?;
            tx.commit().await?;
            StoreResult::Ok(released)
        })
    }

    /// Records that `threshold` was crossed in the period starting
    /// `period_start`; `true` only the first time, so an alert is shown once.
    pub async fn record_budget_alert(
        &self,
        user_id: i64,
        period_start: &str,
        threshold: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let inserted = with_pool!(self, pool => {
            sqlx::query(
                "insert into budget_alerts (user_id, period_start, threshold, created_at) values ($1, $2, $3, $4) \
                 on conflict (user_id, period_start, threshold) do nothing",
            ).persistent(self.persistent)
            .bind(user_id)
            .bind(period_start)
            .bind(threshold)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(inserted > 0)
    }

    /// The thresholds already recorded for a period.
    pub async fn budget_alerts(&self, user_id: i64, period_start: &str) -> StoreResult<Vec<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("select threshold from budget_alerts where user_id = $1 and period_start = $2 order by threshold").persistent(self.persistent)
                .bind(user_id)
                .bind(period_start)
                .fetch_all(pool)
                .await
        })?)
    }
}
