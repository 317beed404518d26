//! Forwarding one call: authenticate, check the hard budget, rewrite the
//! URL onto the upstream, pass method, headers and body through, and stream
//! the answer back.
//!
//! Headers pass unchanged except: hop-by-hop headers (RFC 9110 §7.6.1, and
//! any named in `Connection`) are dropped both ways, `Host` becomes the
//! upstream's, `X-LLMLab-*` never leaves, and a recorded call asks the
//! upstream for `Accept-Encoding: identity`: the response must be readable
//! to be priced, and every client accepts an uncompressed answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, Uri};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::body::RecordedBody;
use super::errors::{ProxyError, respond};
use super::record::{CallMeta, Failure};
use super::{Labels, Proxy, Upstream, batch, gemini, openai};
use crate::auth::{Caller, KEY_HEADER};
use crate::service::budgets::holds;
use crate::service::labels;
use crate::state::AppState;

/// Request bodies up to this size are read whole before forwarding (so the
/// recorder can see the requested model, and `include_usage` can be added);
/// larger ones, and bodies of unknown length, stream through untouched.
const MAX_INSPECTED_BODY: u64 = 32 * 1024 * 1024;
/// Non-streamed answers up to this size (with a `Content-Length`) are
/// forwarded once complete; anything else streams through as it arrives.
const MAX_WHOLE_BODY: u64 = 256 * 1024;
/// How long opening a connection to an upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle pooled connections are closed after this long (providers close theirs after about 60–90 s).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_mins(1);

/// Hop-by-hop headers: they describe one connection, never the message.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// The pooled HTTP(S) client every proxied call goes through.
pub(crate) struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, Body>,
}

impl UpstreamClient {
    pub(crate) fn new() -> Self {
        let mut http = HttpConnector::new();
        // Without TCP_NODELAY a request written in two pieces (head, then a
        // streamed body) waits ~40 ms for the peer's delayed ACK.
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_keepalive(Some(Duration::from_secs(30)));
        // The ring provider named explicitly: with another provider compiled
        // in, rustls would otherwise refuse to pick one at start-up.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .expect("the ring provider supports the default TLS versions")
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(https);
        UpstreamClient { client }
    }
}

/// Checks an upstream base URL (`LLMLAB_UPSTREAM_*`) at start-up, so a typo
/// is one clear error instead of a 502 on every call.
pub fn check_upstream_url(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("`{url}` must start with `http://` or `https://`")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("`{url}` must not have a query string"));
    }
    Ok(())
}

/// Handles one call on a proxy route.
pub(crate) async fn handle(proxy: &Proxy, upstream: Upstream, state: AppState, request: Request) -> Response {
    let started = Instant::now();
    let started_ms = crate::clock::now_ms();
    let (mut parts, body) = request.into_parts();
    let (caller, labels) = match admit(upstream, &state, &parts.headers).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };

    let settings = &state.settings.proxy;
    let path = parts.uri.path();
    let rest = &path[upstream.prefix().len()..];
    let billed_endpoint = upstream.is_billed_endpoint(rest);
    let url_model = match upstream {
        Upstream::Gemini => gemini::model_from_path(rest).map(str::to_owned),
        _ => None,
    };
    let Ok(uri) = upstream_uri(upstream.base_url(settings), rest, parts.uri.query()) else {
        return respond(upstream, ProxyError::BadHeader, "LLMLab proxy: the request path cannot be forwarded");
    };
    let inject_usage = upstream == Upstream::OpenAi
        && openai::is_chat_completions(rest)
        && flag(&parts.headers, "x-llmlab-include-usage").unwrap_or(settings.include_usage);
    let recorded = parts.method == Method::POST;
    let batch = batch::route(upstream, &state, &parts.method, rest, &parts.headers);
    prepare_request_headers(&mut parts.headers, recorded || batch.is_some());
    let length = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let (body, request_body) = match length {
        Some(length) if length <= MAX_INSPECTED_BODY => {
            let Ok(mut bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return respond(upstream, ProxyError::BadHeader, "LLMLab proxy: the request body could not be read");
            };
            if inject_usage && let Some(edited) = openai::with_include_usage(&bytes) {
                bytes = edited;
            }
            // The length is set again from the (possibly edited) body.
            parts.headers.remove(header::CONTENT_LENGTH);
            (Body::from(bytes.clone()), recorded.then_some(bytes))
        }
        _ => (body, None),
    };
    let reservation = if recorded && billed_endpoint {
        match hold_for(upstream, &state, &caller, &labels, rest, request_body.as_deref()).await {
            Ok(reservation) => reservation,
            Err(refusal) => return refusal,
        }
    } else {
        None
    };
    parts.uri = uri;
    // The client may speak HTTP/2 to us; the upstream connection is HTTP/1.1.
    parts.version = axum::http::Version::HTTP_11;

    let mut meta = CallMeta {
        caller,
        upstream,
        labels,
        started,
        started_ms,
        billed_endpoint,
        url_model,
        request_body,
        reservation,
        served_tier: None,
    };
    let sent =
        tokio::time::timeout(settings.upstream_timeout, proxy.client.client.request(Request::from_parts(parts, body)));
    let response = match sent.await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            let failure = if error.is_connect() { Failure::NotSent } else { Failure::NoAnswer };
            tracing::warn!(upstream = ?upstream, error = %error_chain(&error), "proxy: the upstream failed");
            return upstream_failed(proxy, &state, meta, recorded, failure);
        }
        Err(_) => {
            tracing::warn!(upstream = ?upstream, timeout = ?settings.upstream_timeout, "proxy: the upstream timed out");
            return upstream_failed(proxy, &state, meta, recorded, Failure::TimedOut(settings.upstream_timeout));
        }
    };

    let (mut parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if batch.is_some() || !recorded {
        return batch::answer(proxy, &state, batch, meta, parts, incoming).await;
    }
    let status = parts.status.as_u16();
    if upstream == Upstream::Gemini {
        meta.served_tier = header_text(&parts.headers, llmlab_core::served::GEMINI_TIER_HEADER);
    }
    if is_small_whole_body(&parts.headers) {
        // A small non-streamed answer arrives whole within microseconds of its
        // head; waiting for it lets the head and body leave in one write, and
        // the recorder parse it without a copy. Streams never take this path.
        return match incoming.collect().await {
            Ok(collected) => {
                let body = collected.to_bytes();
                proxy.recorder(&state).answered_whole(meta, status, body.clone());
                Response::from_parts(parts, Body::from(body))
            }
            Err(error) => {
                tracing::warn!(upstream = ?upstream, error = %error_chain(&error), "proxy: the upstream broke off its answer");
                upstream_failed(proxy, &state, meta, true, Failure::BrokeOff)
            }
        };
    }
    let recorder = proxy.recorder(&state).clone();
    Response::from_parts(parts, Body::new(RecordedBody::new(incoming, meta, status, recorder)))
}

/// A response header's value as text, when it is one.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// True for an answer with a `Content-Length` of at most
/// [`MAX_WHOLE_BODY`] that is not an event stream.
fn is_small_whole_body(headers: &HeaderMap) -> bool {
    let small = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length <= MAX_WHOLE_BODY);
    small
        && !headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim_start().starts_with("text/event-stream"))
}

/// LLMLab's own 502/504 for a call the upstream did not answer, recorded
/// when it is a recorded call.
fn upstream_failed(proxy: &Proxy, state: &AppState, meta: CallMeta, recorded: bool, failure: Failure) -> Response {
    let upstream = meta.upstream;
    let (status, error, message) = match failure {
        Failure::NotSent => {
            (502, ProxyError::UpstreamUnavailable, "LLMLab proxy: could not connect to the upstream API".to_owned())
        }
        Failure::NoAnswer => (
            502,
            ProxyError::UpstreamUnavailable,
            "LLMLab proxy: the upstream API closed the connection without answering".to_owned(),
        ),
        Failure::BrokeOff => {
            (502, ProxyError::UpstreamUnavailable, "LLMLab proxy: the upstream API broke off its answer".to_owned())
        }
        Failure::TimedOut(limit) => (
            504,
            ProxyError::UpstreamTimeout,
            format!("LLMLab proxy: the upstream API did not answer within {} s", limit.as_secs_f64()),
        ),
    };
    if recorded {
        proxy.recorder(state).failed(meta, status, failure);
    }
    respond(upstream, error, &message)
}

/// Checks the LLMLab key, the labels and the hard budget; the refusal is
/// the response when the call must not go upstream.
async fn admit(upstream: Upstream, state: &AppState, headers: &HeaderMap) -> Result<(Arc<Caller>, Labels), Response> {
    let Some(key) = headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::trim) else {
        return Err(respond(
            upstream,
            ProxyError::MissingKey,
            "LLMLab proxy: no LLMLab API key. Send it in the `X-LLMLab-Key` header (your provider key stays \
             where it is); get one with `llmlab init`",
        ));
    };
    let caller = crate::auth::authenticate(state, key).await.map(Arc::new).map_err(|error| {
        if let Some(cause) = &error.cause {
            tracing::error!(error = %cause, "proxy: could not check an API key");
        }
        respond(upstream, ProxyError::from_auth(&error), &format!("LLMLab proxy: {}", error.message))
    })?;
    let labels = labels_of(headers)
        .map_err(|message| respond(upstream, ProxyError::BadHeader, &format!("LLMLab proxy: {message}")))?;
    Ok((caller, labels))
}

/// Holds the call's worst-case cost on the hard budgets that cover it: the
/// hold's id, or the refusal to answer instead of sending the call.
async fn hold_for(
    upstream: Upstream,
    state: &AppState,
    caller: &Caller,
    labels: &Labels,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Option<String>, Response> {
    let provider = upstream.provider();
    let request = match body {
        Some(body) => holds::Request::Seen { path, body },
        None => holds::Request::Unread,
    };
    let call = holds::Call {
        provider: &provider,
        labels: holds::labels(labels.project.as_deref(), &caller.key_id, labels.tags.as_ref()),
        request,
    };
    match holds::admit(state, &caller.user, &call).await {
        Ok(holds::Admission::Send(hold)) => Ok(hold.map(|h| h.id)),
        Ok(holds::Admission::Refuse(refusal)) => {
            let error = if refusal.over_budget { ProxyError::BudgetExceeded } else { ProxyError::BudgetUnbounded };
            Err(respond(upstream, error, &refusal.message))
        }
        Err(error) => {
            // A database outage must not take every LLM call down with it:
            // the call goes through, unheld (and is recorded when the database is back).
            tracing::error!(error = %error, "proxy: could not check the hard budgets; forwarding the call");
            Ok(None)
        }
    }
}

/// `base` + the rest of the path + the query, as the upstream URI.
fn upstream_uri(base: &str, rest: &str, query: Option<&str>) -> Result<Uri, ()> {
    let base = base.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + rest.len() + query.map_or(0, |q| q.len() + 1));
    url.push_str(base);
    url.push_str(rest);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url.parse().map_err(|_| ())
}

/// Removes what must not reach the upstream; see the module docs.
fn prepare_request_headers(headers: &mut HeaderMap, recorded: bool) {
    strip_hop_by_hop(headers);
    headers.remove(header::HOST);
    headers.remove(header::UPGRADE);
    let ours: Vec<HeaderName> = headers.keys().filter(|name| name.as_str().starts_with("x-llmlab-")).cloned().collect();
    for name in ours {
        headers.remove(name);
    }
    if recorded {
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
}

/// Drops hop-by-hop headers and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.into_iter().chain(HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// A boolean header (`true`/`false`, `1`/`0`, `yes`/`no`), if present and readable.
fn flag(headers: &HeaderMap, name: &str) -> Option<bool> {
    match headers.get(name)?.to_str().ok()?.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The project and tags `X-LLMLab-Project` and `X-LLMLab-Tags` ask for,
/// checked with the same limits as `POST /api/events/track` so that a bad
/// header is refused before anything is sent, not lost after.
fn labels_of(headers: &HeaderMap) -> Result<Labels, String> {
    let text = |name: &str| -> Result<Option<&str>, String> {
        headers
            .get(name)
            .map(|v| std::str::from_utf8(v.as_bytes()).map(str::trim).map_err(|_| format!("`{name}` is not UTF-8")))
            .transpose()
    };
    let project = match text("x-llmlab-project")? {
        Some(project) => Some(
            labels::text(project, labels::MAX_PROJECT_CHARS).map_err(|e| format!("`X-LLMLab-Project` {e}"))?.to_owned(),
        ),
        None => None,
    };
    let tags = match text("x-llmlab-tags")? {
        Some(tags) if !tags.is_empty() => Some(parse_tags(tags)?),
        _ => None,
    };
    Ok(Labels { project, tags })
}

/// `X-LLMLab-Tags`: a JSON object of strings, or `key=value` pairs separated
/// by commas; checked by [`labels::check_tags`] like an event's `tags`.
fn parse_tags(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let tags: std::collections::BTreeMap<String, String> = if text.starts_with('{') {
        serde_json::from_str(text).map_err(|e| {
            format!("`X-LLMLab-Tags` is not a JSON object of strings ({e}); or use `key=value,key2=value2`")
        })?
    } else {
        text.split(',')
            .filter(|pair| !pair.trim().is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.trim().to_owned(), value.trim().to_owned())
            })
            .collect()
    };
    labels::check_tags(&tags).map_err(|e| format!("`X-LLMLab-Tags`: {e}"))?;
    Ok(tags)
}

/// An error and its causes on one line (hyper's own message is only the outermost).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_llmlab_headers_never_reach_the_upstream() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-private"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8787"));
        headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert("x-llmlab-key", HeaderValue::from_static("llm_secret"));
        headers.insert("x-llmlab-project", HeaderValue::from_static("p"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer sk-provider"));
        headers.insert("x-goog-api-key", HeaderValue::from_static("AIza"));
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
        prepare_request_headers(&mut headers, true);
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept-encoding", "authorization", "x-goog-api-key"]);
        assert_eq!(headers[header::AUTHORIZATION], "Bearer sk-provider");
        assert_eq!(headers[header::ACCEPT_ENCODING], "identity");
    }

    #[test]
    fn the_rest_of_the_path_and_the_query_are_appended_to_the_base() {
        let uri = upstream_uri("https://api.openai.com/", "/v1/chat/completions", None).unwrap();
        assert_eq!(uri.to_string(), "https://api.openai.com/v1/chat/completions");
        let uri =
            upstream_uri("http://127.0.0.1:9/prefix", "/v1beta/models/m:streamGenerateContent", Some("alt=sse&key=k"))
                .unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9/prefix/v1beta/models/m:streamGenerateContent?alt=sse&key=k");
    }

    #[test]
    fn upstream_urls_are_checked_at_start_up() {
        assert!(check_upstream_url("https://api.openai.com").is_ok());
        assert!(check_upstream_url("http://127.0.0.1:9000/v").is_ok());
        assert!(check_upstream_url("api.openai.com").is_err());
        assert!(check_upstream_url("ftp://x").is_err());
        assert!(check_upstream_url("https://x?key=1").is_err());
    }

    #[test]
    fn tags_are_pairs_or_json_and_are_limited() {
        let tags = parse_tags("team=search, env=prod,flag").unwrap();
        assert_eq!(tags["team"], "search");
        assert_eq!(tags["env"], "prod");
        assert_eq!(tags["flag"], "");
        assert_eq!(parse_tags(r#"{"a":"b"}"#).unwrap()["a"], "b");
        assert!(parse_tags(r#"{"a":1}"#).is_err());
        assert!(parse_tags("=x").is_err());
        let many = (0..51).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join(",");
        assert!(parse_tags(&many).is_err());
        // A JSON value may carry what a header cannot: a NUL is refused like in an event's tags.
        let nul = parse_tags(r#"{"a":"b\u0000c"}"#).unwrap_err();
        assert!(nul.contains("control characters"), "{nul}");
    }
}
