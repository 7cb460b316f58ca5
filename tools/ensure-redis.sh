#!/usr/bin/env bash
# Makes sure `redis-server` is on PATH: the redis backend and fault tests
# start their own server on a free port. Installs Debian's `redis-server`
# package when running as root with apt-get; otherwise says in one line what
# to install (or to point FLIPT_TEST_REDIS_URL at a Redis). Does nothing when
# it is already there. The package's own service is not needed: tests run
# their servers as child processes.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

if [[ -n "${FLIPT_TEST_REDIS_URL:-}" ]]; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/ensure-redis.sh: redis-server not found; install it (Debian/Ubuntu: apt-get install redis-server) or set FLIPT_TEST_REDIS_URL=redis://host:port" >&2
    exit 1
fi

echo "tools/ensure-redis.sh: installing Debian's redis-server package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null

if ! command -v redis-server >/dev/null 2>&1; then
    echo "tools/ensure-redis.sh: redis-server installed but still not on PATH" >&2
    exit 1
fi
