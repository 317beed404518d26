//! Who may create an account: the sign-up policy (`--signup`), the server's
//! admin token and single-use invitations.
//!
//! A server that anyone on the network can reach must not hand out accounts
//! by accident, so the default depends on the listening address: `open` on
//! loopback (the local quickstart), `closed` anywhere else unless the
//! operator says otherwise. The admin token (`LLMLAB_ADMIN_TOKEN`, or one
//! generated at first start and shown once) can always create accounts and
//! invitations; in `invite` mode any account can invite others too.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

use crate::secrets::{random_chars, sha256_hex};

/// Who may sign up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignupPolicy {
    /// Anyone who can reach the server.
    #[default]
    Open,
    /// Only with the admin token.
    Closed,
    /// With an invitation (or the admin token).
    Invite,
}

impl SignupPolicy {
    /// The policy when none is set: open on a loopback address (only this
    /// machine can reach it), closed on any other.
    #[must_use]
    pub fn default_for(address: IpAddr) -> SignupPolicy {
        if address.is_loopback() { SignupPolicy::Open } else { SignupPolicy::Closed }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SignupPolicy::Open => "open",
            SignupPolicy::Closed => "closed",
            SignupPolicy::Invite => "invite",
        }
    }
}

impl fmt::Display for SignupPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignupPolicy {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(SignupPolicy::Open),
            "closed" => Ok(SignupPolicy::Closed),
            "invite" => Ok(SignupPolicy::Invite),
            other => Err(format!("`{other}` is not a sign-up policy: use `open`, `closed` or `invite`")),
        }
    }
}

const ADMIN_PREFIX: &str = "llmadm_";
const INVITE_PREFIX: &str = "inv_";
/// Random characters in an admin token or an invite (base62: about 238 bits).
const SECRET_LEN: usize = 40;

/// SHA-256, hex: how admin tokens and invites are stored and compared.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    sha256_hex(secret.trim())
}

/// A new admin token, from the operating system's CSPRNG.
#[must_use]
pub fn generate_admin_token() -> String {
    format!("{ADMIN_PREFIX}{}", random_chars(SECRET_LEN).collect::<String>())
}

/// A new invite token, from the operating system's CSPRNG.
#[must_use]
pub fn generate_invite() -> String {
    format!("{INVITE_PREFIX}{}", random_chars(SECRET_LEN).collect::<String>())
}

/// The invite token in what a user pasted: the token itself, or a whole
/// invite link (`https://host/signup?invite=inv_…`).
#[must_use]
pub fn invite_token(pasted: &str) -> &str {
    let pasted = pasted.trim();
    match pasted.split_once("invite=") {
        Some((_, rest)) => rest.split(['&', '#']).next().unwrap_or_default(),
        None => pasted,
    }
}

/// True when the request's `Authorization: Bearer` is the admin token whose
/// hash is `admin_hash` (compared in constant time).
#[must_use]
pub fn is_admin(headers: &HeaderMap, admin_hash: Option<&str>) -> bool {
    let (Some(presented), Some(admin_hash)) = (bearer(headers), admin_hash) else { return false };
    bool::from(hash_secret(presented).as_bytes().ct_eq(admin_hash.as_bytes()))
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_server_is_open_by_default() {
        for loopback in ["127.0.0.1", "::1", "127.0.0.2"] {
            assert_eq!(SignupPolicy::default_for(loopback.parse().unwrap()), SignupPolicy::Open, "{loopback}");
        }
        for reachable in ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "203.0.113.5"] {
            assert_eq!(SignupPolicy::default_for(reachable.parse().unwrap()), SignupPolicy::Closed, "{reachable}");
        }
    }

    #[test]
    fn policies_parse_and_name_themselves() {
        for policy in [SignupPolicy::Open, SignupPolicy::Closed, SignupPolicy::Invite] {
            assert_eq!(policy.as_str().parse::<SignupPolicy>(), Ok(policy));
        }
        assert_eq!(" Invite ".parse::<SignupPolicy>(), Ok(SignupPolicy::Invite));
        assert!("public".parse::<SignupPolicy>().unwrap_err().contains("`open`, `closed` or `invite`"));
    }

    #[test]
    fn an_invite_is_found_in_a_link_or_alone() {
        let invite = generate_invite();
        assert!(invite.starts_with("inv_") && invite.len() == 44, "{invite}");
        assert_eq!(invite_token(&invite), invite);
        assert_eq!(invite_token(&format!(" https://llmlab.example.com/signup?invite={invite} ")), invite);
        assert_eq!(invite_token(&format!("/signup?invite={invite}&x=1")), invite);
    }

    #[test]
    fn the_admin_token_is_checked_against_its_hash() {
        let token = generate_admin_token();
        let hash = hash_secret(&token);
        let mut headers = HeaderMap::new();
        assert!(!is_admin(&headers, Some(&hash)), "no header");
        headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        assert!(is_admin(&headers, Some(&hash)));
        assert!(!is_admin(&headers, None), "no admin token configured");
        headers.insert(AUTHORIZATION, format!("Bearer {token}x").parse().unwrap());
        assert!(!is_admin(&headers, Some(&hash)));
    }
}
