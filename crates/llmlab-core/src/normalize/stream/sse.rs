//! Server-Sent Events framing: bytes in, `(event name, data)` frames out.
//!
//! Only the `event` and `data` fields matter for usage; `id`, `retry` and
//! comment lines are skipped. An event is handed on at the blank line that
//! ends it, so the decoder holds only the current line and the current
//! event's data, never the stream.

use crate::normalize::{MAX_BODY_BYTES, NormalizeError};

/// Cuts an SSE byte stream into events, wherever its reads were cut.
#[derive(Default)]
pub(super) struct SseDecoder {
    /// The start of a line whose `\n` has not arrived yet.
    partial_line: Vec<u8>,
    /// The current event's `event:` name.
    event: Option<String>,
    /// The current event's `data:` lines, joined by `\n`.
    data: Vec<u8>,
    /// Whether the current event has a `data:` line: an empty one still
    /// makes an event, and no `data:` line at all makes none.
    has_data: bool,
}

/// An event whose closing blank line never came.
pub(super) struct UnterminatedEvent {
    pub(super) event: Option<String>,
    pub(super) data: Vec<u8>,
}

impl SseDecoder {
    /// Feeds the next bytes; `on_event(name, data)` gets each event they complete.
    pub(super) fn push(
        &mut self,
        mut chunk: &[u8],
        on_event: &mut impl FnMut(Option<&str>, &[u8]),
    ) -> Result<(), NormalizeError> {
        while let Some(newline) = memchr::memchr(b'\n', chunk) {
            let (head, tail) = chunk.split_at(newline);
            chunk = &tail[1..];
            if self.partial_line.is_empty() {
                self.line(head, on_event)?;
            } else {
                let mut line = std::mem::take(&mut self.partial_line);
                line.extend_from_slice(head);
                self.line(&line, on_event)?;
                // Keep the allocation: a proxy's reads split most lines.
                line.clear();
                self.partial_line = line;
            }
        }
        if self.partial_line.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(NormalizeError::TooLarge);
        }
        self.partial_line.extend_from_slice(chunk);
        Ok(())
    }

    /// Ends the stream. A last line without its `\n` still counts; an event
    /// without its closing blank line is returned instead of handed on,
    /// because the stream may have been cut inside it.
    pub(super) fn finish(
        mut self,
        on_event: &mut impl FnMut(Option<&str>, &[u8]),
    ) -> Result<Option<UnterminatedEvent>, NormalizeError> {
        if !self.partial_line.is_empty() {
            let line = std::mem::take(&mut self.partial_line);
            self.line(&line, on_event)?;
        }
        Ok(self.has_data.then_some(UnterminatedEvent { event: self.event, data: self.data }))
    }

    /// Handles one line (without its `\n`), handing the event on at a blank line.
    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(Option<&str>, &[u8])) -> Result<(), NormalizeError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(self.event.as_deref(), &self.data);
                self.data.clear();
                self.has_data = false;
            }
            self.event = None;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
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
                if self.data.len() + value.len() > MAX_BODY_BYTES {
                    return Err(NormalizeError::TooLarge);
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(stream: &[u8], piece: usize) -> (Vec<(Option<String>, String)>, Option<String>) {
        let mut decoder = SseDecoder::default();
        let mut seen = Vec::new();
        let mut on_event = |event: Option<&str>, data: &[u8]| {
            seen.push((event.map(str::to_owned), String::from_utf8_lossy(data).into_owned()));
        };
        for chunk in stream.chunks(piece) {
            decoder.push(chunk, &mut on_event).unwrap();
        }
        let rest = decoder.finish(&mut on_event).unwrap();
        (seen, rest.map(|r| String::from_utf8_lossy(&r.data).into_owned()))
    }

    #[test]
    fn events_are_cut_at_blank_lines_with_multi_line_data_joined() {
        let stream = b": keep-alive\nevent: a\ndata: 1\ndata:2\nid: 7\n\ndata\n\nevent: lost\n\r\ndata: cut";
        for piece in [1, 3, 100] {
            let (seen, rest) = events(stream, piece);
            assert_eq!(seen, [(Some("a".to_owned()), "1\n2".to_owned()), (None, String::new())], "{piece}");
            assert_eq!(rest.as_deref(), Some("cut"));
        }
    }

    #[test]
    fn a_line_over_the_limit_is_refused() {
        let mut decoder = SseDecoder::default();
        let big = vec![b'x'; MAX_BODY_BYTES];
        decoder.push(b"data: ", &mut |_, _| {}).unwrap();
        assert_eq!(decoder.push(&big, &mut |_, _| {}), Err(NormalizeError::TooLarge));
    }
}
