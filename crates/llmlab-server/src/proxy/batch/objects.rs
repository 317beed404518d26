//! Batch objects passing through the proxy (create, retrieve, list,
//! cancel): what they teach about batches, and Anthropic's `results_url`
//! pointed at the proxy.
//!
//! These answers are small JSON objects (a list has at most 100 batches),
//! so they are read whole, up to [`MAX_OBJECTS_BODY`]; a larger answer
//! passes through as it is.

use axum::body::Body;
use axum::http::{header, response};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use super::{Facts, Learned};
use crate::proxy::Upstream;
use crate::proxy::errors::{ProxyError, respond};

/// Batch object answers up to this size are read.
const MAX_OBJECTS_BODY: usize = 1024 * 1024;

/// Where an Anthropic `results_url` points, and where it should.
pub(super) struct Rewrite {
    /// The upstream's base URL, without a trailing slash.
    pub(super) upstream: String,
    /// The proxy route's URL, e.g. `http://127.0.0.1:8787/proxy/anthropic`.
    pub(super) proxy: String,
}

/// Reads a batch object answer, learns from it, and answers it (Anthropic's
/// `results_url` rewritten; otherwise byte for byte).
pub(super) async fn answer(
    learned: &Learned,
    user: i64,
    upstream: Upstream,
    rewrite: &Rewrite,
    mut parts: response::Parts,
    mut incoming: Incoming,
) -> Response {
    let mut body = BytesMut::new();
    while let Some(frame) = incoming.frame().await {
        let Ok(frame) = frame else {
            return respond(
                upstream,
                ProxyError::UpstreamUnavailable,
                "LLMLab proxy: the upstream API broke off its answer",
            );
        };
        let Ok(data) = frame.into_data() else { continue };
        body.extend_from_slice(&data);
        if body.len() > MAX_OBJECTS_BODY {
            // Too large to be batch objects: the rest streams through unread.
            let read = futures::stream::once(async move { Ok(body.freeze()) });
            let rest = http_body_util::BodyStream::new(incoming)
                .filter_map(|frame| async move { frame.map(|f| f.into_data().ok()).transpose() });
            return Response::from_parts(parts, Body::from_stream(read.chain(rest)));
        }
    }
    let body = body.freeze();
    match read(learned, user, upstream, rewrite, &body) {
        Some(rewritten) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(rewritten))
        }
        None => Response::from_parts(parts, Body::from(body)),
    }
}

/// Learns from the batch objects in `body` (one, or a list's `data`); the
/// body to answer instead when a `results_url` was rewritten.
fn read(learned: &Learned, user: i64, upstream: Upstream, rewrite: &Rewrite, body: &[u8]) -> Option<Bytes> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    let batches: Vec<&mut Value> = match value.get_mut("data") {
        Some(Value::Array(list)) => list.iter_mut().collect(),
        _ => vec![&mut value],
    };
    for batch in batches {
        let Some(id) = batch.get("id").and_then(Value::as_str).map(str::to_owned) else { continue };
        match upstream {
            Upstream::OpenAi => {
                if let Some(file) = batch.get("output_file_id").and_then(Value::as_str) {
                    learned.learn(user, file, Facts { batch_id: Some(id), ended_at_ms: None });
                }
            }
            Upstream::Anthropic => {
                let ended_at_ms = batch
                    .get("ended_at")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .map(jiff::Timestamp::as_millisecond);
                learned.learn(user, &id, Facts { batch_id: Some(id.clone()), ended_at_ms });
                if let Some(Value::String(url)) = batch.get_mut("results_url")
                    && let Some(path) = url.strip_prefix(&rewrite.upstream)
                    && path.starts_with('/')
                {
                    *url = format!("{}{path}", rewrite.proxy);
                    changed = true;
                }
            }
            Upstream::Gemini => {}
        }
    }
    changed.then(|| serde_json::to_vec(&value).ok().map(Bytes::from)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite() -> Rewrite {
        Rewrite { upstream: "https://api.anthropic.com".into(), proxy: "http://127.0.0.1:8787/proxy/anthropic".into() }
    }

    #[test]
    fn openai_batches_teach_their_output_file() {
        let learned = Learned::default();
        let list = br#"{"object":"list","data":[{"id":"batch_1","object":"batch","output_file_id":"file-out1"},
            {"id":"batch_2","object":"batch","output_file_id":null}]}"#;
        assert!(read(&learned, 7, Upstream::OpenAi, &rewrite(), list).is_none(), "OpenAI answers are not changed");
        assert_eq!(learned.get(7, "file-out1").batch_id.as_deref(), Some("batch_1"));
        let one = br#"{"id":"batch_3","object":"batch","output_file_id":"file-out3"}"#;
        assert!(read(&learned, 7, Upstream::OpenAi, &rewrite(), one).is_none());
        assert_eq!(learned.get(7, "file-out3").batch_id.as_deref(), Some("batch_3"));
    }

    #[test]
    fn anthropic_results_urls_point_at_the_proxy() {
        let learned = Learned::default();
        let one = br#"{"id":"msgbatch_1","type":"message_batch","ended_at":"2026-12-06T10:00:00Z",
            "results_url":"https://api.anthropic.com/v1/messages/batches/msgbatch_1/results"}"#;
        let answered: Value =
            serde_json::from_slice(&read(&learned, 7, Upstream::Anthropic, &rewrite(), one).unwrap()).unwrap();
        assert_eq!(
            answered["results_url"],
            "http://127.0.0.1:8787/proxy/anthropic/v1/messages/batches/msgbatch_1/results"
        );
        assert_eq!(answered["id"], "msgbatch_1");
        let facts = learned.get(7, "msgbatch_1");
        assert_eq!(facts.ended_at_ms, Some(jiff::Timestamp::from_second(1_796_551_200).unwrap().as_millisecond()));
        // A batch still running has no results URL; another host's URL is left alone.
        let list = br#"{"data":[{"id":"msgbatch_2","results_url":null},{"id":"msgbatch_3","results_url":"https://elsewhere.example/r"}]}"#;
        assert!(read(&learned, 7, Upstream::Anthropic, &rewrite(), list).is_none());
        assert!(read(&learned, 7, Upstream::Anthropic, &rewrite(), b"not json").is_none());
    }
}
