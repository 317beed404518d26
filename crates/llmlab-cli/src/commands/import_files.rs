//! The files of `llmlab import`: where each agent keeps its session logs and
//! its login, the `.jsonl` files a folder holds, and each file read from
//! where the last read stopped (complete lines only; a truncated or replaced
//! file is read again from its start).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use llmlab_core::agent_logs::billing::{self, Detected};
use llmlab_core::agent_logs::{Agent, Record, claude_code, codex};

use crate::printer::UserError;

/// The agents' own environment variables, honoured as the agents do.
pub(crate) struct AgentEnv;

impl AgentEnv {
    /// Claude Code's config folder(s), comma-separated; its logs are in `<folder>/projects`.
    pub(crate) const CLAUDE_CONFIG_DIR: &'static str = "CLAUDE_CONFIG_DIR";
    /// Codex's home folder (default `~/.codex`); its logs are in `<folder>/sessions`.
    pub(crate) const CODEX_HOME: &'static str = "CODEX_HOME";
}

/// An agent's config folders, most specific first: `$CLAUDE_CONFIG_DIR`'s
/// folders, else `~/.config/claude` and `~/.claude`; `$CODEX_HOME`, else `~/.codex`.
fn config_dirs(agent: Agent) -> Vec<PathBuf> {
    let home = dirs::home_dir().unwrap_or_default();
    match agent {
        Agent::ClaudeCode => match crate::config::env_var(AgentEnv::CLAUDE_CONFIG_DIR) {
            Some(list) => list.split(',').map(str::trim).filter(|d| !d.is_empty()).map(PathBuf::from).collect(),
            None => vec![home.join(".config").join("claude"), home.join(".claude")],
        },
        Agent::Codex => match crate::config::env_var(AgentEnv::CODEX_HOME) {
            Some(dir) => vec![PathBuf::from(dir)],
            None => vec![home.join(".codex")],
        },
    }
}

/// The folders where the agent writes its session logs, whether they exist
/// or not. Codex moves an archived session's file to `archived_sessions`:
/// read too, its ids keep it from counting twice.
pub(crate) fn default_log_dirs(agent: Agent) -> Vec<PathBuf> {
    let subs: &[&str] = match agent {
        Agent::ClaudeCode => &["projects"],
        Agent::Codex => &["sessions", "archived_sessions"],
    };
    config_dirs(agent).into_iter().flat_map(|d| subs.iter().map(move |sub| d.join(sub))).collect()
}

/// The folders to read: `explicit` (which must exist), else the defaults that exist.
pub(crate) fn log_dirs(agent: Agent, explicit: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let command = format!("llmlab import {}", agent.slug());
    if let Some(dir) = explicit {
        if dir.is_dir() {
            return Ok(vec![dir.to_owned()]);
        }
        let what = if dir.exists() { "is not a folder" } else { "does not exist" };
        return Err(UserError::new(format!("`{}` {what}", dir.display()))
            .with_hint(format!("pass the folder holding {}'s session logs: `{command} DIR`", agent.name()))
            .into());
    }
    let candidates = default_log_dirs(agent);
    let found: Vec<PathBuf> = candidates.iter().filter(|d| d.is_dir()).cloned().collect();
    if found.is_empty() {
        let names: Vec<String> = candidates.iter().map(|d| format!("`{}`", d.display())).collect();
        let env = match agent {
            Agent::ClaudeCode => AgentEnv::CLAUDE_CONFIG_DIR,
            Agent::Codex => AgentEnv::CODEX_HOME,
        };
        return Err(UserError::new(format!(
            "found no {} session logs: {} does not exist",
            agent.name(),
            names.join(" nor ")
        ))
        .with_hint(format!("pass the folder holding them: `{command} DIR` (or set `{env}`)"))
        .into());
    }
    Ok(found)
}

/// What the agent's login file says about billing (the file is read, its secrets are not kept).
pub(crate) fn detect_billing(agent: Agent) -> Detected {
    type Detector = fn(Option<&[u8]>) -> Detected;
    let (name, detect): (&str, Detector) = match agent {
        Agent::ClaudeCode => (".credentials.json", billing::claude_code),
        Agent::Codex => ("auth.json", billing::codex),
    };
    let bytes = config_dirs(agent).iter().find_map(|dir| std::fs::read(dir.join(name)).ok());
    detect(bytes.as_deref())
}

/// Every `.jsonl` file under `dirs`, sorted; symbolic links to folders are not followed.
pub(crate) fn jsonl_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// What reading lines found besides records.
#[derive(Debug, Default)]
pub(crate) struct LineCounts {
    /// Lines repeating a response already read (Claude Code's per-block lines, resumed copies, Codex's repeated counts).
    pub(crate) repeats: u64,
    /// Claude Code's `<synthetic>` lines: no API call.
    pub(crate) synthetic: u64,
    /// Lines with usage that cannot be imported, by reason.
    pub(crate) unusable: BTreeMap<String, u64>,
}

impl LineCounts {
    fn unusable(&mut self, reason: &str) {
        *self.unusable.entry(reason.to_owned()).or_default() += 1;
    }
}

enum Parser {
    ClaudeCode,
    Codex(Box<codex::Session>),
}

impl Parser {
    fn new(agent: Agent, path: &Path) -> Parser {
        match agent {
            Agent::ClaudeCode => Parser::ClaudeCode,
            Agent::Codex => {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                Parser::Codex(Box::new(codex::Session::new(&stem)))
            }
        }
    }

    fn line(&mut self, line: &str, counts: &mut LineCounts) -> Option<Record> {
        match self {
            Parser::ClaudeCode => match claude_code::parse_line(line) {
                claude_code::Line::Usage(record) => return Some(record),
                claude_code::Line::Other => {}
                claude_code::Line::Synthetic => counts.synthetic += 1,
                claude_code::Line::Unusable(reason) => counts.unusable(reason),
            },
            Parser::Codex(session) => match session.feed(line) {
                codex::Line::Usage(record) => return Some(record),
                codex::Line::Other => {}
                codex::Line::Repeat => counts.repeats += 1,
                codex::Line::Unusable(reason) => counts.unusable(reason),
            },
        }
        None
    }
}

/// The log files found so far, by path.
#[derive(Default)]
pub(crate) struct LogFiles(BTreeMap<PathBuf, LogFile>);

impl LogFiles {
    /// Adds the `.jsonl` files under `dirs` not known yet.
    pub(crate) fn refresh(&mut self, agent: Agent, dirs: &[PathBuf]) {
        for path in jsonl_files(dirs) {
            self.0.entry(path.clone()).or_insert_with(|| LogFile::new(agent, path));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut LogFile> {
        self.0.values_mut()
    }
}

/// One log file and how far it has been read.
pub(crate) struct LogFile {
    pub(crate) path: PathBuf,
    agent: Agent,
    offset: u64,
    identity: Option<(u64, u64)>,
    parser: Parser,
}

impl LogFile {
    pub(crate) fn new(agent: Agent, path: PathBuf) -> LogFile {
        let parser = Parser::new(agent, &path);
        LogFile { path, agent, offset: 0, identity: None, parser }
    }

    /// The records of the complete lines written since the last call, in
    /// order. A last line without its newline is left for the next call.
    pub(crate) fn read_new(&mut self, counts: &mut LineCounts) -> std::io::Result<Vec<Record>> {
        // A `stat` first: most polls find most files unchanged, and it costs less than opening them.
        let metadata = std::fs::metadata(&self.path)?;
        let identity = file_identity(&metadata);
        if metadata.len() < self.offset || (self.identity.is_some() && identity != self.identity) {
            // Truncated or replaced (rotation): a new file under the old name.
            self.offset = 0;
            self.parser = Parser::new(self.agent, &self.path);
        }
        self.identity = identity;
        if metadata.len() == self.offset {
            return Ok(Vec::new());
        }
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let Some(end) = memchr::memrchr(b'\n', &bytes) else { return Ok(Vec::new()) };
        self.offset += end as u64 + 1;
        let mut records = Vec::new();
        for line in bytes[..end].split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match std::str::from_utf8(line) {
                Ok(text) => records.extend(self.parser.line(text, counts)),
                Err(_) => counts.unusable("a line that is not UTF-8"),
            }
        }
        Ok(records)
    }
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // `None` on other platforms
fn file_identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn file_identity(_metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn line(msg: &str, output: u64) -> String {
        format!(
            r#"{{"type":"assistant","cwd":"/w","sessionId":"s","requestId":"r-{msg}","timestamp":"2026-10-05T09:00:00Z","message":{{"id":"{msg}","model":"claude-haiku-4-5","usage":{{"input_tokens":1,"output_tokens":{output}}}}}}}"#
        ) + "\n"
    }

    fn keys(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.key.as_str()).collect()
    }

    #[test]
    fn a_file_is_read_in_complete_lines_from_where_the_last_read_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut counts = LineCounts::default();
        let first = line("m1", 5);
        let second = line("m2", 7);
        std::fs::write(&path, format!("{first}{}", &second[..30])).unwrap();
        let mut file = LogFile::new(Agent::ClaudeCode, path.clone());

        assert_eq!(keys(&file.read_new(&mut counts).unwrap()), ["m1/r-m1"], "the half line waits");
        assert!(file.read_new(&mut counts).unwrap().is_empty(), "nothing new");
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&second.as_bytes()[30..]).unwrap();
        assert_eq!(keys(&file.read_new(&mut counts).unwrap()), ["m2/r-m2"], "its newline came");
    }

    #[test]
    fn a_truncated_or_replaced_file_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut counts = LineCounts::default();
        std::fs::write(&path, format!("{}{}", line("m1", 5), line("m2", 6))).unwrap();
        let mut file = LogFile::new(Agent::ClaudeCode, path.clone());
        assert_eq!(file.read_new(&mut counts).unwrap().len(), 2);

        std::fs::write(&path, line("m3", 1)).unwrap(); // shorter: truncated and rewritten
        assert_eq!(keys(&file.read_new(&mut counts).unwrap()), ["m3/r-m3"]);

        let rotated = dir.path().join("new.jsonl");
        std::fs::write(&rotated, format!("{}{}", line("m4", 1), line("m5", 1))).unwrap();
        std::fs::rename(&rotated, &path).unwrap(); // another file under the old name, longer
        assert_eq!(keys(&file.read_new(&mut counts).unwrap()), ["m4/r-m4", "m5/r-m5"]);
    }

    #[test]
    fn jsonl_files_are_found_in_nested_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("2026/10/06")).unwrap();
        std::fs::write(dir.path().join("2026/10/06/rollout-a.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let found = jsonl_files(&[dir.path().to_owned()]);
        let names: Vec<String> =
            found.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["2026/10/06/rollout-a.jsonl", "b.jsonl"]);
    }
}
