#!/usr/bin/env bash
# Installs the JavaScript packages the client tests drive (Flipt's npm SDKs,
# pinned in tests/clients/package-lock.json) into tests/clients/node_modules
# with `npm ci`. Runs npm only when the lock file or the Node.js version
# changed since the last install, so a run on an up-to-date tree is instant.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/clients"
lock="$dir/package-lock.json"
stamp="$dir/node_modules/.install.stamp"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "tools/node.sh: $tool not found; install Node.js 20 or later with npm (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
done

# The stamp names the Node.js version as well as the lock, so packages
# installed under another Node.js are reinstalled rather than half-used.
want="$(node --version) $(sha256sum "$lock" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

echo "tools/node.sh: installing tests/clients/package-lock.json into tests/clients/node_modules"
# `npm ci` installs exactly the lock and fails if package.json disagrees.
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
echo "$want" >"$stamp"
