//! Cost events: inserting them with their rollups in one transaction,
//! exporting them, and repricing them when an account adds a price.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use llmlab_core::{Money, TokenClass};

use sqlx::Connection as _;

use crate::bulk::{BulkWrite, EventRow};
use crate::rollups::RollupChanges;
use crate::{EventBatch, InsertOutcome, Repriced, Store, StoreResult, StoredEvent, with_pool};

/// Rows per page of an export.
const EXPORT_PAGE_ROWS: usize = 2_000;

/// `select … from cost_events e join projects p`: every column a [`StoredEvent`] reads.
pub(crate) static STORED_EVENT_SELECT: LazyLock<String> = LazyLock::new(|| {
    let tokens: Vec<String> = TokenClass::ALL.iter().map(|c| format!("e.{}", c.name())).collect();
    format!(
        "select e.id, e.event_id, p.name as project, e.project_id, e.provider, e.model, e.model_key, e.occurred_at, \
         {}, e.cost_nusd, e.cost_source, e.priced_as, e.unpriced_code, e.unpriced_reason, e.service_tier, \
         e.long_context, e.latency_ms, e.status, e.tags, e.notes, e.partial_reason from cost_events e join projects p on p.id = e.project_id",
        tokens.join(", ")
    )
});

/// Stores a page of repriced events in `$tx`: each event's new price, and its
/// rollups moved from unpriced to the cost. Returns how many. A macro because
/// the transaction's type is the backend's (see `with_pool!`).
macro_rules! apply_repriced {
    ($store:expr, $tx:ident, $user_id:expr, $updates:expr, $now:expr) => {{
        let mut changes = crate::rollups::RollupChanges::default();
        for update in $updates {
            sqlx::query(
                "update cost_events set cost_nusd = $1, cost_source = $2, priced_as = $3, unpriced_code = null, \
                 unpriced_reason = null where id = $4 and user_id = $5",
            )
            .persistent($store.persistent)
            .bind(update.cost.nanos())
            .bind(update.source.as_str())
            .bind(&update.priced_as)
            .bind(update.event.id)
            .bind($user_id)
            .execute(&mut *$tx)
            .await?;
            // The call was counted as unpriced; now it is priced with this cost.
            let delta = crate::rollups::Counters {
                unpriced_calls: -1,
                cost_nusd: update.cost.nanos(),
                ..crate::rollups::Counters::default()
            };
            let e = &update.event;
            changes.add($user_id, e.occurred_at, e.project_id, &e.provider, &e.model, &delta)?;
        }
        crate::bulk::BulkWrite::add_to_rollups(&mut *$tx, &changes, $now, $store.persistent).await?;
        $updates.len() as u64
    }};
}
pub(crate) use apply_repriced;

impl Store {
    /// Stores the events of several accounts in ONE transaction (group
    /// commit), with their rollups, and reports per event whether it was new
    /// or a duplicate of an earlier `event_id`.
    pub async fn insert_events(&self, batches: &[EventBatch], now: i64) -> StoreResult<Vec<Vec<InsertOutcome>>> {
        Ok(self.insert_events_counted(batches, now).await?.0)
    }

    /// [`Store::insert_events`], also returning the new spent totals of the
    /// budget periods the events counted against (for an in-process copy of them).
    pub async fn insert_events_counted(
        &self,
        batches: &[EventBatch],
        now: i64,
    ) -> StoreResult<(Vec<Vec<InsertOutcome>>, Vec<crate::SpentTotal>)> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut new_projects: HashMap<(i64, String), i64> = HashMap::new();
            let mut rows = Vec::with_capacity(batches.iter().map(|b| b.events.len()).sum());
            for batch in batches {
                for event in &batch.events {
                    let key = (batch.user_id, event.project.clone());
                    let known = self.cached_project(batch.user_id, &event.project).or_else(|| new_projects.get(&key).copied());
                    let project_id = if let Some(id) = known {
                        id
                    } else {
                        let id: i64 = sqlx::query_scalar(crate::accounts::UPSERT_PROJECT).persistent(self.persistent)
                            .bind(batch.user_id)
                            .bind(&event.project)
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await?;
                        new_projects.insert(key, id);
                        id
                    };
                    rows.push(EventRow { user_id: batch.user_id, project_id, event });
                }
            }
            let mut inserted: HashSet<(i64, String)> =
                BulkWrite::insert_events(&mut *tx, &rows, now, self.persistent).await?.into_iter().collect();
            // An id inserted by this group counts once; any repeat of it is a duplicate.
            let mut changes = RollupChanges::default();
            let mut outcomes: Vec<Vec<InsertOutcome>> = Vec::with_capacity(batches.len());
            let mut is_new = Vec::with_capacity(rows.len());
            let mut each_row = rows.iter();
            for batch in batches {
                let outcome = each_row
                    .by_ref()
                    .take(batch.events.len())
                    .map(|row| {
                        let new = inserted.remove(&(row.user_id, row.event.event_id.clone()));
                        is_new.push(new);
                        if new {
                            changes.add_event(row.user_id, row.project_id, row.event)?;
                            Ok(InsertOutcome::Inserted)
                        } else {
                            Ok(InsertOutcome::Duplicate { cost: None })
                        }
                    })
                    .collect::<StoreResult<_>>()?;
                outcomes.push(outcome);
            }
            BulkWrite::add_to_rollups(&mut *tx, &changes, now, self.persistent).await?;
            let known = |user: i64, model: &str| self.unpriced_alerted(user, model);
            let counting = crate::budgets::count_events(&mut *tx, self.persistent, &rows, &is_new, &known).await?;
            for (batch, outcome) in batches.iter().zip(outcomes.iter_mut()) {
                let duplicate_ids: Vec<&str> = batch
                    .events
                    .iter()
                    .zip(outcome.iter())
                    .filter(|(_, o)| matches!(o, InsertOutcome::Duplicate { .. }))
                    .map(|(e, _)| e.event_id.as_str())
                    .collect();
                if duplicate_ids.is_empty() {
                    continue;
                }
                let mut query = sqlx::QueryBuilder::new("select event_id, cost_nusd from cost_events where user_id = ");
                query.push_bind(batch.user_id).push(" and event_id in (");
                let mut ids = query.separated(", ");
                for id in &duplicate_ids {
                    ids.push_bind(*id);
                }
                query.push(")");
                let stored: Vec<(String, Option<i64>)> = query.build_query_as().persistent(self.persistent).fetch_all(&mut *tx).await?;
                let stored: HashMap<String, Option<i64>> = stored.into_iter().collect();
                for (event, outcome) in batch.events.iter().zip(outcome.iter_mut()) {
                    if let InsertOutcome::Duplicate { cost } = outcome {
                        *cost = stored.get(&event.event_id).copied().flatten().map(Money::from_nanos);
                    }
                }
            }
            tx.commit().await?;
            self.remember_projects(new_projects);
            self.remember_unpriced_alerted(counting.unpriced_models);
            if counting.alerts > 0 {
                self.alerts_raised.notify_one();
            }
            Ok((outcomes, counting.totals))
        })
    }

    /// Streams the account's events between `from` (inclusive) and `to`
    /// (exclusive), oldest first, a page at a time: memory stays constant,
    /// and no read transaction stays open while a slow client downloads.
    pub fn export_events(&self, user_id: i64, from: i64, to: i64) -> BoxStream<'_, StoreResult<StoredEvent>> {
        // The key of the last row sent: (occurred_at, id).
        let start = (from, i64::MIN);
        futures::stream::try_unfold(Some(start), move |after| async move {
            let Some(after) = after else { return StoreResult::Ok(None) };
            let page = self.export_page(user_id, after, to).await?;
            let next = (page.len() == EXPORT_PAGE_ROWS).then(|| page.last().map(|e| (e.occurred_at, e.id))).flatten();
            Ok(Some((futures::stream::iter(page.into_iter().map(StoreResult::Ok)), next)))
        })
        .try_flatten()
        .boxed()
    }

    async fn export_page(&self, user_id: i64, after: (i64, i64), to: i64) -> StoreResult<Vec<StoredEvent>> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            format!(
                "{} where e.user_id = $1 and (e.occurred_at > $2 or (e.occurred_at = $2 and e.id > $3)) \
                 and e.occurred_at < $4 order by e.occurred_at, e.id limit {EXPORT_PAGE_ROWS}",
                *STORED_EVENT_SELECT
            )
        });
        // The first page starts at `from` itself, which the strict `>` on
        // (time, id) with id = i64::MIN still includes.
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, StoredEvent>(QUERY.as_str())
                .persistent(self.persistent)
                .bind(user_id)
                .bind(after.0)
                .bind(after.1)
                .bind(to)
                .fetch_all(pool)
                .await
        })?)
    }

    /// Stores `price` for the account and reprices, in the same transaction,
    /// its events of that model that were unpriced for want of a price.
    /// `reprice` returns the new price of an event, or `None` to leave it.
    /// Fails with [`crate::StoreError::OutOfRange`] when the repriced costs
    /// would carry the account's total past what can be stored.
    pub async fn set_custom_price<F>(
        &self,
        user_id: i64,
        price: &crate::CustomPrice,
        reprice: F,
        now: i64,
    ) -> StoreResult<(crate::CustomPrice, u64)>
    where
        F: Fn(&StoredEvent) -> Option<Repriced>,
    {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let stored: crate::CustomPrice = sqlx::query_as(
                "insert into custom_prices (user_id, model_key, provider, input, output, cache_read, cache_write_5m, \
                 cache_write_1h, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 on conflict (user_id, model_key) do update set provider = excluded.provider, input = excluded.input, \
                 output = excluded.output, cache_read = excluded.cache_read, cache_write_5m = excluded.cache_write_5m, \
                 cache_write_1h = excluded.cache_write_1h, updated_at = excluded.updated_at \
                 returning model_key, provider, input, output, cache_read, cache_write_5m, cache_write_1h, created_at, updated_at",
            ).persistent(self.persistent)
            .bind(user_id)
            .bind(&price.model_key)
            .bind(&price.provider)
            .bind(&price.input)
            .bind(&price.output)
            .bind(&price.cache_read)
            .bind(&price.cache_write_5m)
            .bind(&price.cache_write_1h)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let mut repriced_count = 0u64;
            let mut after_id = 0i64;
            loop {
                let page: Vec<StoredEvent> = sqlx::query_as(&format!(
                    "{} where e.user_id = $1 and e.model_key = $2 and e.cost_nusd is null \
                     and e.unpriced_code in ('unknown_provider', 'unknown_model', 'missing_price') \
                     and e.id > $3 order by e.id limit 1000",
                    // The codes for which UnpricedCode::repriceable() holds.
                    *STORED_EVENT_SELECT
                )).persistent(self.persistent)
                .bind(user_id)
                .bind(&price.model_key)
                .bind(after_id)
                .fetch_all(&mut *tx)
                .await?;
                let Some(last) = page.last() else { break };
                after_id = last.id;
                let updates: Vec<Repriced> = page.iter().filter_map(&reprice).collect();
                repriced_count += apply_repriced!(self, tx, user_id, &updates, now);
            }
            tx.commit().await?;
            Ok((stored, repriced_count))
        })
    }
}
