//! Helpers shared by the integration tests.

use std::process::{Command, Output};

pub(crate) use llmlab_test_support::fixtures_dir;

/// Runs `llmlab` with `args`, colour off, and returns its output.
pub(crate) fn llmlab(args: &[&str]) -> Output {
    llmlab_with_stdin(args, None)
}

/// Runs `llmlab` with `args`, feeding `stdin` (or nothing, closed).
pub(crate) fn llmlab_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_llmlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the llmlab binary starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(bytes) = stdin {
        // A child that exits early closes the pipe; that is its answer, not ours to fail on.
        let _ = pipe.write_all(bytes);
    }
    drop(pipe);
    child.wait_with_output().expect("llmlab runs to completion")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
