//! `llmlab optimize`: ways to spend less, largest saving first.

use std::fmt::Write as _;

use clap::Args;
use llmlab_api::Recommendation;
use llmlab_core::Money;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{ServerArgs, Settings};
use crate::display::{usd, wrap};

/// Tips are wrapped to this many columns.
const WIDTH: usize = 100;
use crate::printer::{self, BOLD, DIM, GREEN};

const EXAMPLES: &str = "\
Examples:
  llmlab optimize             Tips from your last 30 days, with the monthly saving of each
  llmlab optimize --verbose   Each tip with the figures and assumptions it rests on
  llmlab optimize --json      A JSON list, largest saving first (assumptions included)";

/// Show how to spend less: cheaper models, prompt caching, the Batch API
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct OptimizeArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Also show the figures and assumptions each tip rests on
    #[arg(long, short)]
    verbose: bool,
    /// Print the recommendations as a JSON list
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &OptimizeArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let mut tips = block_on(client.get::<Vec<Recommendation>>("/api/recommendations"))??;
    // The server sorts already; keep that order stable and make sure of it.
    tips.sort_by_key(|t| std::cmp::Reverse(t.monthly_savings_usd.unwrap_or(Money::from_nanos(-1))));
    if args.json {
        printer::out_json(&tips)?;
        return Ok(ExitStatus::Success);
    }
    if tips.is_empty() {
        printer::info("No recommendations yet: they come from the spend of the last 30 days.");
        printer::hint("track some calls (see `llmlab init`), then run `llmlab optimize` again");
        return Ok(ExitStatus::Success);
    }
    if tips.iter().any(|t| t.source.as_deref() == Some("provider_report")) {
        printer::note(
            "LLMLab tracked no calls in the last 30 days: these tips come from the providers' own usage reports \
             (`llmlab connect`, OpenAI's request counts; UTC days)",
        );
    }
    printer::out(&render(&tips, args.verbose));
    if !args.verbose {
        printer::hint("`llmlab optimize --verbose` shows the figures and assumptions each tip rests on");
    }
    Ok(ExitStatus::Success)
}

fn render(tips: &[Recommendation], verbose: bool) -> String {
    let mut text = String::new();
    for (i, tip) in tips.iter().enumerate() {
        // Titles usually state the saving already ("…: save $212.40/mo"); add it when not.
        let saving = tip
            .monthly_savings_usd
            .filter(|_| !tip.title.contains('$'))
            .map(|s| format!("  {GREEN}save {}/mo{GREEN:#}", usd(s)))
            .unwrap_or_default();
        let _ = writeln!(text, "{BOLD}{}. {}{BOLD:#}{saving}", i + 1, tip.title);
        text.push_str(&wrap(&tip.detail, WIDTH, "   "));
        if verbose {
            for assumption in &tip.assumptions {
                let _ = write!(text, "{DIM}{}{DIM:#}", wrap(&format!("· {assumption}"), WIDTH, "   "));
            }
        }
        text.push('\n');
    }
    let best = tips.iter().filter_map(|t| t.monthly_savings_usd).max();
    if let Some(best) = best {
        let _ = writeln!(
            text,
            "{BOLD}Largest saving: {}/mo{BOLD:#} {DIM}(savings of different tips may overlap){DIM:#}",
            usd(best)
        );
    }
    text
}
