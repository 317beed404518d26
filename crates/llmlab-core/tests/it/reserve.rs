//! Reservations against the shared fixtures: for every recorded response
//! whose `request` is recorded too, the worst case reserved from the request
//! is never below the cost actually computed from the response.
//!
//! The recorded requests replace long prompts with `<placeholders>`
//! (fixtures/README.md). A placeholder stands for text the response counted
//! as prompt tokens, so it is expanded to at least as many bytes as the
//! response's prompt has tokens: the tightest text a tokenizer could give
//! that many tokens from (one byte per token). The property test varies the
//! expansion (its characters, extra length) on top of that.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::civil::Date;
use llmlab_core::{Catalog, Money, Provider, Reservation, reserve};
use proptest::prelude::*;
use serde_json::Value;

const PRICED_ON: Date = Date::constant(2026, 11, 27);

/// A recorded request and what its response actually cost.
struct Pair {
    name: String,
    provider: Provider,
    path: String,
    body: Value,
    prompt_tokens: u64,
    actual: Money,
}

fn pairs() -> Vec<Pair> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut pairs = Vec::new();
    for folder in ["openai", "anthropic", "gemini"] {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(root.join(folder)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for path in files.into_iter().filter(|p| p.to_string_lossy().ends_with(".expected.json")) {
            let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let (Some(request), Some(cost)) = (expected.get("request"), expected["cost_usd"].as_str()) else {
                continue;
            };
            let buckets = &expected["buckets"];
            let count = |name: &str| buckets[name].as_u64().unwrap_or(0);
            pairs.push(Pair {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                provider: Provider::parse(expected["provider"].as_str().unwrap()),
                path: request["path"].as_str().unwrap().to_owned(),
                body: request["body"].clone(),
                prompt_tokens: count("input_tokens")
                    + count("cache_read_tokens")
                    + count("cache_write_tokens")
                    + count("cache_write_1h_tokens"),
                actual: Money::from_str(cost).unwrap(),
            });
        }
    }
    pairs
}

/// Replaces the first `<placeholder>` found with `filler`, repeated to at
/// least `bytes` bytes; false when the body has no placeholder.
fn expand(value: &mut Value, filler: &str, bytes: usize) -> bool {
    match value {
        Value::String(s) => {
            let (Some(start), Some(end)) = (s.find('<'), s.find('>')) else { return false };
            if end < start {
                return false;
            }
            let mut text = String::with_capacity(bytes + filler.len());
            while text.len() < bytes {
                text.push_str(filler);
            }
            s.replace_range(start..=end, &text);
            true
        }
        Value::Array(items) => items.iter_mut().any(|v| expand(v, filler, bytes)),
        Value::Object(map) => map.values_mut().any(|v| expand(v, filler, bytes)),
        _ => false,
    }
}

/// The pair's request with its placeholder grown to cover the recorded prompt.
fn request_body(pair: &Pair, filler: &str, extra: usize) -> Vec<u8> {
    let mut body = pair.body.clone();
    let recorded_len = serde_json::to_vec(&body).unwrap().len() as u64;
    let missing = usize::try_from(pair.prompt_tokens.saturating_sub(recorded_len)).unwrap();
    expand(&mut body, filler, missing + extra);
    serde_json::to_vec(&body).unwrap()
}

fn reserved(pair: &Pair, body: &[u8]) -> Reservation {
    reserve(Catalog::builtin(), &pair.provider, &pair.path, body, PRICED_ON, None)
        .unwrap_or_else(|e| panic!("{}: {e}", pair.name))
}

#[test]
fn every_recorded_request_reserves_at_least_what_its_response_cost() {
    let pairs = pairs();
    let mut bounded = 0;
    for pair in &pairs {
        match reserved(pair, &request_body(pair, "x", 0)) {
            Reservation::Bounded(worst) => {
                assert!(worst.cost >= pair.actual, "{}: reserved {} < actual {}", pair.name, worst.cost, pair.actual);
                bounded += 1;
            }
            // gemini-2.0-flash-lite has no context window in the catalog, and the request reads a cache;
            // Gemini 3 bills each Google Search query, and no request field limits them.
            Reservation::Unbounded { reason, .. } => {
                let expected = pair.name.contains("gemini-2.0-flash-lite")
                    || (pair.name.contains("grounded_gemini-3") && reason.contains("search query"));
                assert!(expected, "{}: unbounded: {reason}", pair.name);
            }
            other => panic!("{}: {other:?}", pair.name),
        }
    }
    assert!(pairs.len() >= 45 && bounded + 2 >= pairs.len(), "{bounded} of {} bounded", pairs.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever text a placeholder stands for (any characters, any length
    /// at least the recorded prompt), the reservation covers the recorded cost.
    #[test]
    fn no_expansion_of_a_recorded_request_reserves_less_than_its_response_cost(
        filler in "[a-zé€😀 \n\"\\\\]{1,8}",
        extra in 0usize..20_000,
    ) {
        for pair in pairs() {
            if let Reservation::Bounded(worst) = reserved(&pair, &request_body(&pair, &filler, extra)) {
                prop_assert!(worst.cost >= pair.actual, "{}: reserved {} < actual {}", pair.name, worst.cost, pair.actual);
            }
        }
    }
}
