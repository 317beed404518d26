//! The limits of the API's text fields, and their `OpenAPI` schemas.
//!
//! The server checks text with `llmlab_server::service::labels`, which re-exports
//! these numbers; the schemas below state the same rules in the document, so
//! a client (or a schema fuzzer) can tell from the document alone which
//! values the server accepts. The rules are checked on the value as sent:
//! JSON Schema's `maxLength` and `pattern` cannot describe "after trimming".

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr};

/// Most characters in a provider name.
pub const MAX_PROVIDER_CHARS: usize = 64;
/// Most characters in a model id.
pub const MAX_MODEL_CHARS: usize = 200;
/// Most characters in an event id.
pub const MAX_EVENT_ID_CHARS: usize = 128;
/// Most characters in a project name.
pub const MAX_PROJECT_CHARS: usize = 100;
/// Most characters in an event's status.
pub const MAX_STATUS_CHARS: usize = 64;
/// Most characters in an event's requested service tier.
pub const MAX_TIER_CHARS: usize = 64;
/// Most characters in a host name (RFC 1035).
pub const MAX_HOST_CHARS: usize = 253;
/// Most characters in an account's or a key's display name.
pub const MAX_NAME_CHARS: usize = 100;
/// Most tags on one event.
pub const MAX_TAGS: usize = 50;
/// Most characters in a tag's name.
pub const MAX_TAG_KEY_CHARS: usize = 64;
/// Most characters in a tag's value.
pub const MAX_TAG_VALUE_CHARS: usize = 500;

/// Characters Rust's `char::is_control` refuses (Unicode `Cc`), as a regex class body.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// Control characters and the `White_Space` characters `str::trim` removes.
const CONTROL_OR_SPACE: &str = r"\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A label: no control characters (NUL included) and not only white space.
#[must_use]
pub fn label_pattern() -> String {
    format!("^[^{CONTROL}]*[^{CONTROL_OR_SPACE}][^{CONTROL}]*$")
}

/// Free text that may be empty or blank: no control characters.
#[must_use]
pub fn text_pattern() -> String {
    format!("^[^{CONTROL}]*$")
}

fn string_type(nullable: bool) -> SchemaType {
    if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::new(Type::String) }
}

/// A label of at most `max` characters; `null` too when `nullable`.
#[must_use]
pub fn label_schema(max: usize, nullable: bool, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(label_pattern()))
        .description(Some(format!("{description} At most {max} characters, no control characters, not blank.")))
        .into()
}

/// Text of at most `max` characters that may be blank (blank means "none").
#[must_use]
pub fn blank_or_text_schema(max: usize, nullable: bool, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .max_length(Some(max))
        .pattern(Some(text_pattern()))
        .description(Some(format!(
            "{description} At most {max} characters, no control characters; empty or blank means none."
        )))
        .into()
}

/// `provider` of an event or a price.
#[must_use]
pub fn provider() -> Schema {
    label_schema(
        MAX_PROVIDER_CHARS,
        false,
        "`openai`, `anthropic`, `google` (`gemini` is accepted and stored as `google`), or any other provider \
         name (its calls are unpriced, with the nearest built-in name if it looks like a typo, until priced with \
         `POST /api/prices`).",
    )
}

/// An optional `provider`.
#[must_use]
pub fn optional_provider() -> Schema {
    label_schema(
        MAX_PROVIDER_CHARS,
        true,
        "The provider the price applies to (`gemini` is stored as `google`); any when omitted.",
    )
}

/// `model` of an event or a price.
#[must_use]
pub fn model() -> Schema {
    label_schema(MAX_MODEL_CHARS, false, "The model id, e.g. `gpt-4o-2024-08-06`.")
}

/// An event's optional `event_id`.
#[must_use]
pub fn event_id() -> Schema {
    label_schema(
        MAX_EVENT_ID_CHARS,
        true,
        "A client-generated id (UUIDv7 recommended); a retried event is counted once.",
    )
}

/// An event's optional `project`.
#[must_use]
pub fn project() -> Schema {
    label_schema(MAX_PROJECT_CHARS, true, "A project name; created on first use. Defaults to `default`.")
}

/// An event's optional `status`.
#[must_use]
pub fn status() -> Schema {
    label_schema(
        MAX_STATUS_CHARS,
        true,
        "`ok`, `error`, or the provider's HTTP status such as `429`. An event with a 4xx/5xx status and no usage is \
         a call the provider refused: it costs exactly $0 (`cost_source` `refused`), never unpriced.",
    )
}

/// An event's optional `requested_service_tier`.
#[must_use]
pub fn requested_service_tier() -> Schema {
    label_schema(
        MAX_TIER_CHARS,
        true,
        "The service tier the request asked for (`priority`, `flex`, Anthropic's `standard_only`…). The response's \
         tier decides the price; when it differs, the event's note says so.",
    )
}

/// An event's optional `upstream_host`.
#[must_use]
pub fn upstream_host() -> Schema {
    label_schema(
        MAX_HOST_CHARS,
        true,
        "The host the call was sent to, e.g. `eu.api.openai.com`. OpenAI's regional hosts (data residency) bill \
         newer models with an uplift.",
    )
}

/// An optional display name (blank means none).
#[must_use]
pub fn display_name() -> Schema {
    blank_or_text_schema(MAX_NAME_CHARS, true, "A display name.")
}

/// An event's optional `tags`: a string map.
#[must_use]
pub fn tags() -> Schema {
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_TAG_VALUE_CHARS))
        .pattern(Some(text_pattern()));
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_TAG_KEY_CHARS))
        .pattern(Some(label_pattern()));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(MAX_TAGS))
        .property_names(Some(name))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(value.into()))))
        .description(Some(format!(
            "Free-form labels: at most {MAX_TAGS} tags; names of at most {MAX_TAG_KEY_CHARS} characters, not blank; \
             values of at most {MAX_TAG_VALUE_CHARS} characters; no control characters in either."
        )))
        .into()
}

/// A calendar date, `YYYY-MM-DD`.
#[must_use]
pub fn date(nullable: bool, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .description(Some(description))
        .into()
}

/// A calendar date, `YYYY-MM-DD`, or an RFC 3339 time such as
/// `2026-12-07T10:00:00Z` (an offset is required).
#[must_use]
pub fn date_or_time(description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(string_type(false))
        .pattern(Some(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$",
        ))
        .description(Some(description))
        .into()
}

/// Every IANA time zone name the server knows, sorted (names are matched
/// without regard to case).
#[must_use]
pub fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
}

/// An IANA time zone name; `null` too when `nullable`.
#[must_use]
pub fn time_zone(nullable: bool, description: &str) -> Schema {
    let mut names: Vec<serde_json::Value> = time_zone_names().into_iter().map(serde_json::Value::from).collect();
    if nullable {
        names.push(serde_json::Value::Null);
    }
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .enum_values(Some(names))
        .description(Some(format!("{description} An IANA time zone name such as `Europe/Paris`.")))
        .into()
}

/// A decimal string of USD below `10^int_digits`, with at most nine decimals;
/// more than zero when `positive`. The server also takes other decimal
/// notations (`1e3`); the pattern states the one every client can rely on.
#[must_use]
pub fn money(int_digits: usize, positive: bool, nullable: bool, description: &str) -> Schema {
    let pattern = if positive {
        format!(r"^([1-9][0-9]{{0,{}}}(\.[0-9]{{1,9}})?|0\.[0-9]{{0,8}}[1-9])$", int_digits - 1)
    } else {
        format!(r"^[0-9]{{1,{int_digits}}}(\.[0-9]{{1,9}})?$")
    };
    ObjectBuilder::new().schema_type(string_type(nullable)).pattern(Some(pattern)).description(Some(description)).into()
}
