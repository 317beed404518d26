//! `llmlab prices`.

use serde_json::Value;

use crate::support::{llmlab, stderr, stdout};

#[test]
fn one_model_resolves_snapshots_and_shows_every_table() {
    let output = llmlab(&["prices", "claude-sonnet-4-5-20250929"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("is a snapshot billed exactly like `claude-sonnet-4-5`"), "{text}");
    assert!(text.contains("above 200000 prompt tokens"), "{text}");
    assert!(text.contains("web search: $0.01 per search\nweb fetch: $0 per fetch"), "{text}");
}

#[test]
fn json_lists_prices_as_decimal_strings() {
    let output = llmlab(&["prices", "--provider", "openai", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let entries: Vec<Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(entries.len() > 20);
    assert!(entries.iter().all(|e| e["provider"] == "openai"));
    let gpt_4o = entries.iter().find(|e| e["id"] == "gpt-4o").unwrap();
    let input: rust_decimal::Decimal = gpt_4o["standard"]["input"].as_str().unwrap().parse().unwrap();
    assert_eq!(input, rust_decimal::Decimal::new(25, 1));
}

#[test]
fn an_unknown_model_is_a_one_line_error_with_a_hint() {
    let output = llmlab(&["prices", "gpt-4o-ultra"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("error: `gpt-4o-ultra` is not in the price catalog"), "{message}");
    assert!(message.contains("hint: similar ids: gpt-4o"), "{message}");
}

#[test]
fn the_whole_catalog_lists_as_a_table() {
    let output = llmlab(&["prices"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with("provider"));
    assert!(text.lines().count() > 50);
}

#[test]
fn one_model_names_its_sources_and_their_dates_not_codes() {
    let human = llmlab(&["prices", "o3"]);
    let json = llmlab(&["prices", "gpt-4o", "--json"]);

    assert!(human.status.success(), "{}", stderr(&human));
    let text = stdout(&human);
    for code in ["L110", "L81", "GP "] {
        assert!(!text.contains(code), "`{code}` is an internal code:\n{text}");
    }
    insta::assert_snapshot!("prices_o3_human", text);
    let entry: Value = serde_json::from_str(&stdout(&json)).unwrap();
    insta::assert_json_snapshot!(
        "prices_gpt_4o_sources",
        serde_json::json!({ "source": entry["source"], "sources": entry["sources"] })
    );
}
