//! The delivery worker: claims due deliveries, sends them, records each
//! outcome, and retries failures with exponential backoff and jitter for up
//! to [`GIVE_UP_AFTER`], the alert's id the same on every attempt. Woken at
//! once when this server raises an alert; otherwise it looks every
//! [`POLL_EVERY`] (alerts raised by another replica, retries coming due).
//! Also checks the accounts that spent lately for a spend anomaly every
//! [`ANOMALY_CHECK_EVERY`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_core::Money;
use llmlab_core::alert::{ANOMALY_WINDOW_DAYS, AlertFacts, spend_anomaly};
use llmlab_store::{ClaimedDelivery, DeliveryOutcome, SeriesStep, Store};
use rand::Rng as _;

use super::deliver::{Attempt, Sender};
use super::payload::Outgoing;
use crate::clock::{now_ms, rfc3339};
use crate::state::AlertSettings;

/// How often the worker looks for due deliveries without being woken.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long a claimed delivery is this server's to send; a server that dies
/// mid-send leaves it to another after this.
pub const CLAIM_LEASE: Duration = Duration::from_mins(1);
/// Deliveries claimed (and sent side by side) at once.
const CLAIM_BATCH: i64 = 16;
/// The longest wait between two attempts.
pub const MAX_RETRY_WAIT: Duration = Duration::from_mins(15);
/// How long after its alert a delivery is still tried.
pub const GIVE_UP_AFTER: Duration = Duration::from_hours(24);
/// How often the accounts that spent lately are checked for a spend anomaly.
pub const ANOMALY_CHECK_EVERY: Duration = Duration::from_mins(1);

/// The wait before attempt `attempts + 1`: `base × 2^(attempts − 1)`, at most
/// [`MAX_RETRY_WAIT`], then a random half to all of it ("equal jitter"), so
/// receivers coming back are not hit by every sender at once.
#[must_use]
pub fn retry_wait(base: Duration, attempts: i64, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(MAX_RETRY_WAIT);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Starts the delivery worker; it stops when the store goes away.
#[must_use = "aborting the handle stops the worker"]
pub fn spawn(store: &Arc<Store>, settings: &AlertSettings, public_url: String) -> tokio::task::JoinHandle<()> {
    let store = Arc::downgrade(store);
    let sender = Sender::new(settings);
    let settings = settings.clone();
    tokio::spawn(async move {
        reseal(&store, &settings).await;
        loop {
            let Some(strong) = store.upgrade() else { break };
            let sent = deliver_due(&strong, &sender, &settings, &public_url).await;
            if sent > 0 {
                continue; // there may be more
            }
            let woken = strong.clone();
            drop(strong);
            tokio::select! {
                () = woken.alerts_raised().notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    })
}

/// Claims and sends one batch of due deliveries; returns how many.
async fn deliver_due(store: &Store, sender: &Sender, settings: &AlertSettings, public_url: &str) -> usize {
    let lease = i64::try_from(CLAIM_LEASE.as_millis()).unwrap_or(i64::MAX);
    let claimed = match store.claim_deliveries(now_ms(), lease, CLAIM_BATCH).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%error, "alerts: could not claim deliveries");
            return 0;
        }
    };
    let count = claimed.len();
    let sends = claimed.into_iter().map(|delivery| async move {
        let outcome = attempt(sender, settings, public_url, &delivery).await;
        if let Err(error) = store.finish_delivery(delivery.id, &outcome, now_ms()).await {
            tracing::warn!(%error, delivery = delivery.id, "alerts: could not record a delivery; it is sent again after its lease");
        }
    });
    futures::future::join_all(sends).await;
    count
}

/// One attempt at one delivery, and what to record.
async fn attempt(
    sender: &Sender,
    settings: &AlertSettings,
    public_url: &str,
    delivery: &ClaimedDelivery,
) -> DeliveryOutcome {
    let alert = &delivery.alert;
    let Some(channel) = &delivery.channel else {
        return DeliveryOutcome::Failed { status: None, error: "the channel was removed".to_owned() };
    };
    let opened = settings.sealer.open(&channel.target_sealed).and_then(|target| {
        let secret = channel.secret_sealed.as_deref().map(|s| settings.sealer.open(s)).transpose()?;
        Ok((target, secret))
    });
    let result = match opened {
        Ok((target, secret)) => {
            let message = alert.facts.message(public_url);
            let created_at = rfc3339(alert.created_at);
            let outgoing = Outgoing { id: &alert.id, facts: &alert.facts, message: &message, created_at: &created_at };
            let kind = channel.kind.parse().unwrap_or(llmlab_api::ChannelKind::Webhook);
            sender.send(kind, &target, secret.as_deref(), &outgoing).await
        }
        Err(error) => Attempt::Failed { status: None, error: error.to_string() },
    };
    let now = now_ms();
    match result {
        Attempt::Delivered { status } => {
            tracing::info!(alert = %alert.id, delivery = delivery.id, kind = %channel.kind, attempts = delivery.attempts, "alerts: delivered");
            DeliveryOutcome::Delivered { status }
        }
        Attempt::Permanent { status, error } => {
            tracing::warn!(alert = %alert.id, delivery = delivery.id, %error, "alerts: delivery failed for good");
            DeliveryOutcome::Failed { status, error }
        }
        Attempt::Failed { status, error } => {
            let give_up_at =
                alert.created_at.saturating_add(i64::try_from(GIVE_UP_AFTER.as_millis()).unwrap_or(i64::MAX));
            let wait = retry_wait(settings.retry_base, delivery.attempts, rand::rng().random::<f64>());
            let next = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            if next >= give_up_at {
                tracing::warn!(alert = %alert.id, delivery = delivery.id, %error, "alerts: gave up after a day of retries");
                DeliveryOutcome::Failed { status, error: format!("gave up after a day: {error}") }
            } else {
                tracing::info!(alert = %alert.id, delivery = delivery.id, attempts = delivery.attempts, %error, retry_in_ms = wait.as_millis(), "alerts: delivery failed; will retry");
                DeliveryOutcome::Retry { status, error, next_attempt_at: next }
            }
        }
    }
}

/// Seals again, with the current key, the channels sealed with a previous one (after a key rotation).
async fn reseal(store: &Weak<Store>, settings: &AlertSettings) {
    let Some(store) = store.upgrade() else { return };
    let channels = match store.all_channels().await {
        Ok(channels) => channels,
        Err(error) => {
            tracing::warn!(%error, "alerts: could not read channels to seal them with the current key");
            return;
        }
    };
    let sealer = &settings.sealer;
    reseal_admin_keys(&store, sealer).await;
    let mut resealed = 0;
    for channel in channels.iter().filter(|c| sealer.is_stale(&c.target_sealed)) {
        let target = sealer.open(&channel.target_sealed);
        let secret = channel.secret_sealed.as_deref().map(|s| sealer.open(s)).transpose();
        let (Ok(target), Ok(secret)) = (target, secret) else { continue };
        let secret = secret.map(|s| sealer.seal(&s));
        if store.reseal_channel(channel.id, &sealer.seal(&target), secret.as_deref()).await.is_ok() {
            resealed += 1;
        }
    }
    if resealed > 0 {
        tracing::info!(resealed, key = sealer.key_id(), "alerts: sealed channels again with the current server key");
    }
}

/// Seals again, with the current key, the provider admin keys sealed with a previous one.
async fn reseal_admin_keys(store: &Store, sealer: &crate::sealing::Sealer) {
    let Ok(connections) = store.all_connections().await else { return };
    for connection in connections.iter().filter(|c| sealer.is_stale(&c.key_sealed)) {
        let Ok(key) = sealer.open_admin_key(&connection.key_sealed) else { continue };
        let sealed = sealer.seal_admin_key(&key);
        if let Err(error) = store.reseal_connection(connection.user_id, &connection.provider, &sealed).await {
            tracing::warn!(%error, "provider reports: could not seal an admin key with the current server key");
        }
    }
}

/// Checks the accounts that spent lately for a spend anomaly every
/// [`ANOMALY_CHECK_EVERY`]; `spenders` gives them (and forgets them).
#[must_use = "aborting the handle stops the checks"]
pub fn spawn_anomaly_checks<F>(store: &Arc<Store>, spenders: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Vec<i64> + Send + 'static,
{
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(ANOMALY_CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(store) = store.upgrade() else { break };
            for user_id in spenders() {
                if let Err(error) = check_anomaly(&store, user_id, Timestamp::now()).await {
                    tracing::warn!(%error, user = user_id, "alerts: could not check for a spend anomaly");
                }
            }
        }
    })
}

/// Raises a spend anomaly for today (in the account's time zone) if
/// today's spend is one ([`spend_anomaly`]); `true` when it raised one now.
pub async fn check_anomaly(store: &Store, user_id: i64, now: Timestamp) -> Result<bool, llmlab_store::StoreError> {
    let user = store.user(user_id).await?;
    let tz = TimeZone::get(&user.timezone).unwrap_or(TimeZone::UTC);
    let today = now.to_zoned(tz.clone()).date();
    let days = i64::try_from(ANOMALY_WINDOW_DAYS).unwrap_or(14);
    let first = today.checked_sub(jiff::Span::new().days(days)).unwrap_or(today);
    let start = |day: jiff::civil::Date| day.to_zoned(tz.clone()).map(|z| z.timestamp().as_millisecond());
    let Ok(from) = start(first) else { return Ok(false) };
    let hours = store.spend_series(user_id, from, now.as_millisecond() + 1, None, SeriesStep::Hour).await?;
    let mut daily = [Money::ZERO; ANOMALY_WINDOW_DAYS + 1];
    for hour in hours {
        let Ok(at) = Timestamp::from_millisecond(hour.bucket) else { continue };
        let day = at.to_zoned(tz.clone()).date();
        let index = usize::try_from((day - first).get_days()).unwrap_or(usize::MAX);
        if let Some(slot) = daily.get_mut(index) {
            *slot += hour.cost;
        }
    }
    let spent_today = daily[ANOMALY_WINDOW_DAYS];
    let Some(norm) = spend_anomaly(spent_today, &daily[..ANOMALY_WINDOW_DAYS]) else { return Ok(false) };
    let facts = AlertFacts::SpendAnomaly { day: today, spent: spent_today, norm };
    Ok(store.raise_alert(user_id, &facts, None, now.as_millisecond()).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap_with_jitter_between_half_and_all() {
        let base = Duration::from_secs(1);
        assert_eq!(retry_wait(base, 1, 1.0), Duration::from_secs(1));
        assert_eq!(retry_wait(base, 2, 1.0), Duration::from_secs(2));
        assert_eq!(retry_wait(base, 5, 1.0), Duration::from_secs(16));
        assert_eq!(retry_wait(base, 5, 0.0), Duration::from_secs(8));
        assert_eq!(retry_wait(base, 40, 1.0), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(base, 0, 1.0), Duration::from_secs(1));
    }
}
