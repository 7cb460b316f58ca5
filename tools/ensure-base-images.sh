#!/usr/bin/env bash
# Builds locally, under the exact names deploy/Dockerfile and
# docker-compose.yml use, the images this machine cannot pull because no
# container registry is reachable from it. Each image that is already
# present is left alone, so with registry access (or after one run) this
# does nothing.
#
#   debian:<release>-slim         Debian's archive, debootstrap --variant=minbase
#   rust:<version>-slim-<release> that base, gcc and libc headers from Debian,
#                                 and this machine's own Rust toolchain of the
#                                 same version, laid out as the official image
#                                 (/usr/local/cargo, /usr/local/rustup), trusting
#                                 this machine's system CA bundle and using its
#                                 cargo configuration (registry mirrors)
#   redis:<pin>                   that base and Debian's redis-server
#   prom/prometheus:<pin>         that base and Debian's prometheus
#
# The Debian mirror is the one in this machine's apt sources. deploy/README.md
# says how these stand-ins differ from the official images. The OTLP stand-in
# for Jaeger is built by tools/ensure-jaeger-standin.sh.
set -euo pipefail

me="tools/ensure-base-images.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fail() {
    echo "$me: $*" >&2
    exit 1
}

have_image() {
    docker image inspect "$1" >/dev/null 2>&1
}

# The value of `ARG NAME=value` in deploy/Dockerfile.
dockerfile_arg() {
    sed -n "s/^ARG $1=\(.*\)$/\1/p" "$root/deploy/Dockerfile" | head -n 1
}

# The image a compose service runs, with the default of its *_VERSION pin.
compose_image() {
    printf '%s\n' "$compose_config" \
        | awk -v svc="  $1:" '$0 == svc {found=1; next} found && /^  [^ ]/ {exit} found && $1 == "image:" {print $2; exit}'
}

# The first mirror of Debian's archive (not the security archive) that
# this machine's apt sources list for the given release.
debian_mirror() {
    local release="$1" file
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] || continue
        awk -v rel="$release" '
            /^$/ { if (uri != "" && suites ~ ("(^| )" rel "( |$)")) { print uri; exit } uri=""; suites="" }
            /^URIs:/ { uri=$2 }
            /^Suites:/ { $1=""; suites=$0 " " }
            END { if (uri != "" && suites ~ ("(^| )" rel "( |$)")) print uri }
        ' "$file"
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$file" ]] || continue
        awk -v rel="$release" '$1 == "deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == rel) print $i }' "$file"
    done
}

command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 \
    || fail "no Docker Engine answers; run tools/ensure-docker.sh first"

release="$(dockerfile_arg DEBIAN_RELEASE)"
rust_version="$(dockerfile_arg RUST_VERSION)"
[[ -n "$release" && -n "$rust_version" ]] \
    || fail "deploy/Dockerfile has no ARG DEBIAN_RELEASE= or ARG RUST_VERSION= default"
debian_image="debian:${release}-slim"
rust_image="rust:${rust_version}-slim-${release}"
compose_config="$(cd "$root" && docker-compose config)" \
    || fail "docker-compose config failed in $root"
redis_image="$(compose_image redis)"
prometheus_image="$(compose_image prometheus)"
[[ -n "$redis_image" && -n "$prometheus_image" ]] \
    || fail "docker-compose config names no image for the redis or prometheus service"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# docker build -t IMAGE CONTEXT (- reads the Dockerfile from stdin), with the
# classic builder (no build here needs BuildKit); its last lines on failure.
build_image() {
    DOCKER_BUILDKIT=0 docker build -q -t "$1" "$2" >/dev/null 2>"$work/build.log" \
        || { tail -n 5 "$work/build.log" >&2; fail "docker build of $1 failed"; }
}

# ---- debian:<release>-slim --------------------------------------------------
if ! have_image "$debian_image"; then
    mirror="$(debian_mirror "$release" | awk '!/-security/ {print; exit}')"
    [[ -n "$mirror" ]] || fail "no apt source of this machine lists Debian's $release; cannot debootstrap $debian_image"
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "$me: installing Debian's debootstrap package"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
            || fail "apt-get install debootstrap failed"
    fi
    echo "$me: building $debian_image with debootstrap --variant=minbase from $mirror"
    rootfs="$work/rootfs"
    debootstrap --variant=minbase "$release" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 5 "$work/debootstrap.log" >&2; fail "debootstrap of $release from $mirror failed"; }
    # As the official slim image: no documentation, manuals or locales, no
    # package lists or caches; dpkg keeps leaving them out.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
    tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$debian_image" >/dev/null
fi

# ---- rust:<version>-slim-<release> -------------------------------------------
if ! have_image "$rust_image"; then
    command -v rustc >/dev/null 2>&1 || fail "no rustc on PATH; the stand-in $rust_image carries this machine's own Rust toolchain"
    full_version="$(rustc --version | awk '{print $2}')"
    [[ "$full_version" == "$rust_version" || "$full_version" == "$rust_version".* ]] \
        || fail "this machine's Rust is $full_version, deploy/Dockerfile asks for $rust_version; the stand-in $rust_image must carry that version"
    sysroot="$(rustc --print sysroot)"
    toolchain="${full_version}-x86_64-unknown-linux-gnu"
    echo "$me: building $rust_image from $debian_image and this machine's Rust $full_version"
    ctx="$work/rust"
    mkdir -p "$ctx/rustup/toolchains/$toolchain" "$ctx/cargo/bin"
    # The toolchain without its HTML documentation (as the official image's
    # minimal profile leaves out).
    tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$ctx/rustup/toolchains/$toolchain" -x
    printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$toolchain" >"$ctx/rustup/settings.toml"
    cp "$(command -v rustup)" "$ctx/cargo/bin/rustup"
    for proxy in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver rust-gdb; do
        ln -s rustup "$ctx/cargo/bin/$proxy"
    done
    # Registry mirrors and source replacement of this machine's cargo.
    cargo_home="${CARGO_HOME:-$HOME/.cargo}"
    for config in "$cargo_home/config.toml" "$cargo_home/config"; do
        if [[ -f "$config" ]]; then
            cp "$config" "$ctx/cargo/config.toml"
            break
        fi
    done
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $debian_image
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\
 && rm -rf /var/lib/apt/lists/*
# This machine's CA bundle: the crate registry answers over HTTPS through it.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup \\
    CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$full_version
RUN rustc --version && cargo --version
DOCKERFILE
    build_image "$rust_image" "$ctx"
fi

# ---- third-party services from Debian's packages -----------------------------
if ! have_image "$redis_image"; then
    echo "$me: building $redis_image from $debian_image and Debian's redis-server"
    # As the official image: listens on every interface without protected
    # mode, keeps its data in /data.
    build_image "$redis_image" - <<DOCKERFILE
FROM $debian_image
RUN apt-get update \\
 && apt-get install -y --no-install-recommends redis-server redis-tools \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
DOCKERFILE
fi

if ! have_image "$prometheus_image"; then
    echo "$me: building $prometheus_image from $debian_image and Debian's prometheus"
    # As the official image: prometheus is the entrypoint (compose passes
    # the flags), it runs as nobody and keeps its data in /prometheus (where
    # Debian's build defaults to /var/lib/prometheus/metrics2), and the
    # health check's wget is there.
    build_image "$prometheus_image" - <<DOCKERFILE
FROM $debian_image
RUN apt-get update \\
 && apt-get install -y --no-install-recommends prometheus wget \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus \\
 && rm -rf /var/lib/prometheus/metrics2 && ln -s /prometheus /var/lib/prometheus/metrics2
WORKDIR /prometheus
USER nobody
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
DOCKERFILE
fi
