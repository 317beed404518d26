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

/// An upstream response body being streamed to the client and recorded.
pub(crate) struct RecordedBody {
    inner: Incoming,
    /// The last chunk handed to the client, not yet accumulated.
    pending: Option<Bytes>,
    call: Option<Box<Watch>>,
}

/// What the tee keeps about the call until the body ends.
struct Watch {
    meta: CallMeta,
    status: u16,
    accumulator: ResponseAccumulator,
    recorder: Recorder,
}

impl RecordedBody {
    pub(crate) fn new(inner: Incoming, meta: CallMeta, status: u16, recorder: Recorder) -> Self {
        let hints = Hints { provider: Some(meta.upstream.provider()), model: meta.url_model.clone() };
        let accumulator = ResponseAccumulator::new(hints);
        RecordedBody { inner, pending: None, call: Some(Box::new(Watch { meta, status, accumulator, recorder })) }
    }

    /// Accumulates the pending chunk and hands the call to the recorder.
    fn finish(&mut self, end: BodyEnd) {
        let Some(watch) = self.call.take() else { return };
        let Watch { meta, status, mut accumulator, recorder } = *watch;
        if let Some(chunk) = self.pending.take() {
            accumulator.push(&chunk);
        }
        recorder.answered(meta, status, accumulator, end);
    }
}

impl Body for RecordedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(chunk) = this.pending.take()
            && let Some(watch) = this.call.as_mut()
        {
            watch.accumulator.push(&chunk);
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if this.call.is_some()
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

impl Drop for RecordedBody {
    fn drop(&mut self) {
        // A body with a known length is dropped right after its last byte,
        // without a final poll; anything else dropped early lost its client.
        let end = if self.inner.is_end_stream() { BodyEnd::Complete } else { BodyEnd::ClientGone };
        self.finish(end);
    }
}
