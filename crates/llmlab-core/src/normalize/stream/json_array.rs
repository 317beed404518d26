//! Gemini's JSON-array stream (`streamGenerateContent` without `alt=sse`):
//! `[{…},{…},…]`, cut into its elements as the bytes arrive.
//!
//! Tracking only the nesting depth and whether we are inside a string is
//! enough to see where each element ends, so an element is handed on the
//! moment its closing brace arrives and only the one in progress is held.
//! The element itself is checked later, when it is parsed.

use crate::normalize::{MAX_BODY_BYTES, NormalizeError};

/// Cuts a JSON array of objects into its elements; fed the bytes after the `[`.
#[derive(Default)]
pub(super) struct JsonArrayScanner {
    /// The element in progress.
    element: Vec<u8>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    closed: bool,
}

impl JsonArrayScanner {
    /// Feeds the next bytes; `on_element` gets each element they complete.
    pub(super) fn push(&mut self, chunk: &[u8], on_element: &mut impl FnMut(&[u8])) -> Result<(), NormalizeError> {
        for &byte in chunk {
            if self.closed {
                if !byte.is_ascii_whitespace() {
                    return Err(NormalizeError::InvalidJson("unexpected data after the closing `]`".to_owned()));
                }
            } else if self.depth == 0 {
                self.between_elements(byte)?;
            } else {
                self.element.push(byte);
                if self.in_string {
                    self.string_byte(byte);
                } else if self.structural_byte(byte) {
                    on_element(&self.element);
                    self.element.clear();
                } else if self.element.len() > MAX_BODY_BYTES {
                    return Err(NormalizeError::TooLarge);
                }
            }
        }
        Ok(())
    }

    /// Ends the stream: it must have been closed.
    pub(super) fn finish(&self) -> Result<(), NormalizeError> {
        if self.closed {
            Ok(())
        } else {
            Err(NormalizeError::Truncated("the JSON-array stream ends before its closing `]`".to_owned()))
        }
    }

    fn between_elements(&mut self, byte: u8) -> Result<(), NormalizeError> {
        match byte {
            b'{' => {
                self.depth = 1;
                self.element.push(byte);
            }
            b']' => self.closed = true,
            b',' => {}
            b if b.is_ascii_whitespace() => {}
            _ => {
                return Err(NormalizeError::NotAResponse(
                    "a Gemini JSON-array stream must contain only objects".to_owned(),
                ));
            }
        }
        Ok(())
    }

    fn string_byte(&mut self, byte: u8) {
        match (self.escaped, byte) {
            (true, _) => self.escaped = false,
            (false, b'\\') => self.escaped = true,
            (false, b'"') => self.in_string = false,
            _ => {}
        }
    }

    /// Takes an element's byte outside strings; true when it closes the element.
    fn structural_byte(&mut self, byte: u8) -> bool {
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth -= 1,
            _ => {}
        }
        self.depth == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(body_after_bracket: &[u8], piece: usize) -> Result<Vec<String>, NormalizeError> {
        let mut scanner = JsonArrayScanner::default();
        let mut seen = Vec::new();
        for chunk in body_after_bracket.chunks(piece) {
            scanner.push(chunk, &mut |element| seen.push(String::from_utf8_lossy(element).into_owned()))?;
        }
        scanner.finish()?;
        Ok(seen)
    }

    #[test]
    fn brackets_and_quotes_inside_strings_do_not_end_an_element() {
        let body = br#" {"a":"}]\"{"} ,
            {"b":[{"c":1}]} ] "#;
        for piece in [1, 4, 100] {
            assert_eq!(elements(body, piece).unwrap(), [r#"{"a":"}]\"{"}"#, r#"{"b":[{"c":1}]}"#]);
        }
    }

    #[test]
    fn non_objects_trailing_data_and_a_missing_bracket_are_errors() {
        assert!(matches!(elements(b"1]", 1), Err(NormalizeError::NotAResponse(_))));
        assert!(matches!(elements(b"{}] x", 1), Err(NormalizeError::InvalidJson(_))));
        assert!(matches!(elements(b"{}", 1), Err(NormalizeError::Truncated(_))));
    }
}
