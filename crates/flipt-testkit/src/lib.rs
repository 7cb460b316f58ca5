//! What the tests and tools share. A test starts the services with one
//! [`Stack`] (the cache and evaluation services, and the telemetry reporter
//! when asked for), in-process through the same `run` functions and config
//! loader as the binaries ([`Stack::start_with`]) or as the binaries
//! themselves ([`Stack::processes`]), always on listeners bound to
//! `127.0.0.1:0`, and talks to it over real sockets through the stack's
//! request helpers ([`Stack::variant`], [`Stack::rest_post`],
//! [`Stack::scrape`], ...).
//!
//! Beside the stack: [`ServiceProcess`] (any service binary as a child
//! process), [`TestRedis`], [`SegmentSink`] (a Segment-compatible endpoint with scripted answers),
//! the one flag fixture set ([`fixtures`]), [`promtool`] and [`promtool_check`], and the
//! bounded waits [`eventually`] and [`wait_serving`].
//!
//! Only tests and the benchmark tool depend on this crate; the services
//! never do. Tests turn on the feature `testing` (the promtool checks,
//! through `flipt-otel/testing`); the benchmark does not, so the
//! workspace's one release build never compiles test helpers into the
//! services.

mod client;
pub mod fixtures;
mod process;
#[cfg(feature = "testing")]
mod promtool;
mod redis;
mod reporter;
mod sink;
mod stack;
mod wait;

pub use client::{Json, http_client, request, scrape};
pub use process::{ServiceProcess, binary_path, cpu_seconds, rss_kib};
#[cfg(feature = "testing")]
pub use promtool::{ACCEPTED_PROMTOOL_FINDINGS, promtool, promtool_check};
pub use redis::{REDIS_URL_VAR, TestRedis};
pub use reporter::ReporterOptions;
pub use sink::{Answer, Received, SegmentSink};
pub use stack::{Service, ServiceHandle, Stack, StackOptions};
pub use wait::{WAIT, eventually, health_status, wait_for, wait_serving};

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's demo flags (`deploy/flags`).
pub fn demo_flags() -> PathBuf {
    repo_root().join("deploy/flags")
}
