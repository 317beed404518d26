//! The CLI's settings: defaults → the config file → `LLMLAB_*` environment
//! variables → command-line flags, each value remembering where it came from.
//!
//! The file (`~/.config/llmlab/config.toml`, or `$LLMLAB_CONFIG`) is shared
//! with the Python SDK, which reads exactly two top-level string keys from it:
//! `base_url` and `api_key`. Other keys are kept untouched when the CLI writes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use crate::printer::UserError;

/// Every environment variable the server-facing commands read, declared once
/// (the Python SDK mirrors this registry in `_config.py`).
pub(crate) struct EnvVars;

impl EnvVars {
    /// Path of the TOML config file shared with the Python SDK.
    pub(crate) const LLMLAB_CONFIG: &'static str = "LLMLAB_CONFIG";
    /// The account's API key (`llm_…`); overrides `api_key` in the config file.
    pub(crate) const LLMLAB_API_KEY: &'static str = "LLMLAB_API_KEY";
    /// Base URL of the LLMLab server; overrides `base_url` in the config file.
    pub(crate) const LLMLAB_BASE_URL: &'static str = "LLMLAB_BASE_URL";
}

/// The server a fresh install talks to: `llmlab serve` on this machine.
pub(crate) const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8787";

/// The keys `llmlab config set` accepts.
pub(crate) const KEYS: [&str; 2] = ["base_url", "api_key"];

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    Default,
    File,
    Env,
    Flag,
}

impl Source {
    pub(crate) fn describe(self, env: Option<&str>) -> String {
        match (self, env) {
            (Source::Env, Some(name)) => format!("env `{name}`"),
            (Source::Default, _) => "default".to_owned(),
            (Source::File, _) => "config file".to_owned(),
            (Source::Env, None) => "env".to_owned(),
            (Source::Flag, _) => "flag".to_owned(),
        }
    }
}

/// One value and its origin.
#[derive(Clone, Debug)]
pub(crate) struct Setting {
    pub(crate) value: String,
    pub(crate) source: Source,
    /// The environment variable, when `source` is [`Source::Env`].
    pub(crate) env: Option<&'static str>,
}

/// `--server` and `--api-key`, on every command that talks to a server.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct ServerArgs {
    /// The LLMLab server [default: the config file's `base_url`, else `http://127.0.0.1:8787`]
    #[arg(long, value_name = "URL", help_heading = "Server")]
    pub(crate) server: Option<String>,
    /// The API key [default: the config file's `api_key`]
    #[arg(long, value_name = "KEY", help_heading = "Server")]
    pub(crate) api_key: Option<String>,
}

/// The effective settings.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) config_path: PathBuf,
    /// `Default` or `Env` (`LLMLAB_CONFIG`).
    pub(crate) config_path_source: Source,
    pub(crate) config_exists: bool,
    pub(crate) base_url: Setting,
    pub(crate) api_key: Option<Setting>,
}

impl Settings {
    /// Layers defaults, the config file, the environment and `flags`.
    pub(crate) fn load(flags: &ServerArgs) -> anyhow::Result<Settings> {
        let (config_path, config_path_source) = config_path()?;
        let file = ConfigFile::load(&config_path)?;
        let layer = |key: &str, env: &'static str, flag: Option<&String>| -> anyhow::Result<Option<Setting>> {
            if let Some(value) = flag.map(|f| f.trim()).filter(|f| !f.is_empty()) {
                return Ok(Some(Setting { value: value.to_owned(), source: Source::Flag, env: None }));
            }
            if let Some(value) = env_var(env) {
                return Ok(Some(Setting { value, source: Source::Env, env: Some(env) }));
            }
            Ok(file.string(key)?.map(|value| Setting { value, source: Source::File, env: None }))
        };
        let base_url = layer("base_url", EnvVars::LLMLAB_BASE_URL, flags.server.as_ref())?.unwrap_or(Setting {
            value: DEFAULT_BASE_URL.to_owned(),
            source: Source::Default,
            env: None,
        });
        let base_url =
            Setting { value: normalize_base_url(&base_url.value, base_url.source, base_url.env)?, ..base_url };
        let api_key = layer("api_key", EnvVars::LLMLAB_API_KEY, flags.api_key.as_ref())?;
        Ok(Settings { config_exists: file.exists, config_path, config_path_source, base_url, api_key })
    }

    /// The API key, or a one-line error that says how to get one.
    pub(crate) fn require_key(&self) -> anyhow::Result<&str> {
        match &self.api_key {
            Some(key) => Ok(&key.value),
            None => Err(UserError::new("no API key is configured")
                .with_hint(format!(
                    "run `llmlab init` (it writes `{}`), or set `{}`",
                    self.config_path.display(),
                    EnvVars::LLMLAB_API_KEY
                ))
                .into()),
        }
    }
}

/// A non-empty environment variable.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `$LLMLAB_CONFIG`, else `~/.config/llmlab/config.toml` on every platform
/// (the SDK uses the same rule, so both always agree).
pub(crate) fn config_path() -> anyhow::Result<(PathBuf, Source)> {
    if let Some(path) = env_var(EnvVars::LLMLAB_CONFIG) {
        return Ok((expand_home(&path), Source::Env));
    }
    let home = dirs::home_dir().ok_or_else(|| {
        UserError::new("cannot find your home folder for the config file")
            .with_hint(format!("set `{}` to the config file's path", EnvVars::LLMLAB_CONFIG))
    })?;
    Ok((home.join(".config").join("llmlab").join("config.toml"), Source::Default))
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Checks a server URL and drops trailing slashes; `host:port` gets `http://`.
pub(crate) fn normalize_base_url(raw: &str, source: Source, env: Option<&str>) -> anyhow::Result<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let with_scheme = if trimmed.contains("://") { trimmed.to_owned() } else { format!("http://{trimmed}") };
    let parsed = reqwest::Url::parse(&with_scheme);
    match parsed {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(with_scheme),
        _ => Err(UserError::new(format!("`{raw}` (from the {}) is not a server URL", source.describe(env)))
            .with_hint("use one such as `http://127.0.0.1:8787` or `https://llmlab.example.com`")
            .into()),
    }
}

/// Shows the public part of a key: `llm_ab12cd34…`. Never prints the secret.
pub(crate) fn mask_key(key: &str) -> String {
    // The server's keys are `llm_` + 8 public id characters + the secret.
    let shown: String = key.chars().take(12).collect();
    if key.chars().count() > 16 { format!("{shown}…") } else { "…".repeat(usize::from(!key.is_empty())) }
}

/// The config file as a TOML table, to read and to update in place.
#[derive(Debug)]
pub(crate) struct ConfigFile {
    path: PathBuf,
    exists: bool,
    table: toml::Table,
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty one.
    pub(crate) fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            // A parent that is a file: there is no config file (and `save` says why it cannot write one).
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                return Ok(ConfigFile { path: path.to_owned(), exists: false, table: toml::Table::new() });
            }
            Err(e) => {
                return Err(UserError::new(format!("cannot read the config file `{}`: {e}", path.display())).into());
            }
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            UserError::new(format!(
                "the config file `{}` is not valid TOML: {}",
                path.display(),
                e.message().lines().next().unwrap_or_default()
            ))
            .with_hint("fix or delete it, then run `llmlab init`")
        })?;
        Ok(ConfigFile { path: path.to_owned(), exists: true, table })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A top-level string value; another type is an error naming the key.
    pub(crate) fn string(&self, key: &str) -> anyhow::Result<Option<String>> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err(UserError::new(format!(
                "`{key}` in the config file `{}` must be a string, not a {}",
                self.path.display(),
                other.type_str()
            ))
            .into()),
        }
    }

    /// Removes a key; whether it was there.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        self.table.remove(key).is_some()
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) {
        self.table.insert(key.to_owned(), toml::Value::String(value.to_owned()));
    }

    /// Writes the file atomically with mode 0600 (its folder 0700 when created).
    pub(crate) fn save(&self) -> anyhow::Result<()> {
        let not_writable = |e: std::io::Error| {
            anyhow::Error::from(
                UserError::new(format!("cannot write the config file `{}`: {e}", self.path.display()))
                    .with_hint(format!("set `{}` to a writable path", EnvVars::LLMLAB_CONFIG)),
            )
        };
        let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // `create_dir_all` under a file says "File exists": name the file instead.
        if let Some(file) = folder.ancestors().find(|a| a.exists()).filter(|a| !a.is_dir()) {
            return Err(not_writable(std::io::Error::other(format!("`{}` is not a folder", file.display()))));
        }
        create_private_dir(folder).map_err(not_writable)?;
        let body = toml::to_string(&self.table)?;
        let text = format!(
            "# LLMLab settings, shared by the `llmlab` CLI and the Python SDK.\n\
             # Written by `llmlab init` and `llmlab config set`; the API key is a secret.\n{body}"
        );
        let temporary = folder.join(format!(
            ".{}.{}.tmp",
            self.path.file_name().and_then(|n| n.to_str()).unwrap_or("config.toml"),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut file = private_file(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            not_writable(e)
        })
    }
}

#[cfg(unix)]
fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(folder)
}

#[cfg(not(unix))]
fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // A leftover temporary file keeps its old mode: set it explicitly.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_to_their_public_id() {
        assert_eq!(mask_key("llm_ab12cd34SECRETSECRETSECRET"), "llm_ab12cd34…");
        assert_eq!(mask_key("short"), "…");
        assert_eq!(mask_key(""), "");
    }

    #[test]
    fn server_urls_are_normalized_or_rejected() {
        let ok = |raw| normalize_base_url(raw, Source::Flag, None).unwrap();
        assert_eq!(ok("http://127.0.0.1:8787/"), "http://127.0.0.1:8787");
        assert_eq!(ok("localhost:9000"), "http://localhost:9000");
        assert_eq!(ok("https://llmlab.example.com/base"), "https://llmlab.example.com/base");
        let error = normalize_base_url("ftp://x", Source::Env, Some("LLMLAB_BASE_URL")).unwrap_err();
        assert_eq!(error.to_string(), "`ftp://x` (from the env `LLMLAB_BASE_URL`) is not a server URL");
    }

    #[test]
    fn saving_keeps_other_keys_and_is_private() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("nested").join("config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "project = \"web\"\napi_key = \"old\"\n").unwrap();
        let mut file = ConfigFile::load(&path).unwrap();
        file.set("api_key", "llm_new");
        file.save().unwrap();
        let again = ConfigFile::load(&path).unwrap();
        assert_eq!(again.string("api_key").unwrap().as_deref(), Some("llm_new"));
        assert_eq!(again.string("project").unwrap().as_deref(), Some("web"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
