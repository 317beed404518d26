//! `llmlab completions`: the shell completion script.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::printer;
use crate::{Cli, ExitStatus};

const EXAMPLES: &str = "\
Examples:
  llmlab completions bash > ~/.local/share/bash-completion/completions/llmlab
  llmlab completions zsh > \"${fpath[1]}/_llmlab\"
  llmlab completions fish > ~/.config/fish/completions/llmlab.fish
  llmlab completions powershell >> $PROFILE";

/// Print the shell completion script for bash, zsh, fish, elvish or powershell
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CompletionsArgs {
    /// The shell
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

pub(crate) fn run(args: &CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "llmlab", &mut script);
    printer::out(&String::from_utf8(script)?);
    Ok(ExitStatus::Success)
}
