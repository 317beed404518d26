//! Alerts: an account's channels (webhook, Slack, Discord, email), the
//! alerts raised for it, and their delivery log. Budget thresholds,
//! forecasts and models without a price are raised by the store in the
//! events' own transaction; hard stops by the proxy's and SDK's refusals
//! ([`hard_stop`]); spend anomalies by a periodic check ([`worker`]). The
//! [`worker`] delivers them.

pub mod deliver;
pub mod memory;
pub mod payload;
pub mod target;
pub mod worker;

use llmlab_api::{
    Alert, AlertLog, Channel, ChannelKind, ChannelList, CreateChannelRequest, CreatedChannel, Delivery, DeliveryState,
    TestAlertResponse,
};
use llmlab_core::Money;
use llmlab_core::alert::{AlertFacts, BudgetRef};
use llmlab_store::{AlertRow, ChannelRow, DeliveryRow, NewChannel, PeriodSpend, User};

use crate::clock::{now_ms, rfc3339};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::service::budgets::budget::Budget;
use crate::service::labels;
use crate::state::AppState;

/// Most channels one account may have.
pub const MAX_CHANNELS: usize = 20;

/// The account's channels.
pub async fn channels(state: &AppState, user: &User) -> ApiResult<ChannelList> {
    let rows = state.store.channels(user.id).await?;
    Ok(ChannelList { channels: rows.iter().map(view).collect() })
}

/// Adds a channel; a generic webhook's signing secret is returned only here.
pub async fn add_channel(state: &AppState, user: &User, request: &CreateChannelRequest) -> ApiResult<CreatedChannel> {
    let settings = &state.settings.alerts;
    let target =
        target::check_target(request.kind, &request.target, settings.allow_private).map_err(|error| match error {
            target::TargetError::Private { .. } | target::TargetError::Forbidden { .. } => {
                ApiError::new(ErrorCode::TargetRefused, error.to_string())
            }
            other => ApiError::invalid("target", other),
        })?;
    let name = match request.name.as_deref() {
        Some(name) => labels::optional_text(name, 100).map_err(|e| ApiError::invalid("name", e))?.map(str::to_owned),
        None => None,
    };
    if state.store.channels(user.id).await?.len() >= MAX_CHANNELS {
        return Err(ApiError::invalid(
            "kind",
            format!("an account has at most {MAX_CHANNELS} alert channels; remove one first"),
        ));
    }
    let secret = (request.kind == ChannelKind::Webhook).then(deliver::new_signing_secret);
    let channel = NewChannel {
        kind: request.kind.as_str().to_owned(),
        name,
        target_hint: target::hint(request.kind, &target),
        target_sealed: settings.sealer.seal(&target),
        secret_sealed: secret.as_deref().map(|s| settings.sealer.seal(s)),
    };
    let row = state.store.add_channel(user.id, &channel, now_ms()).await?;
    tracing::info!(user = user.id, channel = row.id, kind = %request.kind, "added an alert channel");
    Ok(CreatedChannel { channel: view(&row), secret })
}

/// Removes a channel; its undelivered alerts are marked failed.
pub async fn remove_channel(state: &AppState, user: &User, id: i64) -> ApiResult<()> {
    if state.store.remove_channel(user.id, id, now_ms()).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no alert channel with id {id}; `GET /api/alerts/channels` lists them")))
    }
}

/// Queues a test alert to one channel, or to every channel.
pub async fn test(state: &AppState, user: &User, channel_id: Option<i64>) -> ApiResult<TestAlertResponse> {
    let channels = state.store.channels(user.id).await?;
    if let Some(id) = channel_id {
        if !channels.iter().any(|c| c.id == id) {
            return Err(ApiError::not_found(format!(
                "no alert channel with id {id}; `GET /api/alerts/channels` lists them"
            )));
        }
    } else if channels.is_empty() {
        return Err(ApiError::invalid(
            "channel_id",
            "the account has no alert channel yet; add one first (`llmlab alerts add webhook|slack|discord URL`, `llmlab alerts add email ADDRESS`)",
        ));
    }
    let raised = state
        .store
        .raise_alert(user.id, &AlertFacts::Test, channel_id, now_ms())
        .await?
        .ok_or_else(|| ApiError::internal(std::io::Error::other("a test alert was taken for a duplicate")))?;
    Ok(TestAlertResponse { alert_id: raised.id, deliveries: u32::try_from(raised.deliveries).unwrap_or(u32::MAX) })
}

/// The account's newest alerts with their deliveries.
pub async fn log(state: &AppState, user: &User, limit: Option<i64>) -> ApiResult<AlertLog> {
    let limit = limit.unwrap_or(50);
    if !(1..=llmlab_store::MAX_LOG_ALERTS).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("between 1 and {}", llmlab_store::MAX_LOG_ALERTS)));
    }
    let base = public_url(state);
    let alerts = state.store.alert_log(user.id, limit).await?;
    Ok(AlertLog { alerts: alerts.iter().map(|(alert, deliveries)| alert_view(alert, deliveries, &base)).collect() })
}

/// Raises the hard-stop alert of a budget's period, once (this server
/// remembers; the store's dedupe key covers the other replicas). Runs in
/// the background: a refusal does not wait for it.
pub fn hard_stop(state: &AppState, user: &User, budget: &Budget, period_key: &str, spend: PeriodSpend) {
    if !state.alerts.first_hard_stop(user.id, budget.row.id, period_key) {
        return;
    }
    let facts = AlertFacts::HardStop {
        budget: BudgetRef {
            id: budget.row.id,
            scope: budget.row.scope.clone(),
            target: budget.row.target.clone(),
            period: budget.row.period.clone(),
            hard: budget.row.hard,
            created_at: budget.row.created_at,
        },
        period_key: period_key.to_owned(),
        spent: Money::from_nanos(spend.spent_nusd),
        held: Money::from_nanos(spend.reserved_nusd.max(0)),
        amount: Money::from_nanos(budget.row.amount_nusd),
    };
    let store = state.store.clone();
    let user_id = user.id;
    tokio::spawn(async move {
        if let Err(error) = store.raise_alert(user_id, &facts, None, now_ms()).await {
            tracing::warn!(%error, "could not raise a hard-stop alert");
        }
    });
}

/// The server's address for links in alerts.
#[must_use]
pub fn public_url(state: &AppState) -> String {
    state.settings.alerts.public_url.clone().unwrap_or_else(|| "http://127.0.0.1:8787".to_owned())
}

fn kind_of(text: &str) -> ChannelKind {
    text.parse().unwrap_or(ChannelKind::Webhook)
}

fn view(row: &ChannelRow) -> Channel {
    Channel {
        id: row.id,
        kind: kind_of(&row.kind),
        name: row.name.clone(),
        target_hint: row.target_hint.clone(),
        created_at: rfc3339(row.created_at),
    }
}

fn alert_view(alert: &AlertRow, deliveries: &[DeliveryRow], base: &str) -> Alert {
    let message = alert.facts.message(base);
    Alert {
        id: alert.id.clone(),
        kind: alert.facts.kind().to_owned(),
        title: message.title,
        text: message.text,
        action: message.action,
        created_at: rfc3339(alert.created_at),
        deliveries: deliveries.iter().map(delivery_view).collect(),
    }
}

fn delivery_view(row: &DeliveryRow) -> Delivery {
    let state = match row.state.as_str() {
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        _ => DeliveryState::Pending,
    };
    Delivery {
        channel_id: row.channel_id,
        channel_kind: kind_of(&row.channel_kind),
        target_hint: row.target_hint.clone(),
        state,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.last_error.clone(),
        last_attempt_at: row.last_attempt_at.map(rfc3339),
        next_attempt_at: (state == DeliveryState::Pending).then(|| rfc3339(row.next_attempt_at)),
        delivered_at: row.delivered_at.map(rfc3339),
    }
}
