//! Provider reports: an account's connections to the providers' admin APIs,
//! and the rows of their usage and cost reports, apart from tracked events.
//!
//! A sync writes a page's rows in one transaction: an upsert on the report's
//! own key (so re-running a sync never adds), then the deletion of the rows
//! of the page's finished days that this sync did not write again (a day
//! re-reported without a row it had before), and the day the next sync
//! resumes from. Every query is scoped to its account.

use std::sync::LazyLock;

use llmlab_core::{Money, TokenBuckets, TokenClass};
use sqlx::Connection as _;

use crate::records::{count, token_buckets};
use crate::{Store, StoreResult, with_pool};

/// A connection as stored: the admin key sealed with the server key.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ConnectionRow {
    pub user_id: i64,
    pub provider: String,
    pub key_hint: String,
    pub key_sealed: String,
    pub backfill_days: i64,
    pub usage_next_day: Option<i64>,
    pub cost_next_day: Option<i64>,
    pub last_sync_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// Which of a provider's two reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    Usage,
    Cost,
}

impl ReportKind {
    fn table(self) -> &'static str {
        match self {
            ReportKind::Usage => "reported_usage",
            ReportKind::Cost => "reported_costs",
        }
    }

    fn next_day_column(self) -> &'static str {
        match self {
            ReportKind::Usage => "usage_next_day",
            ReportKind::Cost => "cost_next_day",
        }
    }
}

/// One usage-report row to store (`day`: UTC midnight, Unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReportedUsage {
    pub day: i64,
    pub bucket_key: String,
    pub model: String,
    pub priced_as: Option<String>,
    pub project: Option<String>,
    pub api_key_id: Option<String>,
    pub service_tier: String,
    pub context_window: Option<String>,
    pub requests: Option<i64>,
    pub tokens: TokenBuckets,
    /// `None`: the model has no price (`unpriced_reason` says why).
    pub cost: Option<Money>,
    pub unpriced_reason: Option<String>,
}

/// One cost-report row to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReportedCost {
    pub day: i64,
    pub bucket_key: String,
    pub line_item: Option<String>,
    pub model: Option<String>,
    pub priced_as: Option<String>,
    pub project: Option<String>,
    pub amount_text: String,
    pub amount_usd: String,
    pub amount: Money,
    pub currency: String,
}

/// The rows of one report page, and how far the report is now complete.
#[derive(Clone, Debug)]
pub struct ReportPage<'a, T> {
    pub user_id: i64,
    pub provider: &'a str,
    pub sync_id: i64,
    pub rows: &'a [T],
    /// The first day of this sync: stale rows are deleted from here…
    pub from_day: i64,
    /// …up to this day (exclusive): every day before it is complete. The next sync resumes here.
    pub complete_before: i64,
}

/// Reported usage of one day, provider and model (its catalog id when it has one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedModelDay {
    pub day: i64,
    pub provider: String,
    pub model: String,
    pub tokens: TokenBuckets,
    pub requests: u64,
    /// LLMLab's price of the priced rows.
    pub cost: Money,
    /// Rows whose model has no price.
    pub unpriced_rows: u64,
}

/// Reported usage of one provider and model over a window (priced rows with request counts only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedModelUsage {
    pub provider: String,
    pub model: String,
    pub tokens: TokenBuckets,
    pub requests: u64,
    pub batch_requests: u64,
    pub cost: Money,
}

/// Billed amount of one day, provider and model (`None`: lines naming no model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BilledModelDay {
    pub day: i64,
    pub provider: String,
    pub model: Option<String>,
    pub amount: Money,
}

/// Tracked spend of one UTC day, provider and model, from the daily rollups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedModelDay {
    pub day: i64,
    pub provider: String,
    pub model: String,
    pub calls: u64,
    pub unpriced_calls: u64,
    pub cost: Money,
    pub tokens: TokenBuckets,
}

const CONNECTION_COLUMNS: &str = "user_id, provider, key_hint, key_sealed, backfill_days, usage_next_day, \
                                  cost_next_day, last_sync_at, last_error, created_at";

static USAGE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let tokens: Vec<&str> = TokenClass::ALL.iter().map(|c| c.name()).collect();
    format!(
        "user_id, provider, day, bucket_key, model, priced_as, project, api_key_id, service_tier, context_window, \
         requests, {}, cost_nusd, unpriced_reason, sync_id",
        tokens.join(", ")
    )
});

static USAGE_UPDATES: LazyLock<String> = LazyLock::new(|| {
    let replaced = ["model", "priced_as", "project", "api_key_id", "service_tier", "context_window", "requests"]
        .into_iter()
        .chain(TokenClass::ALL.iter().map(|c| c.name()))
        .chain(["cost_nusd", "unpriced_reason", "sync_id"]);
    replaced.map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ")
});

/// `cast(sum(c) as bigint) as c` for every token class.
static TOKEN_SUMS: LazyLock<String> = LazyLock::new(|| {
    TokenClass::ALL.iter().map(|c| format!("cast(sum({0}) as bigint) as {0}", c.name())).collect::<Vec<_>>().join(", ")
});

/// The same over the daily rollups' token columns.
static ROLLED_UP_SUMS: LazyLock<String> = LazyLock::new(|| {
    TokenClass::rolled_up_classes()
        .map(|c| format!("cast(sum({0}) as bigint) as {0}", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
});

fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Adds or replaces the account's connection to `provider`; a new key
    /// syncs its backfill again (the report rows stay, and are replaced).
    pub async fn save_connection(
        &self,
        user_id: i64,
        provider: &str,
        key_hint: &str,
        key_sealed: &str,
        backfill_days: i64,
        now: i64,
    ) -> StoreResult<ConnectionRow> {
        let sql = format!(
            "insert into provider_connections (user_id, provider, key_hint, key_sealed, backfill_days, created_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (user_id, provider) do update set \
             key_hint = excluded.key_hint, key_sealed = excluded.key_sealed, backfill_days = excluded.backfill_days, \
             usage_next_day = null, cost_next_day = null, last_error = null returning {CONNECTION_COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql)
                .persistent(self.persistent)
                .bind(user_id)
                .bind(provider)
                .bind(key_hint)
                .bind(key_sealed)
                .bind(backfill_days)
                .bind(now)
                .fetch_one(pool)
                .await
        })?)
    }

    /// The account's connections, by provider.
    pub async fn connections(&self, user_id: i64) -> StoreResult<Vec<ConnectionRow>> {
        let sql = format!("select {CONNECTION_COLUMNS} from provider_connections where user_id = $1 order by provider");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).fetch_all(pool).await
        })?)
    }

    /// Every account's connections (the hourly sync, resealing with a new server key).
    pub async fn all_connections(&self) -> StoreResult<Vec<ConnectionRow>> {
        let sql = format!("select {CONNECTION_COLUMNS} from provider_connections order by user_id, provider");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).persistent(self.persistent).fetch_all(pool).await)?)
    }

    /// Replaces a connection's sealed key (server key rotation).
    pub async fn reseal_connection(&self, user_id: i64, provider: &str, key_sealed: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("update provider_connections set key_sealed = $1 where user_id = $2 and provider = $3")
                .persistent(self.persistent)
                .bind(key_sealed)
                .bind(user_id)
                .bind(provider)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Removes the account's connection to `provider` and what its reports
    /// brought in; `false` when there was none.
    pub async fn remove_connection(&self, user_id: i64, provider: &str) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for table in ["reported_usage", "reported_costs"] {
                sqlx::query(&format!("delete from {table} where user_id = $1 and provider = $2"))
                    .persistent(self.persistent)
                    .bind(user_id)
                    .bind(provider)
                    .execute(&mut *tx)
                    .await?;
            }
            let removed = sqlx::query("delete from provider_connections where user_id = $1 and provider = $2")
                .persistent(self.persistent)
                .bind(user_id)
                .bind(provider)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            StoreResult::Ok(removed > 0)
        })
    }

    /// Records a key check's outcome as the connection's error (`None`: the key works).
    pub async fn set_connection_error(&self, user_id: i64, provider: &str, error: Option<&str>) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("update provider_connections set last_error = $1 where user_id = $2 and provider = $3")
                .persistent(self.persistent)
                .bind(error)
                .bind(user_id)
                .bind(provider)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Records the end of a sync: when, and its error (`None`: it succeeded).
    pub async fn finish_sync(&self, user_id: i64, provider: &str, now: i64, error: Option<&str>) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "update provider_connections set last_sync_at = $1, last_error = $2 where user_id = $3 and provider = $4",
            )
            .persistent(self.persistent)
            .bind(now)
            .bind(error)
            .bind(user_id)
            .bind(provider)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Stores one page of a usage report (see the module's comment).
    pub async fn store_usage_page(&self, page: &ReportPage<'_, NewReportedUsage>) -> StoreResult<()> {
        let insert = format!("insert into reported_usage ({}) ", *USAGE_COLUMNS);
        // An older sync running at the same time (another replica) never overwrites a newer one's row.
        let conflict = format!(
            " on conflict (user_id, provider, day, bucket_key) do update set {} \
             where reported_usage.sync_id <= excluded.sync_id",
            *USAGE_UPDATES
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in crate::statement_chunks(page.rows) {
                let mut query = sqlx::QueryBuilder::new(&insert);
                query.push_values(chunk, |mut row, r| {
                    row.push_bind(page.user_id)
                        .push_bind(page.provider)
                        .push_bind(r.day)
                        .push_bind(&r.bucket_key)
                        .push_bind(&r.model)
                        .push_bind(&r.priced_as)
                        .push_bind(&r.project)
                        .push_bind(&r.api_key_id)
                        .push_bind(&r.service_tier)
                        .push_bind(&r.context_window)
                        .push_bind(r.requests);
                    for (_, tokens) in r.tokens.counts() {
                        row.push_bind(i64_of(tokens));
                    }
                    row.push_bind(r.cost.map(Money::nanos)).push_bind(&r.unpriced_reason).push_bind(page.sync_id);
                });
                query.push(&conflict);
                query.build().persistent(self.persistent).execute(&mut *tx).await?;
            }
            finish_page!(tx, ReportKind::Usage, page, self.persistent);
            tx.commit().await?;
            StoreResult::Ok(())
        })
    }

    /// Stores one page of a cost report (see the module's comment).
    pub async fn store_cost_page(&self, page: &ReportPage<'_, NewReportedCost>) -> StoreResult<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in crate::statement_chunks(page.rows) {
                let mut query = sqlx::QueryBuilder::new(
                    "insert into reported_costs (user_id, provider, day, bucket_key, line_item, model, priced_as, \
                     project, amount_text, amount_usd, amount_nusd, currency, sync_id) ",
                );
                query.push_values(chunk, |mut row, r| {
                    row.push_bind(page.user_id)
                        .push_bind(page.provider)
                        .push_bind(r.day)
                        .push_bind(&r.bucket_key)
                        .push_bind(&r.line_item)
                        .push_bind(&r.model)
                        .push_bind(&r.priced_as)
                        .push_bind(&r.project)
                        .push_bind(&r.amount_text)
                        .push_bind(&r.amount_usd)
                        .push_bind(r.amount.nanos())
                        .push_bind(&r.currency)
                        .push_bind(page.sync_id);
                });
                query.push(
                    " on conflict (user_id, provider, day, bucket_key) do update set line_item = excluded.line_item, \
                     model = excluded.model, priced_as = excluded.priced_as, project = excluded.project, \
                     amount_text = excluded.amount_text, amount_usd = excluded.amount_usd, \
                     amount_nusd = excluded.amount_nusd, currency = excluded.currency, sync_id = excluded.sync_id \
                     where reported_costs.sync_id <= excluded.sync_id",
                );
                query.build().persistent(self.persistent).execute(&mut *tx).await?;
            }
            finish_page!(tx, ReportKind::Cost, page, self.persistent);
            tx.commit().await?;
            StoreResult::Ok(())
        })
    }

    /// Reported usage per UTC day, provider and model in `[from, to)` (Unix ms).
    pub async fn reported_usage_days(&self, user_id: i64, from: i64, to: i64) -> StoreResult<Vec<ReportedModelDay>> {
        let sql = format!(
            "select day, provider, coalesce(priced_as, model) as model, {}, \
             cast(coalesce(sum(requests), 0) as bigint) as requests, \
             cast(coalesce(sum(cost_nusd), 0) as bigint) as cost_nusd, \
             cast(sum(case when cost_nusd is null then 1 else 0 end) as bigint) as unpriced_rows \
             from reported_usage where user_id = $1 and day >= $2 and day < $3 \
             group by day, provider, coalesce(priced_as, model) order by day, provider, model",
            *TOKEN_SUMS
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(from).bind(to).fetch_all(pool).await
        })?)
    }

    /// Reported usage per provider and model in `[from, to)` (UTC midnights),
    /// only the rows with request counts (OpenAI's; Anthropic reports none),
    /// with the requests on the Batch API apart: what the recommendations need.
    pub async fn reported_usage_models(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<ReportedModelUsage>> {
        let sql = format!(
            "select provider, coalesce(priced_as, model) as model, {}, \
             cast(sum(requests) as bigint) as requests, \
             cast(sum(case when service_tier = 'batch' then requests else 0 end) as bigint) as batch_requests, \
             cast(coalesce(sum(cost_nusd), 0) as bigint) as cost_nusd \
             from reported_usage where user_id = $1 and day >= $2 and day < $3 and requests > 0 and cost_nusd is not null \
             group by provider, coalesce(priced_as, model) order by provider, model",
            *TOKEN_SUMS
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(from).bind(to).fetch_all(pool).await
        })?)
    }

    /// Billed amounts per UTC day, provider and model in `[from, to)`.
    pub async fn billed_days(&self, user_id: i64, from: i64, to: i64) -> StoreResult<Vec<BilledModelDay>> {
        let rows: Vec<(i64, String, Option<String>, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "select day, provider, coalesce(priced_as, model) as model, cast(sum(amount_nusd) as bigint) \
                 from reported_costs where user_id = $1 and day >= $2 and day < $3 \
                 group by day, provider, coalesce(priced_as, model) order by day, provider",
            )
            .persistent(self.persistent)
            .bind(user_id)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(day, provider, model, amount)| BilledModelDay {
                day,
                provider,
                model,
                amount: Money::from_nanos(amount),
            })
            .collect())
    }

    /// Tracked spend per UTC day, provider and model in `[from, to)`, every project together.
    pub async fn tracked_days(&self, user_id: i64, from: i64, to: i64) -> StoreResult<Vec<TrackedModelDay>> {
        let sql = format!(
            "select day, provider, model, cast(sum(calls) as bigint) as calls, \
             cast(sum(unpriced_calls) as bigint) as unpriced_calls, cast(sum(cost_nusd) as bigint) as cost_nusd, {} \
             from cost_daily where user_id = $1 and day >= $2 and day < $3 group by day, provider, model \
             order by day, provider, model",
            *ROLLED_UP_SUMS
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(from).bind(to).fetch_all(pool).await
        })?)
    }
}

/// A page's end: the rows of its finished days that this sync (or a newer
/// one) did not write are gone from the report, so they go here too; the next sync resumes at
/// the page's `complete_before`. A macro: it runs in either backend's transaction.
macro_rules! finish_page {
    ($tx:expr, $kind:expr, $page:expr, $persistent:expr) => {{
        let delete = format!(
            "delete from {} where user_id = $1 and provider = $2 and day >= $3 and day < $4 and sync_id < $5",
            $kind.table()
        );
        sqlx::query(&delete)
            .persistent($persistent)
            .bind($page.user_id)
            .bind($page.provider)
            .bind($page.from_day)
            .bind($page.complete_before)
            .bind($page.sync_id)
            .execute(&mut *$tx)
            .await?;
        let resume = format!(
            "update provider_connections set {} = $1 where user_id = $2 and provider = $3",
            $kind.next_day_column()
        );
        sqlx::query(&resume)
            .persistent($persistent)
            .bind($page.complete_before)
            .bind($page.user_id)
            .bind($page.provider)
            .execute(&mut *$tx)
            .await?;
    }};
}
use finish_page;

impl<'r, R> sqlx::FromRow<'r, R> for ReportedModelDay
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(ReportedModelDay {
            day: row.try_get("day")?,
            provider: row.try_get("provider")?,
            model: row.try_get("model")?,
            tokens: token_buckets(row, TokenClass::ALL.iter().copied())?,
            requests: count(row.try_get("requests")?),
            cost: Money::from_nanos(row.try_get("cost_nusd")?),
            unpriced_rows: count(row.try_get("unpriced_rows")?),
        })
    }
}

impl<'r, R> sqlx::FromRow<'r, R> for ReportedModelUsage
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(ReportedModelUsage {
            provider: row.try_get("provider")?,
            model: row.try_get("model")?,
            tokens: token_buckets(row, TokenClass::ALL.iter().copied())?,
            requests: count(row.try_get("requests")?),
            batch_requests: count(row.try_get("batch_requests")?),
            cost: Money::from_nanos(row.try_get("cost_nusd")?),
        })
    }
}

impl<'r, R> sqlx::FromRow<'r, R> for TrackedModelDay
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(TrackedModelDay {
            day: row.try_get("day")?,
            provider: row.try_get("provider")?,
            model: row.try_get("model")?,
            calls: count(row.try_get("calls")?),
            unpriced_calls: count(row.try_get("unpriced_calls")?),
            cost: Money::from_nanos(row.try_get("cost_nusd")?),
            tokens: token_buckets(row, TokenClass::rolled_up_classes())?,
        })
    }
}
