//! What the store reads and writes.

use llmlab_core::{Money, PriceSource, ServiceTier, TokenBuckets, TokenClass, UnpricedCode};

/// An account.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    /// The id shown to the user (`usr_…`); the numeric id never leaves the server.
    pub public_id: String,
    pub name: Option<String>,
    pub timezone: String,
    pub hard_budget: bool,
    pub created_at: i64,
}

/// A new account and its first API key.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub public_id: String,
    pub name: Option<String>,
    pub created_at: i64,
}

/// A new API key: its public id and the SHA-256 of the whole key.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub key_id: String,
    pub secret_hash: String,
    pub name: Option<String>,
    pub created_at: i64,
}

/// An API key row (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKey {
    pub user_id: i64,
    pub key_id: String,
    pub secret_hash: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new dashboard session: the hash of its cookie token and who it signs in.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub public_id: String,
    /// SHA-256 of the cookie's token, hex; the token itself is never stored.
    pub token_hash: String,
    pub user_id: i64,
    /// The API key the session was opened with.
    pub key_id: String,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A dashboard session row (never its token).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    pub public_id: String,
    pub user_id: i64,
    pub key_id: String,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A new sign-up invitation.
#[derive(Clone, Debug)]
pub struct NewInvite {
    /// SHA-256 of the invite token, hex.
    pub token_hash: String,
    /// The account that created it; `None` for the server's admin token.
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountUpdate {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub hard_budget: Option<bool>,
}

/// A project with its all-time totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectSummary {
    pub name: String,
    pub created_at: i64,
    pub calls: u64,
    pub cost: Money,
}

/// How a stored event was priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventPrice {
    Priced { cost: Money, source: PriceSource, priced_as: Option<String> },
    Unpriced { code: UnpricedCode, reason: String },
}

impl EventPrice {
    #[must_use]
    pub fn cost(&self) -> Option<Money> {
        match self {
            EventPrice::Priced { cost, .. } => Some(*cost),
            EventPrice::Unpriced { .. } => None,
        }
    }
}

/// A validated, priced event ready to store.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_id: String,
    pub project: String,
    pub provider: String,
    pub model: String,
    /// The canonical model id, for matching custom prices later.
    pub model_key: String,
    pub occurred_at: i64,
    pub tokens: TokenBuckets,
    pub price: EventPrice,
    pub service_tier: ServiceTier,
    pub long_context: bool,
    pub latency_ms: Option<i64>,
    pub status: Option<String>,
    /// JSON text of the tag map.
    pub tags: Option<String>,
    /// The provider's raw usage object, JSON text.
    pub raw_usage: Option<String>,
    /// The public id (`llm_…`) of the API key that recorded it: what key budgets count.
    pub api_key: Option<String>,
    /// What pricing noted about the call, as a JSON array of sentences.
    pub notes: Option<String>,
    /// The budget hold this call placed before it was sent; storing the
    /// event releases it in the same transaction.
    pub reservation_id: Option<String>,
}

impl NewEvent {
    pub(crate) fn is_batch_tier(&self) -> bool {
        matches!(self.service_tier, ServiceTier::Batch | ServiceTier::Flex)
    }
}

/// One account's events for one group commit.
#[derive(Clone, Debug, Default)]
pub struct EventBatch {
    pub user_id: i64,
    pub events: Vec<NewEvent>,
}

/// What happened to one event of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// An event with this `event_id` was already stored; its stored cost.
    Duplicate {
        cost: Option<Money>,
    },
}

/// A stored event, as exported or repriced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub event_id: String,
    pub project: String,
    pub project_id: i64,
    pub provider: String,
    pub model: String,
    pub model_key: String,
    pub occurred_at: i64,
    /// The token buckets the event was priced from.
    pub tokens: TokenBuckets,
    pub cost_nusd: Option<i64>,
    pub cost_source: Option<String>,
    pub priced_as: Option<String>,
    pub unpriced_code: Option<String>,
    pub unpriced_reason: Option<String>,
    pub service_tier: String,
    pub long_context: bool,
    pub latency_ms: Option<i64>,
    pub status: Option<String>,
    pub tags: Option<String>,
    /// What pricing noted about the call, as a JSON array of sentences.
    pub notes: Option<String>,
}

impl StoredEvent {
    /// The token buckets the event was priced from.
    #[must_use]
    pub fn tokens(&self) -> TokenBuckets {
        self.tokens
    }
}

/// Reads the token columns named by the token-class table (`classes`) into buckets.
pub(crate) fn token_buckets<'r, R>(row: &'r R, classes: impl Iterator<Item = TokenClass>) -> sqlx::Result<TokenBuckets>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut buckets = TokenBuckets::default();
    for class in classes {
        *class.of_mut(&mut buckets) = count(row.try_get::<i64, _>(class.name())?);
    }
    Ok(buckets)
}

/// A stored count: counters only grow from zero, so a negative one cannot be.
pub(crate) fn count(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

impl<'r, R> sqlx::FromRow<'r, R> for StoredEvent
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(StoredEvent {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            project: row.try_get("project")?,
            project_id: row.try_get("project_id")?,
            provider: row.try_get("provider")?,
            model: row.try_get("model")?,
            model_key: row.try_get("model_key")?,
            occurred_at: row.try_get("occurred_at")?,
            tokens: token_buckets(row, TokenClass::ALL.iter().copied())?,
            cost_nusd: row.try_get("cost_nusd")?,
            cost_source: row.try_get("cost_source")?,
            priced_as: row.try_get("priced_as")?,
            unpriced_code: row.try_get("unpriced_code")?,
            unpriced_reason: row.try_get("unpriced_reason")?,
            service_tier: row.try_get("service_tier")?,
            long_context: row.try_get("long_context")?,
            latency_ms: row.try_get("latency_ms")?,
            status: row.try_get("status")?,
            tags: row.try_get("tags")?,
            notes: row.try_get("notes")?,
        })
    }
}

/// Spend and tokens of one (provider, model, project) over a time range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpendRow {
    pub provider: String,
    pub model: String,
    pub project: String,
    pub calls: u64,
    pub unpriced_calls: u64,
    pub batch_calls: u64,
    pub cost: Money,
    pub tokens: TokenBuckets,
}

/// Spend of one 15-minute bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketSpend {
    /// Start of the bucket, Unix ms.
    pub bucket: i64,
    pub cost: Money,
    pub calls: u64,
}

impl SpendRow {
    /// Adds `other`'s counters to this row's (merging rows of one key).
    pub fn add(&mut self, other: &SpendRow) {
        self.calls += other.calls;
        self.unpriced_calls += other.unpriced_calls;
        self.batch_calls += other.batch_calls;
        self.cost += other.cost;
        self.tokens += other.tokens;
    }
}

/// An account's own price for a model, decimal strings in USD per 1M tokens.
/// Why one of a model's calls is unpriced: its stable code and its sentence.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UnpricedCause {
    #[sqlx(rename = "unpriced_code")]
    pub code: Option<String>,
    #[sqlx(rename = "unpriced_reason")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomPrice {
    pub model_key: String,
    pub provider: Option<String>,
    pub input: String,
    pub output: String,
    pub cache_read: Option<String>,
    pub cache_write_5m: Option<String>,
    pub cache_write_1h: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A budget: its scope (`account`, `project`, `key`, `tag`) and target, its
/// period (`day`, `week`, `month`, `total`) and amount.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BudgetRow {
    pub id: i64,
    pub user_id: i64,
    pub scope: String,
    /// `""` for the account; the project, the key's public id, or `key=value`.
    pub target: String,
    pub period: String,
    pub amount_nusd: i64,
    pub hard: bool,
    /// Comma-separated warning percentages (`80,100`).
    pub thresholds: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A budget to create, or to replace when its scope already has one of that period.
#[derive(Clone, Debug)]
pub struct NewBudget {
    pub scope: String,
    pub target: String,
    pub period: String,
    pub amount_nusd: i64,
    pub hard: bool,
    pub thresholds: String,
}

/// What a budget has counted in one period, and holds in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PeriodSpend {
    pub spent_nusd: i64,
    pub reserved_nusd: i64,
    pub unpriced_calls: i64,
}

/// A (budget, period) row's spent total right after a group commit changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpentTotal {
    pub budget_id: i64,
    pub period_key: String,
    pub spent_nusd: i64,
}

/// The outcome of trying to hold an amount on every hard budget of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Held on every budget, until the event releases it or it expires.
    Held,
    /// This budget cannot cover the amount (nothing was held anywhere);
    /// its period's figures as they stood.
    Refused { budget_id: i64, spend: PeriodSpend },
}

/// A repriced event: its row id and new price.
#[derive(Clone, Debug)]
pub struct Repriced {
    pub event: StoredEvent,
    pub cost: Money,
    pub source: PriceSource,
    pub priced_as: String,
}

/// Length of a rollup bucket: 15 minutes, in ms.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// The rollup bucket a time falls in.
#[must_use]
pub fn bucket_of(time_ms: i64) -> i64 {
    time_ms - time_ms.rem_euclid(BUCKET_MS)
}
