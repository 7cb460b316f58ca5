#!/usr/bin/env bash
# Makes sure `chromium` is on PATH: the OFREP web provider test loads a page
# in Debian's headless Chromium (crates/flipt-e2e/tests/it/clients/
# openfeature_browser.rs). Installs Debian's `chromium` package when running
# as root with apt-get; otherwise says in one line what to install. Does
# nothing when it is already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/ensure-chromium.sh: chromium not found; install it (Debian/Ubuntu: apt-get install chromium)" >&2
    exit 1
fi

echo "tools/ensure-chromium.sh: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null

if ! command -v chromium >/dev/null 2>&1; then
    echo "tools/ensure-chromium.sh: chromium installed but still not on PATH" >&2
    exit 1
fi
