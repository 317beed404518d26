//! The rollup tables the dashboard reads instead of the events, kept in the
//! same transaction as every insert or reprice:
//!
//! | Table | One row per | Used for |
//! | --- | --- | --- |
//! | `cost_rollups` | 15-minute bucket, project, provider, model | the edges of local days (every time zone offset is a multiple of 15 minutes) |
//! | `cost_daily` | UTC day, project, provider, model | whole days of a range |
//! | `cost_hourly` | UTC hour, project (totals only) | the 30-day trend |
//! | `cost_totals` | project, provider, model | all-time figures |
//!
//! Upserts only add, so concurrent servers never lose an increment.

use std::collections::HashMap;

use llmlab_core::{Money, TokenBuckets};

use crate::{BUCKET_MS, NewEvent, bucket_of};

/// One UTC day in ms.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// One hour in ms.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The rollup tables, finest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Level {
    Quarter,
    Daily,
    Hourly,
    Total,
}

impl Level {
    pub(crate) const ALL: [Level; 4] = [Level::Quarter, Level::Daily, Level::Hourly, Level::Total];

    fn table(self) -> &'static str {
        match self {
            Level::Quarter => "cost_rollups",
            Level::Daily => "cost_daily",
            Level::Hourly => "cost_hourly",
            Level::Total => "cost_totals",
        }
    }

    fn key_columns(self) -> &'static str {
        match self {
            Level::Quarter => "user_id, bucket, project_id, provider, model",
            Level::Daily => "user_id, day, project_id, provider, model",
            Level::Hourly => "user_id, hour, project_id",
            Level::Total => "user_id, project_id, provider, model",
        }
    }

    /// The key of the row an event at `time` adds to.
    fn key(self, time: i64, project_id: i64, provider: &str, model: &str) -> RollupKey {
        let start = |length: i64| time - time.rem_euclid(length);
        match self {
            Level::Quarter => (bucket_of(time), project_id, provider.to_owned(), model.to_owned()),
            Level::Daily => (start(DAY_MS), project_id, provider.to_owned(), model.to_owned()),
            Level::Hourly => (start(HOUR_MS), project_id, String::new(), String::new()),
            Level::Total => (0, project_id, provider.to_owned(), model.to_owned()),
        }
    }
}

const _: () = assert!(HOUR_MS % BUCKET_MS == 0 && DAY_MS % HOUR_MS == 0);

/// (time, project id, provider, model); unused parts are 0 or empty.
pub(crate) type RollupKey = (i64, i64, String, String);

/// The counters one or more events add to a rollup row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) calls: i64,
    pub(crate) unpriced_calls: i64,
    pub(crate) batch_calls: i64,
    pub(crate) cost_nusd: i64,
    pub(crate) tokens: [i64; 7],
}

impl Counters {
    pub(crate) fn of(tokens: &TokenBuckets, cost: Option<Money>, batch: bool) -> Self {
        Counters {
            calls: 1,
            unpriced_calls: i64::from(cost.is_none()),
            batch_calls: i64::from(batch),
            cost_nusd: cost.map_or(0, Money::nanos),
            tokens: token_columns(tokens),
        }
    }

    pub(crate) fn add(&mut self, other: &Counters) {
        self.calls += other.calls;
        self.unpriced_calls += other.unpriced_calls;
        self.batch_calls += other.batch_calls;
        self.cost_nusd += other.cost_nusd;
        for (mine, theirs) in self.tokens.iter_mut().zip(other.tokens) {
            *mine += theirs;
        }
    }
}

/// The token columns a rollup keeps, in [`TOKEN_COLUMNS`] order.
fn token_columns(t: &TokenBuckets) -> [i64; 7] {
    [
        t.input_tokens,
        t.cache_read_tokens,
        t.cache_write_tokens,
        t.cache_write_1h_tokens,
        t.output_tokens,
        t.reasoning_tokens,
        t.web_search_requests,
    ]
    .map(to_i64)
}

/// Token counts are capped far below `i64::MAX` by the core (`MAX_TOKENS_PER_CALL`).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const TOKEN_COLUMNS: [&str; 7] = [
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
];

/// Changes to every rollup table, keyed by level.
#[derive(Default)]
pub(crate) struct RollupChanges(HashMap<Level, HashMap<RollupKey, Counters>>);

impl RollupChanges {
    /// Adds `counters` for an event at `time` to every level.
    pub(crate) fn add(&mut self, time: i64, project_id: i64, provider: &str, model: &str, counters: &Counters) {
        for level in Level::ALL {
            let key = level.key(time, project_id, provider, model);
            self.0.entry(level).or_default().entry(key).or_default().add(counters);
        }
    }

    /// The changes of newly stored events.
    pub(crate) fn of_events(events: &[(&NewEvent, i64)]) -> Self {
        let mut changes = RollupChanges::default();
        for (event, project_id) in events {
            let counters = Counters::of(&event.tokens, event.price.cost(), event.is_batch_tier());
            changes.add(event.occurred_at, *project_id, &event.provider, &event.model, &counters);
        }
        changes
    }

    /// The rows of each multi-row upsert to run: (level, rows), chunked by
    /// [`crate::statement_chunks`].
    pub(crate) fn statements(&self) -> Vec<(Level, Vec<(RollupKey, Counters)>)> {
        let mut out = Vec::new();
        for level in Level::ALL {
            let Some(rows) = self.0.get(&level) else { continue };
            let rows: Vec<(RollupKey, Counters)> = rows.iter().map(|(k, c)| (k.clone(), *c)).collect();
            out.extend(crate::statement_chunks(&rows).map(|c| (level, c.to_vec())));
        }
        out
    }
}

/// A multi-row upsert adding `rows` to the `level` table.
pub(crate) fn upsert<'a, DB>(
    level: Level,
    user_id: i64,
    rows: &'a [(RollupKey, Counters)],
    now: i64,
) -> sqlx::QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let totals_only = level == Level::Hourly;
    let counters: Vec<&str> = if totals_only {
        vec!["calls", "unpriced_calls", "cost_nusd"]
    } else {
        [&["calls", "unpriced_calls", "batch_calls", "cost_nusd"][..], &TOKEN_COLUMNS[..]].concat()
    };
    let key_columns = level.key_columns();
    let mut query = sqlx::QueryBuilder::new(format!(
        "insert into {} ({key_columns}, {}, created_at) ",
        level.table(),
        counters.join(", ")
    ));
    query.push_values(rows, |mut row, ((time, project_id, provider, model), c)| {
        row.push_bind(user_id);
        if level != Level::Total {
            row.push_bind(*time);
        }
        row.push_bind(*project_id);
        if !totals_only {
            row.push_bind(provider.as_str()).push_bind(model.as_str());
        }
        row.push_bind(c.calls).push_bind(c.unpriced_calls);
        if !totals_only {
            row.push_bind(c.batch_calls);
        }
        row.push_bind(c.cost_nusd);
        if !totals_only {
            for tokens in c.tokens {
                row.push_bind(tokens);
            }
        }
        row.push_bind(now);
    });
    let table = level.table();
    let additions: Vec<String> = counters.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    query.push(format!(" on conflict ({key_columns}) do update set {}", additions.join(", ")));
    query
}
