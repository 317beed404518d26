//! The rollup tables the dashboard reads instead of the events, kept in the
//! same transaction as every insert or reprice:
//!
//! | Table | One row per | Used for |
//! | --- | --- | --- |
//! | `cost_rollups` | 15-minute bucket, project, provider, model | the edges of local days (every time zone offset is a multiple of 15 minutes) |
//! | `cost_daily` | UTC day, project, provider, model | whole days of a range |
//! | `cost_hourly` | UTC hour, project (totals only) | the 30-day trend |
//! | `cost_totals` | project, provider, model | all-time figures |
//! | `account_totals` | account | the ceiling: every counter of the account added up |
//!
//! Every counter only grows and every row is part of its account's row in
//! `account_totals`, so while that row fits in an `i64`, so does every sum
//! of an account's rows that a summary adds up. An addition that would pass
//! it fails the transaction ([`crate::StoreError::OutOfRange`]): in memory
//! ([`Counters::add`] is checked), on PostgreSQL (`bigint out of range`) and
//! on SQLite (a check constraint, since SQLite turns an overflowing integer
//! sum into a float instead of failing).
//!
//! Upserts only add, so concurrent servers never lose an increment, and they
//! touch rows in key order, so two servers' transactions never deadlock.

use std::collections::{BTreeMap, HashMap};

use llmlab_core::{Money, TokenBuckets, TokenClass};

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
    Account,
}

impl Level {
    pub(crate) const ALL: [Level; 5] = [Level::Quarter, Level::Daily, Level::Hourly, Level::Total, Level::Account];

    pub(crate) fn table(self) -> &'static str {
        match self {
            Level::Quarter => "cost_rollups",
            Level::Daily => "cost_daily",
            Level::Hourly => "cost_hourly",
            Level::Total => "cost_totals",
            Level::Account => "account_totals",
        }
    }

    pub(crate) fn key_columns(self) -> &'static str {
        match self {
            Level::Quarter => "user_id, bucket, project_id, provider, model",
            Level::Daily => "user_id, day, project_id, provider, model",
            Level::Hourly => "user_id, hour, project_id",
            Level::Total => "user_id, project_id, provider, model",
            Level::Account => "user_id",
        }
    }

    /// Whether the table keeps the time, the project, and the provider and model, of a row.
    pub(crate) fn has_time(self) -> bool {
        matches!(self, Level::Quarter | Level::Daily | Level::Hourly)
    }

    pub(crate) fn has_project(self) -> bool {
        self != Level::Account
    }

    pub(crate) fn has_model(self) -> bool {
        matches!(self, Level::Quarter | Level::Daily | Level::Total)
    }

    /// Whether the table keeps batch calls and tokens (the hourly trend keeps only cost and calls,
    /// unpriced and partial ones among them).
    pub(crate) fn keeps_tokens(self) -> bool {
        self != Level::Hourly
    }

    /// The counter columns of the table.
    pub(crate) fn counter_columns(self) -> Vec<&'static str> {
        if self.keeps_tokens() {
            ["calls", "unpriced_calls", "batch_calls", "partial_calls", "cost_nusd"]
                .into_iter()
                .chain(TokenClass::rolled_up_classes().map(TokenClass::name))
                .collect()
        } else {
            vec!["calls", "unpriced_calls", "partial_calls", "cost_nusd"]
        }
    }

    /// The key of the row an event at `time` adds to.
    fn key(self, user_id: i64, time: i64, project_id: i64, provider: &str, model: &str) -> RollupKey {
        let start = |length: i64| time - time.rem_euclid(length);
        match self {
            Level::Quarter => (user_id, bucket_of(time), project_id, provider.to_owned(), model.to_owned()),
            Level::Daily => (user_id, start(DAY_MS), project_id, provider.to_owned(), model.to_owned()),
            Level::Hourly => (user_id, start(HOUR_MS), project_id, String::new(), String::new()),
            Level::Total => (user_id, 0, project_id, provider.to_owned(), model.to_owned()),
            Level::Account => (user_id, 0, 0, String::new(), String::new()),
        }
    }
}

const _: () = assert!(HOUR_MS % BUCKET_MS == 0 && DAY_MS % HOUR_MS == 0);

/// (user id, time, project id, provider, model); unused parts are 0 or empty.
pub(crate) type RollupKey = (i64, i64, i64, String, String);

/// The counters one or more events add to a rollup row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) calls: i64,
    pub(crate) unpriced_calls: i64,
    pub(crate) batch_calls: i64,
    /// Calls priced from a cut-off stream: their cost is a lower bound.
    pub(crate) partial_calls: i64,
    pub(crate) cost_nusd: i64,
    pub(crate) tokens: [i64; ROLLED_UP_CLASSES],
}

impl Counters {
    pub(crate) fn of(tokens: &TokenBuckets, cost: Option<Money>, batch: bool, partial: bool) -> Self {
        Counters {
            calls: 1,
            unpriced_calls: i64::from(cost.is_none()),
            batch_calls: i64::from(batch),
            partial_calls: i64::from(partial),
            cost_nusd: cost.map_or(0, Money::nanos),
            tokens: token_columns(tokens),
        }
    }

    /// Adds `other`; on overflow leaves `self` unchanged and says so.
    pub(crate) fn add(&mut self, other: &Counters) -> Result<(), CounterOverflow> {
        let sum = |a: i64, b: i64| a.checked_add(b).ok_or(CounterOverflow);
        let mut tokens = self.tokens;
        for (mine, theirs) in tokens.iter_mut().zip(other.tokens) {
            *mine = sum(*mine, theirs)?;
        }
        *self = Counters {
            calls: sum(self.calls, other.calls)?,
            unpriced_calls: sum(self.unpriced_calls, other.unpriced_calls)?,
            batch_calls: sum(self.batch_calls, other.batch_calls)?,
            partial_calls: sum(self.partial_calls, other.partial_calls)?,
            cost_nusd: sum(self.cost_nusd, other.cost_nusd)?,
            tokens,
        };
        Ok(())
    }
}

/// A sum of counters passed the range of a 64-bit integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CounterOverflow;

/// How many token classes the rollups keep.
pub(crate) const ROLLED_UP_CLASSES: usize = {
    let mut count = 0;
    let mut i = 0;
    while i < TokenClass::ALL.len() {
        if TokenClass::ALL[i].rolled_up() {
            count += 1;
        }
        i += 1;
    }
    count
};

/// The token columns a rollup keeps, in [`TokenClass::rolled_up_classes`] order.
fn token_columns(t: &TokenBuckets) -> [i64; ROLLED_UP_CLASSES] {
    let mut columns = [0; ROLLED_UP_CLASSES];
    for (column, class) in columns.iter_mut().zip(TokenClass::rolled_up_classes()) {
        *column = to_i64(class.of(t));
    }
    columns
}

/// Token counts are capped far below `i64::MAX` by the core (`MAX_TOKENS_PER_CALL`).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Changes to every rollup table, keyed by level, each level's rows in key
/// order (the order the upserts lock them in).
#[derive(Default)]
pub(crate) struct RollupChanges(HashMap<Level, BTreeMap<RollupKey, Counters>>);

impl RollupChanges {
    /// Adds `counters` for an event of `user_id` at `time` to every level.
    pub(crate) fn add(
        &mut self,
        user_id: i64,
        time: i64,
        project_id: i64,
        provider: &str,
        model: &str,
        counters: &Counters,
    ) -> Result<(), CounterOverflow> {
        for level in Level::ALL {
            let key = level.key(user_id, time, project_id, provider, model);
            self.0.entry(level).or_default().entry(key).or_default().add(counters)?;
        }
        Ok(())
    }

    /// Adds a newly stored event.
    pub(crate) fn add_event(&mut self, user_id: i64, project_id: i64, event: &NewEvent) -> Result<(), CounterOverflow> {
        let counters =
            Counters::of(&event.tokens, event.price.cost(), event.is_batch_tier(), event.partial_reason.is_some());
        self.add(user_id, event.occurred_at, project_id, &event.provider, &event.model, &counters)
    }

    /// Each level with changes, and its rows in key order.
    pub(crate) fn levels(&self) -> impl Iterator<Item = (Level, &BTreeMap<RollupKey, Counters>)> {
        Level::ALL.into_iter().filter_map(|level| self.0.get(&level).map(|rows| (level, rows)))
    }
}

/// The `on conflict` clause that adds a row's counters to the stored row.
pub(crate) fn add_on_conflict(level: Level) -> String {
    let table = level.table();
    let additions: Vec<String> =
        level.counter_columns().iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    format!(" on conflict ({}) do update set {}", level.key_columns(), additions.join(", "))
}

/// A multi-row upsert adding `rows` to the `level` table.
pub(crate) fn upsert<'a, DB>(
    level: Level,
    rows: &'a [(&'a RollupKey, &'a Counters)],
    now: i64,
) -> sqlx::QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::QueryBuilder::new(format!(
        "insert into {} ({}, {}, created_at) ",
        level.table(),
        level.key_columns(),
        level.counter_columns().join(", ")
    ));
    query.push_values(rows, |mut row, ((user_id, time, project_id, provider, model), c)| {
        row.push_bind(*user_id);
        if level.has_time() {
            row.push_bind(*time);
        }
        if level.has_project() {
            row.push_bind(*project_id);
        }
        if level.has_model() {
            row.push_bind(provider.as_str()).push_bind(model.as_str());
        }
        row.push_bind(c.calls).push_bind(c.unpriced_calls);
        if level.keeps_tokens() {
            row.push_bind(c.batch_calls);
        }
        row.push_bind(c.partial_calls);
        row.push_bind(c.cost_nusd);
        if level.keeps_tokens() {
            for tokens in c.tokens {
                row.push_bind(tokens);
            }
        }
        row.push_bind(now);
    });
    query.push(add_on_conflict(level));
    query
}
