//! `llmlab config`: the effective settings, where each came from; `set` and `unset`.

use crate::cli_env::{Machine, snapshot, transcript};

const KEY: &str = "llm_ab12cd34SECRETSECRETSECRETSECRET";

#[test]
fn config_shows_defaults_when_nothing_is_configured() {
    let machine = Machine::new("http://127.0.0.1:8787");

    let human = machine.run(&["config"]);
    let json = machine.run(&["config", "--json"]);

    snapshot!(machine, "config_defaults", transcript(&human));
    snapshot!(machine, "config_defaults_json", transcript(&json));
}

#[test]
fn config_set_writes_the_file_and_config_shows_its_values_masked() {
    let machine = Machine::new("http://127.0.0.1:8787");

    let set_url = machine.run(&["config", "set", "base_url", "llmlab.example.com:9000/"]);
    let set_key = machine.run(&["config", "set", "api_key", KEY]);
    let human = machine.run(&["config"]);
    let json = machine.run(&["config", "--json"]);

    snapshot!(machine, "config_set_url", transcript(&set_url));
    snapshot!(machine, "config_set_key", transcript(&set_key));
    snapshot!(machine, "config_from_file", transcript(&human));
    snapshot!(machine, "config_from_file_json", transcript(&json));
    assert_eq!(machine.file()["base_url"].as_str(), Some("http://llmlab.example.com:9000"));
    assert_eq!(machine.file()["api_key"].as_str(), Some(KEY));
    for output in [&set_key, &human, &json] {
        assert!(!transcript(output).contains(KEY), "the key is never printed in full");
    }
}

#[test]
fn environment_beats_the_file_and_flags_beat_the_environment() {
    let machine = Machine::new("http://127.0.0.1:8787");
    machine.run(&["config", "set", "base_url", "http://from-file:1"]);
    machine.run(&["config", "set", "api_key", KEY]);

    let env = machine.run_with(
        &["config", "--json"],
        &[("LLMLAB_BASE_URL", "http://from-env:2"), ("LLMLAB_API_KEY", "llm_envenvenSECRETSECRETSECRET")],
    );
    let flags = machine.run_with(
        &["config", "--server", "http://from-flag:3"],
        &[("LLMLAB_BASE_URL", "http://from-env:2"), ("LLMLAB_API_KEY", "llm_envenvenSECRETSECRETSECRET")],
    );

    snapshot!(machine, "config_env_json", transcript(&env));
    snapshot!(machine, "config_flags", transcript(&flags));
}

#[test]
fn config_set_rejects_unknown_keys_and_bad_urls_and_unset_removes() {
    let machine = Machine::new("http://127.0.0.1:8787");
    machine.run(&["config", "set", "api_key", KEY]);

    let unknown = machine.run(&["config", "set", "colour", "blue"]);
    let bad_url = machine.run(&["config", "set", "base_url", "ftp://x"]);
    let unset = machine.run(&["config", "unset", "api_key"]);

    snapshot!(machine, "config_unknown_key", transcript(&unknown));
    snapshot!(machine, "config_bad_url", transcript(&bad_url));
    snapshot!(machine, "config_unset", transcript(&unset));
    assert!(!machine.file().contains_key("api_key"));
}

#[test]
fn a_broken_config_file_is_one_line_naming_it() {
    let machine = Machine::new("http://127.0.0.1:8787");
    std::fs::create_dir_all(machine.config.parent().unwrap()).unwrap();
    std::fs::write(&machine.config, "base_url = [1, 2\n").unwrap();

    let output = machine.run(&["status"]);

    snapshot!(machine, "config_broken", transcript(&output));
}
