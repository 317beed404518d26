//! A structural scan of a JSON object's top-level members.
//!
//! Provider responses are mostly generated text; the usage is a few dozen
//! bytes. Deserializing the whole body to find it costs more than everything
//! else LLMLab does per call, so this scan only finds where each top-level
//! member's value starts and ends (skipping strings with `memchr`), and the
//! few members we need are then parsed with serde. The structure is checked
//! (balanced brackets, terminated strings, commas and colons where they belong,
//! UTF-8); the contents of members we never read are not validated further.

/// Why a body is not a well-formed JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError(pub(crate) String);

type Scan<T> = Result<T, ScanError>;

fn error<T>(message: impl Into<String>) -> Scan<T> {
    Err(ScanError(message.into()))
}

/// Calls `member(key, value)` for each top-level member of the object `text`,
/// with `key` the raw key (without quotes) and `value` the raw value text.
pub(crate) fn members<'a>(text: &'a str, mut member: impl FnMut(&'a str, &'a str)) -> Scan<()> {
    let json = text.as_bytes();
    let mut at = skip_whitespace(json, 0);
    if json.get(at) != Some(&b'{') {
        return error("expected a JSON object");
    }
    at = skip_whitespace(json, at + 1);
    if json.get(at) == Some(&b'}') {
        return finish(json, at + 1);
    }
    loop {
        if json.get(at) != Some(&b'"') {
            return unexpected(json, at, "a quoted member name");
        }
        let key_end = skip_string(json, at)?;
        let key = &text[at + 1..key_end - 1];
        at = skip_whitespace(json, key_end);
        if json.get(at) != Some(&b':') {
            return unexpected(json, at, "`:`");
        }
        let value_start = skip_whitespace(json, at + 1);
        let value_end = skip_value(json, value_start)?;
        member(key, &text[value_start..value_end]);
        at = skip_whitespace(json, value_end);
        match json.get(at) {
            Some(b',') => at = skip_whitespace(json, at + 1),
            Some(b'}') => return finish(json, at + 1),
            _ => return unexpected(json, at, "`,` or `}`"),
        }
    }
}

fn finish(json: &[u8], at: usize) -> Scan<()> {
    let rest = skip_whitespace(json, at);
    if rest == json.len() { Ok(()) } else { unexpected(json, rest, "the end of the body") }
}

fn unexpected<T>(json: &[u8], at: usize, expected: &str) -> Scan<T> {
    match json.get(at) {
        None => error(format!("the body ends early (expected {expected})")),
        Some(&byte) => {
            error(format!("expected {expected} at byte {at}, found `{}`", char::from(byte).escape_default()))
        }
    }
}

fn skip_whitespace(json: &[u8], mut at: usize) -> usize {
    while json.get(at).is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
        at += 1;
    }
    at
}

/// `at` is on an opening quote; returns the index after the closing one.
fn skip_string(json: &[u8], at: usize) -> Scan<usize> {
    let mut position = at + 1;
    // Keys and short values end within a few bytes; a plain loop beats memchr's setup there.
    for (offset, &byte) in json[position..].iter().take(24).enumerate() {
        match byte {
            b'"' => return Ok(position + offset + 1),
            b'\\' => break,
            _ => {}
        }
    }
    loop {
        let Some(offset) = memchr::memchr2(b'"', b'\\', &json[position..]) else {
            return error("the body ends inside a string");
        };
        position += offset;
        if json[position] == b'"' {
            return Ok(position + 1);
        }
        position += 2; // a backslash and the character it escapes
        if position > json.len() {
            return error("the body ends inside a string");
        }
    }
}

/// Returns the index after the value starting at `at`.
fn skip_value(json: &[u8], at: usize) -> Scan<usize> {
    match json.get(at) {
        Some(b'"') => skip_string(json, at),
        Some(b'{' | b'[') => skip_container(json, at),
        Some(b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
            let end = json[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                .map_or(json.len(), |offset| at + offset);
            let literal = &json[at..end];
            let valid = matches!(literal, b"true" | b"false" | b"null")
                || literal.iter().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
            if valid { Ok(end) } else { error(format!("`{}` is not a JSON value", String::from_utf8_lossy(literal))) }
        }
        _ => unexpected(json, at, "a value"),
    }
}

/// Skips an object or array. Only the opener's own bracket pair is counted
/// (brackets of the other kind nest inside it in any well-formed body), so
/// `memchr3` can jump from one quote or bracket to the next. The inside is
/// checked for balance of that pair and terminated strings only.
fn skip_container(json: &[u8], at: usize) -> Scan<usize> {
    let (open, close) = if json[at] == b'{' { (b'{', b'}') } else { (b'[', b']') };
    let mut depth = 1usize;
    let mut position = at + 1;
    while let Some(offset) = memchr::memchr3(b'"', open, close, &json[position..]) {
        position += offset;
        match json[position] {
            b'"' => {
                position = skip_string(json, position)?;
                continue;
            }
            byte if byte == open => depth += 1,
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Ok(position + 1);
                }
            }
        }
        position += 1;
    }
    error("the body ends inside an object or array")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn collect(json: &str) -> Scan<Vec<(String, String)>> {
        let mut found = Vec::new();
        members(json, |k, v| found.push((k.to_owned(), v.to_owned())))?;
        Ok(found)
    }

    #[test]
    fn finds_each_member_and_its_raw_value() {
        let found = collect(r#" {"a": 1, "b" : {"c": "}\"{"}, "d":[1,[2]],"e":"x\\", "f": null} "#).unwrap();
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "d", "e", "f"]);
        assert_eq!(found[1].1, r#"{"c": "}\"{"}"#);
        assert_eq!(found[3].1, r#""x\\""#);
    }

    #[test]
    fn rejects_broken_structure() {
        for bad in [
            r#"{"a": 1"#,
            r#"{"a" 1}"#,
            r#"{"a": "x}"#,
            r#"{"a": [1}"#,
            r#"{"a": 1} x"#,
            r#"{"a": tru}"#,
            "[1]",
            "",
            r#"{"a": {"b": [}"#,
        ] {
            assert!(collect(bad).is_err(), "{bad}");
        }
        assert_eq!(collect("{}").unwrap(), vec![]);
    }

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// On any valid object, the scan agrees with serde_json, member by member.
        #[test]
        fn agrees_with_serde_json(members_map in prop::collection::btree_map(".*", arbitrary_json(), 0..8), pretty in any::<bool>()) {
            let object = serde_json::Value::Object(members_map.into_iter().collect());
            let text = if pretty { serde_json::to_string_pretty(&object).unwrap() } else { object.to_string() };
            let found = collect(&text).unwrap();
            let expected = object.as_object().unwrap();
            prop_assert_eq!(found.len(), expected.len());
            for (key, raw) in found {
                let key: String = serde_json::from_str(&format!("\"{key}\"")).unwrap();
                let value: serde_json::Value = serde_json::from_str(&raw).unwrap();
                prop_assert_eq!(Some(&value), expected.get(&key));
            }
        }
    }
}
