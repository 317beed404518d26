//! Help texts, shell completions and `llmlab prices set` against a server.

use crate::api::server_test;
use crate::cli_env::{Machine, seeded, snapshot, transcript};

#[test]
fn every_command_has_help_with_examples() {
    let machine = Machine::new("http://127.0.0.1:8787");
    for command in [
        "init",
        "status",
        "budget",
        "optimize",
        "export",
        "config",
        "completions",
        "prices set",
        "prices update",
        "connect",
        "sync",
        "reconcile",
        "import",
        "import claude-code",
        "import codex",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let output = machine.run(&args);
        assert_eq!(output.status.code(), Some(0), "{command}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Examples:"), "{command} --help has examples");
    }
    let top = machine.run(&["--help"]);
    snapshot!(machine, "help_top_level", transcript(&top));
    let update = machine.run(&["prices", "update", "--help"]);
    snapshot!(machine, "help_prices_update", transcript(&update));
}

#[test]
fn completions_are_generated_for_each_shell() {
    let machine = Machine::new("http://127.0.0.1:8787");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = machine.run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains("llmlab") && script.contains("optimize"), "{shell}");
    }
    assert_eq!(machine.run(&["completions", "tcsh"]).status.code(), Some(1), "a usage error, to fix");
}

server_test!(prices_set_prices_the_unpriced_calls, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let set = machine.run(&["prices", "set", "acme-1", "--provider", "acme", "--input", "1", "--output", "$3.00"]);
    let status = machine.run(&["status", "--json"]);
    let bad = machine.run(&["prices", "set", "acme-1", "--input", "-1", "--output", "2"]);

    snapshot!(machine, "prices_set", transcript(&set));
    snapshot!(machine, "prices_set_bad", transcript(&bad));
    let body: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(body["summary"]["unpriced_calls"], 0);
});
