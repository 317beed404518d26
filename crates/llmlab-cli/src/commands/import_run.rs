//! One run of `llmlab import`: which folders, how the events are labelled,
//! the server; reading every log file once and sending one event per response.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use llmlab_core::agent_logs::{Agent, Collected, Record, take_unfinished_last};

use crate::client::Client;
use crate::commands::import_files::{LineCounts, LogFiles};
use crate::commands::import_send::{self, Labels, Tally};

/// One import: what to read, how to label it, where to send it.
pub(crate) struct Import {
    pub(crate) agent: Agent,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) labels: Labels,
    pub(crate) client: Client,
}

impl Import {
    /// Reads every file once, one record per response across them all, and sends the records.
    pub(crate) async fn once(&self) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let mut files = LogFiles::default();
        let mut unfinished = 0;
        let collected = self.read_all(&mut files, &mut tally, &mut |path, records| {
            // A session in progress: its last response's final usage is still
            // to come; the next import takes it (its id keeps it from counting twice).
            if self.agent == Agent::ClaudeCode && written_lately(path) {
                unfinished += u64::from(!take_unfinished_last(records).is_empty());
            }
        })?;
        tally.unfinished = unfinished;
        import_send::send(&self.client, collected.into_sorted(), &self.labels, &mut tally).await?;
        Ok(tally)
    }

    /// Opens every log file not in `files` yet and reads all of `files`,
    /// collecting their records (one per response). `keep_back` sees each
    /// file's records first and may take some out (`--watch` holds back a
    /// response that may still be being written).
    pub(crate) fn read_all(
        &self,
        files: &mut LogFiles,
        tally: &mut Tally,
        keep_back: &mut dyn FnMut(&Path, &mut Vec<Record>),
    ) -> anyhow::Result<Collected> {
        files.refresh(self.agent, &self.dirs);
        tally.files = files.len();
        let mut collected = Collected::default();
        let mut counts = LineCounts::default();
        for file in files.iter_mut() {
            let mut records = file
                .read_new(&mut counts)
                .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", file.path.display()))?;
            keep_back(&file.path, &mut records);
            for record in records {
                collected.add(record);
            }
        }
        counts.repeats += collected.repeats;
        tally.add_lines(counts);
        Ok(collected)
    }
}

/// How recently a file must have changed for its unfinished last response
/// to be taken as still being written (rather than cut off for good).
const IN_PROGRESS: Duration = Duration::from_mins(1);

/// True when `path` changed within [`IN_PROGRESS`].
fn written_lately(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|at| SystemTime::now().duration_since(at).is_ok_and(|age| age < IN_PROGRESS))
}
