//! End-to-end tests, grouped by concern. Each test starts what it needs
//! through `flipt-testkit` (a `Stack` in-process or as processes, Redis, a
//! Segment sink) on loopback and drives it over real sockets.
//!
//! * [`api`]: what clients see from the evaluation service: gRPC, REST and
//!   OFREP answers, limits, security (tokens, TLS, the internal API, flag
//!   files);
//! * [`observability`]: metrics, traces, version attributes, the usage
//!   ping, the Grafana dashboards against a live Prometheus;
//! * [`lifecycle`]: health and readiness, shutdown, faults (crashes,
//!   Redis going away), replicas, the Redis backend;
//! * [`clients`]: Flipt's and OpenFeature's own client libraries;
//! * [`repo`]: the repository's own files: README calls, compose,
//!   Dockerfile, Kubernetes manifests, Prometheus and Grafana files.

// Setup helpers shared by the tests panic on failure, like the tests do.
#![allow(clippy::unwrap_used)]
// The test modules share `pub` helpers among themselves; the workspace's
// `unreachable_pub` is for the library crates' surfaces.
#![allow(unreachable_pub)]

mod api;
mod clients;
mod lifecycle;
mod observability;
mod repo;
