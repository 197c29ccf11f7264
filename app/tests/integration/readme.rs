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
    trycmd::TestCases::new()
        .register_bin("ledgerly", cargo_bin!("ledgerly"))
        .case(workspace_root().join("README.md"));
}
