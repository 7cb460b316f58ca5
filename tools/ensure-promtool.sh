#!/usr/bin/env bash
# Makes sure `promtool` (Prometheus' checker, used by the /metrics tests) and
# `prometheus` (the live dashboard test scrapes the services with it) are on
# PATH. Installs Debian's `prometheus` package, which ships both, when running
# as root with apt-get; otherwise says in one line what to install. Does
# nothing when both are already there.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/ensure-promtool.sh: promtool or prometheus not found; install them (Debian/Ubuntu: apt-get install prometheus)" >&2
    exit 1
fi

echo "tools/ensure-promtool.sh: installing Debian's prometheus package for promtool"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Only the binaries are needed; the package's service is not started here.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    echo "tools/ensure-promtool.sh: prometheus installed but promtool or prometheus is still not on PATH" >&2
    exit 1
fi
