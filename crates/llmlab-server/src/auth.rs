//! API keys: generated from the OS's CSPRNG, stored only as a SHA-256 hash,
//! looked up by their public prefix and compared in constant time.
//!
//! A key is `llm_` + 8 characters of public id + 40 secret characters
//! (base62, about 238 bits). The first 12 characters (`llm_` + id) are the
//! `key_id` that finds the row; the hash of the whole key proves possession.
//!
//! The [`Caller`] extractor takes a key from a header, or a dashboard
//! session from its cookie ([`crate::session`]); a session signs in as the
//! key it was opened with, for as long as both are valid.

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use llmlab_store::{ApiKey, NewApiKey, User};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ErrorCode};
use crate::secrets::{random_chars, sha256_hex};
use crate::session::{self, CrossSite};
use crate::state::AppState;

const PREFIX: &str = "llm_";
const ID_LEN: usize = 8;
const SECRET_LEN: usize = 40;
/// Full length of a key.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + SECRET_LEN;
/// `last_used_at` (`last_seen_at`) is written at most this often per key (session).
const TOUCH_INTERVAL: Duration = Duration::from_mins(10);
/// Header the proxy takes LLMLab's key from (the provider's key stays in `Authorization`).
pub const KEY_HEADER: &str = "x-llmlab-key";

/// A freshly generated key: the secret to show once, and what to store.
pub struct GeneratedKey {
    pub api_key: String,
    pub record: NewApiKey,
}

/// Generates a key from the operating system's CSPRNG.
#[must_use]
pub fn generate_key(name: Option<String>, now: i64) -> GeneratedKey {
    let mut key = String::with_capacity(KEY_LEN);
    key.push_str(PREFIX);
    key.extend(random_chars(ID_LEN + SECRET_LEN));
    let record = NewApiKey { key_id: key_id(&key).to_owned(), secret_hash: hash_key(&key), name, created_at: now };
    GeneratedKey { api_key: key, record }
}

/// The public id of a key: its first 12 characters.
#[must_use]
pub fn key_id(key: &str) -> &str {
    &key[..PREFIX.len() + ID_LEN]
}

/// SHA-256 of the whole key, hex. Keys have ~238 bits of entropy, so a fast
/// hash suffices; a slow KDF protects guessable passwords, not random keys.
#[must_use]
pub fn hash_key(key: &str) -> String {
    sha256_hex(key)
}

/// True when `key` has the shape of an LLMLab key.
#[must_use]
pub fn is_well_formed(key: &str) -> bool {
    key.len() == KEY_LEN && key.starts_with(PREFIX) && key[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    /// The API key used, or the one the dashboard session was opened with.
    pub key_id: String,
    /// The dashboard session's public id, when the session cookie signed the request.
    pub session: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match presented(parts)? {
            Credential::Key(key) => authenticate(state, &key).await,
            Credential::Session(token) => {
                // A browser attaches the cookie to requests other pages make; a header key it never adds by itself.
                if !parts.method.is_safe() {
                    session::check_same_origin(&parts.headers, &parts.uri, state.settings.secure_cookies)
                        .map_err(|refusal| cross_site_error(&refusal))?;
                }
                authenticate_session(state, &token).await
            }
        }
    }
}

/// Guards a request that signs in (opens a session): refused with 403 when a
/// browser marks it as sent by another site ([`session::check_not_cross_site`]).
/// An extractor, so it runs before the body is read.
pub struct SignInFromThisSite;

impl FromRequestParts<AppState> for SignInFromThisSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        session::check_not_cross_site(&parts.headers, &parts.uri, state.settings.secure_cookies)
            .map(|()| SignInFromThisSite)
            .map_err(|refusal| cross_site_error(&refusal))
    }
}

/// What a request authenticates with.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Credential {
    /// `Authorization: Bearer` or `X-LLMLab-Key`.
    Key(String),
    /// The dashboard's session cookie (its token).
    Session(String),
}

/// The credential a request carries: `Authorization: Bearer`, `X-LLMLab-Key`, or the dashboard's session cookie.
fn presented(parts: &Parts) -> Result<Credential, ApiError> {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(value) = header(KEY_HEADER) {
        return Ok(Credential::Key(value.to_owned()));
    }
    if let Some(value) = header(AUTHORIZATION.as_str()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidApiKey, "the Authorization header must be `Bearer llm_…`")
        })?;
        return Ok(Credential::Key(token.trim().to_owned()));
    }
    if let Some(token) = session::token_from_cookie(&parts.headers) {
        return Ok(Credential::Session(token));
    }
    Err(ApiError::new(
        ErrorCode::MissingApiKey,
        "no API key: send `Authorization: Bearer llm_…` (create one with `llmlab init` or POST /api/auth/signup)",
    ))
}

/// The 403 for a cookie-authenticated request that does not come from this server's pages.
pub(crate) fn cross_site_error(refusal: &CrossSite) -> ApiError {
    let why = match refusal {
        CrossSite::FetchSite(site) => {
            format!("the browser says another site or origin sent it (`Sec-Fetch-Site: {site}`)")
        }
        CrossSite::Origin(origin) => format!(
            "it comes from `{origin}`, not from this server (behind a reverse proxy, pass the original `Host` header on)"
        ),
        CrossSite::Unknown => {
            "it has neither an `Origin` nor a `Sec-Fetch-Site` header to show where it comes from".to_owned()
        }
    };
    ApiError::new(
        ErrorCode::CrossSiteRequest,
        format!(
            "refused: this request changes data with the dashboard's session cookie, but {why}; only this server's \
             own pages may do that. Scripts and other tools must send `Authorization: Bearer llm_…` instead"
        ),
    )
}

/// Checks a presented key and returns its account.
pub async fn authenticate(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::new(ErrorCode::InvalidApiKey, "the API key is not valid");
    if !is_well_formed(key) {
        return Err(invalid());
    }
    let Some((record, user)) = find_key(state, key_id(key)).await? else {
        return Err(invalid());
    };
    let presented = hash_key(key);
    if !bool::from(presented.as_bytes().ct_eq(record.secret_hash.as_bytes())) {
        return Err(invalid());
    }
    if record.revoked_at.is_some() {
        return Err(ApiError::new(ErrorCode::RevokedApiKey, "this API key was revoked"));
    }
    touch(state, &record.key_id, Touched::Key);
    Ok(Caller { user, key_id: record.key_id, session: None })
}

/// The key row with this public id and its account, through the short-lived cache.
async fn find_key(state: &AppState, key_id: &str) -> Result<Option<(ApiKey, User)>, ApiError> {
    if let Some(found) = state.keys.get(&key_id.to_owned()) {
        return Ok(Some(found));
    }
    let found = state.store.find_key(key_id).await?;
    if let Some(found) = &found {
        state.keys.insert(key_id.to_owned(), found.clone());
    }
    Ok(found)
}

/// The 401 for a session cookie that signs in no more.
#[must_use]
pub fn session_ended() -> ApiError {
    ApiError::new(
        ErrorCode::SessionEnded,
        "your dashboard session has ended (signed out, expired, or its API key was revoked): sign in again",
    )
}

/// Checks a session cookie's token: the session must be open, unexpired,
/// and its key not revoked. Read from the database on every request, so
/// ending a session takes effect at once on every replica.
pub async fn authenticate_session(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    if !session::is_token(token) {
        return Err(session_ended());
    }
    let Some(found) = state.store.find_session(&session::hash_token(token)).await? else {
        return Err(session_ended());
    };
    if found.revoked_at.is_some() || found.expires_at <= crate::clock::now_ms() {
        return Err(session_ended());
    }
    let Some((key, user)) = find_key(state, &found.key_id).await? else {
        return Err(session_ended());
    };
    if key.revoked_at.is_some() || user.id != found.user_id {
        return Err(session_ended());
    }
    touch(state, &found.public_id, Touched::Session);
    Ok(Caller { user, key_id: key.key_id, session: Some(found.public_id) })
}

/// What [`touch`] records the use of.
#[derive(Clone, Copy)]
enum Touched {
    Key,
    Session,
}

/// Updates a key's `last_used_at` or a session's `last_seen_at` in the
/// background, at most every [`TOUCH_INTERVAL`] (key ids and session ids
/// have different prefixes, so one map serves both).
fn touch(state: &AppState, id: &str, what: Touched) {
    let now = Instant::now();
    {
        let mut touched = state.key_touches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if touched.get(id).is_some_and(|at| now.duration_since(*at) < TOUCH_INTERVAL) {
            return;
        }
        touched.insert(id.to_owned(), now);
    }
    let store = state.store.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        let at = crate::clock::now_ms();
        let done = match what {
            Touched::Key => store.touch_key(&id, at).await,
            Touched::Session => store.touch_session(&id, at).await,
        };
        if let Err(error) = done {
            tracing::warn!(%error, "could not record a key's or a session's last use");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_unique_and_hashed() {
        let a = generate_key(None, 0);
        let b = generate_key(None, 0);
        assert!(is_well_formed(&a.api_key), "{}", a.api_key);
        assert_ne!(a.api_key, b.api_key);
        assert_eq!(a.record.key_id, &a.api_key[..12]);
        assert_eq!(a.record.secret_hash, hash_key(&a.api_key));
        assert!(!a.record.secret_hash.contains(&a.api_key[12..]));
    }

    #[test]
    fn malformed_keys_are_rejected_before_any_lookup() {
        assert!(!is_well_formed("llm_short"));
        assert!(!is_well_formed(&format!("sk-{}", "a".repeat(49))));
        assert!(!is_well_formed(&format!("llm_{}", "é".repeat(24))));
    }
}
