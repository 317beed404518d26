//! `llmlab serve`: the server, dashboard and proxy.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use llmlab_server::env_vars::ServerEnvVars;
use llmlab_server::limits::{self, AuthRateLimit};
use llmlab_server::proxy::{self, ProxySettings};
use llmlab_server::sealing::{Sealer, ServerKey};
use llmlab_server::service::budgets::holds::{DEFAULT_HOLD_TTL, HoldSettings};
use llmlab_server::signup::{self, SignupPolicy};
use llmlab_server::state::{AlertSettings, DEFAULT_ALERT_RETRY_BASE, SmtpSettings, SmtpTls};
use llmlab_server::{ServeOptions, ServerSettings};
use llmlab_store::DbSettings;

use crate::ExitStatus;
use crate::printer::UserError;

const EXAMPLES: &str = "\
Examples:
  llmlab serve                                        SQLite in your data folder, on 127.0.0.1:8787
  llmlab serve --port 9000 --database-url sqlite://./llmlab.db
  DATABASE_URL=postgres://user:pass@db:5432/llmlab llmlab serve --host 0.0.0.0
  llmlab serve --host 0.0.0.0 --signup invite         Reachable from the network; accounts by invitation
  llmlab serve --host 0.0.0.0 --secure-cookies --trust-proxy-headers   Behind a TLS-terminating proxy

Sign-ups: open on a loopback address, closed anywhere else unless `--signup` says
otherwise. Closed and invite-only servers have an admin token (`LLMLAB_ADMIN_TOKEN`,
or one generated at first start and shown once) that creates accounts and invites.";

const PROXY_HELP: &str = "\
Proxy (point an OpenAI, Anthropic or Gemini client at it, plus the header `X-LLMLab-Key: llm_…`):
  base URL http://HOST:PORT/proxy/openai/v1, …/proxy/anthropic, …/proxy/gemini";

/// The text after the flags: examples, then every environment variable (from the one registry).
fn after_help() -> String {
    format!("{EXAMPLES}\n\n{}\n\n{PROXY_HELP}", ServerEnvVars::help())
}

/// Run the LLMLab server: REST API, dashboard and LLM proxy
#[derive(Args)]
#[command(after_help = after_help())]
#[allow(clippy::struct_excessive_bools)] // each is an on/off flag of `llmlab serve`
pub(crate) struct ServeArgs {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1", env = ServerEnvVars::LLMLAB_HOST, value_parser = crate::parse::ip_address)]
    host: IpAddr,
    /// The port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8787, env = ServerEnvVars::LLMLAB_PORT, value_parser = crate::parse::port)]
    port: u16,
    /// `sqlite://PATH` or `postgres://…`; default: a SQLite file in your data folder
    #[arg(long, env = ServerEnvVars::DATABASE_URL, value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Mark the dashboard's session cookie `Secure` (set this behind HTTPS)
    #[arg(long, env = ServerEnvVars::LLMLAB_SECURE_COOKIES)]
    secure_cookies: bool,
    /// Who may create an account: `open` (anyone), `closed` (only with the admin token), `invite` (with an
    /// invite link) [default: open on a loopback address, closed otherwise]
    #[arg(long, env = ServerEnvVars::LLMLAB_SIGNUP, value_name = "POLICY", value_parser = parse_signup)]
    signup: Option<SignupPolicy>,
    /// Sign-up and sign-in attempts allowed per client address: `N/s`, `N/min` or `N/h` (N at once, then
    /// spread over the period), or `off`
    #[arg(long, env = ServerEnvVars::LLMLAB_AUTH_RATE_LIMIT, value_name = "RATE", default_value = "10/min",
          value_parser = parse_rate)]
    auth_rate_limit: RateSetting,
    /// Take the client's address from the last `X-Forwarded-For` entry (only behind a reverse proxy that sets it)
    #[arg(long, env = ServerEnvVars::LLMLAB_TRUST_PROXY_HEADERS)]
    trust_proxy_headers: bool,
    /// Where the proxy forwards `/proxy/openai/…`
    #[arg(long, env = ServerEnvVars::LLMLAB_UPSTREAM_OPENAI, value_name = "URL", default_value = proxy::DEFAULT_UPSTREAM_OPENAI)]
    upstream_openai: String,
    /// Where the proxy forwards `/proxy/anthropic/…`
    #[arg(long, env = ServerEnvVars::LLMLAB_UPSTREAM_ANTHROPIC, value_name = "URL", default_value = proxy::DEFAULT_UPSTREAM_ANTHROPIC)]
    upstream_anthropic: String,
    /// Where the proxy forwards `/proxy/gemini/…`
    #[arg(long, env = ServerEnvVars::LLMLAB_UPSTREAM_GEMINI, value_name = "URL", default_value = proxy::DEFAULT_UPSTREAM_GEMINI)]
    upstream_gemini: String,
    /// Seconds the proxy waits for an upstream's response headers before answering 504
    #[arg(long, env = ServerEnvVars::LLMLAB_UPSTREAM_TIMEOUT, value_name = "SECONDS", default_value_t = proxy::DEFAULT_UPSTREAM_TIMEOUT.as_secs_f64(), value_parser = crate::parse::seconds)]
    upstream_timeout: f64,
    /// Add `stream_options.include_usage` to proxied OpenAI chat streams that lack it, so their cost is
    /// known (the client then gets one extra chunk with empty `choices`)
    #[arg(long, env = ServerEnvVars::LLMLAB_PROXY_INCLUDE_USAGE)]
    proxy_include_usage: bool,
    /// Seconds a hard budget holds a call's worst-case cost when the call's event never comes (its server
    /// was killed mid-call); every server releases lapsed holds each second. Keep it above the longest call
    #[arg(long, env = ServerEnvVars::LLMLAB_BUDGET_HOLD_TTL, value_name = "SECONDS", default_value_t = DEFAULT_HOLD_TTL.as_secs_f64(), value_parser = crate::parse::seconds)]
    budget_hold_ttl: f64,
    /// Let alert webhooks target private and loopback addresses (link-local and cloud-metadata
    /// addresses stay refused). Off by default: a hosted server must not relay requests inward
    #[arg(long, env = ServerEnvVars::LLMLAB_ALERTS_ALLOW_PRIVATE, value_parser = clap::builder::FalseyValueParser::new())]
    alerts_allow_private: bool,
    /// Seconds before a failed alert delivery is tried again; each failure doubles it (up to 15 min,
    /// with jitter), for up to a day
    #[arg(long, env = ServerEnvVars::LLMLAB_ALERTS_RETRY_BASE, value_name = "SECONDS", default_value_t = DEFAULT_ALERT_RETRY_BASE.as_secs_f64(), value_parser = crate::parse::seconds)]
    alerts_retry_base: f64,
    /// Seconds between two syncs of every provider connection's usage and cost reports (`llmlab
    /// connect`), or `off` (then only `llmlab sync` syncs)
    #[arg(long, env = ServerEnvVars::LLMLAB_REPORT_SYNC_INTERVAL, value_name = "SECONDS", default_value = "3600", value_parser = parse_sync_interval)]
    report_sync_interval: SyncInterval,
    /// A day whose tracked spend is off the provider's bill by more than this percentage (and by more
    /// than `--drift-alert-usd`) raises a drift alert, once per day and provider
    #[arg(long, env = ServerEnvVars::LLMLAB_DRIFT_ALERT_PERCENT, value_name = "PERCENT", default_value = "5", value_parser = parse_non_negative)]
    drift_alert_percent: rust_decimal::Decimal,
    /// See `--drift-alert-percent`: the drift must also be more than this many dollars
    #[arg(long, env = ServerEnvVars::LLMLAB_DRIFT_ALERT_USD, value_name = "USD", default_value = "1", value_parser = parse_non_negative)]
    drift_alert_usd: rust_decimal::Decimal,
    /// The server's address as its users reach it (`https://llmlab.example.com`), for the links in
    /// alerts. Default: http://HOST:PORT
    #[arg(long, env = ServerEnvVars::LLMLAB_PUBLIC_URL, value_name = "URL")]
    public_url: Option<String>,
    /// Where the server key that seals alert channels' secrets is kept when none is given in the
    /// environment; generated there (mode 0600) on first start. Default: beside the SQLite database, or
    /// in the data folder
    #[arg(long, env = ServerEnvVars::LLMLAB_SECRET_KEY_FILE, value_name = "PATH")]
    secret_key_file: Option<std::path::PathBuf>,
    /// The SMTP server email alerts go through (with --smtp-from; the password is read from the
    /// environment only, so it never shows in a process list)
    #[arg(long, env = ServerEnvVars::LLMLAB_SMTP_HOST, value_name = "HOST")]
    smtp_host: Option<String>,
    /// The SMTP port. Default: 587, or 465 with `--smtp-tls tls`
    #[arg(long, env = ServerEnvVars::LLMLAB_SMTP_PORT, value_name = "PORT", value_parser = crate::parse::port)]
    smtp_port: Option<u16>,
    /// How the SMTP connection is secured: `starttls` (required), `tls` (from the first byte), or
    /// `none` (a local relay only)
    #[arg(long, env = ServerEnvVars::LLMLAB_SMTP_TLS, value_name = "MODE", default_value = "starttls", value_parser = parse_smtp_tls)]
    smtp_tls: SmtpTls,
    /// The SMTP user name
    #[arg(long, env = ServerEnvVars::LLMLAB_SMTP_USER, value_name = "USER")]
    smtp_user: Option<String>,
    /// The From address of alert emails, e.g. `LLMLab <alerts@example.com>`
    #[arg(long, env = ServerEnvVars::LLMLAB_SMTP_FROM, value_name = "ADDRESS")]
    smtp_from: Option<String>,
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitStatus> {
    init_logging();
    let database = match &args.database_url {
        Some(url) => DbSettings::from_url(url.trim()).map_err(|e| {
            UserError::new(e.to_string()).with_hint("use `sqlite://PATH` or `postgres://user:password@host:5432/db`")
        })?,
        None => DbSettings::sqlite_file(&default_database_path()?),
    };
    let options = ServeOptions {
        address: SocketAddr::new(args.host, args.port),
        database: database.clone(),
        settings: ServerSettings {
            secure_cookies: args.secure_cookies,
            signup: args.signup.unwrap_or_else(|| SignupPolicy::default_for(args.host)),
            signup_explicit: args.signup.is_some(),
            admin_token_hash: admin_token_hash()?,
            auth_rate_limit: args.auth_rate_limit.0,
            trust_proxy_headers: args.trust_proxy_headers,
            proxy: proxy_settings(args)?,
            holds: hold_settings(args)?,
            alerts: alert_settings(args)?,
            reports: report_settings(args)?,
        },
        show_admin_token: Some(show_admin_token),
        server_key: Some(server_key(args, &database)?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let on_ready = move |address: SocketAddr| {
        let place = database.sqlite_path().map_or_else(|| database.display_url(), |p| p.display().to_string());
        tracing::info!(%address, database = %place, "LLMLab is listening");
        crate::printer::note(&format!(
            "LLMLab is running at http://{address}/ ({} database: {place}); Ctrl-C stops it",
            database.backend().as_str()
        ));
    };
    let result = runtime.block_on(llmlab_server::serve(options, on_ready, shutdown_signal()));
    match result {
        Ok(()) => Ok(ExitStatus::Success),
        Err(llmlab_server::ServeError::Bind { address, source }) => {
            Err(UserError::new(format!("cannot listen on {address}: {source}"))
                .with_hint("is another `llmlab serve` running? pick another port with `--port`")
                .into())
        }
        Err(llmlab_server::ServeError::Database { url, source: llmlab_store::StoreError::Connect(cause) }) => {
            Err(UserError::new(format!("cannot connect to the database {url}: {cause}"))
                .with_hint(connect_hint(cause.problem))
                .into())
        }
        Err(error @ (llmlab_server::ServeError::Database { .. } | llmlab_server::ServeError::Key(_))) => {
            Err(UserError::new(error.to_string()).into())
        }
        Err(other) => Err(other.into()),
    }
}

/// `--auth-rate-limit`: a rate, or `None` for `off` (clap reads an
/// `Option` field as "flag absent", hence the wrapper).
#[derive(Clone, Copy, Debug)]
struct RateSetting(Option<AuthRateLimit>);

fn parse_rate(value: &str) -> Result<RateSetting, String> {
    limits::parse_auth_rate_limit(value).map(RateSetting)
}

/// `--signup`, with the accepted values in the error.
fn parse_signup(value: &str) -> Result<SignupPolicy, String> {
    value.parse()
}

/// The hash of `LLMLAB_ADMIN_TOKEN`, if set. Read from the environment
/// only (a flag would show it in the process list), and never logged.
fn admin_token_hash() -> anyhow::Result<Option<String>> {
    let Ok(token) = std::env::var(ServerEnvVars::LLMLAB_ADMIN_TOKEN) else { return Ok(None) };
    let token = token.trim();
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() < MIN_ADMIN_TOKEN_CHARS {
        return Err(UserError::new(format!(
            "{}: the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} characters",
            ServerEnvVars::LLMLAB_ADMIN_TOKEN
        ))
        .with_hint("generate one with `openssl rand -hex 32`")
        .into());
    }
    Ok(Some(signup::hash_secret(token)))
}

/// The shortest admin token accepted: it guards every account's creation.
const MIN_ADMIN_TOKEN_CHARS: usize = 24;

/// Shows the admin token generated at this (first) start: the only time it is shown.
fn show_admin_token(token: &str) {
    crate::printer::note(&format!(
        "generated an admin token, shown only now (the server keeps its hash): {token}\n  \
         Use it as `Authorization: Bearer …` to create accounts (POST /api/auth/signup) and invite links \
         (POST /api/auth/invites). Lost it? Set {} instead.",
        ServerEnvVars::LLMLAB_ADMIN_TOKEN
    ));
}

/// What to do about a database the server could not connect to.
fn connect_hint(problem: llmlab_store::ConnectProblem) -> &'static str {
    use llmlab_store::ConnectProblem;
    match problem {
        ConnectProblem::Refused => {
            "is PostgreSQL running there? Start it, or fix the host and port in `--database-url` / `DATABASE_URL`"
        }
        ConnectProblem::UnknownHost => "check the host name in `--database-url` / `DATABASE_URL`",
        ConnectProblem::NotPostgres => {
            "check the port in `--database-url` / `DATABASE_URL`: PostgreSQL listens on 5432 unless told otherwise"
        }
        ConnectProblem::Authentication => {
            "check the user name and password in the URL: `postgres://USER:PASSWORD@HOST:5432/DATABASE`"
        }
        ConnectProblem::NoDatabase => {
            "create it (`createdb NAME`, or `create database NAME;` in psql) or name an existing one in the URL"
        }
        ConnectProblem::TimedOut => "check the host, the port and any firewall between this machine and the database",
        ConnectProblem::Other => {
            "check `--database-url` / `DATABASE_URL`; `sqlite://PATH` works without a database server"
        }
    }
}

/// The proxy's settings, each upstream URL checked so a typo fails at start-up.
fn proxy_settings(args: &ServeArgs) -> anyhow::Result<ProxySettings> {
    for (flag, url) in [
        ("--upstream-openai", &args.upstream_openai),
        ("--upstream-anthropic", &args.upstream_anthropic),
        ("--upstream-gemini", &args.upstream_gemini),
    ] {
        proxy::check_upstream_url(url.trim()).map_err(|problem| UserError::new(format!("{flag}: {problem}")))?;
    }
    if !(args.upstream_timeout.is_finite() && args.upstream_timeout > 0.0) {
        return Err(UserError::new("--upstream-timeout: must be a positive number of seconds").into());
    }
    Ok(ProxySettings {
        upstream_openai: args.upstream_openai.trim().to_owned(),
        upstream_anthropic: args.upstream_anthropic.trim().to_owned(),
        upstream_gemini: args.upstream_gemini.trim().to_owned(),
        include_usage: args.proxy_include_usage,
        upstream_timeout: Duration::from_secs_f64(args.upstream_timeout),
    })
}

/// How long hard-budget holds last (`--budget-hold-ttl`).
fn hold_settings(args: &ServeArgs) -> anyhow::Result<HoldSettings> {
    if !(args.budget_hold_ttl.is_finite() && args.budget_hold_ttl > 0.0) {
        return Err(UserError::new("--budget-hold-ttl: must be a positive number of seconds").into());
    }
    Ok(HoldSettings { ttl: Duration::from_secs_f64(args.budget_hold_ttl) })
}

/// `--report-sync-interval`: seconds, or `off`.
#[derive(Clone, Copy, Debug)]
struct SyncInterval(Option<Duration>);

fn parse_sync_interval(value: &str) -> Result<SyncInterval, String> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(SyncInterval(None));
    }
    crate::parse::seconds(value).map(|s| SyncInterval(Some(Duration::from_secs_f64(s))))
}

fn parse_non_negative(value: &str) -> Result<rust_decimal::Decimal, String> {
    value
        .trim()
        .parse::<rust_decimal::Decimal>()
        .ok()
        .filter(|d| !d.is_sign_negative())
        .ok_or_else(|| format!("`{value}` is not a number of 0 or more"))
}

fn report_settings(args: &ServeArgs) -> anyhow::Result<llmlab_server::state::ReportSettings> {
    let min_usd = llmlab_core::Money::from_decimal_usd(args.drift_alert_usd)
        .map_err(|e| UserError::new(format!("--drift-alert-usd: {e}")))?;
    Ok(llmlab_server::state::ReportSettings {
        sync_interval: args.report_sync_interval.0,
        drift: llmlab_core::provider_report::reconcile::DriftThreshold {
            min_share_percent: args.drift_alert_percent,
            min_usd,
        },
    })
}

fn parse_smtp_tls(value: &str) -> Result<SmtpTls, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "starttls" => Ok(SmtpTls::Starttls),
        "tls" | "smtps" => Ok(SmtpTls::Tls),
        "none" | "plain" => Ok(SmtpTls::None),
        other => Err(format!("`{other}` is not an SMTP TLS mode: use starttls, tls or none")),
    }
}

/// Alert settings: targets, links, SMTP, and the server key.
fn alert_settings(args: &ServeArgs) -> anyhow::Result<AlertSettings> {
    if !(args.alerts_retry_base.is_finite() && args.alerts_retry_base > 0.0) {
        return Err(UserError::new("--alerts-retry-base: must be a positive number of seconds").into());
    }
    let public_url = match args.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => {
            let parsed = reqwest::Url::parse(url).map_err(|_| {
                UserError::new(format!("--public-url: {url:?} is not a URL, e.g. https://llmlab.example.com"))
            })?;
            Some(parsed.as_str().trim_end_matches('/').to_owned())
        }
        None => None,
    };
    let smtp = match (&args.smtp_host, &args.smtp_from) {
        (None, None) => None,
        (Some(host), Some(from)) => {
            llmlab_server::service::alerts::deliver::check_from(from)
                .map_err(|e| UserError::new(format!("--smtp-from: {e}")))?;
            let port = args.smtp_port.unwrap_or(if args.smtp_tls == SmtpTls::Tls { 465 } else { 587 });
            let password = std::env::var(ServerEnvVars::LLMLAB_SMTP_PASSWORD).ok().filter(|p| !p.is_empty());
            Some(SmtpSettings {
                host: host.clone(),
                port,
                tls: args.smtp_tls,
                user: args.smtp_user.clone(),
                password,
                from: from.clone(),
            })
        }
        (Some(_), None) => {
            return Err(UserError::new(
                "--smtp-host needs --smtp-from (LLMLAB_SMTP_FROM): the From address of alert emails",
            )
            .into());
        }
        (None, Some(_)) => return Err(UserError::new("--smtp-from needs --smtp-host (LLMLAB_SMTP_HOST)").into()),
    };
    Ok(AlertSettings {
        allow_private: args.alerts_allow_private,
        public_url,
        smtp,
        sealer: Sealer::ephemeral(), // replaced by `server_key` once the database is open
        retry_base: Duration::from_secs_f64(args.alerts_retry_base),
    })
}

/// The server key: `LLMLAB_SECRET_KEY`, else the key file (read, or generated, once the database is open).
fn server_key(args: &ServeArgs, database: &DbSettings) -> anyhow::Result<ServerKey> {
    let previous: Vec<String> = std::env::var(ServerEnvVars::LLMLAB_SECRET_KEY_PREVIOUS)
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if let Ok(key) = std::env::var(ServerEnvVars::LLMLAB_SECRET_KEY) {
        return Ok(ServerKey::Given(Sealer::from_base64(&key, &previous).map_err(|e| UserError::new(e.to_string()))?));
    }
    let path = match (&args.secret_key_file, database.sqlite_path()) {
        (Some(path), _) => path.clone(),
        (None, Some(db)) => db.with_file_name(KEY_FILE),
        (None, None) => default_database_path()?.with_file_name(KEY_FILE),
    };
    Ok(ServerKey::File { path, previous })
}

/// The server key file's name, beside the SQLite database.
const KEY_FILE: &str = "llmlab-server.key";

/// `~/.local/share/llmlab/llmlab.db` (or the platform's data folder).
fn default_database_path() -> anyhow::Result<std::path::PathBuf> {
    let base = dirs::data_dir().ok_or_else(|| {
        UserError::new("cannot find a data folder for the database").with_hint("pass `--database-url sqlite://PATH`")
    })?;
    Ok(base.join("llmlab").join("llmlab.db"))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Logs to stderr; `LLMLAB_LOG` filters, `LLMLAB_LOG_FORMAT=json` for machines.
/// Text lines escape control characters in values, so a request cannot forge a line.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env(ServerEnvVars::LLMLAB_LOG).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = if std::env::var(ServerEnvVars::LLMLAB_LOG_FORMAT).is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder
            .fmt_fields(crate::logging::EscapedFields)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
    let _ = installed;
}

/// The registry and the flags agree: every flag's `env` is a registered
/// variable for that flag, and every registered flag variable is used.
#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn every_flag_reads_its_registered_variable() {
        let command = Serve::command();
        let mut from_flags: Vec<(String, String)> = command
            .get_arguments()
            .filter_map(|a| Some((a.get_env()?.to_string_lossy().into_owned(), format!("--{}", a.get_long()?))))
            .collect();
        let mut registered: Vec<(String, String)> =
            ServerEnvVars::ALL.iter().filter_map(|v| Some((v.name.to_owned(), v.flag?.to_owned()))).collect();
        from_flags.sort();
        registered.sort();
        assert_eq!(from_flags, registered);
    }
}
