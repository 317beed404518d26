//! A call's worst-case cost from its request, the work a hard budget adds
//! to every proxied call before it is forwarded (issue 15).
//!
//! Run: `cargo bench -p llmlab-core --bench reserve`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::civil::Date;
use llmlab_core::{Catalog, Provider, reserve};
use serde_json::json;

const ON: Date = Date::constant(2026, 11, 27);

/// A ~1 KB chat request: a system prompt, two turns, a function tool.
fn chat_1kb() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "gpt-4o-2024-08-06",
        "max_completion_tokens": 800,
        "service_tier": "auto",
        "messages": [
            {"role": "system", "content": "You are the ACME support agent. Answer briefly, cite the policy section, and never promise refunds above the limits in section 4.2. ".repeat(3)},
            {"role": "user", "content": "Where is my order 88213? It was due on Monday and the tracking page has not changed since."},
            {"role": "assistant", "content": "Let me check the shipment status for order 88213."},
        ],
        "tools": [{"type": "function", "function": {"name": "order_status", "description": "Look up an order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}],
    }))
    .unwrap()
}

/// A ~64 KB Anthropic request with a cached system prompt: the scan's per-byte cost.
fn anthropic_64kb() -> Vec<u8> {
    let document = "The supplier shall deliver the goods within thirty days of the order. \n".repeat(900);
    serde_json::to_vec(&json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "system": [{"type": "text", "text": document, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the notice period?"}]}],
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let mut group = c.benchmark_group("reserve");
    let cases = [
        ("openai_chat_1kb", Provider::OpenAi, "/v1/chat/completions", chat_1kb()),
        ("anthropic_cached_64kb", Provider::Anthropic, "/v1/messages", anthropic_64kb()),
    ];
    for (name, provider, path, body) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| reserve(catalog, provider, path, black_box(body), ON, None).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
