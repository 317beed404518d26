//! `llmlab init`: sign up or verify a key, write the config file, never prompt without a terminal.

use crate::api::{Api, server_test};
use crate::cli_env::{Machine, snapshot, stdout, transcript};

server_test!(init_signs_up_writes_a_private_config_and_prints_the_snippet, |server| async move {
    let machine = Machine::of(&server);

    let output = machine.run(&["init", "--server", &server.base_url]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot!(machine, "init_human", transcript(&output));
    let file = machine.file();
    assert_eq!(file["base_url"].as_str(), Some(server.base_url.as_str()));
    assert!(file["api_key"].as_str().unwrap().starts_with("llm_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&machine.config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let login = Api::anonymous(&server).with_key(&machine.key()).post("/api/auth/login", serde_json::json!({})).await;
    assert_eq!(login.status, reqwest::StatusCode::OK, "the written key works");
    assert!(stdout(&output).contains("@track_cost(provider=\"openai\")"));
});

server_test!(init_json_reports_the_account_with_the_key_masked, |server| async move {
    let machine = Machine::of(&server);

    let output = machine.run(&["init", "--server", &server.base_url, "--name", "ci", "--json"]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot!(machine, "init_json", transcript(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["created_account"], true);
    assert!(!stdout(&output).contains(&machine.key()), "the full key is never printed");
});

server_test!(init_with_a_key_verifies_it_and_uses_that_account, |server| async move {
    let existing = Api::signup(&server, "alice").await;
    let key = existing.key.clone().unwrap();
    let machine = Machine::of(&server);

    let by_flag = machine.run(&["init", "--server", &server.base_url, "--api-key", &key, "--json"]);
    let by_env =
        machine.run_with(&["init", "--json"], &[("LLMLAB_API_KEY", &key), ("LLMLAB_BASE_URL", &server.base_url)]);

    for output in [&by_flag, &by_env] {
        assert_eq!(output.status.code(), Some(0), "{}", transcript(output));
        let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(body["created_account"], false);
    }
    assert_eq!(machine.key(), key);
});

server_test!(running_init_again_keeps_the_working_key, |server| async move {
    let machine = Machine::of(&server);
    let first = machine.init();

    let again = machine.run(&["init", "--server", &server.base_url, "--json"]);

    assert_eq!(again.status.code(), Some(0), "{}", transcript(&again));
    let body: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(body["created_account"], false);
    assert_eq!(machine.key(), first);
});

server_test!(init_rejects_a_wrong_key_in_one_line, |server| async move {
    let machine = Machine::of(&server);

    let flag = machine.run(&["init", "--server", &server.base_url, "--api-key", "llm_wrongwrongwrongwrongwrong"]);
    let env = machine
        .run_with(&["init", "--server", &server.base_url], &[("LLMLAB_API_KEY", "llm_wrongwrongwrongwrongwrong")]);

    snapshot!(machine, "init_wrong_key_flag", transcript(&flag));
    snapshot!(machine, "init_wrong_key_env", transcript(&env));
    assert!(!machine.config.exists(), "nothing is written for a rejected key");
});

server_test!(init_says_when_the_config_file_cannot_be_written, |server| async move {
    let machine = Machine::of(&server);
    let blocker = machine.home().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let config = blocker.join("config.toml");

    let output =
        machine.run_with(&["init", "--server", &server.base_url], &[("LLMLAB_CONFIG", config.to_str().unwrap())]);

    snapshot!(machine, "init_unwritable", transcript(&output));
});

#[test]
fn init_names_an_unreachable_server_and_suggests_llmlab_serve() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let machine = Machine::new(&format!("http://127.0.0.1:{port}"));

    let output = machine.run(&["init", "--server", &machine.server]);

    snapshot!(machine, "init_unreachable", transcript(&output));
    assert!(!machine.config.exists());
}

#[test]
fn init_rejects_a_server_that_is_not_a_url() {
    let machine = Machine::new("http://127.0.0.1:1");

    let output = machine.run(&["init", "--server", "ftp://example.com"]);

    snapshot!(machine, "init_bad_url", transcript(&output));
}

/// A server that accepts no sign-ups, and one that takes invites (both with this admin token).
const ADMIN: &str = "llmadm_cli-test-admin-token-0123456789";

async fn with_policy(
    backend: llmlab_test_support::TestBackend,
    signup: llmlab_server::signup::SignupPolicy,
) -> llmlab_test_support::TestApp {
    let settings = llmlab_server::ServerSettings {
        signup,
        admin_token_hash: Some(llmlab_server::signup::hash_secret(ADMIN)),
        ..llmlab_server::ServerSettings::default()
    };
    llmlab_test_support::TestApp::start_with(backend, settings).await
}

async fn closed(backend: llmlab_test_support::TestBackend) -> llmlab_test_support::TestApp {
    with_policy(backend, llmlab_server::signup::SignupPolicy::Closed).await
}

async fn invite_only(backend: llmlab_test_support::TestBackend) -> llmlab_test_support::TestApp {
    with_policy(backend, llmlab_server::signup::SignupPolicy::Invite).await
}

llmlab_test_support::server_test_with!(closed, init_on_a_closed_server_says_to_ask_its_operator, |server| async move {
    let machine = Machine::new(&server.base_url);

    // The server runs in this process: let it answer while the CLI waits.
    let output = tokio::task::block_in_place(|| machine.run(&["init", "--server", &server.base_url, "--yes"]));

    snapshot!(machine, "init_signup_closed", transcript(&output));
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(!machine.config.exists(), "nothing is written");
});

llmlab_test_support::server_test_with!(invite_only, init_signs_up_with_an_invite_link, |server| async move {
    let invite = Api::anonymous(&server).with_key(ADMIN).post("/api/auth/invites", serde_json::json!({})).await;
    let link = invite.body["url"].as_str().unwrap().to_owned();
    let machine = Machine::new(&server.base_url);

    let without = tokio::task::block_in_place(|| machine.run(&["init", "--server", &server.base_url, "--yes"]));
    // The link names the server: no `--server` needed.
    let with = tokio::task::block_in_place(|| machine.run(&["init", "--invite", &link, "--json"]));

    assert_eq!(without.status.code(), Some(1), "{}", transcript(&without));
    assert!(transcript(&without).contains("invite link"), "{}", transcript(&without));
    assert_eq!(with.status.code(), Some(0), "{}", transcript(&with));
    let body: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(
        (body["created_account"].as_bool(), body["base_url"].as_str()),
        (Some(true), Some(server.base_url.as_str()))
    );
});
