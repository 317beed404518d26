//! `llmlab alerts`: channels added, listed (a hint of each target, never the
//! URL), tested and removed against a real `llmlab serve`; a local receiver
//! that records what arrives and checks its Standard Webhooks signature; the
//! delivery log as the CLI shows it; refusals in one line.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use llmlab_test_support::{TestBackend, TestServer};
use serde_json::Value;
use sha2::Sha256;

use crate::api::BIN;
use crate::cli_env::{Machine, transcript};

/// A server that sends alerts to loopback receivers, as the tests' receivers are.
async fn start_allowing_private(backend: TestBackend) -> TestServer {
    TestServer::start_with_env(Path::new(BIN), backend, &[("LLMLAB_ALERTS_ALLOW_PRIVATE", "1")]).await
}

/// One request that reached the receiver.
#[derive(Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

/// A local HTTP receiver: records every request; answers 500 under `/down`, 200 elsewhere.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(record).with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, received }
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// The requests to `path` once there are at least `n`, waiting at most 30 s.
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.at(path);
            if seen.len() >= n {
                return seen;
            }
            assert!(Instant::now() < deadline, "{path} received {} requests, not {n}", seen.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn record(
    State(received): State<Arc<Mutex<Vec<Received>>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_owned();
    let down = path.starts_with("/down");
    received.lock().unwrap().push(Received { path, headers, body });
    if down { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

/// Whether `signature` (a `webhook-signature` header: space-separated
/// `v1,<base64>`) signs the request per Standard Webhooks with `secret`
/// (`whsec_<base64 key>`): HMAC-SHA256 of `{id}.{timestamp}.{body}`.
fn signed(secret: &str, id: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).expect("base64 after whsec_");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signature.split(' ').any(|s| s == expected)
}

/// Runs `llmlab args…`, asserting it succeeds, and parses its JSON output.
fn json_of(machine: &Machine, args: &[&str]) -> Value {
    let output = machine.run(args);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", transcript(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {}", transcript(&output)))
}

/// Runs `llmlab args…`, asserting its exit code, and its transcript.
fn run(machine: &Machine, args: &[&str], code: i32) -> String {
    let output = machine.run(args);
    let seen = transcript(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {seen}");
    seen
}

/// `llmlab alerts log --json` once `done` holds for it, waiting at most 30 s.
async fn log_when(machine: &Machine, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = json_of(machine, &["alerts", "log", "--json"]);
        if done(&log) {
            return log;
        }
        assert!(Instant::now() < deadline, "never {what}: {log:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The delivery of `alert` to channel `id`.
fn delivery(alert: &Value, id: i64) -> &Value {
    alert["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["channel_id"] == id)
        .unwrap_or_else(|| panic!("no delivery to channel {id}: {alert:#}"))
}

/// The line of `text` that contains `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// `insta::assert_snapshot!` with the machine's redactions, and those of secrets, alert ids and clock times.
macro_rules! snapshot {
    ($machine:expr, $name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in crate::cli_env::filters(&$machine) {
            settings.add_filter(&pattern, replacement);
        }
        settings.add_filter(r"whsec_[A-Za-z0-9+/=]+", "whsec_[SECRET]");
        settings.add_filter(r"alert_[0-9a-f]{32}", "alert_[ID]");
        settings.add_filter(r"\[DATE\] \d\d:\d\d", "[DATE] [HH:MM]");
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}

llmlab_test_support::server_test_with!(
    start_allowing_private,
    alerts_deliver_a_signed_test_alert_and_log_each_channel,
    |server| async move {
        let receiver = Receiver::start().await;
        let machine = Machine::of(&server);
        machine.init();
        let hook = format!("{}/hooks/private-token-1234", receiver.url);
        let down = format!("{}/down/hook", receiver.url);

        let empty = run(&machine, &["alerts"], 0);
        let added = json_of(&machine, &["alerts", "add", "webhook", &hook, "--name", "ops", "--json"]);
        let second = json_of(&machine, &["alerts", "add", "webhook", &down, "--json"]);
        let email = run(&machine, &["alerts", "add", "email", "oncall@example.com"], 0);
        let listed = run(&machine, &["alerts", "list"], 0);
        let list = json_of(&machine, &["alerts", "list", "--json"]);
        assert_eq!(json_of(&machine, &["alerts", "--json"]), list, "`llmlab alerts` alone lists the channels");

        assert!(empty.contains("No alert channels"), "{empty}");
        let id = added["id"].as_i64().expect("an id");
        let secret = added["secret"].as_str().expect("a secret");
        assert!(secret.starts_with("whsec_") && STANDARD.decode(&secret[6..]).is_ok(), "{added:#}");
        assert_eq!((added["kind"].as_str(), added["name"].as_str()), (Some("webhook"), Some("ops")), "{added:#}");
        assert!(added["created_at"].is_string(), "the channel's fields beside id and secret: {added:#}");
        let hint = added["target_hint"].as_str().expect("a hint");
        assert!(!hint.contains("private-token"), "a hint, not the URL: {hint}");
        let down_id = second["id"].as_i64().unwrap();
        assert_ne!(second["secret"], added["secret"], "a secret per channel");
        assert!(!email.contains("secret"), "only webhooks have a secret: {email}");
        assert!(line_with(&listed, " ops ").contains(hint), "{listed}");
        assert!(!listed.contains("private-token") && !list.to_string().contains("private-token"), "{listed}\n{list}");
        assert_eq!(list["channels"].as_array().map(Vec::len), Some(3), "{list:#}");
        snapshot!(machine, "alerts_list", listed);
        snapshot!(machine, "alerts_add_email", email);

        // A test alert to every channel: the receiver gets it signed.
        let tested = run(&machine, &["alerts", "test"], 0);
        assert!(tested.contains("Test alert queued for 3 channels (webhook 1 `ops`, webhook 2, email 3)"), "{tested}");
        assert!(tested.contains("`llmlab alerts log` shows its delivery"), "{tested}");
        let post = receiver.wait_for("/hooks/private-token-1234", 1).await.remove(0);
        let (webhook_id, timestamp) = (post.header("webhook-id"), post.header("webhook-timestamp"));
        let signature = post.header("webhook-signature");
        assert!(!webhook_id.is_empty() && !signature.is_empty(), "Standard Webhooks headers: {:?}", post.headers);
        assert!(signed(secret, webhook_id, timestamp, &post.body, signature), "the signature verifies: {signature}");
        let other = second["secret"].as_str().unwrap();
        assert!(!signed(other, webhook_id, timestamp, &post.body, signature), "and only with its channel's secret");
        let sent_at: i64 = timestamp.parse().expect("webhook-timestamp is Unix seconds");
        assert!((sent_at - jiff::Timestamp::now().as_second()).abs() < 600, "a current timestamp: {timestamp}");
        let body: Value = serde_json::from_slice(&post.body).expect("a JSON body");
        assert_eq!(body["data"]["id"], webhook_id, "{body:#}");

        // The log: delivered to the receiver; the one answering 500 and the email (no SMTP) pending, with why.
        let log = log_when(&machine, "delivered to the receiver and tried on the broken one", |log| {
            let alert = &log["alerts"][0];
            delivery(alert, id)["state"] == "delivered" && delivery(alert, down_id)["last_status_code"] == 500
        })
        .await;
        let alert = &log["alerts"][0];
        assert_eq!(alert["id"], webhook_id, "the log's alert is the one delivered: {log:#}");
        assert_eq!((alert["kind"].as_str(), alert["title"].as_str()), (Some("test"), Some("Test alert from LLMLab")));
        let shown = run(&machine, &["alerts", "log"], 0);
        let delivered = line_with(&shown, "webhook 1 ops");
        for part in ["delivered", hint, "1 attempt ", "HTTP 200"] {
            assert!(delivered.contains(part), "{part:?} in {delivered:?}");
        }
        let failing = line_with(&shown, "webhook 2");
        for part in ["pending", "HTTP 500", "next try", "error: "] {
            assert!(failing.contains(part), "{part:?} in {failing:?}");
        }
        assert!(line_with(&shown, "email 3").contains("error: "), "{shown}");
        assert!(line_with(&shown, "Test alert from LLMLab").contains(webhook_id), "{shown}");
        let verbose = run(&machine, &["alerts", "log", "--verbose", "--limit", "1"], 0);
        assert!(verbose.contains(alert["text"].as_str().unwrap().split_whitespace().next().unwrap()), "{verbose}");

        // Removed: its pending delivery gives up; a second removal is a clear failure.
        let removed = run(&machine, &["alerts", "remove", &down_id.to_string()], 0);
        let again = run(&machine, &["alerts", "remove", &down_id.to_string(), "--json"], 1);
        assert!(removed.contains("Removed webhook 2"), "{removed}");
        assert!(again.contains("error: the account has no alert channel with id `2`"), "{again}");
        assert!(again.contains("hint: `llmlab alerts list` shows the channels and their ids"), "{again}");
        let log = log_when(&machine, "the removed channel's delivery failed", |log| {
            log["alerts"][0]["deliveries"].as_array().is_some_and(|all| {
                all.iter().any(|d| d["target_hint"] == second["target_hint"] && d["state"] == "failed")
            })
        })
        .await;
        assert_eq!(delivery(&log["alerts"][0], id)["state"], "delivered", "{log:#}");
        let remaining = json_of(&machine, &["alerts", "list", "--json"]);
        assert_eq!(remaining["channels"].as_array().map(Vec::len), Some(2), "{remaining:#}");

        // One channel only, as JSON; the receiver got the first alert once.
        let one = json_of(&machine, &["alerts", "test", "--channel", &id.to_string(), "--json"]);
        assert_eq!(one["deliveries"], 1, "{one:#}");
        let posts = receiver.wait_for("/hooks/private-token-1234", 2).await;
        assert_eq!(posts[1].header("webhook-id"), one["alert_id"].as_str().unwrap());
        assert_eq!(posts.iter().filter(|p| p.header("webhook-id") == webhook_id).count(), 1, "delivered once");
        let gone = json_of(&machine, &["alerts", "remove", &id.to_string(), "--json"]);
        assert_eq!((gone["removed"]["id"].as_i64(), gone["removed"]["name"].as_str()), (Some(id), Some("ops")));
    }
);

/// What a user can get wrong, each refused in one line with what to do
/// (private targets refused: this server runs without `--alerts-allow-private`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_refusals_are_one_line_with_what_to_do() {
    let server = TestServer::start(Path::new(BIN), TestBackend::Sqlite).await;
    let machine = Machine::of(&server);
    machine.init();
    let mut seen = String::new();
    for (args, code) in [
        (&["alerts", "test"][..], 1),
        (&["alerts", "log"], 0),
        (&["alerts", "add", "webhook", "not a url"], 1),
        (&["alerts", "add", "webhook", "ftp://example.com/hook"], 1),
        (&["alerts", "add", "webhook", "http://169.254.169.254/latest/meta-data"], 1),
        (&["alerts", "add", "webhook", "http://127.0.0.1:9/hook"], 1),
        (&["alerts", "add", "email", "nobody"], 1),
        (&["alerts", "add", "teams", "https://example.com/hook"], 1),
        (&["alerts", "remove", "abc"], 1),
        (&["alerts", "remove", "5"], 1),
        (&["alerts", "test", "--channel", "5"], 1),
        (&["alerts", "log", "--limit", "0"], 1),
        (&["alerts", "log", "--limit", "501"], 1),
    ] {
        let _ = writeln!(seen, "$ llmlab {}\n{}", args.join(" "), run(&machine, args, code));
    }
    let list = json_of(&machine, &["alerts", "list", "--json"]);
    assert_eq!(list["channels"], serde_json::json!([]), "nothing was added: {list}");
    assert!(seen.contains("--alerts-allow-private"), "{seen}");
    snapshot!(machine, "alerts_refused", seen);
}

#[test]
fn every_alerts_command_has_help_with_examples() {
    let machine = Machine::new("http://127.0.0.1:8787");
    for command in ["alerts", "alerts add", "alerts list", "alerts test", "alerts log", "alerts remove"] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let output = machine.run(&args);
        assert_eq!(output.status.code(), Some(0), "{command}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Examples:"), "{command} --help has examples");
    }
    snapshot!(machine, "alerts_help", transcript(&machine.run(&["alerts", "--help"])));
}
