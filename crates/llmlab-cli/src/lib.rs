//! The `llmlab` command line: one binary for the server, the proxy and the CLI.
//!
//! Each subcommand lives in `commands/<name>.rs` as one function returning an
//! [`ExitStatus`]. Data goes to stdout through [`printer`]; messages and
//! errors go to stderr as one line (plus an optional `hint:`).

mod client;
mod commands;
mod config;
mod display;
mod logging;
mod parse;
mod printer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use printer::UserError;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done.
    Success,
    /// The user asked for something that cannot be done (bad input, unknown model…).
    Failure,
    /// Something unexpected went wrong.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

const ABOUT: &str = "LLMLab: exact LLM cost tracking for OpenAI, Anthropic and Gemini";

const EXAMPLES: &str = "\
Examples:
  llmlab serve                         Start the server and dashboard on http://127.0.0.1:8787
  llmlab init                          Sign up on that server and write ~/.config/llmlab/config.toml
  llmlab status                        What your LLM calls cost: today, this month, by model, budget
  llmlab budget 500                    Set a $500 monthly budget (warnings at 80% and 100%)
  llmlab alerts add slack URL          Post budget and spend alerts in a Slack channel
  llmlab connect openai                Import OpenAI's own usage and cost reports (admin key)
  llmlab reconcile                     Tracked against billed, per day, provider and model
  llmlab optimize                      Ways to spend less, with the monthly saving of each
  llmlab export --output events.csv    Every event as CSV
  llmlab import claude-code --watch    Import Claude Code's (or Codex's) usage from its session logs
  llmlab config                        The settings in effect and where each comes from
  llmlab cost response.json            Price a saved provider response, offline
  llmlab prices claude-sonnet-4-5      Show one model's prices
  llmlab completions zsh               Shell completions

Exit status: 0 success, 1 a problem to fix (a mistyped command or value, the server, the key),
2 an unexpected error.";

#[derive(Parser)]
#[command(name = "llmlab", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Serve(commands::serve::ServeArgs),
    Init(commands::init::InitArgs),
    Status(commands::status::StatusArgs),
    Budget(commands::budget::BudgetArgs),
    Alerts(commands::alerts::AlertsArgs),
    Connect(commands::connect::ConnectArgs),
    Sync(commands::sync::SyncArgs),
    Reconcile(commands::reconcile::ReconcileArgs),
    Optimize(commands::optimize::OptimizeArgs),
    Export(commands::export::ExportArgs),
    Import(commands::import::ImportArgs),
    Config(commands::config::ConfigArgs),
    Cost(commands::cost::CostArgs),
    Prices(commands::prices::PricesArgs),
    Completions(commands::completions::CompletionsArgs),
}

/// Parses the command line, runs the command and maps its outcome to an exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return printer::report_usage_error(&error).into(),
    };
    let outcome = match cli.command {
        Command::Serve(args) => commands::serve::run(&args),
        Command::Init(args) => commands::init::run(&args),
        Command::Status(args) => commands::status::run(&args),
        Command::Budget(args) => commands::budget::run(&args),
        Command::Alerts(args) => commands::alerts::run(&args),
        Command::Connect(args) => commands::connect::run(&args),
        Command::Sync(args) => commands::sync::run(&args),
        Command::Reconcile(args) => commands::reconcile::run(&args),
        Command::Optimize(args) => commands::optimize::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Import(args) => commands::import::run(&args),
        Command::Config(args) => commands::config::run(&args),
        Command::Cost(args) => commands::cost::run(&args),
        Command::Prices(args) => commands::prices::run(&args),
        Command::Completions(args) => commands::completions::run(&args),
    };
    match outcome {
        Ok(status) => status.into(),
        Err(error) => printer::report_error(&error).into(),
    }
}
