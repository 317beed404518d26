//! `cargo dev`: the developer tasks of this repository, so that the README,
//! `.ci/run` and a contributor all run exactly the same commands.
#![allow(clippy::print_stderr)] // a task runner reports progress on stderr

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

mod import_cycles;

/// The PostgreSQL the tests use when `LLMLAB_TEST_PG_URL` is not set.
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Parser)]
#[command(name = "cargo dev", about = "LLMLab developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the whole test suite: Rust (SQLite and PostgreSQL) and Python
    Test,
    /// Check formatting and lints: rustfmt, clippy -D warnings, no import circles, ruff and mypy --strict
    Lint,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Test => test(),
        Task::Lint => lint(),
    }
}

fn lint() -> anyhow::Result<()> {
    let root = repo_root();
    run(Command::new("cargo").current_dir(&root).args(["fmt", "--all", "--check"]))?;
    run(Command::new("cargo").current_dir(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_import_circles(&root)?;
    let python = python_env(&root, &target_dir(&root))?;
    let bin = python.parent().expect("the venv's bin folder").to_owned();
    let sdk = root.join("sdk/python");
    run(Command::new(bin.join("ruff")).current_dir(&sdk).arg("check"))?;
    run(Command::new(bin.join("ruff")).current_dir(&sdk).args(["format", "--check"]))?;
    run(Command::new(bin.join("mypy")).current_dir(&sdk).arg("--strict"))?;
    let e2e = root.join("tests/e2e");
    // tests/e2e/ruff.toml extends the SDK's rules with test-code exemptions.
    run(Command::new(bin.join("ruff")).current_dir(&e2e).arg("check"))?;
    run(Command::new(bin.join("ruff")).current_dir(&e2e).args(["format", "--check"]))?;
    eprintln!("\nlint clean");
    Ok(())
}

/// Fails when a crate's modules import each other in a circle.
fn check_import_circles(root: &Path) -> anyhow::Result<()> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let src = entry?.path().join("src");
        if src.is_dir() {
            for circle in import_cycles::circles(&src)? {
                found.push(format!("{}: {}", src.display(), circle.join(" ⇄ ")));
            }
        }
    }
    if !found.is_empty() {
        bail!("import circles (a module uses one that uses it back):\n  {}", found.join("\n  "));
    }
    eprintln!("no import circles");
    Ok(())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root exists")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("+ {command:?}");
    let status = command.status().with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// The PostgreSQL URL for the tests, or `None` (with a loud warning) when
/// none is reachable. Under CI a missing PostgreSQL is an error.
fn postgres_url() -> anyhow::Result<Option<String>> {
    if let Ok(url) = std::env::var("LLMLAB_TEST_PG_URL") {
        return Ok(Some(url));
    }
    let address: SocketAddr = "127.0.0.1:5432".parse()?;
    if TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok() {
        return Ok(Some(DEFAULT_PG_URL.to_owned()));
    }
    if in_ci() {
        bail!("PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true: the PostgreSQL tests cannot be skipped");
    }
    eprintln!("\n!!! PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL tests are SKIPPED !!!\n");
    Ok(None)
}

fn has_nextest() -> bool {
    Command::new("cargo").args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}

fn test() -> anyhow::Result<()> {
    let root = repo_root();
    let pg = postgres_url()?;
    let mut cargo = Command::new("cargo");
    cargo.current_dir(&root);
    if has_nextest() {
        cargo.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cargo.args(["test", "--workspace", "--no-fail-fast"]);
    }
    if let Some(url) = &pg {
        cargo.env("LLMLAB_TEST_PG_URL", url);
    }
    run(&mut cargo)?;
    python_tests(&root, pg.as_deref())?;
    eprintln!("\nall tests passed");
    Ok(())
}

/// Where cargo puts build output (`CARGO_TARGET_DIR`, else `target/`).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// A virtualenv with the SDK and every Python test dependency, reinstalled
/// only when `sdk/python/pyproject.toml` or `tests/e2e/requirements.txt` change.
fn python_env(root: &Path, target: &Path) -> anyhow::Result<PathBuf> {
    let venv = target.join("python-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let requirements = root.join("tests/e2e/requirements.txt");
    // The SDK is installed editable from this checkout: another checkout
    // (a CI clone) sharing the target folder installs its own.
    let mut inputs = format!("{}\n", root.display());
    inputs.push_str(&std::fs::read_to_string(root.join("sdk/python/pyproject.toml"))?);
    inputs.push_str(&std::fs::read_to_string(&requirements).unwrap_or_default());
    let stamp = venv.join(".llmlab-inputs");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(inputs.as_str()) {
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e"])
            .arg(format!("{}[dev]", root.join("sdk/python").display()));
        if requirements.exists() {
            pip.arg("-r").arg(&requirements);
        }
        run(&mut pip)?;
        std::fs::write(&stamp, inputs)?;
    }
    Ok(python)
}

/// The SDK's tests, then the cross-cutting end-to-end tests (proxy,
/// dashboard, CLI), against the freshly built `llmlab` binary.
fn python_tests(root: &Path, pg: Option<&str>) -> anyhow::Result<()> {
    let target = target_dir(root);
    run(Command::new("cargo").current_dir(root).args(["build", "--quiet", "-p", "llmlab-cli"]))?;
    let python = python_env(root, &target)?;
    let output = target.join("test-output");
    std::fs::create_dir_all(&output)?;
    let suites = [root.join("sdk/python"), root.join("tests/e2e")];
    for suite in suites.iter().filter(|s| s.join("conftest.py").exists() || s.join("pyproject.toml").exists()) {
        let mut pytest = Command::new(&python);
        pytest
            .current_dir(suite)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .env("LLMLAB_BIN", target.join("debug").join("llmlab"))
            .env("LLMLAB_TEST_OUTPUT", &output);
        if std::env::var_os("LLMLAB_CLI_WHEEL_PROFILE").is_none() {
            pytest.env("LLMLAB_CLI_WHEEL_PROFILE", "wheel-test");
        }
        if let Some(url) = pg {
            pytest.env("LLMLAB_TEST_PG_URL", url);
        }
        run(&mut pytest)?;
    }
    Ok(())
}
