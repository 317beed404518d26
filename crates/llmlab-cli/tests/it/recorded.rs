//! What gets recorded, as the CLI shows it: `gemini` is `google` on every
//! input, a provider that is not built in is named (with the nearest
//! built-in name) where unpriced calls are listed, and a fix is suggested
//! only where a price fixes the call.

use serde_json::{Value, json};

use crate::api::server_test;
use crate::cli_env::{seeded, transcript};
use crate::support::{llmlab, llmlab_with_stdin, stderr, stdout};

fn json_of(args: &[&str], stdin: Option<&[u8]>) -> Value {
    let output = llmlab_with_stdin(args, stdin);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn prices_provider_takes_gemini_and_google_alike() {
    let gemini = json_of(&["prices", "--provider", "gemini", "--json"], None);
    let google = json_of(&["prices", "--provider", "google", "--json"], None);

    assert_eq!(gemini, google);
    let entries = gemini.as_array().unwrap();
    assert!(entries.len() > 5 && entries.iter().all(|e| e["provider"] == "google"), "{gemini}");
    let one = json_of(&["prices", "gemini-2.5-flash", "--provider", "gemini", "--json"], None);
    assert_eq!(one["provider"], "google", "{one}");
}

#[test]
fn cost_provider_takes_gemini_and_google_alike_and_shows_google() {
    let usage = br#"{"promptTokenCount": 1000, "candidatesTokenCount": 100, "totalTokenCount": 1100}"#;
    let priced = |name: &str| {
        json_of(
            &["cost", "--provider", name, "--model", "gemini-2.5-flash", "--json", "--on", "2026-11-27"],
            Some(usage),
        )
    };

    let (gemini, google) = (priced("gemini"), priced("google"));

    assert_eq!(gemini, google);
    // 1000 × $0.30/M + 100 × $2.50/M
    assert_eq!((gemini["provider"].clone(), gemini["cost_usd"].clone()), (json!("google"), json!("0.00055")));
}

#[test]
fn a_typo_in_the_cost_provider_flag_is_named_with_the_built_in_name_not_ignored() {
    let usage = br#"{"prompt_tokens": 1200, "completion_tokens": 80}"#;
    let output = llmlab_with_stdin(&["cost", "--provider", "opena", "--model", "gpt-4o"], Some(usage));

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("error: provider `opena` is not built in"), "{message}");
    assert!(message.contains("hint: did you mean `openai`?"), "{message}");
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
}

#[test]
fn a_typo_in_the_prices_provider_flag_suggests_the_built_in_name() {
    let output = llmlab(&["prices", "--provider", "opena"]);

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("error: the catalog has no models of provider `opena`"), "{message}");
    assert!(message.contains("hint: did you mean `openai`?"), "{message}");
}

server_test!(prices_set_takes_gemini_as_google, |server| async move {
    let (machine, api) = seeded(&server).await;

    let set = machine.run(&["prices", "set", "tuned-flash", "--provider", "gemini", "--input", "1", "--output", "2"]);

    assert_eq!(set.status.code(), Some(0), "{}", transcript(&set));
    assert!(transcript(&set).contains("`tuned-flash` (google) now costs"), "{}", transcript(&set));
    let event = json!({ "provider": "google", "model": "tuned-flash", "input_tokens": 1_000_000 });
    assert_eq!(api.post("/api/events/track", event).await.body["cost_usd"], "1");
});

server_test!(status_names_an_unknown_provider_and_the_nearest_built_in_one, |server| async move {
    let (machine, api) = seeded(&server).await;
    let event = json!({ "provider": "opena", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 10 });
    api.post("/api/events/track", event).await;

    let output = machine.run(&["status"]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let text = transcript(&output);
    assert!(
        text.contains(
            "  gpt-4o (opena), 1 call: provider `opena` is not built in (did you mean `openai`?); price its models \
             with `llmlab prices set gpt-4o --provider opena …` or POST /api/prices"
        ),
        "{text}"
    );
    assert!(!text.contains("`gpt-4o` is not in the price catalog"), "{text}");
});

server_test!(status_suggests_a_price_only_where_a_price_would_fix_the_calls, |server| async move {
    let (machine, api) = seeded(&server).await;
    // No usage and no HTTP error: unpriced, but no price would fix it.
    api.post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "status": "error" })).await;
    // Refused by the provider: $0, not listed at all.
    api.post("/api/events/track", json!({ "provider": "openai", "model": "gpt-5-typo", "status": "404" })).await;

    let output = machine.run(&["status"]);

    let text = transcript(&output);
    assert!(text.contains("warning: 2 calls have no price"), "{text}");
    assert!(text.contains("  gpt-4o (openai), 1 call: no usage was reported for this call"), "{text}");
    assert!(!text.contains("fix: llmlab prices set gpt-4o "), "{text}");
    assert!(text.contains("fix: llmlab prices set acme-1 --provider acme"), "{text}");
    assert!(!text.contains("gpt-5-typo (openai)"), "{text}");
});
