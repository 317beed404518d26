//! `llmlab cost` over every shared fixture, and over bad input.

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::{fixtures_dir, llmlab, llmlab_with_stdin, stderr, stdout};

/// The date every fixture's expected cost was computed for.
const PRICED_ON: &str = "2026-11-27";

const BUCKETS: [&str; 14] = [
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "cache_read_audio_tokens",
    "output_audio_tokens",
    "web_search_requests",
    "web_fetch_requests",
    "file_search_calls",
    "container_sessions",
    "grounded_prompts",
];

fn expected_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(folder))
        .expect("fixture folder exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

fn body_for(expected: &Path) -> PathBuf {
    let stem = expected.to_string_lossy().trim_end_matches(".expected.json").to_owned();
    ["json", "sse", "jsonl"]
        .iter()
        .map(|ext| PathBuf::from(format!("{stem}.body.{ext}")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no body file beside {}", expected.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn decimal(value: &Value) -> Option<Decimal> {
    value.as_str().map(|s| s.parse().unwrap())
}

/// Compares one fixture's `llmlab cost --json` output with its expectation;
/// returns the differences.
fn check_fixture(expected_path: &Path) -> Vec<String> {
    let expected = read_json(expected_path);
    let body = body_for(expected_path);
    let output = llmlab(&["cost", body.to_str().unwrap(), "--json", "--on", PRICED_ON]);
    let name = expected_path.file_name().unwrap().to_string_lossy().into_owned();
    if !output.status.success() {
        return vec![format!("{name}: exit {:?}: {}", output.status.code(), stderr(&output))];
    }
    let actual: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let mut problems = Vec::new();
    let mut differ = |what: &str, want: String, got: String| {
        if want != got {
            problems.push(format!("{name}: {what}: expected {want}, got {got}"));
        }
    };
    differ("priced", expected["priced"].to_string(), actual["priced"].to_string());
    differ("cost_usd", format!("{:?}", decimal(&expected["cost_usd"])), format!("{:?}", decimal(&actual["cost_usd"])));
    for bucket in BUCKETS {
        let want = expected["buckets"][bucket].as_u64().unwrap_or(0);
        differ(bucket, want.to_string(), actual[bucket].to_string());
    }
    differ("service_tier", expected["service_tier"].to_string(), actual["service_tier"].to_string());
    differ("long_context", expected["long_context"].to_string(), actual["long_context"].to_string());
    differ("provider", expected["provider"].to_string(), actual["provider"].to_string());
    differ("model", expected["model"].to_string(), actual["model"].to_string());
    let has_anomaly = actual["anomalies"].as_array().is_some_and(|a| !a.is_empty());
    differ("anomaly", expected["anomaly"].as_bool().unwrap_or(false).to_string(), has_anomaly.to_string());
    // A cut-off stream: a lower bound, maybe estimated, with its reason.
    for flag in ["partial", "estimated"] {
        differ(flag, expected[flag].as_bool().unwrap_or(false).to_string(), actual[flag].to_string());
    }
    if let Some(needle) = expected["partial_reason"].as_str() {
        let reason = actual["partial_reason"].as_str().unwrap_or_default();
        if !reason.contains(needle) {
            problems.push(format!("{name}: partial_reason `{reason}` lacks `{needle}`"));
        }
    }
    problems
}

#[test]
fn a_cut_off_stream_prints_its_lower_bound_with_a_warning_and_exits_0() {
    let files: Vec<PathBuf> = ["openai", "anthropic", "gemini"]
        .iter()
        .flat_map(|folder| expected_files(folder))
        .filter(|f| read_json(f)["partial"] == true)
        .collect();
    assert!(files.len() >= 4, "only {} cut-off fixtures", files.len());
    for expected_path in files {
        let expected = read_json(&expected_path);
        let body = body_for(&expected_path);
        let output = llmlab(&["cost", body.to_str().unwrap(), "--on", PRICED_ON]);
        let name = expected_path.display();
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let total = format!("total at least ${}", expected["cost_usd"].as_str().unwrap());
        assert!(stdout(&output).contains(&total), "{name}: {}", stdout(&output));
        let warning = stderr(&output);
        assert!(warning.contains("cut-off stream"), "{name}: {warning}");
        assert!(warning.contains(expected["partial_reason"].as_str().unwrap()), "{name}: {warning}");
        assert_eq!(warning.contains("estimated lower bound"), expected["estimated"] == true, "{name}: {warning}");
    }
}

#[test]
fn every_fixture_prices_to_its_expected_cost() {
    let files: Vec<PathBuf> =
        ["openai", "anthropic", "gemini"].iter().flat_map(|folder| expected_files(folder)).collect();
    assert!(files.len() >= 40, "only {} fixtures", files.len());
    let problems: Vec<String> = files.iter().flat_map(|f| check_fixture(f)).collect();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn bad_input_exits_1_with_one_line_naming_the_problem() {
    let files = expected_files("invalid");
    assert!(!files.is_empty());
    for expected_path in files {
        let expected = read_json(&expected_path);
        let body = body_for(&expected_path);
        let output = llmlab(&["cost", body.to_str().unwrap()]);
        let message = stderr(&output);
        let name = expected_path.display();
        assert_eq!(output.status.code(), Some(1), "{name}: {message}");
        assert!(stdout(&output).is_empty(), "{name}: printed data on failure");
        let first_line = message.lines().next().unwrap_or_default().to_lowercase();
        let needle = expected["error"].as_str().unwrap().to_lowercase();
        assert!(first_line.starts_with("error: "), "{name}: {message}");
        assert!(first_line.contains(&needle), "{name}: `{first_line}` lacks `{needle}`");
        assert!(!message.contains("panicked"), "{name}: {message}");
    }
}

#[test]
fn a_body_over_the_limit_is_refused_without_reading_it_all() {
    let big = vec![b' '; 100 * 1024 * 1024];
    let output = llmlab_with_stdin(&["cost"], Some(&big));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("larger than the 32 MiB limit"), "{}", stderr(&output));
}

#[test]
fn empty_input_is_named_as_such() {
    let output = llmlab_with_stdin(&["cost"], Some(b""));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output).trim(), "error: the input is empty");
}

#[test]
fn a_missing_file_is_a_one_line_error() {
    let output = llmlab(&["cost", "/nonexistent/response.json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with("error: cannot read `/nonexistent/response.json`"));
}

#[test]
fn the_provider_flag_disambiguates_a_bare_usage_object_and_model_names_it() {
    let usage = br#"{"input_tokens": 1000, "output_tokens": 100}"#;
    let ambiguous = llmlab_with_stdin(&["cost"], Some(usage));
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(stderr(&ambiguous).contains("name the provider"), "{}", stderr(&ambiguous));

    let output = llmlab_with_stdin(
        &["cost", "--provider", "anthropic", "--model", "claude-haiku-4-5", "--json", "--on", PRICED_ON],
        Some(usage),
    );
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    // 1000 × $1/M + 100 × $5/M
    assert_eq!(report["cost_usd"], "0.0015");
    assert_eq!(report["provider"], "anthropic");
}

#[test]
fn a_provider_that_contradicts_the_body_is_an_error() {
    let any_openai = expected_files("openai").into_iter().next().unwrap();
    let output = llmlab(&["cost", body_for(&any_openai).to_str().unwrap(), "--provider", "anthropic"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("but the provider was given as `anthropic`"), "{}", stderr(&output));
}

#[test]
fn human_output_shows_each_class_and_the_total() {
    let usage = br#"{"id":"x","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[],
        "usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":1024}}}"#;
    let output = llmlab_with_stdin(&["cost", "--on", PRICED_ON], Some(usage));
    assert!(output.status.success(), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output));
}

/// `llmlab cost` on a batch's whole results file (fixtures/batch/README.md has the arithmetic).
fn batch_file(name: &str) -> Value {
    let path = fixtures_dir().join("batch").join(name);
    let output = llmlab(&["cost", path.to_str().unwrap(), "--json", "--on", PRICED_ON]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn an_openai_batch_output_file_is_totalled_per_model_at_batch_prices() {
    let report = batch_file("openai_batch_output.jsonl");
    assert_eq!(report["total_usd"], "0.0026925", "{report}");
    assert_eq!((report["lines"].as_u64(), report["priced_calls"].as_u64()), (Some(4), Some(3)));
    let models: Vec<(&str, &str, u64, u64)> = report["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let prompt = m["input_tokens"].as_u64().unwrap() + m["cache_read_tokens"].as_u64().unwrap();
            (
                m["model"].as_str().unwrap(),
                m["cost_usd"].as_str().unwrap(),
                prompt,
                m["output_tokens"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        models,
        [("gpt-4o-2024-08-06", "0.00225", 1000, 200), ("gpt-4o-mini-2024-07-18", "0.0004425", 3200, 800)]
    );
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["line"], 4);
    assert!(skipped[0]["reason"].as_str().unwrap().contains("completion window expired"), "{report}");
}

#[test]
fn an_anthropic_batch_results_file_bills_only_succeeded_requests() {
    let report = batch_file("anthropic_batch_results.jsonl");
    assert_eq!(report["total_usd"], "0.0017", "{report}");
    assert_eq!(report["by_model"][0]["calls"], 2);
    assert_eq!(report["by_model"][0]["cache_read_tokens"], 4000);
    let reasons: Vec<&str> =
        report["skipped"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].contains("errored (not billed): max_tokens: 100000 > 64000"), "{reasons:?}");
    assert!(reasons[1].contains("expired (not billed)"), "{reasons:?}");
    // The table says the total and what was left out.
    let path = fixtures_dir().join("batch").join("anthropic_batch_results.jsonl");
    let table = llmlab(&["cost", path.to_str().unwrap(), "--on", PRICED_ON]);
    assert!(stdout(&table).contains("total $0.0017 for 2 results at batch prices (4 lines)"), "{}", stdout(&table));
    assert!(stderr(&table).contains("line 4: "), "{}", stderr(&table));
    // One line of such a file prices on its own, at batch prices too.
    let first = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().to_owned();
    let one = llmlab_with_stdin(&["cost", "--json", "--on", PRICED_ON], Some(first.as_bytes()));
    let one: Value = serde_json::from_str(&stdout(&one)).unwrap();
    assert_eq!((one["cost_usd"].as_str(), one["price_table"].as_str()), (Some("0.001"), Some("batch")));
    // `--model` names one response's model; a results file names each line's.
    let refused = llmlab(&["cost", path.to_str().unwrap(), "--model", "claude-haiku-4-5"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("each line's model"), "{}", stderr(&refused));
}

#[test]
fn openais_fast_tier_is_priority_processing_at_priority_prices() {
    // gpt-4o priority: $4.25 / $17 per 1M (the catalog's priority table) → 1M + 1M = $21.25.
    let body = br#"{"object":"chat.completion","model":"gpt-4o","service_tier":"fast","usage":{"prompt_tokens":1000000,"completion_tokens":1000000}}"#;
    let output = llmlab_with_stdin(&["cost", "--json", "--on", PRICED_ON], Some(body));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["price_table"], "priority", "{report}");
    assert_eq!(report["cost_usd"], "21.25", "{report}");
}
