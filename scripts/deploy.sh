#!/usr/bin/env bash
# scripts/deploy.sh — deploys one release artifact built by `scripts/ci build`
# to an environment, or rolls an environment back.
#
# Usage:
#   scripts/deploy.sh ENV ARTIFACT     deploy ARTIFACT (ledgerly-*.tar.gz; its
#                                      checksum is ARTIFACT.sha256) to ENV
#   scripts/deploy.sh rollback ENV     make the previously live release live again
#   scripts/deploy.sh status ENV       show the live release and the history
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
#
# Layout of an environment directory:
#   releases/<version>-<commit>/   one unpacked artifact each, at most five kept
#   current -> releases/<id>       the live release, switched atomically
#   current.sha256 -> current/artifact.sha256   the live artifact's checksum
#   history                        the stack of releases made live, newest last
#
# Exit codes: 0 done; 2 usage or configuration error; 3 artifact rejected
# (missing, checksum mismatch, malformed); 4 promotion refused; 5 smoke test
# failed (the previous release stays live); 6 nothing to roll back to;
# 7 another deploy holds the environment's lock.
set -euo pipefail

readonly KEEP_RELEASES=5
readonly ENVIRONMENTS=(staging production)
# The worked example of the billing rules (README, "The billing rules"): it must price to 141.69.
readonly SMOKE_ARGS=(invoice --item 40x3 --item 15x2 --tier gold --loyalty-member --days-overdue 45 --format json)
readonly SMOKE_TOTAL=141.69

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
    # current.sha256 follows `current` by construction, so the two never disagree.
    [[ -L $env_dir/current.sha256 ]] || ln -sfn current/artifact.sha256 "$env_dir/current.sha256"
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

# --- deploy ---------------------------------------------------------------

deploy_local() {
    local env=$1 artifact=$2
    local root env_dir sum_file expected actual
    root="$(deploy_root)"
    env_dir="$root/$env"

    [[ -f $artifact ]] || die 3 "artifact $artifact does not exist"
    sum_file="$artifact.sha256"
    [[ -f $sum_file ]] || die 3 "checksum file $sum_file does not exist"
    expected="$(read_checksum "$sum_file")" || die 3 "$sum_file does not hold a sha256 checksum"
    actual="$(sha256sum "$artifact" | cut -d' ' -f1)"
    [[ $actual == "$expected" ]] ||
        die 3 "checksum mismatch: $artifact has sha256 $actual, $sum_file says $expected"
    say "checksum verified: $actual"

    if [[ $env == production ]]; then
        local staged_file="$root/staging/current.sha256" staged
        [[ -e $staged_file ]] || die 4 "promotion refused: staging has no live release ($staged_file is missing)"
        staged="$(read_checksum "$staged_file")" || die 4 "promotion refused: $staged_file is unreadable"
        [[ $staged == "$actual" ]] ||
            die 4 "promotion refused: artifact sha256 $actual is not live in staging (staging runs $staged)"
        say "promotion rule met: this artifact is live in staging"
    fi

    mkdir -p "$env_dir/releases"
    take_lock "$env_dir"

    local incoming
    incoming="$(mktemp -d "$env_dir/releases/.incoming.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: the path is fixed from here on.
    trap "rm -rf '$incoming'" EXIT

    # The archive must hold exactly one top-level directory; GNU tar already
    # refuses absolute names and `..` members.
    local tops
    tops="$(tar -tzf "$artifact" | cut -d/ -f1 | sort -u)" || die 3 "$artifact is not a readable tar.gz archive"
    [[ $(wc -l <<<"$tops") -eq 1 && -n $tops ]] || die 3 "$artifact must hold exactly one top-level directory, found: $(tr '\n' ' ' <<<"$tops")"
    tar -xzf "$artifact" -C "$incoming" --no-same-owner --no-same-permissions ||
        die 3 "could not unpack $artifact"
    local unpacked="$incoming/$tops"
    [[ -f $unpacked/BUILD-INFO ]] || die 3 "$artifact has no BUILD-INFO"
    [[ -f $unpacked/ledgerly && -x $unpacked/ledgerly ]] || die 3 "$artifact has no executable ledgerly"

    local version commit id
    version="$(sed -n 's/^version=//p' "$unpacked/BUILD-INFO")"
    commit="$(sed -n 's/^short_commit=//p' "$unpacked/BUILD-INFO")"
    id="$version-$commit"
    [[ -n $version && -n $commit && $id =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
        die 3 "BUILD-INFO of $artifact gives no usable version and commit (got '$id')"
    printf '%s  %s\n' "$actual" "$(basename "$artifact")" >"$unpacked/artifact.sha256"
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
        switch_current "$env_dir" "releases/$(basename "$incoming")/$tops"
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

# --- rollback -------------------------------------------------------------

rollback_local() {
    local env=$1 root env_dir
    root="$(deploy_root)"
    env_dir="$root/$env"
    [[ -d $env_dir ]] || die 6 "$env has never been deployed ($env_dir does not exist)"
    take_lock "$env_dir"

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
remote() {
    local host=$LEDGERLY_DEPLOY_HOST root options=()
    root="$(deploy_root)"
    mapfile -t options < <(ssh_options)

    local workdir
    workdir="$(ssh "${options[@]}" "$host" 'mktemp -d /tmp/ledgerly-deploy.XXXXXX')" ||
        die 2 "cannot reach $host over SSH"
    local files=("$SCRIPT_PATH") args=()
    if [[ $1 == rollback || $1 == status ]]; then
        args=("$1" "$2")
    else
        [[ -f $2 && -f $2.sha256 ]] || die 3 "artifact $2 or its checksum $2.sha256 does not exist"
        files+=("$2" "$2.sha256")
        args=("$1" "$workdir/$(basename "$2")")
    fi
    say "copying ${#files[@]} file(s) to $host:$workdir"
    scp -q "${options[@]}" "${files[@]}" "$host:$workdir/"

    local command status=0
    # LEDGERLY_DEPLOY_HOST is cleared so the copy on the host deploys locally.
    command="$(printf '%q ' env LEDGERLY_DEPLOY_HOST= "LEDGERLY_DEPLOY_ROOT=$root" \
        "LEDGERLY_SMOKE_TIMEOUT=${LEDGERLY_SMOKE_TIMEOUT:-30}" \
        bash "$workdir/$(basename "$SCRIPT_PATH")" "${args[@]}")"
    # shellcheck disable=SC2029 # expanding here is the point: every word is %q-quoted.
    ssh "${options[@]}" "$host" "$command" || status=$?
    # shellcheck disable=SC2029 # as above: the path is %q-quoted on this side.
    ssh "${options[@]}" "$host" "rm -rf $(printf '%q' "$workdir")" || say "could not remove $host:$workdir"
    return "$status"
}

main() {
    (($# == 2)) || usage
    local action env artifact=""
    if [[ $1 == rollback || $1 == status ]]; then
        action=$1
        env=$2
    else
        action=deploy
        env=$1
        artifact=$2
    fi
    check_env_name "$env"

    if [[ -n ${LEDGERLY_DEPLOY_HOST:-} ]]; then
        if [[ $action == deploy ]]; then
            remote "$env" "$artifact"
        else
            remote "$action" "$env"
        fi
        return
    fi
    case $action in
        deploy) deploy_local "$env" "$artifact" ;;
        rollback) rollback_local "$env" ;;
        status) status_local "$env" ;;
    esac
}

main "$@"
