//! `llmlab optimize`: the recommendations, largest saving first.

use crate::api::server_test;
use crate::cli_env::{Machine, seeded, snapshot, transcript};

server_test!(optimize_lists_tips_with_their_monthly_savings, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let human = machine.run(&["optimize"]);
    let verbose = machine.run(&["optimize", "--verbose"]);
    let json = machine.run(&["optimize", "--json"]);

    assert_eq!(human.status.code(), Some(0), "{}", transcript(&human));
    snapshot!(machine, "optimize_human", transcript(&human));
    snapshot!(machine, "optimize_verbose", transcript(&verbose));
    let tips: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert!(!tips.is_empty());
    let savings: Vec<rust_decimal::Decimal> =
        tips.iter().filter_map(|t| t["monthly_savings_usd"].as_str()).map(|s| s.parse().unwrap()).collect();
    assert!(savings.windows(2).all(|w| w[0] >= w[1]), "sorted by saving: {savings:?}");
    snapshot!(machine, "optimize_json", transcript(&json));
});

server_test!(optimize_without_spend_says_where_tips_come_from, |server| async move {
    let machine = Machine::of(&server);
    machine.init();

    let human = machine.run(&["optimize"]);
    let json = machine.run(&["optimize", "--json"]);

    snapshot!(machine, "optimize_empty", transcript(&human));
    assert_eq!(String::from_utf8_lossy(&json.stdout).trim(), "[]");
});
