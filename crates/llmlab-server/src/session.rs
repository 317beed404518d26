//! The dashboard's session cookie: the API key the user signed in with, in an
//! `HttpOnly; SameSite=Strict` cookie, so page scripts never see it and it is
//! never in a URL or in localStorage.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The cookie's name.
pub const COOKIE_NAME: &str = "llmlab_session";

/// The API key from the session cookie, if the request carries one.
#[must_use]
pub fn key_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value that signs in with `key`; `secure` adds `Secure` (HTTPS).
#[must_use]
pub fn sign_in_cookie(key: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{secure}")
}

/// A `Set-Cookie` value that signs out.
#[must_use]
pub fn sign_out_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; llmlab_session=llm_abc; other=1".parse().unwrap());
        assert_eq!(key_from_cookie(&headers).as_deref(), Some("llm_abc"));
        assert!(sign_in_cookie("k", false).contains("HttpOnly; SameSite=Strict"));
    }
}
