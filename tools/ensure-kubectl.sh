#!/usr/bin/env bash
# Makes sure `kubectl` is on PATH: the deploy/kubernetes tests render every
# overlay with `kubectl kustomize` (no cluster is needed). Installs the
# `kubectl` package when running as root with apt-get and a configured
# source offers it; otherwise says in one line what to install.
set -euo pipefail

if command -v kubectl >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1 \
    || ! apt-cache show kubectl >/dev/null 2>&1; then
    echo "tools/ensure-kubectl.sh: kubectl not found; install it (apt-get install kubectl, from the Kubernetes package repository)" >&2
    exit 1
fi

echo "tools/ensure-kubectl.sh: installing kubectl"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends kubectl >/dev/null

if ! command -v kubectl >/dev/null 2>&1; then
    echo "tools/ensure-kubectl.sh: kubectl installed but still not on PATH" >&2
    exit 1
fi
