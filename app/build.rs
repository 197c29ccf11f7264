//! Records the commit `ledgerly` is built from, for `ledgerly --version`:
//! deploys promote by commit, so a binary must say which one it is.
//!
//! `LEDGERLY_BUILD_COMMIT` wins when set (a build from an exported tree, or
//! a packager); otherwise `git rev-parse`; otherwise `unknown`. Nothing here
//! can fail the build.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LEDGERLY_BUILD_COMMIT");
    let commit = std::env::var("LEDGERLY_BUILD_COMMIT")
        .ok()
        .filter(|commit| !commit.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=LEDGERLY_BUILD_COMMIT={commit}");
}

/// The short commit of HEAD, with `-dirty` never guessed: the release
/// archive's BUILD-INFO says whether the tree was clean.
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Rebuild when HEAD moves: HEAD itself, and the ref it points at (git
    // names their paths, worktrees included). A path that does not exist
    // would make cargo rerun this script on every build, so only existing
    // ones are named.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &reference]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(commit)
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
