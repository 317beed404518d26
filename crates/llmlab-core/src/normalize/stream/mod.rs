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
                if let Some(UnterminatedEvent { event, data }) = last {
                    state
                        .frame(event.as_deref(), &data)
                        .map_err(|e| NormalizeError::Truncated(format!("the last event is cut off ({e})")))?;
                }
                state.finish(&hints)
            }
            Body::JsonArray(scanner) => {
                scanner.finish()?;
                state.finish(&hints)
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
        self.providers.of(api).finish(api)
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
    fn an_anthropic_stream_cut_after_message_start_is_truncated() {
        let cut = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM.find("event: content_block_delta").unwrap()];
        let err = feed_in_pieces(cut.as_bytes(), 10).unwrap_err();
        assert!(matches!(err, NormalizeError::Truncated(_)), "{err}");
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
    fn a_chat_stream_without_include_usage_has_no_usage() {
        let body = concat!(
            r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            "\n\ndata: [DONE]\n\n"
        );
        let err = feed_in_pieces(body.as_bytes(), 4).unwrap_err();
        assert!(err.to_string().contains("no usage"), "{err}");
    }

    #[test]
    fn garbage_never_panics() {
        for body in [&b"\x00\xff"[..], b"data: {", b"[", b"[1]", b"{\"usage\": 3}", b"event: x\ndata: [\n\n", b"  "] {
            let _ = feed_in_pieces(body, 1);
        }
    }
}
