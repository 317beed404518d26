//! What every handler can reach, and the server's settings.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use llmlab_core::Catalog;
use llmlab_store::Store;

use crate::cache::{KEY_CACHE_TTL, PRICE_CACHE_TTL, PageCache, TtlCache};
use crate::error::ApiResult;
use crate::limits::AuthRateLimit;
use crate::sealing::Sealer;
use crate::signup::SignupPolicy;
// The components the state holds come from the files that define them, not
// from the services that use the state: no import circle.
use crate::service::alerts::memory::AlertMemory;
use crate::service::budgets::budget::Budget;
use crate::service::budgets::tracker::Budgets;
use crate::service::ingest::prepare::CustomPrices;
use crate::service::ingest::writer::EventWriter;

/// Server settings that handlers need.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Who may create an account (`--signup`).
    pub signup: SignupPolicy,
    /// Whether `--signup` was given, or [`SignupPolicy::default_for`] chose it (for the start-up log).
    pub signup_explicit: bool,
    /// SHA-256 of `LLMLAB_ADMIN_TOKEN`, hex. Without it, a server whose
    /// sign-up is not open generates a token at first start and stores its hash.
    pub admin_token_hash: Option<String>,
    /// Sign-up and sign-in attempts allowed per client address; `None`: unlimited.
    pub auth_rate_limit: Option<AuthRateLimit>,
    /// Take the client's address from `X-Forwarded-For` (set by a reverse
    /// proxy) instead of the connection's peer.
    pub trust_proxy_headers: bool,
    /// Where the LLM proxy forwards calls, and how.
    pub proxy: ProxySettings,
    /// How long a hard budget's hold on a call lasts without its event.
    pub holds: HoldSettings,
    /// Where alerts may go, how email is sent, and the key sealing channels' secrets.
    pub alerts: AlertSettings,
    /// How provider reports are synced and when their drift alerts.
    pub reports: ReportSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            secure_cookies: false,
            signup: SignupPolicy::Open,
            signup_explicit: false,
            admin_token_hash: None,
            auth_rate_limit: Some(AuthRateLimit::default()),
            trust_proxy_headers: false,
            proxy: ProxySettings::default(),
            holds: HoldSettings::default(),
            alerts: AlertSettings::default(),
            reports: ReportSettings::default(),
        }
    }
}

/// How often every provider connection is synced by default.
pub const DEFAULT_REPORT_SYNC_INTERVAL: Duration = Duration::from_hours(1);

/// Provider report settings.
#[derive(Clone, Copy, Debug)]
pub struct ReportSettings {
    /// How often every connection is synced (`--report-sync-interval`); `None`: only on demand.
    pub sync_interval: Option<Duration>,
    /// When a day's tracked-vs-billed drift raises an alert (`--drift-alert-percent`, `--drift-alert-usd`).
    pub drift: llmlab_core::provider_report::reconcile::DriftThreshold,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            sync_interval: Some(DEFAULT_REPORT_SYNC_INTERVAL),
            drift: llmlab_core::provider_report::reconcile::DriftThreshold::default(),
        }
    }
}

/// The first wait before an alert delivery is tried again; each failure doubles it (with jitter).
pub const DEFAULT_ALERT_RETRY_BASE: Duration = Duration::from_secs(1);

/// Alert delivery settings.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// Send webhooks to private and loopback addresses (`--alerts-allow-private`).
    pub allow_private: bool,
    /// The server's address as its users reach it, for the links in alerts
    /// (`--public-url`); without it, `http://<listen address>`.
    pub public_url: Option<String>,
    /// How email alerts are sent; `None`: email channels cannot deliver.
    pub smtp: Option<SmtpSettings>,
    /// Seals channels' URLs, addresses and signing secrets at rest.
    pub sealer: Sealer,
    /// The first retry's wait ([`DEFAULT_ALERT_RETRY_BASE`]).
    pub retry_base: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            allow_private: false,
            public_url: None,
            smtp: None,
            sealer: Sealer::ephemeral(),
            retry_base: DEFAULT_ALERT_RETRY_BASE,
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a local relay or test server only).
    None,
    /// STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP server email alerts go through.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The `From` address (`LLMLab <alerts@example.com>`).
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    /// Without the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("from", &self.from)
            .finish()
    }
}

/// The public API hosts the proxy forwards to unless told otherwise.
pub const DEFAULT_UPSTREAM_OPENAI: &str = "https://api.openai.com";
/// See [`DEFAULT_UPSTREAM_OPENAI`].
pub const DEFAULT_UPSTREAM_ANTHROPIC: &str = "https://api.anthropic.com";
/// See [`DEFAULT_UPSTREAM_OPENAI`].
pub const DEFAULT_UPSTREAM_GEMINI: &str = "https://generativelanguage.googleapis.com";
/// How long the proxy waits for an upstream's response headers by default.
/// Non-streamed reasoning calls can think for minutes; the official SDKs
/// wait 10 minutes, so the proxy does too.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_mins(10);

/// How long a hard budget's hold lasts by default when no event releases
/// it: longer than the proxy waits for an answer ([`DEFAULT_UPSTREAM_TIMEOUT`]),
/// with room for the answer to stream.
pub const DEFAULT_HOLD_TTL: Duration = Duration::from_mins(15);
/// How long a server trusts its copy of an account's hard budgets: a hard
/// budget created or changed through another replica is enforced here
/// within this time (at once on the replica that changed it).
pub const HARD_BUDGET_CACHE_TTL: Duration = Duration::from_secs(2);

/// How long hard-budget holds last (`--budget-hold-ttl`).
#[derive(Clone, Copy, Debug)]
pub struct HoldSettings {
    pub ttl: Duration,
}

impl Default for HoldSettings {
    fn default() -> Self {
        HoldSettings { ttl: DEFAULT_HOLD_TTL }
    }
}

/// How the proxy reaches the providers.
#[derive(Clone, Debug)]
pub struct ProxySettings {
    /// Base URL for `/proxy/openai/…` (`LLMLAB_UPSTREAM_OPENAI`).
    pub upstream_openai: String,
    /// Base URL for `/proxy/anthropic/…` (`LLMLAB_UPSTREAM_ANTHROPIC`).
    pub upstream_anthropic: String,
    /// Base URL for `/proxy/gemini/…` (`LLMLAB_UPSTREAM_GEMINI`).
    pub upstream_gemini: String,
    /// Add `stream_options.include_usage` to OpenAI chat streams that do not
    /// ask for it, so their usage (and cost) is known. Off by default: the
    /// client then receives one extra chunk with empty `choices`.
    pub include_usage: bool,
    /// How long to wait for an upstream's response headers before answering 504.
    pub upstream_timeout: Duration,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            upstream_openai: DEFAULT_UPSTREAM_OPENAI.to_owned(),
            upstream_anthropic: DEFAULT_UPSTREAM_ANTHROPIC.to_owned(),
            upstream_gemini: DEFAULT_UPSTREAM_GEMINI.to_owned(),
            include_usage: false,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }
}

/// The shared state behind every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<Store>,
    /// The price catalog in force; swapped by `llmlab prices update` ([`AppState::catalog`]).
    pub catalogs: CatalogInForce,
    pub writer: EventWriter,
    pub budgets: Budgets,
    pub key_touches: Mutex<HashMap<String, Instant>>,
    /// key id → (key row, account), so a request does not read both each time.
    pub keys: TtlCache<String, (llmlab_store::ApiKey, llmlab_store::User)>,
    /// account → its custom prices as rate cards.
    pub prices: TtlCache<i64, Arc<CustomPrices>>,
    /// account → its hard budgets, for the proxy's check before each call.
    pub hard_budgets: TtlCache<i64, Arc<Vec<Budget>>>,
    /// account → its rendered dashboard panels, reused while unchanged.
    pub pages: PageCache,
    /// What this server already raised (hard stops) and which accounts spent lately (anomaly checks).
    pub alerts: AlertMemory,
    pub settings: ServerSettings,
}

impl AppState {
    #[must_use]
    pub fn new(store: Arc<Store>, writer: EventWriter, settings: ServerSettings) -> Self {
        AppState(Arc::new(Shared {
            store,
            catalogs: CatalogInForce::default(),
            writer,
            budgets: Budgets::default(),
            key_touches: Mutex::new(HashMap::new()),
            keys: TtlCache::new(KEY_CACHE_TTL),
            prices: TtlCache::new(PRICE_CACHE_TTL),
            hard_budgets: TtlCache::new(HARD_BUDGET_CACHE_TTL),
            pages: PageCache::default(),
            alerts: AlertMemory::default(),
            settings,
        }))
    }
}

/// The price catalog the server prices with: the built-in one, or a newer one
/// loaded at run time (`POST /api/admin/catalog`, stored in the database).
pub struct ActiveCatalog {
    pub catalog: Catalog,
    /// The catalog's file, which an import from another format extends.
    pub text: std::borrow::Cow<'static, str>,
    /// When the update was applied (Unix ms); `None` for the built-in catalog.
    pub applied_at: Option<i64>,
}

impl ActiveCatalog {
    /// The catalog compiled into this binary.
    #[must_use]
    pub fn builtin() -> Self {
        ActiveCatalog {
            catalog: Catalog::builtin().clone(),
            text: std::borrow::Cow::Borrowed(llmlab_core::catalog::BUILTIN_CATALOG_TOML),
            applied_at: None,
        }
    }
}

/// The catalog in force, replaced whole (readers keep the one they took).
pub struct CatalogInForce(RwLock<Arc<ActiveCatalog>>);

impl Default for CatalogInForce {
    fn default() -> Self {
        CatalogInForce(RwLock::new(Arc::new(ActiveCatalog::builtin())))
    }
}

impl CatalogInForce {
    /// The catalog in force now.
    #[must_use]
    pub fn current(&self) -> Arc<ActiveCatalog> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Puts `next` in force; returns the one it replaces.
    pub fn replace(&self, next: Arc<ActiveCatalog>) -> Arc<ActiveCatalog> {
        std::mem::replace(&mut *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner), next)
    }
}

impl AppState {
    /// The price catalog in force now (a call prices with the one it took).
    #[must_use]
    pub fn catalog(&self) -> Arc<ActiveCatalog> {
        self.catalogs.current()
    }
}

impl AppState {
    /// The account's custom prices, cached briefly.
    pub async fn custom_prices(&self, user_id: i64) -> ApiResult<Arc<CustomPrices>> {
        if let Some(prices) = self.prices.get(&user_id) {
            return Ok(prices);
        }
        let prices = Arc::new(CustomPrices::new(&self.store.custom_prices(user_id).await?));
        self.prices.insert(user_id, prices.clone());
        Ok(prices)
    }

    /// The hash of the admin token in force (configured, or generated at first start), if there is one.
    #[must_use]
    pub fn admin_token_hash(&self) -> Option<&str> {
        self.settings.admin_token_hash.as_deref()
    }

    /// This server's address as the visitor reached it (`Host`), for
    /// snippets and links; `https` when the server runs with `--secure-cookies`.
    #[must_use]
    pub fn base_url(&self, headers: &axum::http::HeaderMap) -> String {
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8787");
        let scheme = if self.settings.secure_cookies { "https" } else { "http" };
        format!("{scheme}://{host}")
    }

    /// Forgets what is cached about an account (after it changed).
    pub fn forget_account(&self, user_id: i64) {
        self.keys.retain(|_, (_, user)| user.id != user_id);
        self.prices.retain(|id, _| *id != user_id);
        self.budgets.invalidate(user_id);
        self.hard_budgets.retain(|id, _| *id != user_id);
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
