//! The recorder: one task that turns finished proxied calls into stored
//! events, off the response path.
//!
//! Calls arrive on a channel as their bodies end. The task takes whatever
//! has queued up (up to [`MAX_PER_FLUSH`]), and per account normalizes each
//! response (`ResponseAccumulator::finish`), prices it with the account's
//! custom prices and the catalog ([`crate::service::ingest::prepare_observed`], the
//! same rules as `POST /api/events/track`), stores the group as one batch
//! through the group-commit writer, and updates the account's budget figures
//! (which is what the hard budget reads). Under load the groups grow, so the
//! database sees a few large transactions instead of one per call.
//!
//! What is recorded (one event per call):
//! - a response with usage: priced, status `ok` (or the HTTP status when not 2xx);
//! - a billed endpoint's response without usage (an OpenAI chat stream
//!   without `include_usage`, a truncated stream, a client that left early):
//!   unpriced, with the normalizer's reason, status `ok`, `error` (the
//!   upstream broke off) or `cancelled` (the client went away);
//! - a billed endpoint's error answer (4xx/5xx), or no connection at all:
//!   status = the HTTP status, which the core's rule for refused calls
//!   (`llmlab_core::refused_call`, the same for SDK events) prices at $0;
//! - no answer after the request was sent (timeout, reset): unpriced, since
//!   the provider may have billed it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use llmlab_api::TrackEvent;
use llmlab_core::normalize::{Hints, ResponseAccumulator, normalize_body};
use llmlab_core::{Money, NormalizedUsage, served};
use llmlab_store::{EventBatch, InsertOutcome, NewEvent};
use tokio::sync::mpsc;

use super::{Labels, Upstream};
use crate::auth::Caller;
use crate::service::ingest::{CustomPrices, prepare_observed};
use crate::service::labels;
use crate::state::AppState;

/// Most calls stored in one group.
const MAX_PER_FLUSH: usize = 2048;
/// How long the recorder waits for more calls before storing a group; a
/// call shows up this much later, and the response never waits for it.
const LINGER: Duration = Duration::from_millis(20);
/// Calls waiting beyond this are dropped (and logged): memory stays bounded
/// if the database stalls for a long time.
const MAX_QUEUED: usize = 100_000;

/// What is known about a call when it is sent.
pub(crate) struct CallMeta {
    pub(crate) caller: Arc<Caller>,
    pub(crate) upstream: Upstream,
    pub(crate) labels: Labels,
    pub(crate) started: Instant,
    pub(crate) started_ms: i64,
    /// See [`Upstream::is_billed_endpoint`].
    pub(crate) billed_endpoint: bool,
    /// The model in a Gemini URL.
    pub(crate) url_model: Option<String>,
    /// The request body, when it was read whole (for the requested model).
    pub(crate) request_body: Option<Bytes>,
    /// The hold the call placed on its hard budgets; its event releases it.
    pub(crate) reservation: Option<String>,
    /// The tier a response header says served the call (Gemini's
    /// `x-gemini-service-tier`, which is the only place a priority call that
    /// fell back to standard shows it).
    pub(crate) served_tier: Option<String>,
}

/// How a streamed response body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    Complete,
    /// The upstream connection failed mid-body.
    UpstreamFailed,
    /// The client stopped reading (disconnected) before the end.
    ClientGone,
}

/// Why a call got no upstream answer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Failure {
    /// No connection could be opened: nothing was sent, nothing billed.
    NotSent,
    /// The connection broke after the request was sent.
    NoAnswer,
    /// No response headers within the timeout.
    TimedOut(Duration),
    /// The upstream sent a head, then broke off before the end of a small
    /// answer the proxy was waiting for.
    BrokeOff,
}

enum Outcome {
    /// A streamed answer, accumulated as it went.
    Answered {
        status: u16,
        // Boxed: the accumulator is large, and the queue holds many calls.
        accumulator: Box<ResponseAccumulator>,
        end: BodyEnd,
    },
    /// A small answer received whole.
    Whole {
        status: u16,
        body: Bytes,
    },
    Failed {
        status: u16,
        failure: Failure,
    },
}

struct Call {
    meta: CallMeta,
    latency: Duration,
    outcome: Outcome,
}

/// Hands finished calls to the recorder task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Recorder {
    calls: mpsc::UnboundedSender<Call>,
    queued: Arc<AtomicUsize>,
}

impl Recorder {
    /// Starts the recorder task. It ends once every `Recorder` is dropped
    /// and the queue is drained, so shutdown loses no call.
    pub(crate) fn start(state: AppState) -> Recorder {
        let (calls, receiver) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(state, receiver, queued.clone()));
        Recorder { calls, queued }
    }

    /// Records a call whose upstream answered.
    pub(crate) fn answered(&self, meta: CallMeta, status: u16, accumulator: ResponseAccumulator, end: BodyEnd) {
        let latency = meta.started.elapsed();
        self.send(Call {
            meta,
            latency,
            outcome: Outcome::Answered { status, accumulator: Box::new(accumulator), end },
        });
    }

    /// Records a call whose small answer was received whole.
    pub(crate) fn answered_whole(&self, meta: CallMeta, status: u16, body: Bytes) {
        let latency = meta.started.elapsed();
        self.send(Call { meta, latency, outcome: Outcome::Whole { status, body } });
    }

    /// Records a call LLMLab answered itself (502/504).
    pub(crate) fn failed(&self, meta: CallMeta, status: u16, failure: Failure) {
        let latency = meta.started.elapsed();
        self.send(Call { meta, latency, outcome: Outcome::Failed { status, failure } });
    }

    fn send(&self, call: Call) {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("proxy: {MAX_QUEUED} calls are waiting to be stored; dropping this one");
            return;
        }
        if self.calls.send(call).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("proxy: the recorder has stopped; a call was not recorded");
        }
    }
}

async fn run(state: AppState, mut receiver: mpsc::UnboundedReceiver<Call>, queued: Arc<AtomicUsize>) {
    let mut calls = Vec::with_capacity(MAX_PER_FLUSH);
    while receiver.recv_many(&mut calls, MAX_PER_FLUSH).await > 0 {
        // Let a busy proxy's calls gather: one transaction of hundreds of
        // events costs the database far less than hundreds of small ones.
        tokio::time::sleep(LINGER).await;
        while calls.len() < MAX_PER_FLUSH {
            match receiver.try_recv() {
                Ok(call) => calls.push(call),
                Err(_) => break,
            }
        }
        queued.fetch_sub(calls.len(), Ordering::Relaxed);
        flush(&state, std::mem::take(&mut calls)).await;
    }
}

/// Stores one group of calls, one batch per account.
async fn flush(state: &AppState, calls: Vec<Call>) {
    let mut accounts: Vec<(Arc<Caller>, Vec<Call>)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for call in calls {
        let user = call.meta.caller.user.id;
        let slot = *index.entry(user).or_insert_with(|| {
            accounts.push((call.meta.caller.clone(), Vec::new()));
            accounts.len() - 1
        });
        accounts[slot].1.push(call);
    }
    for (caller, calls) in accounts {
        let custom = match state.store.custom_prices(caller.user.id).await {
            Ok(prices) => CustomPrices::new(&prices),
            Err(error) => {
                tracing::warn!(%error, "proxy: could not read custom prices; pricing with the catalog");
                CustomPrices::new(&[])
            }
        };
        let now = crate::clock::now_ms();
        let mut unrecorded_holds = Vec::new();
        let events: Vec<NewEvent> = calls
            .into_iter()
            .filter_map(|call| {
                let hold = call.meta.reservation.clone();
                let event = event_of(call, state, &custom, now);
                if event.is_none() {
                    unrecorded_holds.extend(hold);
                }
                event
            })
            .collect();
        for hold in unrecorded_holds {
            if let Err(error) = crate::service::budgets::holds::release(state, &caller.user, &hold).await {
                tracing::warn!(%error, "proxy: could not release a budget hold; it lapses when it expires");
            }
        }
        if events.is_empty() {
            continue;
        }
        let count = events.len();
        let times: Vec<(i64, Option<Money>)> = events.iter().map(|e| (e.occurred_at, e.price.cost())).collect();
        match state.writer.write(EventBatch { user_id: caller.user.id, events }).await {
            Ok(outcomes) => {
                let inserted: Vec<(i64, Option<Money>)> = times
                    .into_iter()
                    .zip(outcomes)
                    .filter(|(_, outcome)| matches!(outcome, InsertOutcome::Inserted))
                    .map(|(time, _)| time)
                    .collect();
                if !inserted.is_empty() {
                    state.alerts.spent(caller.user.id);
                }
                if let Err(error) = state.budgets.status(&state.store, &caller.user, &inserted, false).await {
                    tracing::warn!(%error, "proxy: could not update the budget after storing calls");
                }
            }
            Err(error) => {
                let cause = error.cause.as_ref().map_or_else(|| error.message.clone(), ToString::to_string);
                tracing::error!(events = count, error = %cause, "proxy: could not store proxied calls");
            }
        }
    }
}

/// The stored event for one call, or `None` when the call is not recorded
/// (an endpoint that bills nothing and whose answer had no usage).
fn event_of(call: Call, state: &AppState, custom: &CustomPrices, now: i64) -> Option<NewEvent> {
    let Call { meta, latency, outcome } = call;
    let answered = match outcome {
        Outcome::Answered { status, accumulator, end } => Ok((status, accumulator.finish(), end)),
        Outcome::Whole { status, body } => {
            let hints = Hints { provider: Some(meta.upstream.provider()), model: meta.url_model.clone() };
            Ok((status, normalize_body(&body, &hints), BodyEnd::Complete))
        }
        Outcome::Failed { status, failure } => Err((status, failure)),
    };
    // An error status without usage is priced at $0 by the core's rule for
    // refused calls, unless `unknown_reason` says the provider may have billed.
    let (usage, status, unknown_reason) = match answered {
        Ok((status, normalized, end)) => {
            let success = (200..300).contains(&status);
            match normalized {
                Ok(usage) => (Some(usage), if success { "ok".to_owned() } else { status.to_string() }, None),
                Err(_) if !meta.billed_endpoint => return None,
                // The provider refused the call: nothing was billed.
                Err(_) if !success => (None, status.to_string(), None),
                Err(error) => {
                    let (status, why) = match end {
                        BodyEnd::Complete => ("ok", error.to_string()),
                        BodyEnd::UpstreamFailed => ("error", format!("the upstream broke off the response: {error}")),
                        BodyEnd::ClientGone => {
                            ("cancelled", format!("the client disconnected before the end of the response: {error}"))
                        }
                    };
                    (None, status.to_owned(), Some(why))
                }
            }
        }
        Err(_) if !meta.billed_endpoint => return None,
        Err((status, failure)) => match failure {
            // Nothing was sent, so nothing was billed: the 502 is a refusal.
            Failure::NotSent => (None, status.to_string(), None),
            Failure::NoAnswer => (
                None,
                status.to_string(),
                Some(
                    "the upstream closed the connection without answering; the provider may have billed the call"
                        .into(),
                ),
            ),
            Failure::BrokeOff => (
                None,
                status.to_string(),
                Some("the upstream broke off its answer; the provider may have billed the call".into()),
            ),
            Failure::TimedOut(limit) => (
                None,
                status.to_string(),
                Some(format!(
                    "the upstream did not answer within {} s; the provider may have billed the call",
                    limit.as_secs_f64()
                )),
            ),
        },
    };
    let model = model_of(usage.as_ref(), &meta);
    let api_key = meta.caller.key_id.clone();
    let reservation = meta.reservation.clone();
    let event = TrackEvent {
        provider: meta.upstream.provider().as_str().to_owned(),
        model,
        timestamp: Some(crate::clock::rfc3339(meta.started_ms)),
        project: meta.labels.project,
        tags: meta.labels.tags,
        latency_ms: Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)),
        status: Some(status),
        service_tier: meta.served_tier.clone(),
        requested_service_tier: meta.request_body.as_deref().and_then(served::requested_tier),
        upstream_host: served::host_of(meta.upstream.base_url(&state.settings.proxy)),
        ..TrackEvent::default()
    };
    match prepare_observed(&event, usage, unknown_reason, &state.catalog().catalog, custom, now) {
        Ok(prepared) => Some(NewEvent { api_key: Some(api_key), reservation_id: reservation, ..prepared.record }),
        Err(error) => {
            tracing::error!(error = %error.message, "proxy: a call could not be recorded");
            None
        }
    }
}

/// The model to record: what the response says served the call, else the
/// model in a Gemini URL, else the one the request asked for.
fn model_of(usage: Option<&NormalizedUsage>, meta: &CallMeta) -> String {
    #[derive(serde::Deserialize)]
    struct Requested {
        model: Option<String>,
    }
    let usable = |m: &str| labels::text(m, labels::MAX_MODEL_CHARS).is_ok();
    usage
        .and_then(|u| u.model.clone())
        .filter(|m| usable(m))
        .or_else(|| meta.url_model.clone().filter(|m| usable(m)))
        .or_else(|| {
            let body = meta.request_body.as_ref()?;
            serde_json::from_slice::<Requested>(body).ok()?.model.filter(|m| usable(m))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
