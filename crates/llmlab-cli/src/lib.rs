//! The `llmlab` command line: one binary for the server, the proxy and the CLI.
//!
//! Each subcommand lives in `commands/<name>.rs` as one function returning an
//! [`ExitStatus`]. Data goes to stdout through [`printer`]; messages and
//! errors go to stderr as one line (plus an optional `hint:`).

mod commands;
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
  llmlab cost response.json            Price a saved provider response
  curl … | llmlab cost --json          Price a response (or SSE stream) from stdin
  llmlab prices claude-sonnet-4-5      Show one model's prices
  llmlab prices --provider google      List the catalog for one provider";

#[derive(Parser)]
#[command(name = "llmlab", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Serve(commands::serve::ServeArgs),
    Cost(commands::cost::CostArgs),
    Prices(commands::prices::PricesArgs),
}

/// Parses the command line, runs the command and maps its outcome to an exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => commands::serve::run(&args),
        Command::Cost(args) => commands::cost::run(&args),
        Command::Prices(args) => commands::prices::run(&args),
    };
    match outcome {
        Ok(status) => status.into(),
        Err(error) => printer::report_error(&error).into(),
    }
}
