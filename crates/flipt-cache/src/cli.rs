//! The `flipt-cache` program: command line, configuration, observability
//! and the service until a shutdown signal; the binary and the image's
//! multi-call `flipt` both run it.

use flipt_server::{Cli, Listeners, load_or_exit, parse_args, shutdown_signal};

use crate::{CacheServiceConfig, VERSION, run};

/// Runs `flipt-cache` with the process's arguments and environment.
pub async fn main() -> anyhow::Result<()> {
    let cli: Cli = parse_args();
    let loaded = load_or_exit::<CacheServiceConfig>(&cli);
    let config = loaded.config.clone();
    let env: std::collections::HashMap<String, String> = flipt_server::process_env().collect();

    let guard = flipt_otel::init("flipt-cache", VERSION, &config.log, &config.tracing, &env)?;
    loaded.log_warnings();
    let registry = flipt_otel::service_registry("flipt-cache", VERSION)?;
    let listeners = Listeners::bind(&config.server).await?;

    let result = run(
        config,
        listeners,
        registry,
        guard.tracing().clone(),
        shutdown_signal(),
    )
    .await;
    if let Err(err) = &result {
        tracing::error!(error = %err, "flipt-cache stopped");
    }
    guard.shutdown().await?;
    result.map_err(anyhow::Error::from)
}
