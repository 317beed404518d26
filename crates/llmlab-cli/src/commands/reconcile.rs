//! `llmlab reconcile`: what LLMLab tracked against what the providers
//! billed, per UTC day and provider (and model, with `--models`).

use std::fmt::Write as _;

use clap::Args;
use llmlab_api::{ReconciledDay, Reconciliation};
use llmlab_core::Money;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::commands::status::query_string;
use crate::config::{ServerArgs, Settings};
use crate::display::{count, tokens, usd};
use crate::printer::{self, Align, BOLD, DIM, Table};

const EXAMPLES: &str = "\
Examples:
  llmlab reconcile                   This month: tracked against billed per day and provider
  llmlab reconcile --month 2026-11   Another month
  llmlab reconcile --models          Each day's models too (tokens and cost on both sides)
  llmlab reconcile --json            The same as JSON (money as decimal strings)

Needs a provider connection (`llmlab connect openai|anthropic`). Days are UTC, as the providers
report them. untracked = billed minus tracked: calls outside the SDK and the proxy, or cut off
client-side, are billed but never tracked.";

/// Compare what LLMLab tracked with what the providers billed, per day and model
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ReconcileArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The month, `YYYY-MM` [default: this UTC month]
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Also show each day's models
    #[arg(long)]
    models: bool,
    /// Print the reconciliation as JSON
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ReconcileArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let query: Vec<(&str, &str)> = args.month.as_deref().map(|m| ("month", m)).into_iter().collect();
    let path = format!("/api/reconciliation{}", query_string(&query));
    let reconciliation: Reconciliation = block_on(client.get(&path))??;
    if args.json {
        printer::out_json(&reconciliation)?;
        return Ok(ExitStatus::Success);
    }
    if reconciliation.days.is_empty() {
        printer::info(&format!("Nothing to reconcile in {}.", reconciliation.month));
        printer::hint("connect a provider's reports with `llmlab connect openai` or `llmlab connect anthropic`");
        return Ok(ExitStatus::Success);
    }
    printer::out(&render(&reconciliation, args.models));
    for day in reconciliation.days.iter().filter(|d| d.drift_alert) {
        printer::warn(&untracked_sentence(day));
    }
    Ok(ExitStatus::Success)
}

fn share(percent: Option<rust_decimal::Decimal>) -> String {
    percent.map_or_else(|| "-".to_owned(), |p| format!("{p}%"))
}

/// `$41.20 billed on 2026-12-03 that LLMLab never saw: 38.0% of the day (openai)`.
fn untracked_sentence(day: &ReconciledDay) -> String {
    if day.untracked_usd >= Money::ZERO {
        format!(
            "{} billed by {} on {} that LLMLab never saw: {} of the day",
            usd(day.untracked_usd),
            day.provider,
            day.date,
            share(day.untracked_share_percent)
        )
    } else {
        format!(
            "LLMLab tracked {} more than {} billed on {}",
            usd(Money::from_nanos(day.untracked_usd.nanos().saturating_neg())),
            day.provider,
            day.date
        )
    }
}

fn render(r: &Reconciliation, models: bool) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{BOLD}Tracked against billed, {}{BOLD:#} {DIM}(UTC days){DIM:#}\n", r.month);
    let mut table = Table::new(&[
        ("day", Align::Left),
        ("provider", Align::Left),
        ("calls", Align::Right),
        ("tracked", Align::Right),
        ("reported", Align::Right),
        ("billed", Align::Right),
        ("untracked", Align::Right),
        ("share", Align::Right),
    ]);
    for day in &r.days {
        table.row(vec![
            day.date.clone(),
            day.provider.clone(),
            count(day.tracked_calls),
            usd(day.tracked_usd),
            usd(day.reported_usd),
            usd(day.billed_usd),
            usd(day.untracked_usd),
            share(day.untracked_share_percent),
        ]);
        if models {
            for m in &day.models {
                table.row(vec![
                    format!("  {}", m.model),
                    String::new(),
                    count(m.tracked_calls),
                    format!("{} ({} tok)", usd(m.tracked_usd), tokens(m.tracked_tokens)),
                    format!("{} ({} tok)", usd(m.reported_usd), tokens(m.reported_tokens)),
                    m.billed_usd.map_or_else(|| "-".to_owned(), usd),
                    usd(m.untracked_usd),
                    String::new(),
                ]);
            }
        }
    }
    text.push_str(&table.render());
    let _ = writeln!(
        text,
        "\n{BOLD}Month{BOLD:#}  tracked {}  billed {}  untracked {} ({})",
        usd(r.tracked_usd),
        usd(r.billed_usd),
        usd(r.untracked_usd),
        share(r.untracked_share_percent)
    );
    let _ = writeln!(
        text,
        "{DIM}reported: the usage report priced with LLMLab's catalog; billed: the cost report, exactly{DIM:#}"
    );
    text
}
