# The two commands a newcomer needs: `make run` and `make test`.
# Everything else here is what those two are made of.

CARGO ?= cargo
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# nextest runs test binaries in parallel; plain `cargo test` when absent.
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: help build release run stack test test-compose lint fmt tools bench soak

help:
	@echo "make run    start the services natively on deploy/flags"
	@echo "make stack  make run plus a native Prometheus and demo load (compose without Docker)"
	@echo "make test   run every test (installs what the tests need)"
	@echo "make test-compose  docker compose build + up of the stack on a real Docker Engine"
	@echo "make lint   rustfmt check and clippy with warnings denied"
	@echo "make build  build every crate and test"
	@echo "make bench  load benchmark against echo baselines and Unleash Edge (about 15 minutes; the first run installs Edge, 15 more)"

build:
	$(CARGO) build --workspace --all-targets

# The one release build: every binary of the workspace, so run, stack, bench
# and soak share its artifacts. Building a subset of packages would resolve
# features differently and recompile the shared dependencies each time.
release:
	@tools/release.sh

run:
	@tools/run.sh

stack:
	@tools/stack.sh

# Tools the tests drive: Python clients and protoc in .venv, Flipt's and
# OpenFeature's npm SDKs in tests/clients/node_modules, a headless
# Chromium for the OFREP web provider in a browser, and kubectl to render
# deploy/kubernetes.
tools:
	@tools/venv.sh
	@tools/node.sh
	@tools/ensure-promtool.sh
	@tools/ensure-redis.sh
	@tools/ensure-docker-compose.sh
	@tools/ensure-chromium.sh
	@tools/ensure-kubectl.sh
	@tools/ensure-docker.sh

# The compose test runs on its own after the others: its release build
# inside the build container wants both cores.
test: tools
	$(CARGO) build --workspace --all-targets
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --workspace --exclude flipt-compose --no-fail-fast
else
	$(CARGO) test --workspace --exclude flipt-compose --no-fail-fast
endif
	$(CARGO) test --workspace --doc
	$(MAKE) test-compose

# `docker compose build` and `up` of docker-compose.yml on a real Docker
# Engine (started by tools/ensure-docker.sh), checked from the host; base
# and third-party images that cannot be pulled are built locally first
# (deploy/README.md). Fails when no engine can be started.
test-compose:
	@tools/ensure-docker.sh
	$(CARGO) build -p flipt-compose --bins --tests
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run -p flipt-compose --no-fail-fast --no-capture
else
	$(CARGO) test -p flipt-compose --no-fail-fast -- --nocapture
endif

# Where cargo puts build output (CARGO_TARGET_DIR when set).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

# Not part of `make test`: the flipt-core engine micro-benchmark, then the
# release services under closed-loop load next to an echo-chain baseline.
# Prints the table and writes $(TARGET_DIR)/bench/report.json. Options go
# through BENCH_ARGS, e.g. `make bench BENCH_ARGS="--duration 30s"`.
bench: release
	@tools/ensure-unleash-edge.sh
	$(CARGO) bench -p flipt-core --bench engine -- --warm-up-time 1 --measurement-time 3
	$(TARGET_DIR)/release/flipt-bench $(BENCH_ARGS)

# 60 s of mixed gRPC and REST load on the release binaries (redis backend
# when redis-server is installed); fails on any error or >10 % RSS growth.
SOAK_SECONDS ?= 60
soak: release
	@tools/ensure-redis.sh
	$(TARGET_DIR)/release/flipt-bench soak --seconds $(SOAK_SECONDS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
