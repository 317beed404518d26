//! Tool and request fees counted from the parts of a response outside its
//! usage object: the calls a provider bills per request, not per token.
//!
//! - OpenAI Responses: the `output` items of the hosted tools. Executed
//!   (`status: completed`) `web_search_call`s are web searches (OpenAI's own
//!   `tool_usage.web_search.num_requests`, where the response has it, wins);
//!   completed `file_search_call`s are file search calls; each distinct
//!   `container_id` of the `code_interpreter_call`s is one container session.
//!   A stream's terminal `response.completed` event carries the same list.
//! - OpenAI chat search models (`gpt-4o-search-preview`, `gpt-5-search-api`, …)
//!   search on every call: one web search per call.
//! - Gemini: grounding with Google Search. Each query in a candidate's
//!   `groundingMetadata.webSearchQueries` is one web search (Gemini 3 bills
//!   per query), and a response grounded by search is one grounded prompt
//!   (Gemini 2.x bills per grounded prompt). Both are counted for every
//!   model; the catalog prices the one the model bills (the other at `0`).
//!   A stream's grounding comes with its last chunks: the last one seen wins.
//!
//! Anthropic reports its server tools inside `usage` (`server_tool_use`), so
//! its counts are read with the rest of its usage (`anthropic.rs`).

use std::borrow::Cow;

use serde::Deserialize;

use super::NormalizeError;
use super::envelope::Envelope;
use crate::usage::{ApiKind, NormalizedUsage};

/// The per-request fees a response shows outside its usage object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ToolCalls {
    pub(crate) web_searches: u64,
    pub(crate) file_searches: u64,
    pub(crate) container_sessions: u64,
    pub(crate) grounded_prompts: u64,
}

impl ToolCalls {
    /// Adds these counts to `usage`'s buckets, with a note where the count is a bound.
    pub(crate) fn apply(self, usage: &mut NormalizedUsage) {
        let buckets = &mut usage.buckets;
        buckets.web_search_requests = buckets.web_search_requests.saturating_add(self.web_searches);
        buckets.file_search_calls = buckets.file_search_calls.saturating_add(self.file_searches);
        buckets.container_sessions = buckets.container_sessions.saturating_add(self.container_sessions);
        buckets.grounded_prompts = buckets.grounded_prompts.saturating_add(self.grounded_prompts);
        if self.container_sessions > 0 {
            usage.notes.push(
                "code interpreter: each container the response ran code in is counted as one session at the \
                 default (1 GB) container price; a container reused from an earlier response is counted again, \
                 and a larger `memory_limit` costs more"
                    .to_owned(),
            );
        }
    }
}

/// What the fee counting needs of one OpenAI Responses `output` item.
#[derive(Deserialize)]
struct OutputItem<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    container_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ToolUsage {
    web_search: Option<NumRequests>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NumRequests {
    num_requests: Option<u64>,
}

/// The hosted-tool calls of an OpenAI Responses object: its `output` list and
/// its `tool_usage` (raw JSON members, either may be absent).
pub(crate) fn openai_responses(output: Option<&str>, tool_usage: Option<&str>) -> Result<ToolCalls, NormalizeError> {
    let mut calls = ToolCalls::default();
    // Every billed item type ends in `_call`; a response without tools skips the parse.
    if let Some(output) = output.filter(|o| o.contains("_call\"")) {
        let items: Vec<OutputItem<'_>> = serde_json::from_str(output)
            .map_err(|e| NormalizeError::NotAResponse(format!("`output` is not a list of output items: {e}")))?;
        let mut containers: Vec<&str> = Vec::new();
        for item in &items {
            let completed = item.status.as_deref() == Some("completed");
            match item.kind.as_deref() {
                Some("web_search_call") if completed => calls.web_searches += 1,
                Some("file_search_call") if completed => calls.file_searches += 1,
                Some("code_interpreter_call") => {
                    let id = item.container_id.as_deref().unwrap_or("");
                    if !containers.contains(&id) {
                        containers.push(id);
                    }
                }
                _ => {}
            }
        }
        calls.container_sessions = containers.len() as u64;
    }
    if let Some(raw) = tool_usage {
        let usage: ToolUsage = serde_json::from_str(raw)
            .map_err(|e| NormalizeError::InvalidUsage(format!("`tool_usage` is malformed: {e}")))?;
        if let Some(reported) = usage.web_search.and_then(|w| w.num_requests) {
            calls.web_searches = reported;
        }
    }
    Ok(calls)
}

/// Whether `model` is one of OpenAI's chat search models, which run a web
/// search on every chat completion call (`gpt-4o-search-preview`,
/// `gpt-4o-mini-search-preview`, `gpt-5-search-api`, their snapshots).
#[must_use]
pub fn is_openai_chat_search_model(model: &str) -> bool {
    let id = model.rsplit('/').next().unwrap_or(model);
    id.contains("-search-preview") || id.contains("-search-api")
}

/// Counts the one web search of a chat search model's call, when `usage` is
/// an OpenAI chat call of one and reports none itself.
pub fn apply_chat_search(usage: &mut NormalizedUsage) {
    let is_search_call = usage.api == Some(ApiKind::OpenAiChat)
        && usage.model.as_deref().is_some_and(is_openai_chat_search_model)
        && usage.buckets.web_search_requests == 0;
    if is_search_call {
        usage.buckets.web_search_requests = 1;
        usage.notes.push("a chat search model searches the web on every call: one web search is counted".to_owned());
    }
}

/// What the fee counting needs of one Gemini candidate.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Candidate {
    #[serde(alias = "grounding_metadata")]
    grounding_metadata: Option<GroundingMetadata>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GroundingMetadata {
    #[serde(alias = "web_search_queries")]
    web_search_queries: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(alias = "search_entry_point")]
    search_entry_point: Option<serde::de::IgnoredAny>,
}

/// The Google Search grounding of a Gemini response's `candidates` (raw
/// JSON), or `None` when no candidate carries grounding metadata.
pub(crate) fn gemini_grounding(candidates: &str) -> Result<Option<ToolCalls>, NormalizeError> {
    if !(candidates.contains("groundingMetadata") || candidates.contains("grounding_metadata")) {
        return Ok(None);
    }
    let candidates: Vec<Candidate> = serde_json::from_str(candidates)
        .map_err(|e| NormalizeError::NotAResponse(format!("`candidates` is not a list of candidates: {e}")))?;
    let mut queries = 0u64;
    let mut grounded = false;
    let mut seen = false;
    for metadata in candidates.iter().filter_map(|c| c.grounding_metadata.as_ref()) {
        seen = true;
        let count = metadata.web_search_queries.as_ref().map_or(0, Vec::len) as u64;
        queries = queries.saturating_add(count);
        grounded |= count > 0 || metadata.search_entry_point.is_some();
    }
    Ok(seen.then_some(ToolCalls {
        web_searches: queries,
        grounded_prompts: u64::from(grounded),
        ..ToolCalls::default()
    }))
}

/// The fees of a complete response of `api` whose top-level members are `env`.
pub(super) fn of_object(api: ApiKind, env: &Envelope<'_>) -> Result<ToolCalls, NormalizeError> {
    match api {
        ApiKind::OpenAiResponses => openai_responses(env.output, env.tool_usage),
        ApiKind::GeminiGenerateContent => {
            Ok(env.candidates.map(gemini_grounding).transpose()?.flatten().unwrap_or_default())
        }
        _ => Ok(ToolCalls::default()),
    }
}

/// The fees of the parts of a response an SDK sends beside its raw usage
/// (`response_parts`: the response's own `output` and `tool_usage` members
/// for OpenAI Responses, `candidates` for Gemini), added to `usage`.
///
/// # Errors
/// When `parts` is not a JSON object, or a member is malformed.
pub fn apply_response_parts(usage: &mut NormalizedUsage, parts: &str) -> Result<(), NormalizeError> {
    let env = super::envelope::parse_envelope(parts)?;
    let api = match usage.api {
        Some(api) => api,
        None if env.candidates.is_some() => ApiKind::GeminiGenerateContent,
        None => ApiKind::OpenAiResponses,
    };
    if api == ApiKind::OpenAiChat && env.output.is_some() {
        return Err(NormalizeError::NotAResponse(
            "`output` items belong to a Responses API call, but the usage is a chat completion's".to_owned(),
        ));
    }
    of_object(api, &env)?.apply(usage);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_executed_searches_and_distinct_containers_count() {
        let output = r#"[
            {"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"a"}},
            {"type":"web_search_call","id":"ws_2","status":"failed"},
            {"type":"web_search_call","id":"ws_3","status":"completed"},
            {"type":"file_search_call","id":"fs_1","status":"completed","queries":["q"],"results":null},
            {"type":"file_search_call","id":"fs_2","status":"incomplete"},
            {"type":"code_interpreter_call","id":"ci_1","status":"completed","container_id":"cntr_a","code":"1+1"},
            {"type":"code_interpreter_call","id":"ci_2","status":"failed","container_id":"cntr_a","code":"x"},
            {"type":"code_interpreter_call","id":"ci_3","status":"completed","container_id":"cntr_b","code":"2"},
            {"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[]}
        ]"#;
        let calls = openai_responses(Some(output), None).unwrap();
        assert_eq!(calls, ToolCalls { web_searches: 2, file_searches: 1, container_sessions: 2, grounded_prompts: 0 });
        let reported = openai_responses(Some(output), Some(r#"{"web_search":{"num_requests":3}}"#)).unwrap();
        assert_eq!(reported.web_searches, 3, "OpenAI's own count wins");
        assert_eq!(openai_responses(Some(r#"[{"type":"message"}]"#), None).unwrap(), ToolCalls::default());
        assert!(openai_responses(Some(r#"{"type":"web_search_call"}"#), None).is_err());
    }

    #[test]
    fn gemini_counts_queries_and_one_grounded_prompt() {
        let candidates = r#"[{"content":{"parts":[{"text":"x"}]},"groundingMetadata":{
            "webSearchQueries":["a","b","c"],"searchEntryPoint":{"renderedContent":"<div/>"},"groundingChunks":[]}}]"#;
        let calls = gemini_grounding(candidates).unwrap().unwrap();
        assert_eq!((calls.web_searches, calls.grounded_prompts), (3, 1));
        let snake = r#"[{"grounding_metadata":{"web_search_queries":["a"]}}]"#;
        assert_eq!(gemini_grounding(snake).unwrap().unwrap().web_searches, 1);
        let ungrounded = r#"[{"groundingMetadata":{}}]"#;
        assert_eq!(gemini_grounding(ungrounded).unwrap(), Some(ToolCalls::default()));
        assert_eq!(gemini_grounding(r#"[{"content":{}}]"#).unwrap(), None);
    }

    #[test]
    fn whole_bodies_and_streams_count_their_fees() {
        use crate::normalize::{Hints, normalize_body};
        let responses = br#"{"object":"response","model":"gpt-5","status":"completed","output":[
            {"type":"web_search_call","status":"completed"},{"type":"file_search_call","status":"completed"}],
            "usage":{"input_tokens":10,"output_tokens":2,"total_tokens":12}}"#;
        let n = normalize_body(responses, &Hints::default()).unwrap();
        assert_eq!((n.buckets.web_search_requests, n.buckets.file_search_calls), (1, 1));
        let gemini_stream = concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],",
            "\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":1,\"totalTokenCount\":6},",
            "\"modelVersion\":\"gemini-3-flash-preview\"}\n\n",
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\",",
            "\"groundingMetadata\":{\"webSearchQueries\":[\"x\",\"y\"]}}],",
            "\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":2,\"totalTokenCount\":7},",
            "\"modelVersion\":\"gemini-3-flash-preview\"}\n\n",
        );
        let n = normalize_body(gemini_stream.as_bytes(), &Hints::default()).unwrap();
        assert_eq!((n.buckets.web_search_requests, n.buckets.grounded_prompts), (2, 1));
        let fetch = br#"{"type":"message","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":2,
            "server_tool_use":{"web_search_requests":0,"web_fetch_requests":3}}}"#;
        assert_eq!(normalize_body(fetch, &Hints::default()).unwrap().buckets.web_fetch_requests, 3);
    }

    #[test]
    fn response_parts_beside_a_raw_usage_count_like_the_whole_body() {
        use crate::normalize::normalize_usage_json;
        use crate::provider::Provider;
        let mut usage =
            normalize_usage_json(&Provider::OpenAi, r#"{"input_tokens":10,"output_tokens":2,"total_tokens":12}"#)
                .unwrap();
        let parts = r#"{"output":[{"type":"code_interpreter_call","status":"completed","container_id":"cntr_1"}]}"#;
        apply_response_parts(&mut usage, parts).unwrap();
        assert_eq!(usage.buckets.container_sessions, 1);
        let mut chat = normalize_usage_json(&Provider::OpenAi, r#"{"prompt_tokens":1,"completion_tokens":1}"#).unwrap();
        assert!(apply_response_parts(&mut chat, r#"{"output":[]}"#).is_err(), "chat has no output items");
        assert!(apply_response_parts(&mut chat, "[]").is_err());
        chat.model = Some("gpt-4o-search-preview-2025-03-11".to_owned());
        apply_chat_search(&mut chat);
        assert_eq!(chat.buckets.web_search_requests, 1);
    }

    #[test]
    fn chat_search_models_are_recognised_by_id() {
        for id in ["gpt-4o-search-preview", "gpt-4o-mini-search-preview-2025-03-11", "openai/gpt-5-search-api"] {
            assert!(is_openai_chat_search_model(id), "{id}");
        }
        for id in ["gpt-4o", "gpt-5", "o3-deep-research"] {
            assert!(!is_openai_chat_search_model(id), "{id}");
        }
    }
}
