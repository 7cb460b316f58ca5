#!/usr/bin/env bash
# Builds the image that stands in for Jaeger in the compose test, under the
# name and tag docker-compose.yml pins for the jaeger service: Debian's
# base (tools/ensure-base-images.sh), wget for the compose health check, and
# flipt-otlp-standin (crates/flipt-compose), which receives OTLP on 4317,
# answers the health check on 13133 and serves the received traces on 16686.
# Jaeger has no Debian package, so this is not Jaeger: deploy/README.md says
# what differs. Leaves an image built from the same binary alone.
#
#   tools/ensure-jaeger-standin.sh target/debug/flipt-otlp-standin
set -euo pipefail

me="tools/ensure-jaeger-standin.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:?usage: $me PATH-TO-flipt-otlp-standin}"

fail() {
    echo "$me: $*" >&2
    exit 1
}

[[ -x "$binary" ]] || fail "$binary is not an executable (cargo build -p flipt-compose --bins)"
release="$(sed -n 's/^ARG DEBIAN_RELEASE=\(.*\)$/\1/p' "$root/deploy/Dockerfile" | head -n 1)"
base="debian:${release}-slim"
config="$(cd "$root" && docker-compose config)" || fail "docker-compose config failed in $root"
image="$(printf '%s\n' "$config" \
    | awk '$0 == "  jaeger:" {found=1; next} found && /^  [^ ]/ {exit} found && $1 == "image:" {print $2; exit}')"
[[ -n "$image" ]] || fail "docker-compose config names no image for the jaeger service"
docker image inspect "$base" >/dev/null 2>&1 || fail "$base is missing; run tools/ensure-base-images.sh first"

digest="$(sha256sum "$binary" | cut -d' ' -f1)"
if [[ "$(docker image inspect --format '{{ index .Config.Labels "flipt.standin.sha256" }}' "$image" 2>/dev/null)" == "$digest" ]]; then
    exit 0
fi

previous="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
echo "$me: building $image (OTLP stand-in) from $base"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$binary" "$ctx/flipt-otlp-standin"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update \\
 && apt-get install -y --no-install-recommends wget \\
 && rm -rf /var/lib/apt/lists/*
COPY flipt-otlp-standin /usr/local/bin/flipt-otlp-standin
LABEL flipt.standin.sha256="$digest"
USER nobody
EXPOSE 4317 13133 16686
# Compose passes Jaeger's --config arguments; the stand-in needs none.
ENTRYPOINT ["/usr/local/bin/flipt-otlp-standin"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >/dev/null 2>"$ctx/build.log" \
    || { tail -n 5 "$ctx/build.log" >&2; fail "docker build of $image failed"; }
# The stand-in of an older binary, now untagged, goes.
if [[ -n "$previous" && "$previous" != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
    docker image rm "$previous" >/dev/null 2>&1 || true
fi
