//! The smallest service built on flipt-server (health and reflection only).
//! It is the template for a service's `main.rs`, and lets the tests drive
//! the bootstrap as a real process: flags, exit codes, SIGTERM.

use std::future::Future;
use std::process;

use flipt_server::{
    BackgroundTasks, Cli, Health, Listeners, ServeError, Server, load_or_exit, parse_args,
    shutdown_signal,
};
use flipt_server::{Config, ServiceConfig};
use serde::{Deserialize, Serialize};

/// No sections of its own; only the ports differ from the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ExampleSections {}

impl ServiceConfig for ExampleSections {
    const SERVICE_NAME: &'static str = "flipt-server-example";
    const DEFAULT_GRPC_PORT: u16 = 9100;
    const DEFAULT_HTTP_PORT: u16 = 8180;
}

#[tokio::main]
async fn main() {
    let cli: Cli = parse_args();
    let loaded = load_or_exit::<ExampleSections>(&cli);
    // A real service initialises observability here (flipt-otel: logs,
    // traces, metrics registry), keeps the guard, then logs the warnings.
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let listeners = match Listeners::bind(&loaded.config.server).await {
        Ok(listeners) => listeners,
        Err(err) => exit_with(&err),
    };
    // Signal handlers first: a test may send SIGTERM as soon as it reads
    // the addresses below.
    let shutdown = shutdown_signal();
    // Tests bind port 0 and read the real ports from this line.
    eprintln!(
        "listening grpc={} http={}",
        listeners.grpc_addr(),
        listeners.http_addr()
    );
    if let Err(err) = run(loaded.config, listeners, shutdown).await {
        exit_with(&err);
    }
    // The guard's shutdown (span flush) goes last, here.
}

/// What a service library exports: everything after binding.
async fn run(
    config: Config<ExampleSections>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let health = Health::new(Vec::<String>::new());
    let tasks = BackgroundTasks::new();
    health.set_serving(true);
    let grace = config.server.shutdown_grace_period;
    Server::new(health)
        .grace_period(grace)
        .serve(listeners, shutdown)
        .await?;
    tasks.shutdown(grace).await;
    Ok(())
}

fn exit_with(err: &ServeError) -> ! {
    eprintln!("{}: {err}", ExampleSections::SERVICE_NAME);
    process::exit(1);
}
