//! Property tests of the core's public API: normalization invariants, cost
//! additivity, and "never panics" over arbitrary and mutated bodies.

use std::path::Path;

use jiff::civil::Date;
use llmlab_core::cost::exact_cost;
use llmlab_core::normalize::MAX_BODY_BYTES;
use llmlab_core::{Catalog, Hints, NormalizeError, Provider, ResponseAccumulator, TokenBuckets};
use llmlab_core::{normalize_body, normalize_usage_json};
use proptest::prelude::*;
use serde_json::json;

/// A token count as providers might send it, sometimes absent, null or nonsense.
fn count() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        6 => (0u64..2_000_000).prop_map(|n| json!(n)),
        1 => Just(serde_json::Value::Null),
        1 => (-5i64..0).prop_map(|n| json!(n)),
        1 => Just(json!(u64::MAX)),
    ]
}

fn openai_usage() -> impl Strategy<Value = serde_json::Value> {
    (count(), count(), count(), count(), count(), any::<bool>()).prop_map(
        |(prompt, completion, cached, reasoning, cache_write, responses)| {
            if responses {
                json!({"input_tokens": prompt, "output_tokens": completion,
                       "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
                       "output_tokens_details": {"reasoning_tokens": reasoning}})
            } else {
                json!({"prompt_tokens": prompt, "completion_tokens": completion,
                       "prompt_tokens_details": {"cached_tokens": cached},
                       "completion_tokens_details": {"reasoning_tokens": reasoning}})
            }
        },
    )
}

fn anthropic_usage() -> impl Strategy<Value = serde_json::Value> {
    (count(), count(), count(), count(), count(), count()).prop_map(|(input, output, read, write, w5, w1)| {
        json!({"input_tokens": input, "output_tokens": output, "cache_read_input_tokens": read,
               "cache_creation_input_tokens": write,
               "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1}})
    })
}

fn gemini_usage() -> impl Strategy<Value = serde_json::Value> {
    (count(), count(), count(), count(), count(), count()).prop_map(|(prompt, cand, cached, thoughts, tool, total)| {
        json!({"promptTokenCount": prompt, "candidatesTokenCount": cand, "cachedContentTokenCount": cached,
               "thoughtsTokenCount": thoughts, "toolUsePromptTokenCount": tool, "totalTokenCount": total})
    })
}

fn as_u64(value: &serde_json::Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Without anomalies, the buckets account for exactly the reported tokens:
    /// nothing lost, nothing counted twice.
    #[test]
    fn openai_buckets_conserve_the_reported_tokens(usage in openai_usage()) {
        if let Ok(n) = normalize_usage_json(&Provider::OpenAi, &usage.to_string()) {
            let responses = usage.get("input_tokens").is_some();
            let (prompt, completion) = if responses {
                (as_u64(&usage["input_tokens"]), as_u64(&usage["output_tokens"]))
            } else {
                (as_u64(&usage["prompt_tokens"]), as_u64(&usage["completion_tokens"]))
            };
            if n.anomalies.is_empty() {
                prop_assert_eq!(n.buckets.prompt_tokens(), prompt);
                prop_assert_eq!(n.buckets.output_tokens, completion);
            } else {
                prop_assert!(n.buckets.input_tokens <= prompt);
            }
        }
    }

    #[test]
    fn anthropic_buckets_conserve_the_reported_tokens(usage in anthropic_usage()) {
        if let Ok(n) = normalize_usage_json(&Provider::Anthropic, &usage.to_string())
            && n.anomalies.is_empty()
        {
            // Without a total, the TTL split is the only statement of the writes.
            let split = as_u64(&usage["cache_creation"]["ephemeral_5m_input_tokens"])
                + as_u64(&usage["cache_creation"]["ephemeral_1h_input_tokens"]);
            let written = usage["cache_creation_input_tokens"].as_u64().unwrap_or(split);
            prop_assert_eq!(n.buckets.cache_write_tokens + n.buckets.cache_write_1h_tokens, written);
            prop_assert_eq!(n.buckets.input_tokens, as_u64(&usage["input_tokens"]));
            prop_assert_eq!(n.buckets.output_tokens, as_u64(&usage["output_tokens"]));
        }
    }

    #[test]
    fn gemini_buckets_never_exceed_the_total(usage in gemini_usage()) {
        if let Ok(n) = normalize_usage_json(&Provider::Google, &usage.to_string()) {
            let total = usage["totalTokenCount"].as_u64();
            if let (true, Some(total)) = (n.anomalies.is_empty(), total) {
                prop_assert!(n.buckets.total_tokens() <= total);
            }
            let prompt = as_u64(&usage["promptTokenCount"]);
            let tool = as_u64(&usage["toolUsePromptTokenCount"]);
            if n.anomalies.is_empty() {
                prop_assert_eq!(n.buckets.input_tokens + n.buckets.cache_read_tokens, prompt.saturating_add(tool));
            }
        }
    }

    /// Negative, null or overflowing counts are rejected with a message naming
    /// the field, never turned into buckets.
    #[test]
    fn invalid_counts_are_rejected_by_name(usage in anthropic_usage()) {
        let has_negative = usage.to_string().contains(":-");
        match normalize_usage_json(&Provider::Anthropic, &usage.to_string()) {
            Ok(_) => prop_assert!(!has_negative),
            Err(NormalizeError::InvalidUsage(message)) => prop_assert!(message.contains('`'), "{}", message),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    /// Below any long-context threshold, price is linear: the cost of two calls
    /// together equals the sum of their costs, exactly.
    #[test]
    fn cost_of_a_sum_is_the_sum_of_costs(
        model_index in 0usize..10_000,
        a in buckets(),
        b in buckets(),
    ) {
        let catalog = Catalog::builtin();
        let entry = &catalog.models()[model_index % catalog.models().len()];
        let rates = entry.rates_on(Date::constant(2026, 11, 27));
        let combined = a + b;
        if rates.long_context.as_ref().is_some_and(|t| combined.prompt_tokens() > t.above_prompt_tokens) {
            return Ok(());
        }
        let price = |x: &TokenBuckets| exact_cost(&rates.standard, x, rates.request_fees.as_ref(), &entry.id);
        if let (Ok(ca), Ok(cb), Ok(cab)) = (price(&a), price(&b), price(&combined)) {
            prop_assert_eq!(ca + cb, cab);
        }
    }

    /// Arbitrary bytes never panic and never exceed the memory bound.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), piece in 1usize..64) {
        let whole = normalize_body(&bytes, &Hints::default());
        let mut accumulator = ResponseAccumulator::new(Hints::default());
        for chunk in bytes.chunks(piece) {
            accumulator.push(chunk);
        }
        prop_assert_eq!(accumulator.finish(), whole);
    }
}

fn buckets() -> impl Strategy<Value = TokenBuckets> {
    (0u64..150_000, 0u64..50_000, 0u64..5_000, 0u64..5_000, 0u64..20_000, 0u64..3).prop_map(
        |(input, read, w5, w1, output, searches)| TokenBuckets {
            input_tokens: input,
            cache_read_tokens: read,
            cache_write_tokens: w5,
            cache_write_1h_tokens: w1,
            output_tokens: output,
            web_search_requests: searches,
            ..TokenBuckets::default()
        },
    )
}

/// Every shared fixture body, to mutate.
fn fixture_bodies() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut bodies = Vec::new();
    for provider in ["openai", "anthropic", "gemini"] {
        for entry in std::fs::read_dir(root.join(provider)).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().contains(".body.") {
                bodies.push(std::fs::read(path).unwrap());
            }
        }
    }
    bodies
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (
            any::<usize>(),
            prop_oneof![
                Just(b"\"".to_vec()),
                Just(b"{".to_vec()),
                Just(b"}".to_vec()),
                Just(b"\n\n".to_vec()),
                Just(b"-1".to_vec()),
                Just(b"null".to_vec()),
                Just(b"99999999999999999999999".to_vec()),
                Just(b"data: ".to_vec()),
                Just(b"\\".to_vec()),
                Just(b"[DONE]".to_vec()),
            ]
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
    if body.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip(at, byte) => {
            let i = at % body.len();
            body[i] = *byte;
        }
        Mutation::Delete(at, len) => {
            let i = at % body.len();
            let end = (i + len).min(body.len());
            body.drain(i..end);
        }
        Mutation::Insert(at, bytes) => {
            let i = at % body.len();
            body.splice(i..i, bytes.iter().copied());
        }
        Mutation::Truncate(at) => body.truncate(at % body.len()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Real bodies with random damage: never a panic, the same answer however
    /// the bytes are split, and no bucket larger than the undamaged maximum.
    #[test]
    fn mutated_fixture_bodies_never_panic(
        index in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
        piece in 1usize..200,
    ) {
        static BODIES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        let bodies = BODIES.get_or_init(fixture_bodies);
        let mut body = bodies[index % bodies.len()].clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        prop_assume!(body.len() < MAX_BODY_BYTES);
        let whole = normalize_body(&body, &Hints::default());
        let mut accumulator = ResponseAccumulator::new(Hints::default());
        for chunk in body.chunks(piece) {
            accumulator.push(chunk);
        }
        prop_assert_eq!(accumulator.finish(), whole);
    }
}
