//! Incremental normalization of a response body as its bytes arrive.
//!
//! The format is told by the first non-blank byte: `{` is one JSON object
//! (buffered, up to [`MAX_BODY_BYTES`]), `[` is Gemini's JSON-array stream
//! ([`json_array`]), anything else is Server-Sent Events ([`sse`]). Streams
//! are cut into frames and only the current frame is held, so a proxy can
//! watch a long stream without keeping it.
//!
//! Each frame goes to the provider it belongs to. What a provider's frames
//! contribute to the usage, and when its stream is complete, are that
//! provider's stream rules, kept beside its non-streamed rules
//! (`openai::StreamUsage`, `anthropic::StreamUsage`, `gemini::StreamUsage`,
//! reference G6) behind [`StreamRules`]. This module keeps what all streams
//! share: the API and model, unreadable frames and error events.

mod json_array;
pub(super) mod rules;
mod sse;

use json_array::JsonArrayScanner;
use rules::{StreamIdentity, StreamRules};
use sse::{SseDecoder, UnterminatedEvent};

use super::dispatch::normalize_json_object;
use super::envelope::{Envelope, parse_envelope, utf8};
use super::{Hints, MAX_BODY_BYTES, NormalizeError, anthropic, check_provider, gemini, openai};
use crate::usage::{ApiKind, NormalizedUsage};

/// Consumes a response body chunk by chunk; see the module docs.
pub struct ResponseAccumulator {
    hints: Hints,
    body: Body,
    state: StreamState,
}

/// The body's format, with what its framing holds between reads.
enum Body {
    /// Only whitespace (or a byte-order mark) so far.
    Undetected,
    /// A whole JSON object, buffered.
    Json(Vec<u8>),
    Sse(SseDecoder),
    JsonArray(JsonArrayScanner),
    /// The body cannot be normalized; the rest of it is ignored, not held.
    Failed(NormalizeError),
}

impl ResponseAccumulator {
    #[must_use]
    pub fn new(hints: Hints) -> Self {
        ResponseAccumulator { hints, body: Body::Undetected, state: StreamState::default() }
    }

    /// Feeds the next bytes of the body.
    pub fn push(&mut self, mut chunk: &[u8]) {
        if matches!(self.body, Body::Undetected) {
            chunk = self.detect_format(chunk);
        }
        let state = &mut self.state;
        let pushed = match &mut self.body {
            Body::Undetected | Body::Failed(_) => Ok(()),
            Body::Json(buffer) => {
                if buffer.len() + chunk.len() > MAX_BODY_BYTES {
                    Err(NormalizeError::TooLarge)
                } else {
                    buffer.extend_from_slice(chunk);
                    Ok(())
                }
            }
            Body::Sse(decoder) => decoder.push(chunk, &mut |event, data| state.on_frame(event, data)),
            Body::JsonArray(scanner) => scanner.push(chunk, &mut |element| state.on_frame(None, element)),
        };
        if let Err(error) = pushed {
            self.body = Body::Failed(error);
        }
    }

    /// Ends the body and returns its normalized usage.
    pub fn finish(self) -> Result<NormalizedUsage, NormalizeError> {
        let ResponseAccumulator { hints, body, mut state } = self;
        match body {
            Body::Failed(error) => Err(error),
            Body::Undetected => Err(NormalizeError::Empty),
            Body::Json(buffer) => normalize_json_object(&buffer, &hints),
            Body::Sse(decoder) => {
                let last = decoder.finish(&mut |event, data| state.on_frame(event, data))?;
                let cut = match last {
                    Some(UnterminatedEvent { event, data }) => state
                        .frame(event.as_deref(), &data)
                        .err()
                        .map(|e| NormalizeError::Truncated(format!("the last event is cut off ({e})"))),
                    None => None,
                };
                state.finish_cut(&hints, cut, "its last event, cut off mid-frame, was skipped")
            }
            Body::JsonArray(scanner) => {
                let cut = scanner.finish().err();
                state.finish_cut(&hints, cut, "it ends before its closing `]`")
            }
        }
    }

    /// Skips leading whitespace and a UTF-8 byte-order mark, then picks the format.
    fn detect_format<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        let chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        let Some(start) = chunk.iter().position(|b| !b.is_ascii_whitespace()) else {
            return &[];
        };
        let rest = &chunk[start..];
        let (body, rest) = match rest[0] {
            b'{' => (Body::Json(Vec::new()), rest),
            b'[' => (Body::JsonArray(JsonArrayScanner::default()), &rest[1..]),
            b'e' | b'd' | b':' | b'i' | b'r' => (Body::Sse(SseDecoder::default()), rest),
            b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => (
                Body::Failed(NormalizeError::NotAResponse(
                    "a provider response is a JSON object, a JSON array or a Server-Sent Events stream".to_owned(),
                )),
                &[][..],
            ),
            _ => (
                Body::Failed(NormalizeError::InvalidJson(
                    "expected a JSON object, a JSON array or a Server-Sent Events stream".to_owned(),
                )),
                &[][..],
            ),
        };
        self.body = body;
        rest
    }
}

/// Each provider's stream so far.
#[derive(Default)]
struct Providers {
    openai: openai::StreamUsage,
    anthropic: anthropic::StreamUsage,
    gemini: gemini::StreamUsage,
}

impl Providers {
    /// The provider a frame belongs to. A frame may carry another provider's
    /// fields too, so the order is part of the rules: an Anthropic event type
    /// first, then OpenAI's event types and chunk object, then Gemini's fields.
    fn claiming(&mut self, kind: &str, env: &Envelope<'_>) -> Option<&mut dyn StreamRules> {
        if anthropic::StreamUsage::claims(kind, env) {
            Some(&mut self.anthropic)
        } else if openai::StreamUsage::claims(kind, env) {
            Some(&mut self.openai)
        } else if gemini::StreamUsage::claims(kind, env) {
            Some(&mut self.gemini)
        } else {
            None
        }
    }

    fn of(&self, api: ApiKind) -> &dyn StreamRules {
        match api {
            ApiKind::OpenAiChat | ApiKind::OpenAiResponses | ApiKind::OpenAiEmbeddings => &self.openai,
            ApiKind::AnthropicMessages => &self.anthropic,
            ApiKind::GeminiGenerateContent => &self.gemini,
        }
    }
}

/// What a stream has told us so far.
#[derive(Default)]
struct StreamState {
    identity: StreamIdentity,
    frames: usize,
    bad_frames: usize,
    first_bad_frame: Option<String>,
    error_event: Option<String>,
    providers: Providers,
}

impl StreamState {
    /// Takes one frame; an unreadable one is counted and skipped, since the
    /// frames that carry usage may still come.
    fn on_frame(&mut self, event: Option<&str>, data: &[u8]) {
        if let Err(error) = self.frame(event, data) {
            self.bad_frames += 1;
            if self.first_bad_frame.is_none() {
                self.first_bad_frame = Some(format!("stream frame {} is unreadable: {error}", self.frames));
            }
        }
    }

    /// Handles one stream frame: an SSE event's data or a JSON-array element.
    fn frame(&mut self, event: Option<&str>, data: &[u8]) -> Result<(), NormalizeError> {
        self.frames += 1;
        if self.providers.openai.take_done_marker(data) {
            return Ok(());
        }
        let envelope = parse_envelope(utf8(data)?)?;
        let kind = envelope.kind.as_deref().or(event).unwrap_or_default();
        if kind == "error" {
            self.error_event = envelope.error_message().or_else(|| Some("unknown error".to_owned()));
            return Ok(());
        }
        if let Some(provider) = self.providers.claiming(kind, &envelope) {
            return provider.apply(kind, &envelope, &mut self.identity);
        }
        if let Some(message) = envelope.error_message() {
            self.error_event = Some(message);
        }
        Ok(())
    }

    /// [`Self::finish`] for a stream whose framing was `cut` off: when the
    /// frames so far still give a usage (a lower bound, or a complete one
    /// whose trailer is missing), it is kept with `what` noted; else the cut is the error.
    fn finish_cut(
        self,
        hints: &Hints,
        cut: Option<NormalizeError>,
        what: &str,
    ) -> Result<NormalizedUsage, NormalizeError> {
        let Some(cut) = cut else { return self.finish(hints) };
        let mut normalized = self.finish(hints).map_err(|_| cut)?;
        normalized.notes.push(format!("the stream is cut off: {what}"));
        Ok(normalized)
    }

    fn finish(self, hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
        let Some(api) = self.identity.api else {
            if let Some(error) = self.error_event {
                return Err(NormalizeError::NoUsage(format!("the stream carries only an error: {error}")));
            }
            return Err(match self.first_bad_frame {
                Some(bad) => NormalizeError::InvalidJson(bad),
                None if self.frames == 0 => NormalizeError::Empty,
                None => NormalizeError::NotAResponse("the stream has no OpenAI, Anthropic or Gemini events".to_owned()),
            });
        };
        check_provider(hints, api)?;
        let mut normalized = self.final_usage(api).map_err(|e| match (&e, &self.first_bad_frame) {
            // A stream that looks cut off or usage-less may only have lost its usage in a bad frame.
            (NormalizeError::NoUsage(_) | NormalizeError::Truncated(_), Some(bad)) => {
                NormalizeError::InvalidJson(bad.clone())
            }
            _ => e,
        })?;
        normalized.model = self.identity.model.or_else(|| hints.model.clone());
        crate::normalize::fees::apply_chat_search(&mut normalized);
        if self.bad_frames > 0 {
            normalized.notes.push(format!("{} stream frame(s) could not be read and were skipped", self.bad_frames));
        }
        Ok(normalized)
    }

    fn final_usage(&self, api: ApiKind) -> Result<NormalizedUsage, NormalizeError> {
        if let Some(error) = &self.error_event {
            return Err(NormalizeError::NoUsage(format!(
                "the {} stream ended with an error event: {error}",
                api.label()
            )));
        }
        self.providers.of(api).finish(api, self.identity.model.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Provider;

    const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}}"#,
        "\n\n",
        "event: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        "\n\n",
        "event: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":89}}"#,
        "\n\n",
        "event: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );

    fn feed_in_pieces(body: &[u8], piece: usize) -> Result<NormalizedUsage, NormalizeError> {
        let mut accumulator = ResponseAccumulator::new(Hints::default());
        for chunk in body.chunks(piece) {
            accumulator.push(chunk);
        }
        accumulator.finish()
    }

    #[test]
    fn frames_split_across_reads_give_the_same_result() {
        let whole = feed_in_pieces(ANTHROPIC_STREAM.as_bytes(), usize::MAX).unwrap();
        for piece in [1, 2, 7, 64] {
            assert_eq!(feed_in_pieces(ANTHROPIC_STREAM.as_bytes(), piece).unwrap(), whole);
        }
        assert_eq!(whole.buckets.output_tokens, 89);
        assert_eq!(whole.buckets.input_tokens, 472);
        assert_eq!(whole.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        let crlf = ANTHROPIC_STREAM.replace('\n', "\r\n");
        assert_eq!(feed_in_pieces(crlf.as_bytes(), 5).unwrap().buckets.output_tokens, 89);
    }

    #[test]
    fn an_anthropic_stream_cut_off_is_priced_from_the_usage_so_far_as_a_lower_bound() {
        let complete = feed_in_pieces(ANTHROPIC_STREAM.as_bytes(), 10).unwrap();
        assert_eq!(complete.partial, None);

        // Cut after `message_start`: its input is exact, its output a running count.
        let cut = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM.find("event: content_block_delta").unwrap()];
        let n = feed_in_pieces(cut.as_bytes(), 10).unwrap();
        assert_eq!((n.buckets.input_tokens, n.buckets.output_tokens), (472, 2));
        let partial = n.partial.unwrap();
        assert!(!partial.estimated);
        assert!(partial.reason.contains("before any `message_delta`"), "{}", partial.reason);

        // Cut after a `message_delta` without its `stop_reason` (a running count), before `message_stop`.
        let running = ANTHROPIC_STREAM.replace(r#""delta":{"stop_reason":"end_turn"}"#, r#""delta":{}"#);
        let cut = &running[..running.find("event: message_stop").unwrap()];
        let n = feed_in_pieces(cut.as_bytes(), 7).unwrap();
        assert_eq!((n.buckets.input_tokens, n.buckets.output_tokens), (472, 89));
        assert!(n.partial.unwrap().reason.contains("before `message_stop`"));

        // The `message_delta` with the `stop_reason` is the last usage: only the stop event is missing.
        let cut = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM.find("event: message_stop").unwrap()];
        assert_eq!(feed_in_pieces(cut.as_bytes(), 7).unwrap().partial, None);

        // Cut mid-frame: the torn frame is skipped and said so; the usage before it stands.
        let cut = &running[..running.find(r#"{"output_tokens":89}"#).unwrap()];
        let n = feed_in_pieces(cut.as_bytes(), 3).unwrap();
        assert_eq!(n.buckets.output_tokens, 2);
        assert!(n.partial.is_some());
        assert!(n.notes.iter().any(|note| note.contains("cut off mid-frame")), "{:?}", n.notes);

        // No `message_start`: nothing is in hand.
        let start = ANTHROPIC_STREAM.find("event: content_block_delta").unwrap();
        let end = ANTHROPIC_STREAM.find("event: message_delta").unwrap();
        let err = feed_in_pieces(&ANTHROPIC_STREAM.as_bytes()[start..end], 9).unwrap_err();
        assert!(matches!(err, NormalizeError::Truncated(_)), "{err}");
    }

    #[test]
    fn a_gemini_stream_without_a_finish_reason_is_a_lower_bound() {
        let first = r#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash"}"#;
        let sse = format!("data: {first}\r\n\r\n");
        let n = feed_in_pieces(sse.as_bytes(), 4).unwrap();
        assert_eq!((n.buckets.input_tokens, n.buckets.output_tokens), (5, 3));
        assert!(n.partial.unwrap().reason.contains("`finishReason`"));
        // The JSON-array form cut before its `]`: the same, with the cut noted.
        let array = format!("[{first}\n,\n{{\"candidates\":[{{\"content\"");
        let n = feed_in_pieces(array.as_bytes(), 5).unwrap();
        assert_eq!(n.buckets.output_tokens, 3);
        assert!(n.partial.is_some());
        assert!(n.notes.iter().any(|note| note.contains("closing `]`")), "{:?}", n.notes);
        // No usage at all: still an error.
        let err = feed_in_pieces(br#"[{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}"#, 5).unwrap_err();
        assert!(matches!(err, NormalizeError::Truncated(_)), "{err}");
    }

    #[test]
    fn a_responses_stream_cut_before_its_terminal_event_has_no_usage_in_hand() {
        let body = concat!(
            "event: response.created\n",
            r#"data: {"type":"response.created","response":{"id":"r","object":"response","model":"gpt-4o","usage":null}}"#,
            "\n\nevent: response.output_text.delta\n",
            r#"data: {"type":"response.output_text.delta","delta":"Hi"}"#,
            "\n\n"
        );
        let err = feed_in_pieces(body.as_bytes(), 6).unwrap_err();
        assert!(err.to_string().contains("`response.completed`"), "{err}");
    }

    #[test]
    fn gemini_array_streams_take_the_last_running_total() {
        let body = br#"[{"candidates":[{"content":{"parts":[{"text":"a]{\"}"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash"}
,
{"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":9,"totalTokenCount":14},"modelVersion":"gemini-2.5-flash"}
]"#;
        for piece in [1, 3, 1000] {
            let n = feed_in_pieces(body, piece).unwrap();
            assert_eq!(n.buckets.output_tokens, 9);
            assert_eq!(n.provider, Provider::Google);
        }
    }

    #[test]
    fn a_chat_stream_without_usage_has_its_output_estimated_and_its_input_unknown() {
        let chunk = |content: &str| {
            format!(
                r#"data: {{"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{{"index":0,"delta":{{"content":"{content}"}}}}]}}"#
            ) + "\n\n"
        };
        // "Hello" + " world" is two o200k tokens.
        let cut = chunk("Hello") + &chunk(" world");
        let n = feed_in_pieces(cut.as_bytes(), 4).unwrap();
        assert_eq!((n.buckets.input_tokens, n.buckets.output_tokens), (0, 2));
        assert_eq!(n.model.as_deref(), Some("gpt-4o-mini"));
        let partial = n.partial.unwrap();
        assert!(partial.estimated);
        assert!(partial.reason.contains("ended before its usage chunk"), "{}", partial.reason);
        assert!(partial.reason.contains("input tokens unknown"), "{}", partial.reason);
        // Complete but sent without `include_usage`: estimated too, and the reason says how to get usage.
        let done = cut + "data: [DONE]\n\n";
        let partial = feed_in_pieces(done.as_bytes(), 64).unwrap().partial.unwrap();
        assert!(partial.reason.contains("include_usage"), "{}", partial.reason);
        // A usage chunk wins over any estimate.
        let with_usage = chunk("Hello")
            + r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#
            + "\n\n";
        let n = feed_in_pieces(with_usage.as_bytes(), 4).unwrap();
        assert_eq!((n.buckets.input_tokens, n.buckets.output_tokens, n.partial), (9, 1, None));
        // No text streamed and no usage: nothing to estimate from.
        let empty = r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant"}}]}"#
            .to_owned()
            + "\n\ndata: [DONE]\n\n";
        let err = feed_in_pieces(empty.as_bytes(), 4).unwrap_err();
        assert!(err.to_string().contains("no usage"), "{err}");
    }

    #[test]
    fn garbage_never_panics() {
        for body in [&b"\x00\xff"[..], b"data: {", b"[", b"[1]", b"{\"usage\": 3}", b"event: x\ndata: [\n\n", b"  "] {
            let _ = feed_in_pieces(body, 1);
        }
    }
}
