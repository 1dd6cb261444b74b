# shellcheck shell=bash disable=SC2034
# Shared helpers for scripts/*. Sourced, never executed.

# The repository root is derived from this file's location so that a clone
# anywhere (CI, a fresh machine) works.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$REPO/.work"
VENV="$WORK/venv"
IMAGE_DIR="$WORK/image/busybox-oci"
TESTENV="$WORK/testenv"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
# Each section says when it starts, in seconds since the script began, so
# that a CI log shows where the time goes.
section() { printf '\n==================== %s [+%d s] ====================\n' "$*" "$SECONDS"; }

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root (containerd, runc and network namespaces need it)"
}

# pid_alive FILE: true when FILE names a running process. Zombies count as
# dead: this machine's init reaps orphans only after a delay.
pid_alive() {
    [ -s "$1" ] || return 1
    alive "$(cat "$1")"
}

# alive PID: the process exists and is not a zombie.
alive() {
    local state
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{ print $3 }' 2>/dev/null <"/proc/$1/stat")" || return 1
    [ "$state" != Z ] && [ "$state" != X ]
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.2s until it succeeds.
wait_for() {
    local secs="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "timed out after ${secs}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}
