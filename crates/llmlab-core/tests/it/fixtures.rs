//! The shared provider fixtures (`fixtures/`, format in its README), checked
//! through the core's public API with the calls `llmlab cost` makes, so a
//! change to a normalization or pricing rule fails `cargo test -p llmlab-core`
//! and not only the CLI's tests.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use llmlab_core::{
    Catalog, CostReport, Hints, NormalizeError, NormalizedUsage, ResponseAccumulator, TokenClass, normalize_body,
    price_usage,
};
use serde_json::Value;

/// The date the expected costs were worked out for (fixtures/README.md,
/// "Prices these fixtures rely on"); no expected file names its own date.
const PRICED_ON: Date = Date::constant(2026, 11, 27);

/// Read sizes a proxy may see: byte by byte, odd, and typical small reads.
const PIECES: [usize; 3] = [1, 7, 64];

const PROVIDER_FOLDERS: [&str; 3] = ["openai", "anthropic", "gemini"];
const INVALID_FOLDER: &str = "invalid";

/// A body and what it must give.
struct Fixture {
    name: String,
    body: Vec<u8>,
    expected: Value,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn files_in(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(folder))
        .unwrap_or_else(|e| panic!("fixtures/{folder}: {e}"))
        .map(|entry| entry.expect("a readable directory entry").path())
        .collect();
    files.sort();
    files
}

/// `<name>` of `<name>.expected.json` or `<name>.body.<ext>`.
fn fixture_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let name = file.strip_suffix(".expected.json").or_else(|| file.split_once(".body.").map(|(name, _)| name))?;
    Some(name.to_owned())
}

fn load(folder: &str) -> Vec<Fixture> {
    let files = files_in(folder);
    let bodies: Vec<&PathBuf> = files.iter().filter(|p| p.to_string_lossy().contains(".body.")).collect();
    files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .map(|expected_path| {
            let name = fixture_name(expected_path).expect("an expected file is named <name>.expected.json");
            let body_path = bodies
                .iter()
                .find(|b| fixture_name(b).as_deref() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("fixtures/{folder}/{name}: no body file"));
            let expected = std::fs::read_to_string(expected_path).expect("a readable expected file");
            Fixture {
                name: format!("{folder}/{name}"),
                body: std::fs::read(body_path).expect("a readable body"),
                expected: serde_json::from_str(&expected).unwrap_or_else(|e| panic!("{folder}/{name}: {e}")),
            }
        })
        .collect()
}

fn valid_fixtures() -> Vec<Fixture> {
    PROVIDER_FOLDERS.iter().flat_map(|folder| load(folder)).collect()
}

/// What `llmlab cost FILE --on PRICED_ON` computes (crates/llmlab-cli/src/commands/cost.rs).
fn cost_report(body: &[u8]) -> Result<CostReport, NormalizeError> {
    let usage = normalize_body(body, &Hints::default())?;
    let model = usage.model.clone();
    let pricing = price_usage(Catalog::builtin(), &usage, model.as_deref(), PRICED_ON, None);
    Ok(CostReport::new(&usage, model.as_deref(), &pricing))
}

/// Collects one fixture's differences from its expectation.
struct Differences<'a> {
    fixture: &'a str,
    found: Vec<String>,
}

impl Differences<'_> {
    fn compare(&mut self, what: &str, expected: &dyn Display, actual: &dyn Display) {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        if expected != actual {
            self.found.push(format!("{}: {what}: expected {expected}, got {actual}", self.fixture));
        }
    }
}

/// The expected value as text: a JSON string unquoted, `null` as `null`.
fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

fn check_priced_fixture(fixture: &Fixture) -> Vec<String> {
    let mut differences = Differences { fixture: &fixture.name, found: Vec::new() };
    let report = match cost_report(&fixture.body) {
        Ok(report) => report,
        Err(error) => return vec![format!("{}: not normalized: {error}", fixture.name)],
    };
    let expected = &fixture.expected;
    differences.compare("provider", &text(&expected["provider"]), &report.provider);
    differences.compare("model", &text(&expected["model"]), &report.model.as_deref().unwrap_or("null"));
    differences.compare("priced", &expected["priced"], &report.priced);
    // Compared as text: the README fixes the form too (plain decimal, no trailing zeros).
    differences.compare(
        "cost_usd",
        &text(&expected["cost_usd"]),
        &report.cost_usd.map_or("null".to_owned(), |c| c.to_string()),
    );
    differences.compare("service_tier", &text(&expected["service_tier"]), &report.service_tier);
    differences.compare("long_context", &expected["long_context"], &report.long_context);
    differences.compare("anomaly", &expected["anomaly"], &!report.anomalies.is_empty());
    // A batch line is billed as the body inside it, whose API the expected file does not name.
    if expected["api"] != "openai.batch_line" {
        differences.compare("api", &text(&expected["api"]), &report.api.map_or("null", |api| api.as_str()));
    }
    compare_buckets(&mut differences, &expected["buckets"], &report);
    // `notes`, where given: each must be part of some note of the report.
    for wanted in expected["notes"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !report.notes.iter().any(|note| note.contains(wanted)) {
            differences.found.push(format!("{}: no note contains `{wanted}`: {:?}", fixture.name, report.notes));
        }
    }
    differences.found
}

/// Every token class the core knows, and no class it does not.
fn compare_buckets(differences: &mut Differences<'_>, expected: &Value, report: &CostReport) {
    for (class, count) in report.buckets.counts() {
        let want = expected.get(class.name()).map_or_else(|| "(missing)".to_owned(), Value::to_string);
        differences.compare(class.name(), &want, &count);
    }
    let known: Vec<&str> = TokenClass::ALL.iter().map(|class| class.name()).collect();
    for unknown in expected.as_object().into_iter().flat_map(|b| b.keys()).filter(|k| !known.contains(&k.as_str())) {
        differences.compare(unknown, &"a token class of the core", &"none");
    }
}

fn check_invalid_fixture(fixture: &Fixture) -> Option<String> {
    let needle = fixture.expected["error"].as_str().expect("an invalid fixture names its error").to_lowercase();
    match normalize_body(&fixture.body, &Hints::default()) {
        Ok(usage) => Some(format!("{}: expected an error with `{needle}`, got {:?}", fixture.name, usage.buckets)),
        Err(error) if error.to_string().to_lowercase().contains(&needle) => None,
        Err(error) => Some(format!("{}: expected an error with `{needle}`, got `{error}`", fixture.name)),
    }
}

fn pushed_in_pieces(body: &[u8], piece: usize) -> Result<NormalizedUsage, NormalizeError> {
    let mut accumulator = ResponseAccumulator::new(Hints::default());
    for chunk in body.chunks(piece) {
        accumulator.push(chunk);
    }
    accumulator.finish()
}

/// Fails listing every difference, and fails when there was nothing to check.
fn assert_no_differences(checked: usize, at_least: usize, differences: &[String]) {
    assert!(checked >= at_least, "only {checked} fixtures found; expected at least {at_least}");
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
}

#[test]
fn every_recorded_response_gives_its_expected_buckets_and_exact_cost() {
    let fixtures = valid_fixtures();
    let differences: Vec<String> = fixtures.iter().flat_map(check_priced_fixture).collect();
    assert_no_differences(fixtures.len(), 55, &differences);
}

#[test]
fn every_invalid_body_fails_with_its_expected_error() {
    let fixtures = load(INVALID_FOLDER);
    let differences: Vec<String> = fixtures.iter().filter_map(check_invalid_fixture).collect();
    assert_no_differences(fixtures.len(), 7, &differences);
}

#[test]
fn every_stream_gives_the_same_result_however_its_bytes_are_split() {
    let fixtures: Vec<Fixture> = valid_fixtures().into_iter().chain(load(INVALID_FOLDER)).collect();
    let streams: Vec<&Fixture> = fixtures.iter().filter(|f| f.expected["stream"] == true).collect();
    let mut differences = Vec::new();
    for fixture in &streams {
        let whole = normalize_body(&fixture.body, &Hints::default());
        for piece in PIECES {
            let pushed = pushed_in_pieces(&fixture.body, piece);
            if pushed != whole {
                differences.push(format!("{}: in {piece}-byte pieces: {pushed:?}, whole: {whole:?}", fixture.name));
            }
        }
    }
    assert_no_differences(streams.len(), 15, &differences);
}

#[test]
fn every_body_has_an_expectation() {
    let orphans: Vec<String> = PROVIDER_FOLDERS
        .iter()
        .chain([&INVALID_FOLDER])
        .flat_map(|folder| {
            let files = files_in(folder);
            let expected: Vec<Option<String>> = files
                .iter()
                .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
                .map(|p| fixture_name(p))
                .collect();
            files
                .into_iter()
                .filter(|p| p.to_string_lossy().contains(".body.") && !expected.contains(&fixture_name(p)))
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(orphans.is_empty(), "bodies without an expected file are never checked: {orphans:?}");
}
