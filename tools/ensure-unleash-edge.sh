#!/usr/bin/env bash
# Makes sure the Unleash Edge binary of the bench's peer row is installed:
# `cargo install --locked` of the pinned release into
# ~/.cache/flipt-bench/unleash-edge (about 15 minutes on two cores, once).
# `--locked` matters: without it the resolver picks newer dependencies that
# Edge's own do not build against. Never fails: when the install does not
# work, it says so in one line and the bench prints the peer row as skipped.
# FLIPT_BENCH_UNLEASH_EDGE names a binary to use instead; FLIPT_BENCH_NO_PEER=1
# skips the install.
set -euo pipefail

VERSION=20.1.0
ROOT="${HOME}/.cache/flipt-bench/unleash-edge"

if [[ -n "${FLIPT_BENCH_UNLEASH_EDGE:-}" || "${FLIPT_BENCH_NO_PEER:-}" == 1 ]]; then
    exit 0
fi
# cargo install records what it installed; Edge has no --version flag.
if [[ -x "${ROOT}/bin/unleash-edge" ]] \
    && grep -q "^\"unleash-edge ${VERSION} " "${ROOT}/.crates.toml" 2>/dev/null; then
    exit 0
fi

mkdir -p "$(dirname "${ROOT}")"
echo "tools/ensure-unleash-edge.sh: installing Unleash Edge ${VERSION} for the peer row (cargo install --locked, about 15 min)"
if ! cargo install --locked --version "${VERSION}" --root "${ROOT}" unleash-edge \
    >"${ROOT}.install.log" 2>&1; then
    echo "tools/ensure-unleash-edge.sh: installing Unleash Edge failed (log: ${ROOT}.install.log); the bench skips the peer row" >&2
fi
exit 0
