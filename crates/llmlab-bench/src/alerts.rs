//! Alert figures (issue #16): the time from the 2xx of the event that
//! crosses a budget's threshold to the webhook's arrival at a healthy local
//! receiver, and the channels the track measurement runs with.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

use crate::Api;

/// A local receiver: the time each alert id reached it.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Receiver {
    pub(crate) async fn start() -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let receiver = Receiver { url: format!("http://{}", listener.local_addr()?), ..Receiver::default() };
        let app = Router::new().route("/{*path}", post(arrive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(receiver)
    }

    fn arrival(&self, alert_id: &str) -> Option<Instant> {
        self.arrivals.lock().ok()?.iter().find(|(id, _)| id == alert_id).map(|(_, at)| *at)
    }
}

async fn arrive(State(receiver): State<Receiver>, headers: axum::http::HeaderMap, body: Bytes) -> &'static str {
    let at = Instant::now();
    // The generic webhook says its id in a header; Slack and Discord bodies are not timed.
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
        && let Ok(mut arrivals) = receiver.arrivals.lock()
    {
        arrivals.push((id.to_owned(), at));
    }
    drop(body);
    "ok"
}

/// Adds `count` channels (webhook, Slack, Discord, in that order) at the receiver.
pub(crate) async fn add_channels(api: &Api, receiver: &Receiver, count: u8) -> anyhow::Result<()> {
    for kind in ["webhook", "slack", "discord"].into_iter().take(usize::from(count)) {
        let body = json!({"kind": kind, "target": format!("{}/{kind}", receiver.url)});
        let status = api.post("/api/alerts/channels", serde_json::to_vec(&body)?).await?;
        if !status.is_success() {
            bail!("adding a {kind} channel: {status} (is the server started with LLMLAB_ALERTS_ALLOW_PRIVATE=1?)");
        }
    }
    Ok(())
}

/// One crossing's timings, in ms: from the event's 2xx (as the client read
/// it) to the webhook's arrival, negative when the webhook came first; and
/// from sending the event to the webhook's arrival.
pub(crate) struct Timing {
    pub(crate) after_ack_ms: f64,
    pub(crate) after_send_ms: f64,
}

/// `rounds` times: a fresh $1 budget on a tag, one tracked event of $0.90
/// with that tag (crossing 80%), and when the webhook arrived.
pub(crate) async fn crossing_to_arrival(api: &Api, receiver: &Receiver, rounds: usize) -> anyhow::Result<Vec<Timing>> {
    let mut times = Vec::with_capacity(rounds);
    let run = jiff::Timestamp::now().as_millisecond();
    for round in 0..rounds {
        let tag = format!("{run}-{round}");
        let budget = json!({"amount_usd": "1", "scope": "tag", "target": format!("round={tag}"), "period": "total"});
        let (status, created) = api.post_json("/api/budgets/scoped", &budget).await?;
        if !status.is_success() {
            bail!("creating round {round}'s budget: {status} {created}");
        }
        let event = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                           "cost_usd": "0.9", "tags": {"round": tag}});
        let sent = Instant::now();
        let status = api.post("/api/events/track", serde_json::to_vec(&event)?).await?;
        let acknowledged = Instant::now();
        if !status.is_success() {
            bail!("round {round}'s event: {status}");
        }
        let alert_id = newest_alert(api).await?;
        let deadline = acknowledged + Duration::from_secs(30);
        let arrived = loop {
            if let Some(at) = receiver.arrival(&alert_id) {
                break at;
            }
            if Instant::now() > deadline {
                bail!("round {round}: alert {alert_id} did not arrive within 30 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        let signed = |from: Instant| {
            if arrived >= from {
                arrived.duration_since(from).as_secs_f64() * 1000.0
            } else {
                -(from.duration_since(arrived).as_secs_f64() * 1000.0)
            }
        };
        times.push(Timing { after_ack_ms: signed(acknowledged), after_send_ms: signed(sent) });
        // An account has a bounded number of budgets: each round removes its own.
        let removed = api.delete(&format!("/api/budgets/scoped/{}", created["id"])).await?;
        if !removed.is_success() {
            bail!("removing round {round}'s budget: {removed}");
        }
    }
    Ok(times)
}

/// The id of the account's newest budget alert.
async fn newest_alert(api: &Api) -> anyhow::Result<String> {
    let log: Value = api.get("/api/alerts?limit=5").await?;
    let alerts = log["alerts"].as_array().context("an alert log")?;
    let alert = alerts.iter().find(|a| a["kind"] == "budget_threshold").context("the crossing raised no alert")?;
    Ok(alert["id"].as_str().context("an alert id")?.to_owned())
}
