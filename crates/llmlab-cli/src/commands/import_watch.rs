//! `llmlab import … --watch`: import everything once, then follow the logs.
//!
//! Polling every 250 ms rather than file-system notifications (`notify`):
//! the agents append to a handful of files, a poll costs one `stat` per file
//! and one directory walk, and it behaves the same on every platform and
//! file system (network mounts, WSL, containers' bind mounts, where
//! notifications are missing or late); a new line is seen within 250 ms.
//! Each file keeps its offset; a last line without its newline waits for it;
//! a truncated or replaced file is read again from its start (the ids make
//! re-reading harmless).
//!
//! Claude Code writes one line per content block of a response, the earlier
//! ones with a partial output count and no `stop_reason`; so a response is
//! held until a line of it has a `stop_reason` (its final usage), the file
//! moves on to another response, or the file has been quiet for 5 seconds
//! (a response cut off before its last line).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use llmlab_core::agent_logs::{Agent, Record, take_unfinished_last};

use crate::commands::import_files::{LineCounts, LogFiles};
use crate::commands::import_run::Import;
use crate::commands::import_send::{self, Tally};
use crate::printer;

const POLL: Duration = Duration::from_millis(250);
/// How long to wait before sending again after the server failed.
const RETRY: Duration = Duration::from_secs(5);
/// Quiet polls (5 s) after which a file's last response is taken as complete without its `stop_reason`.
const QUIET_POLLS: u32 = 20;

/// A Claude Code file's latest response, held until it is complete.
#[derive(Default)]
struct Pending {
    record: Option<Record>,
    quiet_polls: u32,
    /// Lines merged into `record` when it was held back at the start, counted when it is released.
    merged_lines: u64,
}

/// Imports everything, then follows the logs until Ctrl-C; the tally of it all.
pub(crate) async fn watch(import: &Import) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut files = LogFiles::default();
    let mut pending: BTreeMap<PathBuf, Pending> = BTreeMap::new();
    let collected = import.read_all(&mut files, &mut tally, &mut |path, records| {
        if import.agent == Agent::ClaudeCode {
            hold_last(pending.entry(path.to_owned()).or_default(), records);
        }
    })?;
    let mut sent: HashSet<String> = HashSet::new();
    let first: Vec<Record> = collected.into_sorted();
    sent.extend(first.iter().map(Record::event_id));
    import_send::send(&import.client, first, &import.labels, &mut tally).await?;
    printer::info(&format!("Imported {} responses ({} new); watching for more, Ctrl-C stops", tally.events, tally.new));
    let mut queue: Vec<Record> = Vec::new();
    let mut retry_at = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(POLL) => false,
            _ = &mut ctrl_c => true,
        };
        let ready = poll(import, &mut files, &mut pending, &mut tally, stopping);
        let (fresh, repeated): (Vec<Record>, Vec<Record>) = ready.into_iter().partition(|r| sent.insert(r.event_id()));
        tally.repeated_lines += repeated.len() as u64;
        queue.extend(fresh);
        if !queue.is_empty() && (stopping || Instant::now() >= retry_at) {
            let before = (tally.new, tally.new_cost_usd);
            match import_send::send_queued(&import.client, &mut queue, &import.labels, &mut tally).await {
                Ok(()) => {
                    let cost = llmlab_core::display::usd(tally.new_cost_usd - before.1);
                    printer::info(&format!("+{} new ({cost})", tally.new - before.0));
                }
                // The server may come back: keep the records and try again shortly (the
                // last attempt, on Ctrl-C, reports the error).
                Err(error) if !stopping => {
                    printer::warn(&format!("{error:#}; {} responses wait, trying again in 5 s", queue.len()));
                    retry_at = Instant::now() + RETRY;
                }
                Err(error) => {
                    printer::warn(&format!(
                        "{} responses read were not sent; import again once the server answers",
                        queue.len()
                    ));
                    return Err(error);
                }
            }
        }
        if stopping {
            return Ok(tally);
        }
    }
}

/// One poll: new files, new lines; the records ready to send. `flush`
/// releases every held response (the watch is ending).
fn poll(
    import: &Import,
    files: &mut LogFiles,
    pending: &mut BTreeMap<PathBuf, Pending>,
    tally: &mut Tally,
    flush: bool,
) -> Vec<Record> {
    files.refresh(import.agent, &import.dirs);
    tally.files = files.len();
    let mut ready = Vec::new();
    let mut counts = LineCounts::default();
    for file in files.iter_mut() {
        // Deleted or unreadable for now (rotation in progress): tried again next poll.
        let records = file.read_new(&mut counts).unwrap_or_default();
        if import.agent == Agent::Codex {
            ready.extend(records);
            continue;
        }
        let held = pending.entry(file.path.clone()).or_default();
        hold(held, records, &mut ready, &mut counts);
        if flush || held.quiet_polls >= QUIET_POLLS || held.record.as_ref().is_some_and(|r| r.complete) {
            ready.extend(held.record.take());
            counts.repeats += std::mem::take(&mut held.merged_lines);
        }
    }
    tally.add_lines(counts);
    ready
}

/// Takes a Claude Code file's last response (all its lines) out of
/// `records` and holds it, unless a line of it says it is over: it may
/// still be being written.
fn hold_last(held: &mut Pending, records: &mut Vec<Record>) {
    let last = take_unfinished_last(records);
    held.merged_lines = last.len().saturating_sub(1) as u64;
    held.record = last.into_iter().max_by_key(|r| r.output_tokens);
}

/// Merges a Claude Code file's new records into its held response: lines of
/// the held response update it (the larger output count wins); another
/// response releases it and is held in turn.
fn hold(held: &mut Pending, records: Vec<Record>, ready: &mut Vec<Record>, counts: &mut LineCounts) {
    if records.is_empty() {
        held.quiet_polls += 1;
        return;
    }
    held.quiet_polls = 0;
    for record in records {
        match held.record.take() {
            Some(previous) if previous.key == record.key => {
                counts.repeats += 1;
                let complete = previous.complete || record.complete;
                let mut kept = if record.output_tokens >= previous.output_tokens { record } else { previous };
                kept.complete = complete;
                held.record = Some(kept);
            }
            previous => {
                ready.extend(previous);
                held.record = Some(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use llmlab_core::agent_logs::claude_code::{self, Line};

    use super::*;

    fn record(msg: &str, output: u64, stop: Option<&str>) -> Record {
        let stop = stop.map_or("null".to_owned(), |s| format!("\"{s}\""));
        let line = format!(
            r#"{{"type":"assistant","requestId":"r","message":{{"id":"{msg}","model":"claude-haiku-4-5","stop_reason":{stop},"usage":{{"input_tokens":1,"output_tokens":{output}}}}}}}"#
        );
        match claude_code::parse_line(&line) {
            Line::Usage(record) => record,
            other => panic!("{other:?}"),
        }
    }

    /// Runs `hold` on one poll's records; the outputs of the responses released.
    fn poll_once(held: &mut Pending, records: Vec<Record>) -> Vec<u64> {
        let (mut ready, mut counts) = (Vec::new(), LineCounts::default());
        hold(held, records, &mut ready, &mut counts);
        if held.quiet_polls >= QUIET_POLLS || held.record.as_ref().is_some_and(|r| r.complete) {
            ready.extend(held.record.take());
        }
        ready.iter().map(|r| r.output_tokens).collect()
    }

    #[test]
    fn a_response_is_held_until_its_stop_reason_or_the_next_response() {
        let mut held = Pending::default();
        assert!(poll_once(&mut held, vec![record("a", 5, None)]).is_empty(), "more lines may come");
        assert_eq!(poll_once(&mut held, vec![record("a", 120, Some("tool_use"))]), [120], "its final line");
        assert!(poll_once(&mut held, vec![record("b", 7, None)]).is_empty());
        assert_eq!(poll_once(&mut held, vec![record("c", 9, None)]), [7], "another response began");
    }

    #[test]
    fn a_response_without_its_last_line_is_released_after_quiet_polls() {
        let mut held = Pending::default();
        assert!(poll_once(&mut held, vec![record("a", 5, None)]).is_empty());
        let released: Vec<u64> = (0..QUIET_POLLS).flat_map(|_| poll_once(&mut held, Vec::new())).collect();
        assert_eq!(released, [5]);
    }

    #[test]
    fn at_the_start_only_an_unfinished_last_response_is_held_back() {
        let mut held = Pending::default();
        let mut records = vec![record("a", 120, Some("end_turn")), record("b", 3, None), record("b", 4, None)];
        hold_last(&mut held, &mut records);
        assert_eq!(records.len(), 1);
        assert_eq!(held.record.as_ref().map(|r| r.output_tokens), Some(4));
        let mut finished = vec![record("c", 3, None), record("c", 50, Some("end_turn"))];
        let mut none = Pending::default();
        hold_last(&mut none, &mut finished);
        assert_eq!((finished.len(), none.record.is_none()), (2, true));
    }
}
