//! Budgets and the record of threshold crossings.

use crate::{BudgetRow, Store, StoreResult, with_pool};

impl Store {
    /// The account's budget, if any.
    pub async fn budget(&self, user_id: i64) -> StoreResult<Option<BudgetRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("select amount_nusd, period, created_at, updated_at from budgets where user_id = $1").persistent(self.persistent)
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Sets (or replaces) the account's budget.
    pub async fn set_budget(&self, user_id: i64, amount_nusd: i64, period: &str, now: i64) -> StoreResult<BudgetRow> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "insert into budgets (user_id, amount_nusd, period, created_at, updated_at) values ($1, $2, $3, $4, $4) \
                 on conflict (user_id) do update set amount_nusd = excluded.amount_nusd, period = excluded.period, \
                 updated_at = excluded.updated_at returning amount_nusd, period, created_at, updated_at",
            ).persistent(self.persistent)
            .bind(user_id)
            .bind(amount_nusd)
            .bind(period)
            .bind(now)
            .fetch_one(pool)
            .await
        })?)
    }

    /// Removes the account's budget; `true` when there was one.
    pub async fn delete_budget(&self, user_id: i64) -> StoreResult<bool> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("delete from budgets where user_id = $1").persistent(self.persistent)
                .bind(user_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(deleted > 0)
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
