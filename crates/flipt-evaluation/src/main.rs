//! `flipt-evaluation`: Flipt's evaluation API over flag state from the
//! cache service.

use flipt_evaluation::{EvaluationServiceConfig, VERSION, run};
use flipt_server::{Cli, Listeners, load_or_exit, parse_args, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = parse_args();
    let loaded = load_or_exit::<EvaluationServiceConfig>(&cli);
    let config = loaded.config.clone();
    let env: std::collections::HashMap<String, String> = flipt_server::process_env().collect();

    let guard = flipt_otel::init(
        "flipt-evaluation",
        VERSION,
        &config.log,
        &config.tracing,
        &env,
    )?;
    loaded.log_warnings();
    let registry = flipt_otel::service_registry("flipt-evaluation", VERSION)?;
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
        tracing::error!(error = %err, "flipt-evaluation stopped");
    }
    guard.shutdown().await?;
    result.map_err(anyhow::Error::from)
}
