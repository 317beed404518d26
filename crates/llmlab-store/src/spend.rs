//! Spend read from the rollups: never a scan of the events table.

use llmlab_core::{Money, TokenBuckets};

use crate::{BucketSpend, SpendRow, Store, StoreResult, UnpricedModel, with_pool};

type SpendTuple = (String, String, String, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

const SUMS: &str = "cast(sum(r.calls) as bigint), cast(sum(r.unpriced_calls) as bigint), \
    cast(sum(r.batch_calls) as bigint), cast(sum(r.cost_nusd) as bigint), cast(sum(r.input_tokens) as bigint), \
    cast(sum(r.cache_read_tokens) as bigint), cast(sum(r.cache_write_tokens) as bigint), \
    cast(sum(r.cache_write_1h_tokens) as bigint), cast(sum(r.output_tokens) as bigint), \
    cast(sum(r.reasoning_tokens) as bigint), cast(sum(r.web_search_requests) as bigint)";

fn spend_row(t: SpendTuple) -> SpendRow {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    SpendRow {
        provider: t.0,
        model: t.1,
        project: t.2,
        calls: n(t.3),
        unpriced_calls: n(t.4),
        batch_calls: n(t.5),
        cost: Money::from_nanos(t.6),
        tokens: TokenBuckets {
            input_tokens: n(t.7),
            cache_read_tokens: n(t.8),
            cache_write_tokens: n(t.9),
            cache_write_1h_tokens: n(t.10),
            output_tokens: n(t.11),
            reasoning_tokens: n(t.12),
            web_search_requests: n(t.13),
            ..TokenBuckets::default()
        },
    }
}

impl Store {
    /// Spend per (provider, model, project) with rollup buckets in `[from, to)`,
    /// optionally for one project.
    pub async fn spend_between(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
        project: Option<&str>,
    ) -> StoreResult<Vec<SpendRow>> {
        let sql = format!(
            "select r.provider, r.model, p.name, {SUMS} from cost_rollups r join projects p on p.id = r.project_id \
             where r.user_id = $1 and r.bucket >= $2 and r.bucket < $3 and ($4 is null or p.name = $4) \
             group by r.provider, r.model, p.name"
        );
        let rows: Vec<SpendTuple> = with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(from).bind(to).bind(project).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(spend_row).collect())
    }

    /// All-time spend per (provider, model, project), optionally for one project.
    pub async fn spend_all_time(&self, user_id: i64, project: Option<&str>) -> StoreResult<Vec<SpendRow>> {
        let sql = format!(
            "select r.provider, r.model, p.name, {SUMS} from cost_totals r join projects p on p.id = r.project_id \
             where r.user_id = $1 and ($2 is null or p.name = $2) group by r.provider, r.model, p.name"
        );
        let rows: Vec<SpendTuple> = with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(project).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(spend_row).collect())
    }

    /// Spend per 15-minute bucket in `[from, to)`, summed over models; only
    /// buckets with calls are returned.
    pub async fn spend_per_bucket(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
        project: Option<&str>,
    ) -> StoreResult<Vec<BucketSpend>> {
        let rows: Vec<(i64, i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "select r.bucket, cast(sum(r.cost_nusd) as bigint), cast(sum(r.calls) as bigint) \
                 from cost_rollups r join projects p on p.id = r.project_id \
                 where r.user_id = $1 and r.bucket >= $2 and r.bucket < $3 and ($4 is null or p.name = $4) \
                 group by r.bucket order by r.bucket",
            ).persistent(self.persistent)
            .bind(user_id)
            .bind(from)
            .bind(to)
            .bind(project)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(bucket, cost, calls)| BucketSpend {
                bucket,
                cost: Money::from_nanos(cost),
                calls: u64::try_from(calls).unwrap_or(0),
            })
            .collect())
    }

    /// Models with unpriced calls (all time), most calls first, with the
    /// latest reason. Reads the partial index of unpriced events only.
    pub async fn unpriced_models(&self, user_id: i64) -> StoreResult<Vec<UnpricedModel>> {
        let rows: Vec<(String, String, i64, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "select e.provider, e.model, cast(count(*) as bigint), max(e.unpriced_reason) \
                 from cost_events e where e.user_id = $1 and e.cost_nusd is null \
                 group by e.provider, e.model order by count(*) desc, e.model limit 50",
            ).persistent(self.persistent)
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(provider, model, calls, reason)| UnpricedModel {
                provider,
                model,
                calls: u64::try_from(calls).unwrap_or(0),
                reason,
            })
            .collect())
    }
}
