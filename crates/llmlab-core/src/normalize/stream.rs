//! Incremental normalization of a response body as its bytes arrive.
//!
//! The format is told by the first non-blank byte: `{` is one JSON object
//! (buffered, up to [`MAX_BODY_BYTES`]), `[` is Gemini's JSON-array stream,
//! anything else is Server-Sent Events. Streams are parsed frame by frame and
//! only the current frame is held, so a proxy can watch a long stream without
//! keeping it. Per-provider stream rules (reference G6):
//! - OpenAI chat: the one chunk with a non-null `usage` (sent only with
//!   `stream_options.include_usage`), before `data: [DONE]`;
//! - OpenAI Responses: `response.usage` of `response.completed`
//!   (or `response.incomplete` / `response.failed`);
//! - Anthropic: `message_start.message.usage`, overwritten field by field by
//!   each cumulative `message_delta.usage`, complete at `message_stop`;
//! - Gemini: running totals; the last chunk's `usageMetadata` wins, complete
//!   at a chunk with a `finishReason`.

use super::anthropic::AnthropicUsage;
use super::envelope::{
    Envelope, api_label, apply_openai_tier, normalize_api_usage, normalize_object, parse_embedded, parse_envelope,
};
use super::{Hints, MAX_BODY_BYTES, NormalizeError, check_provider, parse_usage};
use crate::usage::{ApiKind, NormalizedUsage};

/// Consumes a response body chunk by chunk; see the module docs.
pub struct ResponseAccumulator {
    hints: Hints,
    format: Format,
    /// JSON: the whole body. SSE: the current incomplete line. Array: the current element.
    buffer: Vec<u8>,
    sse_event: Option<String>,
    sse_data: Vec<u8>,
    sse_has_data: bool,
    array: ArrayScanner,
    state: StreamState,
    fatal: Option<NormalizeError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Undetected,
    Json,
    Sse,
    JsonArray,
}

#[derive(Default)]
struct ArrayScanner {
    depth: usize,
    in_string: bool,
    escaped: bool,
    closed: bool,
}

/// What a stream has told us so far.
#[derive(Default)]
struct StreamState {
    api: Option<ApiKind>,
    model: Option<String>,
    frames: usize,
    bad_frames: usize,
    first_bad_frame: Option<String>,
    error_event: Option<String>,
    // OpenAI chat
    chat_usage: Option<String>,
    chat_service_tier: Option<String>,
    done_marker: bool,
    // OpenAI Responses
    terminal_event: Option<String>,
    responses_usage: Option<String>,
    responses_service_tier: Option<String>,
    // Anthropic
    anthropic_usage: Option<AnthropicUsage>,
    anthropic_deltas: usize,
    anthropic_stopped: bool,
    // Gemini
    gemini_usage: Option<String>,
    gemini_finished: bool,
}

impl ResponseAccumulator {
    #[must_use]
    pub fn new(hints: Hints) -> Self {
        ResponseAccumulator {
            hints,
            format: Format::Undetected,
            buffer: Vec::new(),
            sse_event: None,
            sse_data: Vec::new(),
            sse_has_data: false,
            array: ArrayScanner::default(),
            state: StreamState::default(),
            fatal: None,
        }
    }

    /// Feeds the next bytes of the body.
    pub fn push(&mut self, mut chunk: &[u8]) {
        if self.fatal.is_some() {
            return;
        }
        if self.format == Format::Undetected {
            chunk = self.detect_format(chunk);
        }
        match self.format {
            Format::Undetected => {}
            Format::Json => {
                if self.buffer.len() + chunk.len() > MAX_BODY_BYTES {
                    self.fail(NormalizeError::TooLarge);
                } else {
                    self.buffer.extend_from_slice(chunk);
                }
            }
            Format::Sse => self.push_sse(chunk),
            Format::JsonArray => self.push_array(chunk),
        }
    }

    /// Ends the body and returns its normalized usage.
    pub fn finish(mut self) -> Result<NormalizedUsage, NormalizeError> {
        if let Some(error) = self.fatal.take() {
            return Err(error);
        }
        match self.format {
            Format::Undetected => Err(NormalizeError::Empty),
            Format::Json => normalize_json_object(&self.buffer, &self.hints),
            Format::Sse => {
                if !self.buffer.is_empty() {
                    let line = std::mem::take(&mut self.buffer);
                    self.sse_line(&line);
                }
                if self.sse_has_data {
                    let data = std::mem::take(&mut self.sse_data);
                    let event = self.sse_event.take();
                    if let Err(e) = self.frame(event.as_deref(), &data) {
                        return Err(NormalizeError::Truncated(format!("the last event is cut off ({e})")));
                    }
                }
                self.state.finish(&self.hints)
            }
            Format::JsonArray => {
                if !self.array.closed {
                    return Err(NormalizeError::Truncated(
                        "the JSON-array stream ends before its closing `]`".to_owned(),
                    ));
                }
                self.state.finish(&self.hints)
            }
        }
    }

    fn fail(&mut self, error: NormalizeError) {
        self.fatal = Some(error);
        self.buffer = Vec::new();
        self.sse_data = Vec::new();
    }

    /// Skips leading whitespace and a UTF-8 byte-order mark, then picks the format.
    fn detect_format<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        let chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        let Some(start) = chunk.iter().position(|b| !b.is_ascii_whitespace()) else {
            return &[];
        };
        let rest = &chunk[start..];
        self.format = match rest[0] {
            b'{' => Format::Json,
            b'[' => Format::JsonArray,
            b'e' | b'd' | b':' | b'i' | b'r' => Format::Sse,
            b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                self.fail(NormalizeError::NotAResponse(
                    "a provider response is a JSON object, a JSON array or a Server-Sent Events stream".to_owned(),
                ));
                return &[];
            }
            _ => {
                self.fail(NormalizeError::InvalidJson(
                    "expected a JSON object, a JSON array or a Server-Sent Events stream".to_owned(),
                ));
                return &[];
            }
        };
        if self.format == Format::JsonArray { &rest[1..] } else { rest }
    }

    fn push_sse(&mut self, mut chunk: &[u8]) {
        while let Some(newline) = memchr::memchr(b'\n', chunk) {
            let (head, tail) = chunk.split_at(newline);
            chunk = &tail[1..];
            if self.buffer.is_empty() {
                self.sse_line(head);
            } else {
                let mut line = std::mem::take(&mut self.buffer);
                line.extend_from_slice(head);
                self.sse_line(&line);
            }
            if self.fatal.is_some() {
                return;
            }
        }
        if self.buffer.len() + chunk.len() > MAX_BODY_BYTES {
            self.fail(NormalizeError::TooLarge);
            return;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// Handles one SSE line (without its `\n`), dispatching at blank lines.
    fn sse_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.sse_has_data {
                let data = std::mem::take(&mut self.sse_data);
                let event = self.sse_event.take();
                if let Err(e) = self.frame(event.as_deref(), &data) {
                    self.state.note_bad_frame(&e);
                }
                self.sse_has_data = false;
            }
            self.sse_event = None;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.sse_data.len() + value.len() > MAX_BODY_BYTES {
                    self.fail(NormalizeError::TooLarge);
                    return;
                }
                if self.sse_has_data {
                    self.sse_data.push(b'\n');
                }
                self.sse_data.extend_from_slice(value);
                self.sse_has_data = true;
            }
            b"event" => self.sse_event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }

    fn push_array(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            let scanner = &mut self.array;
            if scanner.closed {
                if !byte.is_ascii_whitespace() {
                    self.fail(NormalizeError::InvalidJson("unexpected data after the closing `]`".to_owned()));
                    return;
                }
                continue;
            }
            if scanner.depth == 0 {
                match byte {
                    b'{' => {
                        scanner.depth = 1;
                        self.buffer.push(byte);
                    }
                    b']' => scanner.closed = true,
                    b',' => {}
                    b if b.is_ascii_whitespace() => {}
                    _ => {
                        self.fail(NormalizeError::NotAResponse(
                            "a Gemini JSON-array stream must contain only objects".to_owned(),
                        ));
                        return;
                    }
                }
                continue;
            }
            self.buffer.push(byte);
            if scanner.in_string {
                match (scanner.escaped, byte) {
                    (true, _) => scanner.escaped = false,
                    (false, b'\\') => scanner.escaped = true,
                    (false, b'"') => scanner.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => scanner.in_string = true,
                b'{' | b'[' => scanner.depth += 1,
                b'}' | b']' => scanner.depth -= 1,
                _ => {}
            }
            if scanner.depth == 0 {
                let element = std::mem::take(&mut self.buffer);
                if let Err(e) = self.frame(None, &element) {
                    self.state.note_bad_frame(&e);
                }
            } else if self.buffer.len() > MAX_BODY_BYTES {
                self.fail(NormalizeError::TooLarge);
                return;
            }
        }
    }

    /// Handles one stream frame: an SSE event's data or a JSON-array element.
    fn frame(&mut self, event: Option<&str>, data: &[u8]) -> Result<(), NormalizeError> {
        self.state.frames += 1;
        if data.trim_ascii() == b"[DONE]" {
            self.state.done_marker = true;
            return Ok(());
        }
        let envelope = parse_envelope(utf8(data)?)?;
        self.state.apply(event, &envelope)
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, NormalizeError> {
    std::str::from_utf8(bytes).map_err(|e| NormalizeError::InvalidJson(format!("the body is not UTF-8 ({e})")))
}

/// Normalizes one complete JSON object body.
pub(super) fn normalize_json_object(body: &[u8], hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
    let text = utf8(body)?;
    let envelope = parse_envelope(text)?;
    normalize_object(&envelope, text, hints)
}

impl StreamState {
    fn note_bad_frame(&mut self, error: &NormalizeError) {
        self.bad_frames += 1;
        if self.first_bad_frame.is_none() {
            self.first_bad_frame = Some(format!("stream frame {} is unreadable: {error}", self.frames));
        }
    }

    fn set_api(&mut self, api: ApiKind) {
        self.api.get_or_insert(api);
    }

    fn apply(&mut self, event: Option<&str>, env: &Envelope<'_>) -> Result<(), NormalizeError> {
        let kind = env.kind.as_deref().or(event).unwrap_or_default();
        match kind {
            "message_start" => {
                self.set_api(ApiKind::AnthropicMessages);
                if let Some(raw) = env.message {
                    let message = parse_embedded(raw, "message")?;
                    self.model = message.model().or(self.model.take());
                    if let Some(usage) = message.usage {
                        self.anthropic_usage = Some(parse_usage(usage)?);
                    }
                }
            }
            "message_delta" => {
                self.set_api(ApiKind::AnthropicMessages);
                if let Some(raw) = env.usage {
                    let delta: AnthropicUsage = parse_usage(raw)?;
                    self.anthropic_usage.get_or_insert_with(AnthropicUsage::default).overwrite_with(delta);
                    self.anthropic_deltas += 1;
                }
            }
            "message_stop" => self.anthropic_stopped = true,
            "content_block_start" | "content_block_delta" | "content_block_stop" | "ping" => {
                self.set_api(ApiKind::AnthropicMessages);
            }
            "error" => self.error_event = env.error_message().or_else(|| Some("unknown error".to_owned())),
            responses if responses.starts_with("response.") => self.apply_responses_event(responses, env)?,
            _ => self.apply_chunk(env),
        }
        Ok(())
    }

    fn apply_responses_event(&mut self, kind: &str, env: &Envelope<'_>) -> Result<(), NormalizeError> {
        self.set_api(ApiKind::OpenAiResponses);
        let Some(raw) = env.response else { return Ok(()) };
        let response = parse_embedded(raw, "response")?;
        self.model = response.model().or(self.model.take());
        if matches!(kind, "response.completed" | "response.incomplete" | "response.failed") {
            self.terminal_event = Some(kind.to_owned());
            self.responses_usage = response.usage.map(str::to_owned);
            self.responses_service_tier = response.service_tier.map(std::borrow::Cow::into_owned);
        }
        Ok(())
    }

    /// An OpenAI chat chunk or a Gemini chunk.
    fn apply_chunk(&mut self, env: &Envelope<'_>) {
        if env.object.as_deref() == Some("chat.completion.chunk") {
            self.set_api(ApiKind::OpenAiChat);
            if let Some(model) = env.model() {
                self.model = Some(model);
            }
            if let Some(tier) = &env.service_tier {
                self.chat_service_tier = Some(tier.to_string());
            }
            if let Some(usage) = env.usage {
                self.chat_usage = Some(usage.to_owned());
            }
        } else if env.looks_like_gemini() {
            self.set_api(ApiKind::GeminiGenerateContent);
            if let Some(model) = env.gemini_model() {
                self.model = Some(model);
            }
            if let Some(usage) = env.usage_metadata {
                self.gemini_usage = Some(usage.to_owned());
            }
            self.gemini_finished |= env.gemini_finished();
        } else if let Some(message) = env.error_message() {
            self.error_event = Some(message);
        }
    }

    fn finish(self, hints: &Hints) -> Result<NormalizedUsage, NormalizeError> {
        let Some(api) = self.api else {
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
            (NormalizeError::NoUsage(_) | NormalizeError::Truncated(_), Some(bad)) => {
                NormalizeError::InvalidJson(bad.clone())
            }
            _ => e,
        })?;
        normalized.model = self.model.or_else(|| hints.model.clone());
        if self.bad_frames > 0 {
            normalized.notes.push(format!("{} stream frame(s) could not be read and were skipped", self.bad_frames));
        }
        Ok(normalized)
    }

    fn final_usage(&self, api: ApiKind) -> Result<NormalizedUsage, NormalizeError> {
        let label = api_label(api);
        let truncated = |why: &str| Err(NormalizeError::Truncated(format!("the {label} stream {why}")));
        if let Some(error) = &self.error_event {
            return Err(NormalizeError::NoUsage(format!("the {label} stream ended with an error event: {error}")));
        }
        match api {
            ApiKind::AnthropicMessages => {
                let Some(usage) = &self.anthropic_usage else {
                    return truncated("has no `message_start` event");
                };
                if !self.anthropic_stopped {
                    return if self.anthropic_deltas == 0 {
                        truncated("ended after `message_start`, before any `message_delta`")
                    } else {
                        truncated("ended before `message_stop`")
                    };
                }
                super::anthropic::normalize(usage).map_err(NormalizeError::InvalidUsage)
            }
            ApiKind::OpenAiResponses => {
                let Some(terminal) = &self.terminal_event else {
                    return truncated("ended before `response.completed`");
                };
                let Some(usage) = &self.responses_usage else {
                    return Err(NormalizeError::NoUsage(format!("`{terminal}` carries no usage")));
                };
                let mut normalized = normalize_api_usage(api, usage)?;
                apply_openai_tier(&mut normalized, self.responses_service_tier.as_deref());
                if terminal != "response.completed" {
                    normalized.notes.push(format!("the response ended with `{terminal}`"));
                }
                Ok(normalized)
            }
            ApiKind::GeminiGenerateContent => {
                let Some(usage) = &self.gemini_usage else {
                    return if self.gemini_finished {
                        Err(NormalizeError::NoUsage("no chunk carries `usageMetadata`".to_owned()))
                    } else {
                        truncated("ended before a chunk with usage")
                    };
                };
                if !self.gemini_finished {
                    return truncated("ended before a chunk with a `finishReason`");
                }
                normalize_api_usage(api, usage)
            }
            ApiKind::OpenAiChat | ApiKind::OpenAiEmbeddings => match &self.chat_usage {
                Some(usage) => {
                    let mut normalized = normalize_api_usage(ApiKind::OpenAiChat, usage)?;
                    apply_openai_tier(&mut normalized, self.chat_service_tier.as_deref());
                    Ok(normalized)
                }
                None if self.done_marker => Err(NormalizeError::NoUsage(
                    "the stream has no usage chunk; request one with `\"stream_options\": {\"include_usage\": true}`"
                        .to_owned(),
                )),
                None => truncated("ended before its usage chunk and `data: [DONE]`"),
            },
        }
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
