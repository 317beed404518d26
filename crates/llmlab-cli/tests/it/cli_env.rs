//! Running the server-facing commands as a user would: the real binary, its
//! own config file in a temporary folder, colour off, no terminal; and the
//! snapshot of what it printed, with volatile values (ports, keys, ids,
//! dates) redacted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use llmlab_test_support::TestServer;
use serde_json::json;

use crate::api::{Api, BIN};

/// One user's machine: a home folder and a config file path (not yet written).
pub(crate) struct Machine {
    home: tempfile::TempDir,
    pub(crate) config: PathBuf,
    pub(crate) server: String,
}

impl Machine {
    pub(crate) fn new(server: &str) -> Machine {
        let home = tempfile::tempdir().expect("a temporary folder");
        let config = home.path().join("llmlab").join("config.toml");
        Machine { home, config, server: server.to_owned() }
    }

    pub(crate) fn of(server: &TestServer) -> Machine {
        Machine::new(&server.base_url)
    }

    pub(crate) fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `llmlab args…` with stdin closed (never a terminal).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Runs `llmlab args…` with extra environment variables.
    pub(crate) fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("NO_COLOR", "1")
            .env("HOME", self.home.path())
            .env("LLMLAB_CONFIG", &self.config)
            .env_remove("LLMLAB_API_KEY")
            .env_remove("LLMLAB_BASE_URL")
            .env_remove("CLICOLOR_FORCE")
            .stdin(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("llmlab runs")
    }

    /// `llmlab init --server … --yes`, asserting it worked; the new key.
    pub(crate) fn init(&self) -> String {
        let output = self.run(&["init", "--server", &self.server, "--yes"]);
        assert!(output.status.success(), "{}", transcript(&output));
        self.key()
    }

    /// The key in the config file.
    pub(crate) fn key(&self) -> String {
        self.file()["api_key"].as_str().expect("an api_key in the config file").to_owned()
    }

    /// The config file, parsed.
    pub(crate) fn file(&self) -> toml::Table {
        std::fs::read_to_string(&self.config).expect("the config file exists").parse().expect("valid TOML")
    }
}

/// The account a few tests share: spend on three priced models today, an
/// unpriced model, and an old call outside this month and the 30-day trend.
pub(crate) async fn seed(api: &Api) {
    let now = jiff::Timestamp::now().to_string();
    let old = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(40 * 24)).to_string();
    let events = json!({ "events": [
        { "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "cache_read_tokens": 5_000, "output_tokens": 20_000, "timestamp": now },
        { "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "cache_read_tokens": 5_000, "output_tokens": 20_000, "timestamp": now, "project": "web" },
        { "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 200_000, "output_tokens": 10_000, "timestamp": now },
        { "provider": "acme", "model": "acme-1", "input_tokens": 5_000, "output_tokens": 500, "timestamp": now },
        { "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 100_000, "timestamp": old },
    ]});
    let reply = api.post("/api/events/batch", events).await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.text);
}

/// A machine initialised on `server`, with the shared spend tracked, and its API client.
pub(crate) async fn seeded(server: &TestServer) -> (Machine, Api) {
    let machine = Machine::of(server);
    let key = machine.init();
    let api = Api::anonymous(server).with_key(&key);
    seed(&api).await;
    (machine, api)
}

/// Exit code, stdout and stderr, for a snapshot.
pub(crate) fn transcript(output: &Output) -> String {
    format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        output.status.code().map_or_else(|| "signal".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Redactions for values that change between runs.
pub(crate) fn filters(machine: &Machine) -> Vec<(String, String)> {
    let mut filters = vec![
        (escape(&machine.config.display().to_string()), "[CONFIG]".to_owned()),
        (escape(&machine.home().display().to_string()), "[HOME]".to_owned()),
        (r"http://127\.0\.0\.1:\d+".to_owned(), "[SERVER]".to_owned()),
        (r"llm_[A-Za-z0-9]{8}…".to_owned(), "llm_[KEY]…".to_owned()),
        (r"llm_[A-Za-z0-9]{20,}".to_owned(), "[FULL KEY]".to_owned()),
        (r"usr_[0-9a-f]{32}".to_owned(), "[USER]".to_owned()),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".to_owned(), "[EVENT ID]".to_owned()),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".to_owned(), "[TIME]".to_owned()),
        (r"\d{4}-\d\d-\d\d".to_owned(), "[DATE]".to_owned()),
        // Month-end projections depend on the day of the month, and so does
        // whether the run rate reaches 100% before the period ends.
        (r"projected \$[\d,.]+( \(hits 100% on \[DATE\]\))?".to_owned(), "projected $[PROJECTED]".to_owned()),
        (r#""projected_usd": "[\d.]+""#.to_owned(), r#""projected_usd": "[PROJECTED]""#.to_owned()),
        (
            r#""projected_crossing_at": ("[^"]*"|null)"#.to_owned(),
            r#""projected_crossing_at": "[CROSSING]""#.to_owned(),
        ),
    ];
    filters.retain(|(pattern, _)| !pattern.is_empty());
    filters
}

/// Escapes regex metacharacters in a literal.
fn escape(literal: &str) -> String {
    let mut out = String::new();
    for c in literal.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `insta::assert_snapshot!` with the machine's redactions.
macro_rules! snapshot {
    ($machine:expr, $name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in crate::cli_env::filters(&$machine) {
            settings.add_filter(&pattern, replacement);
        }
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}
pub(crate) use snapshot;
