//! `cargo dev lint`'s import-circle check: within each crate, no module
//! (file) may use, directly or through others, a module that uses it back.
//! Layers stay layers: `routes/`, `ui/` and `proxy/` use `service/`, which
//! uses the state's components and the store, never the other way round.
//!
//! A module's uses are the `crate::…`, `super::…` and `self::…` paths in its
//! file (in `use` items, grouped or not, and inline), each resolved to the
//! deepest module file it names. `mod` declarations are ownership, not use,
//! and the crate root (`lib.rs`, `main.rs`) is left out as a target: it is
//! the crate's public face, which every module may re-export through.
//! A bare `super::*` is read as an inline test module's glob of its own file.
//! A parent reaching its own child by a bare path (`envelope::parse(…)` in
//! `normalize/mod.rs`) is not counted either: parent and children are one
//! module tree; circles between siblings and across layers are what count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module as the path of its segments under the crate root (`["service", "ingest"]`).
type Module = Vec<String>;

/// The import circles among the modules under `src`: each one's modules, sorted.
pub(crate) fn circles(src: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let files = module_files(src)?;
    let mut uses: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file)?;
        // `self::` and `super::` are relative to the module's own path; for
        // `foo.rs` and `foo/mod.rs` alike that is `foo`.
        for path in paths_in(&strip_comments(&text)) {
            // `use super::*;` is how an inline `mod tests` reaches its own
            // file's items: not a use of the parent module.
            if path == ["super"] {
                continue;
            }
            let absolute = absolute(module, &path);
            if let Some(target) = deepest_module(&files, &absolute)
                && !target.is_empty()
                && target != *module
            {
                uses.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    Ok(strongly_connected(&uses)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| component.iter().map(|m| m.join("::")).collect())
        .collect())
}

/// Every `.rs` file under `src` with its module path.
fn module_files(src: &Path) -> anyhow::Result<BTreeMap<Module, PathBuf>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![src.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src)?.with_extension("");
                let mut module: Module =
                    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                if module.last().is_some_and(|last| last == "mod" || last == "lib" || last == "main") {
                    module.pop();
                }
                files.insert(module, path);
            }
        }
    }
    Ok(files)
}

/// The text without `//` comments (doc links name modules without using them).
fn strip_comments(text: &str) -> String {
    text.lines().map(|line| line.find("//").map_or(line, |at| &line[..at])).collect::<Vec<_>>().join("\n")
}

/// Every path starting with `crate::`, `super::` or `self::`, groups expanded.
fn paths_in(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            let preceded_by_ident = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            let preceded_by_path = at >= 2 && &text[at - 2..at] == "::";
            if !preceded_by_ident && !preceded_by_path {
                parse_path(text, at, Vec::new(), &mut found);
            }
        }
    }
    found
}

/// Parses the path at `at` (identifiers joined by `::`, possibly ending in a
/// `{…}` group) onto `prefix`, pushing each full path to `found`.
fn parse_path(text: &str, at: usize, mut prefix: Vec<String>, found: &mut Vec<Vec<String>>) {
    let bytes = text.as_bytes();
    let mut i = at;
    loop {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i > start {
            prefix.push(text[start..i].to_owned());
        }
        if text[i..].starts_with("::{") {
            let body_start = i + 3;
            let Some(body_end) = matching_brace(text, body_start) else { break };
            for item in split_top_level(&text[body_start..body_end]) {
                let offset = body_start + item.0;
                let trimmed = item.1.len() - item.1.trim_start().len();
                parse_path(text, offset + trimmed, prefix.clone(), found);
            }
            return;
        }
        if text[i..].starts_with("::") {
            i += 2;
            continue;
        }
        break;
    }
    // `self` inside a group names the group's prefix itself.
    if prefix.last().is_some_and(|s| s == "self") && prefix.len() > 1 {
        prefix.pop();
    }
    found.push(prefix);
}

/// The index of the `}` closing the group whose body starts at `start`.
fn matching_brace(text: &str, start: usize) -> Option<usize> {
    let mut depth = 1;
    for (offset, ch) in text[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// A group's items, split at its top-level commas, with their offsets.
fn split_top_level(body: &str) -> Vec<(usize, &str)> {
    let (mut items, mut depth, mut item_start) = (Vec::new(), 0, 0);
    for (offset, ch) in body.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push((item_start, &body[item_start..offset]));
                item_start = offset + 1;
            }
            _ => {}
        }
    }
    items.push((item_start, &body[item_start..]));
    items.into_iter().filter(|(_, item)| !item.trim().is_empty()).collect()
}

/// `path` as seen from `module`, made absolute (without the leading `crate`).
fn absolute(module: &Module, path: &[String]) -> Module {
    let mut base: Module = module.clone();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        _ => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
    }
    base.extend(rest.iter().cloned());
    base
}

/// The deepest module that `path` names or reaches into.
fn deepest_module(files: &BTreeMap<Module, PathBuf>, path: &[String]) -> Option<Module> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| files.contains_key(prefix))
}

/// Tarjan's strongly connected components of the use graph.
fn strongly_connected(uses: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        uses: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        components: Vec<Vec<Module>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, module: &'a Module) {
        let index = walk.index.len();
        walk.index.insert(module, index);
        walk.low.insert(module, index);
        walk.stack.push(module);
        for next in walk.uses.get(module).into_iter().flatten() {
            if !walk.index.contains_key(next) {
                visit(walk, next);
                let low = walk.low[module].min(walk.low[next]);
                walk.low.insert(module, low);
            } else if walk.stack.contains(&next) {
                let low = walk.low[module].min(walk.index[next]);
                walk.low.insert(module, low);
            }
        }
        if walk.low[module] == walk.index[module] {
            let mut component = Vec::new();
            while let Some(top) = walk.stack.pop() {
                component.push(top.clone());
                if top == module {
                    break;
                }
            }
            component.sort();
            walk.components.push(component);
        }
    }
    let mut walk =
        Walk { uses, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), components: Vec::new() };
    for module in uses.keys() {
        if !walk.index.contains_key(module) {
            visit(&mut walk, module);
        }
    }
    walk.components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Vec<String> {
        s.split("::").map(str::to_owned).collect()
    }

    #[test]
    fn grouped_and_relative_paths_are_expanded() {
        let text = "use crate::service::{self, budgets::Budgets, ingest::{prepare, writer::EventWriter}};\n\
                    let x = super::format::scaled(1); // crate::ignored::in_comment";
        let found = paths_in(&strip_comments(text));
        for expected in ["crate::service", "crate::service::budgets::Budgets", "crate::service::ingest::prepare"] {
            assert!(found.contains(&path(expected)), "{expected} in {found:?}");
        }
        assert!(found.contains(&path("crate::service::ingest::writer::EventWriter")));
        assert!(found.contains(&path("super::format::scaled")));
        assert!(!found.iter().any(|p| p.contains(&"ignored".to_owned())));
        assert_eq!(absolute(&path("ui::chart"), &path("super::format::scaled")), path("ui::format::scaled"));
    }

    #[test]
    fn a_circle_is_found_and_a_chain_is_not() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("ui")).unwrap();
        std::fs::write(dir.join("lib.rs"), "mod state; mod ui;").unwrap();
        std::fs::write(dir.join("state.rs"), "use crate::ui::Page;").unwrap();
        std::fs::write(dir.join("ui/mod.rs"), "use crate::state::AppState;").unwrap();
        std::fs::write(dir.join("clock.rs"), "use crate::state::AppState;").unwrap();
        assert_eq!(circles(&dir).unwrap(), vec![vec!["state".to_owned(), "ui".to_owned()]]);
        std::fs::write(dir.join("state.rs"), "use crate::clock;").unwrap();
        std::fs::write(dir.join("clock.rs"), "").unwrap();
        assert!(circles(&dir).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_workspace_crates_have_no_import_circles() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::var_os("LLMLAB_IMPORT_CIRCLES_OF").map_or(crates.join("llmlab-server/src"), PathBuf::from);
        assert_eq!(circles(&dir).unwrap(), Vec::<Vec<String>>::new(), "{}", dir.display());
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("llmlab-import-cycles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
