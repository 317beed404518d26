//! OpenAI specifics: chat streams carry usage only when the request asks for
//! it with `stream_options.include_usage` (reference G5). Without it the call
//! is recorded as usage-unknown; with the opt-in setting (or the
//! `X-LLMLab-Include-Usage: true` header) the proxy adds the option itself.

use bytes::Bytes;
use serde_json::{Map, Value};

/// True for the endpoint whose streams need `include_usage`.
pub(crate) fn is_chat_completions(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/chat/completions")
}

/// The request body with `stream_options.include_usage: true` added, or
/// `None` when it needs no change (not a stream, already asked for, or not
/// a JSON object we can safely edit). The body is re-serialized, so member
/// order may change; the meaning does not.
pub(crate) fn with_include_usage(body: &[u8]) -> Option<Bytes> {
    // Most requests are not streams: skip the parse unless `"stream"` appears at all.
    memchr::memmem::find(body, b"\"stream\"")?;
    let mut request: Map<String, Value> = serde_json::from_slice(body).ok()?;
    if request.get("stream") != Some(&Value::Bool(true)) {
        return None;
    }
    match request.get_mut("stream_options") {
        None | Some(Value::Null) => {
            let mut options = Map::new();
            options.insert("include_usage".to_owned(), Value::Bool(true));
            request.insert("stream_options".to_owned(), Value::Object(options));
        }
        Some(Value::Object(options)) => {
            if options.get("include_usage") == Some(&Value::Bool(true)) {
                return None;
            }
            options.insert("include_usage".to_owned(), Value::Bool(true));
        }
        Some(_) => return None,
    }
    serde_json::to_vec(&request).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(body: &str) -> Option<Value> {
        with_include_usage(body.as_bytes()).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn include_usage_is_added_only_to_streams_without_it() {
        let body = edited(r#"{"model":"gpt-4o-mini","stream":true,"messages":[]}"#).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["model"], "gpt-4o-mini");
        let body = edited(r#"{"stream":true,"stream_options":{"include_obfuscation":false}}"#).unwrap();
        assert_eq!(body["stream_options"], serde_json::json!({"include_obfuscation": false, "include_usage": true}));
        assert!(edited(r#"{"stream":true,"stream_options":{"include_usage":true}}"#).is_none());
        assert!(edited(r#"{"stream":false}"#).is_none());
        assert!(edited(r#"{"model":"gpt-4o"}"#).is_none());
        assert!(edited("not json \"stream\"").is_none());
        assert!(is_chat_completions("/v1/chat/completions"));
        assert!(!is_chat_completions("/v1/responses"));
    }
}
