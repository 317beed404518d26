//! Claude Code's session logs: `<config>/projects/<encoded cwd>/<session>.jsonl`,
//! one JSON object per line.
//!
//! An assistant line carries `message.id`, `requestId`, `message.model`,
//! `message.usage` (Anthropic Messages usage: `input_tokens`,
//! `cache_creation_input_tokens`, `cache_read_input_tokens`, `cache_creation`
//! with the 5-minute and 1-hour writes, `output_tokens`, `service_tier`,
//! `server_tool_use`), `cwd`, `sessionId`, `timestamp` and `isSidechain`.
//! Claude Code writes ONE LINE PER CONTENT BLOCK of a response (thinking,
//! text, each tool call), each repeating the response's usage, the earlier
//! ones with a partial `output_tokens`; a resumed session copies earlier
//! lines into its new file. So a line is keyed by `message.id` and
//! `requestId`, and [`super::Collected`] keeps one record per key.
//! `<synthetic>` lines (Claude Code's own error notices) are no model call.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Agent, Record, model_id, timestamp};
use crate::provider::Provider;

/// What one line is.
#[derive(Debug)]
pub enum Line {
    /// A billed response (or one more line of it).
    Usage(Record),
    /// A line without usage: a user turn, a summary, a tool result…
    Other,
    /// Usage Claude Code wrote itself (`<synthetic>` model): no API call.
    Synthetic,
    /// Usage that cannot be imported, and why (no `message.id`, no model, not JSON).
    Unusable(&'static str),
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    cwd: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: bool,
    #[serde(borrow)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    id: Option<String>,
    model: Option<String>,
    stop_reason: Option<String>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
}

/// Reads one line of a Claude Code session log.
#[must_use]
pub fn parse_line(line: &str) -> Line {
    // Most lines (prompts, tool results) carry no usage: skip them unparsed.
    if memchr::memmem::find(line.as_bytes(), b"\"usage\"").is_none() {
        return Line::Other;
    }
    let Ok(raw) = serde_json::from_str::<RawLine<'_>>(line) else {
        return Line::Unusable("not a JSON object of the expected shape");
    };
    let Some(message) = raw.message else { return Line::Other };
    let Some(usage) = message.usage else { return Line::Other };
    if message.model.as_deref() == Some("<synthetic>") {
        return Line::Synthetic;
    }
    let Some(id) = message.id.filter(|id| !id.trim().is_empty()) else {
        return Line::Unusable("an assistant message without `message.id`");
    };
    let Some(model) = message.model.as_deref().and_then(model_id) else {
        return Line::Unusable("an assistant message without `message.model`");
    };
    // Checked here as the server will check it: one refused usage would fail its whole batch.
    let Ok(normalized) = crate::normalize_usage_json(&Provider::Anthropic, usage.get()) else {
        return Line::Unusable("a `message.usage` that is not Anthropic's usage object");
    };
    // Older logs have no `requestId`; the message id alone is unique to a response.
    let key = match raw.request_id.as_deref().filter(|r| !r.trim().is_empty()) {
        Some(request) => format!("{id}/{request}"),
        None => id,
    };
    Line::Usage(Record {
        agent: Agent::ClaudeCode,
        key,
        provider: "anthropic".to_owned(),
        model,
        usage: usage.to_owned(),
        timestamp: raw.timestamp.as_deref().and_then(timestamp),
        session_id: raw.session_id,
        cwd: raw.cwd,
        sidechain: raw.is_sidechain,
        output_tokens: normalized.buckets.output_tokens,
        complete: message.stop_reason.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_logs::Collected;

    const BLOCK_1: &str = r#"{"parentUuid":"u1","isSidechain":false,"cwd":"/home/ana/shop","sessionId":"s-1","version":"2.0.14","type":"assistant","message":{"id":"msg_A","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Looking."}],"stop_reason":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":0},"output_tokens":3,"service_tier":"standard"}},"requestId":"req_A","uuid":"u2","timestamp":"2026-10-05T09:00:01.000Z"}"#;
    const BLOCK_2: &str = r#"{"parentUuid":"u2","isSidechain":false,"cwd":"/home/ana/shop","sessionId":"s-1","version":"2.0.14","type":"assistant","message":{"id":"msg_A","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":0},"output_tokens":80,"service_tier":"standard"}},"requestId":"req_A","uuid":"u3","timestamp":"2026-10-05T09:00:02.000Z"}"#;

    fn record(line: &str) -> Record {
        match parse_line(line) {
            Line::Usage(record) => record,
            other => panic!("expected usage, got {other:?}"),
        }
    }

    #[test]
    fn an_assistant_line_gives_its_raw_usage_and_ids() {
        let r = record(BLOCK_1);
        assert_eq!(r.key, "msg_A/req_A");
        assert_eq!(r.model, "claude-sonnet-4-5-20250929");
        assert_eq!(r.provider, "anthropic");
        assert_eq!(r.timestamp.as_deref(), Some("2026-10-05T09:00:01Z"));
        assert_eq!(r.project().as_deref(), Some("shop"));
        assert_eq!(r.session_id.as_deref(), Some("s-1"));
        assert!(r.usage.get().contains(r#""ephemeral_5m_input_tokens":100"#), "passed through as written");
        assert_eq!(r.output_tokens, 3);
        assert!(!r.sidechain);
        assert!(!r.complete, "`stop_reason` null: more lines may follow");
        assert!(record(BLOCK_2).complete);
    }

    #[test]
    fn the_lines_of_one_message_collapse_into_one_record_with_the_final_output() {
        let mut collected = Collected::default();
        collected.add(record(BLOCK_1));
        collected.add(record(BLOCK_2));
        collected.add(record(BLOCK_1)); // a resumed session's copy, read after
        assert_eq!((collected.len(), collected.repeats), (1, 2));
        let kept = collected.into_sorted().remove(0);
        assert_eq!(kept.output_tokens, 80);
        assert!(kept.usage.get().contains(r#""output_tokens":80"#));
    }

    #[test]
    fn synthetic_prompt_and_broken_lines_are_told_apart() {
        let synthetic = r#"{"type":"assistant","message":{"id":"x","model":"<synthetic>","usage":{"input_tokens":0,"output_tokens":0}},"requestId":"r"}"#;
        assert!(matches!(parse_line(synthetic), Line::Synthetic));
        let user = r#"{"type":"user","message":{"role":"user","content":"hi"},"cwd":"/x"}"#;
        assert!(matches!(parse_line(user), Line::Other));
        let no_id = r#"{"type":"assistant","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":1}}}"#;
        assert!(matches!(parse_line(no_id), Line::Unusable(_)));
        assert!(matches!(parse_line(r#"{"usage": tru"#), Line::Unusable(_)));
        let negative = r#"{"type":"assistant","message":{"id":"m","model":"claude-haiku-4-5","usage":{"input_tokens":-1,"output_tokens":1}}}"#;
        assert!(matches!(parse_line(negative), Line::Unusable(_)), "refused here, not in the server's batch");
    }

    #[test]
    fn a_line_without_request_id_is_keyed_by_its_message_id() {
        let line = r#"{"type":"assistant","message":{"id":"msg_old","model":"claude-3-7-sonnet-20250219","usage":{"input_tokens":1,"output_tokens":2}},"isSidechain":true}"#;
        let r = record(line);
        assert_eq!(r.key, "msg_old");
        assert!(r.sidechain);
        assert_eq!(r.tags(crate::agent_logs::Billing::Api)["sidechain"], "true");
    }
}
