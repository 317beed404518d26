//! Export: an account's events as CSV, streamed a page at a time, over a
//! range of local days.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use llmlab_core::{Money, TokenClass};
use llmlab_store::{Store, StoredEvent};

use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};

/// `[from, to)` in Unix ms for the local days `from` to `to` (`YYYY-MM-DD`,
/// both included) in `tz`, or from and to the instants they name (RFC 3339,
/// both included); either end open when not given.
pub fn range(from: Option<&str>, to: Option<&str>, tz: &jiff::tz::TimeZone) -> ApiResult<(i64, i64)> {
    let from = from.map(|t| export_bound("from", t, tz, false)).transpose()?.unwrap_or(0);
    let to = to.map(|t| export_bound("to", t, tz, true)).transpose()?.unwrap_or(i64::MAX);
    if from >= to {
        return Err(ApiError::invalid("to", "must not be before `from`"));
    }
    Ok((from, to))
}

/// The CSV of the account's events in `[from, to)`: the header, then one
/// line per event, oldest first. A producer task reads rows as the consumer
/// takes lines; the channel's small bound keeps memory constant however many
/// events there are, and no read transaction stays open meanwhile.
pub fn csv(store: Arc<Store>, user_id: i64, from: i64, to: i64) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        if sender.send(Ok(Bytes::from(csv_line(&csv_columns())))).await.is_err() {
            return;
        }
        let mut rows = store.export_events(user_id, from, to);
        while let Some(row) = rows.next().await {
            let item = row.map(|event| Bytes::from(csv_line(&row_of(&event)))).map_err(|e| {
                tracing::error!(error = %e, "export failed mid-stream");
                std::io::Error::other("export failed")
            });
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                break; // the consumer went away, or the database failed
            }
        }
    });
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// The CSV columns before the token counts.
const CSV_COLUMNS_BEFORE_TOKENS: [&str; 5] = ["timestamp", "event_id", "provider", "model", "project"];
/// The CSV columns after the token counts.
const CSV_COLUMNS_AFTER_TOKENS: [&str; 9] = [
    "cost_usd",
    "cost_source",
    "priced_as",
    "unpriced_reason",
    "service_tier",
    "latency_ms",
    "status",
    "tags",
    "notes",
];

/// The CSV header row: every stored token class ([`TokenClass::ALL`]) among the event's other columns.
#[must_use]
pub fn csv_columns() -> Vec<&'static str> {
    CSV_COLUMNS_BEFORE_TOKENS
        .into_iter()
        .chain(TokenClass::ALL.iter().map(|c| c.name()))
        .chain(CSV_COLUMNS_AFTER_TOKENS)
        .collect()
}

/// The millisecond where the day `text` (`YYYY-MM-DD` in `tz`) starts, or,
/// with `end`, where the next day starts; for an RFC 3339 time, its
/// millisecond (with `end`, the next one: the bound is included). A date that
/// parses can still be beyond the range of a timestamp (`9999-12-31`,
/// `-009999-01-01`): that is the caller's 422, not a 500.
fn export_bound(field: &str, text: &str, tz: &jiff::tz::TimeZone, end: bool) -> ApiResult<i64> {
    let text = text.trim();
    let invalid =
        || ApiError::invalid(field, format!("`{text}` is not a date such as `2026-11-27` or an RFC 3339 time"));
    // With a time, only an instant: jiff's `Date` parser would keep the day and drop the time.
    if text.contains(['T', 't', ' ']) {
        let instant: jiff::Timestamp = text.parse().map_err(|_| invalid())?;
        return Ok(instant.as_millisecond().saturating_add(i64::from(end)));
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| invalid())?;
    // The next day's start, not start + 24 h: a day is 23 or 25 hours long when the clocks change.
    let day = if end { date.tomorrow().ok() } else { Some(date) };
    let start = day.and_then(|day| day.to_zoned(tz.clone()).ok());
    start.map(|start| start.timestamp().as_millisecond()).ok_or_else(|| {
        let instead = if end { "to the last event" } else { "from the first event" };
        ApiError::invalid(
            field,
            format!("`{text}` is outside the dates this server handles; leave `{field}` out to export {instead}"),
        )
    })
}

/// A text cell made safe to open in a spreadsheet: a leading `=`, `+`, `-`,
/// `@`, tab or carriage return would make the spreadsheet run the cell as a
/// formula, so such a cell gets a leading `'` (OWASP's advice for CSV
/// injection). The CSV writer still quotes the cell as needed.
fn text_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

/// The stored notes (a JSON array of sentences) as one cell: `; `-separated.
fn notes_cell(notes: Option<&str>) -> String {
    notes.and_then(|n| serde_json::from_str::<Vec<String>>(n).ok()).map(|n| n.join("; ")).unwrap_or_default()
}

/// One CSV row. Only text cells go through [`text_cell`]: numbers (token
/// counts, costs, latency) stay numbers a spreadsheet can add up.
fn row_of(e: &StoredEvent) -> Vec<String> {
    let text = |value: Option<&str>| text_cell(value.unwrap_or_default());
    let mut row =
        Vec::with_capacity(CSV_COLUMNS_BEFORE_TOKENS.len() + TokenClass::ALL.len() + CSV_COLUMNS_AFTER_TOKENS.len());
    row.extend([
        text_cell(&rfc3339(e.occurred_at)),
        text_cell(&e.event_id),
        text_cell(&e.provider),
        text_cell(&e.model),
        text_cell(&e.project),
    ]);
    row.extend(e.tokens.counts().map(|(_, count)| count.to_string()));
    row.extend([
        e.cost_nusd.map(|n| Money::from_nanos(n).to_string()).unwrap_or_default(),
        text(e.cost_source.as_deref()),
        text(e.priced_as.as_deref()),
        text(e.unpriced_reason.as_deref()),
        text_cell(&e.service_tier),
        e.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
        text(e.status.as_deref()),
        text(e.tags.as_deref()),
        text_cell(&notes_cell(e.notes.as_deref())),
    ]);
    row
}

/// One CSV record, quoted as needed, with its line ending.
fn csv_line<S: AsRef<[u8]>>(fields: &[S]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(256));
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(fields);
    writer.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_has_every_token_class_column_in_table_order() {
        let header = String::from_utf8(csv_line(&csv_columns())).unwrap();
        let columns: Vec<&str> = header.trim_end().split(',').collect();
        let tokens: Vec<&str> = TokenClass::ALL.iter().map(|c| c.name()).collect();
        let at = columns.iter().position(|c| *c == tokens[0]).expect("the first token column");
        assert_eq!(&columns[at..at + tokens.len()], &tokens[..]);
        assert!(columns.contains(&"cache_read_audio_tokens") && columns.contains(&"output_audio_tokens"));
    }

    #[test]
    fn text_cells_that_a_spreadsheet_would_run_get_a_leading_quote() {
        for risky in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text_cell(risky), format!("'{risky}"), "{risky:?}");
        }
        for plain in ["gpt-4o", "", "a=b", " =x", "'already"] {
            assert_eq!(text_cell(plain), plain);
        }
        // Still one valid CSV record: the quote goes inside the quoted cell.
        let line = csv_line(&[text_cell("=1,\"2\""), "3".to_owned()]);
        assert_eq!(String::from_utf8(line).unwrap(), "\"'=1,\"\"2\"\"\",3\n");
    }

    #[test]
    fn every_date_that_parses_gives_a_bound_or_a_422() {
        let utc = jiff::tz::TimeZone::UTC;
        let far_east = jiff::tz::TimeZone::get("Pacific/Kiritimati").unwrap();
        for text in ["9999-12-31", "9999-12-30", "-009999-01-01", "-009999-01-02", "0000-01-01", "2026-03-29"] {
            for tz in [&utc, &far_east] {
                for (field, end) in [("from", false), ("to", true)] {
                    match export_bound(field, text, tz, end) {
                        Ok(ms) => assert!(jiff::Timestamp::from_millisecond(ms).is_ok(), "{text} {field}"),
                        Err(e) => {
                            assert_eq!(e.code, crate::error::ErrorCode::InvalidField, "{text} {field}");
                            assert!(e.message.starts_with(&format!("`{field}`: `{text}`")), "{}", e.message);
                        }
                    }
                }
            }
        }
        let day = 86_400_000;
        assert_eq!(export_bound("to", "1970-01-01", &utc, true).unwrap(), day);
        assert_eq!(export_bound("from", "1970-01-02", &utc, false).unwrap(), day);
        // Paris's spring-forward day is 23 hours long.
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let start = export_bound("from", "2026-03-29", &paris, false).unwrap();
        assert_eq!(export_bound("to", "2026-03-29", &paris, true).unwrap() - start, 23 * 3_600_000);
    }

    #[test]
    fn an_rfc3339_bound_is_that_instant_both_ends_included() {
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let at = jiff::Timestamp::from_millisecond(1_796_637_600_518).unwrap();
        assert_eq!(export_bound("from", "2026-12-07T10:00:00.518Z", &paris, false).unwrap(), at.as_millisecond());
        assert_eq!(export_bound("from", "2026-12-07T11:00:00.518+01:00", &paris, false).unwrap(), at.as_millisecond());
        assert_eq!(export_bound("to", "2026-12-07T10:00:00.518Z", &paris, true).unwrap(), at.as_millisecond() + 1);
        // A time without an offset is no instant, and its day is not silently taken instead.
        for bad in ["2026-12-07T10:00:00", "2026-12-07Tnoon", "2026-12-07 10:00"] {
            assert!(export_bound("from", bad, &paris, false).is_err(), "{bad}");
        }
        let (from, to) = range(Some("2026-12-07T10:00:00Z"), Some("2026-12-07T10:00:00Z"), &paris).unwrap();
        assert_eq!(to - from, 1, "one millisecond: the instant itself");
    }
}
