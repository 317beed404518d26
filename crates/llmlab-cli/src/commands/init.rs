//! `llmlab init`: connect this machine to a server and write the config file.

use std::io::IsTerminal;

use clap::Args;
use llmlab_api::{SignupRequest, SignupResponse};
use serde::Serialize;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{
    ConfigFile, DEFAULT_BASE_URL, EnvVars, ServerArgs, Settings, Source, mask_key, normalize_base_url,
};
use crate::printer::{self, BOLD, DIM, GREEN, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab init                                     Ask for the server, sign up, write the config
  llmlab init --yes                               Sign up on http://127.0.0.1:8787 without asking
  llmlab init --server https://llmlab.example.com --api-key llm_…
  llmlab init --invite https://llmlab.example.com/signup?invite=inv_…   Sign up with an invite link
  LLMLAB_API_KEY=llm_… llmlab init --json         In CI: verify the key, write the config, print JSON

Without a key, `init` creates an account on the server. It never prompts when
stdin is not a terminal. The config file is `~/.config/llmlab/config.toml`
(or `$LLMLAB_CONFIG`), mode 0600, and the Python SDK reads it too.";

/// Connect to an LLMLab server: sign up (or verify a key) and write the config file
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Accept every default without asking (sign up unless a key is given)
    #[arg(long, short)]
    yes: bool,
    /// A name for a new account
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Sign up with an invite (the link or its `inv_…` token), on a server run with `--signup invite`
    #[arg(long, value_name = "LINK")]
    invite: Option<String>,
    /// Print the outcome as JSON (the key is masked)
    #[arg(long)]
    json: bool,
}

/// What `init` did, for `--json`.
#[derive(Serialize)]
struct Outcome {
    base_url: String,
    user_id: String,
    /// True when a new account was created.
    created_account: bool,
    api_key: String,
    config_path: String,
}

pub(crate) fn run(args: &InitArgs) -> anyhow::Result<ExitStatus> {
    let interactive = !args.yes && std::io::stdin().is_terminal();
    let settings = Settings::load(&ServerArgs::default())?;
    let mut file = ConfigFile::load(&settings.config_path)?;

    let base_url = choose_server(args, &settings, interactive)?;
    let stored_key = file
        .string("api_key")?
        .filter(|_| file.string("base_url").ok().flatten().as_deref() == Some(base_url.as_str()));
    let given_key = args
        .server
        .api_key
        .clone()
        .map(|k| (k.trim().to_owned(), Source::Flag))
        .or_else(|| crate::config::env_var(EnvVars::LLMLAB_API_KEY).map(|k| (k, Source::Env)))
        .filter(|(k, _)| !k.is_empty());

    let anonymous = Client::new(&base_url, None)?;
    let (key, account, created) = block_on(async {
        // Fail fast, and with the right message, when nothing listens there.
        anonymous.get::<llmlab_api::Health>("/health").await?;
        let hint = match &given_key {
            Some((_, Source::Env)) => "check `LLMLAB_API_KEY`, or unset it to create a new account",
            Some(_) => "check the key, or run `llmlab init` without `--api-key` to create a new account",
            None => "check the key, or leave it empty to create a new account",
        };
        let (key, created) = match given_key {
            Some((key, _)) => (key, false),
            None => obtain_key(args, &anonymous, stored_key, interactive).await?,
        };
        let Some(account) = Client::new(&base_url, Some(&key))?.login().await? else {
            return Err(UserError::new(format!(
                "the server at `{base_url}` rejected the API key `{}`",
                mask_key(&key)
            ))
            .with_hint(hint)
            .into());
        };
        anyhow::Ok((key, account, created))
    })??;

    file.set("base_url", &base_url);
    file.set("api_key", &key);
    file.save()?;

    let result = Outcome {
        base_url: base_url.clone(),
        user_id: account.user_id.clone(),
        created_account: created,
        api_key: mask_key(&key),
        config_path: file.path().display().to_string(),
    };
    if args.json {
        printer::out_json(&result)?;
    } else {
        let what = if created { "Created account" } else { "Signed in to account" };
        printer::info(&format!(
            "{GREEN}✓{GREEN:#} {what} {BOLD}{}{BOLD:#} on {base_url} (key `{}`)",
            account.user_id, result.api_key
        ));
        printer::info(&format!("{GREEN}✓{GREEN:#} Wrote {} (mode 0600)", result.config_path));
        printer::info(&format!(
            "\nNext: the Python SDK tracks any function that calls an LLM {DIM}(it reads this config){DIM:#}. Install it \
             from a clone of {REPOSITORY} with `pip install ./sdk/python` (on PyPI, once published: `pip install llmlab`):\n"
        ));
        printer::out(SNIPPET);
        printer::info(&format!("\nThen `{BOLD}llmlab status{BOLD:#}` shows the spend."));
    }
    Ok(ExitStatus::Success)
}

/// Where the SDK comes from until it is published (the clone has the CLI too).
const REPOSITORY: &str = "https://github.com/llmlab/llmlab";

/// The next step: three lines of Python.
const SNIPPET: &str = "\
from llmlab import track_cost
@track_cost(provider=\"openai\")
def ask(prompt): return client.chat.completions.create(model=\"gpt-4o-mini\", messages=[{\"role\": \"user\", \"content\": prompt}])
";

/// The server: `--server`, `LLMLAB_BASE_URL`, then (on a terminal) a question
/// whose default is the config file's server or the local one.
fn choose_server(args: &InitArgs, settings: &Settings, interactive: bool) -> anyhow::Result<String> {
    if let Some(flag) = args.server.server.as_deref() {
        return normalize_base_url(flag, Source::Flag, None);
    }
    // An invite link names its server.
    if let Some((server, _)) = args.invite.as_deref().and_then(|link| link.trim().split_once("/signup?"))
        && (server.starts_with("http://") || server.starts_with("https://"))
    {
        return normalize_base_url(server, Source::Flag, None);
    }
    if settings.base_url.source == Source::Env || !interactive {
        return Ok(settings.base_url.value.clone());
    }
    let mut default = if settings.base_url.source == Source::File {
        settings.base_url.value.clone()
    } else {
        DEFAULT_BASE_URL.to_owned()
    };
    // A typo or a server that is not up yet is asked again, with the reason, instead of ending `init`.
    loop {
        let Some(answer) = printer::ask("LLMLab server", Some(&default))? else {
            return Err(UserError::new("no server given: the input ended")
                .with_hint("run `llmlab init --server URL`")
                .into());
        };
        match normalize_base_url(&answer, Source::Flag, None).and_then(|url| check_server(&url).map(|()| url)) {
            Ok(url) => return Ok(url),
            Err(error) => {
                printer::report_error(&error);
                printer::info("Type another URL, or press Ctrl-C to stop.");
                default = answer;
            }
        }
    }
}

/// Whether an LLMLab server answers at `base_url` (its `/health`).
fn check_server(base_url: &str) -> anyhow::Result<()> {
    let client = Client::new(base_url, None)?;
    block_on(client.get::<llmlab_api::Health>("/health"))??;
    Ok(())
}

/// Without a key given: the stored one if it still works (and the user keeps
/// it), else one typed at the prompt, else a new account's. `true` when an
/// account was created.
async fn obtain_key(
    args: &InitArgs,
    anonymous: &Client,
    stored_key: Option<String>,
    interactive: bool,
) -> anyhow::Result<(String, bool)> {
    if let Some(key) = stored_key
        && keep_stored_key(anonymous.base_url(), &key, interactive).await?
    {
        return Ok((key, false));
    }
    if interactive {
        let key = printer::prompt_secret(
            "API key (hidden; leave empty to create a new account)",
            "pass it with `--api-key` or `LLMLAB_API_KEY`, or run `llmlab init --yes` to create an account",
        )?;
        if !key.is_empty() {
            return Ok((key, false));
        }
    }
    let name = match (&args.name, interactive) {
        (Some(name), _) => Some(name.clone()),
        (None, true) => Some(printer::prompt("Account name (optional)", None)?).filter(|n| !n.is_empty()),
        (None, false) => None,
    };
    let request = SignupRequest { name, invite: args.invite.clone() };
    let signup: SignupResponse = anonymous.post("/api/auth/signup", &request).await?;
    Ok((signup.api_key, true))
}

/// Whether to keep the key the config file already has for this server: yes
/// when it still works (asking first on a terminal); a rejected one is replaced.
async fn keep_stored_key(base_url: &str, key: &str, interactive: bool) -> anyhow::Result<bool> {
    let Some(account) = Client::new(base_url, Some(key))?.login().await? else {
        printer::warn(&format!("the configured key `{}` is not valid on {base_url}; replacing it", mask_key(key)));
        return Ok(false);
    };
    if interactive {
        let question = format!("Keep the configured key `{}` (account {})?", mask_key(key), account.user_id);
        return Ok(printer::confirm(&question, true)?);
    }
    Ok(true)
}
