//! `llmlab import claude-code|codex`: the hand-written session logs in
//! `fixtures/agent_logs/` imported into a real server, to the totals worked
//! out in `fixtures/agent_logs/README.md`; a second import adds nothing;
//! `--watch` follows appended lines and new files; the events count in budgets.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{Api, BIN, server_test};
use crate::cli_env::{Machine, snapshot, transcript};
use crate::support::fixtures_dir;

/// Claude Code's fixtures: 5 responses, $0.126275 (4 priced + `claude-sonnet-9-9` unpriced).
const CLAUDE_TOTAL: &str = "0.126275";
/// Codex's fixtures: 4 turns, $0.0647.
const CODEX_TOTAL: &str = "0.0647";

/// Copies `fixtures/agent_logs/<from>` into `to` (created).
fn copy_fixtures(from: &str, to: &Path) {
    let source = fixtures_dir().join("agent_logs").join(from);
    let mut pending = vec![(source, to.to_owned())];
    while let Some((from, to)) = pending.pop() {
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap().flatten() {
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                pending.push((entry.path(), target));
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
}

/// Runs `llmlab args… --json`, asserting success; the printed summary.
fn import_json(machine: &Machine, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let output = machine.run_with(&args, env);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", transcript(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", transcript(&output)))
}

async fn all_time(api: &Api, query: &str) -> Value {
    let summary = api.get(&format!("/api/costs/summary{query}")).await;
    assert!(summary.status.is_success(), "{}", summary.text);
    summary.body
}

server_test!(claude_code_logs_import_one_event_per_response_to_the_hand_computed_total, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    // Where Claude Code writes (the default folder), signed in with a Claude.ai Max plan.
    copy_fixtures("claude-code/projects", &machine.home().join(".claude/projects"));
    let credentials = r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-not-read","refreshToken":"x","expiresAt":1,"scopes":["user:inference"],"subscriptionType":"max"}}"#;
    std::fs::write(machine.home().join(".claude/.credentials.json"), credentials).unwrap();
    let budget = machine.run(&["budget", "0.10", "--period", "total", "--tag", "source=claude-code"]);
    assert_eq!(budget.status.code(), Some(0), "{}", transcript(&budget));

    let first = import_json(&machine, &["import", "claude-code"], &[]);
    let again = import_json(&machine, &["import", "claude-code"], &[]);
    let shown = machine.run(&["import", "claude-code"]);

    snapshot!(machine, "import_claude_code_again", transcript(&shown));
    assert_eq!(first["files"], 3);
    assert_eq!(
        (first["events"].as_u64(), first["new"].as_u64(), first["already_imported"].as_u64()),
        (Some(5), Some(5), Some(0))
    );
    assert_eq!((first["repeated_lines"].as_u64(), first["synthetic_lines"].as_u64()), (Some(4), Some(1)), "{first:#}");
    assert_eq!(first["cost_usd"], CLAUDE_TOTAL);
    assert_eq!(first["new_cost_usd"], CLAUDE_TOTAL);
    assert_eq!(first["unpriced_models"], serde_json::json!({ "claude-sonnet-9-9": 1 }));
    assert_eq!(first["billing"], "subscription", "{first:#}");
    assert!(!first.to_string().contains("not-read"), "no secret is printed");
    assert_eq!((again["new"].as_u64(), again["already_imported"].as_u64()), (Some(0), Some(5)), "{again:#}");
    assert_eq!((again["cost_usd"].as_str(), again["new_cost_usd"].as_str()), (Some(CLAUDE_TOTAL), Some("0")));

    let everything = all_time(&api, "").await;
    assert_eq!(everything["all_time_usd"], CLAUDE_TOTAL, "{everything:#}");
    assert_eq!(everything["unpriced_calls"], 1);
    assert_eq!(all_time(&api, "?project=shop").await["all_time_usd"], CLAUDE_TOTAL);
    let csv = api.get("/api/events/export").await.text;
    assert_eq!(csv.lines().count(), 1 + 5, "{csv}");
    assert_eq!(csv.matches(r#"""source"":""claude-code"""#).count(), 5, "{csv}");
    assert_eq!(csv.matches(r#"""billing"":""subscription"""#).count(), 5, "{csv}");
    assert_eq!(csv.matches(r#"""sidechain"":""true"""#).count(), 1, "{csv}");
    let list: Value = serde_json::from_slice(&machine.run(&["budget", "list", "--json"]).stdout).unwrap();
    assert_eq!(list["budgets"][0]["status"]["spent_usd"], CLAUDE_TOTAL, "imported events count in budgets: {list:#}");
    assert_eq!(list["budgets"][0]["status"]["state"], "exceeded", "$0.126275 of $0.10: {list:#}");
    let alerts = api.get("/api/alerts").await.body;
    let kinds: Vec<&str> = alerts["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"budget_threshold"), "and in alerts: {alerts:#}");
});

server_test!(codex_logs_import_per_turn_deltas_to_the_hand_computed_total, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    let codex_home = machine.home().join("codex-home");
    copy_fixtures("codex/sessions", &codex_home.join("sessions"));
    // An archived session: Codex moved its file out of `sessions`.
    std::fs::create_dir_all(codex_home.join("archived_sessions")).unwrap();
    let archived = "rollout-2026-10-07T08-00-00-0199b7e4-5a61-7d30-a1f2-000000000002.jsonl";
    std::fs::rename(
        codex_home.join("sessions/2026/10/07").join(archived),
        codex_home.join("archived_sessions").join(archived),
    )
    .unwrap();
    std::fs::write(codex_home.join("auth.json"), r#"{"OPENAI_API_KEY":null,"tokens":{"access_token":"not-read"}}"#)
        .unwrap();
    let env = [("CODEX_HOME", codex_home.to_str().unwrap())];

    let first = import_json(&machine, &["import", "codex", "--billing", "api"], &env);
    let again = import_json(&machine, &["import", "codex"], &env);

    assert_eq!((first["files"].as_u64(), first["events"].as_u64(), first["new"].as_u64()), (Some(2), Some(4), Some(4)));
    assert_eq!(first["repeated_lines"], 1, "Codex's repeated token count adds nothing: {first:#}");
    assert_eq!(first["cost_usd"], CODEX_TOTAL);
    assert_eq!(first["unpriced_models"], serde_json::json!({}));
    assert_eq!(first["billing"], "api", "`--billing api` overrides the ChatGPT login");
    assert_eq!(again["billing"], "subscription", "the ChatGPT login, detected");
    assert_eq!((again["new"].as_u64(), again["already_imported"].as_u64()), (Some(0), Some(4)), "{again:#}");
    assert_eq!(all_time(&api, "").await["all_time_usd"], CODEX_TOTAL);
    assert_eq!(all_time(&api, "?project=api").await["all_time_usd"], "0.0497");
    assert_eq!(all_time(&api, "?project=site").await["all_time_usd"], "0.015");
    let csv = api.get("/api/events/export").await.text;
    assert_eq!(csv.matches(r#"""source"":""codex"""#).count(), 4, "{csv}");
    assert_eq!(csv.matches(r#"""billing"":""api"""#).count(), 4, "tagged at the first import: {csv}");
});

/// `llmlab import claude-code DIR --watch`, started in the background.
fn watch(machine: &Machine, dir: &Path) -> Child {
    Command::new(BIN)
        .args(["import", "claude-code", dir.to_str().unwrap(), "--watch", "--billing", "api"])
        .env("NO_COLOR", "1")
        .env("HOME", machine.home())
        .env("LLMLAB_CONFIG", &machine.config)
        .env_remove("LLMLAB_API_KEY")
        .env_remove("LLMLAB_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("llmlab starts")
}

/// Waits (up to a generous minute) until the account has `calls` events; the summary.
async fn calls_reach(api: &Api, calls: usize) -> Value {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let seen = api.get("/api/events/export").await.text.lines().count().saturating_sub(1);
        if seen >= calls || Instant::now() > deadline {
            return all_time(api, "").await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A Claude Code assistant line of `msg` with these counts; `stop` on a response's last line.
fn assistant_line(msg: &str, model: &str, input: u64, cache_read: u64, output: u64, stop: Option<&str>) -> String {
    serde_json::json!({
        "parentUuid": null, "isSidechain": false, "cwd": "/home/ana/shop", "sessionId": "watch-session",
        "type": "assistant", "requestId": format!("req_{msg}"), "uuid": format!("u-{msg}-{output}"),
        "timestamp": "2026-10-08T12:00:00.000Z",
        "message": { "id": msg, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": stop,
                     "usage": { "input_tokens": input, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cache_read, "output_tokens": output } }
    })
    .to_string()
        + "\n"
}

server_test!(watch_imports_appended_lines_and_new_files_then_stops_on_ctrl_c, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    let dir: PathBuf = machine.home().join("projects");
    copy_fixtures("claude-code/projects", &dir);
    let child = watch(&machine, &dir);
    calls_reach(&api, 5).await;

    // A response written as two lines (partial then final output), the first
    // one in two writes: the half line waits for its newline.
    let session = dir.join("-home-ana-shop").join("5d0c1e2a-1111-4a6b-9c3d-000000000001.jsonl");
    let partial = assistant_line("msg_06WATCH", "claude-sonnet-4-5-20250929", 10, 1000, 3, None);
    let (head, tail) = partial.split_at(40);
    append(&session, head);
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(
        &session,
        &format!(
            "{tail}{}",
            assistant_line("msg_06WATCH", "claude-sonnet-4-5-20250929", 10, 1000, 100, Some("end_turn"))
        ),
    );
    // $0.00183 = 10 × 3 + 1,000 × 0.3 + 100 × 15 millionths (the final output count, not the partial 3).
    let after_append = calls_reach(&api, 6).await;
    std::fs::create_dir_all(dir.join("-home-ana-new")).unwrap();
    append(
        &dir.join("-home-ana-new").join("new-session.jsonl"),
        &assistant_line("msg_07WATCH", "claude-haiku-4-5", 2000, 0, 0, Some("end_turn")),
    );
    let after_new_file = calls_reach(&api, 7).await;
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();

    assert_eq!(after_append["all_time_usd"], "0.128105", "0.126275 + 0.00183: {after_append:#}");
    assert_eq!(after_new_file["all_time_usd"], "0.130105", "+ 2,000 × 1 millionths: {after_new_file:#}");
    assert_eq!(exit.status.code(), Some(0), "Ctrl-C ends it cleanly: {}", transcript(&exit));
    let summary = String::from_utf8_lossy(&exit.stdout);
    assert!(summary.contains("7 responses: 7 new, 0 already imported"), "{}", transcript(&exit));
});

server_test!(watch_keeps_what_it_read_while_the_server_is_down_and_sends_it_when_back, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    let dir: PathBuf = machine.home().join("projects");
    copy_fixtures("claude-code/projects", &dir);
    let child = watch(&machine, &dir);
    calls_reach(&api, 5).await;

    server.signal("TERM");
    let session = dir.join("-home-ana-lab").join("5d0c1e2a-3333-4a6b-9c3d-000000000003.jsonl");
    append(&session, &assistant_line("msg_08DOWN", "claude-haiku-4-5", 1000, 0, 0, Some("end_turn")));
    tokio::time::sleep(Duration::from_secs(2)).await; // read and tried while the server is down
    server.restart();
    let after = calls_reach(&api, 6).await;
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();

    assert_eq!(after["all_time_usd"], "0.127275", "0.126275 + 1,000 × 1 millionths: {after:#}");
    assert_eq!(exit.status.code(), Some(0), "{}", transcript(&exit));
    let text = transcript(&exit);
    assert!(text.contains("cannot reach the LLMLab server") && text.contains("trying again"), "{text}");
    assert!(text.contains("6 responses: 6 new, 0 already imported"), "{text}");
});

server_test!(a_response_still_being_written_is_left_for_the_next_import, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    let session = machine.home().join("projects/-home-ana-shop/live.jsonl");
    std::fs::create_dir_all(session.parent().unwrap()).unwrap();
    append(&session, &assistant_line("msg_LIVE", "claude-sonnet-4-5-20250929", 10, 1000, 3, None));
    let dir = machine.home().join("projects");
    let args = ["import", "claude-code", dir.to_str().unwrap()];

    let during = import_json(&machine, &args, &[]);
    append(&session, &assistant_line("msg_LIVE", "claude-sonnet-4-5-20250929", 10, 1000, 100, Some("end_turn")));
    let after = import_json(&machine, &args, &[]);

    assert_eq!((during["events"].as_u64(), during["unfinished"].as_u64()), (Some(0), Some(1)), "{during:#}");
    assert_eq!((after["new"].as_u64(), after["unfinished"].as_u64()), (Some(1), Some(0)), "{after:#}");
    // 10 × 3 + 1,000 × 0.3 + 100 × 15 millionths: the final output count, not the partial 3.
    assert_eq!(after["cost_usd"], "0.00183");
    assert_eq!(all_time(&api, "").await["all_time_usd"], "0.00183");
});

#[test]
fn a_missing_folder_or_server_is_named_with_what_to_do() {
    let machine = Machine::new("http://127.0.0.1:1");

    let default = machine.run(&["import", "claude-code"]);
    let explicit = machine.run(&["import", "codex", "/nonexistent/sessions"]);
    let logs = fixtures_dir().join("agent_logs/codex/sessions");
    let unreachable = machine.run(&[
        "import",
        "codex",
        logs.to_str().unwrap(),
        "--api-key",
        "llm_test",
        "--server",
        "http://127.0.0.1:1",
    ]);
    let bad_project = machine.run(&["import", "codex", logs.to_str().unwrap(), "--project", "a\tb"]);

    let text = transcript(&default);
    assert_eq!(default.status.code(), Some(1), "{text}");
    assert!(
        text.contains(".claude/projects` does not exist") && text.contains("`llmlab import claude-code DIR`"),
        "{text}"
    );
    assert!(text.contains("CLAUDE_CONFIG_DIR"), "{text}");
    let text = transcript(&explicit);
    assert_eq!(explicit.status.code(), Some(1), "{text}");
    assert!(
        text.contains("`/nonexistent/sessions` does not exist") && text.contains("`llmlab import codex DIR`"),
        "{text}"
    );
    let text = transcript(&unreachable);
    assert_eq!(unreachable.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot reach the LLMLab server at `http://127.0.0.1:1`"), "{text}");
    let text = transcript(&bad_project);
    assert_eq!(bad_project.status.code(), Some(1), "{text}");
    assert!(text.contains("`--project` must be at most 100 characters, without control characters"), "{text}");
}
