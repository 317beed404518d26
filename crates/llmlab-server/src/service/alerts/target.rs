//! Where a channel may send: a webhook URL that does not make the server an
//! SSRF relay, or an email address; and the hint of it that is shown.
//!
//! Refused always: link-local addresses (`169.254.0.0/16`, `fe80::/10`, where
//! cloud metadata services answer), the metadata services' other addresses
//! and host names, unspecified, multicast and broadcast addresses. Refused
//! unless the server allows private targets (`--alerts-allow-private`):
//! loopback, private (RFC 1918, `fc00::/7`) and shared (`100.64.0.0/10`)
//! addresses. A host name is checked when the channel is added and again
//! every time it is resolved to send (the resolver drops forbidden
//! addresses), so a name that later resolves inward is refused then too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use llmlab_api::ChannelKind;
use reqwest::Url;

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not a URL: give the full webhook URL, starting with https://")]
    NotAUrl(String),
    #[error("the webhook URL must start with https:// or http://, not {0}:")]
    Scheme(String),
    #[error("{0:?} is not an email address")]
    NotAnAddress(String),
    #[error(
        "{host} is {why}: alerts are not sent there (a server must not relay requests into its own network). \
         Allow private and loopback targets with `llmlab serve --alerts-allow-private` (LLMLAB_ALERTS_ALLOW_PRIVATE=1)"
    )]
    Private { host: String, why: &'static str },
    #[error("{host} is {why}: alerts are never sent there")]
    Forbidden { host: String, why: &'static str },
    #[error("the target is too long (at most 2048 characters)")]
    TooLong,
}

/// Host names of cloud metadata services.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata.goog", "metadata", "instance-data"];

/// Whether sending to `ip` is refused, and why: `Err(Forbidden)` always,
/// `Err(Private)` unless `allow_private`.
pub fn check_ip(host: &str, ip: IpAddr, allow_private: bool) -> Result<(), TargetError> {
    let forbidden = |why| Err(TargetError::Forbidden { host: host.to_owned(), why });
    let private = |why| if allow_private { Ok(()) } else { Err(TargetError::Private { host: host.to_owned(), why }) };
    match ip {
        IpAddr::V4(v4) => check_v4(v4, forbidden, private),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return check_v4(v4, forbidden, private);
            }
            let first = v6.segments()[0];
            if v6.is_unspecified() || v6.is_multicast() {
                forbidden("not a single host")
            } else if first & 0xffc0 == 0xfe80 {
                forbidden("a link-local address (where cloud metadata services answer)")
            } else if v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
                forbidden("a cloud metadata service")
            } else if v6.is_loopback() {
                private("a loopback address")
            } else if first & 0xfe00 == 0xfc00 {
                private("a private address")
            } else {
                Ok(())
            }
        }
    }
}

fn check_v4(
    v4: Ipv4Addr,
    forbidden: impl Fn(&'static str) -> Result<(), TargetError>,
    private: impl Fn(&'static str) -> Result<(), TargetError>,
) -> Result<(), TargetError> {
    let [a, b, ..] = v4.octets();
    if v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || a == 0 {
        forbidden("not a single host")
    } else if v4.is_link_local() {
        forbidden("a link-local address (where cloud metadata services answer)")
    } else if v4 == Ipv4Addr::new(100, 100, 100, 200) {
        forbidden("a cloud metadata service")
    } else if v4.is_loopback() {
        private("a loopback address")
    } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
        private("a private address")
    } else {
        Ok(())
    }
}

/// A channel's target, checked: a URL for webhooks, Slack and Discord, an
/// address for email. Host names are resolved when sending.
pub fn check_target(kind: ChannelKind, target: &str, allow_private: bool) -> Result<String, TargetError> {
    let target = target.trim();
    if target.len() > 2048 {
        return Err(TargetError::TooLong);
    }
    if kind == ChannelKind::Email {
        let address: lettre::Address = target.parse().map_err(|_| TargetError::NotAnAddress(target.to_owned()))?;
        return Ok(address.to_string());
    }
    let url = check_url(target, allow_private)?;
    Ok(url.to_string())
}

/// A webhook URL, checked for scheme and (if literal) address.
pub fn check_url(target: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = Url::parse(target).map_err(|_| TargetError::NotAUrl(target.to_owned()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(TargetError::Scheme(url.scheme().to_owned()));
    }
    let host = url.host_str().ok_or_else(|| TargetError::NotAUrl(target.to_owned()))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        check_ip(host, ip, allow_private)?;
    } else {
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_HOSTS.contains(&name.as_str()) {
            return Err(TargetError::Forbidden { host: host.to_owned(), why: "a cloud metadata service" });
        }
        if (name == "localhost" || name.ends_with(".localhost")) && !allow_private {
            return Err(TargetError::Private { host: host.to_owned(), why: "a loopback address" });
        }
    }
    Ok(url)
}

/// What is shown of a target: enough to recognise it, not enough to use it.
/// `https://hooks.slack.com/…Xy12`, `a…@example.com`.
#[must_use]
pub fn hint(kind: ChannelKind, target: &str) -> String {
    if kind == ChannelKind::Email {
        let (local, domain) = target.rsplit_once('@').unwrap_or((target, ""));
        let first: String = local.chars().take(1).collect();
        return format!("{first}…@{domain}");
    }
    let Ok(url) = Url::parse(target) else { return "…".to_owned() };
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let rest: String =
        url.path().trim_end_matches('/').chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    if url.path().len() > 1 {
        format!("{}://{host}{port}/…{rest}", url.scheme())
    } else {
        format!("{}://{host}{port}/", url.scheme())
    }
}

/// The resolver webhook requests use: every address a name resolves to is
/// checked, and forbidden ones dropped, so a request never connects to one.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match check_ip(&host, addr.ip(), allow_private) {
                    Ok(()) => true,
                    Err(error) => {
                        refusal = Some(error);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> = match refusal {
                    Some(error) => Box::new(error),
                    None => format!("{host} has no address").into(),
                };
                return Err(error);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// [`GuardedResolver`], shareable.
#[must_use]
pub fn resolver(allow_private: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow_private })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(target: &str, allow_private: bool) -> Option<TargetError> {
        check_target(ChannelKind::Webhook, target, allow_private).err()
    }

    #[test]
    fn metadata_and_link_local_are_refused_even_when_private_targets_are_allowed() {
        for target in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/hook",
            "http://[fd00:ec2::254]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/",
            "http://0.0.0.0:8080/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(matches!(refused(target, true), Some(TargetError::Forbidden { .. })), "{target}");
        }
    }

    #[test]
    fn private_and_loopback_need_the_server_setting() {
        for target in [
            "http://127.0.0.1:9000/hook",
            "http://10.0.0.5/",
            "http://192.168.1.2/",
            "http://[::1]/",
            "http://localhost:3000/",
            "http://100.64.1.1/",
        ] {
            let error = refused(target, false).unwrap_or_else(|| panic!("{target} allowed"));
            assert!(error.to_string().contains("--alerts-allow-private"), "{error}");
            assert_eq!(refused(target, true), None, "{target}");
        }
        assert_eq!(refused("https://hooks.slack.com/services/T0/B0/xyz", false), None);
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        assert!(matches!(refused("hooks.slack.com/x", false), Some(TargetError::NotAUrl(_))));
        assert!(matches!(refused("ftp://example.com/", false), Some(TargetError::Scheme(_))));
        assert!(matches!(check_target(ChannelKind::Email, "not an address", false), Err(TargetError::NotAnAddress(_))));
        assert_eq!(check_target(ChannelKind::Email, " ops@example.com ", false).unwrap(), "ops@example.com");
    }

    #[test]
    fn hints_keep_the_host_and_hide_the_secret_path() {
        let hint_of = |kind, target| hint(kind, target);
        assert_eq!(
            hint_of(ChannelKind::Slack, "https://hooks.slack.com/services/T000/B000/XXXXsecretAb12"),
            "https://hooks.slack.com/…Ab12"
        );
        assert_eq!(hint_of(ChannelKind::Webhook, "http://127.0.0.1:9000/"), "http://127.0.0.1:9000/");
        assert_eq!(hint_of(ChannelKind::Email, "ops@example.com"), "o…@example.com");
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        use reqwest::dns::Resolve as _;
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        assert!(GuardedResolver { allow_private: false }.resolve(name()).await.is_err());
        let found: Vec<SocketAddr> = GuardedResolver { allow_private: true }.resolve(name()).await.unwrap().collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }
}
