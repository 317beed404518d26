//! `llmlab budget`: show, set and remove the monthly budget; amounts people
//! type; budgets of a project, key or tag per day, week, month or in total,
//! replaced, listed and removed.

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

/// Runs each command line on `machine`, and the transcript of them all.
fn session(machine: &Machine, commands: &[&[&str]]) -> String {
    let mut seen = String::new();
    for args in commands {
        let output = machine.run(args);
        let _ = writeln!(seen, "$ llmlab {}\n{}", args.join(" "), transcript(&output));
    }
    seen
}

/// Runs `llmlab args…`, asserting it succeeds, and parses its JSON output.
fn json_of(machine: &Machine, args: &[&str]) -> serde_json::Value {
    let output = machine.run(args);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", transcript(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {}", transcript(&output)))
}

/// The budget of `scope`, `target` (`null` for the account) and `period` in `llmlab budget list --json`.
fn find<'a>(list: &'a serde_json::Value, scope: &str, target: Option<&str>, period: &str) -> &'a serde_json::Value {
    list["budgets"]
        .as_array()
        .expect("a list of budgets")
        .iter()
        .find(|b| b["scope"] == scope && b["target"].as_str() == target && b["period"] == period)
        .unwrap_or_else(|| panic!("no {scope} {target:?} {period} budget in {list:#}"))
}

/// Beside the shared spend: $0.15 made with a second key named `ci`, and $1.00 tagged `customer=acme`.
async fn key_and_tag_spend(api: &Api) {
    let created = api.post("/api/keys", json!({ "name": "ci" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let ci = api.with_key(created.body["api_key"].as_str().expect("the new key"));
    let now = jiff::Timestamp::now().to_string();
    let by_ci = json!({ "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 0, "timestamp": now });
    let reply = ci.post("/api/events/track", by_ci).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let tagged = json!({ "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 1_000_000, "output_tokens": 0,
                         "timestamp": now, "tags": { "customer": "acme" } });
    let reply = api.post("/api/events/track", tagged).await;
    assert!(reply.status.is_success(), "{}", reply.text);
}

server_test!(budget_sets_one_budget_per_scope_and_period_and_lists_them, |server| async move {
    let (machine, api) = seeded(&server).await;
    key_and_tag_spend(&api).await;

    let seen = session(
        &machine,
        &[
            &["budget", "10", "--project", "web", "--period", "week", "--hard"],
            &["budget", "1", "--key", "ci", "--period", "day"],
            &["budget", "1000", "--tag", "customer=acme", "--period", "total", "--thresholds", "50,100"],
            &["budget", "7", "--period", "day"],
            &["budget", "8"],
            &["budget", "list"],
            &["budget", "--project", "web"],
            &["budget", "--tag", "customer=acme", "--period", "day"],
            &["budget"],
        ],
    );
    let list = json_of(&machine, &["budget", "list", "--json"]);
    let shown = json_of(&machine, &["budget", "--key", "ci", "--json"]);
    let created = json_of(&machine, &["budget", "3", "--project", "api", "--period", "month", "--json"]);

    snapshot!(machine, "budget_scopes", seen);
    assert_eq!(list["budgets"].as_array().unwrap().len(), 5, "{list:#}");
    let project = find(&list, "project", Some("web"), "week");
    assert_eq!((project["amount_usd"].as_str(), project["hard"].as_bool()), (Some("10"), Some(true)));
    assert_eq!(project["status"]["spent_usd"], "2.70625", "only the project's call counts: {project:#}");
    let key = list["budgets"].as_array().unwrap().iter().find(|b| b["scope"] == "key").unwrap();
    assert_eq!(key["target_name"], "ci");
    assert!(key["target"].as_str().unwrap().starts_with("llm_"), "the key's id, not its name: {key:#}");
    assert_eq!((key["period"].as_str(), key["hard"].as_bool()), (Some("day"), Some(false)), "soft unless --hard");
    assert_eq!(key["status"]["spent_usd"], "0.15", "only that key's call counts: {key:#}");
    let tag = find(&list, "tag", Some("customer=acme"), "total");
    assert_eq!(tag["thresholds"], json!([50.0, 100.0]));
    assert_eq!(tag["status"]["spent_usd"], "1", "only the tagged call counts: {tag:#}");
    assert_eq!(find(&list, "account", None, "day")["status"]["spent_usd"], "6.8125");
    assert_eq!(find(&list, "account", None, "month")["amount_usd"], "8", "`llmlab budget 8` is the account's month");
    assert_eq!(shown["budgets"].as_array().unwrap().len(), 1, "{shown:#}");
    assert_eq!(shown["budgets"][0]["target_name"], "ci");
    assert_eq!((created["scope"].as_str(), created["target"].as_str()), (Some("project"), Some("api")), "{created:#}");
    assert_eq!(created["status"]["state"], "ok");
});

server_test!(budget_replaced_keeps_its_mode_and_thresholds_unless_a_flag_changes_them, |server| async move {
    let (machine, api) = seeded(&server).await;
    let web_week = |list: &serde_json::Value| {
        let b = find(list, "project", Some("web"), "week");
        (b["amount_usd"].as_str().unwrap().to_owned(), b["hard"].as_bool().unwrap(), b["thresholds"].clone())
    };

    let seen = session(
        &machine,
        &[
            &["budget", "10", "--project", "web", "--period", "week", "--hard", "--thresholds", "50,100"],
            &["budget", "20", "--project", "web", "--period", "week"],
        ],
    );
    let kept = json_of(&machine, &["budget", "list", "--json"]);
    let softened = session(&machine, &[&["budget", "30", "--project", "web", "--period", "week", "--soft"]]);
    let soft = json_of(&machine, &["budget", "list", "--json"]);
    let quiet =
        json_of(&machine, &["budget", "30", "--project", "web", "--period", "week", "--thresholds", "", "--json"]);
    let hardened = json_of(&machine, &["budget", "40", "--project", "web", "--period", "week", "--hard", "--json"]);

    snapshot!(machine, "budget_replaced", seen + &softened);
    assert_eq!(web_week(&kept), ("20".to_owned(), true, json!([50.0, 100.0])), "replaced: amount only");
    assert_eq!(web_week(&soft), ("30".to_owned(), false, json!([50.0, 100.0])), "--soft: thresholds kept");
    assert_eq!(kept["budgets"].as_array().unwrap().len(), 1, "replaced, not added: {kept:#}");
    assert_eq!((quiet["hard"].as_bool(), &quiet["thresholds"]), (Some(false), &json!([])), "'' turns warnings off");
    assert_eq!((hardened["hard"].as_bool(), &hardened["thresholds"]), (Some(true), &json!([])));

    // The account's monthly budget: hard set once, kept by the seed's form and by --period month.
    assert_eq!(machine.run(&["budget", "9", "--hard"]).status.code(), Some(0));
    assert_eq!(machine.run(&["budget", "11"]).status.code(), Some(0));
    assert_eq!(machine.run(&["budget", "12", "--period", "month"]).status.code(), Some(0));
    let month = json_of(&machine, &["budget", "list", "--json"]);
    let month = find(&month, "account", None, "month");
    assert_eq!((month["amount_usd"].as_str(), month["hard"].as_bool()), (Some("12"), Some(true)), "{month:#}");

    // A new monthly budget of the account follows the account's hard-budget setting, as `POST /api/budgets` does.
    assert_eq!(machine.run(&["budget", "--clear"]).status.code(), Some(0));
    let patched = api.send(Method::PATCH, "/api/account", Some(br#"{"hard_budget": true}"#.to_vec())).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let fresh = json_of(&machine, &["budget", "5", "--period", "month", "--json"]);
    assert_eq!(fresh["hard"], true, "{fresh:#}");
    let day = json_of(&machine, &["budget", "5", "--period", "day", "--json"]);
    assert_eq!(day["hard"], false, "any other new budget is soft: {day:#}");
});

server_test!(budget_clear_removes_by_scope_and_period_and_names_what_it_did_not_find, |server| async move {
    let (machine, api) = seeded(&server).await;
    for args in [
        &["budget", "10", "--project", "web", "--period", "week"][..],
        &["budget", "30", "--project", "web"],
        &["budget", "5", "--tag", "customer=acme", "--period", "day"],
        &["budget", "7", "--period", "day"],
        &["budget", "8"],
    ] {
        assert_eq!(machine.run(args).status.code(), Some(0), "{args:?}");
    }

    let seen = session(
        &machine,
        &[
            &["budget", "--clear", "--project", "web", "--period", "week"],
            &["budget", "--project", "web"],
            &["budget", "--clear", "--project", "web"],
            &["budget", "--clear", "--project", "web"],
            &["budget", "--clear", "--tag", "customer=acme", "--period", "week"],
            &["budget", "--clear", "--key", "nobody"],
            &["budget", "5", "--key", "nobody"],
        ],
    );
    let removed = json_of(&machine, &["budget", "--clear", "--tag", "customer=acme", "--json"]);
    let account = session(&machine, &[&["budget", "--clear"], &["budget", "--clear"], &["budget", "list"]]);

    snapshot!(machine, "budget_clear_scoped", seen + &account);
    assert_eq!(removed["removed"].as_array().unwrap().len(), 1, "{removed:#}");
    assert_eq!(removed["removed"][0]["target"], "customer=acme");
    let left = api.get("/api/budgets/scoped").await;
    assert_eq!(left.body, json!({ "budgets": [] }), "{}", left.text);
    assert_eq!(api.get("/api/budgets").await.body, json!({ "budget": null }));
});

server_test!(budget_list_shows_what_calls_in_flight_hold_on_a_hard_budget, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    let set = machine.run(&["budget", "0.66", "--project", "web", "--hard"]);
    assert_eq!(set.status.code(), Some(0), "{}", transcript(&set));
    let hold = json!({ "provider": "openai", "model": "gpt-4o", "max_output_tokens": 1000, "project": "web" });
    let held = api.post("/api/budgets/reserve", hold).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.text);

    let text = machine.run(&["budget", "list"]);
    let list = json_of(&machine, &["budget", "list", "--json"]);

    snapshot!(machine, "budget_list_held", transcript(&text));
    assert_eq!(list["budgets"][0]["status"]["reserved_usd"], held.body["reserved_usd"], "{list:#}");
});

#[test]
fn budget_flags_that_do_not_parse_or_do_not_go_together_are_usage_errors_naming_the_flag() {
    let machine = Machine::new("http://127.0.0.1:1");
    let mut seen = String::new();
    for args in [
        &["budget", "5", "--period", "fortnight"][..],
        &["budget", "5", "--tag", "acme"],
        &["budget", "5", "--tag", "customer="],
        &["budget", "5", "--thresholds", "0,100"],
        &["budget", "5", "--thresholds", "80,eighty"],
        &["budget", "5", "--thresholds", "80,80"],
        &["budget", "0", "--project", "web"],
        &["budget", "-1", "--period", "day"],
        &["budget", "5", "--project", "web", "--tag", "customer=acme"],
        &["budget", "5", "--hard", "--soft"],
        &["budget", "--hard"],
        &["budget", "--clear", "--thresholds", "80"],
        &["budget", "--project", "web", "list"],
    ] {
        // Checked before any request: no server is needed to reject them.
        let output = machine.run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", transcript(&output));
        let _ = writeln!(seen, "$ llmlab {}\n{}", args.join(" "), transcript(&output));
    }
    snapshot!(machine, "budget_flags_rejected", seen);
}

#[test]
fn budget_help_has_an_example_of_each_form() {
    let machine = Machine::new("http://127.0.0.1:1");

    let help = crate::cli_env::stdout(&machine.run(&["budget", "--help"]));
    let list_help = crate::cli_env::stdout(&machine.run(&["budget", "list", "--help"]));

    for form in [
        "llmlab budget 500 ",
        "--project search --period week --hard",
        "--key ci --period day",
        "--tag customer=acme --period total --thresholds 50,80,100",
        "--period week --soft",
        "llmlab budget list ",
        "llmlab budget --clear ",
        "llmlab budget --clear --project search --period week",
    ] {
        assert!(help.contains(form), "`llmlab budget --help` shows `{form}`:\n{help}");
    }
    assert!(help.contains("keeps its mode"), "--help says what a replace does without --hard or --soft:\n{help}");
    assert!(list_help.contains("llmlab budget list --json"), "{list_help}");
}

server_test!(prices_set_refuses_a_per_token_price_unless_forced, |server| async move {
    let (machine, _api) = seeded(&server).await;
    let args = ["prices", "set", "acme-large", "--provider", "acme", "--input", "0.000003", "--output", "15"];
    let refused = machine.run(&args);
    assert_eq!(refused.status.code(), Some(1), "{}", transcript(&refused));
    let said = crate::support::stderr(&refused);
    assert!(said.contains("looks like a price per token (it would be $3 per 1M"), "{said}");
    assert!(said.contains("--force"), "{said}");
    let forced = machine.run(&[&args[..], &["--force"]].concat());
    assert_eq!(forced.status.code(), Some(0), "{}", transcript(&forced));
});
