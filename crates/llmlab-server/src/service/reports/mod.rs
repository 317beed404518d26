//! Provider reports: an account's connections to OpenAI's and Anthropic's
//! admin APIs, their syncs (`sync`, over `admin_api`), the spend their
//! reports show where nothing was tracked (`reported`), the reconciliation
//! of tracked against billed (`reconcile`), and the hourly sync (`worker`).

pub mod admin_api;
pub mod reconcile;
pub mod reported;
pub mod sync;
pub mod worker;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_api::{ConnectRequest, Connection, ConnectionList, ConnectionTest, SyncReport, SyncRequest};
use llmlab_core::provider_report::ReportProvider;
use llmlab_store::{ConnectionRow, User};

use self::admin_api::{AdminApi, AdminApiError, Report};
use self::sync::{DEFAULT_DAYS, MAX_DAYS, SyncJob};
use crate::clock;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

/// `openai` or `anthropic`, else a 422 naming the field.
fn provider_of(name: &str, field: &str) -> ApiResult<ReportProvider> {
    ReportProvider::parse(name).ok_or_else(|| {
        ApiError::invalid(field, format!("`{name}` has no report API LLMLab reads: use `openai` or `anthropic`"))
    })
}

fn days_of(days: Option<u32>) -> ApiResult<Option<u32>> {
    match days {
        Some(d) if d == 0 || d > MAX_DAYS => Err(ApiError::invalid("days", format!("give 1 to {MAX_DAYS} days"))),
        other => Ok(other),
    }
}

/// The base URL of a provider's admin API: the proxy's upstream.
fn base_url(state: &AppState, provider: ReportProvider) -> &str {
    match provider {
        ReportProvider::OpenAi => &state.settings.proxy.upstream_openai,
        ReportProvider::Anthropic => &state.settings.proxy.upstream_anthropic,
    }
}

fn api_error(error: &AdminApiError) -> ApiError {
    let code = match error {
        AdminApiError::KeyRefused { .. } => ErrorCode::AdminKeyRefused,
        _ => ErrorCode::ReportFailed,
    };
    ApiError::new(code, error.to_string())
}

/// One small request to the cost report (today), to check the key before it is kept.
async fn check_key(state: &AppState, provider: ReportProvider, key: &str) -> Result<(), AdminApiError> {
    let api = AdminApi::new(provider, base_url(state, provider), key);
    let today = sync::midnight_ms(Timestamp::now().to_zoned(TimeZone::UTC).date());
    let from = Timestamp::from_millisecond(today).unwrap_or(Timestamp::UNIX_EPOCH);
    let until = from + jiff::SignedDuration::from_hours(24);
    api.page(Report::Cost, from, until, None).await.map(|_| ())
}

/// Connects the account to a provider's reports: checks the admin key,
/// keeps it sealed, and imports the last `days` days (default 30).
pub async fn connect(state: &AppState, user: &User, request: &ConnectRequest) -> ApiResult<SyncReport> {
    let provider = provider_of(&request.provider, "provider")?;
    let key = request.admin_key.trim();
    if !provider.is_admin_key(key) {
        return Err(ApiError::invalid(
            "admin_key",
            format!(
                "this is not an {} admin key: admin keys start with `{}` (create one in the organization's admin \
                 settings; project and API keys cannot read the reports)",
                provider.label(),
                provider.admin_key_prefix()
            ),
        ));
    }
    let days = days_of(request.days)?.unwrap_or(DEFAULT_DAYS);
    check_key(state, provider, key).await.map_err(|e| api_error(&e))?;
    let sealed = state.settings.alerts.sealer.seal_admin_key(key);
    let connection = state
        .store
        .save_connection(user.id, provider.as_str(), &provider.key_hint(key), &sealed, i64::from(days), clock::now_ms())
        .await?;
    let result = sync_one(state, &connection, Some(days)).await?;
    Ok(SyncReport { results: vec![result] })
}

/// The account's connections, keys shown as hints only.
pub async fn list(state: &AppState, user: &User) -> ApiResult<ConnectionList> {
    let rows = state.store.connections(user.id).await?;
    Ok(ConnectionList { connections: rows.iter().map(connection_view).collect() })
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

fn connection_view(row: &ConnectionRow) -> Connection {
    let day = |ms: Option<i64>| ms.and_then(sync::day_of_ms).map(|d| d.to_string());
    Connection {
        provider: row.provider.clone(),
        key_hint: row.key_hint.clone(),
        backfill_days: u32::try_from(row.backfill_days).unwrap_or(DEFAULT_DAYS),
        created_at: rfc3339(row.created_at),
        last_sync_at: row.last_sync_at.map(rfc3339),
        last_error: row.last_error.clone(),
        usage_synced_until: day(row.usage_next_day),
        cost_synced_until: day(row.cost_next_day),
    }
}

async fn connection(state: &AppState, user: &User, provider: ReportProvider) -> ApiResult<ConnectionRow> {
    let rows = state.store.connections(user.id).await?;
    rows.into_iter().find(|c| c.provider == provider.as_str()).ok_or_else(|| {
        ApiError::not_found(format!(
            "this account has no {} connection; add one with `llmlab connect {provider}`",
            provider.label()
        ))
    })
}

/// Removes a connection and the report rows it brought in.
pub async fn remove(state: &AppState, user: &User, provider: &str) -> ApiResult<()> {
    let provider = provider_of(provider, "provider")?;
    if state.store.remove_connection(user.id, provider.as_str()).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("this account has no {} connection", provider.label())))
    }
}

/// Checks that the provider still accepts the connection's key; the outcome
/// is the connection's `last_error` until the next sync or check.
pub async fn test(state: &AppState, user: &User, provider: &str) -> ApiResult<ConnectionTest> {
    let provider = provider_of(provider, "provider")?;
    let row = connection(state, user, provider).await?;
    let key = open_key(state, &row)?;
    let (ok, message) = match check_key(state, provider, &key).await {
        Ok(()) => (true, format!("the {} admin key works", provider.label())),
        Err(error) => (false, error.to_string()),
    };
    state.store.set_connection_error(user.id, provider.as_str(), (!ok).then_some(message.as_str())).await?;
    Ok(ConnectionTest { provider: provider.as_str().to_owned(), ok, message })
}

fn open_key(state: &AppState, row: &ConnectionRow) -> ApiResult<String> {
    state
        .settings
        .alerts
        .sealer
        .open_admin_key(&row.key_sealed)
        .map_err(|e| ApiError::new(ErrorCode::ReportFailed, e.to_string()))
}

/// Syncs the account's connections (or one provider's) now.
pub async fn sync(state: &AppState, user: &User, request: &SyncRequest) -> ApiResult<SyncReport> {
    let days = days_of(request.days)?;
    let only = request.provider.as_deref().map(|p| provider_of(p, "provider")).transpose()?;
    let rows = match only {
        Some(provider) => vec![connection(state, user, provider).await?],
        None => state.store.connections(user.id).await?,
    };
    if rows.is_empty() {
        return Err(ApiError::not_found(
            "this account has no provider connection; add one with `llmlab connect openai` or `llmlab connect anthropic`",
        ));
    }
    let mut results = Vec::with_capacity(rows.len());
    for row in &rows {
        results.push(sync_one(state, row, days).await?);
    }
    Ok(SyncReport { results })
}

/// Syncs one connection and records the outcome on it.
pub async fn sync_one(state: &AppState, row: &ConnectionRow, days: Option<u32>) -> ApiResult<llmlab_api::SyncResult> {
    let provider = provider_of(&row.provider, "provider")?;
    let key = open_key(state, row)?;
    let catalog = state.catalog();
    let api = AdminApi::new(provider, base_url(state, provider), &key);
    let job = SyncJob {
        store: &state.store,
        catalog: &catalog.catalog,
        api: &api,
        connection: row,
        days,
        today: Timestamp::now().to_zoned(TimeZone::UTC).date(),
        sync_id: clock::now_ms(),
    };
    let result = sync::run(&job).await;
    if let Some(error) = &result.error {
        tracing::warn!(provider = %provider, user = row.user_id, %error, "provider report sync stopped");
    }
    state.store.finish_sync(row.user_id, &row.provider, clock::now_ms(), result.error.as_deref()).await?;
    if result.error.is_none() {
        reconcile::raise_drift_alerts(state, row.user_id, provider, &result).await;
    }
    Ok(result)
}
