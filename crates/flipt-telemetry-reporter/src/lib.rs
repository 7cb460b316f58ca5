//! The telemetry reporter: receives anonymous usage reports from the other
//! services over gRPC (`flipt.telemetry.v1.TelemetryReporterService`) and,
//! unless the operator opted out, sends one Segment `track` event
//! `flipt.ping` per interval to a Segment-compatible endpoint (DESIGN.md
//! §6). What is sent and how to turn it off: `docs/telemetry.md`.
//!
//! * `config`: `telemetry.*` and the opt-out switches;
//! * `usage`: the reports, checked against fixed value lists;
//! * `payload`: the ping and its Segment batch;
//! * `state`: the anonymous id in `<meta.state_directory>/telemetry.json`;
//! * `sender`: the HTTP transport and bounded retries;
//! * `reporter`: the schedule; `service`: the gRPC service;
//! * `print`: the `print` subcommand; `metrics`: the reporter's metrics.

pub mod cli;
mod config;
mod metrics;
mod payload;
mod print;
mod reporter;
mod sender;
mod service;
mod state;
#[cfg(test)]
mod tests;
mod usage;

use std::future::Future;

use flipt_otel::{
    GrpcMetricsLayer, GrpcServerMetrics, HttpMetricsLayer, HttpRoutes, HttpServerMetrics,
    ServiceTracing, metrics_router, register_runtime_metrics,
};
use flipt_proto::telemetry::v1::telemetry_reporter_service_server::{
    SERVICE_NAME, TelemetryReporterServiceServer,
};
use flipt_server::auth::{InternalGuardError, internal_service_guard};
use flipt_server::{BackgroundTasks, Config, Health, Listeners, Server};
use prometheus::Registry;
use tonic::service::Routes;

pub use crate::{
    config::TelemetryReporterConfig, print::print, reporter::ReporterError,
    state::resolve_state_directory,
};
use crate::{
    metrics::ReporterMetrics,
    reporter::{Deps, Reporter},
    service::ReporterService,
};

/// Build version, reported in the ping, metrics and logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The reporter could not be set up.
    #[error(transparent)]
    Reporter(#[from] ReporterError),
    /// Registering metrics failed.
    #[error("registering metrics: {0}")]
    Metrics(#[from] flipt_otel::OtelError),
    /// `services.internal_token` cannot be used.
    #[error(transparent)]
    InternalToken(#[from] InternalGuardError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] flipt_server::ServeError),
}

/// Runs the reporter on `listeners` until `shutdown` resolves.
/// `config.meta.state_directory` must be resolved first
/// ([`resolve_state_directory`]); `main` does it.
pub async fn run(
    config: Config<TelemetryReporterConfig>,
    listeners: Listeners,
    registry: Registry,
    tracing: ServiceTracing,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let metrics_on = config.metrics.enabled;
    let reporter_metrics = metrics_on
        .then(|| ReporterMetrics::register(&registry))
        .transpose()?;
    let server_metrics = metrics_on
        .then(|| GrpcServerMetrics::register(&registry))
        .transpose()?;
    if let Some(server_metrics) = &server_metrics {
        server_metrics.initialize(flipt_proto::FILE_DESCRIPTOR_SET, &[SERVICE_NAME])?;
    }
    let http_metrics = metrics_on
        .then(|| HttpServerMetrics::register(&registry, &HttpRoutes::new(), None))
        .transpose()?;
    if metrics_on {
        register_runtime_metrics(&registry, tokio::runtime::Handle::current())?;
    }
    let reporter = Reporter::new(&config, reporter_metrics.clone(), Deps::default())?;
    let service = ReporterService::new(reporter.source().clone(), reporter_metrics);

    let tasks = BackgroundTasks::new();
    tasks.spawn(reporter.run(tasks.token()));

    // Ready at once: reports are accepted whether or not pings go out.
    let health = Health::new([SERVICE_NAME]);
    health.set_serving(true);
    let metrics_layer = GrpcMetricsLayer::from(server_metrics);
    let trace_layer = tracing.server_layer();

    let mut server = Server::new(health);
    // Only this deployment's services may call the internal API.
    let registry_if_on = metrics_on.then_some(&registry);
    if let Some(guard) = internal_service_guard(&config.services, registry_if_on)? {
        server = server.guard_grpc(guard);
    }
    let result = server
        .grpc(Routes::new(TelemetryReporterServiceServer::new(service)))
        .http(metrics_router(registry))
        .map_grpc(move |router| router.layer(metrics_layer).layer(trace_layer))
        .map_http(move |router| router.layer(HttpMetricsLayer::from(http_metrics)))
        .grace_period(config.server.shutdown_grace_period)
        .grpc_connections(&config.server)
        .serve(listeners, shutdown)
        .await;
    tasks.shutdown(config.server.shutdown_grace_period).await;
    result.map_err(RunError::from)
}
