//! The server's text log: one line per event, whatever the logged values hold.
//!
//! Logged values often come from requests (a model name, an error that quotes
//! a field), and a newline in one would start a line that looks like the
//! server's own. [`EscapedFields`] writes every field, span field and message
//! as the default formatter does, but with control characters escaped
//! (`\n`, `\r`, `\u{1b}`). The JSON format escapes them already.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// Formats fields as `name=value` separated by spaces, the message bare,
/// with every control character escaped.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor { writer, empty: true, result: Ok(()) };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'writer> {
    writer: Writer<'writer>,
    /// Nothing written yet, so no separator is due.
    empty: bool,
    result: fmt::Result,
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // As the default formatter: a string message bare, other strings quoted.
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `log.*` fields carry a `log` record's metadata, which the line shows already.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let separator = if std::mem::replace(&mut self.empty, false) { "" } else { " " };
        let mut out = Escaping(&mut self.writer);
        self.result = match field.name() {
            "message" => write!(out, "{separator}{value:?}"),
            name => write!(out, "{separator}{}={value:?}", name.strip_prefix("r#").unwrap_or(name)),
        };
    }
}

/// Writes through to `W` with each control character as its Rust escape.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(char::is_control) {
            let control = rest[at..].chars().next().unwrap_or_default();
            self.0.write_str(&rest[..at])?;
            write!(self.0, "{}", control.escape_default())?;
            rest = &rest[at + control.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log destination the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_of(emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_value_with_a_newline_stays_on_its_line() {
        let forged = "gpt-4o\n2026-01-01T00:00:00.000000Z  INFO llmlab_server: API key revoked";

        let log = log_of(|| {
            let span = tracing::info_span!("request", path = %"/api/prices\r\nX");
            let _inside = span.enter();
            tracing::info!(model = %forged, name = "tab\there", "custom price set for {}", "a\u{1b}[31mb");
        });

        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(
            log.contains(r"model=gpt-4o\n2026-01-01T00:00:00.000000Z  INFO llmlab_server: API key revoked"),
            "{log}"
        );
        assert!(log.contains(r#"name="tab\there""#), "{log}");
        assert!(log.contains(r"custom price set for a\u{1b}[31mb"), "{log}");
        assert!(log.contains(r"request{path=/api/prices\r\nX}"), "{log}");
    }

    #[test]
    fn ordinary_fields_look_as_they_did() {
        let log = log_of(|| tracing::info!(user = %"usr_1", repriced_events = 3, "custom price set"));
        assert!(log.trim_end().ends_with("custom price set user=usr_1 repriced_events=3"), "{log}");
    }
}
