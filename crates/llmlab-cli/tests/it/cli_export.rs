//! `llmlab export`: CSV to stdout or a file, with date filters.

use crate::api::{Api, server_test};
use crate::cli_env::{Machine, seeded, snapshot, stdout, transcript};

server_test!(export_streams_every_event_as_csv, |server| async move {
    let (machine, _api) = seeded(&server).await;

    let output = machine.run(&["export"]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot!(machine, "export_stdout", transcript(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 6, "a header and five events");
});

server_test!(export_writes_a_file_and_filters_by_date, |server| async move {
    let (machine, _api) = seeded(&server).await;
    let file = machine.home().join("events.csv");
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();

    let output = machine.run(&["export", "--output", file.to_str().unwrap(), "--from", &today, "--to", &today]);

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot!(machine, "export_file", transcript(&output));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert_eq!(csv.lines().count(), 5, "the old event is left out:\n{csv}");
    assert!(csv.starts_with("timestamp,event_id,provider,model,project,input_tokens,"));
    let leftovers: Vec<_> = std::fs::read_dir(machine.home())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "no partial file is left behind");
});

#[test]
fn export_rejects_a_range_that_ends_before_it_starts() {
    let machine = Machine::new("http://127.0.0.1:1");

    let reversed = machine.run(&["export", "--from", "2026-03-10", "--to", "2026-03-01"]);
    let not_a_date = machine.run(&["export", "--from", "yesterday"]);

    snapshot!(machine, "export_reversed", transcript(&reversed));
    assert_eq!(not_a_date.status.code(), Some(1), "a value to fix, like any other input");
    assert_eq!(
        crate::support::stderr(&not_a_date),
        "error: --from: `yesterday` is not a date: use YYYY-MM-DD or an RFC 3339 time (2026-12-07T10:00:00Z)\n"
    );
}

server_test!(export_timestamps_have_three_fractional_digits_and_rfc3339_bounds_select_instants, |server| async move {
    let machine = Machine::of(&server);
    let api = Api::anonymous(&server).with_key(&machine.init());
    let events = serde_json::json!({ "events": [
        { "event_id": "e-whole", "provider": "openai", "model": "gpt-4o", "input_tokens": 1, "timestamp": "2026-03-01T10:00:00Z" },
        { "event_id": "e-tenths", "provider": "openai", "model": "gpt-4o", "input_tokens": 1, "timestamp": "2026-03-01T10:00:01.81Z" },
        { "event_id": "e-millis", "provider": "openai", "model": "gpt-4o", "input_tokens": 1, "timestamp": "2026-03-01T11:00:02.518+01:00" },
        { "event_id": "e-late", "provider": "openai", "model": "gpt-4o", "input_tokens": 1, "timestamp": "2026-03-01T10:00:03Z" },
    ]});
    let reply = api.post("/api/events/batch", events).await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.text);

    let day = machine.run(&["export", "--from", "2026-03-01", "--to", "2026-03-01", "--tz", "UTC"]);
    let instants =
        machine.run(&["export", "--from", "2026-03-01T10:00:01.81Z", "--to", "2026-03-01T11:00:02.518+01:00"]);

    assert_eq!(day.status.code(), Some(0), "{}", transcript(&day));
    assert_eq!(instants.status.code(), Some(0), "{}", transcript(&instants));
    let first_columns = |output: &std::process::Output| {
        stdout(output)
            .lines()
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // No redaction: the exact text of the timestamps is what this checks.
    insta::assert_snapshot!("export_timestamps", first_columns(&day));
    assert_eq!(
        first_columns(&instants),
        "timestamp,event_id\n2026-03-01T10:00:01.810Z,e-tenths\n2026-03-01T10:00:02.518Z,e-millis",
        "both bounds included, to the millisecond"
    );
});
