//! `llmlab import claude-code|codex [DIR] [--watch]`: a coding agent's
//! session logs imported as events, one per billed model response, priced by
//! the server like any other call (docs/coding-agents.md).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use llmlab_api::limits::MAX_PROJECT_CHARS;
use llmlab_core::agent_logs::billing::Detected;
use llmlab_core::agent_logs::{Agent, Billing};
use llmlab_core::display::{count, usd};

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::commands::import_files;
use crate::commands::import_run::Import;
use crate::commands::import_send::{Labels, Tally};
use crate::config::{ServerArgs, Settings};
use crate::printer::{self, BOLD, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab import claude-code                 Every Claude Code session (~/.claude/projects)
  llmlab import codex                       Every Codex session (~/.codex/sessions, archived ones too)
  llmlab import claude-code --watch         Then follow new responses as they are written
  llmlab import codex ~/backup/sessions     Sessions kept in another folder
  llmlab import claude-code --billing api   Count them as API spend whatever the login
  llmlab import codex --json                The summary as JSON

One event per billed model response, keyed by the agent's own ids: lines
repeated in a log, sessions resumed into a new file and a second import
add nothing. The project is the last folder of the session's working
directory; events are tagged source=claude-code|codex and
billing=api|subscription (see docs/coding-agents.md).";

/// Import a coding agent's session logs (Claude Code, Codex) as events
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ImportArgs {
    #[command(subcommand)]
    agent: AgentCommand,
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Import Claude Code's session logs (`~/.claude/projects/…/*.jsonl`)
    #[command(name = "claude-code", after_help = EXAMPLES)]
    ClaudeCode(ImportOptions),
    /// Import Codex's session logs (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`)
    #[command(after_help = EXAMPLES)]
    Codex(ImportOptions),
}

/// Who pays for the agent's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BillingChoice {
    /// From the agent's login: a Claude.ai or `ChatGPT` sign-in is a subscription, an API key is API spend
    Auto,
    /// API spend: pay per token
    Api,
    /// Covered by a subscription: imported as usage, tagged `billing=subscription`
    Subscription,
}

#[derive(Args)]
pub(crate) struct ImportOptions {
    /// The folder holding the session logs (read recursively) [default: where the agent writes them]
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep running and import responses as they are written (new lines and new files; Ctrl-C stops)
    #[arg(long)]
    watch: bool,
    /// Who pays for these calls; tagged on every event as `billing=api|subscription`
    #[arg(long, value_enum, default_value_t = BillingChoice::Auto)]
    billing: BillingChoice,
    /// Put every event in this project [default: the last folder of the session's working directory]
    #[arg(long, value_name = "NAME")]
    project: Option<String>,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) fn run(args: &ImportArgs) -> anyhow::Result<ExitStatus> {
    let (agent, options) = match &args.agent {
        AgentCommand::ClaudeCode(options) => (Agent::ClaudeCode, options),
        AgentCommand::Codex(options) => (Agent::Codex, options),
    };
    let dirs = import_files::log_dirs(agent, options.dir.as_deref())?;
    let billing = billing_of(agent, options.billing);
    let project = match options.project.as_deref().map(str::trim) {
        Some("") => return Err(UserError::new("`--project` must not be blank").into()),
        Some(name) if name.chars().count() > MAX_PROJECT_CHARS || name.chars().any(char::is_control) => {
            return Err(UserError::new(format!(
                "`--project` must be at most {MAX_PROJECT_CHARS} characters, without control characters"
            ))
            .into());
        }
        other => other.map(str::to_owned),
    };
    let settings = Settings::load(&options.server)?;
    let client = Client::authenticated(&settings)?;
    let labels = Labels { billing: billing.billing, project };
    let import = Import { agent, dirs, labels, client };
    let tally = if options.watch { block_on(super::import_watch::watch(&import))?? } else { block_on(import.once())?? };
    print_summary(&import, &billing, &tally, options.json)?;
    Ok(ExitStatus::Success)
}

/// `--billing`, or what the agent's login says.
fn billing_of(agent: Agent, choice: BillingChoice) -> Detected {
    match choice {
        BillingChoice::Auto => import_files::detect_billing(agent),
        BillingChoice::Api => Detected { billing: Billing::Api, reason: "`--billing api`".to_owned() },
        BillingChoice::Subscription => {
            Detected { billing: Billing::Subscription, reason: "`--billing subscription`".to_owned() }
        }
    }
}

fn print_summary(import: &Import, billing: &Detected, tally: &Tally, json: bool) -> anyhow::Result<()> {
    if json {
        let dirs: Vec<String> = import.dirs.iter().map(|d| d.display().to_string()).collect();
        let mut value = serde_json::to_value(tally)?;
        value["agent"] = import.agent.slug().into();
        value["directories"] = dirs.into();
        value["billing"] = billing.billing.tag().into();
        value["billing_reason"] = billing.reason.clone().into();
        return printer::out_json(&value);
    }
    let mut text = String::new();
    let dirs: Vec<String> = import.dirs.iter().map(|d| d.display().to_string()).collect();
    let files = plural(tally.files as u64, "file");
    let _ = writeln!(text, "{BOLD}{}{BOLD:#}: {files} in {}", import.agent.name(), dirs.join(", "));
    let _ = writeln!(
        text,
        "  {}: {} new, {} already imported",
        plural(tally.events, "response"),
        count(tally.new),
        count(tally.already_imported)
    );
    if tally.repeated_lines > 0 {
        let lines = plural(tally.repeated_lines, "line");
        let _ = writeln!(text, "  {lines} repeating a response already counted (counted once)");
    }
    if tally.unfinished > 0 {
        let responses = plural(tally.unfinished, "response");
        let _ = writeln!(text, "  {responses} still being written, left for the next import");
    }
    let _ = writeln!(text, "  Cost: {} ({} new)", usd(tally.cost_usd), usd(tally.new_cost_usd));
    if !tally.unpriced_models.is_empty() {
        let models: Vec<String> = tally.unpriced_models.iter().map(|(m, n)| format!("{m} ({})", count(*n))).collect();
        let _ = writeln!(text, "  Unpriced (no price yet, never $0): {}", models.join(", "));
    }
    let _ = writeln!(
        text,
        "  Billing: {} ({}); tagged billing={}",
        billing.billing.tag(),
        billing.reason,
        billing.billing.tag()
    );
    printer::out(&text);
    for (reason, n) in &tally.unusable_lines {
        printer::warn(&format!("skipped {}: {reason}", plural(*n, "line")));
    }
    for (model, provider) in &tally.unpriced_providers {
        printer::hint(&format!(
            "price `{model}` with `llmlab prices set {model} --provider {provider} --input USD_PER_1M --output USD_PER_1M`; its events are priced then"
        ));
    }
    if billing.billing == Billing::Subscription {
        printer::note(
            "a subscription's calls are usage, not spend: budgets scoped with `--tag billing=api` leave them out",
        );
    }
    Ok(())
}

fn plural(n: u64, word: &str) -> String {
    format!("{} {word}{}", count(n), if n == 1 { "" } else { "s" })
}
