//! `llmlab connect openai|anthropic`: gives the server an organization admin
//! key, which imports the provider's usage and cost reports (the last 30
//! days by default) and keeps them in sync.

use std::io::IsTerminal as _;

use clap::Args;
use llmlab_api::{ConnectRequest, SyncReport};

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::commands::sync::{ReportProviderArg, report_results};
use crate::config::{ServerArgs, Settings};
use crate::printer::{self, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab connect openai                      Asks for the OpenAI admin key (hidden), imports 30 days
  llmlab connect anthropic --days 90         Anthropic's reports of the last 90 days
  llmlab connect openai --admin-key sk-admin-…   Without a prompt (scripts)

An admin key (OpenAI: Organization settings → Admin keys, `sk-admin-…`; Anthropic: Console →
Settings → Admin keys, `sk-ant-admin…`) reads the organization's usage and cost reports. The
server keeps it sealed with its server key and never shows it again. Days are UTC.";

/// Import a provider's own usage and cost reports with an admin key
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// `openai` or `anthropic`
    provider: ReportProviderArg,
    /// The organization admin key [default: asked for, hidden]
    #[arg(long, value_name = "KEY")]
    admin_key: Option<String>,
    /// Days of reports to import now (1 to 365)
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=365))]
    days: u32,
    /// Print the sync's result as JSON
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ConnectArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let admin_key = match &args.admin_key {
        Some(key) => key.trim().to_owned(),
        None if std::io::stdin().is_terminal() => printer::prompt_secret(
            &format!("{} admin key (hidden)", args.provider.label()),
            "pass it with `--admin-key`",
        )?,
        None => {
            return Err(UserError::new(format!("no {} admin key given", args.provider.label()))
                .with_hint(format!("pass it with `llmlab connect {} --admin-key KEY`", args.provider.as_str()))
                .into());
        }
    };
    if admin_key.is_empty() {
        return Err(UserError::new("the admin key is empty").into());
    }
    let request = ConnectRequest { provider: args.provider.as_str().to_owned(), admin_key, days: Some(args.days) };
    if !args.json {
        printer::info(&format!("Importing {} days of {} usage and cost reports…", args.days, args.provider.label()));
    }
    let report: SyncReport = block_on(client.post("/api/connections", &request))??;
    if args.json {
        printer::out_json(&report)?;
    } else {
        printer::info(&format!(
            "Connected {}: its reports sync every hour, and on `llmlab sync`.",
            args.provider.label()
        ));
    }
    report_results(&report, args.json)
}
