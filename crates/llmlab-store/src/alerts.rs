//! Alert channels, the alert outbox and its delivery rows.
//!
//! An alert is written in the transaction of what raised it (the events
//! that crossed a budget's threshold, the refusal of a hard budget, the
//! check that found a spend anomaly), with one delivery row per channel of
//! the account. A delivery worker claims due rows by moving their
//! `next_attempt_at` a lease ahead (`for update skip locked` on PostgreSQL,
//! so two replicas never claim the same row; SQLite has one writer), sends,
//! and records the outcome. `alerts_once (user_id, dedupe_key)` makes each
//! alert happen once, whatever raced to raise it.

use std::future::Future;

use llmlab_core::alert::AlertFacts;
use sqlx::Connection as _;
use sqlx::{PgConnection, SqliteConnection};

use crate::settings::Backend;
use crate::{Store, StoreError, StoreResult, with_pool};

/// A channel as stored: its target and secret sealed with the server key.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub name: Option<String>,
    pub target_hint: String,
    pub target_sealed: String,
    pub secret_sealed: Option<String>,
    pub created_at: i64,
}

/// A channel to add.
#[derive(Clone, Debug)]
pub struct NewChannel {
    pub kind: String,
    pub name: Option<String>,
    pub target_hint: String,
    pub target_sealed: String,
    pub secret_sealed: Option<String>,
}

/// An alert as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRow {
    pub id: String,
    pub user_id: i64,
    pub facts: AlertFacts,
    pub created_at: i64,
}

/// One alert's delivery to one channel, for the log.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub alert_id: String,
    pub channel_id: Option<i64>,
    pub channel_kind: String,
    pub target_hint: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

/// A delivery claimed for sending: everything the sender needs.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub attempts: i64,
    pub alert: AlertRow,
    /// `None` when the channel was removed after the alert was raised.
    pub channel: Option<ChannelRow>,
}

/// What one delivery attempt came to.
#[derive(Clone, Debug)]
pub enum DeliveryOutcome {
    Delivered {
        status: Option<u16>,
    },
    /// Try again at `next_attempt_at` (Unix ms).
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_at: i64,
    },
    /// Give up.
    Failed {
        status: Option<u16>,
        error: String,
    },
}

/// An alert just raised: its id and how many channels it goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raised {
    pub id: String,
    pub deliveries: u64,
}

/// The alert statements of a transaction, on either backend.
pub(crate) trait AlertTx {
    /// Writes the alert unless one with its dedupe key exists, with a
    /// delivery row per channel of the account (or only `only_channel`).
    fn raise(
        &mut self,
        user_id: i64,
        facts: &AlertFacts,
        only_channel: Option<i64>,
        now: i64,
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<Option<Raised>>> + Send;
    /// Records which alerts a budget's period has raised.
    fn set_alerted(
        &mut self,
        budget_id: i64,
        period_key: &str,
        alerted: &str,
        persistent: bool,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
    /// Forgets which alerts a changed budget raised: its next event checks
    /// them again (a new amount is a new alert; with the same amount, the
    /// alert's dedupe key finds it exists).
    fn forget_alerted(&mut self, budget_id: i64, persistent: bool) -> impl Future<Output = sqlx::Result<()>> + Send;
}

macro_rules! alert_tx {
    ($connection:ty) => {
        impl AlertTx for $connection {
            async fn raise(
                &mut self,
                user_id: i64,
                facts: &AlertFacts,
                only_channel: Option<i64>,
                now: i64,
                persistent: bool,
            ) -> sqlx::Result<Option<Raised>> {
                let id = format!("alert_{}", uuid::Uuid::now_v7().simple());
                let dedupe_key = facts.dedupe_key().unwrap_or_else(|| format!("{}:{id}", facts.kind()));
                let json = serde_json::to_string(facts).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                let inserted = sqlx::query(
                    "insert into alerts (id, user_id, kind, dedupe_key, facts, created_at) values ($1, $2, $3, $4, $5, $6) \
                     on conflict (user_id, dedupe_key) do nothing",
                )
                .persistent(persistent)
                .bind(&id)
                .bind(user_id)
                .bind(facts.kind())
                .bind(&dedupe_key)
                .bind(&json)
                .bind(now)
                .execute(&mut *self)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Ok(None);
                }
                let deliveries = sqlx::query(
                    "insert into alert_deliveries (alert_id, user_id, channel_id, channel_kind, target_hint, next_attempt_at) \
                     select $1, user_id, id, kind, target_hint, $2 from alert_channels \
                     where user_id = $3 and ($4 is null or id = $4)",
                )
                .persistent(persistent)
                .bind(&id)
                .bind(now)
                .bind(user_id)
                .bind(only_channel)
                .execute(&mut *self)
                .await?
                .rows_affected();
                Ok(Some(Raised { id, deliveries }))
            }

            async fn set_alerted(
                &mut self,
                budget_id: i64,
                period_key: &str,
                alerted: &str,
                persistent: bool,
            ) -> sqlx::Result<()> {
                sqlx::query("update budget_spend set alerted = $1 where budget_id = $2 and period_key = $3")
                    .persistent(persistent)
                    .bind(alerted)
                    .bind(budget_id)
                    .bind(period_key)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }

            async fn forget_alerted(&mut self, budget_id: i64, persistent: bool) -> sqlx::Result<()> {
                sqlx::query("update budget_spend set alerted = '' where budget_id = $1")
                    .persistent(persistent)
                    .bind(budget_id)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }
        }
    };
}

alert_tx!(SqliteConnection);
alert_tx!(PgConnection);

const CHANNEL_COLUMNS: &str = "id, user_id, kind, name, target_hint, target_sealed, secret_sealed, created_at";
const DELIVERY_COLUMNS: &str = "id, alert_id, channel_id, channel_kind, target_hint, state, attempts, next_attempt_at, \
                                last_status_code, last_error, last_attempt_at, delivered_at";

/// How many alerts an account's log shows at most.
pub const MAX_LOG_ALERTS: i64 = 500;

fn alert_row(id: String, user_id: i64, facts: &str, created_at: i64) -> StoreResult<AlertRow> {
    let facts = serde_json::from_str(facts)
        .map_err(|e| StoreError::Conflict(format!("alert {id} has unreadable facts: {e}")))?;
    Ok(AlertRow { id, user_id, facts, created_at })
}

impl Store {
    /// Adds a channel to the account.
    pub async fn add_channel(&self, user_id: i64, channel: &NewChannel, now: i64) -> StoreResult<ChannelRow> {
        let sql = format!(
            "insert into alert_channels (user_id, kind, name, target_hint, target_sealed, secret_sealed, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) returning {CHANNEL_COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql)
                .persistent(self.persistent)
                .bind(user_id)
                .bind(&channel.kind)
                .bind(&channel.name)
                .bind(&channel.target_hint)
                .bind(&channel.target_sealed)
                .bind(&channel.secret_sealed)
                .bind(now)
                .fetch_one(pool)
                .await
        })?)
    }

    /// The account's channels, oldest first.
    pub async fn channels(&self, user_id: i64) -> StoreResult<Vec<ChannelRow>> {
        let sql = format!("select {CHANNEL_COLUMNS} from alert_channels where user_id = $1 order by id");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).fetch_all(pool).await
        })?)
    }

    /// Every account's channels (to seal them again with a new server key).
    pub async fn all_channels(&self) -> StoreResult<Vec<ChannelRow>> {
        let sql = format!("select {CHANNEL_COLUMNS} from alert_channels order by id");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).persistent(self.persistent).fetch_all(pool).await)?)
    }

    /// Replaces a channel's sealed target and secret (key rotation).
    pub async fn reseal_channel(&self, id: i64, target_sealed: &str, secret_sealed: Option<&str>) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("update alert_channels set target_sealed = $1, secret_sealed = $2 where id = $3")
                .persistent(self.persistent)
                .bind(target_sealed)
                .bind(secret_sealed)
                .bind(id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Removes one of the account's channels; its pending deliveries fail.
    /// `false` when the account has no such channel.
    pub async fn remove_channel(&self, user_id: i64, id: i64, now: i64) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "update alert_deliveries set state = 'failed', last_error = 'the channel was removed', last_attempt_at = $1 \
                 where channel_id = $2 and user_id = $3 and state = 'pending'",
            )
            .persistent(self.persistent)
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            let removed = sqlx::query("delete from alert_channels where id = $1 and user_id = $2")
                .persistent(self.persistent)
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(removed > 0)
        })
    }

    /// Raises an alert in its own transaction (a test, a hard stop, an
    /// anomaly); `None` when an alert with its dedupe key exists already.
    pub async fn raise_alert(
        &self,
        user_id: i64,
        facts: &AlertFacts,
        only_channel: Option<i64>,
        now: i64,
    ) -> StoreResult<Option<Raised>> {
        let raised = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let raised = AlertTx::raise(&mut *tx, user_id, facts, only_channel, now, self.persistent).await?;
            tx.commit().await?;
            StoreResult::Ok(raised)
        })?;
        if raised.is_some() {
            self.alerts_raised.notify_one();
        }
        Ok(raised)
    }

    /// Wakes the delivery worker when an alert is raised through this store.
    #[must_use]
    pub fn alerts_raised(&self) -> &tokio::sync::Notify {
        &self.alerts_raised
    }

    /// Claims up to `limit` due deliveries for `lease_ms`: nobody else
    /// claims them until then, and a claimer that dies leaves them due again.
    pub async fn claim_deliveries(&self, now: i64, lease_ms: i64, limit: i64) -> StoreResult<Vec<ClaimedDelivery>> {
        let lock = if self.backend == Backend::Postgres { " for update skip locked" } else { "" };
        let sql = format!(
            "update alert_deliveries set next_attempt_at = $1, attempts = attempts + 1, last_attempt_at = $2 \
             where id in (select id from alert_deliveries where state = 'pending' and next_attempt_at <= $2 \
             order by next_attempt_at limit $3{lock}) returning id, alert_id, channel_id, attempts"
        );
        let claimed: Vec<(i64, String, Option<i64>, i64)> = with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(now + lease_ms).bind(now).bind(limit).fetch_all(pool).await
        })?;
        let mut out = Vec::with_capacity(claimed.len());
        for (id, alert_id, channel_id, attempts) in claimed {
            let Some(alert) = self.alert_by_id(&alert_id).await? else { continue };
            let channel = match channel_id {
                Some(channel_id) => self.channel_by_id(channel_id).await?,
                None => None,
            };
            out.push(ClaimedDelivery { id, attempts, alert, channel });
        }
        Ok(out)
    }

    async fn alert_by_id(&self, id: &str) -> StoreResult<Option<AlertRow>> {
        let row: Option<(String, i64, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as("select id, user_id, facts, created_at from alerts where id = $1")
                .persistent(self.persistent)
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(|(id, user_id, facts, created_at)| alert_row(id, user_id, &facts, created_at)).transpose()
    }

    async fn channel_by_id(&self, id: i64) -> StoreResult<Option<ChannelRow>> {
        let sql = format!("select {CHANNEL_COLUMNS} from alert_channels where id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(id).fetch_optional(pool).await
        })?)
    }

    /// Records the outcome of a claimed delivery's attempt.
    pub async fn finish_delivery(&self, id: i64, outcome: &DeliveryOutcome, now: i64) -> StoreResult<()> {
        let (state, status, error, next, delivered) = match outcome {
            DeliveryOutcome::Delivered { status } => ("delivered", *status, None, now, Some(now)),
            DeliveryOutcome::Retry { status, error, next_attempt_at } => {
                ("pending", *status, Some(error.as_str()), *next_attempt_at, None)
            }
            DeliveryOutcome::Failed { status, error } => ("failed", *status, Some(error.as_str()), now, None),
        };
        with_pool!(self, pool => {
            sqlx::query(
                "update alert_deliveries set state = $1, last_status_code = $2, last_error = $3, next_attempt_at = $4, \
                 delivered_at = $5, last_attempt_at = $6 where id = $7",
            )
            .persistent(self.persistent)
            .bind(state)
            .bind(status.map(i64::from))
            .bind(error)
            .bind(next)
            .bind(delivered)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The account's newest alerts (at most `limit`, up to [`MAX_LOG_ALERTS`]) with their deliveries.
    pub async fn alert_log(&self, user_id: i64, limit: i64) -> StoreResult<Vec<(AlertRow, Vec<DeliveryRow>)>> {
        let limit = limit.clamp(1, MAX_LOG_ALERTS);
        let alerts: Vec<(String, i64, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "select id, user_id, facts, created_at from alerts where user_id = $1 \
                 order by created_at desc, id desc limit $2",
            )
            .persistent(self.persistent)
            .bind(user_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        let Some(oldest) = alerts.last().map(|a| a.3) else { return Ok(Vec::new()) };
        let sql = format!(
            "select d.{} from alert_deliveries d join alerts a on a.id = d.alert_id \
             where a.user_id = $1 and a.created_at >= $2 order by d.id",
            DELIVERY_COLUMNS.replace(", ", ", d.")
        );
        let deliveries: Vec<DeliveryRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).persistent(self.persistent).bind(user_id).bind(oldest).fetch_all(pool).await
        })?;
        alerts
            .into_iter()
            .map(|(id, user, facts, created_at)| {
                let mine = deliveries.iter().filter(|d| d.alert_id == id).cloned().collect();
                Ok((alert_row(id, user, &facts, created_at)?, mine))
            })
            .collect()
    }
}
