//! Alert channels (where alerts go), alerts and their delivery log.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an alert channel delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A generic HTTPS endpoint, signed per the Standard Webhooks convention.
    Webhook,
    /// A Slack incoming webhook (`https://hooks.slack.com/services/…`).
    Slack,
    /// A Discord webhook (`https://discord.com/api/webhooks/…`).
    Discord,
    /// An email address, sent through the server's SMTP settings.
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] =
        [ChannelKind::Webhook, ChannelKind::Slack, ChannelKind::Discord, ChannelKind::Email];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Email => "email",
        }
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown channel kind {s:?}: use webhook, slack, discord or email"))
    }
}

/// `POST /api/alerts/channels`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelRequest {
    pub kind: ChannelKind,
    /// The webhook URL (`https://…`), or the email address.
    pub target: String,
    /// A label for lists and logs (at most 100 characters).
    #[serde(default)]
    pub name: Option<String>,
}

/// An alert channel. Its URL or address is a secret: only a hint is returned.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    pub id: i64,
    pub kind: ChannelKind,
    pub name: Option<String>,
    /// The target with its secret part hidden, e.g. `https://hooks.slack.com/services/…a1b2`.
    pub target_hint: String,
    pub created_at: String,
}

/// `POST /api/alerts/channels` → 201.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedChannel {
    pub channel: Channel,
    /// A webhook channel's signing secret (`whsec_…`, Standard Webhooks): shown only here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET /api/alerts/channels`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<Channel>,
}

/// `POST /api/alerts/test`: send a test alert to one channel, or to all.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestAlertRequest {
    #[serde(default)]
    pub channel_id: Option<i64>,
}

/// `POST /api/alerts/test` → 202: the test alert is queued for delivery.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TestAlertResponse {
    pub alert_id: String,
    /// How many channels it goes to.
    pub deliveries: u32,
}

/// Where one alert's delivery to one channel stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; retried until a day after the alert.
    Pending,
    /// The receiver answered 2xx (or the SMTP server accepted the mail).
    Delivered,
    /// Gave up: a day of retries, or the channel was removed.
    Failed,
}

/// One alert's delivery to one channel.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub channel_id: Option<i64>,
    pub channel_kind: ChannelKind,
    pub target_hint: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// The HTTP status (or SMTP reply code) of the last attempt.
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
}

/// An alert and where it was delivered.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// The same on every delivery attempt (`webhook-id` for webhooks), so receivers can de-duplicate.
    pub id: String,
    /// `budget_threshold`, `budget_forecast`, `spend_anomaly`, `unpriced_model`, `hard_stop`, `provider_drift` or `test`.
    pub kind: String,
    pub title: String,
    /// What happened, with the figures.
    pub text: String,
    /// What to do about it.
    pub action: String,
    pub created_at: String,
    pub deliveries: Vec<Delivery>,
}

/// `GET /api/alerts`: the newest alerts first, with their delivery log.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertLog {
    pub alerts: Vec<Alert>,
}
