//! Limits applied before any handler runs: how many sign-up and sign-in
//! attempts a client address may make (GCRA, from the `governor` crate), and
//! request bodies announced larger than [`crate::BODY_LIMIT`].
//!
//! The client address is the connection's peer. Behind a reverse proxy
//! every request comes from the proxy, so `--trust-proxy-headers` takes it
//! from the last `X-Forwarded-For` entry instead (the one the proxy itself
//! appended; earlier entries are whatever the client sent). Never trusted
//! by default: a client could then pick its own address.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, ErrorCode};

/// The requests that create an account or sign in: the ones rate-limited per address.
const LIMITED: [&str; 4] = ["/api/auth/signup", "/api/auth/login", "/api/auth/session", "/session"];
/// Past this many tracked addresses, those back to a full burst are forgotten.
const FORGET_ABOVE: usize = 10_000;

/// Attempts allowed per address: `burst` at once, then one every
/// `period / burst` (written `10/min`: 10 at once, then one every 6 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRateLimit {
    pub burst: NonZeroU32,
    pub period: Duration,
}

impl Default for AuthRateLimit {
    /// Generous for people (a few sign-ins a minute), slow for scripts guessing.
    fn default() -> Self {
        AuthRateLimit { burst: NonZeroU32::new(10).expect("10 is not zero"), period: Duration::from_mins(1) }
    }
}

impl fmt::Display for AuthRateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        let unit = match secs {
            1 => "s".to_owned(),
            60 => "min".to_owned(),
            3600 => "h".to_owned(),
            _ => format!("{secs}s"),
        };
        write!(f, "{}/{unit}", self.burst)
    }
}

impl FromStr for AuthRateLimit {
    type Err = String;

    /// `N/s`, `N/min` or `N/h`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let problem = || format!("`{value}` is not a rate: write it as `10/min` (or `N/s`, `N/h`), or `off`");
        let (count, unit) = value.trim().split_once('/').ok_or_else(problem)?;
        let burst = count.trim().parse::<NonZeroU32>().map_err(|_| problem())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_mins(1),
            "h" | "hour" => Duration::from_hours(1),
            _ => return Err(problem()),
        };
        Ok(AuthRateLimit { burst, period })
    }
}

/// Parses `--auth-rate-limit`: a rate, or `off` for no limit.
///
/// # Errors
/// A message naming the value and the accepted forms.
pub fn parse_auth_rate_limit(value: &str) -> Result<Option<AuthRateLimit>, String> {
    if value.trim().eq_ignore_ascii_case("off") { Ok(None) } else { value.parse().map(Some) }
}

/// One GCRA bucket per client address.
#[derive(Clone)]
pub struct AuthLimiter(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl AuthLimiter {
    #[must_use]
    pub fn new(limit: AuthRateLimit) -> Self {
        let every = limit.period / limit.burst.get();
        let quota = Quota::with_period(every.max(Duration::from_nanos(1)))
            .expect("a period of at least 1 ns")
            .allow_burst(limit.burst);
        AuthLimiter(Arc::new(RateLimiter::keyed(quota)))
    }

    /// `Ok` when `address` may make another attempt now; else how long until it may.
    fn check(&self, address: IpAddr) -> Result<(), Duration> {
        if self.0.len() > FORGET_ABOVE {
            self.0.retain_recent();
        }
        self.0.check_key(&address).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// What [`guard`] needs to limit sign-ins: the buckets (none: no limit) and where the client address comes from.
#[derive(Clone)]
pub struct AuthGate {
    limiter: Option<AuthLimiter>,
    trust_proxy_headers: bool,
}

impl AuthGate {
    #[must_use]
    pub fn new(limit: Option<AuthRateLimit>, trust_proxy_headers: bool) -> Self {
        AuthGate { limiter: limit.map(AuthLimiter::new), trust_proxy_headers }
    }
}

/// The one middleware in front of the API and the pages: bodies refused from
/// their `Content-Length`, then sign-up and sign-in attempts limited per
/// client address. One layer, not one per check: each `from_fn` layer costs
/// every request a clone of the service below it and a boxed future (two of
/// them cost single-event track 7% on SQLite; BENCHMARKS.md).
pub async fn guard(State(gate): State<AuthGate>, request: Request, next: Next) -> Response {
    if announces_too_much(&request) {
        return refuse_oversized(request);
    }
    if let Some(refused) = limit_auth(&gate, &request) {
        return refused;
    }
    next.run(request).await
}

/// A 429 when `request` is a sign-up or sign-in attempt over its address's limit.
fn limit_auth(gate: &AuthGate, request: &Request) -> Option<Response> {
    let limited = request.method() == Method::POST && LIMITED.contains(&request.uri().path());
    let limiter = gate.limiter.as_ref().filter(|_| limited)?;
    let address = client_address(request, gate.trust_proxy_headers);
    limiter.check(bucket(address)).err().map(too_many)
}

/// The 429, with `Retry-After` in whole seconds (rounded up).
fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "too many sign-up or sign-in attempts from your address; try again in {seconds} second{}",
            if seconds == 1 { "" } else { "s" }
        ),
    )
    .into_response();
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Where the request comes from: the peer, or with `trust_proxy_headers`
/// the last valid `X-Forwarded-For` entry. `0.0.0.0` when neither is known
/// (the router driven without a socket, in tests).
fn client_address(request: &Request, trust_proxy_headers: bool) -> IpAddr {
    if trust_proxy_headers && let Some(forwarded) = forwarded_for(request.headers()) {
        return forwarded;
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip())
}

/// The address a reverse proxy appended to `X-Forwarded-For` (the last entry).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back()?;
    let entry = last.rsplit(',').next()?.trim();
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The bucket of an address: IPv4 addresses one each; IPv6 by /64, the
/// block one subscriber gets (one machine can use any address in it).
fn bucket(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked above")),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// How much of a refused body is still read, and for how long, after the
/// 413 went out (a lingering close).
const LINGER_BYTES: u64 = 2 * crate::BODY_LIMIT as u64;
const LINGER_TIME: Duration = Duration::from_secs(5);

/// Whether the request's `Content-Length` announces more than
/// [`crate::BODY_LIMIT`]: such a body is refused at once, from the header,
/// before any of it is read.
/// Chunked bodies (no length) are still cut off at the limit as they are read.
///
/// A client is usually still sending when the 413 goes out. Closing the
/// connection on its unread bytes would make the kernel reset it, and the
/// client would see a broken pipe instead of the answer; so the rest of the
/// body is read and dropped in the background (a lingering close), at most
/// [`LINGER_BYTES`] for at most [`LINGER_TIME`], then the connection closes.
fn announces_too_much(request: &Request) -> bool {
    let announced = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    announced.is_some_and(|length| length > crate::BODY_LIMIT as u64)
}

/// The 413 for a body announced too large, whose unread rest lingers.
fn refuse_oversized(request: Request) -> Response {
    tokio::spawn(linger(request.into_body()));
    let mut response = ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the {} limit", crate::BODY_LIMIT_TEXT),
    )
    .into_response();
    // The rest of the body is not read: the connection cannot carry another request.
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads and drops `body` until it ends, [`LINGER_BYTES`] were read or [`LINGER_TIME`] passed.
async fn linger(body: axum::body::Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut read = 0u64;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while read < LINGER_BYTES
            && let Some(Ok(frame)) = body.frame().await
        {
            read += frame.data_ref().map_or(0, |data| data.len() as u64);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_from_their_written_form() {
        let limit: AuthRateLimit = "10/min".parse().unwrap();
        assert_eq!((limit.burst.get(), limit.period), (10, Duration::from_mins(1)));
        assert_eq!(limit, AuthRateLimit::default());
        assert_eq!(limit.to_string(), "10/min");
        assert_eq!("3/h".parse::<AuthRateLimit>().unwrap().period, Duration::from_hours(1));
        assert_eq!(parse_auth_rate_limit("off"), Ok(None));
        for bad in ["10", "0/min", "ten/min", "10/day", ""] {
            assert!(parse_auth_rate_limit(bad).unwrap_err().contains("10/min"), "{bad}");
        }
    }

    #[test]
    fn a_burst_is_allowed_then_one_attempt_per_interval() {
        let limiter = AuthLimiter::new("3/min".parse().unwrap());
        let alice: IpAddr = "203.0.113.1".parse().unwrap();
        let bob: IpAddr = "203.0.113.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(alice), Ok(()));
        }
        let wait = limiter.check(alice).unwrap_err();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        assert_eq!(limiter.check(bob), Ok(()), "each address has its own bucket");
    }

    #[test]
    fn forwarded_addresses_are_read_only_from_the_last_entry() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_for(&headers), None);
        headers.insert("x-forwarded-for", "10.0.0.1, 198.51.100.7".parse().unwrap());
        assert_eq!(forwarded_for(&headers), Some("198.51.100.7".parse().unwrap()));
        headers.append("x-forwarded-for", "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(forwarded_for(&headers), Some("2001:db8::1".parse().unwrap()));
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(forwarded_for(&headers), None);
    }

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64_block() {
        let one = bucket("2001:db8:1:2:aaaa::1".parse().unwrap());
        assert_eq!(one, bucket("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_ne!(one, bucket("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(bucket("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
