//! The documents' `$ ledgerly …` examples, run as tests with trycmd: every
//! ```console block of every markdown document (the README, CONTRIBUTING.md,
//! the pages under docs/) is a list of commands with the output (stdout and
//! stderr together) and exit status (`? N`) it shows, so no document can
//! drift from the binary. An example moved from one document to another is
//! still run: the documents are found, not listed.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin;

use crate::util::workspace_root;

/// The markdown documents with examples: those at the workspace's root and
/// under docs/, in a stable order.
fn documents_with_examples() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut documents = markdown_files(&root, false);
    documents.extend(markdown_files(&root.join("docs"), true));
    documents.retain(|path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .any(|line| line.trim_end() == "```console")
    });
    documents.sort();
    documents
}

fn markdown_files(dir: &Path, recurse: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if recurse {
                files.extend(markdown_files(&path, true));
            }
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_documents_examples_print_what_the_documents_show() {
    let documents = documents_with_examples();
    assert!(
        documents.contains(&workspace_root().join("README.md")),
        "the README has no ```console examples left: {documents:?}"
    );
    // The examples name paths from the workspace root, as a reader runs
    // them. Every other test of this binary uses absolute paths, so moving
    // the process's working directory changes nothing for them.
    std::env::set_current_dir(workspace_root()).unwrap();
    // The ledger examples run on a fresh ledger of their own each time
    // (the sandbox's books beside it), so a rerun of the suite starts from
    // nothing, as a reader's first run does.
    let dir = tempfile::Builder::new()
        .prefix("readme-ledger-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let ledger = dir.path().join("ledgerly.db");
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("ledgerly", cargo_bin!("ledgerly"))
        .env("LEDGERLY_DB", ledger.display().to_string())
        // As every run in these tests: a minute at most (util::ledgerly).
        .timeout(std::time::Duration::from_secs(60));
    for document in documents {
        cases.case(document);
    }
}
