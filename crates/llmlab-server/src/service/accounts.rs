//! Accounts and their API keys, as the API and the settings page show them.

use llmlab_api::{Account, ApiKeyInfo, SessionInfo};
use llmlab_store::{ApiKey, Session, User};

use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::ApiResult;
use crate::state::AppState;

/// The account's settings.
#[must_use]
pub fn account(user: &User) -> Account {
    Account {
        user_id: user.public_id.clone(),
        name: user.name.clone(),
        timezone: user.timezone.clone(),
        hard_budget: user.hard_budget,
        created_at: rfc3339(user.created_at),
    }
}

/// A key as listed (never its secret); `current` is the id of the key in use.
#[must_use]
pub fn key_info(key: ApiKey, current: &str) -> ApiKeyInfo {
    ApiKeyInfo {
        current: key.key_id == current,
        key_id: key.key_id,
        name: key.name,
        created_at: rfc3339(key.created_at),
        last_used_at: key.last_used_at.map(rfc3339),
        revoked_at: key.revoked_at.map(rfc3339),
    }
}

/// The account's API keys, the caller's own marked current.
pub async fn keys(state: &AppState, caller: &Caller) -> ApiResult<Vec<ApiKeyInfo>> {
    let keys = state.store.list_keys(caller.user.id).await?;
    Ok(keys.into_iter().map(|k| key_info(k, &caller.key_id)).collect())
}

/// A session as listed (never its token); `current` is the id of the session in use.
#[must_use]
pub fn session_info(session: Session, current: Option<&str>) -> SessionInfo {
    SessionInfo {
        current: current == Some(session.public_id.as_str()),
        session_id: session.public_id,
        key_id: session.key_id,
        user_agent: session.user_agent,
        created_at: rfc3339(session.created_at),
        last_seen_at: rfc3339(session.last_seen_at),
        expires_at: rfc3339(session.expires_at),
    }
}

/// The account's open dashboard sessions, the caller's own marked current.
pub async fn sessions(state: &AppState, caller: &Caller) -> ApiResult<Vec<SessionInfo>> {
    let sessions = state.store.list_sessions(caller.user.id, crate::clock::now_ms()).await?;
    Ok(sessions.into_iter().map(|s| session_info(s, caller.session.as_deref())).collect())
}
