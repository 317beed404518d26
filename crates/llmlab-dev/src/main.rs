//! `cargo dev`: the developer tasks of this repository, so that the README,
//! `.ci/run` and a contributor all run exactly the same commands.
#![allow(clippy::print_stderr)] // a task runner reports progress on stderr

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::plan::{PROBE_TIMEOUT, Plan};

mod coverage;
mod import_cycles;
mod plan;

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
    /// Measure line coverage per Rust crate (cargo-tarpaulin) and per Python package (pytest-cov);
    /// fails below the floors in crates/llmlab-dev/src/coverage.rs
    Coverage,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Test => test(),
        Task::Lint => lint(),
        Task::Coverage => coverage(),
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
    // `cargo dev test`'s pytest plugin, under the SDK's rules.
    let plugins = root.join("crates/llmlab-dev/python");
    let rules = sdk.join("pyproject.toml");
    run(Command::new(bin.join("ruff")).current_dir(&plugins).arg("check").arg("--config").arg(&rules).arg("."))?;
    run(Command::new(bin.join("ruff"))
        .current_dir(&plugins)
        .args(["format", "--check", "--config"])
        .arg(&rules)
        .arg("."))?;
    eprintln!("\nlint clean");
    Ok(())
}

fn coverage() -> anyhow::Result<()> {
    let started = Instant::now();
    let root = repo_root();
    let target = target_dir(&root);
    // Its own folder: instrumented builds would otherwise replace the normal ones.
    let folder = target.join("coverage");
    let reports = folder.join("reports");
    std::fs::create_dir_all(&reports)?;
    let mut measured = BTreeMap::new();

    if !Command::new("cargo").args(["tarpaulin", "--version"]).output().is_ok_and(|o| o.status.success()) {
        bail!(
            "cargo-tarpaulin is not installed: `cargo install cargo-tarpaulin --locked` (crates.io; no rustup component needed)"
        );
    }
    let plan = Plan::decide(in_ci(), |service, url| llmlab_pg_probe::probe_blocking(service, url, PROBE_TIMEOUT))?;
    announce(&plan);
    let rust_started = Instant::now();
    let mut tarpaulin = Command::new("cargo");
    tarpaulin.current_dir(&root).args(["tarpaulin", "--locked", "--skip-clean", "--out", "Json", "--output-dir"]);
    tarpaulin.arg(&reports).arg("--target-dir").arg(folder.join("target"));
    for name in coverage::RUST_CRATES {
        tarpaulin.args(["-p", name]);
    }
    tarpaulin.arg("--").args(plan.cargo_test_skips());
    servers_env(&mut tarpaulin, &plan);
    run(&mut tarpaulin)?;
    measured.extend(coverage::rust_by_crate(
        &coverage::read(&reports.join("tarpaulin-report.json"))?,
        coverage::RUST_CRATES,
    )?);
    eprintln!("Rust coverage measured in {}", elapsed(rust_started));

    let python_started = Instant::now();
    // The SDK's integration tests run the `llmlab` binary.
    build_llmlab(&root)?;
    let python = python_env(&root, &target)?;
    let json = reports.join("python-coverage.json");
    run(Command::new(&python)
        .current_dir(root.join("sdk/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=llmlab", "--cov-report=term"])
        .arg(format!("--cov-report=json:{}", json.display()))
        .env("LLMLAB_BIN", target.join("debug").join("llmlab"))
        // coverage.py's data file, out of the checkout.
        .env("COVERAGE_FILE", reports.join(".coverage")))?;
    measured.extend(coverage::python_by_package(&coverage::read(&json)?)?);
    eprintln!("Python coverage measured in {}", elapsed(python_started));

    coverage::check(&measured)?;
    eprintln!("coverage done in {}", elapsed(started));
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

/// The checkout `cargo dev` was run in. `cargo run` sets `CARGO_MANIFEST_DIR`
/// for the process; it is preferred over the compile-time value because two
/// checkouts sharing one `CARGO_TARGET_DIR` can run a binary built in the other
/// (cargo compares file times, not contents), which would test the wrong tree.
fn repo_root() -> PathBuf {
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.join("../..").canonicalize().expect("the repository root exists")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    // The command's Debug shows the variables set for it: a database URL may hold a password.
    let shown = without_passwords(&format!("{command:?}"));
    eprintln!("+ {shown}");
    let status = command.status().with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// `text` with the password of every `scheme://user:password@host` replaced by `***`.
fn without_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after.find(|c: char| c == '/' || c == '"' || c.is_whitespace()).unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rsplit_once('@').and_then(|(userinfo, host)| Some((userinfo.split_once(':')?.0, host))) {
            Some((user, host)) => {
                out.push_str(user);
                out.push_str(":***@");
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn has_nextest() -> bool {
    Command::new("cargo").args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// `3m 07s`, `12s`.
fn elapsed(since: Instant) -> String {
    let seconds = since.elapsed().as_secs();
    if seconds < 60 { format!("{seconds}s") } else { format!("{}m {:02}s", seconds / 60, seconds % 60) }
}

fn test() -> anyhow::Result<()> {
    let started = Instant::now();
    let root = repo_root();
    let plan = Plan::decide(in_ci(), |service, url| llmlab_pg_probe::probe_blocking(service, url, PROBE_TIMEOUT))?;
    announce(&plan);
    let nextest = has_nextest();
    let mut python_skipped = BTreeMap::new();
    let outcome = rust_tests(&root, &plan, nextest).and_then(|()| python_tests(&root, &plan, &mut python_skipped));
    // Said again after the run's last line, where nobody can miss it.
    let rust_skipped = if plan.skips.is_empty() { Ok(Vec::new()) } else { rust_tests_left_out(&root, &plan, nextest) };
    let report = match rust_skipped {
        Ok(names) => plan::report(&plan::tally(&plan, &names, &python_skipped)),
        Err(error) => format!("(cannot count the Rust tests left out: {error:#})"),
    };
    match outcome {
        Ok(()) => {
            let verdict = if plan.skips.is_empty() { "all tests passed" } else { "every test that ran passed" };
            eprintln!("\n{verdict} in {}\n{report}", elapsed(started));
        }
        Err(error) => {
            eprintln!("\n{report}");
            return Err(error);
        }
    }
    Ok(())
}

/// Says, before anything runs, which servers the tests use and what is left out.
fn announce(plan: &Plan) {
    let state = |url: &Option<String>, service: llmlab_pg_probe::Service| match url {
        Some(_) => format!("{}: usable ({} or its default), its tests run", service.name(), service.env_var()),
        None => format!("{}: not used, its tests are SKIPPED", service.name()),
    };
    eprintln!("{}", state(&plan.postgres, llmlab_pg_probe::Service::Postgres));
    if plan.postgres.is_some() {
        eprintln!("{}", state(&plan.pgbouncer, llmlab_pg_probe::Service::PgBouncer));
    }
    for skip in &plan.skips {
        eprintln!("!!! {}\n    to run them: {}", skip.reason, skip.enable);
    }
}

fn rust_tests(root: &Path, plan: &Plan, nextest: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut cargo = Command::new("cargo");
    cargo.current_dir(root);
    if nextest {
        cargo.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
        if let Some(filter) = plan.nextest_filter() {
            cargo.arg("-E").arg(filter);
        }
    } else {
        cargo.args(["test", "--workspace", "--no-fail-fast", "--"]).args(plan.cargo_test_skips());
    }
    servers_env(&mut cargo, plan);
    run(&mut cargo)?;
    eprintln!("Rust tests done in {}", elapsed(started));
    Ok(())
}

/// The servers' URLs for the tests, and the Python suites' skip reason.
fn servers_env(command: &mut Command, plan: &Plan) {
    if let Some(url) = &plan.postgres {
        command.env(llmlab_pg_probe::Service::Postgres.env_var(), url);
    }
    if let Some(url) = &plan.pgbouncer {
        command.env(llmlab_pg_probe::Service::PgBouncer.env_var(), url);
    }
    if let Some(skip) = plan.python_skip() {
        command.env(plan::PYTHON_SKIP_POSTGRES, &skip.reason);
    }
}

/// The names of the Rust tests the plan leaves out.
fn rust_tests_left_out(root: &Path, plan: &Plan, nextest: bool) -> anyhow::Result<Vec<String>> {
    let Some(expression) = plan.skipped_expression() else { return Ok(Vec::new()) };
    let mut cargo = Command::new("cargo");
    cargo.current_dir(root);
    if nextest {
        cargo.args(["nextest", "list", "--workspace", "--message-format", "json", "-E", &expression]);
    } else {
        cargo.args(["test", "--workspace", "--quiet", "--", "--list"]);
    }
    let output = cargo.stderr(Stdio::inherit()).output().with_context(|| format!("cannot start {cargo:?}"))?;
    if !output.status.success() {
        bail!("{cargo:?} failed with {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let names = if nextest { nextest_matches(&stdout)? } else { cargo_test_names(&stdout) };
    Ok(names.into_iter().filter(|name| plan.skip_of(name).is_some()).collect())
}

/// The tests `cargo nextest list --message-format json` says match its filter.
fn nextest_matches(json: &str) -> anyhow::Result<Vec<String>> {
    let list: serde_json::Value = serde_json::from_str(json).context("nextest's test list is not JSON")?;
    let suites = list["rust-suites"].as_object().context("nextest's list has no `rust-suites`")?;
    let mut names = Vec::new();
    for suite in suites.values() {
        let Some(cases) = suite["testcases"].as_object() else { continue };
        for (name, case) in cases {
            if case["filter-match"]["status"] == "matches" {
                names.push(name.clone());
            }
        }
    }
    Ok(names)
}

/// The test names `cargo test -- --list` prints (`path::name: test`).
fn cargo_test_names(list: &str) -> Vec<String> {
    list.lines().filter_map(|line| line.strip_suffix(": test")).map(str::to_owned).collect()
}

/// `target/debug/llmlab`, as the Rust tests built it. Not `cargo build -p
/// llmlab-cli`: without the workspace's dev-dependencies some shared crates
/// (getrandom, rustix, zerocopy, regex-automata) get other features, and that
/// build would compile llmlab-server, reqwest and what they use once more
/// (70 s here). After the Rust tests this is a no-op of a second.
fn build_llmlab(root: &Path) -> anyhow::Result<()> {
    run(Command::new("cargo").current_dir(root).args(["build", "--quiet", "--workspace", "--tests"]))
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
        let started = Instant::now();
        eprintln!("creating the test virtualenv in {}…", venv.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        eprintln!("virtualenv created in {}", elapsed(started));
    }
    let requirements = root.join("tests/e2e/requirements.txt");
    // The SDK is installed editable from this checkout: another checkout
    // (a CI clone) sharing the target folder installs its own.
    let mut inputs = format!("{}\n", root.display());
    inputs.push_str(&std::fs::read_to_string(root.join("sdk/python/pyproject.toml"))?);
    inputs.push_str(&std::fs::read_to_string(&requirements).unwrap_or_default());
    let stamp = venv.join(".llmlab-inputs");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(inputs.as_str()) {
        let started = Instant::now();
        eprintln!(
            "installing the SDK and the Python test packages (pip prints each one; a minute or two the first time)…"
        );
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check", "-e"])
            .arg(format!("{}[dev]", root.join("sdk/python").display()));
        if requirements.exists() {
            pip.arg("-r").arg(&requirements);
        }
        run(&mut pip)?;
        std::fs::write(&stamp, inputs)?;
        eprintln!("Python packages installed in {}", elapsed(started));
    }
    Ok(python)
}

/// The SDK's tests, then the cross-cutting end-to-end tests (proxy,
/// dashboard, CLI), against the freshly built `llmlab` binary. Each suite's
/// skip reasons and counts are added to `skipped`.
fn python_tests(root: &Path, plan: &Plan, skipped: &mut BTreeMap<String, usize>) -> anyhow::Result<()> {
    let target = target_dir(root);
    build_llmlab(root)?;
    let python = python_env(root, &target)?;
    let output = target.join("test-output");
    std::fs::create_dir_all(&output)?;
    let plugins = root.join("crates/llmlab-dev/python");
    let python_path = std::env::var_os("PYTHONPATH").map_or_else(
        || plugins.clone().into_os_string(),
        |existing| {
            let mut joined = plugins.clone().into_os_string();
            joined.push(":");
            joined.push(existing);
            joined
        },
    );
    let suites = [root.join("sdk/python"), root.join("tests/e2e")];
    for suite in suites.iter().filter(|s| s.join("conftest.py").exists() || s.join("pyproject.toml").exists()) {
        let started = Instant::now();
        let report = output.join(format!(
            "skipped-{}.json",
            suite.file_name().map_or_else(|| "suite".into(), |name| name.to_string_lossy())
        ));
        let _ = std::fs::remove_file(&report);
        let mut pytest = Command::new(&python);
        pytest
            .current_dir(suite)
            // -rs: each skip's reason in pytest's own summary.
            .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "llmlab_skip_report"])
            .env("PYTHONPATH", &python_path)
            .env("LLMLAB_SKIP_REPORT", &report)
            .env("LLMLAB_BIN", target.join("debug").join("llmlab"))
            .env("LLMLAB_TEST_OUTPUT", &output);
        if std::env::var_os("LLMLAB_CLI_WHEEL_PROFILE").is_none() {
            // The profile the Rust tests just built: the wheel reuses their artifacts.
            pytest.env("LLMLAB_CLI_WHEEL_PROFILE", "dev");
        }
        servers_env(&mut pytest, plan);
        let outcome = run(&mut pytest);
        if let Ok(text) = std::fs::read_to_string(&report) {
            let counts: BTreeMap<String, usize> = serde_json::from_str(&text).context("the skip report is not JSON")?;
            for (reason, count) in counts {
                *skipped.entry(reason).or_default() += count;
            }
        }
        outcome?;
        eprintln!("{} done in {}", suite.display(), elapsed(started));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::without_passwords;

    #[test]
    fn passwords_in_printed_commands_are_hidden() {
        assert_eq!(
            without_passwords(r#"LLMLAB_TEST_PG_URL="postgres://alice:s3cret@db:5432/app" "cargo" "nextest""#),
            r#"LLMLAB_TEST_PG_URL="postgres://alice:***@db:5432/app" "cargo" "nextest""#
        );
        let plain = r#"LLMLAB_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres" LLMLAB_BIN="/t/llmlab""#;
        assert_eq!(without_passwords(plain), plain);
        assert_eq!(without_passwords("http://h:8080/x"), "http://h:8080/x");
    }
}
