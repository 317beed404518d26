//! Batch jobs through the proxy (`docs/proxy.md`, "Batch jobs"): the
//! results of a batch are recorded when the client downloads them, one
//! event per billed result line, at batch prices.
//!
//! - An OpenAI file download (`GET …/files/{id}/content`) whose first line
//!   is a batch output line (`custom_id` and `response` or `error`) is read
//!   line by line as it streams to the client ([`results`]); any other file
//!   passes through unread and records nothing.
//! - An Anthropic message batch's results (`GET …/messages/batches/{id}/results`)
//!   are read the same way.
//! - Batch objects passing through (create, retrieve, list, cancel) teach
//!   the proxy which batch an OpenAI output file belongs to, and when an
//!   Anthropic batch ended ([`objects`]). Anthropic's `results_url` is
//!   pointed at the proxy, since the official clients download the results
//!   from that URL rather than from their base URL.
//!
//! Each event's id is derived from the file (OpenAI: the output file id,
//! one per batch) or the batch (Anthropic) and the line's `custom_id`
//! ([`event_id`]), so downloading the same results twice stores each line
//! once: the store is idempotent on (account, event id).

mod objects;
mod results;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{HeaderMap, Method, response};
use axum::response::Response;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::record::CallMeta;
use super::{Proxy, Upstream};
use crate::service::labels;
use crate::state::AppState;

/// At most this many learned facts are kept (a few MB); when full, they are
/// forgotten at once. A fact only adds a tag or a time: the event ids never
/// depend on it.
const MAX_LEARNED: usize = 50_000;

/// A proxied call that concerns batches.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// An OpenAI file's content: recorded when it is a batch output file.
    FileContent { file_id: String },
    /// An Anthropic message batch's results.
    Results { batch_id: String },
    /// Batch objects: learned from; Anthropic's `results_url` is rewritten
    /// to `{proxy_base}/proxy/anthropic/…`.
    Objects { proxy_base: String },
}

/// The batch route of a call, if it is one. `rest` is the path after the
/// proxy prefix; `headers` are the client's (for the proxy's own address).
pub(crate) fn route(
    upstream: Upstream,
    state: &AppState,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
) -> Option<Route> {
    route_of(upstream, method, rest, || {
        let base = state.settings.alerts.public_url.clone().unwrap_or_else(|| state.base_url(headers));
        base.trim_end_matches('/').to_owned()
    })
}

/// [`route`], given how to find the proxy's own address.
fn route_of(upstream: Upstream, method: &Method, rest: &str, proxy_base: impl FnOnce() -> String) -> Option<Route> {
    // Most calls are not about batches: no allocation for them.
    if memchr::memmem::find(rest.as_bytes(), b"batches").is_none() && !rest.trim_end_matches('/').ends_with("/content")
    {
        return None;
    }
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let get = method == Method::GET;
    let post = method == Method::POST;
    match (upstream, segments.as_slice()) {
        (Upstream::OpenAi, [.., "files", id, "content"]) if get && !id.is_empty() => {
            return Some(Route::FileContent { file_id: (*id).to_owned() });
        }
        (Upstream::Anthropic, [.., "messages", "batches", id, "results"]) if get && !id.is_empty() => {
            return Some(Route::Results { batch_id: (*id).to_owned() });
        }
        _ => {}
    }
    // Batch objects: the collection (list, create), one batch, its cancellation.
    let at = segments.iter().rposition(|s| *s == "batches")?;
    let collection = match upstream {
        Upstream::OpenAi => true,
        Upstream::Anthropic => at > 0 && segments[at - 1] == "messages",
        Upstream::Gemini => false,
    };
    let objects = match &segments[at + 1..] {
        [] => get || post,
        [id] => get && !id.is_empty(),
        [id, "cancel"] => post && !id.is_empty(),
        _ => false,
    };
    (collection && objects).then(|| Route::Objects { proxy_base: proxy_base() })
}

/// Answers a call that is not recorded like the others with the upstream's
/// response: a batch call's is read as it passes when it is a success; any
/// other (`route` is `None`: a call that is not a `POST`), and a batch
/// call's error, pass through untouched.
pub(crate) async fn answer(
    proxy: &Proxy,
    state: &AppState,
    route: Option<Route>,
    meta: CallMeta,
    parts: response::Parts,
    incoming: Incoming,
) -> Response {
    let Some(route) = route.filter(|_| parts.status.is_success()) else {
        return Response::from_parts(parts, Body::new(incoming));
    };
    let user = meta.caller.user.id;
    match route {
        Route::Objects { proxy_base } => {
            let rewrite = objects::Rewrite {
                upstream: meta.upstream.base_url(&state.settings.proxy).trim_end_matches('/').to_owned(),
                proxy: format!("{proxy_base}{}", meta.upstream.prefix()),
            };
            objects::answer(&proxy.batches, user, meta.upstream, &rewrite, parts, incoming).await
        }
        Route::FileContent { file_id } => {
            let facts = proxy.batches.get(user, &file_id);
            let source = results::Source { key: file_id, batch_id: facts.batch_id, ended_at_ms: facts.ended_at_ms };
            results::tee(state, meta, source, parts, incoming)
        }
        Route::Results { batch_id } => {
            let facts = proxy.batches.get(user, &batch_id);
            let source =
                results::Source { key: batch_id.clone(), batch_id: Some(batch_id), ended_at_ms: facts.ended_at_ms };
            results::tee(state, meta, source, parts, incoming)
        }
    }
}

/// What the proxy learned about a batch from its objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The batch an OpenAI output file belongs to.
    pub(crate) batch_id: Option<String>,
    /// When the batch ended (Anthropic `ended_at`), in ms.
    pub(crate) ended_at_ms: Option<i64>,
}

/// Facts learned from batch objects, per account: keyed by the OpenAI
/// output file id, or the Anthropic batch id.
#[derive(Default)]
pub(crate) struct Learned {
    facts: Mutex<HashMap<(i64, String), Facts>>,
}

impl Learned {
    fn learn(&self, user: i64, key: &str, facts: Facts) {
        let mut known = self.facts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= MAX_LEARNED && !known.contains_key(&(user, key.to_owned())) {
            known.clear();
        }
        known.insert((user, key.to_owned()), facts);
    }

    fn get(&self, user: i64, key: &str) -> Facts {
        let known = self.facts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        known.get(&(user, key.to_owned())).cloned().unwrap_or_default()
    }
}

/// The event id of one result line: `batch:{provider}:{key}:{custom_id}`,
/// where `key` is the OpenAI output file id (one per batch, and the only id
/// the file's lines can be tied to whether or not the batch was seen) or the
/// Anthropic batch id. When that is not a valid event id (longer than 128
/// characters, control characters), `batch:` and the SHA-256 of it in hex.
#[must_use]
pub(crate) fn event_id(upstream: Upstream, key: &str, custom_id: &str) -> String {
    let readable = format!("batch:{}:{key}:{custom_id}", upstream.provider().as_str());
    if labels::text(&readable, labels::MAX_EVENT_ID_CHARS).is_ok_and(|valid| valid == readable) {
        return readable;
    }
    format!("batch:{}", hex::encode(Sha256::digest(readable.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_stable_readable_and_bounded() {
        assert_eq!(event_id(Upstream::OpenAi, "file-abc", "request-1"), "batch:openai:file-abc:request-1");
        assert_eq!(event_id(Upstream::Anthropic, "msgbatch_01", "request-1"), "batch:anthropic:msgbatch_01:request-1");
        let long = "x".repeat(200);
        let hashed = event_id(Upstream::OpenAi, "file-abc", &long);
        assert!(hashed.starts_with("batch:") && hashed.len() == 6 + 64, "{hashed}");
        assert_eq!(hashed, event_id(Upstream::OpenAi, "file-abc", &long), "deterministic");
        assert_ne!(hashed, event_id(Upstream::OpenAi, "file-abd", &long));
        let control = event_id(Upstream::OpenAi, "file-abc", "a\nb");
        assert!(!control.contains('\n'), "{control}");
        assert_eq!(
            event_id(Upstream::OpenAi, "file-abc", " padded "),
            event_id(Upstream::OpenAi, "file-abc", " padded ")
        );
        assert_ne!(
            event_id(Upstream::OpenAi, "file-abc", " padded "),
            event_id(Upstream::OpenAi, "file-abc", "padded")
        );
    }

    #[test]
    fn batch_routes_are_told_by_method_and_path() {
        let of = |upstream, method: Method, rest: &str| route_of(upstream, &method, rest, || "http://p".to_owned());
        let objects = Some(Route::Objects { proxy_base: "http://p".into() });
        assert_eq!(
            of(Upstream::OpenAi, Method::GET, "/v1/files/file-1/content/"),
            Some(Route::FileContent { file_id: "file-1".into() })
        );
        assert_eq!(of(Upstream::OpenAi, Method::DELETE, "/v1/files/file-1/content"), None);
        assert_eq!(of(Upstream::OpenAi, Method::GET, "/v1/files/file-1"), None);
        assert_eq!(
            of(Upstream::Anthropic, Method::GET, "/v1/messages/batches/msgbatch_1/results/"),
            Some(Route::Results { batch_id: "msgbatch_1".into() })
        );
        for (upstream, method, rest) in [
            (Upstream::OpenAi, Method::POST, "/v1/batches"),
            (Upstream::OpenAi, Method::GET, "/v1/batches"),
            (Upstream::OpenAi, Method::GET, "/v1/batches/batch_1"),
            (Upstream::OpenAi, Method::POST, "/v1/batches/batch_1/cancel"),
            (Upstream::Anthropic, Method::POST, "/v1/messages/batches"),
            (Upstream::Anthropic, Method::GET, "/v1/messages/batches/msgbatch_1"),
            (Upstream::Anthropic, Method::POST, "/v1/messages/batches/msgbatch_1/cancel"),
        ] {
            assert_eq!(of(upstream, method, rest), objects, "{rest}");
        }
        assert_eq!(of(Upstream::OpenAi, Method::DELETE, "/v1/batches/batch_1"), None);
        assert_eq!(of(Upstream::Anthropic, Method::GET, "/v1/batches"), None, "Anthropic's batches are messages'");
        assert_eq!(of(Upstream::Gemini, Method::GET, "/v1beta/batches/b"), None);
        assert_eq!(of(Upstream::OpenAi, Method::POST, "/v1/chat/completions"), None);
    }

    #[test]
    fn learned_facts_are_per_account_and_bounded() {
        let learned = Learned::default();
        learned.learn(1, "file-a", Facts { batch_id: Some("batch_a".into()), ended_at_ms: None });
        assert_eq!(learned.get(1, "file-a").batch_id.as_deref(), Some("batch_a"));
        assert_eq!(learned.get(2, "file-a"), Facts::default(), "another account's file is not known");
        for i in 0..MAX_LEARNED {
            learned.learn(1, &format!("file-{i}"), Facts::default());
        }
        assert!(learned.facts.lock().unwrap().len() <= MAX_LEARNED);
    }
}
