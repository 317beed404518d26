//! API keys: generated from the OS's CSPRNG, stored only as a SHA-256 hash,
//! looked up by their public prefix and compared in constant time.
//!
//! A key is `llm_` + 8 characters of public id + 40 secret characters
//! (base62, about 238 bits). The first 12 characters (`llm_` + id) are the
//! `key_id` that finds the row; the hash of the whole key proves possession.

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use llmlab_store::{NewApiKey, User};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ErrorCode};
use crate::session::{self, CrossSite};
use crate::state::AppState;

const PREFIX: &str = "llm_";
const ID_LEN: usize = 8;
const SECRET_LEN: usize = 40;
/// Full length of a key.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + SECRET_LEN;
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// `last_used_at` is written at most this often per key.
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

/// `n` uniformly random base62 characters (rejection sampling, no modulo bias).
fn random_chars(n: usize) -> impl Iterator<Item = char> {
    let mut out = Vec::with_capacity(n);
    let mut buffer = [0u8; 64];
    while out.len() < n {
        OsRng.try_fill_bytes(&mut buffer).expect("the operating system's random source works");
        // 62 × 4 = 248: bytes below it map evenly onto the alphabet.
        out.extend(buffer.iter().filter(|&&b| b < 248).map(|&b| char::from(ALPHABET[usize::from(b % 62)])));
    }
    out.truncate(n);
    out.into_iter()
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
    hex::encode(Sha256::digest(key.as_bytes()))
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
    pub key_id: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (key, source) = presented_key(parts)?;
        // A browser attaches the cookie to requests other pages make; a header key it never adds by itself.
        if source == KeySource::Cookie && !parts.method.is_safe() {
            session::check_same_origin(&parts.headers, &parts.uri, state.settings.secure_cookies)
                .map_err(|refusal| cross_site_error(&refusal))?;
        }
        authenticate(state, &key).await
    }
}

/// Where a request's key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeySource {
    /// `Authorization: Bearer` or `X-LLMLab-Key`.
    Header,
    /// The dashboard's session cookie.
    Cookie,
}

/// The key a request carries: `Authorization: Bearer`, `X-LLMLab-Key`, or the dashboard's session cookie.
fn presented_key(parts: &Parts) -> Result<(String, KeySource), ApiError> {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(value) = header(KEY_HEADER) {
        return Ok((value.to_owned(), KeySource::Header));
    }
    if let Some(value) = header(AUTHORIZATION.as_str()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidApiKey, "the Authorization header must be `Bearer llm_…`")
        })?;
        return Ok((token.trim().to_owned(), KeySource::Header));
    }
    if let Some(key) = session::key_from_cookie(&parts.headers) {
        return Ok((key, KeySource::Cookie));
    }
    Err(ApiError::new(
        ErrorCode::MissingApiKey,
        "no API key: send `Authorization: Bearer llm_…` (create one with `llmlab init` or POST /api/auth/signup)",
    ))
}

/// The 403 for a cookie-authenticated request that does not come from this server's pages.
fn cross_site_error(refusal: &CrossSite) -> ApiError {
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
    let id = key_id(key).to_owned();
    let found = if let Some(found) = state.keys.get(&id) {
        Some(found)
    } else {
        let found = state.store.find_key(&id).await?;
        if let Some(found) = &found {
            state.keys.insert(id, found.clone());
        }
        found
    };
    let Some((record, user)) = found else {
        return Err(invalid());
    };
    let presented = hash_key(key);
    if !bool::from(presented.as_bytes().ct_eq(record.secret_hash.as_bytes())) {
        return Err(invalid());
    }
    if record.revoked_at.is_some() {
        return Err(ApiError::new(ErrorCode::RevokedApiKey, "this API key was revoked"));
    }
    touch(state, &record.key_id);
    Ok(Caller { user, key_id: record.key_id })
}

/// Updates `last_used_at` in the background, at most every [`TOUCH_INTERVAL`].
fn touch(state: &AppState, key_id: &str) {
    let now = Instant::now();
    {
        let mut touched = state.key_touches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if touched.get(key_id).is_some_and(|at| now.duration_since(*at) < TOUCH_INTERVAL) {
            return;
        }
        touched.insert(key_id.to_owned(), now);
    }
    let store = state.store.clone();
    let key_id = key_id.to_owned();
    tokio::spawn(async move {
        if let Err(error) = store.touch_key(&key_id, crate::clock::now_ms()).await {
            tracing::warn!(%error, "could not record a key's last use");
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
