//! Shared bootstrap for the Flipt service binaries (DESIGN.md §3, §5):
//!
//! * [`config`]: typed config loading (defaults → `--config` YAML →
//!   `FLIPT_*` env), with unknown-key warnings, one-line errors and
//!   `--print-config`;
//! * [`cli`]: the `--config` / `--print-config` flags and the load-or-exit
//!   step of `main`.

pub mod cli;
pub mod config;

pub use cli::{Cli, load_or_exit, parse_args};
pub use config::{Config, Loaded, ServiceConfig};
