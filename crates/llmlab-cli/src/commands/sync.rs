//! `llmlab sync`: fetches the connected providers' usage and cost reports now.

use clap::{Args, ValueEnum};
use llmlab_api::{SyncReport, SyncRequest};

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{ServerArgs, Settings};
use crate::display::count;
use crate::printer::{self, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab sync                    Every connected provider, from where the last sync stopped
  llmlab sync --provider openai  Only OpenAI's reports
  llmlab sync --days 90          The last 90 days again (a re-reported day replaces, never adds)

The server also syncs every hour. Days are UTC; the last three are fetched again each time,
since providers revise them.";

/// A provider with usage and cost report APIs.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ReportProviderArg {
    Openai,
    Anthropic,
}

impl ReportProviderArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReportProviderArg::Openai => "openai",
            ReportProviderArg::Anthropic => "anthropic",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            ReportProviderArg::Openai => "OpenAI",
            ReportProviderArg::Anthropic => "Anthropic",
        }
    }
}

/// Fetch the connected providers' usage and cost reports now
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Only this provider's reports
    #[arg(long, value_name = "PROVIDER")]
    provider: Option<ReportProviderArg>,
    /// Sync this many days back instead of resuming (1 to 365)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=365))]
    days: Option<u32>,
    /// Print the results as JSON
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &SyncArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let request = SyncRequest { provider: args.provider.map(|p| p.as_str().to_owned()), days: args.days };
    let report: SyncReport = block_on(client.post("/api/sync", &request))??;
    if args.json {
        printer::out_json(&report)?;
    }
    report_results(&report, args.json)
}

/// One line per provider synced; the first failure becomes the command's error.
pub(crate) fn report_results(report: &SyncReport, json: bool) -> anyhow::Result<ExitStatus> {
    for result in &report.results {
        if !json {
            printer::info(&format!(
                "{}: UTC days {} to {} (exclusive), {} pages, {} usage rows, {} cost rows",
                result.provider,
                result.from,
                result.until,
                count(result.pages),
                count(result.usage_rows),
                count(result.cost_rows)
            ));
        }
    }
    if let Some(failed) = report.results.iter().find(|r| r.error.is_some()) {
        let message = failed.error.clone().unwrap_or_default();
        let hint = if failed.error_code.as_deref() == Some("admin_key_refused") {
            format!("give a working key with `llmlab connect {} --admin-key KEY`", failed.provider)
        } else {
            "what was fetched is kept; `llmlab sync` resumes where this one stopped".to_owned()
        };
        return Err(UserError::new(message).with_hint(hint).into());
    }
    Ok(ExitStatus::Success)
}
