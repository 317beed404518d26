//! `llmlab export`: CSV to stdout or a file, with date filters.

use crate::api::server_test;
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
    assert_eq!(not_a_date.status.code(), Some(2), "clap's usage error");
    assert!(transcript(&not_a_date).contains("invalid value 'yesterday' for '--from <DATE>'"));
}
