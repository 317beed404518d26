//! `llmlab serve`: the server, dashboard and proxy.

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use llmlab_server::{ServeOptions, ServerSettings};
use llmlab_store::DbSettings;

use crate::ExitStatus;
use crate::printer::UserError;

const EXAMPLES: &str = "\
Examples:
  llmlab serve                                        SQLite in your data folder, on 127.0.0.1:8787
  llmlab serve --port 9000 --database-url sqlite://./llmlab.db
  DATABASE_URL=postgres://user:pass@db:5432/llmlab llmlab serve --host 0.0.0.0

Environment:
  DATABASE_URL        the database (`sqlite://PATH` or `postgres://…`)
  LLMLAB_LOG          log filter, e.g. `info` (default) or `llmlab_server=debug`
  LLMLAB_LOG_FORMAT   `json` for one JSON object per log line";

/// Run the LLMLab server: REST API, dashboard and LLM proxy
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ServeArgs {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1", env = "LLMLAB_HOST")]
    host: IpAddr,
    /// The port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8787, env = "LLMLAB_PORT")]
    port: u16,
    /// `sqlite://PATH` or `postgres://…`; default: a SQLite file in your data folder
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Mark the dashboard's session cookie `Secure` (set this behind HTTPS)
    #[arg(long, env = "LLMLAB_SECURE_COOKIES")]
    secure_cookies: bool,
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
        settings: ServerSettings { secure_cookies: args.secure_cookies },
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
        Err(error @ llmlab_server::ServeError::Database { .. }) => Err(UserError::new(error.to_string()).into()),
        Err(other) => Err(other.into()),
    }
}

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
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LLMLAB_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = if std::env::var("LLMLAB_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
    let _ = installed;
}
