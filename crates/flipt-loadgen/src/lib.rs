//! Operational clients of the stack, shipped in the service image:
//!
//! * `flipt-loadgen` evaluates the flags of the running evaluation service
//!   continuously at a modest rate, over gRPC and REST, with a small share
//!   of deliberate client errors, so dashboards and trace search show
//!   life in the compose stack ([`driver`], [`plan`], [`target`]), through
//!   the load driver that `flipt-bench` and its soak use too ([`drive`]).
//! * `flipt-healthcheck` asks `grpc.health.v1` whether a service is
//!   SERVING; the image's `HEALTHCHECK` and compose use it ([`health`]).

pub mod cli;
pub mod drive;
pub mod driver;
pub mod health;
pub mod plan;
pub mod target;

pub use drive::Tally;
pub use driver::{LoadConfig, run};

/// Errors of the load generator and the health probe.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A URL that tonic or reqwest cannot use.
    #[error("invalid URL {0:?}: expected http://host:port")]
    InvalidUrl(String),
    /// The rate must be a positive number of requests per second.
    #[error("invalid rate {0}: expected requests per second above zero")]
    InvalidRate(f64),
    /// An HTTP request could not be made or its body not read.
    #[error("http request failed: {0}")]
    Http(#[source] reqwest::Error),
    /// The snapshot endpoint answered with an error status.
    #[error("snapshot of namespace {namespace:?} answered HTTP {status}")]
    Snapshot {
        /// Namespace asked for.
        namespace: String,
        /// HTTP status.
        status: u16,
    },
    /// No flag could be found before the run's time limit.
    #[error("no flags found in namespaces {0:?} before the time limit")]
    NoFlags(Vec<String>),
}
