//! End-to-end tests: the services run in-process on loopback and are driven
//! over real sockets.

// Setup helpers shared by the tests panic on failure, like the tests do.
#![allow(clippy::unwrap_used)]
// The test modules share `pub` helpers among themselves; the workspace's
// `unreachable_pub` is for the library crates' surfaces.
#![allow(unreachable_pub)]

mod api;
mod clients;
mod dashboards;
mod deploy;
mod faults;
mod fixtures;
mod health;
mod limits;
mod metrics;
mod near_cache;
mod obs;
mod ofrep;
mod ofrep_traces;
mod protocols;
mod readme;
mod redis;
mod replicas;
mod security;
mod shutdown;
mod smoke;
mod telemetry;
mod traces;
mod versions;
