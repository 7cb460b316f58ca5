//! `flipt-healthcheck [URL...]`: exits 0 when the service's
//! `grpc.health.v1` reports SERVING, 1 otherwise, with one line on stderr
//! saying why. Without URLs it probes 127.0.0.1 at `FLIPT_SERVER_GRPC_PORT`,
//! or at the default gRPC ports 9000, 9001, 9002; the first address that
//! accepts a connection decides, so one image-wide `HEALTHCHECK` fits
//! whichever service the container runs.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use flipt_loadgen::health::{Probe, addresses, check};

/// Per-address connect and call timeout; Docker's own timeout is larger.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Command line of `flipt-healthcheck`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Exit 0 when a Flipt service reports SERVING over grpc.health.v1"
)]
struct Args {
    /// gRPC URLs to probe, e.g. http://127.0.0.1:9001.
    urls: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
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
