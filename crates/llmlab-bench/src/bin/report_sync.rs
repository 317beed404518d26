//! Provider report sync benchmark (issue #17): a local stub of OpenAI's and
//! Anthropic's admin APIs serves a generated 90 days × 50 models × 10
//! projects of usage and cost reports; a new account connects both (the
//! backfill sync) and the seconds each takes are printed, with the pages
//! fetched against the pages the data set has (one pass: each page once).
//!
//! `cargo run --release -p llmlab-bench --bin report_sync [-- --backend postgres]`
#![allow(clippy::print_stdout)] // a benchmark's output is its report

use std::time::Instant;

use clap::{Parser, ValueEnum};
use llmlab_server::ServerSettings;
use llmlab_test_support::report_stub::{
    ANTHROPIC_ADMIN_KEY, OPENAI_ADMIN_KEY, ReportStub, StubPages, StubReport, last_days,
};
use llmlab_test_support::{Api, TestApp, TestBackend};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Benchmark the provider report sync: 90 days × 50 models × 10 projects from a local stub")]
struct Args {
    #[arg(long, value_enum, default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backend: Vec<Backend>,
    #[arg(long, default_value_t = 90)]
    days: i64,
    #[arg(long, default_value_t = 50)]
    models: usize,
    #[arg(long, default_value_t = 10)]
    projects: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Catalog models of each provider, so every row is priced (the dearer path).
const OPENAI_MODELS: [&str; 5] = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"];
const ANTHROPIC_MODELS: [&str; 3] = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"];

/// Days of buckets per page: OpenAI's usage maximum (31), and as many for the rest.
const PER_PAGE: usize = 31;

fn dataset(stub: &ReportStub, args: &Args) {
    let (models, projects) = (args.models, args.projects);
    let openai_usage = move |day: i64| -> Vec<Value> {
        let mut rows = Vec::with_capacity(models * projects);
        for m in 0..models {
            for p in 0..projects {
                // Distinct model ids (dated snapshots of catalog models), so every row is its own group.
                let model = format!("{}-2025-{:02}-{:02}", OPENAI_MODELS[m % 5], 1 + m / 28 % 12, 1 + m % 28);
                rows.push(json!({"object": "organization.usage.completions.result", "input_tokens": 1000 + day,
                    "input_cached_tokens": 100, "output_tokens": 50 + p, "num_model_requests": 3, "model": model,
                    "project_id": format!("proj_{p}"), "api_key_id": null, "batch": false}));
            }
        }
        rows
    };
    let openai_costs = move |_day: i64| -> Vec<Value> {
        let mut rows = Vec::with_capacity(models * projects);
        for m in 0..models {
            for p in 0..projects {
                rows.push(
                    json!({"object": "organization.costs.result", "amount": {"value": 0.0123, "currency": "usd"},
                    "line_item": format!("{}-{m}, input", OPENAI_MODELS[m % 5]), "project_id": format!("proj_{p}")}),
                );
            }
        }
        rows
    };
    let anthropic_usage = move |day: i64| -> Vec<Value> {
        let mut rows = Vec::with_capacity(models * projects);
        for m in 0..models {
            for p in 0..projects {
                let model = format!("{}-2025{:02}{:02}", ANTHROPIC_MODELS[m % 3], 1 + m / 28 % 12, 1 + m % 28);
                rows.push(json!({"uncached_input_tokens": 1000 + day, "cache_read_input_tokens": 200,
                    "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 0},
                    "output_tokens": 50 + p, "model": model, "workspace_id": format!("wrkspc_{p}"), "api_key_id": null,
                    "service_tier": "standard", "context_window": "0-200k"}));
            }
        }
        rows
    };
    let anthropic_costs = move |_day: i64| -> Vec<Value> {
        let mut rows = Vec::with_capacity(models * projects);
        for m in 0..models {
            for p in 0..projects {
                rows.push(json!({"currency": "USD", "amount": "1.2345", "workspace_id": format!("wrkspc_{p}"),
                    "description": format!("model {m} input"), "model": ANTHROPIC_MODELS[m % 3], "cost_type": "tokens",
                    "token_type": "uncached_input_tokens"}));
            }
        }
        rows
    };
    let pages = |buckets| StubPages::Generated { buckets, per_page: PER_PAGE };
    stub.serve(StubReport::OpenAiUsage, pages(last_days(args.days, openai_usage)));
    stub.serve(StubReport::OpenAiCosts, pages(last_days(args.days, openai_costs)));
    stub.serve(StubReport::AnthropicUsage, pages(last_days(args.days, anthropic_usage)));
    stub.serve(StubReport::AnthropicCosts, pages(last_days(args.days, anthropic_costs)));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stub = ReportStub::start(OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY).await;
    dataset(&stub, &args);
    let rows_per_report = args.days * i64::try_from(args.models * args.projects)?;
    let pages_per_report = usize::try_from(args.days)?.div_ceil(PER_PAGE);
    println!(
        "report sync: {} days × {} models × {} projects = {rows_per_report} rows per report, 4 reports, {pages_per_report} pages each",
        args.days, args.models, args.projects
    );
    for backend in &args.backend {
        let mut settings = ServerSettings::default();
        settings.proxy.upstream_openai = stub.base_url.clone();
        settings.proxy.upstream_anthropic = stub.base_url.clone();
        settings.reports.sync_interval = None;
        let test_backend = match backend {
            Backend::Sqlite => TestBackend::Sqlite,
            Backend::Postgres => TestBackend::Postgres,
        };
        let server = TestApp::start_with(test_backend, settings).await;
        let api = Api::signup(&server, "bench").await;
        let before: Vec<usize> = REPORTS.iter().map(|r| stub.requests(*r)).collect();
        for (provider, key) in [("openai", OPENAI_ADMIN_KEY), ("anthropic", ANTHROPIC_ADMIN_KEY)] {
            let started = Instant::now();
            let reply =
                api.post("/api/connections", json!({"provider": provider, "admin_key": key, "days": args.days})).await;
            let seconds = started.elapsed().as_secs_f64();
            anyhow::ensure!(reply.status.is_success(), "{}", reply.text);
            let result = &reply.body["results"][0];
            anyhow::ensure!(result["error"].is_null(), "{result}");
            println!(
                "{backend:?} {provider}: {:.2} s for {} usage rows + {} cost rows ({} pages)",
                seconds, result["usage_rows"], result["cost_rows"], result["pages"]
            );
        }
        let fetched: Vec<usize> = REPORTS.iter().zip(&before).map(|(r, b)| stub.requests(*r) - b).collect();
        // The cost reports get one more request each: the key check on connect (today only).
        println!(
            "{backend:?} pages fetched per report (usage, costs, usage, costs): {fetched:?}; the data set has {pages_per_report} each"
        );
        let summary = api.get("/api/costs/summary?tz=UTC").await;
        let billed = summary.body["provider_reported"]["billed_usd"].as_str().unwrap_or_default().to_owned();
        println!("{backend:?} provider-reported (last 30 days): billed ${billed}");
        server.stop().await;
    }
    Ok(())
}

const REPORTS: [StubReport; 4] =
    [StubReport::OpenAiUsage, StubReport::OpenAiCosts, StubReport::AnthropicUsage, StubReport::AnthropicCosts];
