//! What `cargo dev test` runs, decided before it runs anything: PostgreSQL
//! and PgBouncer are probed (a real connection and `select 1`), and the tests
//! that need one that cannot be used are left out by name (nextest counts
//! them as skipped), with the reason and the one command that runs them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use llmlab_pg_probe::{Service, Unusable};

/// How long the probe waits for each step (resolve, connect, `select 1`).
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The environment variable that tells the Python suites to skip their
/// PostgreSQL tests, holding the reason.
pub(crate) const PYTHON_SKIP_POSTGRES: &str = "LLMLAB_TEST_SKIP_POSTGRES";

/// Tests left out for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Skip {
    /// The probe's one line.
    pub(crate) reason: String,
    /// The one command that runs them.
    pub(crate) enable: String,
    /// The test-name suffixes (Rust) that need the server.
    pub(crate) suffixes: Vec<&'static str>,
    /// Whether the Python suites' PostgreSQL tests are skipped too.
    pub(crate) python: bool,
}

/// The decision: which servers the tests use, which tests are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) postgres: Option<String>,
    pub(crate) pgbouncer: Option<String>,
    pub(crate) skips: Vec<Skip>,
}

fn enable_command(service: Service) -> String {
    let example = match service {
        Service::Postgres => "postgres://USER:PASSWORD@HOST:PORT/DB",
        Service::PgBouncer => "'postgres://USER:PASSWORD@HOST:PORT/DB?pgbouncer=true'",
    };
    format!("{}={example} cargo dev test", service.env_var())
}

impl Plan {
    /// Probes PostgreSQL, then (when it is usable) PgBouncer, with `probe`.
    /// Under CI an unusable server is an error: nothing may be skipped there.
    pub(crate) fn decide(
        ci: bool,
        mut probe: impl FnMut(Service, &str) -> Result<(), Unusable>,
    ) -> anyhow::Result<Plan> {
        let mut plan = Plan::default();
        let postgres = Service::Postgres.url();
        if let Err(unusable) = probe(Service::Postgres, &postgres) {
            if ci {
                anyhow::bail!("{unusable} (CI=true: the PostgreSQL tests must run)");
            }
            plan.skips.push(Skip {
                reason: unusable.to_string(),
                enable: enable_command(Service::Postgres),
                // PgBouncer's tests create their database on PostgreSQL.
                suffixes: vec!["on_postgres", "on_pgbouncer"],
                python: true,
            });
            return Ok(plan);
        }
        plan.postgres = Some(postgres);
        let pgbouncer = Service::PgBouncer.url();
        match probe(Service::PgBouncer, &pgbouncer) {
            Ok(()) => plan.pgbouncer = Some(pgbouncer),
            Err(unusable) if ci => anyhow::bail!("{unusable} (CI=true: the PgBouncer tests must run)"),
            Err(unusable) => plan.skips.push(Skip {
                reason: unusable.to_string(),
                enable: enable_command(Service::PgBouncer),
                suffixes: vec!["on_pgbouncer"],
                python: false,
            }),
        }
        Ok(plan)
    }

    fn suffixes(&self) -> Vec<&'static str> {
        self.skips.iter().flat_map(|skip| skip.suffixes.iter().copied()).collect()
    }

    /// nextest's filter expression selecting the tests left out, if any.
    pub(crate) fn skipped_expression(&self) -> Option<String> {
        let suffixes = self.suffixes();
        if suffixes.is_empty() {
            return None;
        }
        let tests: Vec<String> = suffixes.iter().map(|suffix| format!("test(/{suffix}$/)")).collect();
        Some(tests.join(" | "))
    }

    /// nextest's filter expression for the tests that run.
    pub(crate) fn nextest_filter(&self) -> Option<String> {
        self.skipped_expression().map(|skipped| format!("not ({skipped})"))
    }

    /// `cargo test`'s `--skip` arguments (name substrings), when nextest is missing.
    pub(crate) fn cargo_test_skips(&self) -> Vec<String> {
        self.suffixes().into_iter().flat_map(|suffix| ["--skip".to_owned(), suffix.to_owned()]).collect()
    }

    /// The Python suites' skip: the reason their PostgreSQL tests skip with.
    pub(crate) fn python_skip(&self) -> Option<&Skip> {
        self.skips.iter().find(|skip| skip.python)
    }

    /// Which skip a Rust test named `name` falls under.
    pub(crate) fn skip_of(&self, name: &str) -> Option<&Skip> {
        self.skips.iter().find(|skip| skip.suffixes.iter().any(|suffix| name.ends_with(suffix)))
    }
}

/// Tests that did not run for one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) rust: usize,
    pub(crate) python: usize,
    pub(crate) enable: Option<String>,
}

/// Every reason and its count: `rust_skipped` holds the names of the Rust
/// tests left out, `python_skipped` each Python skip reason with its count.
pub(crate) fn tally(
    plan: &Plan,
    rust_skipped: &[String],
    python_skipped: &BTreeMap<String, usize>,
) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for name in rust_skipped {
        let Some(skip) = plan.skip_of(name) else { continue };
        let tally = tallies.entry(skip.reason.clone()).or_default();
        tally.rust += 1;
        tally.enable = Some(skip.enable.clone());
    }
    for (reason, count) in python_skipped {
        let enable = plan.skips.iter().find(|skip| &skip.reason == reason).map(|skip| skip.enable.clone());
        let tally = tallies.entry(reason.clone()).or_default();
        tally.python += count;
        tally.enable = tally.enable.take().or(enable);
    }
    tallies
}

/// The skip report printed after the run's last line.
pub(crate) fn report(tallies: &BTreeMap<String, Tally>) -> String {
    let total: usize = tallies.values().map(|tally| tally.rust + tally.python).sum();
    if total == 0 {
        return "0 skipped: every test ran".to_owned();
    }
    let reasons = if tallies.len() == 1 { "1 reason".to_owned() } else { format!("{} reasons", tallies.len()) };
    let mut out = format!("{total} skipped, for {reasons}:");
    for (reason, tally) in tallies {
        let count = tally.rust + tally.python;
        let kinds = match (tally.rust, tally.python) {
            (0, python) => format!("{python} Python"),
            (rust, 0) => format!("{rust} Rust"),
            (rust, python) => format!("{rust} Rust, {python} Python"),
        };
        let _ = write!(out, "\n  {count} ({kinds}): {reason}");
        match &tally.enable {
            Some(command) => {
                let _ = write!(out, "\n    to run them: {command}");
            }
            None => out.push_str("\n    to run them: do what the reason says, then `cargo dev test`"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use llmlab_pg_probe::probe_blocking;

    use super::*;

    /// A port nothing listens on.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
    }

    fn unusable_at(port: u16, service: Service) -> Unusable {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        probe_blocking(service, &url, PROBE_TIMEOUT).expect_err("nothing listens")
    }

    #[test]
    fn an_unusable_postgres_leaves_out_the_postgres_and_pgbouncer_tests() {
        let port = closed_port();
        let plan = Plan::decide(false, |service, _| Err(unusable_at(port, service))).expect("a plan");
        assert_eq!(plan.postgres, None);
        assert_eq!(plan.nextest_filter().as_deref(), Some("not (test(/on_postgres$/) | test(/on_pgbouncer$/))"));
        assert_eq!(plan.cargo_test_skips(), ["--skip", "on_postgres", "--skip", "on_pgbouncer"]);
        let skip = plan.python_skip().expect("the Python PostgreSQL tests skip too");
        assert!(skip.reason.starts_with(&format!("PostgreSQL at 127.0.0.1:{port} refused the connection")));
        assert_eq!(skip.enable, "LLMLAB_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/DB cargo dev test");
    }

    #[test]
    fn an_unusable_pgbouncer_leaves_out_only_its_tests() {
        let port = closed_port();
        let plan = Plan::decide(false, |service, _| match service {
            Service::Postgres => Ok(()),
            Service::PgBouncer => Err(unusable_at(port, service)),
        })
        .expect("a plan");
        assert!(plan.postgres.is_some());
        assert_eq!(plan.pgbouncer, None);
        assert_eq!(plan.nextest_filter().as_deref(), Some("not (test(/on_pgbouncer$/))"));
        assert_eq!(plan.python_skip(), None);
    }

    #[test]
    fn usable_servers_leave_out_nothing() {
        let plan = Plan::decide(false, |_, _| Ok(())).expect("a plan");
        assert_eq!(plan.nextest_filter(), None);
        assert!(plan.cargo_test_skips().is_empty());
    }

    #[test]
    fn under_ci_an_unusable_server_fails_at_the_probe_in_one_line() {
        let port = closed_port();
        let error = Plan::decide(true, |service, _| Err(unusable_at(port, service))).expect_err("CI fails");
        let line = error.to_string();
        assert!(line.starts_with(&format!("PostgreSQL at 127.0.0.1:{port} refused the connection")), "{line}");
        assert!(line.ends_with("(CI=true: the PostgreSQL tests must run)"), "{line}");
        assert!(!line.contains('\n'), "{line}");
        let bouncer = Plan::decide(true, |service, _| match service {
            Service::Postgres => Ok(()),
            Service::PgBouncer => Err(unusable_at(port, service)),
        });
        assert!(bouncer.expect_err("CI fails").to_string().starts_with("PgBouncer at 127.0.0.1:"));
    }

    #[test]
    fn the_report_counts_each_reason_and_says_how_to_run_them() {
        let port = closed_port();
        let plan = Plan::decide(false, |service, _| Err(unusable_at(port, service))).expect("a plan");
        let reason = plan.skips[0].reason.clone();
        let rust: Vec<String> =
            ["store::budgets::on_postgres", "store::budgets::on_pgbouncer", "api::signup::on_postgres"]
                .map(str::to_owned)
                .to_vec();
        let chromium = "/usr/bin/chromium does not exist (install Debian's chromium: `apt-get install -y chromium`)";
        let python = BTreeMap::from([(reason.clone(), 2), (chromium.to_owned(), 4)]);
        let report = report(&tally(&plan, &rust, &python));
        assert_eq!(
            report,
            format!(
                "9 skipped, for 2 reasons:\n  \
                 4 (4 Python): {chromium}\n    \
                 to run them: do what the reason says, then `cargo dev test`\n  \
                 5 (3 Rust, 2 Python): {reason}\n    \
                 to run them: LLMLAB_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/DB cargo dev test"
            )
        );
    }

    #[test]
    fn zero_skipped_is_said_only_when_nothing_was_skipped() {
        let plan = Plan::decide(false, |_, _| Ok(())).expect("a plan");
        assert_eq!(report(&tally(&plan, &[], &BTreeMap::new())), "0 skipped: every test ran");
        let one = BTreeMap::from([("os.fork is POSIX-only".to_owned(), 1)]);
        assert!(report(&tally(&plan, &[], &one)).starts_with("1 skipped, for 1 reason:"));
    }
}
