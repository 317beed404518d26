//! Spend read from the rollups: never a scan of the events table.

use std::sync::LazyLock;

use llmlab_core::{Money, TokenClass};

use crate::records::{count, token_buckets};
use crate::rollups::{DAY_MS, Level};
use crate::{BucketSpend, SpendRow, Store, StoreResult, UnpricedCause, with_pool};

/// `cast(sum(r.c) as bigint) as c` for every counter of a spend row.
static SUMS: LazyLock<String> = LazyLock::new(|| {
    let sums: Vec<String> =
        Level::Total.counter_columns().iter().map(|c| format!("cast(sum(r.{c}) as bigint) as {c}")).collect();
    sums.join(", ")
});

impl<'r, R> sqlx::FromRow<'r, R> for SpendRow
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        let counter = |column: &'r str| row.try_get::<i64, _>(column).map(count);
        Ok(SpendRow {
            provider: row.try_get("provider")?,
            model: row.try_get("model")?,
            project: row.try_get("project")?,
            calls: counter("calls")?,
            unpriced_calls: counter("unpriced_calls")?,
            batch_calls: counter("batch_calls")?,
            partial_calls: counter("partial_calls")?,
            cost: Money::from_nanos(row.try_get("cost_nusd")?),
            tokens: token_buckets(row, TokenClass::rolled_up_classes())?,
        })
    }
}

/// The granularity of a spend series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesStep {
    Hour,
    Quarter,
}

/// `[from, to)` split into whole UTC days and the quarter-hours before and
/// after them; empty parts are empty ranges.
#[derive(Debug, PartialEq, Eq)]
struct DaySplit {
    head: (i64, i64),
    days: (i64, i64),
    tail: (i64, i64),
}

impl DaySplit {
    fn of(from: i64, to: i64) -> DaySplit {
        let first_day = from + (DAY_MS - from.rem_euclid(DAY_MS)) % DAY_MS;
        let end_day = to - to.rem_euclid(DAY_MS);
        if first_day < end_day {
            DaySplit { head: (from, first_day), days: (first_day, end_day), tail: (end_day, to) }
        } else {
            DaySplit { head: (from, to), days: (0, 0), tail: (0, 0) }
        }
    }
}

impl Store {
    /// Spend per (provider, model, project) in `[from, to)` (multiples of 15
    /// minutes, as local midnights are), optionally for one project. Whole
    /// UTC days come from the daily rollups and only the edges from the
    /// 15-minute ones, so a month costs ~30 rows per model at any volume.
    pub async fn spend_between(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
        project: Option<&str>,
    ) -> StoreResult<Vec<SpendRow>> {
        let columns = format!("provider, model, project_id, {}", Level::Daily.counter_columns().join(", "));
        let sums = &*SUMS;
        let sql = format!(
            "select r.provider, r.model, p.name as project, {sums} from ( \
               select {columns} from cost_daily where user_id = $1 and day >= $2 and day < $3 \
               union all select {columns} from cost_rollups where user_id = $1 and bucket >= $4 and bucket < $5 \
               union all select {columns} from cost_rollups where user_id = $1 and bucket >= $6 and bucket < $7 \
             ) r join projects p on p.id = r.project_id where ($8 is null or p.name = $8) \
             group by r.provider, r.model, p.name"
        );
        let split = DaySplit::of(from, to);
        let rows: Vec<SpendRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql)
                .persistent(self.persistent)
                .bind(user_id)
                .bind(split.days.0)
                .bind(split.days.1)
                .bind(split.head.0)
                .bind(split.head.1)
                .bind(split.tail.0)
                .bind(split.tail.1)
                .bind(project)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }

    /// All-time spend per (provider, model, project), optionally for one project.
    pub async fn spend_all_time(&self, user_id: i64, project: Option<&str>) -> StoreResult<Vec<SpendRow>> {
        let sql = format!(
            "select r.provider, r.model, p.name as project, {} from cost_totals r join projects p on p.id = r.project_id \
             where r.user_id = $1 and ($2 is null or p.name = $2) group by r.provider, r.model, p.name",
            *SUMS
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(project).fetch_all(pool).await
        })?)
    }

    /// Spend per `step` (hour or 15 minutes) in `[from, to)`, summed over
    /// models; only steps with calls are returned. Hours come from the hourly
    /// totals (24 rows a day per project); quarter-hours are for time zones
    /// whose days do not start on a whole UTC hour.
    pub async fn spend_series(
        &self,
        user_id: i64,
        from: i64,
        to: i64,
        project: Option<&str>,
        step: SeriesStep,
    ) -> StoreResult<Vec<BucketSpend>> {
        let sql = match step {
            SeriesStep::Hour => {
                "select r.hour, cast(sum(r.cost_nusd) as bigint), cast(sum(r.calls) as bigint), \
                 cast(sum(r.partial_calls) as bigint) from cost_hourly r join projects p on p.id = r.project_id \
                 where r.user_id = $1 and r.hour >= $2 and r.hour < $3 and ($4 is null or p.name = $4) \
                 group by r.hour order by r.hour"
            }
            SeriesStep::Quarter => {
                "select r.bucket, cast(sum(r.cost_nusd) as bigint), cast(sum(r.calls) as bigint), \
                 cast(sum(r.partial_calls) as bigint) from cost_rollups r join projects p on p.id = r.project_id \
                 where r.user_id = $1 and r.bucket >= $2 and r.bucket < $3 and ($4 is null or p.name = $4) \
                 group by r.bucket order by r.bucket"
            }
        };
        let rows: Vec<(i64, i64, i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as(sql).persistent(self.persistent).bind(user_id).bind(from).bind(to).bind(project).fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(bucket, cost, calls, partial)| BucketSpend {
                bucket,
                cost: Money::from_nanos(cost),
                calls: count(calls),
                partial_calls: count(partial),
            })
            .collect())
    }

    /// Why one of the account's calls to `model` (of `provider`, canonical id
    /// `model_key`) is unpriced (its code and reason), if it has any. One row off the partial index
    /// of unpriced events: the totals already count the calls, and reading
    /// every unpriced event would grow with them.
    pub async fn unpriced_reason(
        &self,
        user_id: i64,
        provider: &str,
        model: &str,
        model_key: &str,
    ) -> StoreResult<Option<UnpricedCause>> {
        let cause: Option<UnpricedCause> = with_pool!(self, pool => {
            sqlx::query_as(
                "select unpriced_code, unpriced_reason from cost_events where user_id = $1 and model_key = $2 \
                 and cost_nusd is null and provider = $3 and model = $4 limit 1",
            ).persistent(self.persistent)
            .bind(user_id)
            .bind(model_key)
            .bind(provider)
            .bind(model)
            .fetch_optional(pool)
            .await
        })?;
        Ok(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_MS;

    #[test]
    fn ranges_split_into_whole_utc_days_and_edges() {
        // Paris, 1 Nov 00:00 (= 31 Oct 23:00 UTC) to 1 Dec 00:00 (= 30 Nov 23:00 UTC).
        let from = 10 * DAY - 3_600_000;
        let to = 40 * DAY - 3_600_000;
        assert_eq!(
            DaySplit::of(from, to),
            DaySplit { head: (from, 10 * DAY), days: (10 * DAY, 39 * DAY), tail: (39 * DAY, to) }
        );
        assert_eq!(
            DaySplit::of(10 * DAY, 12 * DAY),
            DaySplit { head: (10 * DAY, 10 * DAY), days: (10 * DAY, 12 * DAY), tail: (12 * DAY, 12 * DAY) }
        );
        let within = DaySplit::of(10 * DAY + 900_000, 10 * DAY + 1_800_000);
        assert_eq!(within.head, (10 * DAY + 900_000, 10 * DAY + 1_800_000));
        assert_eq!(within.days, (0, 0));
    }
}
