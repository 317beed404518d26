//! The provider-report flow with the real binary, against a stub of both
//! providers' admin APIs (`LLMLAB_UPSTREAM_OPENAI`/`_ANTHROPIC`): a new
//! account connects OpenAI and Anthropic, `status` shows 30 days of
//! provider-reported spend by model; calls tracked today take today's
//! OpenAI figures over (no double count), and `reconcile` shows that day's
//! drift exactly. A refused key is one clear line.

use llmlab_test_support::report_stub::{
    ANTHROPIC_ADMIN_KEY, OPENAI_ADMIN_KEY, ReportStub, StubPages, StubReport, last_days,
};
use llmlab_test_support::{Api, TestBackend, TestServer};
use serde_json::{Value, json};

use crate::api::BIN;
use crate::cli_env::{Machine, transcript};

/// Every day: OpenAI 1M input + 100k output of gpt-4o-mini ($0.15 + $0.06 = $0.21 at LLMLab's prices),
/// billed $0.25; Anthropic 1M uncached input of claude-haiku-4-5 ($1), billed 120 cents.
fn serve_thirty_days(stub: &ReportStub) {
    let generated =
        |results: fn(i64) -> Vec<Value>, per_page| StubPages::Generated { buckets: last_days(30, results), per_page };
    stub.serve(
        StubReport::OpenAiUsage,
        generated(
            |_| {
                vec![json!({"object": "organization.usage.completions.result",
        "input_tokens": 1_000_000, "input_cached_tokens": 0, "output_tokens": 100_000, "num_model_requests": 100,
        "model": "gpt-4o-mini-2024-07-18", "project_id": "proj_a", "api_key_id": null, "batch": false})]
            },
            7,
        ),
    );
    stub.serve(StubReport::OpenAiCosts, generated(|_| vec![json!({"object": "organization.costs.result",
        "amount": {"value": 0.25, "currency": "usd"}, "line_item": "gpt-4o-mini-2024-07-18, input", "project_id": "proj_a"})], 7));
    stub.serve(StubReport::AnthropicUsage, generated(|_| vec![json!({"uncached_input_tokens": 1_000_000,
        "cache_read_input_tokens": 0, "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 0, "model": "claude-haiku-4-5-20251001", "workspace_id": null, "api_key_id": null,
        "service_tier": "standard", "context_window": "0-200k"})], 7));
    stub.serve(
        StubReport::AnthropicCosts,
        generated(
            |_| {
                vec![json!({"currency": "USD", "amount": "120",
        "description": "Claude Haiku 4.5 Usage - Input Tokens", "model": "claude-haiku-4-5-20251001",
        "cost_type": "tokens", "token_type": "uncached_input_tokens"})]
            },
            7,
        ),
    );
}

async fn start(backend: TestBackend) -> (TestServer, ReportStub) {
    let stub = ReportStub::start(OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY).await;
    serve_thirty_days(&stub);
    let env =
        [("LLMLAB_UPSTREAM_OPENAI", stub.base_url.as_str()), ("LLMLAB_UPSTREAM_ANTHROPIC", stub.base_url.as_str())];
    (TestServer::start_with_env(std::path::Path::new(BIN), backend, &env).await, stub)
}

fn json_of(output: &std::process::Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", transcript(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", transcript(output)))
}

fn reported_model<'a>(status: &'a Value, model: &str) -> &'a Value {
    let models = status["summary"]["provider_reported"]["by_model"].as_array().expect("provider-reported models");
    models.iter().find(|m| m["model"] == model).unwrap_or_else(|| panic!("{model} in {status}"))
}

llmlab_test_support::server_test_with!(start, connect_status_track_and_reconcile, |started| async move {
    let (server, stub) = started;
    let machine = Machine::of(&server);
    let key = machine.init();

    let refused = machine.run(&["connect", "openai", "--admin-key", "sk-admin-not-this-one-00000"]);
    assert_eq!(refused.status.code(), Some(1), "{}", transcript(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("error: the OpenAI admin key was refused (401)"),
        "{}",
        transcript(&refused)
    );

    let openai = machine.run(&["connect", "openai", "--admin-key", OPENAI_ADMIN_KEY]);
    assert_eq!(openai.status.code(), Some(0), "{}", transcript(&openai));
    assert!(String::from_utf8_lossy(&openai.stderr).contains("Connected OpenAI"), "{}", transcript(&openai));
    let anthropic = machine.run(&["connect", "anthropic", "--admin-key", ANTHROPIC_ADMIN_KEY]);
    assert_eq!(anthropic.status.code(), Some(0), "{}", transcript(&anthropic));

    // 30 days of provider-reported spend by model, apart from the (empty) tracked totals.
    let status = json_of(&machine.run(&["status", "--json", "--tz", "UTC"]));
    let reported = &status["summary"]["provider_reported"];
    assert_eq!(reported["daily"].as_array().unwrap().len(), 60, "{reported}");
    assert_eq!(reported["priced_usd"], "36.3", "30 × $0.21 + 30 × $1: {reported}");
    assert_eq!(reported["billed_usd"], "43.5", "30 × $0.25 + 30 × $1.20: {reported}");
    assert_eq!(reported_model(&status, "gpt-4o-mini")["priced_usd"], "6.3");
    assert_eq!(reported_model(&status, "claude-haiku-4-5")["priced_usd"], "30");
    assert_eq!(status["summary"]["month_usd"], "0", "reported spend is never in the tracked totals");
    let human = machine.run(&["status", "--tz", "UTC"]);
    let text = transcript(&human);
    assert!(text.contains("Provider-reported") && text.contains("UTC days without tracked calls"), "{text}");
    assert!(text.contains("billed $43.50 by the providers"), "{text}");

    // Nothing tracked yet: `optimize` works from the reported usage (OpenAI's, with request counts), and says so.
    let tips = json_of(&machine.run(&["optimize", "--json"]));
    let tips = tips.as_array().unwrap();
    assert!(!tips.is_empty() && tips.iter().all(|t| t["source"] == "provider_report"), "{tips:?}");
    let optimize = machine.run(&["optimize"]);
    assert!(
        transcript(&optimize).contains("these tips come from the providers' own usage reports"),
        "{}",
        transcript(&optimize)
    );

    // The SDK tracks one OpenAI call today: 100k input + 10k output of gpt-4o-mini = $0.015 + $0.006.
    let api = Api::anonymous(&server).with_key(&key);
    let tracked = api
        .post(
            "/api/events/track",
            json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 100_000, "output_tokens": 10_000}),
        )
        .await;
    assert_eq!(tracked.status, reqwest::StatusCode::CREATED, "{}", tracked.text);
    let status = json_of(&machine.run(&["status", "--json", "--tz", "UTC"]));
    let reported = &status["summary"]["provider_reported"];
    assert_eq!(
        reported["daily"].as_array().unwrap().len(),
        59,
        "today's OpenAI figures come from tracked events: {reported}"
    );
    assert_eq!(reported["priced_usd"], "36.09", "{reported}");
    assert_eq!(reported["billed_usd"], "43.25", "{reported}");
    assert_eq!(status["summary"]["today_usd"], "0.021");

    let tips = json_of(&machine.run(&["optimize", "--json"]));
    assert!(tips.as_array().unwrap().iter().all(|t| t.get("source").is_none()), "tracked calls come first: {tips}");

    let reconciliation = json_of(&machine.run(&["reconcile", "--json"]));
    let today = reconciliation["days"].as_array().unwrap().iter().find(|d| d["tracked_calls"] == 1).cloned();
    let today = today.unwrap_or_else(|| panic!("the tracked day in {reconciliation}"));
    assert_eq!(today["provider"], "openai");
    assert_eq!(today["tracked_usd"], "0.021");
    assert_eq!(today["reported_usd"], "0.21");
    assert_eq!(today["billed_usd"], "0.25");
    assert_eq!(today["untracked_usd"], "0.229");
    assert_eq!(today["untracked_share_percent"], "91.6");
    assert_eq!(today["drift_alert"], false, "$0.229 is under the $1 bound");
    let model = &today["models"][0];
    assert_eq!(
        (model["model"].as_str(), model["tracked_tokens"].as_u64(), model["reported_tokens"].as_u64()),
        (Some("gpt-4o-mini"), Some(110_000), Some(1_100_000))
    );
    let human = machine.run(&["reconcile"]);
    assert!(transcript(&human).contains("Tracked against billed"), "{}", transcript(&human));

    let synced = machine.run(&["sync"]);
    assert_eq!(synced.status.code(), Some(0), "{}", transcript(&synced));
    let again = json_of(&machine.run(&["status", "--json", "--tz", "UTC"]));
    assert_eq!(again["summary"]["provider_reported"]["billed_usd"], "43.25", "a sync never adds");

    // The keys are revoked at the providers: the next sync says which key, in one line, and how to fix it.
    stub.set_keys("sk-admin-another", "sk-ant-admin-another");
    let refused = machine.run(&["sync", "--provider", "anthropic"]);
    assert_eq!(refused.status.code(), Some(1), "{}", transcript(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("error: the Anthropic admin key was refused (401)"), "{}", transcript(&refused));
    assert!(stderr.contains("hint: give a working key with `llmlab connect anthropic --admin-key KEY`"), "{stderr}");
    let kept = json_of(&machine.run(&["status", "--json", "--tz", "UTC"]));
    assert_eq!(kept["summary"]["provider_reported"]["billed_usd"], "43.25", "what was synced stays");
});
