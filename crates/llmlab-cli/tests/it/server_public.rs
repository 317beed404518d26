//! `llmlab serve` reachable from the network: the sign-up policy it picks
//! and logs, and the admin token it generates once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::api::BIN;
use crate::support::{llmlab_with_stdin, stderr};

/// A `llmlab serve` process and the lines it logged until it listened.
struct Served {
    child: Child,
    lines: Vec<String>,
    /// `http://127.0.0.1:PORT`, whatever address it listens on.
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `llmlab serve args…` on a free port and the SQLite file `db`.
fn serve(db: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--database-url", &format!("sqlite://{}", db.display())])
        .args(args)
        .env_remove("LLMLAB_ADMIN_TOKEN")
        .env_remove("LLMLAB_SIGNUP")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env("LLMLAB_LOG", "info,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("llmlab serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let port = line.split("running at http://").nth(1).and_then(|rest| rest.split('/').next()?.rsplit(':').next());
        let port = port.map(str::to_owned);
        lines.push(line);
        if let Some(port) = port {
            return Served { child, lines, url: format!("http://127.0.0.1:{port}") };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("llmlab serve did not start:\n{}", lines.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_listening_beyond_loopback_is_closed_and_shows_its_admin_token_once() {
    let folder = tempfile::tempdir().unwrap();
    let db = folder.path().join("llmlab.db");

    let first = serve(&db, &["--host", "0.0.0.0"], &[]);
    let log = first.lines.join("\n");
    assert!(log.contains("sign-up policy: closed (the default when listening beyond loopback"), "{log}");
    let token = log
        .split_whitespace()
        .find(|word| word.starts_with("llmadm_"))
        .unwrap_or_else(|| panic!("the generated admin token is shown: {log}"))
        .to_owned();
    let client = reqwest::Client::new();
    let signup = format!("{}/api/auth/signup", first.url);
    let refused = client.post(&signup).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let admitted = client.post(&signup).bearer_auth(&token).json(&json!({})).send().await.unwrap();
    assert_eq!(admitted.status(), StatusCode::CREATED);
    drop(first);

    // Restarted: the same token works, and it is never shown again.
    let second = serve(&db, &["--host", "0.0.0.0"], &[]);
    let log = second.lines.join("\n");
    assert!(!log.contains("llmadm_"), "{log}");
    let again = client.post(format!("{}/api/auth/signup", second.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_can_be_set_and_a_loopback_server_is_open() {
    let folder = tempfile::tempdir().unwrap();

    let local = serve(&folder.path().join("a.db"), &["--host", "127.0.0.1"], &[]);
    let opened = serve(&folder.path().join("b.db"), &["--host", "0.0.0.0", "--signup", "open"], &[]);
    let invite = serve(
        &folder.path().join("c.db"),
        &["--host", "0.0.0.0"],
        &[("LLMLAB_SIGNUP", "invite"), ("LLMLAB_ADMIN_TOKEN", "an-admin-token-of-the-operators-own")],
    );

    let log = |served: &Served| served.lines.join("\n");
    assert!(log(&local).contains("sign-up policy: open (the default when listening on a loopback address only"));
    assert!(!log(&local).contains("llmadm_"), "an open server needs no admin token");
    assert!(log(&opened).contains("sign-up policy: open (set by --signup"), "{}", log(&opened));
    assert!(log(&invite).contains("sign-up policy: invite") && !log(&invite).contains("llmadm_"), "{}", log(&invite));
    assert!(!log(&invite).contains("an-admin-token-of-the-operators-own"), "the configured token is never logged");
    let client = reqwest::Client::new();
    for (served, status) in
        [(&local, StatusCode::CREATED), (&opened, StatusCode::CREATED), (&invite, StatusCode::FORBIDDEN)]
    {
        let reply = client.post(format!("{}/api/auth/signup", served.url)).send().await.unwrap();
        assert_eq!(reply.status(), status, "{}", served.url);
    }
    let invited = client
        .post(format!("{}/api/auth/invites", invite.url))
        .bearer_auth("an-admin-token-of-the-operators-own")
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), StatusCode::CREATED);
}

#[test]
fn bad_sign_up_settings_are_refused_at_start_with_a_clear_line() {
    let policy = llmlab_with_stdin(&["serve", "--port", "0", "--signup", "public"], None);
    let rate = llmlab_with_stdin(&["serve", "--port", "0", "--auth-rate-limit", "fast"], None);

    assert!(!policy.status.success());
    assert!(
        stderr(&policy).contains("`public` is not a sign-up policy: use `open`, `closed` or `invite`"),
        "{}",
        stderr(&policy)
    );
    assert!(!rate.status.success());
    assert!(stderr(&rate).contains("write it as `10/min`"), "{}", stderr(&rate));
}
