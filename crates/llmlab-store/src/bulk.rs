//! The two writes of a group commit, in the fewest round trips each backend
//! allows: inserting events (skipping ids already stored) and adding to the
//! rollup tables. The group-commit writer is one task doing these writes
//! back to back, so every round trip it saves is latency taken off every
//! request waiting in the group.
//!
//! - SQLite runs in-process: multi-row statements, in chunks whose sizes are
//!   powers of two so the prepared-statement cache keeps hitting.
//! - PostgreSQL takes one statement per table whatever the number of rows:
//!   each column goes as one array parameter, turned back into rows by
//!   `unnest`, so the statement text never changes and stays prepared.

use std::future::Future;

use sqlx::{PgConnection, SqliteConnection};

use crate::rollups::{self, Counters, Level, RollupChanges, RollupKey, to_i64};
use llmlab_core::TokenClass;

use crate::{EventPrice, NewEvent};

/// One event to insert, with its account and project.
pub(crate) struct EventRow<'a> {
    pub(crate) user_id: i64,
    pub(crate) project_id: i64,
    pub(crate) event: &'a NewEvent,
}

/// The bulk writes of a group commit, on a connection inside its transaction.
pub(crate) trait BulkWrite {
    /// Inserts `rows`, skipping any whose `(user_id, event_id)` is already
    /// stored (or comes earlier in `rows`); returns the keys it inserted.
    fn insert_events(
        &mut self,
        rows: &[EventRow<'_>],
        now: i64,
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<Vec<(i64, String)>>> + Send;

    /// Adds `changes` to the rollup tables, each table's rows in key order.
    fn add_to_rollups(
        &mut self,
        changes: &RollupChanges,
        now: i64,
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
}

/// The columns of `cost_events` an insert fills, in bind order: these, then
/// one per token class ([`TokenClass::ALL`]), then [`EVENT_COLUMNS_AFTER_TOKENS`].
const EVENT_COLUMNS_BEFORE_TOKENS: [&str; 7] =
    ["user_id", "event_id", "project_id", "provider", "model", "model_key", "occurred_at"];
const EVENT_COLUMNS_AFTER_TOKENS: [&str; 14] = [
    "cost_nusd",
    "cost_source",
    "priced_as",
    "unpriced_code",
    "unpriced_reason",
    "service_tier",
    "long_context",
    "latency_ms",
    "status",
    "tags",
    "raw_usage",
    "api_key",
    "notes",
    "created_at",
];

/// Every column an event insert fills, in bind order.
fn event_columns() -> impl Iterator<Item = &'static str> {
    EVENT_COLUMNS_BEFORE_TOKENS
        .into_iter()
        .chain(TokenClass::ALL.iter().map(|c| c.name()))
        .chain(EVENT_COLUMNS_AFTER_TOKENS)
}

static EVENT_COLUMN_LIST: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| event_columns().collect::<Vec<_>>().join(", "));

type PriceColumns<'a> = (Option<i64>, Option<&'static str>, Option<&'a str>, Option<&'static str>, Option<&'a str>);

/// `(cost_nusd, cost_source, priced_as, unpriced_code, unpriced_reason)`.
fn price_columns(price: &EventPrice) -> PriceColumns<'_> {
    match price {
        EventPrice::Priced { cost, source, priced_as } => {
            (Some(cost.nanos()), Some(source.as_str()), priced_as.as_deref(), None, None)
        }
        EventPrice::Unpriced { code, reason } => (None, None, None, Some(code.as_str()), Some(reason.as_str())),
    }
}

/// The event's token counts, in [`TokenClass::ALL`] order.
fn token_counts(e: &NewEvent) -> impl Iterator<Item = i64> + '_ {
    e.tokens.counts().map(|(_, count)| to_i64(count))
}

impl BulkWrite for SqliteConnection {
    async fn insert_events(
        &mut self,
        rows: &[EventRow<'_>],
        now: i64,
        persistent: bool,
    ) -> sqlx::Result<Vec<(i64, String)>> {
        let mut inserted = Vec::with_capacity(rows.len());
        for chunk in crate::statement_chunks(rows) {
            let mut query = sqlx::QueryBuilder::new(format!("insert into cost_events ({}) ", *EVENT_COLUMN_LIST));
            query.push_values(chunk, |mut row, EventRow { user_id, project_id, event: e }| {
                let (cost, source, priced_as, code, reason) = price_columns(&e.price);
                row.push_bind(*user_id)
                    .push_bind(&e.event_id)
                    .push_bind(*project_id)
                    .push_bind(&e.provider)
                    .push_bind(&e.model)
                    .push_bind(&e.model_key)
                    .push_bind(e.occurred_at);
                for count in token_counts(e) {
                    row.push_bind(count);
                }
                row.push_bind(cost)
                    .push_bind(source)
                    .push_bind(priced_as)
                    .push_bind(code)
                    .push_bind(reason)
                    .push_bind(e.service_tier.as_str())
                    .push_bind(e.long_context)
                    .push_bind(e.latency_ms)
                    .push_bind(&e.status)
                    .push_bind(&e.tags)
                    .push_bind(&e.raw_usage)
                    .push_bind(&e.api_key)
                    .push_bind(&e.notes)
                    .push_bind(now);
            });
            query.push(" on conflict (user_id, event_id) do nothing returning user_id, event_id");
            let keys: Vec<(i64, String)> = query.build_query_as().persistent(persistent).fetch_all(&mut *self).await?;
            inserted.extend(keys);
        }
        Ok(inserted)
    }

    async fn add_to_rollups(&mut self, changes: &RollupChanges, now: i64, persistent: bool) -> sqlx::Result<()> {
        for (level, rows) in changes.levels() {
            let rows: Vec<(&RollupKey, &Counters)> = rows.iter().collect();
            for chunk in crate::statement_chunks(&rows) {
                rollups::upsert(level, chunk, now).build().persistent(persistent).execute(&mut *self).await?;
            }
        }
        Ok(())
    }
}

/// `unnest($1::int8[], $2::text[], …)` over `types`, the array type of each
/// column, numbering the parameters from `$first`.
fn unnest(types: &[&str], first: usize) -> String {
    let arrays: Vec<String> = types.iter().enumerate().map(|(i, t)| format!("${}::{t}[]", i + first)).collect();
    format!("unnest({})", arrays.join(", "))
}

impl BulkWrite for PgConnection {
    async fn insert_events(
        &mut self,
        rows: &[EventRow<'_>],
        now: i64,
        persistent: bool,
    ) -> sqlx::Result<Vec<(i64, String)>> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let columns: Vec<&str> = event_columns().collect();
            let types: Vec<&str> = columns[..columns.len() - 1]
                .iter()
                .map(|column| match *column {
                    "long_context" => "bool",
                    "event_id" | "provider" | "model" | "model_key" | "cost_source" | "priced_as" | "unpriced_code"
                    | "unpriced_reason" | "service_tier" | "status" | "tags" | "raw_usage" | "api_key" | "notes" => {
                        "text"
                    }
                    _ => "int8",
                })
                .collect();
            format!(
                "insert into cost_events ({}) select u.*, ${}::int8 from {} as u \
                 on conflict (user_id, event_id) do nothing returning user_id, event_id",
                *EVENT_COLUMN_LIST,
                types.len() + 1,
                unnest(&types, 1)
            )
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let column = |f: &dyn Fn(&EventRow<'_>) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
        let text = |f: &dyn for<'r> Fn(&'r EventRow<'_>) -> &'r str| rows.iter().map(f).collect::<Vec<&str>>();
        let optional_text =
            |f: &dyn for<'r> Fn(&'r EventRow<'_>) -> Option<&'r str>| rows.iter().map(f).collect::<Vec<Option<&str>>>();
        let prices: Vec<PriceColumns<'_>> = rows.iter().map(|r| price_columns(&r.event.price)).collect();
        let mut query = sqlx::query_as::<_, (i64, String)>(SQL.as_str())
            .persistent(persistent)
            .bind(column(&|r| r.user_id))
            .bind(text(&|r| &r.event.event_id))
            .bind(column(&|r| r.project_id))
            .bind(text(&|r| &r.event.provider))
            .bind(text(&|r| &r.event.model))
            .bind(text(&|r| &r.event.model_key))
            .bind(column(&|r| r.event.occurred_at));
        for &class in TokenClass::ALL {
            query = query.bind(rows.iter().map(|r| to_i64(class.of(&r.event.tokens))).collect::<Vec<i64>>());
        }
        query
            .bind(prices.iter().map(|p| p.0).collect::<Vec<Option<i64>>>())
            .bind(prices.iter().map(|p| p.1).collect::<Vec<Option<&str>>>())
            .bind(prices.iter().map(|p| p.2).collect::<Vec<Option<&str>>>())
            .bind(prices.iter().map(|p| p.3).collect::<Vec<Option<&str>>>())
            .bind(prices.iter().map(|p| p.4).collect::<Vec<Option<&str>>>())
            .bind(text(&|r| r.event.service_tier.as_str()))
            .bind(rows.iter().map(|r| r.event.long_context).collect::<Vec<bool>>())
            .bind(rows.iter().map(|r| r.event.latency_ms).collect::<Vec<Option<i64>>>())
            .bind(optional_text(&|r| r.event.status.as_deref()))
            .bind(optional_text(&|r| r.event.tags.as_deref()))
            .bind(optional_text(&|r| r.event.raw_usage.as_deref()))
            .bind(optional_text(&|r| r.event.api_key.as_deref()))
            .bind(optional_text(&|r| r.event.notes.as_deref()))
            .bind(now)
            .fetch_all(&mut *self)
            .await
    }

    async fn add_to_rollups(&mut self, changes: &RollupChanges, now: i64, persistent: bool) -> sqlx::Result<()> {
        let levels: Vec<_> = changes.levels().collect();
        let account = levels.iter().find(|(level, _)| *level == Level::Account);
        for &(level, rows) in &levels {
            match (level, account) {
                // The account's row rides in the all-time totals' statement: one
                // round trip fewer per group commit (each costs the latency-bound
                // committers about a sixth of their throughput).
                (Level::Total, Some(&(_, account_rows))) => {
                    let (totals, next) = unnest_upsert(Level::Total, 1);
                    let (accounts, _) = unnest_upsert(Level::Account, next);
                    let sql = format!("with totals as ({totals}) {accounts}");
                    let query = bind_level(sqlx::query(&sql).persistent(persistent), Level::Total, rows, now);
                    bind_level(query, Level::Account, account_rows, now).execute(&mut *self).await?;
                }
                (Level::Account, _) if levels.iter().any(|(l, _)| *l == Level::Total) => {}
                _ => {
                    let (sql, _) = unnest_upsert(level, 1);
                    bind_level(sqlx::query(&sql).persistent(persistent), level, rows, now).execute(&mut *self).await?;
                }
            }
        }
        Ok(())
    }
}

/// Binds one level's rows, column by column, as [`unnest_upsert`] expects them.
fn bind_level<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    level: Level,
    rows: &'q std::collections::BTreeMap<RollupKey, Counters>,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let key = |f: fn(&RollupKey) -> i64| rows.keys().map(f).collect::<Vec<i64>>();
    query = query.bind(key(|k| k.0));
    if level.has_time() {
        query = query.bind(key(|k| k.1));
    }
    if level.has_project() {
        query = query.bind(key(|k| k.2));
    }
    if level.has_model() {
        query = query
            .bind(rows.keys().map(|k| k.3.as_str()).collect::<Vec<&str>>())
            .bind(rows.keys().map(|k| k.4.as_str()).collect::<Vec<&str>>());
    }
    let counter = |f: &dyn Fn(&Counters) -> i64| rows.values().map(f).collect::<Vec<i64>>();
    query = query.bind(counter(&|c| c.calls)).bind(counter(&|c| c.unpriced_calls));
    if level.keeps_tokens() {
        query = query.bind(counter(&|c| c.batch_calls));
    }
    query = query.bind(counter(&|c| c.cost_nusd));
    if level.keeps_tokens() {
        for class in 0..rollups::ROLLED_UP_CLASSES {
            query = query.bind(counter(&|c| c.tokens[class]));
        }
    }
    query.bind(now)
}

/// The `unnest` upsert of one rollup level: every column but `created_at`
/// is an `int8[]` or `text[]` parameter, numbered from `$first`; also
/// returns the number of the next parameter.
fn unnest_upsert(level: Level, first: usize) -> (String, usize) {
    let key_columns: Vec<&str> = level.key_columns().split(", ").collect();
    let counters = level.counter_columns();
    let types: Vec<&str> = key_columns
        .iter()
        .map(|c| if matches!(*c, "provider" | "model") { "text" } else { "int8" })
        .chain(counters.iter().map(|_| "int8"))
        .collect();
    let sql = format!(
        "insert into {} ({}, {}, created_at) select u.*, ${}::int8 from {} as u{}",
        level.table(),
        level.key_columns(),
        counters.join(", "),
        first + types.len(),
        unnest(&types, first),
        rollups::add_on_conflict(level)
    );
    (sql, first + types.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_upsert_numbers_its_parameters_after_the_totals() {
        let (totals, next) = unnest_upsert(Level::Total, 1);
        // Key (4) + counters (4 + rolled-up token classes) + created_at.
        assert_eq!(next, 1 + 4 + 4 + rollups::ROLLED_UP_CLASSES + 1);
        assert!(totals.contains(&format!("${}::int8 from", next - 1)), "{totals}");
        let (account, _) = unnest_upsert(Level::Account, next);
        assert!(account.starts_with("insert into account_totals (user_id, calls"), "{account}");
        assert!(account.contains(&format!("unnest(${next}::int8[]")), "{account}");
    }

    #[test]
    fn the_hourly_upsert_unnests_its_key_and_three_counters() {
        assert_eq!(
            unnest_upsert(Level::Hourly, 1).0,
            "insert into cost_hourly (user_id, hour, project_id, calls, unpriced_calls, cost_nusd, created_at) \
             select u.*, $7::int8 from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) as u \
             on conflict (user_id, hour, project_id) do update set calls = cost_hourly.calls + excluded.calls, \
             unpriced_calls = cost_hourly.unpriced_calls + excluded.unpriced_calls, \
             cost_nusd = cost_hourly.cost_nusd + excluded.cost_nusd"
        );
    }
}
