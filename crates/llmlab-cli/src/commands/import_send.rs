//! Sending imported records to the server as events (`POST /api/events/batch`,
//! the same path as the SDK), and the tally of what the server made of them.

use std::collections::BTreeMap;

use llmlab_api::{BatchRequest, BatchResponse, TrackEvent};
use llmlab_core::Money;
use llmlab_core::agent_logs::{Billing, Record};
use serde::Serialize;

use crate::client::Client;
use crate::commands::import_files::LineCounts;

/// Events per request: well under the server's 10,000 and its body limit
/// (a Claude Code usage object is a few hundred bytes).
const BATCH_EVENTS: usize = 500;

/// How the imported events are labelled.
pub(crate) struct Labels {
    pub(crate) billing: Billing,
    /// `--project`: every event in this project instead of its working directory's.
    pub(crate) project: Option<String>,
}

/// What an import did, for the summary.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Tally {
    pub(crate) files: usize,
    /// Distinct billed responses sent.
    pub(crate) events: u64,
    pub(crate) new: u64,
    /// Sent before (a previous import, another file): not counted again.
    pub(crate) already_imported: u64,
    /// Lines repeating a response already counted (per-block lines, resumed copies, repeated counts).
    pub(crate) repeated_lines: u64,
    /// Claude Code's `<synthetic>` lines (no API call).
    pub(crate) synthetic_lines: u64,
    /// Responses still being written (a session in progress), left for the next import.
    pub(crate) unfinished: u64,
    /// Lines with usage that could not be imported, by reason.
    pub(crate) unusable_lines: BTreeMap<String, u64>,
    /// The cost of every event sent (new or not), priced ones only.
    #[serde(serialize_with = "money")]
    pub(crate) cost_usd: Money,
    /// The cost of the events this import added.
    #[serde(serialize_with = "money")]
    pub(crate) new_cost_usd: Money,
    /// Models without a price, and how many events each: unpriced (never $0) until a price is added.
    pub(crate) unpriced_models: BTreeMap<String, u64>,
    /// The provider of each unpriced model, for the hint that prices it.
    #[serde(skip)]
    pub(crate) unpriced_providers: BTreeMap<String, String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the signature `serialize_with` requires
fn money<S: serde::Serializer>(amount: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&amount.to_string())
}

impl Tally {
    /// Adds what reading lines counted.
    pub(crate) fn add_lines(&mut self, counts: LineCounts) {
        self.repeated_lines += counts.repeats;
        self.synthetic_lines += counts.synthetic;
        for (reason, n) in counts.unusable {
            *self.unusable_lines.entry(reason).or_default() += n;
        }
    }
}

/// The event a record becomes.
fn event(record: Record, labels: &Labels) -> TrackEvent {
    TrackEvent {
        event_id: Some(record.event_id()),
        project: labels.project.clone().or_else(|| record.project()),
        tags: Some(record.tags(labels.billing)),
        provider: record.provider,
        model: record.model,
        usage: Some(record.usage),
        timestamp: record.timestamp,
        ..TrackEvent::default()
    }
}

/// Sends `records` in batches; the tally gets the server's answers.
pub(crate) async fn send(
    client: &Client,
    records: Vec<Record>,
    labels: &Labels,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let mut queue = records;
    send_queued(client, &mut queue, labels, tally).await
}

/// Sends the records of `queue` in batches, removing each batch the server
/// stored: on an error, `queue` holds the records still to send.
pub(crate) async fn send_queued(
    client: &Client,
    queue: &mut Vec<Record>,
    labels: &Labels,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    while !queue.is_empty() {
        let chunk: Vec<Record> = queue[..queue.len().min(BATCH_EVENTS)].to_vec();
        let models: Vec<(String, String)> = chunk.iter().map(|r| (r.provider.clone(), r.model.clone())).collect();
        let body = BatchRequest { events: chunk.into_iter().map(|r| event(r, labels)).collect() };
        let answer: BatchResponse = client.post("/api/events/batch", &body).await?;
        queue.drain(..answer.results.len().min(queue.len()));
        for (result, (provider, model)) in answer.results.iter().zip(models) {
            tally.events += 1;
            if result.duplicate {
                tally.already_imported += 1;
            } else {
                tally.new += 1;
            }
            if let Some(cost) = result.cost_usd {
                tally.cost_usd += cost;
                if !result.duplicate {
                    tally.new_cost_usd += cost;
                }
            } else {
                tally.unpriced_providers.insert(model.clone(), provider);
                *tally.unpriced_models.entry(model).or_default() += 1;
            }
        }
    }
    Ok(())
}
