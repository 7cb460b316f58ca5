#!/usr/bin/env bash
# `make stack`: the compose stack without Docker. Builds and runs the three
# services natively on the demo flags (memory cache backend), a native
# Prometheus scraping them with deploy/prometheus/prometheus.yml (targets
# rewritten to 127.0.0.1), and the demo load generator; prints the URLs and
# stops everything on Ctrl-C. Grafana is not started: Debian does not ship
# it; the dashboards' queries can be tried in Prometheus' own UI.
#
#   STACK_LOAD_RATE=0 make stack     # no demo load
#   STACK_DIR=/tmp/x make stack      # keep Prometheus data there
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { echo "make stack: $*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
    say "cargo not found; install the Rust toolchain (rustup) first"
    exit 1
fi
if ! command -v prometheus >/dev/null 2>&1; then
    tools/ensure-promtool.sh
fi

rate="${STACK_LOAD_RATE:-10}"
work="${STACK_DIR:-$(mktemp -d -t flipt-stack.XXXXXX)}"
mkdir -p "$work/prometheus-data"

for port in 8080 8081 8082 9000 9001 9002 9090; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        say "port $port is already in use; stop what listens there (e.g. make run) and retry"
        exit 1
    fi
done

tools/release.sh
bin="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"

# The compose scrape config with each service's compose host name replaced
# by 127.0.0.1; job names and ports stay, so the dashboards' queries match.
sed -e 's/"evaluation:8080"/"127.0.0.1:8080"/' \
    -e 's/"cache:8081"/"127.0.0.1:8081"/' \
    -e 's/"telemetry-reporter:8082"/"127.0.0.1:8082"/' \
    deploy/prometheus/prometheus.yml >"$work/prometheus.yml"
if grep -qE '"(evaluation|cache|telemetry-reporter):' "$work/prometheus.yml"; then
    say "deploy/prometheus/prometheus.yml has a target this script does not rewrite"
    exit 1
fi
promtool check config "$work/prometheus.yml" >/dev/null

# Usage telemetry is off for local runs unless asked for.
export FLIPT_TELEMETRY_ENABLED="${FLIPT_TELEMETRY_ENABLED:-false}"
export FLIPT_LOG_LEVEL="${FLIPT_LOG_LEVEL:-info}"
# The internal gRPC APIs (cache, telemetry reporter) accept only callers
# holding this token; a fresh random one per run unless one is given.
export FLIPT_SERVICES_INTERNAL_TOKEN="${FLIPT_SERVICES_INTERNAL_TOKEN:-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')}"
export FLIPT_META_STATE_DIRECTORY="$work"

pids=()
stop() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Waits (bounded, 20 s) until the gRPC health service at $1 says SERVING.
wait_serving() {
    for _ in $(seq 1 200); do
        if "$bin/flipt-healthcheck" "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    say "$1 did not report SERVING within 20s"
    return 1
}

"$bin/flipt-telemetry-reporter" & pids+=($!)
wait_serving http://127.0.0.1:9002
FLIPT_STORAGE_LOCAL_PATH="$root/deploy/flags" "$bin/flipt-cache" & pids+=($!)
wait_serving http://127.0.0.1:9001
"$bin/flipt-evaluation" & pids+=($!)
wait_serving http://127.0.0.1:9000

prometheus --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/prometheus-data" \
    --web.listen-address=127.0.0.1:9090 \
    --log.level=warn & pids+=($!)

if [[ "$rate" != "0" ]]; then
    "$bin/flipt-loadgen" --rate "$rate" --report-every 60s & pids+=($!)
fi

cat <<MSG

  evaluation  gRPC 127.0.0.1:9000   REST/metrics/health http://127.0.0.1:8080
  cache       gRPC 127.0.0.1:9001   metrics/health      http://127.0.0.1:8081
  telemetry   gRPC 127.0.0.1:9002   metrics/health      http://127.0.0.1:8082
  Prometheus  http://127.0.0.1:9090  (config and data in $work)
  demo load   ${rate} requests/s (STACK_LOAD_RATE=0 turns it off)

  Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
