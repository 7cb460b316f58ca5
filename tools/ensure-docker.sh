#!/usr/bin/env bash
# Makes sure a Docker Engine answers on this machine: installs Debian's
# `docker.io` (dockerd, containerd, runc) when `dockerd` is missing, starts
# `dockerd` when no engine answers, and waits for it (at most
# DOCKER_START_TIMEOUT seconds, 60 by default). An engine that already
# answers is left alone. When any of this cannot be done it stops with one
# line saying what to do.
set -euo pipefail

me="tools/ensure-docker.sh"
timeout_s="${DOCKER_START_TIMEOUT:-60}"
log="${DOCKERD_LOG:-/var/log/flipt-dockerd.log}"

fail() {
    echo "$me: $*" >&2
    exit 1
}

engine_answers() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

if engine_answers; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        fail "no Docker Engine answers and dockerd is not installed; install Docker (Debian/Ubuntu as root: apt-get install docker.io) and start it"
    fi
    echo "$me: installing Debian's docker.io package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null \
        || fail "apt-get install docker.io failed; install Docker and start dockerd, then run make test again"
fi

if [[ "$(id -u)" -ne 0 ]]; then
    fail "no Docker Engine answers; start it (as root: dockerd, or systemctl start docker) or add yourself to the docker group"
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "$me: starting dockerd (log: $log)"
    setsid dockerd >>"$log" 2>&1 </dev/null &
fi

deadline=$((SECONDS + timeout_s))
while ((SECONDS < deadline)); do
    if engine_answers; then
        exit 0
    fi
    sleep 1
done
fail "dockerd did not answer within ${timeout_s}s (see $log: the last line says why); fix that and run make test again"
