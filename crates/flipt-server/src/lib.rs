//! Shared bootstrap for the Flipt service binaries (DESIGN.md §3, §5):
//!
//! * [`config`]: typed config loading (defaults → `--config` YAML →
//!   `FLIPT_*` env), with unknown-key warnings, one-line errors and
//!   `--print-config`;
//! * [`cli`]: the `--config` / `--print-config` flags and the load-or-exit
//!   step of `main`;
//! * [`Listeners`] and [`Server`]: gRPC and HTTP on two listeners with
//!   `grpc.health.v1.Health`, gRPC reflection and `GET /health` added once;
//! * [`Health`]: readiness, shared by gRPC and HTTP health;
//! * [`shutdown_signal`] and [`BackgroundTasks`]: graceful shutdown;
//! * a tally of requests accepted, answered and cancelled, logged when the
//!   servers stop;
//! * [`usage`]: usage reports to the telemetry reporter.

pub mod cli;
pub mod config;
mod error;
mod health;
mod listeners;
mod serve;
mod shutdown;
mod tally;
pub mod usage;

pub use cli::{Cli, load_or_exit, parse_args};
pub use config::{Config, Loaded, ServiceConfig};
pub use error::ServeError;
pub use health::{GrpcHealth, HEALTH_PATH, Health};
pub use listeners::Listeners;
pub use serve::{DEFAULT_GRACE_PERIOD, Server};
pub use shutdown::{BackgroundTasks, shutdown_signal};
