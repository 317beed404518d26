//! The response body tee: every frame goes to the client as soon as the
//! upstream delivers it, and the same bytes (a reference-counted clone, not
//! a copy) feed the call's `ResponseAccumulator`.
//!
//! A chunk is handed to the accumulator on the *next* poll, after hyper has
//! taken it for the client, so parsing never delays the bytes it parses.
//! When the body ends, fails or is dropped (the client went away), the call
//! goes to the recorder; that is a channel send, never a database wait.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use llmlab_core::normalize::{Hints, ResponseAccumulator};

use super::record::{BodyEnd, CallMeta, Recorder};

/// What watches a teed body: each chunk once the client has it, then how the body ended.
pub(crate) trait Watcher {
    /// Takes the next chunk; `false` stops watching (no more chunks, no end).
    fn chunk(&mut self, chunk: &Bytes) -> bool;
    /// The body ended, failed, or was dropped.
    fn end(self: Box<Self>, end: BodyEnd);
}

/// An upstream response body streamed to the client and shown to a [`Watcher`].
pub(crate) struct TeedBody<W: Watcher> {
    inner: Incoming,
    /// The last chunk handed to the client, not yet shown to the watcher.
    pending: Option<Bytes>,
    /// `None` once the watcher stopped or the body ended.
    watcher: Option<Box<W>>,
}

impl<W: Watcher> TeedBody<W> {
    pub(crate) fn new(inner: Incoming, watcher: W) -> Self {
        TeedBody { inner, pending: None, watcher: Some(Box::new(watcher)) }
    }

    /// Shows the pending chunk, then the end, to the watcher.
    fn finish(&mut self, end: BodyEnd) {
        let Some(mut watcher) = self.watcher.take() else { return };
        if let Some(chunk) = self.pending.take()
            && !watcher.chunk(&chunk)
        {
            return;
        }
        watcher.end(end);
    }
}

impl<W: Watcher> Body for TeedBody<W> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(chunk) = this.pending.take()
            && let Some(watcher) = this.watcher.as_mut()
            && !watcher.chunk(&chunk)
        {
            this.watcher = None;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if this.watcher.is_some()
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

impl<W: Watcher> Drop for TeedBody<W> {
    fn drop(&mut self) {
        // A body with a known length is dropped right after its last byte,
        // without a final poll; anything else dropped early lost its client.
        let end = if self.inner.is_end_stream() { BodyEnd::Complete } else { BodyEnd::ClientGone };
        self.finish(end);
    }
}

/// An upstream response body being streamed to the client and recorded.
pub(crate) type RecordedBody = TeedBody<Watch>;

/// What the tee keeps about a call until its body ends.
pub(crate) struct Watch {
    meta: CallMeta,
    status: u16,
    accumulator: ResponseAccumulator,
    recorder: Recorder,
}

impl Watch {
    pub(crate) fn new(meta: CallMeta, status: u16, recorder: Recorder) -> Self {
        let hints = Hints { provider: Some(meta.upstream.provider()), model: meta.url_model.clone() };
        Watch { meta, status, accumulator: ResponseAccumulator::new(hints), recorder }
    }
}

impl Watcher for Watch {
    fn chunk(&mut self, chunk: &Bytes) -> bool {
        self.accumulator.push(chunk);
        true
    }

    fn end(self: Box<Self>, end: BodyEnd) {
        let Watch { meta, status, accumulator, recorder } = *self;
        recorder.answered(meta, status, accumulator, end);
    }
}
