//! `llmlab budget`: show, set and remove the monthly budget; amounts people type.

use std::fmt::Write as _;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api::{Api, server_test};
use crate::cli_env::{Machine, seeded, snapshot, transcript};

server_test!(budget_shows_none_then_sets_and_shows_the_status_line, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let none = machine.run(&["budget"]);
    let set = machine.run(&["budget", "$1,500"]);
    let shown = machine.run(&["budget"]);
    let json = machine.run(&["budget", "7.5", "--json"]);

    snapshot!(machine, "budget_none", transcript(&none));
    snapshot!(machine, "budget_set", transcript(&set));
    snapshot!(machine, "budget_show", transcript(&shown));
    snapshot!(machine, "budget_json", transcript(&json));
});

server_test!(budget_warns_at_80_percent, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let output = machine.run(&["budget", "7"]);

    snapshot!(machine, "budget_warning", transcript(&output));
});

server_test!(budget_clear_removes_it_and_its_warnings_for_this_account_only, |server| async move {
    let (machine, api) = seeded(&server).await;
    let other = Api::signup(&server, "other").await;
    assert_eq!(
        other.post("/api/budgets", json!({ "amount_usd": "50", "period": "monthly" })).await.status,
        StatusCode::CREATED
    );

    assert_eq!(machine.run(&["budget", "7"]).status.code(), Some(0));
    let cleared = machine.run(&["budget", "--clear"]);
    snapshot!(machine, "budget_cleared", transcript(&cleared));

    let status = api.get("/api/budgets/status").await;
    assert_eq!(status.body["state"], "none", "{}", status.text);
    let again = api.send(Method::DELETE, "/api/budgets", None).await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &json!({ "budget": null })), "removing none is fine");
    let kept = other.get("/api/budgets").await;
    assert_eq!(kept.body["budget"]["amount_usd"], "50", "another account's budget stays: {}", kept.text);

    let both = machine.run(&["budget", "5", "--clear"]);
    assert_eq!(
        both.status.code(),
        Some(1),
        "clap rejects an amount with --clear, a usage error: {}",
        transcript(&both)
    );
});

#[test]
fn budget_accepts_the_usual_ways_of_writing_an_amount_and_rejects_the_rest_in_one_line() {
    let machine = Machine::new("http://127.0.0.1:1");
    let mut seen = String::new();
    for amount in ["0", "-5", "abc", "1,50", "$0.00", "12345678901234567890", "$12,345,678,901,234,567,890.50"] {
        // Checked before any request: no server is needed to reject them.
        let output = machine.run(&["budget", amount]);
        assert_eq!(output.status.code(), Some(1), "{amount}");
        let _ = writeln!(seen, "$ llmlab budget {amount}\n{}", transcript(&output));
    }
    snapshot!(machine, "budget_rejected", seen);
}
