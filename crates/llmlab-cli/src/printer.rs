//! Everything the CLI writes: data on stdout, messages on stderr, colour only
//! on a terminal (anstream strips it otherwise and honours `NO_COLOR`).
#![allow(clippy::print_stdout, clippy::print_stderr)] // the one module allowed to print

use std::fmt::{self, Write as _};

use anstyle::{AnsiColor, Style};

use crate::ExitStatus;

pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const DIM: Style = Style::new().dimmed();
pub(crate) const RED: Style = AnsiColor::Red.on_default().bold();
pub(crate) const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub(crate) const CYAN: Style = AnsiColor::Cyan.on_default();
pub(crate) const GREEN: Style = AnsiColor::Green.on_default().bold();

/// An error caused by the user's input: one line, an optional hint, exit code 1.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError { message: message.into(), hint: None }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Prints an error as one line (its causes joined with `: `) and picks the exit status.
pub(crate) fn report_error(error: &anyhow::Error) -> ExitStatus {
    let mut stderr = anstream::stderr();
    if let Some(user) = error.downcast_ref::<UserError>() {
        let _ = std::io::Write::write_fmt(&mut stderr, format_args!("{RED}error{RED:#}: {}\n", user.message));
        if let Some(hint) = &user.hint {
            let _ = std::io::Write::write_fmt(&mut stderr, format_args!("\n{CYAN}hint{CYAN:#}: {hint}\n"));
        }
        return ExitStatus::Failure;
    }
    let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
    let _ = std::io::Write::write_fmt(&mut stderr, format_args!("{RED}error{RED:#}: {}\n", chain.join(": ")));
    ExitStatus::Error
}

/// Prints clap's verdict on the command line. `--help` and `--version` go
/// to stdout with status 0. A usage error is a problem the user can fix, so
/// it exits 1 like every other one (clap's own convention is 2, which this
/// CLI keeps for unexpected errors). A value that did not parse is one line
/// naming the flag and the value parser's sentence (`parse.rs`); the other
/// usage errors keep clap's text, which names the flag and suggests fixes.
pub(crate) fn report_usage_error(error: &clap::Error) -> ExitStatus {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !error.use_stderr() {
        let _ = error.print();
        return ExitStatus::Success;
    }
    let parser_sentence = std::error::Error::source(error).map(ToString::to_string);
    match (error.kind(), parser_sentence) {
        (ErrorKind::ValueValidation, Some(sentence)) => {
            let flag = match error.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(arg)) => arg.split(' ').next().unwrap_or(arg).to_owned(),
                _ => String::new(),
            };
            let place = if flag.starts_with('-') { format!("{flag}: ") } else { String::new() };
            anstream::eprintln!("{RED}error{RED:#}: {place}{sentence}");
        }
        _ => {
            let _ = error.print();
        }
    }
    ExitStatus::Failure
}

/// Writes data to stdout.
pub(crate) fn out(text: &str) {
    anstream::print!("{text}");
}

/// Standard output for bytes passed through unchanged (`llmlab export`'s CSV).
pub(crate) fn raw_stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

/// Writes a JSON document to stdout, pretty-printed.
pub(crate) fn out_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    anstream::println!("{text}");
    Ok(())
}

/// A note for a human on stderr.
pub(crate) fn note(text: &str) {
    anstream::eprintln!("{DIM}note:{DIM:#} {text}");
}

/// A warning on stderr.
pub(crate) fn warn(text: &str) {
    anstream::eprintln!("{YELLOW}warning{YELLOW:#}: {text}");
}

/// A message for a human on stderr.
pub(crate) fn info(text: &str) {
    anstream::eprintln!("{text}");
}

/// A `hint:` line on stderr.
pub(crate) fn hint(text: &str) {
    anstream::eprintln!("{CYAN}hint{CYAN:#}: {text}");
}

/// Asks `question` on stderr and reads one line from stdin (trimmed); the
/// empty answer or end of input gives `default`. Only call it on a terminal.
pub(crate) fn prompt(question: &str, default: Option<&str>) -> std::io::Result<String> {
    Ok(ask(question, default)?.unwrap_or_else(|| default.unwrap_or_default().to_owned()))
}

/// Like [`prompt`], but `None` at the end of input (Ctrl-D), so a question
/// asked again after a wrong answer cannot loop forever on a closed input.
pub(crate) fn ask(question: &str, default: Option<&str>) -> std::io::Result<Option<String>> {
    let shown = default.filter(|d| !d.is_empty()).map(|d| format!(" {DIM}[{d}]{DIM:#}")).unwrap_or_default();
    anstream::eprint!("{BOLD}?{BOLD:#} {question}{shown}: ");
    std::io::Write::flush(&mut std::io::stderr())?;
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line)? == 0 {
        anstream::eprintln!();
        return Ok(None);
    }
    let answer = line.trim();
    Ok(Some(if answer.is_empty() { default.unwrap_or_default().to_owned() } else { answer.to_owned() }))
}

/// Asks for a secret on the controlling terminal without echoing what is
/// typed or pasted, so an API key never lands in the scrollback or a screen
/// share. Where echo cannot be turned off, it refuses rather than show it.
pub(crate) fn prompt_secret(question: &str, hint: &str) -> anyhow::Result<String> {
    anstream::eprint!("{BOLD}?{BOLD:#} {question}: ");
    std::io::Write::flush(&mut std::io::stderr())?;
    match rpassword::read_password() {
        Ok(answer) => Ok(answer.trim().to_owned()),
        Err(error) => {
            anstream::eprintln!();
            Err(UserError::new(format!("cannot read a hidden answer from the terminal ({error})"))
                .with_hint(hint)
                .into())
        }
    }
}

/// A yes/no question; the empty answer is `default`.
pub(crate) fn confirm(question: &str, default: bool) -> std::io::Result<bool> {
    let choices = if default { "Y/n" } else { "y/N" };
    let answer = prompt(&format!("{question} ({choices})"), None)?;
    Ok(match answer.to_ascii_lowercase().as_str() {
        "" => default,
        a => a.starts_with('y'),
    })
}

/// One self-overwriting status line on stderr, drawn only when stderr is a
/// terminal and at most ten times a second; plain `\r`, no escape codes.
pub(crate) struct Progress {
    enabled: bool,
    last_draw: Option<std::time::Instant>,
    width: usize,
}

impl Progress {
    pub(crate) fn new(enabled: bool) -> Self {
        Progress { enabled, last_draw: None, width: 0 }
    }

    /// Redraws with `text()` unless the last draw was under 100 ms ago.
    pub(crate) fn update(&mut self, text: impl FnOnce() -> String) {
        if !self.enabled || self.last_draw.is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(100)) {
            return;
        }
        self.last_draw = Some(std::time::Instant::now());
        let line = text();
        let pad = self.width.saturating_sub(line.chars().count());
        self.width = line.chars().count();
        eprint!("\r{line}{}", " ".repeat(pad));
        let _ = std::io::Write::flush(&mut std::io::stderr());
    }

    /// Erases the line.
    pub(crate) fn finish(&mut self) {
        if self.enabled && self.width > 0 {
            eprint!("\r{}\r", " ".repeat(self.width));
            self.width = 0;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A plain text table: a bold header row, columns padded to their widest cell.
pub(crate) struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| (*h).to_owned()).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let width = |i: usize| {
            self.rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(self.headers[i].chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.headers.len()).map(width).collect();
        let mut text = String::new();
        let line = |cells: &[String], text: &mut String, style: Style| {
            let mut rendered = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    rendered.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                let last = i + 1 == cells.len();
                match self.aligns[i] {
                    Align::Left if last => rendered.push_str(cell),
                    Align::Left => {
                        rendered.push_str(cell);
                        rendered.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        rendered.extend(std::iter::repeat_n(' ', pad));
                        rendered.push_str(cell);
                    }
                }
            }
            let _ = writeln!(text, "{style}{}{style:#}", rendered.trim_end());
        };
        line(&self.headers, &mut text, BOLD);
        for row in &self.rows {
            line(row, &mut text, Style::new());
        }
        text
    }
}

/// A table cell: its text as measured, and as printed (with colour).
pub(crate) struct Cell {
    pub(crate) plain: String,
    pub(crate) styled: String,
}

impl Cell {
    pub(crate) fn new(text: impl Into<String>) -> Cell {
        let plain = text.into();
        Cell { styled: plain.clone(), plain }
    }

    pub(crate) fn styled(text: impl Into<String>, style: anstyle::Style) -> Cell {
        let plain = text.into();
        Cell { styled: format!("{style}{plain}{style:#}"), plain }
    }
}

/// One table row of `cells`, each padded to its column's width (`right`:
/// right-aligned), two spaces apart. Padding is written only before a later
/// cell with text, so no line ends in spaces.
pub(crate) fn cell_row(cells: &[Cell], widths: &[usize], right: &[bool]) -> String {
    let mut line = String::new();
    let mut pending = 0;
    for (i, cell) in cells.iter().enumerate() {
        let pad = widths[i] - cell.plain.chars().count();
        let gap = if i > 0 { 2 } else { 0 };
        if cell.plain.is_empty() {
            pending += gap + pad;
            continue;
        }
        line.extend(std::iter::repeat_n(' ', pending + gap + if right[i] { pad } else { 0 }));
        line.push_str(&cell.styled);
        pending = if right[i] { 0 } else { pad };
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let mut t = Table::new(&[("model", Align::Left), ("cost", Align::Right)]);
        t.row(vec!["gpt-4o".into(), "1.5".into()]);
        t.row(vec!["o3".into(), "12.25".into()]);
        let plain = anstream::adapter::strip_str(&t.render()).to_string();
        assert_eq!(plain, "model    cost\ngpt-4o    1.5\no3      12.25\n");
    }
}
