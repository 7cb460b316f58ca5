#!/usr/bin/env bash
# The workspace's one release build: every binary, one feature resolution.
# `make run`, `make stack`, `make bench` and `make soak` all call this, so a
# newcomer pays for the release build once and the later targets reuse it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found; install the Rust toolchain (rustup) first" >&2
    exit 1
fi
exec cargo build --release --workspace --bins "$@"
