//! OTLP ingest throughput (issue #18): protobuf `ExportTraceServiceRequest`s
//! of LLM spans, as the OTel SDK's batch span processor sends them (512 spans
//! per export by default), posted to `POST /v1/traces` on several
//! connections; then the account's stored calls are counted, so every span
//! must have been recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value;

/// What the OTLP measurement gave.
pub(crate) struct Throughput {
    pub(crate) spans: u64,
    pub(crate) seconds: f64,
    pub(crate) stored: u64,
}

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..KeyValue::default() }
}

/// Span `n`: a chat call in the GenAI conventions with the attributes the
/// official instrumentations set (prompts not captured, their default), a
/// third of its input cached, one model of four.
fn span(n: u64, start_nanos: u64) -> Span {
    const MODELS: [(&str, &str); 4] = [
        ("openai", "gpt-4o-2024-08-06"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("gcp.gemini", "gemini-2.5-flash"),
    ];
    let (provider, model) = MODELS[usize::try_from(n % 4).unwrap_or(0)];
    let input = 500 + i64::try_from(n % 3000).unwrap_or(0);
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&n.to_be_bytes());
    trace_id[8] = 1;
    let mut span_id = [0u8; 8];
    span_id.copy_from_slice(&(n + 1).to_be_bytes());
    let start = start_nanos + n * 1_000;
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        name: format!("chat {model}"),
        kind: 3, // client
        start_time_unix_nano: start,
        end_time_unix_nano: start + 850_000_000,
        attributes: vec![
            kv("gen_ai.operation.name", Any::StringValue("chat".into())),
            kv("gen_ai.provider.name", Any::StringValue(provider.into())),
            kv("gen_ai.request.model", Any::StringValue(model.into())),
            kv("gen_ai.response.model", Any::StringValue(model.into())),
            kv("gen_ai.response.id", Any::StringValue(format!("chatcmpl-{n}"))),
            kv("gen_ai.response.finish_reasons", Any::StringValue("stop".into())),
            kv("gen_ai.usage.input_tokens", Any::IntValue(input)),
            kv("gen_ai.usage.cache_read.input_tokens", Any::IntValue(input / 3)),
            kv("gen_ai.usage.output_tokens", Any::IntValue(50 + i64::try_from(n % 400).unwrap_or(0))),
            kv("server.address", Any::StringValue("api.openai.com".into())),
            kv("llmlab.tag.team", Any::StringValue(if n.is_multiple_of(2) { "search" } else { "ads" }.into())),
        ],
        ..Span::default()
    }
}

/// `batches` export bodies of `per_batch` spans each, encoded before the clock starts.
fn bodies(batches: u64, per_batch: u64) -> Vec<Vec<u8>> {
    let start_nanos = u64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(0) - 3_600_000_000_000;
    (0..batches)
        .map(|b| {
            let spans = (b * per_batch..(b + 1) * per_batch).map(|n| span(n, start_nanos)).collect();
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", Any::StringValue("otlp-bench".into()))],
                        ..Resource::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "opentelemetry.util.genai.handler".into(),
                            version: "1.1b0".into(),
                            ..InstrumentationScope::default()
                        }),
                        spans,
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                }],
            }
            .encode_to_vec()
        })
        .collect()
}

/// Posts `spans` LLM spans in protobuf batches of `per_batch` on `connections`
/// connections to a fresh account, and counts what was stored.
pub(crate) async fn measure(
    client: &reqwest::Client,
    base: &str,
    spans: u64,
    per_batch: u64,
    connections: usize,
) -> anyhow::Result<Throughput> {
    let signup: Value = client.post(format!("{base}/api/auth/signup")).send().await?.json().await?;
    let key = signup["api_key"].as_str().context("a key")?.to_owned();
    let bodies = Arc::new(bodies(spans.div_ceil(per_batch), per_batch));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (client, url, key) = (client.clone(), format!("{base}/v1/traces"), key.clone());
        let (bodies, next) = (bodies.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { return anyhow::Ok(()) };
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                let answer = ExportTraceServiceResponse::decode(response.bytes().await?)?;
                if !status.is_success() || answer.partial_success.is_some() {
                    bail!("export {i}: {status} {:?}", answer.partial_success);
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let summary: Value = client.get(format!("{base}/api/costs/summary")).bearer_auth(&key).send().await?.json().await?;
    let stored = summary["all_time_calls"].as_u64().context("all_time_calls")?;
    Ok(Throughput { spans: u64::try_from(bodies.len()).unwrap_or(0) * per_batch, seconds, stored })
}
