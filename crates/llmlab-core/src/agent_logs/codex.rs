//! Codex's session logs ("rollouts"): `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`,
//! one `{"timestamp", "type", "payload"}` per line; a resumed session appends
//! to its file.
//!
//! - `session_meta`: `payload.id` (the session id), `payload.cwd`,
//!   `payload.model_provider` (absent or `openai` for OpenAI's API);
//! - `turn_context`: `payload.model` (and `payload.cwd`) for the turns that follow
//!   (a token count naming its own `info.model` or `model` overrides it);
//! - `event_msg` with `payload.type == "token_count"`: `payload.info` holds
//!   `total_token_usage` (CUMULATIVE for the session) and `last_token_usage`
//!   (the latest turn), each `{input_tokens, cached_input_tokens,
//!   output_tokens, reasoning_output_tokens, total_tokens}`; `info` is null
//!   before the first response.
//!
//! The delta rule: a turn's usage is `last_token_usage` when present, else
//! the difference of this and the previous totals. Codex emits the same
//! `token_count` twice (the totals unchanged), so a `token_count` whose totals
//! equal the previous ones is a repeat and adds nothing. Codex's counts are
//! the Responses API's: `input_tokens` INCLUDES `cached_input_tokens`, and
//! `output_tokens` INCLUDES `reasoning_output_tokens`; they are sent as an
//! OpenAI Responses `usage` object (`input_tokens_details.cached_tokens`,
//! `output_tokens_details.reasoning_tokens`), which the normalizer splits
//! into disjoint buckets. The event key is the session id and the cumulative
//! totals after the turn: unique per turn, the same on every re-import.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Agent, Record, model_id, timestamp};

/// Codex's token counts (`TokenUsage` in its protocol).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CodexTokens {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

impl CodexTokens {
    fn minus(self, earlier: CodexTokens) -> CodexTokens {
        CodexTokens {
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            cached_input_tokens: self.cached_input_tokens.saturating_sub(earlier.cached_input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            reasoning_output_tokens: self.reasoning_output_tokens.saturating_sub(earlier.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_sub(earlier.total_tokens),
        }
    }

    fn plus(self, more: CodexTokens) -> CodexTokens {
        CodexTokens {
            input_tokens: self.input_tokens.saturating_add(more.input_tokens),
            cached_input_tokens: self.cached_input_tokens.saturating_add(more.cached_input_tokens),
            output_tokens: self.output_tokens.saturating_add(more.output_tokens),
            reasoning_output_tokens: self.reasoning_output_tokens.saturating_add(more.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_add(more.total_tokens),
        }
    }

    fn is_zero(self) -> bool {
        self.input_tokens == 0 && self.cached_input_tokens == 0 && self.output_tokens == 0
    }

    /// The OpenAI Responses `usage` object with these counts.
    fn responses_usage(self) -> Box<RawValue> {
        // Cached input is part of input; a log claiming more cached than input is capped.
        let cached = self.cached_input_tokens.min(self.input_tokens);
        let reasoning = self.reasoning_output_tokens.min(self.output_tokens);
        let usage = serde_json::json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": { "cached_tokens": cached },
            "output_tokens": self.output_tokens,
            "output_tokens_details": { "reasoning_tokens": reasoning },
            "total_tokens": self.input_tokens.saturating_add(self.output_tokens),
        });
        serde_json::value::to_raw_value(&usage).expect("a JSON object of numbers serializes")
    }
}

#[derive(Deserialize)]
struct RawLine {
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    cwd: Option<String>,
    model: Option<String>,
    model_provider: Option<String>,
    info: Option<Info>,
}

#[derive(Deserialize)]
struct Info {
    total_token_usage: Option<CodexTokens>,
    last_token_usage: Option<CodexTokens>,
    /// Some builds name the model on the token count itself.
    model: Option<String>,
}

/// What one line gave.
#[derive(Debug)]
pub enum Line {
    /// A turn's usage.
    Usage(Record),
    /// A repeated `token_count` (unchanged totals), counted once already.
    Repeat,
    /// Context (session id, working directory, model) or a line without usage.
    Other,
    /// Usage that cannot be imported, and why.
    Unusable(&'static str),
}

/// The state of one rollout file, fed its lines in order.
#[derive(Debug)]
pub struct Session {
    id: String,
    cwd: Option<String>,
    model: Option<String>,
    provider: String,
    previous_total: Option<CodexTokens>,
    cumulative: CodexTokens,
}

impl Session {
    /// A session whose id is `fallback_id` (the file's name) until its `session_meta` says otherwise.
    #[must_use]
    pub fn new(fallback_id: &str) -> Session {
        Session {
            id: fallback_id.to_owned(),
            cwd: None,
            model: None,
            provider: "openai".to_owned(),
            previous_total: None,
            cumulative: CodexTokens::default(),
        }
    }

    /// Reads the next line of the file.
    pub fn feed(&mut self, line: &str) -> Line {
        let Ok(raw) = serde_json::from_str::<RawLine>(line) else {
            return if line.contains("token_count") {
                Line::Unusable("not a JSON object of the expected shape")
            } else {
                Line::Other
            };
        };
        let Some(payload) = raw.payload else { return Line::Other };
        match raw.kind.as_deref() {
            Some("session_meta") => {
                if let Some(id) = payload.id.filter(|id| !id.trim().is_empty()) {
                    self.id = id;
                }
                self.cwd = payload.cwd.or(self.cwd.take());
                if let Some(provider) = payload.model_provider.filter(|p| !p.trim().is_empty()) {
                    self.provider = provider.trim().to_ascii_lowercase();
                }
                Line::Other
            }
            Some("turn_context") => {
                self.model = payload.model.as_deref().and_then(model_id).or(self.model.take());
                self.cwd = payload.cwd.or(self.cwd.take());
                Line::Other
            }
            Some("event_msg") if payload.kind.as_deref() == Some("token_count") => {
                let Some(info) = payload.info else { return Line::Other };
                if let Some(model) = info.model.as_deref().or(payload.model.as_deref()).and_then(model_id) {
                    self.model = Some(model);
                }
                self.turn(&info, raw.timestamp.as_deref())
            }
            _ => Line::Other,
        }
    }

    fn turn(&mut self, info: &Info, at: Option<&str>) -> Line {
        if info.total_token_usage.is_some() && info.total_token_usage == self.previous_total {
            return Line::Repeat;
        }
        let delta = match (info.last_token_usage, info.total_token_usage) {
            (Some(last), _) => last,
            (None, Some(total)) => total.minus(self.previous_total.unwrap_or_default()),
            (None, None) => return Line::Other,
        };
        self.cumulative = info.total_token_usage.unwrap_or_else(|| self.cumulative.plus(delta));
        self.previous_total = Some(self.cumulative);
        if delta.is_zero() {
            return Line::Other;
        }
        let Some(model) = self.model.clone() else {
            return Line::Unusable("a token count before any `turn_context` naming the model");
        };
        let c = self.cumulative;
        Line::Usage(Record {
            agent: Agent::Codex,
            key: format!(
                "{}/{}:{}:{}:{}:{}",
                self.id,
                c.input_tokens,
                c.cached_input_tokens,
                c.output_tokens,
                c.reasoning_output_tokens,
                c.total_tokens
            ),
            provider: self.provider.clone(),
            model,
            usage: delta.responses_usage(),
            timestamp: at.and_then(timestamp),
            session_id: Some(self.id.clone()),
            cwd: self.cwd.clone(),
            sidechain: false,
            output_tokens: delta.output_tokens,
            complete: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"timestamp":"2026-10-06T10:00:00.000Z","type":"session_meta","payload":{"id":"0199a1b2-0000-7000-8000-000000000001","timestamp":"2026-10-06T10:00:00.000Z","cwd":"/home/ana/api","originator":"codex_cli_rs","cli_version":"0.46.0","model_provider":"openai"}}"#;
    const CONTEXT: &str = r#"{"timestamp":"2026-10-06T10:00:01.000Z","type":"turn_context","payload":{"cwd":"/home/ana/api","approval_policy":"on-request","model":"gpt-5.3-codex","effort":"medium","summary":"auto"}}"#;

    fn token_count(total: [u64; 4], last: Option<[u64; 4]>) -> String {
        let usage = |[i, c, o, r]: [u64; 4]| serde_json::json!({"input_tokens": i, "cached_input_tokens": c, "output_tokens": o, "reasoning_output_tokens": r, "total_tokens": i + o});
        let mut info = serde_json::json!({ "total_token_usage": usage(total), "model_context_window": 272_000 });
        if let Some(last) = last {
            info["last_token_usage"] = usage(last);
        }
        serde_json::json!({"timestamp": "2026-10-06T10:00:05.000Z", "type": "event_msg", "payload": {"type": "token_count", "info": info}}).to_string()
    }

    fn usage_of(line: Line) -> serde_json::Value {
        match line {
            Line::Usage(r) => serde_json::from_str(r.usage.get()).unwrap(),
            other => panic!("expected usage, got {other:?}"),
        }
    }

    #[test]
    fn last_token_usage_is_the_turn_and_a_repeated_count_adds_nothing() {
        let mut session = Session::new("file-name");
        assert!(matches!(session.feed(META), Line::Other));
        assert!(matches!(session.feed(CONTEXT), Line::Other));
        let first = token_count([1000, 200, 300, 100], Some([1000, 200, 300, 100]));
        let Line::Usage(record) = session.feed(&first) else { panic!("a turn") };
        assert_eq!(record.model, "gpt-5.3-codex");
        assert_eq!(record.project().as_deref(), Some("api"));
        assert_eq!(record.key, "0199a1b2-0000-7000-8000-000000000001/1000:200:300:100:1300");
        let usage: serde_json::Value = serde_json::from_str(record.usage.get()).unwrap();
        assert_eq!(
            usage,
            serde_json::json!({"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200},
                "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 100}, "total_tokens": 1300})
        );
        assert!(matches!(session.feed(&first), Line::Repeat), "the same totals again");
    }

    #[test]
    fn the_usage_sent_normalizes_to_uncached_input_and_output_with_reasoning_inside() {
        let mut session = Session::new("s");
        session.feed(CONTEXT);
        let Line::Usage(record) = session.feed(&token_count([1000, 200, 300, 100], None)) else { panic!("a turn") };
        let n = crate::normalize_usage_json(&crate::Provider::OpenAi, record.usage.get()).unwrap();
        assert_eq!(n.buckets.input_tokens, 800, "input_tokens includes the cached 200");
        assert_eq!(n.buckets.cache_read_tokens, 200);
        assert_eq!(n.buckets.output_tokens, 300, "output_tokens includes reasoning, not added again");
        assert_eq!(n.buckets.reasoning_tokens, 100);
    }

    #[test]
    fn without_last_token_usage_the_turn_is_the_difference_of_totals() {
        let mut session = Session::new("s");
        session.feed(CONTEXT);
        usage_of(session.feed(&token_count([1000, 200, 300, 100], None)));
        let second = usage_of(session.feed(&token_count([2500, 1100, 450, 100], None)));
        assert_eq!(second["input_tokens"], 1500);
        assert_eq!(second["input_tokens_details"]["cached_tokens"], 900);
        assert_eq!(second["output_tokens"], 150);
        assert_eq!(second["output_tokens_details"]["reasoning_tokens"], 0);
    }

    #[test]
    fn counts_before_any_model_are_unusable_and_null_info_is_skipped() {
        let mut session = Session::new("s");
        let null = r#"{"timestamp":"2026-10-06T10:00:02Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{}}}"#;
        assert!(matches!(session.feed(null), Line::Other));
        assert!(matches!(session.feed(&token_count([10, 0, 5, 0], None)), Line::Unusable(_)));
        assert!(matches!(session.feed("not json"), Line::Other));
    }

    #[test]
    fn a_token_count_naming_its_model_needs_no_turn_context() {
        let mut session = Session::new("s");
        let line = r#"{"timestamp":"2026-10-06T10:00:05Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15},"model":"gpt-5-codex"}}}"#;
        let Line::Usage(record) = session.feed(line) else { panic!("a turn") };
        assert_eq!(record.model, "gpt-5-codex");
    }

    #[test]
    fn another_model_provider_is_kept_so_the_server_leaves_it_unpriced() {
        let mut session = Session::new("s");
        session.feed(r#"{"type":"session_meta","payload":{"id":"x","cwd":"/w","model_provider":"Ollama"}}"#);
        session.feed(CONTEXT);
        let Line::Usage(record) = session.feed(&token_count([10, 0, 5, 0], None)) else { panic!() };
        assert_eq!(record.provider, "ollama");
    }
}
