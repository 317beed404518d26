//! The one validator for the short texts the API stores or looks up:
//! providers, models, event ids, projects, statuses, names and tags.
//!
//! A label must not be blank, must fit its limit, and must not contain
//! control characters. NUL matters most: PostgreSQL refuses it in `text`
//! (a 500 where SQLite would store it), so it is refused here, before any
//! query, the same way on both backends. The checks apply to the value as
//! sent (so the `OpenAPI` document's `maxLength` and `pattern` state them
//! exactly, see [`llmlab_api::limits`]); the label is then trimmed.
//!
//! Errors are typed; callers name the field: `ApiError::invalid("model", e)`.

use std::collections::BTreeMap;

pub use llmlab_api::limits::{
    MAX_EVENT_ID_CHARS, MAX_HOST_CHARS, MAX_MODEL_CHARS, MAX_NAME_CHARS, MAX_PROJECT_CHARS, MAX_PROVIDER_CHARS,
    MAX_STATUS_CHARS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS, MAX_TIER_CHARS,
};

/// Why a text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Why a tag map was refused; names the tag at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("at most {MAX_TAGS} tags")]
    TooMany,
    /// The tag's name is at fault (`key` is as sent; `{:?}` shows its control characters escaped).
    #[error("tag name {key:?} {problem}")]
    Key { key: String, problem: LabelError },
    #[error("the value of tag {key:?} {problem}")]
    Value { key: String, problem: LabelError },
}

impl TagError {
    /// The tag at fault, if one is.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            TagError::TooMany => None,
            TagError::Key { key, .. } | TagError::Value { key, .. } => Some(key),
        }
    }
}

/// A required label: at most `max` characters, no control characters, not
/// blank. Returns it trimmed.
pub fn text(value: &str, max: usize) -> Result<&str, LabelError> {
    let trimmed = free_text(value, max)?.trim();
    if trimmed.is_empty() {
        return Err(LabelError::Empty);
    }
    Ok(trimmed)
}

/// An optional label where blank means "none" (display names, filters):
/// `None` when blank, else the trimmed label.
pub fn optional_text(value: &str, max: usize) -> Result<Option<&str>, LabelError> {
    let trimmed = free_text(value, max)?.trim();
    Ok((!trimmed.is_empty()).then_some(trimmed))
}

/// Text that may be empty (a tag's value): at most `max` characters, no
/// control characters. Returned as sent.
pub fn free_text(value: &str, max: usize) -> Result<&str, LabelError> {
    if value.chars().any(char::is_control) {
        return Err(LabelError::ControlCharacter);
    }
    if value.chars().count() > max {
        return Err(LabelError::TooLong { max });
    }
    Ok(value)
}

/// Checks an event's tags: at most [`MAX_TAGS`], names are labels of at most
/// [`MAX_TAG_KEY_CHARS`], values free text of at most [`MAX_TAG_VALUE_CHARS`].
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), TagError> {
    if tags.len() > MAX_TAGS {
        return Err(TagError::TooMany);
    }
    for (key, value) in tags {
        text(key, MAX_TAG_KEY_CHARS).map_err(|problem| TagError::Key { key: key.clone(), problem })?;
        free_text(value, MAX_TAG_VALUE_CHARS).map_err(|problem| TagError::Value { key: key.clone(), problem })?;
    }
    Ok(())
}

/// [`check_tags`], then the tags as the JSON object stored with the event.
pub fn tags(tags: Option<&BTreeMap<String, String>>) -> Result<Option<String>, TagError> {
    let Some(tags) = tags else { return Ok(None) };
    check_tags(tags)?;
    // A map of strings always serializes.
    Ok(Some(serde_json::to_string(tags).expect("a string map serializes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_trimmed_and_must_not_be_blank() {
        assert_eq!(text("  gpt-4o ", MAX_MODEL_CHARS), Ok("gpt-4o"));
        assert_eq!(text("", 10), Err(LabelError::Empty));
        assert_eq!(text(" \u{3000} ", 10), Err(LabelError::Empty));
        assert_eq!(optional_text("  ", 10), Ok(None));
        assert_eq!(optional_text(" a ", 10), Ok(Some("a")));
    }

    #[test]
    fn control_characters_are_refused_anywhere_nul_included() {
        for value in ["a\0b", "\0", "model\n", "\ta", "a\u{7f}", "a\u{85}b", "a\u{9f}"] {
            assert_eq!(text(value, 100), Err(LabelError::ControlCharacter), "{value:?}");
            assert_eq!(free_text(value, 100), Err(LabelError::ControlCharacter), "{value:?}");
            assert_eq!(optional_text(value, 100), Err(LabelError::ControlCharacter), "{value:?}");
        }
        // Other invisible characters are not control characters.
        assert_eq!(text("a\u{200b}b\u{feff}", 10), Ok("a\u{200b}b\u{feff}"));
    }

    #[test]
    fn the_limit_counts_characters_as_sent() {
        assert_eq!(text(&"é".repeat(64), MAX_PROVIDER_CHARS), Ok("é".repeat(64).as_str()));
        assert_eq!(text(&"é".repeat(65), MAX_PROVIDER_CHARS), Err(LabelError::TooLong { max: 64 }));
        // Spaces around count too: the document's `maxLength` cannot say "after trimming".
        assert_eq!(text(&format!("{} ", "a".repeat(64)), 64), Err(LabelError::TooLong { max: 64 }));
        assert_eq!(LabelError::TooLong { max: 64 }.to_string(), "must be at most 64 characters");
    }

    #[test]
    fn tags_are_limited_in_number_names_and_values() {
        let ok: BTreeMap<String, String> =
            [("team".to_owned(), "search".to_owned()), ("flag".to_owned(), String::new())].into();
        assert_eq!(tags(Some(&ok)).unwrap().as_deref(), Some(r#"{"flag":"","team":"search"}"#));
        assert_eq!(tags(None), Ok(None));

        let many: BTreeMap<String, String> = (0..=MAX_TAGS).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert_eq!(check_tags(&many), Err(TagError::TooMany));

        let nul_value: BTreeMap<String, String> = [("k".to_owned(), "a\0b".to_owned())].into();
        let error = check_tags(&nul_value).unwrap_err();
        assert_eq!(error, TagError::Value { key: "k".to_owned(), problem: LabelError::ControlCharacter });
        assert_eq!(error.key(), Some("k"));

        let long_value: BTreeMap<String, String> = [("k".to_owned(), "v".repeat(MAX_TAG_VALUE_CHARS + 1))].into();
        assert!(matches!(check_tags(&long_value), Err(TagError::Value { problem: LabelError::TooLong { .. }, .. })));

        let nul_key: BTreeMap<String, String> = [("a\0".to_owned(), "v".to_owned())].into();
        let error = check_tags(&nul_key).unwrap_err();
        assert_eq!(error.to_string(), r#"tag name "a\0" must not contain control characters"#);

        let blank_key: BTreeMap<String, String> = [(" ".to_owned(), "v".to_owned())].into();
        assert!(matches!(check_tags(&blank_key), Err(TagError::Key { problem: LabelError::Empty, .. })));
    }
}
