# shellcheck shell=bash
# scripts/ci-lib.sh — helpers shared by scripts/ci and scripts/demo, sourced
# by both (functions only: sourcing it runs nothing). Each caller sets
# `set -euo pipefail` and works from the repository's root.

# Messages about the run itself go to stderr so that stage output stays clean.
note() { printf 'ci: %s\n' "$*" >&2; }
fail() {
    printf 'ci: error: %s\n' "$*" >&2
    # In GitHub Actions, an annotation puts the cause at the top of the run.
    if [[ ${GITHUB_ACTIONS:-} == true ]]; then
        printf '::error title=scripts/ci %s::%s\n' "${CI_STAGE:-}" "$*"
    fi
    exit 1
}

# Microseconds since the epoch; EPOCHREALTIME is bash 5, date is the fallback.
now_us() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        printf '%s\n' "${EPOCHREALTIME//[.,]/}"
    else
        printf '%s\n' "$(($(date +%s) * 1000000))"
    fi
}

# Formats a span of microseconds as seconds with one decimal.
seconds_since() {
    local elapsed=$(($(now_us) - $1))
    printf '%d.%d s' $((elapsed / 1000000)) $((elapsed % 1000000 / 100000))
}

# Prints a command before running it, so a log shows exactly what ran.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

# What cargo says about the workspace, and where it builds.
cargo_metadata() {
    cargo metadata --no-deps --format-version 1 --locked
}

target_dir() {
    cargo_metadata | cargo xtask metadata target-directory
}

# reprice_gate BASELINE CANDIDATE REPORT: deploy.sh's repricing gate on this
# machine. BASELINE goes live in a throwaway release root, then
# `deploy.sh diff staging CANDIDATE` prices the reference book with both and
# decides; its Markdown report lands in REPORT, its log on stderr. Returns
# the gate's exit status (0 passed, 8 refused).
reprice_gate() {
    local baseline=$1 candidate=$2 report=$3 root status=0
    root="$(mktemp -d)"
    LEDGERLY_DEPLOY_ROOT="$root" bash scripts/deploy.sh staging "$baseline" 2>&1 | sed 's/^/  live | /' >&2
    LEDGERLY_DEPLOY_ROOT="$root" bash scripts/deploy.sh diff staging "$candidate" >"$report" || status=$?
    rm -rf "$root"
    return "$status"
}
