#!/usr/bin/env bash
# Makes sure `promtool` (Prometheus' checker, used by the /metrics tests) is on
# PATH. Installs Debian's `prometheus` package, which ships it, when running as
# root with apt-get; otherwise says in one line what to install. Does nothing
# when promtool is already there.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/ensure-promtool.sh: promtool not found; install it (Debian/Ubuntu: apt-get install prometheus)" >&2
    exit 1
fi

echo "tools/ensure-promtool.sh: installing Debian's prometheus package for promtool"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Only the binaries are needed; the package's service is not started here.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null

if ! command -v promtool >/dev/null 2>&1; then
    echo "tools/ensure-promtool.sh: prometheus installed but promtool is still not on PATH" >&2
    exit 1
fi
