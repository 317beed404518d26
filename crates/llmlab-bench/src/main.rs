//! Benchmarks of `llmlab serve` (issue #3), against SQLite and PostgreSQL:
//! batch ingest events/s, single-event track req/s with p50/p99, and
//! `costs/summary` p50/p99 at 10k and at 1M stored events; OTLP trace ingest
//! spans/s (issue #18, [`otlp`]).
//!
//! `cargo run --release -p llmlab-bench -- server` builds nothing itself
//! beyond this crate: it starts the release `llmlab` binary it finds next to
//! its own executable (build it first with `cargo build --release -p llmlab-cli`).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark's output is its report
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rates and percentiles are floats by nature

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use llmlab_test_support::{TestBackend, TestServer};

mod alerts;
mod otlp;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Benchmark llmlab serve: ingest, track and summary on SQLite and PostgreSQL")]
struct Args {
    /// Which backends to measure
    #[arg(long, value_enum, default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backend: Vec<Backend>,
    /// Events to store before the large-volume measurements
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per batch request
    #[arg(long, default_value_t = 10_000)]
    batch_size: u64,
    /// Concurrent batch uploads
    #[arg(long, default_value_t = 4)]
    batch_connections: usize,
    /// Concurrent connections for the single-event track test
    #[arg(long, default_value_t = 64)]
    track_connections: usize,
    /// How long the single-event track test runs
    #[arg(long, default_value_t = 10)]
    track_seconds: u64,
    /// Summary requests per measurement
    #[arg(long, default_value_t = 300)]
    summary_samples: usize,
    /// Budgets on the account (issue #15: each stored event is counted against every budget covering it),
    /// at most 10: the account's day, week, month and total, three projects, two tags and the key
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=10))]
    budgets: u8,
    /// Alert channels on the account while everything is measured (issue #16): a webhook, Slack
    /// and Discord, at a local receiver
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    alert_channels: u8,
    /// Budget crossings to time from the event's 2xx to the webhook's arrival (issue #16); 0 skips it
    #[arg(long, default_value_t = 0)]
    alert_rounds: usize,
    /// LLM spans to export to `POST /v1/traces` (protobuf) for the OTLP ingest figure; 0 skips it
    #[arg(long, default_value_t = 204_800)]
    otlp_spans: u64,
    /// Spans per OTLP export (the OTel SDK's batch span processor sends at most 512)
    #[arg(long, default_value_t = 512)]
    otlp_batch: u64,
    /// Concurrent OTLP exports
    #[arg(long, default_value_t = 4)]
    otlp_connections: usize,
    /// Measure only the OTLP ingest
    #[arg(long)]
    otlp_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The release `llmlab` next to this benchmark's executable.
fn llmlab_binary() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let binary = here.parent().context("the benchmark's folder")?.join("llmlab");
    if !binary.exists() {
        bail!("{} is missing: run `cargo build --release -p llmlab-cli` first", binary.display());
    }
    Ok(binary)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = llmlab_binary()?;
    for backend in &args.backend {
        let test_backend = match backend {
            Backend::Sqlite => TestBackend::Sqlite,
            Backend::Postgres => TestBackend::Postgres,
        };
        let server = TestServer::start_with_env(&binary, test_backend, &[("LLMLAB_ALERTS_ALLOW_PRIVATE", "1")]).await;
        println!("\n## {backend:?} ({})", binary.display());
        run(&server, &args).await?;
    }
    Ok(())
}

async fn run(server: &TestServer, args: &Args) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).tcp_nodelay(true).build()?;
    let base = server.base_url.clone();
    let signup: Value = client.post(format!("{base}/api/auth/signup")).send().await?.json().await?;
    let key = signup["api_key"].as_str().context("a key")?.to_owned();
    let api = Api { client, base, key };
    if args.otlp_spans > 0 {
        let figure =
            otlp::measure(&api.client, &api.base, args.otlp_spans, args.otlp_batch, args.otlp_connections).await?;
        println!(
            "OTLP ingest: {} LLM spans in {:.1} s = {:.0} spans/s ({} connections, {} spans per protobuf export); \
             stored {} calls{}",
            figure.spans,
            figure.seconds,
            figure.spans as f64 / figure.seconds,
            args.otlp_connections,
            args.otlp_batch,
            figure.stored,
            if figure.stored == figure.spans { ", all of them" } else { " — NOT all of them" }
        );
        if figure.stored != figure.spans {
            bail!("{} of {} spans were stored", figure.stored, figure.spans);
        }
    }
    if args.otlp_only {
        return Ok(());
    }
    for budget in budgets(&signup).into_iter().take(usize::from(args.budgets)) {
        let status = api.post("/api/budgets/scoped", serde_json::to_vec(&budget)?).await?;
        if !status.is_success() {
            bail!("creating the budget {budget}: {status}");
        }
    }
    if args.budgets > 0 {
        println!("budgets on the account: {}", args.budgets);
    }
    let receiver = alerts::Receiver::start().await?;
    let channels = if args.alert_rounds > 0 { args.alert_channels.max(1) } else { args.alert_channels };
    if channels > 0 {
        alerts::add_channels(&api, &receiver, channels).await?;
        println!("alert channels on the account: {channels} (webhook, Slack, Discord at a local receiver)");
    }
    if args.alert_rounds > 0 {
        let times = alerts::crossing_to_arrival(&api, &receiver, args.alert_rounds).await?;
        let after_ack: Vec<f64> = times.iter().map(|t| t.after_ack_ms).collect();
        let after_send: Vec<f64> = times.iter().map(|t| t.after_send_ms).collect();
        let (ack50, ack99) = percentiles_ms(after_ack);
        let (send50, send99) = percentiles_ms(after_send);
        let early = times.iter().filter(|t| t.after_ack_ms < 0.0).count();
        println!(
            "alert latency, crossing event's 2xx to the webhook's arrival: p50 {ack50:.2} ms, p99 {ack99:.2} ms \
             ({} crossings; {early} arrived before the client had read its 2xx, counted negative); \
             from sending the event: p50 {send50:.2} ms, p99 {send99:.2} ms",
            args.alert_rounds
        );
    }

    let first = 10_000.min(args.events);
    ingest(&api, 0, first, args).await?;
    let (p50, p99) = summary_latency(&api, args.summary_samples).await?;
    println!("summary at {first} events: p50 {p50:.2} ms, p99 {p99:.2} ms");
    let small_p50 = p50;

    let rest = args.events - first;
    let started = Instant::now();
    ingest(&api, first, rest, args).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "batch ingest: {rest} events in {elapsed:.1} s = {:.0} events/s ({} connections, {} per batch)",
        rest as f64 / elapsed,
        args.batch_connections,
        args.batch_size
    );

    let (p50, p99) = summary_latency(&api, args.summary_samples).await?;
    println!(
        "summary at {} events: p50 {p50:.2} ms, p99 {p99:.2} ms (1M/10k p50 ratio {:.2})",
        args.events,
        p50 / small_p50
    );

    let (rate, p50, p99, errors) = track_load(&api, args.track_connections, args.track_seconds).await?;
    println!(
        "single-event track: {rate:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms ({} connections, {errors} errors)",
        args.track_connections
    );
    let summary: Value = api.get("/api/costs/summary").await?;
    println!(
        "stored: {} events ({} unpriced), all time ${}",
        summary["all_time_calls"],
        summary["unpriced_calls"],
        summary["all_time_usd"].as_str().unwrap_or("?")
    );
    Ok(())
}

#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.status());
        }
        Ok(response.json().await?)
    }

    /// POSTs JSON; returns the status and the answer's JSON (`Null` when it has none).
    async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let response =
            self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.key).json(body).send().await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn delete(&self, path: &str) -> anyhow::Result<reqwest::StatusCode> {
        let response = self.client.delete(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await?;
        Ok(response.status())
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> anyhow::Result<reqwest::StatusCode> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let _ = response.bytes().await?;
        Ok(status)
    }
}

const MODELS: [(&str, &str); 5] = [
    ("openai", "gpt-4o-2024-08-06"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-haiku-4-5"),
    ("google", "gemini-2.5-flash"),
];
const PROJECTS: [&str; 3] = ["search", "chat", "batch-jobs"];

/// Ten budgets covering the benchmark's events in every scope the API has.
fn budgets(signup: &Value) -> Vec<Value> {
    let key = signup["key_id"].as_str().unwrap_or_default();
    let mut budgets: Vec<Value> = ["day", "week", "month", "total"]
        .iter()
        .map(|period| json!({ "amount_usd": "100000", "period": period }))
        .collect();
    budgets.extend(PROJECTS.iter().map(|p| json!({ "amount_usd": "50000", "scope": "project", "target": p })));
    budgets.extend(
        TEAMS
            .iter()
            .map(|t| json!({ "amount_usd": "10000", "scope": "tag", "target": format!("team={t}"), "period": "week" })),
    );
    budgets.push(json!({ "amount_usd": "100000", "scope": "key", "target": key, "period": "day" }));
    budgets
}

/// The `team` tag of the events.
const TEAMS: [&str; 2] = ["search", "ads"];

/// Event `n` of the synthetic workload: five models, three projects, a tenth
/// of them as raw provider usage, and one in 250 of a model the catalog does
/// not know (unpriced, as a self-hosted model would be). Stamped at `at_ms`.
fn event(n: u64, at_ms: i64) -> Value {
    let (provider, model) =
        if n % 250 == 7 { ("acme", "acme-large-v1") } else { MODELS[usize::try_from(n % 5).unwrap_or(0)] };
    let project = PROJECTS[usize::try_from(n % 3).unwrap_or(0)];
    let timestamp = jiff::Timestamp::from_millisecond(at_ms).map(|t| t.to_string()).unwrap_or_default();
    let input = 500 + n % 3000;
    let mut event = json!({
        "provider": provider, "model": model, "project": project, "event_id": format!("bench-{n}"),
        "timestamp": timestamp, "latency_ms": 300 + n % 900,
        "tags": { "team": TEAMS[usize::try_from(n % 2).unwrap_or(0)] },
    });
    if n.is_multiple_of(10) && provider == "openai" {
        event["usage"] = json!({ "prompt_tokens": input, "completion_tokens": 120, "prompt_tokens_details": { "cached_tokens": input / 2 } });
    } else {
        event["input_tokens"] = json!(input);
        event["output_tokens"] = json!(50 + n % 400);
        event["cache_read_tokens"] = json!(n % 7 * 100);
    }
    event
}

/// Stores events `[from, from + count)` through the batch endpoint. Like a
/// month of real traffic, each call's events arrive in time order spread
/// over the last 30 days: event `from + i` is stamped `i / count` of the way
/// through. So the 10k-event summary covers the same month as the 1M one,
/// and their latency ratio compares volume, not time span.
async fn ingest(api: &Api, from: u64, count: u64, args: &Args) -> anyhow::Result<()> {
    const MONTH_MS: i64 = 30 * 86_400_000;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let span = i64::try_from(count.max(1)).unwrap_or(i64::MAX);
    let stamp = move |n: u64| now_ms - MONTH_MS + i64::try_from(n - from).unwrap_or(0) * MONTH_MS / span;
    let next = Arc::new(AtomicU64::new(from));
    let end = from + count;
    let mut workers = Vec::new();
    for _ in 0..args.batch_connections {
        let api = api.clone();
        let next = next.clone();
        let size = args.batch_size;
        workers.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(size, Ordering::Relaxed);
                if start >= end {
                    return anyhow::Ok(());
                }
                let events: Vec<Value> = (start..(start + size).min(end)).map(|n| event(n, stamp(n))).collect();
                let body = serde_json::to_vec(&json!({ "events": events }))?;
                let status = api.post("/api/events/batch", body).await?;
                if !status.is_success() {
                    bail!("batch at {start}: {status}");
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// p50 and p99 of sequential summary requests, in ms.
async fn summary_latency(api: &Api, samples: usize) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let started = Instant::now();
        api.get("/api/costs/summary").await?;
        times.push(started.elapsed());
    }
    Ok(percentiles(&mut times))
}

/// Single-event track requests from `connections` clients for `seconds`:
/// (req/s, p50 ms, p99 ms, errors).
async fn track_load(api: &Api, connections: usize, seconds: u64) -> anyhow::Result<(f64, f64, f64, u64)> {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = Arc::new(AtomicU64::new(10_000_000_000));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let api = api.clone();
        let next = next.clone();
        let errors = errors.clone();
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::to_vec(&event(n, now_ms)).unwrap_or_default();
                let sent = Instant::now();
                match api.post("/api/events/track", body).await {
                    Ok(status) if status.is_success() => times.push(sent.elapsed()),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            times
        }));
    }
    let mut times = Vec::new();
    for worker in workers {
        times.extend(worker.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = times.len() as f64 / elapsed;
    let (p50, p99) = percentiles(&mut times);
    Ok((rate, p50, p99, errors.load(Ordering::Relaxed)))
}

/// p50 and p99 of values in ms.
fn percentiles_ms(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values.get(((values.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    (at(0.50), at(0.99))
}

fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        let index = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.50), at(0.99))
}
