//! `llmlab budget`: show and set the monthly budget; amounts people type.

use std::fmt::Write as _;

use crate::api::server_test;
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

#[test]
fn budget_accepts_the_usual_ways_of_writing_an_amount_and_rejects_the_rest_in_one_line() {
    let machine = Machine::new("http://127.0.0.1:1");
    let mut seen = String::new();
    for amount in ["0", "-5", "abc", "1,50", "$0.00"] {
        // Checked before any request: no server is needed to reject them.
        let output = machine.run(&["budget", amount]);
        assert_eq!(output.status.code(), Some(1), "{amount}");
        let _ = writeln!(seen, "$ llmlab budget {amount}\n{}", transcript(&output));
    }
    snapshot!(machine, "budget_rejected", seen);
}
