//! OpenTelemetry spans → LLM calls: which spans describe a billed LLM call
//! (GenAI semantic conventions, OpenInference, the Vercel AI SDK), and the
//! call's provider, model, token buckets, time, project and tags.
//!
//! Pure: the server decodes OTLP (protobuf or JSON) and hands each span over
//! as a [`SpanView`] of borrowed attributes, so this crate knows nothing of
//! the wire format. Whether an instrumentation's input count includes cached
//! tokens is decided by one table, [`input_counting`].

pub mod input_counting;
mod mapping;

pub use input_counting::{InputCounting, counting_for};
pub use mapping::{LlmCall, PROJECT_KEY, SpanOutcome, TAG_PREFIX, is_candidate, is_marker, map_span};

/// One attribute value, borrowed from the decoded span.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrValue<'a> {
    Str(&'a str),
    Int(i64),
    /// Only read as a whole count or as text (an instrumentation's own cost,
    /// kept for comparison); never used to compute money.
    Double(f64),
    Bool(bool),
    /// Arrays, maps and bytes: never needed here.
    Other,
}

/// One `key = value` attribute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attribute<'a> {
    pub key: &'a str,
    pub value: AttrValue<'a>,
}

/// The instrumentation that made a span (its OTel instrumentation scope).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// One span as the mapping needs it.
#[derive(Clone, Copy, Debug)]
pub struct SpanView<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub name: &'a str,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// The span's status is `ERROR`.
    pub failed: bool,
    pub scope: Scope<'a>,
    pub attributes: &'a [Attribute<'a>],
    /// The resource's attributes (`service.name`, `llmlab.project`, …).
    pub resource: &'a [Attribute<'a>],
}

/// The value of the first attribute named `key`.
#[must_use]
pub fn find<'a>(attributes: &[Attribute<'a>], key: &str) -> Option<AttrValue<'a>> {
    attributes.iter().find(|a| a.key == key).map(|a| a.value)
}

/// The text of a string attribute.
#[must_use]
pub fn text<'a>(attributes: &[Attribute<'a>], key: &str) -> Option<&'a str> {
    match find(attributes, key)? {
        AttrValue::Str(s) => Some(s),
        _ => None,
    }
}
