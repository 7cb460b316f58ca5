//! The `flipt-telemetry-reporter` program: command line (including the
//! `print` subcommand), configuration, observability and the service until
//! a shutdown signal; the binary and the image's multi-call `flipt` both run
//! it.

use crate::{TelemetryReporterConfig, VERSION, print, resolve_state_directory, run};
use clap::{Parser, Subcommand};
use flipt_server::{Cli, Listeners, load_or_exit, parse_args, shutdown_signal};

/// Collects anonymous usage reports from the Flipt services and sends the
/// `flipt.ping` usage event on a schedule, unless telemetry is turned off
/// (see docs/telemetry.md).
#[derive(Debug, Parser)]
#[command(name = "flipt-telemetry-reporter", version)]
struct Args {
    #[command(flatten)]
    cli: Cli,
    /// Build every ping and print it to stdout instead of sending it.
    #[arg(long)]
    dry_run: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the payload of the next ping without sending it.
    Print {
        /// gRPC address of the running reporter
        /// [default: http://127.0.0.1:<server.grpc_port>].
        #[arg(long, value_name = "URL")]
        address: Option<String>,
    },
}

/// Runs `flipt-telemetry-reporter` with the process's arguments and
/// environment.
pub async fn main() -> anyhow::Result<()> {
    let args: Args = parse_args();
    let loaded = load_or_exit::<TelemetryReporterConfig>(&args.cli);
    let env: std::collections::HashMap<String, String> = flipt_server::process_env().collect();
    let mut config = loaded.config.clone();
    config.meta.state_directory =
        resolve_state_directory(&config.meta.state_directory, &env).unwrap_or_default();
    config.service.dry_run = args.dry_run;

    if let Some(Command::Print { address }) = &args.command {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        print(&config, address.as_deref(), &mut out, &mut err).await?;
        return Ok(());
    }

    let name = "flipt-telemetry-reporter";
    let guard = flipt_otel::init(name, VERSION, &config.log, &config.tracing, &env)?;
    loaded.log_warnings();
    let registry = flipt_otel::service_registry(name, VERSION)?;
    let listeners = Listeners::bind(&config.server).await?;

    let tracing = guard.tracing().clone();
    let result = run(config, listeners, registry, tracing, shutdown_signal()).await;
    if let Err(err) = &result {
        tracing::error!(error = %err, "flipt-telemetry-reporter stopped");
    }
    guard.shutdown().await?;
    result.map_err(anyhow::Error::from)
}
