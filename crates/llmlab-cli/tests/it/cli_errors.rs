//! The errors a new user meets: a mistyped value, a server that is not
//! LLMLab, a project that does not exist, a database that refuses, each as
//! one sentence that says what to do, with exit status 1.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::{BIN, server_test};
use crate::cli_env::{Machine, seeded, snapshot, transcript};

/// A port nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_value_that_does_not_parse_is_one_sentence_naming_the_flag_with_exit_status_1() {
    let machine = Machine::new("http://127.0.0.1:1");
    let mut all = String::new();
    for args in [
        &["export", "--from", "notadate"][..],
        &["export", "--to", "2026-02-30"],
        &["cost", "--on", "yesterday"],
        &["serve", "--port", "eighty"],
        &["serve", "--port", "99999"],
        &["serve", "--host", "localhost"],
        &["serve", "--upstream-timeout", "soon"],
    ] {
        let output = machine.run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", transcript(&output));
        let text = transcript(&output);
        for internals in ["jiff", "failed to parse", "invalid digit", "invalid IP address syntax", "float literal"] {
            assert!(!text.contains(internals), "{args:?} shows parser internals: {text}");
        }
        let _ = writeln!(all, "$ llmlab {}\n{text}", args.join(" "));
    }
    // No redaction: every value here is fixed, and the dates in the messages are part of them.
    insta::assert_snapshot!("usage_value_errors", all);
}

#[test]
fn other_usage_errors_keep_clap_text_and_exit_1_and_help_exits_0() {
    let machine = Machine::new("http://127.0.0.1:1");

    let unknown_flag = machine.run(&["status", "--jsn"]);
    let bad_choice = machine.run(&["completions", "tcsh"]);
    let help = machine.run(&["export", "--help"]);

    assert_eq!(unknown_flag.status.code(), Some(1), "{}", transcript(&unknown_flag));
    assert!(transcript(&unknown_flag).contains("unexpected argument '--jsn'"), "{}", transcript(&unknown_flag));
    assert_eq!(bad_choice.status.code(), Some(1), "{}", transcript(&bad_choice));
    assert_eq!(help.status.code(), Some(0));
    assert!(crate::cli_env::stdout(&help).contains("RFC 3339"), "--from's help says what it takes");
}

#[test]
fn an_rfc3339_time_is_accepted_by_export_from() {
    let port = closed_port();
    let machine = Machine::new(&format!("http://127.0.0.1:{port}"));

    let output = machine.run_with(
        &["export", "--from", "2026-12-07T00:00:00Z", "--server", &machine.server],
        &[("LLMLAB_API_KEY", "llm_0000000000000000000000000000")],
    );

    // It gets as far as the server (which is not there), so the value was taken.
    let text = transcript(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot reach the LLMLab server"), "{text}");
    assert!(!text.contains("jiff"), "{text}");
}

/// A web server that is not LLMLab: every request gets `status` with an HTML page.
fn foreign_server(status: &'static str, content_type: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0_u8; 8192];
            let _ = stream.read(&mut request);
            let body =
                "<!DOCTYPE html><html><head><title>Not LLMLab</title></head>\n<body><h1>It works!</h1></body></html>\n";
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_server_that_is_not_llmlab_is_named_with_its_status_never_its_page() {
    let machine = Machine::new("http://127.0.0.1:1");
    let mut all = String::new();
    for (status, content_type, args) in [
        ("501 Not Implemented", "text/html", &["status"][..]),
        ("404 Not Found", "text/html", &["budget"]),
        ("200 OK", "text/html", &["status"]),
        ("200 OK", "text/plain", &["init", "--yes"]),
    ] {
        let url = foreign_server(status, content_type);
        let mut command: Vec<&str> = args.to_vec();
        command.extend(["--server", &url]);
        let output = machine.run_with(&command, &[("LLMLAB_API_KEY", "llm_0000000000000000000000000000")]);
        let text = transcript(&output);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.contains("does not look like an LLMLab server"), "{text}");
        assert!(!text.contains("html") && !text.contains("It works"), "the page is not shown: {text}");
        let _ = writeln!(all, "$ llmlab {} (answering {status}, {content_type})\n{text}", args.join(" "));
    }
    snapshot!(machine, "not_llmlab", all.replace(&machine.server, "[URL]"));
}

server_test!(status_of_a_project_that_does_not_exist_lists_the_ones_there_are, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let output = machine.run(&["status", "--project", "nope"]);

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    snapshot!(machine, "status_unknown_project", transcript(&output));
});

/// Runs `llmlab serve` on `database_url`; its output, failing the test if it
/// is still running after `deadline` (it should give up at once).
fn serve_expecting_failure(machine: &Machine, database_url: &str, deadline: Duration) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--database-url", database_url])
        .env("NO_COLOR", "1")
        .env("HOME", machine.home())
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("llmlab serve starts");
    let started = Instant::now();
    while child.try_wait().expect("the child can be polled").is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("`llmlab serve` was still running after {deadline:?}:\n{}", transcript(&output));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The last line that is not a log line: what the user reads.
fn error_lines(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().filter(|l| l.starts_with("error:") || l.starts_with("hint:")).collect::<Vec<_>>().join("\n")
}

#[test]
fn serve_names_a_refused_database_connection_at_once() {
    let machine = Machine::new("http://127.0.0.1:1");
    let port = closed_port();

    let output = serve_expecting_failure(
        &machine,
        &format!("postgres://llmlab:secret@127.0.0.1:{port}/llmlab"),
        Duration::from_secs(8),
    );

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let lines = error_lines(&output).replace(&port.to_string(), "[PORT]");
    insta::assert_snapshot!("serve_database_refused", lines);
    assert!(!transcript(&output).contains("secret"), "the password is never shown");
}

#[test]
fn serve_says_when_what_answers_at_the_database_address_is_not_postgresql() {
    let machine = Machine::new("http://127.0.0.1:1");
    let web = foreign_server("200 OK", "text/html").replace("http://", "");

    let output = serve_expecting_failure(&machine, &format!("postgres://llmlab@{web}/llmlab"), Duration::from_secs(8));

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let lines = error_lines(&output);
    assert!(lines.contains(&format!("something answers at {web}, but not as PostgreSQL does")), "{lines}");
    assert!(lines.contains("hint: check the port"), "{lines}");
}

#[test]
fn serve_names_a_database_that_rejects_the_user_at_once_on_postgres() {
    let admin = llmlab_test_support::postgres_admin_url();
    let machine = Machine::new("http://127.0.0.1:1");
    let mut url = reqwest::Url::parse(&admin).expect("LLMLAB_TEST_PG_URL is a URL");
    url.set_username("llmlab_no_such_role").unwrap();
    url.set_password(Some("wrong")).unwrap();

    let output = serve_expecting_failure(&machine, url.as_str(), Duration::from_secs(8));

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let lines = error_lines(&output);
    assert!(lines.contains("cannot connect to the database postgres://llmlab_no_such_role:***@"), "{lines}");
    // Trust authentication says the role does not exist; password authentication says the password failed.
    assert!(
        lines.contains("role \"llmlab_no_such_role\" does not exist")
            || lines.contains("password authentication failed"),
        "{lines}"
    );
    assert!(lines.contains("hint: check the user name and password in the URL"), "{lines}");
    assert!(!lines.contains("pool timed out"), "{lines}");
}
