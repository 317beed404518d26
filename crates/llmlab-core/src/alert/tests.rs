use jiff::tz::TimeZone;

use super::*;

fn usd_amount(text: &str) -> Money {
    text.parse().unwrap()
}

fn watched(period: BudgetPeriod, amount: &str, hard: bool) -> WatchedBudget {
    WatchedBudget {
        budget: BudgetRef {
            id: 7,
            scope: "project".to_owned(),
            target: "load".to_owned(),
            period: period.as_str().to_owned(),
            hard,
            created_at: 1_795_000_000_000,
        },
        amount: usd_amount(amount),
        thresholds: Thresholds::default(),
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn tags(due: &[(String, AlertFacts)]) -> Vec<&str> {
    due.iter().map(|(tag, _)| tag.as_str()).collect()
}

#[test]
fn a_jump_past_both_thresholds_raises_both_once() {
    let budget = watched(BudgetPeriod::Total, "10", false);
    let now = at("2026-12-07T12:00:00Z");
    assert!(due_budget_alerts(&budget, "total", usd_amount("7.999999999"), &[], None, now).is_empty());
    let due = due_budget_alerts(&budget, "total", usd_amount("12"), &[], None, now);
    assert_eq!(tags(&due), ["80", "100"]);
    assert!(due_budget_alerts(&budget, "total", usd_amount("12"), &["80", "100"], None, now).is_empty());
    assert_eq!(tags(&due_budget_alerts(&budget, "total", usd_amount("12"), &["80"], None, now)), ["100"]);
}

#[test]
fn a_threshold_is_reached_exactly_at_its_share() {
    let budget = watched(BudgetPeriod::Total, "10", false);
    let now = at("2026-12-07T12:00:00Z");
    assert_eq!(tags(&due_budget_alerts(&budget, "total", usd_amount("8"), &[], None, now)), ["80"]);
}

#[test]
fn a_forecast_waits_for_a_quarter_of_the_period_and_names_the_day_it_runs_out() {
    let budget = watched(BudgetPeriod::Month, "100", false);
    let bounds = BudgetPeriod::Month.bounds(at("2026-12-07T00:00:00Z"), &TimeZone::UTC).unwrap();
    // $30 after 6 days of 31: the run rate would spend $155, but it is too early to say.
    let early =
        due_budget_alerts(&budget, "2026-12-01", usd_amount("30"), &[], Some(&bounds), at("2026-12-07T00:00:00Z"));
    assert!(early.is_empty(), "{early:?}");
    // $40 after 10 days: $4 a day reaches $100 after 25 days, on Dec 26.
    let now = at("2026-12-11T00:00:00Z");
    let due = due_budget_alerts(&budget, "2026-12-01", usd_amount("40"), &[], Some(&bounds), now);
    assert_eq!(tags(&due), ["forecast"]);
    let AlertFacts::BudgetForecast { over_at, .. } = &due[0].1 else { panic!("{due:?}") };
    assert_eq!(*over_at, at("2026-12-26T00:00:00Z"));
    // On course to stay under: nothing.
    assert!(due_budget_alerts(&budget, "2026-12-01", usd_amount("20"), &[], Some(&bounds), now).is_empty());
    // Raised already, or an older period: nothing.
    assert!(due_budget_alerts(&budget, "2026-12-01", usd_amount("40"), &["forecast"], Some(&bounds), now).is_empty());
    assert!(due_budget_alerts(&budget, "2026-11-01", usd_amount("40"), &[], Some(&bounds), now).is_empty());
}

#[test]
fn dedupe_keys_name_the_budget_period_threshold_and_amount() {
    let budget = watched(BudgetPeriod::Day, "10", false);
    let due = due_budget_alerts(&budget, "2026-12-07", usd_amount("8"), &[], None, at("2026-12-07T12:00:00Z"));
    assert_eq!(due[0].1.dedupe_key().unwrap(), "budget:7.1795000000000:2026-12-07:80:10000000000");
    assert_eq!(AlertFacts::Test.dedupe_key(), None);
    let unpriced = AlertFacts::UnpricedModel { provider: "openai".to_owned(), model: "gpt-9".to_owned() };
    assert_eq!(unpriced.dedupe_key().unwrap(), "unpriced:openai/gpt-9");
    assert_eq!(unpriced.event_type(), "unpriced.model");
    assert_eq!(AlertFacts::Test.event_type(), "test");
}

#[test]
fn a_threshold_message_names_the_figures_and_the_command() {
    let budget = watched(BudgetPeriod::Month, "10", true);
    let due = due_budget_alerts(&budget, "2026-12-01", usd_amount("10"), &["80"], None, at("2026-12-07T12:00:00Z"));
    let message = due[0].1.message("http://llmlab.example/");
    assert_eq!(message.title, "100% of the monthly budget of project load used");
    assert_eq!(message.text, "$10.00 of $10.00 spent (100.00%) in the monthly period starting 2026-12-01.");
    assert!(
        message.action.contains("llmlab budget <amount> --project load --period month --hard"),
        "{}",
        message.action
    );
    assert!(message.action.contains("refused"), "{}", message.action);
    assert_eq!(message.link, "http://llmlab.example/dashboard");
    assert!(message.figures.contains(&("Spent".to_owned(), "$10.00".to_owned())));
}

#[test]
fn odd_targets_are_quoted_for_the_shell() {
    let mut budget = watched(BudgetPeriod::Week, "5", false);
    budget.budget.scope = "tag".to_owned();
    budget.budget.target = "team=ml ops".to_owned();
    let due = due_budget_alerts(&budget, "2026-12-07", usd_amount("4"), &[], None, at("2026-12-07T12:00:00Z"));
    let message = due[0].1.message("http://x");
    assert!(message.action.contains("--tag 'team=ml ops' --period week"), "{}", message.action);
    assert_eq!(message.title, "80% of the weekly budget of tag team=ml ops used");
}

#[test]
fn facts_round_trip_through_json() {
    let facts = AlertFacts::BudgetForecast {
        budget: watched(BudgetPeriod::Month, "1", false).budget,
        period_key: "2026-12-01".to_owned(),
        spent: usd_amount("0.5"),
        amount: usd_amount("1"),
        over_at: at("2026-12-20T10:00:00Z"),
    };
    let json = serde_json::to_string(&facts).unwrap();
    assert!(json.contains(r#""kind":"budget_forecast""#), "{json}");
    assert_eq!(serde_json::from_str::<AlertFacts>(&json).unwrap(), facts);
}

fn days(values: &[&str]) -> Vec<Money> {
    values.iter().map(|v| usd_amount(v)).collect()
}

#[test]
fn an_anomaly_needs_history_the_floor_and_three_times_the_norm() {
    let steady = days(&["5"; 14]);
    assert_eq!(spend_anomaly(usd_amount("15"), &steady), Some(usd_amount("5")));
    assert_eq!(spend_anomaly(usd_amount("14.99"), &steady), None);
    // Under the floor, however unusual.
    let tiny = days(&["0.01"; 14]);
    assert_eq!(spend_anomaly(usd_amount("9.99"), &tiny), None);
    // Spend on only 6 of the 14 days: too little history.
    let mut sparse = days(&["0"; 14]);
    for day in sparse.iter_mut().take(6) {
        *day = usd_amount("1");
    }
    assert_eq!(spend_anomaly(usd_amount("100"), &sparse), None);
    sparse[6] = usd_amount("1");
    assert_eq!(spend_anomaly(usd_amount("100"), &sparse), Some(usd_amount("0.5")));
    // Fewer than 14 days known: no judgement.
    assert_eq!(spend_anomaly(usd_amount("100"), &days(&["5"; 13])), None);
}

#[test]
fn an_anomaly_message_says_how_far_above() {
    let facts = AlertFacts::SpendAnomaly {
        day: "2026-12-07".parse().unwrap(),
        spent: usd_amount("42"),
        norm: usd_amount("10"),
    };
    let message = facts.message("http://x");
    assert_eq!(message.text, "$42.00 spent on 2026-12-07, 4.2 times the daily average of the 14 days before ($10.00).");
}

#[test]
fn every_kind_says_what_happened_and_what_to_do() {
    let budget = watched(BudgetPeriod::Day, "5", true).budget;
    let all = [
        AlertFacts::BudgetThreshold {
            budget: budget.clone(),
            period_key: "2026-12-07".to_owned(),
            threshold: "80".to_owned(),
            spent: usd_amount("4"),
            amount: usd_amount("5"),
        },
        AlertFacts::BudgetForecast {
            budget: budget.clone(),
            period_key: "2026-12-07".to_owned(),
            spent: usd_amount("3"),
            amount: usd_amount("5"),
            over_at: at("2026-12-07T20:00:00Z"),
        },
        AlertFacts::HardStop {
            budget,
            period_key: "total".to_owned(),
            spent: usd_amount("4.9"),
            held: usd_amount("0.05"),
            amount: usd_amount("5"),
        },
        AlertFacts::SpendAnomaly { day: "2026-12-07".parse().unwrap(), spent: usd_amount("30"), norm: Money::ZERO },
        AlertFacts::UnpricedModel { provider: "acme".to_owned(), model: "acme large".to_owned() },
        AlertFacts::Test,
    ];
    for facts in &all {
        let message = facts.message("https://llmlab.example/");
        assert!(!message.title.is_empty() && !message.text.is_empty(), "{facts:?}");
        assert!(message.action.contains("llmlab "), "{facts:?}: {}", message.action);
        assert!(message.link.starts_with("https://llmlab.example/"), "{}", message.link);
        assert!(!message.link.contains("//dashboard") && !message.link.contains("//settings"), "{}", message.link);
    }
    let forecast = all[1].message("x");
    assert!(forecast.text.contains("runs out on 2026-12-07 20:00 UTC"), "{}", forecast.text);
    assert!(forecast.figures.contains(&("Runs out".to_owned(), "2026-12-07 20:00 UTC".to_owned())));
    let stop = all[2].message("x");
    assert_eq!(stop.title, "The hard daily budget of project load is refusing calls");
    assert!(stop.text.contains("in the period since the start"), "{}", stop.text);
    assert!(stop.figures.contains(&("Held".to_owned(), "$0.05".to_owned())));
    assert!(all[3].message("x").text.contains("far above the daily average"), "a zero norm");
    let unpriced = all[4].message("x");
    assert!(unpriced.action.contains("llmlab prices set 'acme large' --provider acme"), "{}", unpriced.action);
    for (facts, kind) in
        all.iter().zip(["budget_threshold", "budget_forecast", "hard_stop", "spend_anomaly", "unpriced_model", "test"])
    {
        assert_eq!(facts.kind(), kind);
        assert_eq!(serde_json::from_value::<AlertFacts>(serde_json::to_value(facts).unwrap()).unwrap(), *facts);
    }
    assert_eq!(all[5].dedupe_key(), None);
    assert!(all[1].dedupe_key().unwrap().contains(":forecast:"));
    assert!(all[2].dedupe_key().unwrap().contains(":stop:"));
    assert_eq!(all[3].dedupe_key().unwrap(), "anomaly:2026-12-07");
}

#[test]
fn a_provider_drift_alert_says_what_was_billed_and_never_seen_once_per_day_and_provider() {
    let facts = AlertFacts::ProviderDrift {
        day: jiff::civil::date(2026, 12, 3),
        provider: "openai".to_owned(),
        tracked: "67.22".parse().unwrap(),
        billed: "108.42".parse().unwrap(),
    };
    assert_eq!(facts.kind(), "provider_drift");
    assert_eq!(facts.dedupe_key().as_deref(), Some("drift:openai:2026-12-03"));
    let message = facts.message("https://llmlab.example/");
    assert_eq!(message.text, "$41.20 billed by openai on 2026-12-03 (UTC) that LLMLab never saw: 38.0% of the day.");
    assert!(message.action.contains("llmlab reconcile --month 2026-12"), "{}", message.action);
}
