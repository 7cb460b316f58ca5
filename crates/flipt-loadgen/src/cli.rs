//! The `flipt-loadgen` and `flipt-healthcheck` programs (command lines and
//! exit codes); their binaries and the image's multi-call `flipt` run them.
//!
//! `flipt-healthcheck [URL...]`: exits 0 when the service's
//! `grpc.health.v1` reports SERVING, 1 otherwise, with one line on stderr
//! saying why. Without URLs it probes 127.0.0.1 at `FLIPT_SERVER_GRPC_PORT`,
//! or at the default gRPC ports 9000, 9001, 9002; the first address that
//! accepts a connection decides, so one image-wide `HEALTHCHECK` fits
//! whichever service the container runs.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::LoadConfig;
use crate::health::{Probe, addresses, check};

/// Command line of `flipt-loadgen`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Evaluate the flags of a Flipt evaluation service at a steady rate"
)]
struct LoadgenArgs {
    /// gRPC URL of the evaluation service.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    grpc: String,
    /// HTTP base URL of the evaluation service (REST and snapshots).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    http: String,
    /// Requests per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Comma-separated namespaces whose flags are evaluated.
    #[arg(long, default_value = "default,checkout,mobile", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// One request in N is a deliberate client error, alternately a missing
    /// flag and a flag asked with the other type's evaluation (0: never).
    #[arg(long, default_value_t = 50)]
    error_every: u64,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Stop after this long (e.g. `30s`, `5m`).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Print a summary this often.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    report_every: Duration,
    /// Seed of the request mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs `flipt-loadgen` with the process's arguments: until SIGINT or
/// SIGTERM, `--requests` or `--duration`; failure when a bounded run saw
/// failures.
pub async fn loadgen() -> ExitCode {
    let args = LoadgenArgs::parse();
    let bounded = args.requests.is_some() || args.duration.is_some();
    let config = LoadConfig {
        grpc_url: args.grpc,
        http_url: args.http,
        namespaces: args.namespaces,
        rate: args.rate,
        error_every: Some(args.error_every).filter(|n| *n > 0),
        max_requests: args.requests,
        duration: args.duration,
        report_every: Some(args.report_every),
        seed: args.seed,
    };
    // One line on stderr and exit 1, whatever RUST_BACKTRACE says.
    match crate::run(config, shutdown_signal()).await {
        Ok(stats) if bounded && stats.failed > 0 => {
            eprintln!(
                "flipt-loadgen: {} of {} requests failed",
                stats.failed, stats.sent
            );
            ExitCode::FAILURE
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flipt-loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM (compose stops containers with SIGTERM).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Per-address connect and call timeout; Docker's own timeout is larger.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Command line of `flipt-healthcheck`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Exit 0 when a Flipt service reports SERVING over grpc.health.v1"
)]
struct HealthcheckArgs {
    /// gRPC URLs to probe, e.g. http://127.0.0.1:9001.
    urls: Vec<String>,
}

/// Runs `flipt-healthcheck` with the process's arguments: success when the
/// first address that accepts a connection reports SERVING.
pub async fn healthcheck() -> ExitCode {
    let args = HealthcheckArgs::parse();
    let port = std::env::var("FLIPT_SERVER_GRPC_PORT").ok();
    let mut unreachable = Vec::new();
    for url in addresses(&args.urls, port.as_deref()) {
        match check(&url, TIMEOUT).await {
            Ok(Probe::Answered(status)) if status.as_str_name() == "SERVING" => {
                return ExitCode::SUCCESS;
            }
            Ok(Probe::Answered(status)) => {
                eprintln!("flipt-healthcheck: {url} is {}", status.as_str_name());
                return ExitCode::FAILURE;
            }
            Ok(Probe::CallFailed(reason)) => {
                eprintln!("flipt-healthcheck: {url} health check failed: {reason}");
                return ExitCode::FAILURE;
            }
            Ok(Probe::Unreachable(reason)) => unreachable.push(format!("{url} ({reason})")),
            Err(error) => {
                eprintln!("flipt-healthcheck: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!(
        "flipt-healthcheck: nothing answered: {}",
        unreachable.join(", ")
    );
    ExitCode::FAILURE
}
