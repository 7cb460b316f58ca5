//! `flipt-loadgen`: steady demo traffic against the evaluation service.
//!
//! ```text
//! flipt-loadgen --grpc http://127.0.0.1:9000 --http http://127.0.0.1:8080 --rate 10
//! ```
//!
//! Runs until SIGINT/SIGTERM, `--requests` or `--duration`; exits 1 when a
//! bounded run saw failures.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use flipt_loadgen::{LoadConfig, run};

/// Command line of `flipt-loadgen`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Evaluate the flags of a Flipt evaluation service at a steady rate"
)]
struct Args {
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
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
    match run(config, shutdown_signal()).await {
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
