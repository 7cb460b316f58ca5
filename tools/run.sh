#!/usr/bin/env bash
# `make run`: builds the services and runs them natively on the demo flags
# (deploy/flags) with the memory cache backend, prints the endpoints, and
# stops them all on Ctrl-C. Ports are the defaults of DESIGN.md §3.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v cargo >/dev/null 2>&1; then
    echo "make run: cargo not found; install the Rust toolchain (rustup) first" >&2
    exit 1
fi

services=(flipt-cache flipt-evaluation)
[[ -d crates/flipt-telemetry-reporter ]] && services+=(flipt-telemetry-reporter)

tools/release.sh
bin="$root/target/release"

for port in 8080 8081 8082 9000 9001 9002; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "make run: port $port is already in use; stop what listens there (e.g. an earlier make run) and retry" >&2
        exit 1
    fi
done

# Usage telemetry is off for local runs; see docs/telemetry.md to turn it on.
export FLIPT_META_TELEMETRY_ENABLED="${FLIPT_META_TELEMETRY_ENABLED:-false}"
export FLIPT_LOG_LEVEL="${FLIPT_LOG_LEVEL:-info}"
# The internal gRPC APIs (cache, telemetry reporter) accept only callers
# holding this token; a fresh random one per run unless one is given.
export FLIPT_SERVICES_INTERNAL_TOKEN="${FLIPT_SERVICES_INTERNAL_TOKEN:-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')}"

pids=()
stop() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

if [[ " ${services[*]} " == *" flipt-telemetry-reporter "* ]]; then
    "$bin/flipt-telemetry-reporter" & pids+=($!)
else
    export FLIPT_SERVICES_TELEMETRY_ADDRESS=""
fi
FLIPT_STORAGE_LOCAL_PATH="$root/deploy/flags" "$bin/flipt-cache" & pids+=($!)
"$bin/flipt-evaluation" & pids+=($!)

# Wait (bounded) for the evaluation service to report SERVING.
for _ in $(seq 1 100); do
    if curl -fsS http://127.0.0.1:8080/health >/dev/null 2>&1; then break; fi
    sleep 0.1
done

cat <<'MSG'

  evaluation  gRPC 127.0.0.1:9000   REST/metrics/health http://127.0.0.1:8080
  cache       gRPC 127.0.0.1:9001   metrics/health      http://127.0.0.1:8081
  telemetry   gRPC 127.0.0.1:9002   metrics/health      http://127.0.0.1:8082   (pings off: docs/telemetry.md)

  try:  curl -s -X POST http://127.0.0.1:8080/evaluate/v1/variant \
          -d '{"namespaceKey":"checkout","flagKey":"payment-provider","entityId":"user-42"}'

  Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
