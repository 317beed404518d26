//! Estimating the output tokens of an OpenAI chat stream that reported no
//! usage (sent without `stream_options.include_usage`, or cut off before its
//! usage chunk), from the text it streamed.
//!
//! The tokenizer is OpenAI's own BPE (`tiktoken-rs`, whose `o200k_base` and
//! `cl100k_base` vocabularies are compiled into the binary: nothing is
//! downloaded). It runs only when a stream ends without usage, never on the
//! path of a stream that reports it. The figure is an estimate of the output
//! only: the input is unknown, so the event is a lower bound.

use serde::Deserialize;
use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};

/// What a stream's `choices` hold that OpenAI bills as output: the text, a
/// refusal, and the arguments of the tool calls the model wrote.
#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Deserialize)]
struct ToolCall {
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Function {
    name: Option<String>,
    arguments: Option<String>,
}

/// The streamed output text of the chunks whose raw `choices` arrays are
/// `choices`, comma-separated in stream order; `None` when they cannot be read.
pub(super) fn streamed_text(choices: &str) -> Option<String> {
    let chunks: Vec<Vec<Choice>> = serde_json::from_str(&format!("[{choices}]")).ok()?;
    let mut text = String::new();
    for delta in chunks.into_iter().flatten().filter_map(|c| c.delta) {
        text.extend(delta.content);
        text.extend(delta.refusal);
        for function in delta.tool_calls.into_iter().flatten().filter_map(|t| t.function) {
            text.extend(function.name);
            text.extend(function.arguments);
        }
    }
    Some(text)
}

/// The number of tokens in `text` for `model` (`o200k_base` unless the model
/// is one of the older `cl100k_base` ones), and the encoding's name.
pub(super) fn count_tokens(model: Option<&str>, text: &str) -> (u64, &'static str) {
    let tokenizer = model.and_then(get_tokenizer);
    let (bpe, name) = if tokenizer == Some(Tokenizer::Cl100kBase) {
        (tiktoken_rs::cl100k_base_singleton(), "cl100k_base")
    } else {
        (tiktoken_rs::o200k_base_singleton(), "o200k_base")
    };
    let count = bpe.encode_ordinary(text).len();
    (u64::try_from(count).unwrap_or(u64::MAX), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_the_deltas_content_refusals_and_tool_arguments_in_order() {
        let choices = r#"[{"index":0,"delta":{"role":"assistant","content":""}}],[{"index":0,"delta":{"content":"Hello"}}],[{"index":0,"delta":{"content":" world"},"finish_reason":null}],[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\":1}"}}]}}],[]"#;
        assert_eq!(streamed_text(choices).unwrap(), "Hello worldf{\"a\":1}");
        assert_eq!(streamed_text("[{"), None);
    }

    #[test]
    fn tokens_are_counted_with_the_models_encoding() {
        // "Hello world" is two tokens in both encodings; the model picks the encoding.
        assert_eq!(count_tokens(Some("gpt-4o-mini"), "Hello world"), (2, "o200k_base"));
        assert_eq!(count_tokens(Some("gpt-4"), "Hello world"), (2, "cl100k_base"));
        assert_eq!(count_tokens(None, ""), (0, "o200k_base"));
    }
}
