//! LLMLab's HTTP server: the REST API (and, as they land, the dashboard and
//! the LLM proxy) over one [`llmlab_store::Store`].
//!
//! Handlers are thin: extract (the [`auth::Caller`] extractor checks the API
//! key), call one service function, map the result. Errors are
//! [`error::ApiError`]; every route is registered together with its `OpenAPI`
//! description, so `/api/openapi.json` cannot drift from the real routes.

pub mod auth;
pub mod cache;
pub mod clock;
pub mod env_vars;
pub mod error;
pub mod json;
pub mod limits;
mod openapi;
pub mod proxy;
pub mod query;
pub mod routes;
pub mod sealing;
pub mod secrets;
pub mod service;
pub mod session;
pub mod signup;
pub mod state;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::get;
use llmlab_store::{DbSettings, Store, StoreError};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::{AppState, ServerSettings};

/// The largest request body accepted; larger ones get 413.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// [`BODY_LIMIT`] for messages.
pub const BODY_LIMIT_TEXT: &str = "8 MiB";
/// How long shutdown waits for open connections after the last request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LLMLab",
        description = "Exact LLM cost tracking. Authenticate with `Authorization: Bearer llm_…` (get a key from \
                       `POST /api/auth/signup`). Money is a decimal string in fields ending `_usd`; times are RFC 3339. \
                       Errors are `{\"error\": {\"code\", \"message\"}}`. A request that changes data with the \
                       dashboard's session cookie instead of a key must come from the dashboard's own pages \
                       (`Origin` / `Sec-Fetch-Site`), or it gets 403 `cross_site_request`. Who may sign up is the \
                       server's choice (`llmlab serve --signup open|closed|invite`); sign-up and sign-in are \
                       rate-limited per client address (429 `rate_limited`, `Retry-After`)."
    ),
    paths(proxy::docs::openai, proxy::docs::anthropic, proxy::docs::gemini, routes::otlp::traces_doc),
    modifiers(&ApiKeySecurity),
    tags(
        (name = "health"), (name = "auth", description = "Accounts, sign-in and API keys"),
        (name = "events", description = "Tracking LLM calls"), (name = "costs"), (name = "budgets"),
        (name = "prices", description = "An account's own prices"), (name = "projects"),
        (name = "catalog", description = "The price catalog in force, updated without a release (admin token)"),
        (name = "alerts", description = "Where alerts go (webhook, Slack, Discord, email) and what was delivered"),
        (name = "recommendations", description = "Cost-saving tips from the account's own usage"),
        (name = "reports", description = "The providers' own usage and cost reports (admin keys), and tracked against billed"),
        (name = "proxy", description = "Zero-code tracking: point an OpenAI, Anthropic or Gemini client's base URL here"),
        (name = "otlp", description = "Zero-code tracking from OpenTelemetry: export LLM spans over OTLP/HTTP")
    )
)]
struct ApiDoc;

struct ApiKeySecurity;

impl utoipa::Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("llm_…").build()),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The server's admin token (`LLMLAB_ADMIN_TOKEN`)"))
                    .build(),
            ),
        );
    }
}

/// The API routes with their `OpenAPI` document.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::{
        alerts, auth, budgets, catalog, connections, costs, events, health, prices, projects, recommendations,
        reconciliation,
    };
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::get))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::create_session, auth::delete_session))
        .routes(routes!(auth::list_sessions, auth::end_all_sessions))
        .routes(routes!(auth::end_session))
        .routes(routes!(auth::create_invite))
        .routes(routes!(auth::get_account, auth::update_account))
        .routes(routes!(auth::list_keys, auth::create_key))
        .routes(routes!(auth::revoke_key))
        .routes(routes!(events::track))
        .routes(routes!(events::batch))
        .routes(routes!(events::export))
        .routes(routes!(costs::summary))
        .routes(routes!(budgets::get, budgets::set, budgets::remove))
        .routes(routes!(budgets::status))
        .routes(routes!(budgets::list_scoped, budgets::create_scoped))
        .routes(routes!(budgets::get_scoped, budgets::update_scoped, budgets::delete_scoped))
        .routes(routes!(budgets::reserve))
        .routes(routes!(budgets::release))
        .routes(routes!(prices::list, prices::set))
        .routes(routes!(prices::delete))
        .routes(routes!(catalog::get, catalog::update))
        .routes(routes!(projects::list))
        .routes(routes!(recommendations::list))
        .routes(routes!(alerts::list_channels, alerts::add_channel))
        .routes(routes!(alerts::remove_channel))
        .routes(routes!(alerts::test))
        .routes(routes!(alerts::log))
        .routes(routes!(connections::list, connections::connect))
        .routes(routes!(connections::remove))
        .routes(routes!(connections::test))
        .routes(routes!(connections::sync))
        .routes(routes!(reconciliation::get))
        .split_for_parts();
    openapi::complete(&mut document);
    (router, document)
}

/// The `OpenAPI` document of every route.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    let (api, document) = api();
    let document = Arc::new(document);
    api.route("/api/openapi.json", get(move || async move { axum::Json(document.as_ref().clone()) }))
        // OTLP/HTTP: its OpenAPI entry (`routes::otlp::traces_doc`) only describes it; bodies are protobuf or OTLP/JSON.
        .route("/v1/traces", axum::routing::post(routes::otlp::traces))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(ui::router())
        // Not the proxy's: it forwards bodies as they come, and provider requests (images) can be larger.
        .layer(axum::middleware::from_fn_with_state(
            limits::AuthGate::new(state.settings.auth_rate_limit, state.settings.trust_proxy_headers),
            limits::guard,
        ))
        .merge(proxy::router())
        .layer(
            // Spans carry the method and path only: a query string can hold a provider key (Gemini's `?key=`).
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error("{0}")]
    Key(#[from] sealing::SealingError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Where and what to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub address: SocketAddr,
    pub database: DbSettings,
    pub settings: ServerSettings,
    /// Shows an admin token generated at this start (the only time it is
    /// ever shown); `None` writes it to the log instead.
    pub show_admin_token: Option<fn(&str)>,
    /// Where the server key comes from, read once the database is open;
    /// `None` keeps `settings.alerts.sealer`.
    pub server_key: Option<sealing::ServerKey>,
}

/// Opens the database (running migrations), binds, and serves until
/// `shutdown` resolves; then stops accepting, lets running requests finish
/// (every acknowledged event is committed before its response), drains the
/// event writer and closes the database. `on_ready` gets the bound address.
pub async fn serve(
    options: ServeOptions,
    on_ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = Store::connect(&options.database)
        .await
        .map_err(|source| ServeError::Database { url: options.database.display_url(), source })?;
    let store = Arc::new(store);
    let mut settings = options.settings;
    settings.admin_token_hash = admin_token(&store, &settings, options.show_admin_token)
        .await
        .map_err(|source| ServeError::Database { url: options.database.display_url(), source })?;
    log_signup_policy(&settings);
    if let Some(key) = options.server_key {
        settings.alerts.sealer = key.load(store.backend())?;
    }
    // Ended sessions and used or expired invites are never read again.
    match store.purge_ended(clock::now_ms()).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "deleted ended sessions and invites"),
        Err(error) => tracing::warn!(%error, "could not delete ended sessions and invites"),
    }
    let catalog = service::catalog::load_at_start(&store)
        .await
        .map_err(|source| ServeError::Database { url: options.database.display_url(), source })?;
    let (writer, writer_task) = service::ingest::EventWriter::start(&store);
    let state = AppState::new(store.clone(), writer, settings);
    state.catalogs.replace(std::sync::Arc::new(catalog));
    let sweeper = service::budgets::holds::spawn_sweeper(&state);
    let catalog_refresh = service::catalog::spawn_refresh(&state);
    let public_url = state.settings.alerts.public_url.clone().unwrap_or_else(|| format!("http://{}", options.address));
    let alert_worker = service::alerts::worker::spawn(&store, &state.settings.alerts, public_url);
    let anomaly_checks = {
        let state = state.clone();
        service::alerts::worker::spawn_anomaly_checks(&store, move || state.alerts.take_spenders())
    };
    let report_sync = service::reports::worker::spawn(&state);
    let listener = tokio::net::TcpListener::bind(options.address)
        .await
        .map_err(|source| ServeError::Bind { address: options.address.to_string(), source })?;
    let bound = listener.local_addr()?;
    on_ready(bound);
    serve_until(listener, router(state), shutdown).await?;
    sweeper.abort();
    catalog_refresh.abort();
    alert_worker.abort();
    anomaly_checks.abort();
    if let Some(report_sync) = report_sync {
        report_sync.abort();
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, writer_task).await.is_err() {
        tracing::error!("the event writer did not finish in time");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The hash of the admin token in force: `LLMLAB_ADMIN_TOKEN`'s, else the
/// one stored at an earlier start. A server whose sign-up is not open and
/// that has neither generates one now, stores its hash and shows it once
/// (of several replicas starting together, only the one that stored it).
async fn admin_token(
    store: &Store,
    settings: &ServerSettings,
    show: Option<fn(&str)>,
) -> Result<Option<String>, StoreError> {
    if let Some(configured) = &settings.admin_token_hash {
        return Ok(Some(configured.clone()));
    }
    if let Some(stored) = store.admin_token_hash().await? {
        return Ok(Some(stored));
    }
    if settings.signup == signup::SignupPolicy::Open {
        return Ok(None);
    }
    let token = signup::generate_admin_token();
    let hash = signup::hash_secret(&token);
    if store.init_admin_token(&hash, clock::now_ms()).await? {
        if let Some(show) = show {
            show(&token);
        } else {
            tracing::warn!(
                "generated the admin token {token}: it is shown only now (the server keeps its hash); use it as \
                 `Authorization: Bearer …` to create accounts and invites. Lost? Set LLMLAB_ADMIN_TOKEN instead"
            );
        }
        return Ok(Some(hash));
    }
    store.admin_token_hash().await
}

/// Says at start who may sign up, and why.
fn log_signup_policy(settings: &ServerSettings) {
    let why = match (settings.signup_explicit, settings.signup) {
        (true, _) => "set by --signup / LLMLAB_SIGNUP",
        (false, signup::SignupPolicy::Open) => "the default when listening on a loopback address only",
        (false, _) => "the default when listening beyond loopback; --signup open|invite changes it",
    };
    let admin = if settings.admin_token_hash.is_some() { "an admin token is set" } else { "no admin token" };
    tracing::info!(signup = %settings.signup, "sign-up policy: {} ({why}; {admin})", settings.signup);
}

/// Serves with `TCP_NODELAY` on every connection (without it, kept-alive
/// clients wait ~40 ms on Nagle and delayed ACK) until `shutdown`, then
/// waits at most [`SHUTDOWN_GRACE`] for open connections.
async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let (stopping, mut stop_seen) = tokio::sync::watch::channel(false);
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    });
    // The peer's address, for the per-address limits on sign-up and sign-in.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing running requests");
        let _ = stopping.send(true);
    });
    tokio::select! {
        result = server => result,
        () = async {
            let _ = stop_seen.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after shutdown began; closing them");
            Ok(())
        }
    }
}
