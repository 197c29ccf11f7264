//! The app's layers, as its imports draw them: each module of `app/src`
//! imports only the layers below it. `lib.rs` (which owns clap and the
//! dispatch) sits on top, then `cli/`, then `command/` (one module per
//! subcommand, never importing another), then the app's services
//! (`output/`, `store`, `time`, `input`, `console`, `progress`, `signals`,
//! `error`), then the batch engine (`batch/`), which imports only itself,
//! `pricing` and std, plus two small interfaces of the process it runs in:
//! the progress line and the stop signals. ARCHITECTURE.md shows the same
//! picture; this test keeps it true.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::util::workspace_root;

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level modules of this crate that `text` names as `crate::…`,
/// whether in a path (`crate::store::open_ledger`) or a group
/// (`use crate::{cli, error::AppError}`).
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        // Not a longer word ending in `crate` (`ledger_crate::`).
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The group's first-level names, skipping nested groups.
            let mut depth = 0;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        modules.insert(first_segment(&name));
                        name.clear();
                    }
                    _ if depth == 0 => name.push(c),
                    _ => {}
                }
            }
            if !name.trim().is_empty() {
                modules.insert(first_segment(&name));
            }
        } else {
            modules.insert(first_segment(rest));
        }
    }
    modules.remove("");
    modules
}

/// `store::{self, Open}` → `store`.
fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The layer a file of `app/src` belongs to: its first path component
/// (`batch/read/csv/mod.rs` → `batch`, `store.rs` → `store`).
fn layer(relative: &Path) -> String {
    let first = relative.components().next().unwrap();
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

/// What each layer may import from this crate, besides itself.
fn allowed(layer: &str) -> &'static [&'static str] {
    const SERVICES: &[&str] = &[
        "output", "store", "time", "workers", "input", "console", "progress", "signals", "error",
        "batch", "sandbox",
    ];
    match layer {
        "lib" | "main" => &[
            "cli", "command", "output", "store", "time", "workers", "input", "console", "progress",
            "signals", "error", "batch", "sandbox",
        ],
        "cli" => &["command", "error"],
        // The batch engine: itself, plus the progress line and the stop
        // signals of the process it runs in.
        "batch" => &["progress", "signals"],
        // Commands and the services: the services (which import one
        // another) and the batch engine, never up.
        _ => SERVICES,
    }
}

#[test]
fn every_module_of_the_app_imports_only_the_layers_below_it() {
    let src = workspace_root().join("app").join("src");
    let mut breaches = Vec::new();
    for file in sources(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let layer = layer(relative);
        let text = fs::read_to_string(&file).unwrap();
        for module in crate_modules(&text) {
            if module != layer && !allowed(&layer).contains(&module.as_str()) {
                breaches.push(format!("{} imports crate::{module}", relative.display()));
            }
        }
        // `super::super` could climb out of a layer unseen by the rule above.
        if text.contains("super::super") {
            breaches.push(format!("{} climbs with super::super", relative.display()));
        }
    }
    assert!(
        breaches.is_empty(),
        "imports that point up:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn commands_never_import_one_another() {
    let commands = workspace_root().join("app").join("src").join("command");
    let mut breaches = Vec::new();
    for file in sources(&commands) {
        let relative = file.strip_prefix(&commands).unwrap();
        let own = layer(relative);
        let text = fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("crate::command::") {
            let other = first_segment(&text[at + "crate::command::".len()..]);
            if other != own {
                breaches.push(format!(
                    "command/{} imports command::{other}",
                    relative.display()
                ));
            }
        }
    }
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn the_import_reader_sees_paths_and_groups() {
    let text = "use crate::{cli, error::{AppError, Status}};\nuse crate::store::Open;\n\
                let x = crate::batch::pipeline::run(); let y = other_crate::z;";
    let found: Vec<String> = crate_modules(text).into_iter().collect();
    assert_eq!(found, ["batch", "cli", "error", "store"]);
    // A breach is seen: the console importing the command line.
    assert!(!allowed("console").contains(&"cli"));
    assert!(!allowed("batch").contains(&"output"));
}
