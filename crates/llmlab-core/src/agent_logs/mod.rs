//! Coding agents' session logs (Claude Code, Codex) read into billed model
//! responses, one record per response, each carrying the provider's raw usage
//! object and a deterministic event id.
//!
//! No I/O: the CLI reads the files and hands lines to [`claude_code`] and
//! [`codex`]; the server prices the usage like any other event. The rules
//! (docs/coding-agents.md):
//! - one event per billed response, keyed by the agent's own ids, so the lines
//!   Claude Code writes per content block, the copies a resumed session makes
//!   and a second import all collapse into one event ([`Record::event_id`]);
//! - the project is the last component of the session's working directory
//!   ([`project_from_cwd`]);
//! - every event is tagged `source=claude-code|codex` and `billing=api|subscription`
//!   ([`billing`] decides the latter from which kind of login the agent has).

pub mod billing;
pub mod claude_code;
pub mod codex;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

pub use billing::Billing;

/// Most characters of a project name (the API's limit).
const MAX_PROJECT_CHARS: usize = 100;
/// Most characters of a tag value (the API's limit).
const MAX_TAG_VALUE_CHARS: usize = 500;
/// Most characters of a model id (the API's limit).
const MAX_MODEL_CHARS: usize = 200;

/// The agent that wrote a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Agent {
    ClaudeCode,
    Codex,
}

impl Agent {
    /// The `source` tag value and the command-line name: `claude-code`, `codex`.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
        }
    }

    /// The product name, for people: `Claude Code`, `Codex`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex",
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// One billed model response found in an agent's log.
#[derive(Clone, Debug)]
pub struct Record {
    pub agent: Agent,
    /// The agent's own ids the event is keyed by, readable (`msg_…/req_…`;
    /// for Codex the session id and its cumulative token counts).
    pub key: String,
    /// `openai`, `anthropic`, or the provider the agent names.
    pub provider: String,
    pub model: String,
    /// The provider's raw usage object: Anthropic Messages `usage` for Claude
    /// Code, an OpenAI Responses `usage` for Codex. The server normalizes and prices it.
    pub usage: Box<RawValue>,
    /// When the response was logged, RFC 3339 (as normalized by `jiff`).
    pub timestamp: Option<String>,
    pub session_id: Option<String>,
    /// The session's working directory.
    pub cwd: Option<String>,
    /// A Claude Code subagent's (Task tool) message.
    pub sidechain: bool,
    /// The output tokens the line reports; of several lines of one message,
    /// the one with the most is kept (earlier lines carry a partial count).
    pub output_tokens: u64,
    /// The line says the response is over (Claude Code: a `stop_reason`; a
    /// Codex token count always is): its usage is final.
    pub complete: bool,
}

impl Record {
    /// The event id: the agent's name and a digest of [`Record::key`], so the
    /// same response gives the same id in every file and every import.
    #[must_use]
    pub fn event_id(&self) -> String {
        event_id(self.agent, &self.key)
    }

    /// `project_from_cwd` of the session's working directory.
    #[must_use]
    pub fn project(&self) -> Option<String> {
        self.cwd.as_deref().and_then(project_from_cwd)
    }

    /// The event's tags: `source`, `billing`, `session` and, for a subagent's message, `sidechain`.
    #[must_use]
    pub fn tags(&self, billing: Billing) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        tags.insert("source".to_owned(), self.agent.slug().to_owned());
        tags.insert("billing".to_owned(), billing.tag().to_owned());
        if let Some(session) = self.session_id.as_deref().and_then(|s| clean(s, MAX_TAG_VALUE_CHARS)) {
            tags.insert("session".to_owned(), session);
        }
        if self.sidechain {
            tags.insert("sidechain".to_owned(), "true".to_owned());
        }
        tags
    }
}

/// `{agent}-{first 32 hex digits of SHA-256(agent, key)}`: 44 characters
/// whatever the ids' length or characters (the API allows 128, no control characters).
#[must_use]
pub fn event_id(agent: Agent, key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(agent.slug().as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let digest = hex::encode(hash.finalize());
    format!("{}-{}", agent.slug(), &digest[..32])
}

/// The project of a session: the last component of its working directory
/// (`/home/ana/src/shop` → `shop`; Windows paths too), without control
/// characters, trimmed, at most 100 characters. `None` for `/` or a blank
/// name (the event goes to the `default` project).
#[must_use]
pub fn project_from_cwd(cwd: &str) -> Option<String> {
    let last = cwd.trim_end_matches(['/', '\\']).rsplit(['/', '\\']).next()?;
    clean(last, MAX_PROJECT_CHARS)
}

/// A label as the API accepts it: control characters removed, trimmed,
/// cut to `max` characters; `None` when nothing is left.
fn clean(text: &str, max: usize) -> Option<String> {
    let kept: String = text.chars().filter(|c| !c.is_control()).collect();
    let cut: String = kept.trim().chars().take(max).collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_owned())
}

/// A model id as the API accepts it, or `None`.
fn model_id(model: &str) -> Option<String> {
    clean(model, MAX_MODEL_CHARS)
}

/// An RFC 3339 timestamp, re-formatted; `None` when it does not parse.
fn timestamp(text: &str) -> Option<String> {
    text.parse::<jiff::Timestamp>().ok().map(|t| t.to_string())
}

/// Takes the lines of a file's last response out of `records` when none of
/// them says the response is over (no `stop_reason` yet): the agent may still
/// be writing it, and its final usage is still to come.
#[must_use]
pub fn take_unfinished_last(records: &mut Vec<Record>) -> Vec<Record> {
    let Some(key) = records.last().filter(|r| !r.complete).map(|r| r.key.clone()) else { return Vec::new() };
    if records.iter().any(|r| r.key == key && r.complete) {
        return Vec::new();
    }
    let (last, others): (Vec<Record>, Vec<Record>) = records.drain(..).partition(|r| r.key == key);
    *records = others;
    last
}

/// Records collected from many files (one import): one per event id, the
/// copy with the most output tokens kept, so a message split over lines or
/// repeated by a resumed session counts once with its final usage.
#[derive(Debug, Default)]
pub struct Collected {
    records: BTreeMap<String, Record>,
    /// Lines that repeated a response already collected.
    pub repeats: u64,
}

impl Collected {
    /// Adds a record; a repeat of one already collected keeps the larger output count.
    pub fn add(&mut self, record: Record) {
        let id = record.event_id();
        match self.records.get_mut(&id) {
            Some(kept) => {
                self.repeats += 1;
                if record.output_tokens > kept.output_tokens {
                    *kept = record;
                }
            }
            None => {
                self.records.insert(id, record);
            }
        }
    }

    /// How many distinct responses.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, oldest first (then by event id, so the order is stable).
    #[must_use]
    pub fn into_sorted(self) -> Vec<Record> {
        let mut records: Vec<Record> = self.records.into_values().collect();
        records.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.event_id().cmp(&b.event_id())));
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_the_last_component_of_the_working_directory() {
        assert_eq!(project_from_cwd("/home/ana/src/shop").as_deref(), Some("shop"));
        assert_eq!(project_from_cwd("/home/ana/src/shop/").as_deref(), Some("shop"));
        assert_eq!(project_from_cwd(r"C:\Users\ana\web app").as_deref(), Some("web app"));
        assert_eq!(project_from_cwd("relative"), Some("relative".to_owned()));
        assert_eq!(project_from_cwd("/"), None);
        assert_eq!(project_from_cwd(""), None);
        assert_eq!(project_from_cwd("/tmp/a\u{7}b").as_deref(), Some("ab"), "control characters are dropped");
        let long = format!("/x/{}", "é".repeat(150));
        assert_eq!(project_from_cwd(&long).map(|p| p.chars().count()), Some(100));
    }

    fn record(key: &str, at: &str, session: Option<&str>) -> Record {
        Record {
            agent: Agent::Codex,
            key: key.to_owned(),
            provider: "openai".to_owned(),
            model: "gpt-5.3-codex".to_owned(),
            usage: RawValue::from_string("{}".to_owned()).unwrap(),
            timestamp: Some(at.to_owned()),
            session_id: session.map(str::to_owned),
            cwd: None,
            sidechain: false,
            output_tokens: 0,
            complete: true,
        }
    }

    #[test]
    fn every_event_is_tagged_with_its_source_billing_and_session() {
        let tags = record("k", "2026-10-06T10:00:00Z", Some("s-1\u{0}")).tags(Billing::Subscription);
        let expected: BTreeMap<String, String> = [("source", "codex"), ("billing", "subscription"), ("session", "s-1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(tags, expected, "control characters never reach the API");
        assert!(!record("k", "2026-10-06T10:00:00Z", None).tags(Billing::Api).contains_key("session"));
    }

    #[test]
    fn only_an_unfinished_last_response_is_taken_out() {
        let unfinished = |key: &str| Record { complete: false, ..record(key, "2026-10-06T10:00:00Z", None) };
        let mut records = vec![record("a", "2026-10-06T10:00:00Z", None), unfinished("b"), unfinished("b")];
        assert_eq!(take_unfinished_last(&mut records).len(), 2);
        assert_eq!(records.len(), 1);
        let mut finished = vec![unfinished("c"), record("c", "2026-10-06T10:00:00Z", None)];
        assert!(take_unfinished_last(&mut finished).is_empty(), "its last line has the stop reason");
        let mut out_of_order = vec![record("d", "2026-10-06T10:00:00Z", None), unfinished("d")];
        assert!(take_unfinished_last(&mut out_of_order).is_empty(), "a line of it is final");
        assert_eq!(out_of_order.len(), 2);
    }

    #[test]
    fn collected_records_come_out_oldest_first() {
        let mut collected = Collected::default();
        collected.add(record("b", "2026-10-06T11:00:00Z", None));
        collected.add(record("a", "2026-10-06T10:00:00Z", None));
        let keys: Vec<String> = collected.into_sorted().into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn event_ids_are_deterministic_per_agent_and_key() {
        let a = event_id(Agent::ClaudeCode, "msg_1/req_1");
        assert_eq!(a, event_id(Agent::ClaudeCode, "msg_1/req_1"));
        assert_ne!(a, event_id(Agent::ClaudeCode, "msg_1/req_2"));
        assert_ne!(a, event_id(Agent::Codex, "msg_1/req_1"));
        assert!(a.starts_with("claude-code-"));
        assert_eq!(a.len(), "claude-code-".len() + 32);
    }
}
