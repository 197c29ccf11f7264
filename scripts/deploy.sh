#!/usr/bin/env bash
# scripts/deploy.sh — deploys one release artifact built by `scripts/ci build`
# to an environment, or rolls an environment back.
#
# Usage:
#   scripts/deploy.sh ENV ARTIFACT     deploy ARTIFACT (ledgerly-*.tar.gz; its
#                                      checksum is ARTIFACT.sha256) to ENV
#   scripts/deploy.sh rollback ENV     make the previously live release live again
#   scripts/deploy.sh status ENV       show the live release and the history
#   scripts/deploy.sh diff ENV ARTIFACT  the repricing gate: price the reference
#                                      book with ARTIFACT and with the release
#                                      live in ENV, and compare (below)
#   scripts/deploy.sh correct-plan ENV ID FINGERPRINT
#                                      plan correction ID of the invoices ENV's
#                                      ledger issued under the rate table
#                                      FINGERPRINT, with the release live in ENV:
#                                      the plan stays on the host, its Markdown
#                                      summary (with the digest) goes to stdout
#   scripts/deploy.sh correct-apply ENV ID DIGEST
#                                      apply that plan if its digest is DIGEST
#                                      (what the reviewer approved), then verify
#
# ENV is `staging` or `production`. Production accepts only the artifact whose
# checksum is live in staging: it promotes what staging verified.
#
# Configuration (environment variables):
#   LEDGERLY_DEPLOY_ROOT   required: the directory that holds one directory per
#                          environment (<root>/staging, <root>/production); a
#                          local or mounted path, or a path on the SSH host
#   LEDGERLY_DEPLOY_HOST   optional: [user@]host; when set, the deploy runs on
#                          that host over SSH (this same script, copied there)
#   LEDGERLY_DEPLOY_SSH_PORT, LEDGERLY_DEPLOY_SSH_KEY (a key file),
#   LEDGERLY_DEPLOY_KNOWN_HOSTS (a known_hosts file)    optional SSH settings
#   LEDGERLY_SMOKE_TIMEOUT seconds the smoke test may take (default 30)
#   LEDGERLY_REPRICE_TOP   how many of the largest changes the repricing
#                          report lists (default 20)
#   LEDGERLY_CORRECTION_DB the ledger a correction works on (a path or a
#                          postgres:// URL on the deploy host; required by
#                          correct-plan and correct-apply, never printed)
#   LEDGERLY_DEPLOY_LEDGER optional: ENV's ledger as the gate (diff) reads it,
#                          read-only (a path or a postgres:// URL of a
#                          read-only role, on the deploy host; never printed)
#   LEDGERLY_REPRICE_SINCE the window of that ledger the gate reprices
#                          (default 35d; a date or days back)
#   LEDGERLY_FIRST_DEPLOY  the name of the environment whose first deploy the
#                          operator declares: only then does the gate pass
#                          with nothing live there
#
# Layout of an environment directory:
#   releases/<version>-<commit>/   one unpacked artifact each, at most five kept
#   current -> releases/<id>       the live release, switched atomically
#   current.sha256 -> current/artifact.sha256   the live artifact's checksum
#   history                        the stack of releases made live, newest last
#   corrections/<id>/plan.jsonl    a correction's plan (correct-plan), and
#   corrections/<id>/applied       the digest it was applied with (correct-apply)
#
# The repricing gate (diff) changes nothing on the host. It unpacks ARTIFACT
# as a deploy would, writes the reference book with the candidate's
# `ledgerly sample` (REFERENCE_COUNT invoices, REFERENCE_SEED), prices it with
# the candidate and with ENV's live release, runs the candidate's
# `ledgerly diff`, and compares the two `ledgerly rates` versions:
#   nothing live in ENV             refused, exit 13, unless the operator
#                                   declared a first deploy
#                                   (LEDGERLY_FIRST_DEPLOY=ENV): an empty
#                                   read (a mistyped root) is never taken
#                                   for a first deploy
#   no invoice prices differently   passes
#   totals differ, same version     refused, exit 8: an unintended pricing change
#   totals differ, version changed  passes; the diff is for the reviewer
#   totals differ, live predates `ledgerly rates`   passes, version unknown, said so
# When LEDGERLY_DEPLOY_LEDGER names ENV's ledger, the candidate's
# `ledgerly reprice` also prices again, read-only, the invoices it issued in
# the window: a change to an invoice issued under the candidate's own rates
# version refuses the deploy (exit 8) as above; a change to invoices of
# another version is shown in real money; a ledger that cannot be read
# fails the gate closed (exit 9).
# The Markdown report (for a GitHub job summary) goes to stdout; messages and
# the text diff go to stderr.
#
# Exit codes: 0 done; 2 usage or configuration error (also an artifact whose
# name starts with '-', like -rf.tar.gz); 3 artifact rejected (missing,
# checksum mismatch, malformed, or unsafe: an entry that is not a regular
# file or directory, a name outside its one top-level folder, which is the
# artifact's name without .tar.gz, or more than 512 MiB or 10 000 entries
# unpacked; checked before anything is unpacked); 4 promotion refused;
# 5 smoke test failed (the previous release stays live); 6 nothing to roll
# back to; 7 another deploy holds the environment's lock; 8 repricing refused
# (totals changed under the same rates version); 9 the repricing gate could
# not run (a binary failed to price the book or to diff, or to reprice the
# ledger); 10 the environment
# (or, for production, staging) is in a state this script never leaves it
# in; 11 a correction is not settled (an entry drifted, blocked, or its
# refund unknown or failed: the records say which; verify's findings too);
# 12 a correction's plan is refused (its digest is not the approved one, or
# it was applied already with another digest); 13 the repricing gate found
# nothing live in ENV and no first deploy was declared; the others as above: `current` a directory, a dangling symlink or one out of releases/,
# `current.sha256` not the symlink current/artifact.sha256, or a symlinked
# history, releases/ or .lock; nothing is changed, a person repairs it.
set -euo pipefail

readonly KEEP_RELEASES=5
readonly ENVIRONMENTS=(staging production)
# The worked example of the billing rules (README, "The billing rules"): it must price to 141.69.
readonly SMOKE_ARGS=(invoice --item 40x3 --item 15x2 --tier gold --loyalty-member --days-overdue 45 --format json)
readonly SMOKE_TOTAL=141.69
# The reference book of the repricing gate: fixed, so that every comparison
# prices the same invoices (the corner cases first, then random ones).
readonly REFERENCE_COUNT=2000
readonly REFERENCE_SEED=14
# How many of the largest changes the report lists (the demo asks for all).
readonly DIFF_TOP=${LEDGERLY_REPRICE_TOP:-20}
# The window of the ledger's invoices the gate reprices: a month and a bit,
# so a monthly billing run is always in it.
readonly REPRICE_SINCE=${LEDGERLY_REPRICE_SINCE:-35d}

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
readonly SCRIPT_PATH

say() { printf 'deploy: %s\n' "$*" >&2; }
die() {
    local code=$1
    shift
    printf 'deploy: error: %s\n' "$*" >&2
    exit "$code"
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SCRIPT_PATH" >&2
    exit 2
}

check_env_name() {
    local name=$1 known
    for known in "${ENVIRONMENTS[@]}"; do
        [[ $name == "$known" ]] && return 0
    done
    die 2 "unknown environment '$name' (expected one of: ${ENVIRONMENTS[*]})"
}

deploy_root() {
    [[ -n ${LEDGERLY_DEPLOY_ROOT:-} ]] || die 2 "LEDGERLY_DEPLOY_ROOT is not set (the directory holding staging/ and production/)"
    printf '%s\n' "$LEDGERLY_DEPLOY_ROOT"
}

# First field of a .sha256 file, checked to be a sha256 in hex.
read_checksum() {
    local file=$1 sum
    sum="$(cut -d' ' -f1 <"$file" | head -n 1 | tr 'A-F' 'a-f')"
    [[ $sum =~ ^[0-9a-f]{64}$ ]] || return 1
    printf '%s\n' "$sum"
}

# Serializes deploys and rollbacks of one environment on this host.
take_lock() {
    local env_dir=$1
    # Opening the lock file for writing would follow a symlink.
    [[ ! -L $env_dir/.lock ]] || die 10 "$env_dir/.lock is a symlink; check it and remove it by hand"
    exec 9>"$env_dir/.lock"
    if command -v flock >/dev/null; then
        flock -n 9 || die 7 "another deploy or rollback of $env_dir is running"
    fi
}

# Points `current` at $2 (relative to the environment directory) atomically:
# a new link under a temporary name, renamed over the old one.
switch_current() {
    local env_dir=$1 target=$2
    ln -sfn "$target" "$env_dir/.current.tmp.$$"
    mv -T "$env_dir/.current.tmp.$$" "$env_dir/current"
    # current.sha256 follows `current` by construction, so the two never
    # disagree (check_env_state refused any other current.sha256).
    if [[ ! -L $env_dir/current.sha256 ]]; then
        ln -sfn current/artifact.sha256 "$env_dir/.current.sha256.tmp.$$"
        mv -T "$env_dir/.current.sha256.tmp.$$" "$env_dir/current.sha256"
    fi
}

# check_env_state ENV_DIR: exits 10 unless the environment is in a state this
# script leaves it in, since an odd one would be read as "nothing live" or
# written through: `current` absent or a symlink to an existing directory in
# releases/, `current.sha256` absent or the symlink current/artifact.sha256,
# the live checksum a regular file, `history` and `releases/` no symlinks.
# What to do about an odd state is a person's call, so nothing is repaired.
check_env_state() {
    local env_dir=$1 link
    if [[ -L $env_dir/current ]]; then
        link="$(readlink "$env_dir/current")"
        [[ $link == releases/?* && /$link/ != */../* ]] ||
            die 10 "$env_dir/current points outside releases/ (-> $link); check it and remove it by hand"
        [[ -d $env_dir/current ]] ||
            die 10 "$env_dir/current is a dangling symlink (-> $link): its release is gone; remove the link, then deploy or roll back"
        [[ -f $env_dir/current/artifact.sha256 && ! -L $env_dir/current/artifact.sha256 ]] ||
            die 10 "$env_dir/current/artifact.sha256 is not a regular file; the live release is damaged"
    elif [[ -e $env_dir/current ]]; then
        die 10 "$env_dir/current is not a symlink but a $(stat -c %F -- "$env_dir/current"); this script never makes one: check what it holds and remove it by hand"
    fi
    if [[ -L $env_dir/current.sha256 || -e $env_dir/current.sha256 ]]; then
        [[ -L $env_dir/current.sha256 && $(readlink "$env_dir/current.sha256") == current/artifact.sha256 ]] ||
            die 10 "$env_dir/current.sha256 is not the symlink current/artifact.sha256; check it and remove it by hand"
    fi
    local name
    for name in history releases; do
        [[ ! -L $env_dir/$name ]] || die 10 "$env_dir/$name is a symlink; this script never makes one: check it and remove it by hand"
    done
}

live_release() {
    local env_dir=$1 link
    link="$(readlink "$env_dir/current" 2>/dev/null)" || return 0
    printf '%s\n' "${link#releases/}"
}

# Keeps the newest KEEP_RELEASES distinct releases of the history (the live
# one is always the newest) and deletes every other release directory.
prune_releases() {
    local env_dir=$1 id keep=() line
    local -A kept=()
    while IFS= read -r line; do
        id=${line%% *}
        [[ -n $id && -z ${kept[$id]:-} ]] || continue
        ((${#keep[@]} < KEEP_RELEASES)) || break
        kept[$id]=1
        keep+=("$id")
    done < <(tac "$env_dir/history" 2>/dev/null)

    local dir
    for dir in "$env_dir"/releases/*/; do
        [[ -d $dir ]] || continue
        id="$(basename "$dir")"
        if [[ -z ${kept[$id]:-} ]]; then
            say "removing old release $id"
            rm -rf "$dir"
        fi
    done
    # The history keeps only entries whose release still exists, so a
    # rollback never points at a deleted directory.
    if [[ -f $env_dir/history ]]; then
        local tmp="$env_dir/.history.tmp.$$"
        while IFS= read -r line; do
            [[ -n ${kept[${line%% *}]:-} ]] && printf '%s\n' "$line"
        done <"$env_dir/history" >"$tmp" || true
        mv -f "$tmp" "$env_dir/history"
    fi
}

# Runs the release's own binary on the worked example; the total must be 141.69.
smoke_test() {
    local release_dir=$1 output
    local timeout=${LEDGERLY_SMOKE_TIMEOUT:-30}
    if ! output="$(cd "$release_dir" && timeout "$timeout" ./ledgerly "${SMOKE_ARGS[@]}" 2>&1)"; then
        say "smoke test: ledgerly ${SMOKE_ARGS[*]} failed:"
        printf '%s\n' "$output" | sed 's/^/  /' >&2
        return 1
    fi
    # The total is a JSON string field; spacing around the colon may vary.
    if ! grep -Eq "\"total\"[[:space:]]*:[[:space:]]*\"${SMOKE_TOTAL//./\\.}\"" <<<"$output"; then
        say "smoke test: expected \"total\":\"$SMOKE_TOTAL\" for the worked example, got:"
        printf '%s\n' "$output" | sed 's/^/  /' >&2
        return 1
    fi
    say "smoke test passed: the worked example prices to $SMOKE_TOTAL"
}

# --- unpacking an artifact ------------------------------------------------

# What one release may unpack to. A release is one binary (tens of MiB) with
# its documents, completions and man page: a few dozen entries. 512 MiB and
# 10 000 entries leave room for years of growth, yet refuse a decompression
# bomb long before it fills the host, which keeps five releases per
# environment on its disk (a 21 MB archive once unpacked to 4.1 GB).
readonly MAX_UNPACKED_BYTES=$((512 * 1024 * 1024))
readonly MAX_ENTRIES=10000

# The one top-level folder ARTIFACT may hold: its name without .tar.gz.
artifact_top() {
    local artifact=$1 top
    top="$(basename -- "$artifact")"
    [[ $top == *.tar.gz ]] || die 3 "$artifact is not named *.tar.gz"
    top=${top%.tar.gz}
    [[ $top =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
        die 3 "$artifact: the name '$top' is not a release name (letters, digits and ._+- only)"
    printf '%s\n' "$top"
}

# check_listing ARTIFACT TOP LISTING: every entry of LISTING (tar -tv
# --numeric-owner --quoting-style=escape, C locale) is a regular file or a
# directory inside TOP/, and together they stay under the limits. Nothing is
# unpacked before this passes.
check_listing() {
    local artifact=$1 top=$2 listing=$3
    local line type size name part entries=0 bytes=0
    local -a parts
    while IFS= read -r line; do
        entries=$((entries + 1))
        ((entries <= MAX_ENTRIES)) ||
            die 3 "$artifact is refused: more than $MAX_ENTRIES entries (a release has a few dozen)"
        type=${line:0:1}
        # Anything but a file or a directory could reach outside the release
        # once unpacked (a link), or is no part of a release (a device, a fifo).
        case $type in
            - | d) ;;
            l) die 3 "$artifact is refused: it holds a symlink: $line" ;;
            h) die 3 "$artifact is refused: it holds a hard link: $line" ;;
            c | b) die 3 "$artifact is refused: it holds a device node: $line" ;;
            p) die 3 "$artifact is refused: it holds a fifo: $line" ;;
            *) die 3 "$artifact is refused: it holds an entry that is neither a file nor a directory: $line" ;;
        esac
        # mode, owner/group, size, date, time, then the name (which may hold
        # spaces; the escape quoting turned every other odd byte into \...).
        [[ $line =~ ^[^\ ]+\ +[0-9]+/[0-9]+\ +([0-9]+)\ +[^\ ]+\ [^\ ]+\ (.*)$ ]] ||
            die 3 "$artifact is refused: cannot read its listing line: $line"
        size=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
        [[ $name != *\\* ]] ||
            die 3 "$artifact is refused: a name with a control, non-ASCII or backslash character: $name"
        [[ $name != /* ]] || die 3 "$artifact is refused: an absolute name: $name"
        [[ $type == d ]] && name=${name%/}
        IFS=/ read -r -a parts <<<"$name"
        for part in "${parts[@]}"; do
            [[ -n $part && $part != . && $part != .. ]] ||
                die 3 "$artifact is refused: a name with an empty, . or .. component: $name"
        done
        [[ ${parts[0]} == "$top" && ($type == d || ${#parts[@]} -gt 1) ]] ||
            die 3 "$artifact must hold exactly one top-level directory, $top/, but holds $name"
        # A size no 64-bit sum can hold is over the limit anyway.
        ((${#size} <= 15)) || die 3 "$artifact is refused: $name claims $size bytes"
        bytes=$((bytes + 10#$size))
        ((bytes <= MAX_UNPACKED_BYTES)) ||
            die 3 "$artifact is refused: it unpacks to more than $((MAX_UNPACKED_BYTES / 1024 / 1024)) MiB (at $name)"
    done <"$listing"
    ((entries > 0)) || die 3 "$artifact is an empty archive"
}

# unpack_artifact ARTIFACT SHA256 WORK: unpacks ARTIFACT, whose checksum was
# verified to be SHA256, into WORK/tree/TOP, WORK being a fresh private
# directory. It unpacks a copy in WORK, checked again, so the bytes listed and
# unpacked are the bytes verified (and, in production, promoted). Exits 3
# unless the archive holds only regular files and directories under its one
# top-level folder, within the limits above.
unpack_artifact() {
    local artifact=$1 sum=$2 work=$3 top copy
    top="$(artifact_top "$artifact")" || exit $?
    copy="$work/artifact.tar.gz"
    cp -- "$artifact" "$copy" || die 3 "could not copy $artifact"
    [[ $(sha256sum -- "$copy" | cut -d' ' -f1) == "$sum" ]] ||
        die 3 "$artifact changed while it was being deployed (its sha256 is no longer $sum)"

    local status=0
    LC_ALL=C tar -tvz --numeric-owner --quoting-style=escape -f "$copy" >"$work/listing" 2>"$work/listing.err" || status=$?
    if ((status != 0)); then
        sed 's/^/  /' "$work/listing.err" >&2
        die 3 "$artifact is not a readable tar.gz archive"
    fi
    check_listing "$artifact" "$top" "$work/listing"

    mkdir "$work/tree"
    LC_ALL=C tar -xz -f "$copy" -C "$work/tree" --no-same-owner --no-same-permissions --no-overwrite-dir ||
        die 3 "could not unpack $artifact"
    # Again on disk, in case tar and this script read a listing differently:
    # only TOP, and below it only directories and files with one link each.
    local odd
    odd="$(find "$work/tree" -mindepth 1 -maxdepth 1 ! -name "$top" -print -quit)"
    [[ -z $odd ]] || die 3 "$artifact is refused: after unpacking it holds ${odd#"$work/tree/"} beside $top/"
    odd="$(find "$work/tree" -mindepth 1 \( \( ! -type f ! -type d \) -o \( -type f -links +1 \) \) -print -quit)"
    [[ -z $odd ]] || die 3 "$artifact is refused: after unpacking it holds ${odd#"$work/tree/"}, neither a file nor a directory (or a file with two names)"
    [[ -d $work/tree/$top && ! -L $work/tree/$top ]] || die 3 "$artifact has no top-level directory $top/"
}

# write_file FILE TEXT: FILE holds TEXT afterwards, written to a new file and
# renamed over FILE, so a symlink at FILE is replaced, never followed.
write_file() {
    local file=$1 text=$2 tmp
    tmp="$(mktemp "$(dirname -- "$file")/.write.XXXXXX")" || return 1
    if ! { printf '%s\n' "$text" >"$tmp" && chmod 0644 "$tmp" && mv -fT -- "$tmp" "$file"; }; then
        rm -f -- "$tmp"
        return 1
    fi
}

# --- deploy ---------------------------------------------------------------

# Checks ARTIFACT against ARTIFACT.sha256 and prints its sha256.
verify_artifact() {
    local artifact=$1 sum_file expected actual
    [[ -f $artifact ]] || die 3 "artifact $artifact does not exist"
    sum_file="$artifact.sha256"
    [[ -f $sum_file ]] || die 3 "checksum file $sum_file does not exist"
    expected="$(read_checksum "$sum_file")" || die 3 "$sum_file does not hold a sha256 checksum"
    actual="$(sha256sum -- "$artifact" | cut -d' ' -f1)"
    [[ $actual == "$expected" ]] ||
        die 3 "checksum mismatch: $artifact has sha256 $actual, $sum_file says $expected"
    say "checksum verified: $actual"
    printf '%s\n' "$actual"
}

deploy_local() {
    local env=$1 artifact=$2
    local root env_dir actual
    root="$(deploy_root)"
    env_dir="$root/$env"

    actual="$(verify_artifact "$artifact")" || exit $?

    if [[ $env == production ]]; then
        local staged_file="$root/staging/current.sha256" staged
        # What staging's checksum says is only worth promoting from a staging
        # in the state its own deploys leave it in.
        check_env_state "$root/staging"
        [[ -e $staged_file ]] || die 4 "promotion refused: staging has no live release ($staged_file is missing)"
        staged="$(read_checksum "$staged_file")" || die 4 "promotion refused: $staged_file is unreadable"
        [[ $staged == "$actual" ]] ||
            die 4 "promotion refused: artifact sha256 $actual is not live in staging (staging runs $staged)"
        say "promotion rule met: this artifact is live in staging"
    fi

    mkdir -p "$env_dir/releases"
    take_lock "$env_dir"
    check_env_state "$env_dir"

    # Unpacked in a fresh directory inside the environment (so the release
    # is moved into place, not copied) and checked before it moves.
    local incoming tops
    incoming="$(mktemp -d "$env_dir/releases/.incoming.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: the path is fixed from here on.
    trap "rm -rf '$incoming'" EXIT
    tops="$(artifact_top "$artifact")" || exit $?
    unpack_artifact "$artifact" "$actual" "$incoming"
    local unpacked="$incoming/tree/$tops"
    [[ -f $unpacked/BUILD-INFO ]] || die 3 "$artifact has no BUILD-INFO"
    [[ -f $unpacked/ledgerly && -x $unpacked/ledgerly ]] || die 3 "$artifact has no executable ledgerly"

    local version commit id
    version="$(sed -n 's/^version=//p' "$unpacked/BUILD-INFO")"
    commit="$(sed -n 's/^short_commit=//p' "$unpacked/BUILD-INFO")"
    id="$version-$commit"
    [[ -n $version && -n $commit && $id =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
        die 3 "BUILD-INFO of $artifact gives no usable version and commit (got '$id')"
    # Written by renaming a new file over the name: an artifact.sha256 of the
    # archive is replaced, never written through.
    write_file "$unpacked/artifact.sha256" "$actual  $(basename -- "$artifact")" ||
        die 3 "could not write $unpacked/artifact.sha256 (the archive holds a directory of that name?)"
    say "unpacked release $id"

    local live
    live="$(live_release "$env_dir")"
    if [[ $live == "$id" && $(read_checksum "$env_dir/current.sha256" 2>/dev/null || true) == "$actual" ]]; then
        # Redeploying what is live: check it still works, change nothing.
        smoke_test "$env_dir/current" || die 5 "smoke test failed on the live release $id"
        say "$env already runs $id ($actual); nothing to switch"
        return 0
    fi

    if ! smoke_test "$unpacked"; then
        if [[ -n $live ]]; then
            die 5 "smoke test failed; $env still runs $live"
        fi
        die 5 "smoke test failed; $env has no live release"
    fi

    if [[ $live == "$id" ]]; then
        # Same version and commit, different bytes (a rebuild): go live from
        # the incoming directory first, then copy it into place, so `current`
        # points at a complete release the whole time.
        switch_current "$env_dir" "releases/$(basename "$incoming")/tree/$tops"
        rm -rf "${env_dir:?}/releases/$id"
        cp -a "$unpacked" "$env_dir/releases/$id"
    else
        rm -rf "${env_dir:?}/releases/$id"
        mv -T "$unpacked" "$env_dir/releases/$id"
    fi
    switch_current "$env_dir" "releases/$id"
    printf '%s %s\n' "$id" "$actual" >>"$env_dir/history"
    prune_releases "$env_dir"
    say "$env now runs $id (sha256 $actual)${live:+; previous release $live}"
}

# --- the repricing gate --------------------------------------------------

# The rates version a release's `ledgerly rates --format json` reports, or
# nothing when the release predates `ledgerly rates`.
rates_version() {
    local binary=$1 json
    json="$(timeout "${LEDGERLY_SMOKE_TIMEOUT:-30}" "$binary" rates --format json 2>/dev/null)" || return 0
    sed -n 's/^{"version":\([0-9][0-9]*\)[,}].*/\1/p' <<<"$json" | head -n 1
}

# price_book BINARY BOOK OUT: the release's `ledgerly invoice` on the book.
# Exit 65 (some invoice refused) still yields one record per invoice, which
# the diff compares like any other.
price_book() {
    local binary=$1 book=$2 out=$3 status=0
    "$binary" invoice --input "$book" --format jsonl >"$out" 2>"$out.stderr" || status=$?
    if ((status != 0 && status != 65)); then
        sed 's/^/  /' "$out.stderr" >&2
        return 1
    fi
}

diff_local() {
    local env=$1 artifact=$2 root env_dir
    root="$(deploy_root)"
    env_dir="$root/$env"
    local actual
    actual="$(verify_artifact "$artifact")" || exit $?
    check_env_state "$env_dir"

    local work tops
    work="$(mktemp -d "${TMPDIR:-/tmp}/ledgerly-reprice.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: the path is fixed from here on.
    trap "rm -rf '$work'" EXIT
    tops="$(artifact_top "$artifact")" || exit $?
    unpack_artifact "$artifact" "$actual" "$work"
    mv -T "$work/tree" "$work/candidate"
    local candidate="$work/candidate/$tops/ledgerly"
    [[ -f $candidate && -x $candidate ]] || die 3 "$artifact has no executable ledgerly"
    local candidate_id
    candidate_id="$(sed -n 's/^version=//p' "$work/candidate/$tops/BUILD-INFO" 2>/dev/null)-$(sed -n 's/^short_commit=//p' "$work/candidate/$tops/BUILD-INFO" 2>/dev/null)"
    local candidate_version
    candidate_version="$(rates_version "$candidate")"
    [[ -n $candidate_version ]] || die 9 "the candidate's ledgerly rates --format json reports no rates version"

    local live title verdict code=0 book_report=""
    live="$(live_release "$env_dir")"
    if [[ -z $live ]]; then
        # Fails closed: an empty read (a mistyped root, another host) looks
        # exactly like a first deploy, so only the operator's word makes one.
        if [[ ${LEDGERLY_FIRST_DEPLOY:-} != "$env" ]]; then
            printf '### Repricing gate (%s): REFUSED: nothing live and no first deploy declared\n\n' "$env"
            printf "Nothing is live in %s under the deploy root, so the candidate \`%s\` has nothing to be compared with. If this really is the first deploy to %s, declare it (LEDGERLY_FIRST_DEPLOY=%s; in the workflow, the first-deploy input or variable); otherwise check the deploy host and root the gate reads.\n" \
                "$env" "$candidate_id" "$env" "$env"
            die 13 "repricing refused: $env has no live release and no first deploy was declared (LEDGERLY_FIRST_DEPLOY=$env); an empty read is never taken for a first deploy"
        fi
        say "repricing: $env has no live release, so there is nothing to compare $candidate_id with; a first deploy, declared by LEDGERLY_FIRST_DEPLOY=$env"
        title="passed (first deploy to $env, declared)"
        verdict="Nothing is live in $env yet, so the candidate \`$candidate_id\` has nothing to be compared with: a first deploy, declared by LEDGERLY_FIRST_DEPLOY=$env."
    else
        if [[ -n ${LEDGERLY_FIRST_DEPLOY:-} ]]; then
            say "repricing: LEDGERLY_FIRST_DEPLOY=$LEDGERLY_FIRST_DEPLOY is ignored: $env has a live release ($live)"
        fi
        local live_binary="$env_dir/releases/$live/ledgerly"
        local book="$work/reference-book.jsonl"
        say "repricing: the reference book is $REFERENCE_COUNT invoices from the candidate's ledgerly sample --seed $REFERENCE_SEED"
        "$candidate" sample --count "$REFERENCE_COUNT" --seed "$REFERENCE_SEED" --format jsonl >"$book" ||
            die 3 "the candidate $candidate_id cannot write the reference book (ledgerly sample failed)"
        # Named after the releases, so the report says which is which.
        local old="live-$live.jsonl" new="candidate-$candidate_id.jsonl"
        price_book "$live_binary" "$book" "$work/$old" || die 9 "the live release $live could not price the reference book"
        price_book "$candidate" "$book" "$work/$new" || die 9 "the candidate $candidate_id could not price the reference book"

        local live_version
        live_version="$(rates_version "$live_binary")"

        local status=0
        (cd "$work" && "$candidate" diff "$old" "$new" --top "$DIFF_TOP" --format text) >"$work/diff.txt" 2>&1 || status=$?
        sed 's/^/  /' "$work/diff.txt" >&2
        ((status == 0 || status == 1)) || die 9 "the candidate's ledgerly diff failed (exit $status)"
        # Exit 1 (differences) is expected here; the text run above judged the status.
        book_report="$(cd "$work" && { "$candidate" diff "$old" "$new" --top "$DIFF_TOP" --format markdown || true; })"

        local shown_live=${live_version:-unknown}
        if ((status == 0)); then
            title="passed: no invoice prices differently"
            verdict="No invoice of the reference book prices differently (rates version $shown_live → $candidate_version)."
        elif [[ -z $live_version ]]; then
            title="passed, for the reviewer: totals change, live rates version unknown"
            verdict="Totals change. The live release $live predates \`ledgerly rates\`, so its rates version is unknown and whether this change was declared cannot be told: review the diff before approving."
        elif [[ $live_version == "$candidate_version" ]]; then
            title="REFUSED: unintended pricing change"
            verdict="Totals change while the rates version is still $candidate_version: an unintended pricing change. If it is deliberate, bump RATES_VERSION in pricing/src/rates.rs (and the pinned fingerprint in pricing/tests/rates_version.rs) and build again."
            code=8
        else
            title="passed, for the reviewer: rates version $live_version → $candidate_version"
            verdict="The rates version changed from $live_version to $candidate_version: a declared pricing change. Review the diff before approving production."
        fi
    fi

    local ledger_report="" ledger_verdict=""
    if [[ -n ${LEDGERLY_DEPLOY_LEDGER:-} ]]; then
        reprice_ledger "$candidate" "$env" "$work"
        local undeclared changed
        undeclared="$(sed -n 's/.*"undeclared":\([0-9][0-9]*\)[,}].*/\1/p' "$work/reprice.json" | head -n 1)"
        changed="$(sed -n 's/^{.*"changed":\([0-9][0-9]*\),"unchanged".*/\1/p' "$work/reprice.json" | head -n 1)"
        [[ -n $undeclared && -n $changed ]] || die 9 "the candidate's ledgerly reprice wrote no verdict: the gate fails closed"
        ledger_report="$(cat "$work/reprice.md")"
        if ((undeclared > 0)); then
            title="REFUSED: unintended pricing change of $env's invoices"
            ledger_verdict="$undeclared invoice(s) that $env's ledger issued under rates version $candidate_version price differently with the candidate, which carries the same version: an unintended pricing change."
            code=8
        elif ((changed > 0)); then
            ledger_verdict="$changed invoice(s) that $env's ledger issued in the window (--since $REPRICE_SINCE) price differently with the candidate, all issued under another rates version: the declared change, in real customers' money."
        else
            ledger_verdict="No invoice that $env's ledger issued in the window (--since $REPRICE_SINCE) prices differently with the candidate."
        fi
        say "repricing: $ledger_verdict"
    fi

    say "repricing: $verdict"
    printf '### Repricing gate (%s): %s\n\n' "$env" "$title"
    printf -- "- candidate: \`%s\`, rates version %s\n" "$candidate_id" "$candidate_version"
    if [[ -n $live ]]; then
        printf -- "- live in %s: \`%s\`, rates version %s\n" "$env" "$live" "$shown_live"
        printf -- "- reference book: %s invoices, \`ledgerly sample --count %s --seed %s\`\n" \
            "$REFERENCE_COUNT" "$REFERENCE_COUNT" "$REFERENCE_SEED"
    else
        printf -- "- live in %s: nothing; first deploy declared (LEDGERLY_FIRST_DEPLOY=%s)\n" "$env" "$env"
    fi
    if [[ -n ${LEDGERLY_DEPLOY_LEDGER:-} ]]; then
        printf -- "- %s's ledger: the invoices it issued in the window (--since %s), read-only\n" "$env" "$REPRICE_SINCE"
    else
        printf -- "- %s's ledger: not named (LEDGERLY_DEPLOY_LEDGER), so real invoices are not repriced\n" "$env"
    fi
    printf '\n%s\n\n' "$verdict"
    [[ -n $book_report ]] && printf '%s\n\n' "$book_report"
    if [[ -n $ledger_report ]]; then
        printf '%s\n\n%s\n' "$ledger_verdict" "$ledger_report"
    fi
    if ((code != 0)); then
        die "$code" "unintended pricing change refused: totals change under the same rates version $candidate_version"
    fi
}

# reprice_ledger CANDIDATE ENV WORK: the candidate's `ledgerly reprice` of
# ENV's ledger (LEDGERLY_DEPLOY_LEDGER), read-only, into WORK/reprice.md
# and WORK/reprice.json. The ledger's location goes through the
# environment, never a command line or a message (a URL may hold a
# password). Anything but exit 0 or 1 fails the gate closed, exit 9.
reprice_ledger() {
    local candidate=$1 env=$2 work=$3 status=0
    say "repricing: the invoices $env's ledger issued in the window (--since $REPRICE_SINCE), with the candidate's rates (read-only)"
    LEDGERLY_DB="$LEDGERLY_DEPLOY_LEDGER" "$candidate" --quiet reprice --since "$REPRICE_SINCE" \
        --top "$DIFF_TOP" --format markdown --summary "$work/reprice.json" \
        >"$work/reprice.md" 2>"$work/reprice.stderr" || status=$?
    if ((status != 0 && status != 1)); then
        sed 's/^/  /' "$work/reprice.stderr" >&2
        printf '### Repricing gate (%s): REFUSED: the ledger could not be repriced\n\n' "$env"
        printf "The candidate's \`ledgerly reprice\` of %s's ledger (LEDGERLY_DEPLOY_LEDGER) exited %s, so what this release does to real invoices is unknown: the gate fails closed.\n" "$env" "$status"
        die 9 "the candidate could not reprice $env's ledger (exit $status): the gate fails closed"
    fi
}

# --- rollback -------------------------------------------------------------

# The live release's binary in ENV, or exit 2 when nothing is live.
live_binary() {
    local env_dir=$1
    check_env_state "$env_dir"
    [[ -x $env_dir/current/ledgerly ]] || die 2 "nothing is live in $env_dir: a correction runs with the live release"
    printf '%s\n' "$env_dir/current/ledgerly"
}

# A correction's id as a directory name: letters, digits, '.', '_', '-'.
correction_dir() {
    local env_dir=$1 id=$2
    [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] ||
        die 2 "correction id '$id' must be letters, digits, '.', '_' or '-' (it names a directory)"
    printf '%s\n' "$env_dir/corrections/$id"
}

correction_db() {
    [[ -n ${LEDGERLY_CORRECTION_DB:-} ]] ||
        die 2 "LEDGERLY_CORRECTION_DB is not set (the ledger the correction works on)"
    printf '%s\n' "$LEDGERLY_CORRECTION_DB"
}

# correct-plan ENV ID FINGERPRINT: the plan, written on the host; its Markdown
# summary on stdout. Planning changes nothing in the ledger.
correct_plan_local() {
    local env=$1 id=$2 wrong=$3 root env_dir binary dir db status=0
    root="$(deploy_root)"
    env_dir="$root/$env"
    binary="$(live_binary "$env_dir")"
    dir="$(correction_dir "$env_dir" "$id")"
    db="$(correction_db)"
    [[ ! -e $dir/applied ]] || die 12 "correction $id was applied already (with $(cat "$dir/applied")); plan a new id"
    mkdir -p "$dir"
    "$binary" correct plan --db "$db" --wrong-rates "$wrong" --correction "$id" \
        >"$dir/plan.jsonl.tmp" 2>"$dir/plan.stderr" || status=$?
    ((status == 0 || status == 1)) || {
        cat "$dir/plan.stderr" >&2
        die 9 "the live release could not plan correction $id (exit $status)"
    }
    mv "$dir/plan.jsonl.tmp" "$dir/plan.jsonl"
    local digest entries
    digest="$(sed -n 's/^plan digest: \(sha256:[0-9a-f]*\).*/\1/p' "$dir/plan.stderr")"
    [[ -n $digest ]] || die 9 "the live release printed no plan digest"
    entries="$(grep -c . "$dir/plan.jsonl" || true)"
    say "correction $id: $entries invoice(s) to correct, plan digest $digest"
    # The summary is planned again from the same ledger; a different digest
    # means the ledger changed in between, and the plan must be made again.
    local summary_digest
    "$binary" correct plan --db "$db" --wrong-rates "$wrong" --correction "$id" --format markdown \
        2>"$dir/summary.stderr" || true
    summary_digest="$(sed -n 's/^plan digest: \(sha256:[0-9a-f]*\).*/\1/p' "$dir/summary.stderr")"
    [[ $summary_digest == "$digest" ]] ||
        die 9 "the ledger changed while correction $id was planned ($digest, then $summary_digest): plan again"
}

# correct-apply ENV ID DIGEST: the stored plan applied if its digest is the
# approved one, then verified. The records go to stdout.
correct_apply_local() {
    local env=$1 id=$2 digest=$3 root env_dir binary dir db status=0
    root="$(deploy_root)"
    env_dir="$root/$env"
    binary="$(live_binary "$env_dir")"
    dir="$(correction_dir "$env_dir" "$id")"
    db="$(correction_db)"
    [[ -f $dir/plan.jsonl ]] || die 12 "no plan of correction $id on this host: run correct-plan first"
    if [[ -e $dir/applied && $(cat "$dir/applied") != "$digest" ]]; then
        die 12 "correction $id was applied with $(cat "$dir/applied"), not $digest"
    fi
    "$binary" correct apply --db "$db" --plan "$dir/plan.jsonl" --expect-digest "$digest" || status=$?
    case $status in
        0) printf '%s\n' "$digest" >"$dir/applied" ;;
        1)
            printf '%s\n' "$digest" >"$dir/applied"
            die 11 "correction $id is not settled: see the records above; run correct-apply again after reconcile"
            ;;
        65) die 12 "the plan of correction $id is not the approved one ($digest): nothing was applied" ;;
        *) die 9 "the live release could not apply correction $id (exit $status)" ;;
    esac
    if [[ ! -s $dir/plan.jsonl ]]; then
        say "correction $id: the plan lists nothing, so nothing was written and there is nothing to verify"
        return 0
    fi
    status=0
    "$binary" correct verify --db "$db" --correction "$id" >&2 || status=$?
    ((status == 0)) || die 11 "correction $id does not verify (exit $status): see its findings above"
    say "correction $id applied and verified"
}

rollback_local() {
    local env=$1 root env_dir
    root="$(deploy_root)"
    env_dir="$root/$env"
    [[ -d $env_dir ]] || die 6 "$env has never been deployed ($env_dir does not exist)"
    take_lock "$env_dir"
    check_env_state "$env_dir"

    local live previous="" line lines=()
    live="$(live_release "$env_dir")"
    [[ -n $live ]] || die 6 "$env has no live release"
    [[ -f $env_dir/history ]] && mapfile -t lines <"$env_dir/history"
    # The history is a stack: drop the live entry, then the newest entry
    # below it that still exists on disk is the release to restore.
    local i
    for ((i = ${#lines[@]} - 2; i >= 0; i--)); do
        line=${lines[i]}
        if [[ ${line%% *} != "$live" && -d $env_dir/releases/${line%% *} ]]; then
            previous=${line%% *}
            break
        fi
    done
    [[ -n $previous ]] || die 6 "$env has no earlier release to roll back to (live: $live)"

    smoke_test "$env_dir/releases/$previous" || die 5 "smoke test failed on $previous; $env still runs $live"
    switch_current "$env_dir" "releases/$previous"
    # Pop the history down to the restored release, so a second rollback
    # goes one further back.
    printf '%s\n' "${lines[@]:0:i+1}" >"$env_dir/.history.tmp.$$"
    mv -f "$env_dir/.history.tmp.$$" "$env_dir/history"
    say "$env rolled back from $live to $previous (sha256 $(read_checksum "$env_dir/current.sha256"))"
}

status_local() {
    local env=$1 env_dir
    env_dir="$(deploy_root)/$env"
    check_env_state "$env_dir"
    local live
    live="$(live_release "$env_dir")"
    if [[ -z $live ]]; then
        printf '%s: no live release\n' "$env"
        return 0
    fi
    printf '%s: live %s sha256 %s\n' "$env" "$live" "$(read_checksum "$env_dir/current.sha256" || echo '?')"
    printf 'history (oldest first):\n'
    sed 's/^/  /' "$env_dir/history" 2>/dev/null || true
}

# --- over SSH -------------------------------------------------------------

ssh_options() {
    local options=(-o BatchMode=yes -o StrictHostKeyChecking=yes)
    [[ -n ${LEDGERLY_DEPLOY_SSH_PORT:-} ]] && options+=(-o "Port=$LEDGERLY_DEPLOY_SSH_PORT")
    [[ -n ${LEDGERLY_DEPLOY_SSH_KEY:-} ]] && options+=(-o "IdentityFile=$LEDGERLY_DEPLOY_SSH_KEY" -o IdentitiesOnly=yes)
    [[ -n ${LEDGERLY_DEPLOY_KNOWN_HOSTS:-} ]] && options+=(-o "UserKnownHostsFile=$LEDGERLY_DEPLOY_KNOWN_HOSTS")
    printf '%s\n' "${options[@]}"
}

# Runs this same script on the host, so the SSH path executes exactly the
# code the local tests cover; only the transport differs.
# remote ACTION ENV [ARTIFACT] [ARG...], ACTION one of deploy, diff,
# rollback, status, correct-plan, correct-apply (whose two arguments follow
# an empty ARTIFACT).
remote() {
    local action=$1 env=$2 artifact=${3:-}
    local extra=("${@:4}")
    local host=$LEDGERLY_DEPLOY_HOST root options=()
    root="$(deploy_root)"
    mapfile -t options < <(ssh_options)

    local workdir
    workdir="$(ssh "${options[@]}" "$host" 'mktemp -d /tmp/ledgerly-deploy.XXXXXX')" ||
        die 2 "cannot reach $host over SSH"
    local files=("$SCRIPT_PATH") args=()
    case $action in
        rollback | status) args=("$action" "$env") ;;
        correct-plan | correct-apply) args=("$action" "$env" "${extra[@]}") ;;
        *)
            [[ -f $artifact && -f $artifact.sha256 ]] ||
                die 3 "artifact $artifact or its checksum $artifact.sha256 does not exist"
            files+=("$artifact" "$artifact.sha256")
            args=("$env" "$workdir/$(basename "$artifact")")
            [[ $action == diff ]] && args=(diff "${args[@]}")
            ;;
    esac
    say "copying ${#files[@]} file(s) to $host:$workdir"
    scp -q "${options[@]}" "${files[@]}" "$host:$workdir/"

    local command status=0
    # LEDGERLY_DEPLOY_HOST is cleared so the copy on the host deploys locally.
    # The two ledgers' locations (URLs that may hold a password) go through
    # ssh's stdin, one line each, never a command line that `ps` shows.
    command="IFS= read -r LEDGERLY_CORRECTION_DB; IFS= read -r LEDGERLY_DEPLOY_LEDGER; export LEDGERLY_CORRECTION_DB LEDGERLY_DEPLOY_LEDGER; "
    command+="$(printf '%q ' env LEDGERLY_DEPLOY_HOST= "LEDGERLY_DEPLOY_ROOT=$root" \
        "LEDGERLY_SMOKE_TIMEOUT=${LEDGERLY_SMOKE_TIMEOUT:-30}" "LEDGERLY_REPRICE_TOP=$DIFF_TOP" \
        "LEDGERLY_FIRST_DEPLOY=${LEDGERLY_FIRST_DEPLOY:-}" "LEDGERLY_REPRICE_SINCE=$REPRICE_SINCE" \
        bash "$workdir/$(basename "$SCRIPT_PATH")" "${args[@]}")"
    # shellcheck disable=SC2029 # expanding here is the point: every word is %q-quoted.
    printf '%s\n%s\n' "${LEDGERLY_CORRECTION_DB:-}" "${LEDGERLY_DEPLOY_LEDGER:-}" |
        ssh "${options[@]}" "$host" "$command" || status=$?
    # shellcheck disable=SC2029 # as above: the path is %q-quoted on this side.
    ssh "${options[@]}" "$host" "rm -rf $(printf '%q' "$workdir")" || say "could not remove $host:$workdir"
    return "$status"
}

main() {
    local action env artifact=""
    if [[ ${1:-} == correct-plan || ${1:-} == correct-apply ]]; then
        (($# == 4)) || usage
        check_env_name "$2"
        if [[ -n ${LEDGERLY_DEPLOY_HOST:-} ]]; then
            remote "$1" "$2" "" "$3" "$4"
            return
        fi
        case $1 in
            correct-plan) correct_plan_local "$2" "$3" "$4" ;;
            correct-apply) correct_apply_local "$2" "$3" "$4" ;;
        esac
        return
    fi
    if [[ ${1:-} == diff ]]; then
        (($# == 3)) || usage
        action="diff"
        env=$2
        artifact=$3
    elif (($# != 2)); then
        usage
    elif [[ $1 == rollback || $1 == status ]]; then
        action=$1
        env=$2
    else
        action=deploy
        env=$1
        artifact=$2
    fi
    check_env_name "$env"
    # A name like -rf.tar.gz would be read as options by a command that is
    # not given `--` (scp, on the SSH path, takes none); ./-rf.tar.gz too,
    # since the copy on the host is named by its base name.
    if [[ -n $artifact && ($artifact == -* || $(basename -- "$artifact") == -*) ]]; then
        die 2 "refusing the artifact '$artifact': its name starts with '-', like an option; rename it"
    fi

    if [[ -n ${LEDGERLY_DEPLOY_HOST:-} ]]; then
        remote "$action" "$env" "$artifact"
        return
    fi
    case $action in
        deploy) deploy_local "$env" "$artifact" ;;
        diff) diff_local "$env" "$artifact" ;;
        rollback) rollback_local "$env" ;;
        status) status_local "$env" ;;
    esac
}

main "$@"
