//! The dashboard's sessions: the cookie holds a random token (256 bits from
//! the operating system's CSPRNG), never the API key. The server stores only
//! the token's SHA-256, with the account, the key the session was opened
//! with, its times and the browser's user agent; a session ends when it
//! expires ([`SESSION_TTL`]), when it is signed out or revoked in settings,
//! or when its key is revoked. The cookie is `HttpOnly; SameSite=Strict`
//! (page scripts never see it), and `Secure` with `--secure-cookies`.
//!
//! `SameSite=Strict` does not tell ports apart (another app on
//! `127.0.0.1:9999` is the "same site"), so a request that changes state
//! with the cookie must also prove it comes from this server's own pages:
//! [`check_same_origin`].

use std::time::Duration;

use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri};

use crate::secrets::{random_chars, random_hex, sha256_hex};

/// The cookie's name.
pub const COOKIE_NAME: &str = "llmlab_session";
/// How long a session lasts after signing in, however much it is used.
pub const SESSION_TTL: Duration = Duration::from_hours(30 * 24);
/// Characters of the random part of a session's public id.
const PUBLIC_ID_LEN: usize = 12;
/// The longest user agent kept with a session.
const MAX_USER_AGENT_CHARS: usize = 200;

/// A new session token for the cookie: 32 random bytes, hex.
#[must_use]
pub fn new_token() -> String {
    random_hex(32)
}

/// A new session's public id (`ses_…`), shown in settings; it cannot sign anyone in.
#[must_use]
pub fn new_public_id() -> String {
    format!("ses_{}", random_chars(PUBLIC_ID_LEN).collect::<String>())
}

/// SHA-256 of a session token, hex: what the database stores and looks up.
/// The token is random and long, so a fast hash suffices.
#[must_use]
pub fn hash_token(token: &str) -> String {
    sha256_hex(token)
}

/// True when `value` has the shape of a session token (64 hex digits);
/// anything else is refused before any lookup.
#[must_use]
pub fn is_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The user agent to keep with a session: printable, at most 200 characters.
#[must_use]
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::USER_AGENT)?.to_str().ok()?.trim();
    let kept: String = value.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect();
    (!kept.is_empty()).then_some(kept)
}

/// The session token from the cookie, if the request carries one.
#[must_use]
pub fn token_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value that signs in with `token`; `secure` adds `Secure` (HTTPS).
#[must_use]
pub fn sign_in_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = SESSION_TTL.as_secs();
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// A `Set-Cookie` value that signs out.
#[must_use]
pub fn sign_out_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Why a state-changing request authenticated by the cookie was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrossSite {
    /// The browser says the request comes from elsewhere (`Sec-Fetch-Site`).
    FetchSite(String),
    /// `Origin` is not the origin this request was sent to.
    Origin(String),
    /// Neither header: browsers send one of them on every such request,
    /// so its origin cannot be known.
    Unknown,
}

/// Accepts a request only if it comes from this server's own pages:
/// `Sec-Fetch-Site`, when present, must be `same-origin` (or `none`: the
/// user's own action), and `Origin`, when present, must be this server; at
/// least one of them must be present. `https` (the server runs with
/// `--secure-cookies`, so behind HTTPS) also requires an `https` origin.
///
/// # Errors
/// [`CrossSite`] says which header failed.
pub fn check_same_origin(headers: &HeaderMap, uri: &Uri, https: bool) -> Result<(), CrossSite> {
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or("(not text)").trim());
    let fetch_site = text("sec-fetch-site");
    let origin = text(ORIGIN.as_str());
    if let Some(site) = fetch_site
        && site != "same-origin"
        && site != "none"
    {
        return Err(CrossSite::FetchSite(site.to_owned()));
    }
    if let Some(origin) = origin
        && !is_origin_of(origin, request_authority(headers, uri).as_ref(), https)
    {
        return Err(CrossSite::Origin(origin.to_owned()));
    }
    if fetch_site.is_none() && origin.is_none() {
        return Err(CrossSite::Unknown);
    }
    Ok(())
}

/// For requests that sign in (no cookie yet, so the strict check cannot
/// apply to scripts and tools): refuses what a browser marks as coming from
/// another site or origin, so no page elsewhere can sign a visitor into an
/// account of its choosing; a request with neither header is not a
/// browser's, and passes. `Sec-Fetch-Site`, when sent, decides alone: the
/// dashboard's pages send `Referrer-Policy: no-referrer`, under which
/// Chromium posts their plain HTML form with `Origin: null`.
///
/// # Errors
/// [`CrossSite`] says which header failed.
pub fn check_not_cross_site(headers: &HeaderMap, uri: &Uri, https: bool) -> Result<(), CrossSite> {
    match headers.get("sec-fetch-site").map(|v| v.to_str().unwrap_or("(not text)").trim()) {
        Some("same-origin" | "none") => Ok(()),
        Some(site) => Err(CrossSite::FetchSite(site.to_owned())),
        None => match check_same_origin(headers, uri, https) {
            Err(CrossSite::Unknown) => Ok(()),
            other => other,
        },
    }
}

/// Where the request was sent: `Host` (HTTP/1.1), or the URI's authority (HTTP/2).
fn request_authority(headers: &HeaderMap, uri: &Uri) -> Option<Authority> {
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).and_then(|h| h.trim().parse().ok());
    host.or_else(|| uri.authority().cloned())
}

/// True when `origin` (`scheme://host[:port]`) names `host`. The server sees
/// plain HTTP even behind a TLS proxy, so the scheme only sets the default
/// port, except that an HTTPS deployment accepts `https` origins only.
fn is_origin_of(origin: &str, host: Option<&Authority>, https: bool) -> bool {
    let Ok(origin) = origin.parse::<Uri>() else { return false };
    let (Some(scheme), Some(authority), Some(host)) = (origin.scheme_str(), origin.authority(), host) else {
        return false;
    };
    let default_port = match scheme {
        "https" => 443,
        "http" if !https => 80,
        _ => return false,
    };
    authority.host().eq_ignore_ascii_case(host.host())
        && authority.port_u16().unwrap_or(default_port) == host.port_u16().unwrap_or(default_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&'static str, &'static str)], https: bool) -> Result<(), CrossSite> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        check_same_origin(&headers, &Uri::from_static("/api/budgets"), https)
    }

    #[test]
    fn the_dashboards_own_requests_pass() {
        let own = [("host", "127.0.0.1:8787"), ("origin", "http://127.0.0.1:8787"), ("sec-fetch-site", "same-origin")];
        assert_eq!(check(&own, false), Ok(()));
        assert_eq!(check(&own[..2], false), Ok(()), "an older browser sends only Origin");
        assert_eq!(check(&[own[0], own[2]], false), Ok(()), "Sec-Fetch-Site alone");
        assert_eq!(check(&[("host", "[::1]:8787"), ("origin", "http://[::1]:8787")], false), Ok(()));
        assert_eq!(check(&[("host", "LLMLab.example.com"), ("origin", "https://llmlab.example.com")], true), Ok(()));
        assert_eq!(
            check(&[("host", "llmlab.example.com:443"), ("origin", "https://llmlab.example.com")], true),
            Ok(())
        );
    }

    #[test]
    fn requests_from_elsewhere_are_refused() {
        let host = ("host", "127.0.0.1:8787");
        let refused = |pairs: &[(&'static str, &'static str)], https| check(pairs, https).unwrap_err();
        assert_eq!(
            refused(&[host, ("sec-fetch-site", "cross-site")], false),
            CrossSite::FetchSite("cross-site".into())
        );
        assert_eq!(refused(&[host, ("sec-fetch-site", "same-site")], false), CrossSite::FetchSite("same-site".into()));
        for origin in [
            "http://evil.example",
            "http://127.0.0.1:9999",
            "http://127.0.0.1",
            "null",
            "file://",
            "https://127.0.0.1:8787/x y",
        ] {
            let pairs = [host, ("origin", origin)];
            assert!(matches!(refused(&pairs, false), CrossSite::Origin(_)), "{origin}");
        }
        assert!(matches!(
            refused(&[host, ("origin", "http://127.0.0.1:8787"), ("sec-fetch-site", "cross-site")], false),
            CrossSite::FetchSite(_)
        ));
        assert!(matches!(
            refused(&[host, ("origin", "http://evil.example"), ("sec-fetch-site", "same-origin")], false),
            CrossSite::Origin(_)
        ));
        assert_eq!(refused(&[host], false), CrossSite::Unknown);
        // Behind HTTPS, a plain-HTTP page on the same host is another origin.
        let http_page = [("host", "llmlab.example.com"), ("origin", "http://llmlab.example.com")];
        assert!(matches!(refused(&http_page, true), CrossSite::Origin(_)));
        assert!(matches!(refused(&[("origin", "http://127.0.0.1:8787")], false), CrossSite::Origin(_)), "no Host");
    }

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; llmlab_session=abc123; other=1".parse().unwrap());
        assert_eq!(token_from_cookie(&headers).as_deref(), Some("abc123"));
        headers.insert(COOKIE, "llmlab_session=".parse().unwrap());
        assert_eq!(token_from_cookie(&headers), None, "a cleared cookie is no session");
        assert!(sign_in_cookie("k", false).contains("HttpOnly; SameSite=Strict"));
        assert!(sign_in_cookie("k", true).ends_with("; Secure"));
        assert!(sign_out_cookie(true).contains("Max-Age=0") && sign_out_cookie(true).ends_with("; Secure"));
    }

    #[test]
    fn tokens_are_random_256_bit_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert!(is_token(&a) && is_token(&b), "{a}");
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
        assert!(!is_token("llm_abc") && !is_token(&"g".repeat(64)));
        assert!(new_public_id().starts_with("ses_") && new_public_id().len() == 16);
    }

    #[test]
    fn signing_in_is_refused_only_from_another_site() {
        let check = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, value.parse().unwrap());
            }
            check_not_cross_site(&headers, &Uri::from_static("/api/auth/session"), false)
        };
        let host = ("host", "127.0.0.1:8787");
        assert_eq!(check(&[host]), Ok(()), "a script or a tool");
        assert_eq!(check(&[host, ("origin", "http://127.0.0.1:8787")]), Ok(()));
        assert!(check(&[host, ("origin", "https://evil.example")]).is_err());
        assert!(check(&[host, ("sec-fetch-site", "cross-site")]).is_err());
        assert!(check(&[host, ("origin", "null")]).is_err());
        assert_eq!(
            check(&[host, ("origin", "null"), ("sec-fetch-site", "same-origin")]),
            Ok(()),
            "a form, no-referrer"
        );
    }
}
