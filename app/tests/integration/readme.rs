//! The README's `$ ledgerly …` examples, run as tests with trycmd: every
//! ```console block is a list of commands with the output (stdout and
//! stderr together) and exit status (`? N`) it shows, so the README cannot
//! drift from the binary.

use assert_cmd::cargo::cargo_bin;

use crate::util::workspace_root;

#[test]
fn the_readme_examples_print_what_the_readme_shows() {
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
    trycmd::TestCases::new()
        .register_bin("ledgerly", cargo_bin!("ledgerly"))
        .env("LEDGERLY_DB", ledger.display().to_string())
        // As every run in these tests: a minute at most (util::ledgerly).
        .timeout(std::time::Duration::from_secs(60))
        .case(workspace_root().join("README.md"));
}
