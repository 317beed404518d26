//! `llmlab export`: stream every event as CSV, in constant memory.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use reqwest::Method;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::commands::status::query_string;
use crate::config::{ServerArgs, Settings};
use crate::display::count;
use crate::parse::DateOrTime;
use crate::printer::{self, GREEN, Progress, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab export > events.csv                           Every event, oldest first
  llmlab export --output march.csv --from 2026-03-01 --to 2026-03-31
  llmlab export --from 2026-03-01 | grep gpt-4o        Stream it into another tool
  llmlab export --from 2026-03-01T09:00:00Z --to 2026-03-01T17:30:00+01:00   Between two instants

Columns: timestamp, event_id, provider, model, project, the token buckets
(input, cache read, cache write 5m/1h, output, reasoning, web search
requests), cost_usd (empty when unpriced), cost_source, priced_as,
unpriced_reason, service_tier, latency_ms, status, tags (JSON). A text cell
starting with =, +, -, @, tab or carriage return gets a leading ' so that a
spreadsheet shows it instead of running it as a formula.";

/// Export your events as CSV (header row, one row per event)
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ExportArgs {
    /// Write to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// First day to include, `YYYY-MM-DD`, or the first instant, an RFC 3339 time [default: the first event]
    #[arg(long, value_name = "DATE", value_parser = crate::parse::date_or_time)]
    from: Option<DateOrTime>,
    /// Last day to include, `YYYY-MM-DD`, or the last instant, an RFC 3339 time [default: today]
    #[arg(long, value_name = "DATE", value_parser = crate::parse::date_or_time)]
    to: Option<DateOrTime>,
    /// The time zone the dates are in [default: the account's]
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) fn run(args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let reversed = match (args.from, args.to) {
        (Some(DateOrTime::Day(from)), Some(DateOrTime::Day(to))) => to < from,
        (Some(DateOrTime::Instant(from)), Some(DateOrTime::Instant(to))) => to < from,
        // A day against an instant depends on the time zone: the server checks it.
        _ => false,
    };
    if let (true, Some(from), Some(to)) = (reversed, args.from, args.to) {
        return Err(UserError::new(format!("`--to {to}` is before `--from {from}`")).into());
    }
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let (from, to) = (args.from.map(|d| d.to_string()), args.to.map(|d| d.to_string()));
    let mut query = Vec::new();
    for (name, value) in [("from", &from), ("to", &to), ("tz", &args.tz)] {
        if let Some(value) = value {
            query.push((name, value.as_str()));
        }
    }
    let path = format!("/api/events/export{}", query_string(&query));

    let mut sink = Sink::open(args.output.as_deref())?;
    // Progress on a terminal, unless the CSV itself is scrolling past on it.
    let to_file = matches!(sink, Sink::File { .. });
    let mut progress = Progress::new(std::io::stderr().is_terminal() && (to_file || !std::io::stdout().is_terminal()));
    let streamed = block_on(async {
        let mut response = client.send(Method::GET, &path, None::<&()>).await?;
        let (mut bytes, mut lines) = (0_u64, 0_u64);
        while let Some(chunk) = response.chunk().await.map_err(|e| client.transport_error(&e))? {
            bytes += chunk.len() as u64;
            lines += memchr::memchr_iter(b'\n', &chunk).count() as u64;
            if !sink.write(&chunk)? {
                return anyhow::Ok(lines);
            }
            progress.update(|| format!("Exporting… {} events · {}", count(lines.saturating_sub(1)), megabytes(bytes)));
        }
        anyhow::Ok(lines)
    })?;
    progress.finish();
    let lines = match streamed {
        Ok(lines) => lines,
        Err(error) => {
            sink.abandon();
            return Err(error);
        }
    };
    let rows = lines.saturating_sub(1);
    let events = format!("{} event{}", count(rows), if rows == 1 { "" } else { "s" });
    match sink.finish()? {
        Some(path) => printer::info(&format!("{GREEN}✓{GREEN:#} Exported {events} to {}", path.display())),
        None if std::io::stderr().is_terminal() => printer::info(&format!("Exported {events}")),
        None => {}
    }
    Ok(ExitStatus::Success)
}

fn megabytes(bytes: u64) -> String {
    format!("{}.{} MB", bytes / 1_000_000, bytes % 1_000_000 / 100_000)
}

/// Standard output, or a file written beside its final name and renamed
/// into place once the export is complete (an interrupted export leaves no
/// half file behind).
enum Sink {
    Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>),
    File { writer: std::io::BufWriter<std::fs::File>, partial: Option<PathBuf>, path: PathBuf },
}

impl Sink {
    fn open(output: Option<&Path>) -> anyhow::Result<Sink> {
        let Some(path) = output.filter(|p| p.as_os_str() != "-") else {
            return Ok(Sink::Stdout(std::io::BufWriter::with_capacity(64 * 1024, printer::raw_stdout())));
        };
        let cannot = |e: std::io::Error| UserError::new(format!("cannot write `{}`: {e}", path.display()));
        // Devices and pipes (`/dev/stdout`, a FIFO) are written directly.
        let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
        let partial = (!special).then(|| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            path.with_file_name(format!(".{name}.partial"))
        });
        let file = std::fs::File::create(partial.as_deref().unwrap_or(path)).map_err(cannot)?;
        Ok(Sink::File { writer: std::io::BufWriter::with_capacity(64 * 1024, file), partial, path: path.to_owned() })
    }

    /// Writes a chunk; `false` when the reader went away (`llmlab export | head`).
    fn write(&mut self, chunk: &[u8]) -> anyhow::Result<bool> {
        let result = match self {
            Sink::Stdout(out) => out.write_all(chunk),
            Sink::File { writer, .. } => writer.write_all(chunk),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(self.error(&e)),
        }
    }

    fn error(&self, e: &std::io::Error) -> anyhow::Error {
        match self {
            Sink::Stdout(_) => UserError::new(format!("cannot write to standard output: {e}")).into(),
            Sink::File { path, .. } => UserError::new(format!("cannot write `{}`: {e}", path.display())).into(),
        }
    }

    /// Flushes, and moves a file into place; the file's path, if any.
    fn finish(self) -> anyhow::Result<Option<PathBuf>> {
        match self {
            Sink::Stdout(mut out) => match out.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(UserError::new(format!("cannot write to standard output: {e}")).into())
                }
                _ => Ok(None),
            },
            Sink::File { writer, partial, path } => {
                let cannot = |e: std::io::Error| UserError::new(format!("cannot write `{}`: {e}", path.display()));
                let file = writer.into_inner().map_err(|e| cannot(e.into_error()))?;
                if let Some(partial) = partial {
                    file.sync_all().map_err(cannot)?;
                    std::fs::rename(&partial, &path).map_err(cannot)?;
                }
                Ok(Some(path))
            }
        }
    }

    /// Removes the partial file of a failed export.
    fn abandon(self) {
        if let Sink::File { partial: Some(partial), writer, .. } = self {
            drop(writer);
            let _ = std::fs::remove_file(partial);
        }
    }
}
