//! Normalize + price one response body, the work done per tracked call.
//! Goal (issue #2): under 2 µs for a ~1 KB body. The `normalize_streams`
//! group covers each stream framing (SSE, Gemini's JSON array) and the
//! proxy's way of feeding the accumulator: small pushes as bytes arrive.
//!
//! Run: `cargo bench -p llmlab-core --bench normalize_and_price`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::civil::Date;
use llmlab_core::{Catalog, Hints, ResponseAccumulator, normalize_body, price_usage};

/// A realistic ~1 KB chat completion with cached and reasoning tokens.
const CHAT_1KB: &str = r#"{
  "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
  "object": "chat.completion",
  "created": 1741570283,
  "model": "gpt-4o-2024-08-06",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "The quarterly report shows revenue up 12% year over year, driven mostly by the new subscription tier. Operating costs rose 4%, mainly cloud spend and two new hires in support. Net margin improved from 18% to 21%. The main risks flagged are currency exposure in the EU and a single large customer at 14% of revenue. Recommended next steps: hedge EUR exposure for two quarters, and diversify the top-ten customer list.",
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 2117,
    "completion_tokens": 96,
    "total_tokens": 2213,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default",
  "system_fingerprint": "fp_fc9f1d7035"
}"#;

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":1200,"cache_read_input_tokens":9000,"output_tokens":2,"service_tier":"standard"}}}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello! Here is the summary you asked for."}}"#,
    "\n\nevent: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":0}"#,
    "\n\nevent: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":89}}"#,
    "\n\nevent: message_stop\n",
    r#"data: {"type":"message_stop"}"#,
    "\n\n",
);

/// An OpenAI chat stream of `chunks` content chunks, the usage chunk and `[DONE]`.
fn openai_chat_stream(chunks: usize) -> String {
    let head = r#"data: {"id":"chatcmpl-ZKObVeLpy4UHfZQPfCcBdsKmvcgr4","object":"chat.completion.chunk","created":1795001500,"model":"gpt-4o-2024-11-20","service_tier":"default","system_fingerprint":"fp_ee1d74bde0","choices":"#;
    let mut events: Vec<String> = (0..chunks)
        .map(|i| {
            format!(
                r#"{head}[{{"index":0,"delta":{{"content":" word {i} of the answer"}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
            )
        })
        .collect();
    events.push(format!(
        r#"{head}[],"usage":{{"prompt_tokens":3410,"completion_tokens":41,"total_tokens":3451,"prompt_tokens_details":{{"cached_tokens":3072,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0}}}}}}"#
    ));
    events.push("data: [DONE]".to_owned());
    events.join("\n\n") + "\n\n"
}

/// A Gemini `streamGenerateContent` JSON array (no `alt=sse`) of `chunks`
/// pretty-printed running-total chunks, the last one finished.
fn gemini_json_array_stream(chunks: usize) -> String {
    let elements: Vec<String> = (1..=chunks)
        .map(|i| {
            let finish = if i == chunks { r#","finishReason": "STOP""# } else { "" };
            format!(
                r#"  {{
    "candidates": [{{"content": {{"parts": [{{"text": "step {i}: \"quoted\" text ]}} with brackets"}}], "role": "model"}}, "index": 0{finish}}}],
    "usageMetadata": {{"promptTokenCount": 1024, "candidatesTokenCount": {}, "totalTokenCount": {}, "thoughtsTokenCount": 1210}},
    "modelVersion": "gemini-2.5-pro",
    "responseId": "BsJglR3vk7rtaRvzMrEzXZf"
  }}"#,
                i * 12,
                1024 + 1210 + i * 12
            )
        })
        .collect();
    format!("[\n{}\n]", elements.join(",\n"))
}

fn bench_streams(c: &mut Criterion) {
    let hints = Hints::default();
    let chat = openai_chat_stream(40);
    let gemini = gemini_json_array_stream(10);
    let mut group = c.benchmark_group("normalize_streams");
    for (name, body) in [
        ("openai_chat_sse", chat.as_str()),
        ("gemini_json_array", gemini.as_str()),
        ("anthropic_sse", ANTHROPIC_STREAM),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| black_box(normalize_body(black_box(body.as_bytes()), &hints).expect("valid stream")));
        });
        // A proxy pushes what each read returns; 64 bytes splits nearly every frame.
        group.bench_function(format!("{name}_pushed_64b"), |b| {
            b.iter(|| {
                let mut accumulator = ResponseAccumulator::new(hints.clone());
                for piece in black_box(body.as_bytes()).chunks(64) {
                    accumulator.push(piece);
                }
                black_box(accumulator.finish().expect("valid stream"))
            });
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let hints = Hints::default();
    let on = Date::constant(2026, 11, 27);
    let mut group = c.benchmark_group("normalize_and_price");
    for (name, body) in [("openai_chat_1kb_json", CHAT_1KB), ("anthropic_sse_stream", ANTHROPIC_STREAM)] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let usage = normalize_body(black_box(body.as_bytes()), &hints).expect("valid body");
                let pricing = price_usage(catalog, &usage, None, on, None);
                black_box(pricing.cost())
            });
        });
    }
    let usage = normalize_body(CHAT_1KB.as_bytes(), &hints).expect("valid body");
    group.bench_function("price_only", |b| {
        b.iter(|| black_box(price_usage(catalog, black_box(&usage), None, on, None).cost()));
    });
    group.bench_function("normalize_only", |b| {
        b.iter(|| black_box(normalize_body(black_box(CHAT_1KB.as_bytes()), &hints)));
    });
    group.bench_function("serde_value_baseline", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(CHAT_1KB.as_bytes())).is_ok()));
    });
    group.finish();
}

criterion_group!(benches, bench, bench_streams);
criterion_main!(benches);
