//! Price catalogs loaded at run time (`llmlab prices update`): stored with
//! the repricing they cause, so an update survives restarts and every
//! account's totals move with it in one transaction.

use sqlx::Connection as _;

use crate::events::STORED_EVENT_SELECT;
use crate::{Repriced, Store, StoreResult, StoredEvent, with_pool};

/// A catalog stored by an update.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCatalog {
    /// The catalog's `updated` date, `YYYY-MM-DD`.
    pub version: String,
    /// The whole catalog file.
    pub catalog: String,
    pub applied_at: i64,
}

/// What applying a catalog did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogApplied {
    /// Events that were unpriced and now have a cost.
    pub repriced_events: u64,
    /// The accounts they belong to (their budgets need counting again).
    pub accounts: Vec<i64>,
}

/// Events repriced per query page.
const PAGE_ROWS: i64 = 1000;

impl Store {
    /// The catalog stored last, if any update was ever applied.
    pub async fn latest_catalog(&self) -> StoreResult<Option<StoredCatalog>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, StoredCatalog>(
                "select version, catalog, applied_at from catalog_updates order by id desc limit 1",
            )
            .persistent(self.persistent)
            .fetch_optional(pool)
            .await
        })?)
    }

    /// When the newest stored catalog was applied, without reading it: how
    /// replicas notice an update applied through another one.
    pub async fn latest_catalog_applied_at(&self) -> StoreResult<Option<i64>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("select applied_at from catalog_updates order by id desc limit 1")
                .persistent(self.persistent)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Stores `update` and, in the same transaction, reprices every
    /// account's events that were unpriced for want of a price (unknown
    /// model, a class without a price): `reprice` returns an event's new
    /// price, or `None` to leave it. Each repriced event moves its rollups
    /// from unpriced to its cost. Fails with [`crate::StoreError::OutOfRange`]
    /// when a repriced cost would carry an account's total past what can be stored.
    pub async fn apply_catalog<F>(&self, update: &StoredCatalog, reprice: F, now: i64) -> StoreResult<CatalogApplied>
    where
        F: Fn(&StoredEvent) -> Option<Repriced>,
    {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("insert into catalog_updates (version, catalog, applied_at) values ($1, $2, $3)")
                .persistent(self.persistent)
                .bind(&update.version)
                .bind(&update.catalog)
                .bind(update.applied_at)
                .execute(&mut *tx)
                .await?;
            let users: Vec<i64> = sqlx::query_scalar(
                "select distinct user_id from cost_events where cost_nusd is null \
                 and unpriced_code in ('unknown_model', 'missing_price') order by user_id",
            )
            .persistent(self.persistent)
            .fetch_all(&mut *tx)
            .await?;
            let mut applied = CatalogApplied::default();
            for user_id in users {
                let mut after_id = 0i64;
                let mut repriced_here = 0u64;
                loop {
                    let page: Vec<StoredEvent> = sqlx::query_as(&format!(
                        "{} where e.user_id = $1 and e.cost_nusd is null \
                         and e.unpriced_code in ('unknown_model', 'missing_price') \
                         and e.id > $2 order by e.id limit {PAGE_ROWS}",
                        *STORED_EVENT_SELECT
                    ))
                    .persistent(self.persistent)
                    .bind(user_id)
                    .bind(after_id)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = page.last() else { break };
                    after_id = last.id;
                    let updates: Vec<Repriced> = page.iter().filter_map(&reprice).collect();
                    repriced_here += crate::events::apply_repriced!(self, tx, user_id, &updates, now);
                }
                if repriced_here > 0 {
                    applied.repriced_events += repriced_here;
                    applied.accounts.push(user_id);
                }
            }
            tx.commit().await?;
            Ok(applied)
        })
    }
}
