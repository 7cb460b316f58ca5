#!/usr/bin/env bash
# Makes sure `docker-compose` is on PATH: the deployment tests validate
# docker-compose.yml with `docker-compose config -q` (no Docker engine is
# needed for that). Installs Debian's `docker-compose` package when running
# as root with apt-get; otherwise says in one line what to install. Does
# nothing when it is already there.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/ensure-docker-compose.sh: docker-compose not found; install it (Debian/Ubuntu: apt-get install docker-compose)" >&2
    exit 1
fi

echo "tools/ensure-docker-compose.sh: installing Debian's docker-compose package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends docker-compose >/dev/null

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "tools/ensure-docker-compose.sh: docker-compose installed but still not on PATH" >&2
    exit 1
fi
