//! `llmlab config`: the effective settings and where each came from; `set`/`unset`.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::ExitStatus;
use crate::config::{
    ConfigFile, EnvVars, KEYS, ServerArgs, Setting, Settings, Source, env_var, mask_key, normalize_base_url,
};
use crate::printer::{self, Align, GREEN, Table, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab config                                  The settings in effect and where each comes from
  llmlab config --json                           The same as JSON (the key is always masked)
  llmlab config set base_url https://llmlab.example.com
  llmlab config set api_key llm_…
  llmlab config unset api_key

Precedence, lowest first: defaults, the config file (`~/.config/llmlab/config.toml`,
or the file `LLMLAB_CONFIG` names), the environment (`LLMLAB_BASE_URL`,
`LLMLAB_API_KEY`), then flags (`--server`, `--api-key`). The Python SDK reads
the same file and variables.";

/// Show the effective settings and where each came from, or change the config file
#[derive(Args)]
#[command(after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    action: Option<ConfigAction>,
    #[command(flatten)]
    server: ServerArgs,
    /// Print JSON (the key is masked)
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Set a key in the config file (`base_url` or `api_key`)
    Set {
        #[arg(value_name = "KEY")]
        key: String,
        #[arg(value_name = "VALUE")]
        value: String,
    },
    /// Remove a key from the config file
    Unset {
        #[arg(value_name = "KEY")]
        key: String,
    },
}

#[derive(Serialize)]
struct Shown {
    config_file: FileShown,
    base_url: ValueShown,
    api_key: Option<ValueShown>,
}

#[derive(Serialize)]
struct FileShown {
    path: String,
    source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'static str>,
    exists: bool,
}

#[derive(Serialize)]
struct ValueShown {
    value: String,
    source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'static str>,
}

impl ValueShown {
    fn of(setting: &Setting, value: String) -> Self {
        ValueShown { value, source: setting.source, env: setting.env }
    }
}

pub(crate) fn run(args: &ConfigArgs) -> anyhow::Result<ExitStatus> {
    match &args.action {
        Some(ConfigAction::Set { key, value }) => set(key, Some(value)),
        Some(ConfigAction::Unset { key }) => set(key, None),
        None => show(args),
    }
}

fn show(args: &ConfigArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let path_env = (settings.config_path_source == Source::Env).then_some(EnvVars::LLMLAB_CONFIG);
    let shown = Shown {
        config_file: FileShown {
            path: settings.config_path.display().to_string(),
            source: settings.config_path_source,
            env: path_env,
            exists: settings.config_exists,
        },
        base_url: ValueShown::of(&settings.base_url, settings.base_url.value.clone()),
        api_key: settings.api_key.as_ref().map(|k| ValueShown::of(k, mask_key(&k.value))),
    };
    if args.json {
        printer::out_json(&shown)?;
        return Ok(ExitStatus::Success);
    }
    let mut table = Table::new(&[("setting", Align::Left), ("value", Align::Left), ("from", Align::Left)]);
    let file_state = if shown.config_file.exists { "" } else { " (missing)" };
    table.row(vec![
        "config file".to_owned(),
        format!("{}{file_state}", shown.config_file.path),
        settings.config_path_source.describe(path_env),
    ]);
    table.row(vec![
        "base_url".to_owned(),
        shown.base_url.value.clone(),
        settings.base_url.source.describe(settings.base_url.env),
    ]);
    match &settings.api_key {
        Some(key) => table.row(vec!["api_key".to_owned(), mask_key(&key.value), key.source.describe(key.env)]),
        None => table.row(vec!["api_key".to_owned(), "(none)".to_owned(), "-".to_owned()]),
    }
    printer::out(&table.render());
    if settings.api_key.is_none() {
        printer::hint("`llmlab init` signs up and writes the key");
    }
    Ok(ExitStatus::Success)
}

/// Writes (`Some`) or removes (`None`) one key of the config file.
fn set(key: &str, value: Option<&String>) -> anyhow::Result<ExitStatus> {
    if !KEYS.contains(&key) {
        return Err(UserError::new(format!("`{key}` is not a setting"))
            .with_hint(format!("the settings are {}", KEYS.map(|k| format!("`{k}`")).join(" and ")))
            .into());
    }
    let (path, _) = crate::config::config_path()?;
    let mut file = ConfigFile::load(&path)?;
    let env = if key == "base_url" { EnvVars::LLMLAB_BASE_URL } else { EnvVars::LLMLAB_API_KEY };
    if let Some(value) = value {
        let value =
            if key == "base_url" { normalize_base_url(value, Source::Flag, None)? } else { value.trim().to_owned() };
        if value.is_empty() {
            return Err(UserError::new(format!("the value of `{key}` is empty"))
                .with_hint(format!("`llmlab config unset {key}` removes it"))
                .into());
        }
        let shown = if key == "api_key" { mask_key(&value) } else { value.clone() };
        file.set(key, &value);
        file.save()?;
        printer::info(&format!("{GREEN}✓{GREEN:#} Set `{key}` to `{shown}` in {}", path.display()));
    } else {
        let removed = file.remove(key);
        file.save()?;
        if removed {
            printer::info(&format!("{GREEN}✓{GREEN:#} Removed `{key}` from {}", path.display()));
        } else {
            printer::info(&format!("`{key}` was not set in {}", path.display()));
        }
    }
    if env_var(env).is_some() {
        printer::warn(&format!("`{env}` is set and overrides the config file's `{key}`"));
    }
    Ok(ExitStatus::Success)
}
