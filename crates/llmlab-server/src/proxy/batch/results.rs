//! A batch's results file streaming to the client, read line by line as it
//! passes: one event per billed result, stored through the group-commit
//! writer by a task of its own, so the download never waits for the
//! database and the file is never held whole.
//!
//! Like the proxy's other tee ([`crate::proxy::body`]), a chunk is read on
//! the *next* poll, after hyper has taken it for the client. Only the line
//! being assembled is kept (a line may span chunks), up to [`MAX_LINE`].
//! The first line decides: unless it is a batch result line, the rest
//! passes through unread and nothing is recorded.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::response;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use llmlab_api::TrackEvent;
use llmlab_core::NormalizedUsage;
use llmlab_core::normalize::{Hints, normalize_body};
use llmlab_store::{EventBatch, InsertOutcome, NewEvent};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::proxy::record::{BodyEnd, CallMeta};
use crate::proxy::{Labels, Upstream};
use crate::service::ingest::prepare::EARLIEST_EVENT_MS;
use crate::service::ingest::{CustomPrices, prepare_observed};
use crate::service::labels;
use crate::state::AppState;

/// The longest result line read (a line holds one whole response); a longer
/// one is skipped, and counted as unreadable.
const MAX_LINE: usize = 16 * 1024 * 1024;
/// Results are handed to the storing task in groups of this many.
const GROUP: usize = 256;

/// What is being downloaded.
pub(super) struct Source {
    /// The OpenAI output file id, or the Anthropic batch id: the event ids' key.
    pub(super) key: String,
    /// The batch, when known: the `batch_id` tag.
    pub(super) batch_id: Option<String>,
    /// When the batch ended, when known (Anthropic lines carry no time).
    pub(super) ended_at_ms: Option<i64>,
}

/// The download's response, its body read as it streams.
pub(super) fn tee(
    state: &AppState,
    meta: CallMeta,
    source: Source,
    parts: response::Parts,
    incoming: Incoming,
) -> Response {
    let download = Arc::new(Download {
        state: state.clone(),
        caller: meta.caller,
        labels: meta.labels,
        upstream: meta.upstream,
        source,
        downloaded_ms: meta.started_ms,
    });
    let reader = Reader {
        download,
        lines: Lines::default(),
        decided: false,
        found: Vec::new(),
        counts: Counts::default(),
        sink: None,
    };
    Response::from_parts(
        parts,
        Body::new(ResultsBody { inner: incoming, pending: None, reader: Some(Box::new(reader)) }),
    )
}

/// The download's context, shared with its storing task.
struct Download {
    state: AppState,
    caller: Arc<Caller>,
    labels: Labels,
    upstream: Upstream,
    source: Source,
    downloaded_ms: i64,
}

/// One billed result line.
struct Found {
    custom_id: String,
    usage: NormalizedUsage,
    /// When the provider made the response (OpenAI `created`), in ms.
    created_ms: Option<i64>,
}

/// What the lines were.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    lines: u64,
    billed: u64,
    /// Failed, errored, canceled or expired requests: not billed.
    not_billed: u64,
    /// Lines that are not batch results, or too long to read.
    unreadable: u64,
}

enum Message {
    Found(Vec<Found>),
    End { counts: Counts, end: BodyEnd },
}

/// A results file streaming to the client and read on the way.
struct ResultsBody {
    inner: Incoming,
    /// The last chunk handed to the client, not yet read.
    pending: Option<Bytes>,
    /// `None` once the body is not a batch's results, or has ended.
    reader: Option<Box<Reader>>,
}

struct Reader {
    download: Arc<Download>,
    lines: Lines,
    /// The first line has shown this to be a batch's results.
    decided: bool,
    found: Vec<Found>,
    counts: Counts,
    /// To the storing task, started with the first billed line.
    sink: Option<mpsc::UnboundedSender<Message>>,
}

/// The top-level members of a line that tell a batch result line.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    custom_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    /// Batch *input* lines have `method`, `url` and `body`.
    #[serde(borrow)]
    method: Option<&'a RawValue>,
}

impl Head<'_> {
    fn is_result(&self, upstream: Upstream) -> bool {
        let shaped = match upstream {
            Upstream::OpenAi => self.response.is_some() || self.error.is_some(),
            Upstream::Anthropic => self.result.is_some(),
            Upstream::Gemini => false,
        };
        shaped && self.custom_id.is_some() && self.method.is_none()
    }
}

impl Reader {
    /// Reads a chunk; false once the body turned out not to be a batch's results.
    fn push(&mut self, chunk: &[u8]) -> bool {
        if !self.decided && self.lines.is_empty() {
            // Anything but a JSON object (a PDF, an image) is known at its first byte.
            match chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => {}
                Some(_) => return false,
                None => return true,
            }
        }
        let mut lines = std::mem::take(&mut self.lines);
        let ok = lines.push(chunk, MAX_LINE, |line| match line {
            Some(line) => self.read_line(line),
            None => self.overlong_line(),
        });
        self.lines = lines;
        // A first line too long for a batch result is not one.
        ok && (self.decided || !self.lines.overlong)
    }

    /// A line longer than [`MAX_LINE`] was skipped.
    fn overlong_line(&mut self) -> bool {
        self.counts.lines += 1;
        self.counts.unreadable += 1;
        self.decided
    }

    /// Reads one complete line; false when it shows the body is not a batch's results.
    fn read_line(&mut self, line: &[u8]) -> bool {
        let line = line.trim_ascii();
        if line.is_empty() {
            return true;
        }
        let upstream = self.download.upstream;
        let head = serde_json::from_slice::<Head<'_>>(line).ok().filter(|head| head.is_result(upstream));
        if !self.decided {
            if head.is_none() {
                return false;
            }
            self.decided = true;
        }
        self.counts.lines += 1;
        let Some(head) = head else {
            self.counts.unreadable += 1;
            return true;
        };
        let hints = Hints { provider: Some(upstream.provider()), model: None };
        match normalize_body(line, &hints) {
            Ok(usage) => {
                self.counts.billed += 1;
                let created_ms = head.response.and_then(created_ms);
                let custom_id = head.custom_id.unwrap_or_default().into_owned();
                self.found.push(Found { custom_id, usage, created_ms });
                if self.found.len() >= GROUP {
                    self.send_found();
                }
            }
            Err(error) => {
                self.counts.not_billed += 1;
                tracing::debug!(custom_id = ?head.custom_id, %error, "proxy: a batch result is not billed");
            }
        }
        true
    }

    fn send_found(&mut self) {
        if self.found.is_empty() {
            return;
        }
        let found = std::mem::take(&mut self.found);
        let sink = self.sink.get_or_insert_with(|| {
            let (sink, receiver) = mpsc::unbounded_channel();
            tokio::spawn(store(self.download.clone(), receiver));
            sink
        });
        let _ = sink.send(Message::Found(found));
    }

    /// The body ended: the last line (without a newline) is read when the
    /// body is complete, and the storing task is told the counts.
    fn finish(mut self, end: BodyEnd) {
        if end == BodyEnd::Complete {
            let mut lines = std::mem::take(&mut self.lines);
            let ok = lines.finish(|line| match line {
                Some(line) => self.read_line(line),
                None => self.overlong_line(),
            });
            if !ok {
                return;
            }
        }
        if !self.decided {
            return;
        }
        self.send_found();
        let counts = self.counts;
        match &self.sink {
            Some(sink) => {
                let _ = sink.send(Message::End { counts, end });
            }
            None => log(&self.download, counts, end, Stored::default()),
        }
    }
}

/// A body cut into lines as it arrives: only the line being assembled is
/// kept, and a line longer than the limit is skipped up to its end.
#[derive(Default)]
struct Lines {
    line: Vec<u8>,
    /// The line being assembled is too long: skipped up to its end.
    overlong: bool,
}

impl Lines {
    /// True when no part of a line is waiting for its end.
    fn is_empty(&self) -> bool {
        self.line.is_empty() && !self.overlong
    }

    /// Feeds a chunk: `each` gets every line it completes (without its
    /// `\n`), or `None` for one longer than `max`, and returns false to
    /// stop; then so does this.
    fn push(&mut self, mut chunk: &[u8], max: usize, mut each: impl FnMut(Option<&[u8]>) -> bool) -> bool {
        while let Some(end) = memchr::memchr(b'\n', chunk) {
            let go = if self.overlong || self.line.len() + end > max {
                self.overlong = false;
                self.line.clear();
                each(None)
            } else if self.line.is_empty() {
                each(Some(&chunk[..end]))
            } else {
                self.line.extend_from_slice(&chunk[..end]);
                let go = each(Some(&self.line));
                self.line.clear();
                go
            };
            if !go {
                return false;
            }
            chunk = &chunk[end + 1..];
        }
        if self.overlong || self.line.len() + chunk.len() > max {
            self.overlong = true;
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(chunk);
        }
        true
    }

    /// Ends the body: `each` gets its last line when no `\n` followed it
    /// (`None` when it was too long); true when there was none.
    fn finish(&mut self, each: impl FnOnce(Option<&[u8]>) -> bool) -> bool {
        if std::mem::take(&mut self.overlong) {
            return each(None);
        }
        let line = std::mem::take(&mut self.line);
        line.is_empty() || each(Some(&line))
    }
}

/// The `created` time of an OpenAI batch line's response body, in ms.
fn created_ms(response: &RawValue) -> Option<i64> {
    #[derive(Deserialize)]
    struct Response {
        body: Option<ResponseBody>,
    }
    #[derive(Deserialize)]
    struct ResponseBody {
        created: Option<i64>,
    }
    let response: Response = serde_json::from_str(response.get()).ok()?;
    response.body?.created?.checked_mul(1000)
}

impl ResultsBody {
    fn finish(&mut self, end: BodyEnd) {
        let Some(mut reader) = self.reader.take() else { return };
        if let Some(chunk) = self.pending.take()
            && !reader.push(&chunk)
        {
            return;
        }
        reader.finish(end);
    }
}

impl http_body::Body for ResultsBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(chunk) = this.pending.take()
            && let Some(reader) = this.reader.as_mut()
            && !reader.push(&chunk)
        {
            this.reader = None;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if this.reader.is_some()
                    && let Some(data) = frame.data_ref()
                {
                    this.pending = Some(data.clone());
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish(BodyEnd::UpstreamFailed),
            Poll::Ready(None) => this.finish(BodyEnd::Complete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResultsBody {
    fn drop(&mut self) {
        let end = if self.inner.is_end_stream() { BodyEnd::Complete } else { BodyEnd::ClientGone };
        self.finish(end);
    }
}

/// What the storing task did.
#[derive(Clone, Copy, Debug, Default)]
struct Stored {
    recorded: u64,
    /// Already stored by an earlier download.
    duplicates: u64,
    failed: u64,
}

/// Prices and stores a download's results as they come, then logs the counts.
async fn store(download: Arc<Download>, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let state = &download.state;
    let custom = match state.custom_prices(download.caller.user.id).await {
        Ok(prices) => prices,
        Err(error) => {
            tracing::warn!(error = %error.message, "proxy: could not read custom prices; pricing with the catalog");
            Arc::new(CustomPrices::new(&[]))
        }
    };
    let mut stored = Stored::default();
    while let Some(message) = receiver.recv().await {
        match message {
            Message::Found(found) => store_group(&download, &custom, found, &mut stored).await,
            Message::End { counts, end } => log(&download, counts, end, stored),
        }
    }
}

async fn store_group(download: &Download, custom: &CustomPrices, found: Vec<Found>, stored: &mut Stored) {
    let state = &download.state;
    let now = crate::clock::now_ms();
    let count = found.len();
    let events: Vec<NewEvent> = found.into_iter().filter_map(|found| event_of(download, custom, found, now)).collect();
    stored.failed += (count - events.len()) as u64;
    if events.is_empty() {
        return;
    }
    let times: Vec<(i64, Option<llmlab_core::Money>)> =
        events.iter().map(|e| (e.occurred_at, e.price.cost())).collect();
    let user = &download.caller.user;
    match state.writer.write(EventBatch { user_id: user.id, events }).await {
        Ok(outcomes) => {
            let written = outcomes.len() as u64;
            let inserted: Vec<_> = times
                .into_iter()
                .zip(outcomes)
                .filter(|(_, outcome)| matches!(outcome, InsertOutcome::Inserted))
                .map(|(time, _)| time)
                .collect();
            stored.recorded += inserted.len() as u64;
            stored.duplicates += written - inserted.len() as u64;
            if !inserted.is_empty() {
                state.alerts.spent(user.id);
            }
            if let Err(error) = state.budgets.status(&state.store, user, &inserted, false).await {
                tracing::warn!(%error, "proxy: could not update the budget after storing batch results");
            }
        }
        Err(error) => {
            let cause = error.cause.as_ref().map_or_else(|| error.message.clone(), ToString::to_string);
            stored.failed += count as u64;
            tracing::error!(error = %cause, "proxy: could not store batch results");
        }
    }
}

/// The stored event of one billed result, or `None` (logged) when it
/// cannot be recorded.
fn event_of(download: &Download, custom: &CustomPrices, found: Found, now: i64) -> Option<NewEvent> {
    let Found { custom_id, usage, created_ms } = found;
    let source = &download.source;
    let model = usage
        .model
        .clone()
        .filter(|m| labels::text(m, labels::MAX_MODEL_CHARS).is_ok())
        .unwrap_or_else(|| "unknown".to_owned());
    // When the provider made the response, else when the batch ended, else
    // when the results were downloaded.
    let occurred_at = created_ms
        .or(source.ended_at_ms)
        .filter(|ms| (EARLIEST_EVENT_MS..=now).contains(ms))
        .unwrap_or(download.downloaded_ms);
    let event = TrackEvent {
        provider: download.upstream.provider().as_str().to_owned(),
        model,
        event_id: Some(super::event_id(download.upstream, &source.key, &custom_id)),
        timestamp: Some(crate::clock::rfc3339(occurred_at)),
        project: download.labels.project.clone(),
        tags: tags(download.labels.tags.as_ref(), source.batch_id.as_deref()),
        status: Some("ok".to_owned()),
        batch: Some(true),
        ..TrackEvent::default()
    };
    let state = &download.state;
    match prepare_observed(&event, Some(usage), None, &state.catalog().catalog, custom, now) {
        Ok(prepared) => Some(NewEvent { api_key: Some(download.caller.key_id.clone()), ..prepared.record }),
        Err(error) => {
            tracing::error!(error = %error.message, custom_id, "proxy: a batch result could not be recorded");
            None
        }
    }
}

/// The headers' tags, plus `batch_id` when the batch is known, unless the
/// client set that tag itself or it would not fit.
fn tags(
    asked: Option<&std::collections::BTreeMap<String, String>>,
    batch_id: Option<&str>,
) -> Option<std::collections::BTreeMap<String, String>> {
    let Some(batch_id) = batch_id else { return asked.cloned() };
    let mut tags = asked.cloned().unwrap_or_default();
    tags.entry("batch_id".to_owned()).or_insert_with(|| batch_id.to_owned());
    if labels::check_tags(&tags).is_err() {
        return asked.cloned();
    }
    Some(tags)
}

/// Logs what a download's results were and what was stored.
fn log(download: &Download, counts: Counts, end: BodyEnd, stored: Stored) {
    let source = &download.source;
    let cut = match end {
        BodyEnd::Complete => "",
        BodyEnd::UpstreamFailed => " (the upstream broke off the download; the lines read are recorded)",
        BodyEnd::ClientGone => " (the client left before the end; the lines read are recorded)",
    };
    tracing::info!(
        provider = download.upstream.provider().as_str(),
        file_or_batch = %source.key,
        batch_id = source.batch_id.as_deref().unwrap_or("unknown"),
        lines = counts.lines,
        billed = counts.billed,
        not_billed = counts.not_billed,
        unreadable = counts.unreadable,
        recorded = stored.recorded,
        already_recorded = stored.duplicates,
        not_recorded = stored.failed,
        "proxy: batch results read{cut}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(body: &[u8], chunk: usize, max: usize) -> Vec<Option<Vec<u8>>> {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        for part in body.chunks(chunk) {
            assert!(lines.push(part, max, |line| {
                seen.push(line.map(<[u8]>::to_vec));
                true
            }));
        }
        lines.finish(|line| {
            seen.push(line.map(<[u8]>::to_vec));
            true
        });
        seen
    }

    #[test]
    fn lines_spanning_chunks_are_put_back_together() {
        let body = include_bytes!("../../../../../fixtures/batch/openai_batch_output.jsonl");
        let expected: Vec<Option<Vec<u8>>> =
            body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| Some(l.to_vec())).collect();
        assert_eq!(expected.len(), 4);
        for chunk in (1..64).chain([body.len()]) {
            assert_eq!(lines_of(body, chunk, MAX_LINE), expected, "chunks of {chunk} bytes");
        }
        // Without a final newline, the last line still counts.
        let trimmed = &body[..body.len() - 1];
        assert_eq!(lines_of(trimmed, 7, MAX_LINE), expected);
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_to_its_end() {
        let body = b"{\"a\":1}\n{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"b\":2}\n{\"long\":\"yyyyyyyyyyyyyyyyyyy\"}";
        for chunk in [1, 5, body.len()] {
            let seen = lines_of(body, chunk, 16);
            assert_eq!(
                seen,
                [Some(b"{\"a\":1}".to_vec()), None, Some(b"{\"b\":2}".to_vec()), None],
                "chunks of {chunk}"
            );
        }
    }
}
