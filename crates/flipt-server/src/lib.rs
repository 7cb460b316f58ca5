//! Shared bootstrap for the Flipt service binaries (DESIGN.md §3, §5):
//!
//! * [`Config`]: typed config loading (defaults → `--config` YAML →
//!   `FLIPT_*` env, [`load_from`]), with unknown-key warnings, one-line
//!   errors and `--print-config`;
//! * [`Cli`]: the `--config` / `--print-config` flags and the load-or-exit
//!   step of `main` ([`load_or_exit`]);
//! * [`Listeners`] and [`Server`]: gRPC and HTTP on two listeners with
//!   `grpc.health.v1.Health`, gRPC reflection and `GET /health` added once;
//! * [`auth`]: static-token authentication as a tower layer ([`auth::Guard`]),
//!   for a service's public API and for the internal token;
//! * TLS on both listeners with `server.protocol: https` (rustls);
//! * [`Health`]: readiness, shared by gRPC and HTTP health;
//! * [`shutdown_signal`] and [`BackgroundTasks`]: graceful shutdown;
//! * a tally of requests accepted, answered and cancelled, logged when the
//!   servers stop.

pub mod auth;
mod cli;
mod config;
mod conn;
mod error;
mod health;
mod linger;
mod listeners;
mod serve;
mod shutdown;
mod tally;
mod tls;

pub use cli::{Cli, load_and_print, load_or_exit, parse_args, process_env};
#[cfg(feature = "testing")]
pub use config::testing;
pub use config::{
    CACHE_GRPC_PORT, CACHE_HTTP_PORT, CacheAddress, Config, ConfigError, DEFAULT_MAX_STALENESS,
    DEFAULT_NEAR_CACHE_MAX_ENTRIES, DEFAULT_RESOLVE_INTERVAL, EVALUATION_GRPC_PORT,
    EVALUATION_HTTP_PORT, EXIT_USAGE, InvalidValue, Loaded, LogEncoding, MASK, NearCacheConfig,
    Propagator, Protocol, Secret, ServerConfig, ServiceAddress, ServiceConfig,
    TELEMETRY_REPORTER_GRPC_PORT, TELEMETRY_REPORTER_HTTP_PORT, TracingExporter, duration,
    load_from, port, read_secret_file, to_yaml,
};
pub use error::ServeError;
pub use health::{Health, LIVENESS_SERVICE};
pub use listeners::Listeners;
pub use serve::Server;
pub use shutdown::{BackgroundTasks, shutdown_signal};
