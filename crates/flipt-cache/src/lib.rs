//! The cache service: owns flag state. It loads declarative flag files
//! (Flipt's `features.yml` format) with `flipt-store`, reloads them on
//! change, and serves per-flag evaluation state and namespace snapshots over
//! gRPC (`flipt.cache.v1.CacheService`) through a cache backend.

mod backend;
pub mod cli;
mod config;
mod convert;
mod metrics;
mod reload;
mod service;
mod watch;

use std::future::Future;

use flipt_otel::{
    GrpcMetricsLayer, GrpcServerMetrics, HttpMetricsLayer, HttpRoutes, HttpServerMetrics,
    ServiceTracing, metrics_router, register_runtime_metrics,
};
use flipt_proto::cache::v1::cache_service_server::{CacheServiceServer, SERVICE_NAME};
use flipt_server::auth::{InternalGuardError, internal_service_guard};
use flipt_server::{BackgroundTasks, Config, Health, Listeners, Server};
use flipt_store::{LoadError, Store, StoreOptions};
use flipt_usage::UsageFacts;
use prometheus::Registry;
use tonic::service::Routes;

use crate::{
    backend::Backend,
    metrics::{CacheMetrics, StorageMetrics},
    reload::reload_hook,
    service::FlagStateService,
    watch::NamespaceWatch,
};
pub use crate::{
    backend::BackendError,
    config::{BackendKind, CacheServiceConfig, StorageType},
    metrics::STORAGE_RELOADS_TOTAL,
};

/// Build version reported in metrics and logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The flag files could not be loaded at startup.
    #[error("loading flags from {path}:\n{source}")]
    Load {
        /// `storage.local.path`.
        path: String,
        /// Every problem found.
        #[source]
        source: LoadError,
    },
    /// The cache backend could not be set up from its settings.
    #[error("cache backend: {source}")]
    Backend {
        /// What was wrong.
        #[source]
        source: BackendError,
    },
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

/// Runs the cache service on `listeners` until `shutdown` resolves.
pub async fn run(
    config: Config<CacheServiceConfig>,
    listeners: Listeners,
    registry: Registry,
    tracing: ServiceTracing,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let tasks = BackgroundTasks::new();
    let metrics_on = config.metrics.enabled;
    let storage_metrics = metrics_on
        .then(|| StorageMetrics::register(&registry))
        .transpose()?;
    let storage = &config.service.storage.local;
    let mut options = StoreOptions::new(storage.poll_interval)
        .on_reload(reload_hook(storage_metrics, tracing.clone()));
    options.limits = storage.limits();
    let (store, _reloader) = Store::start(storage.path.clone(), options, tasks.token())
        .await
        .map_err(|source| RunError::Load {
            path: storage.path.display().to_string(),
            source,
        })?;
    tracing::info!(
        path = %store.root().display(),
        namespaces = store.current().namespace_count(),
        flags = store.current().flag_count(),
        "flags loaded"
    );

    let backend =
        Backend::new(&config.service.cache).map_err(|source| RunError::Backend { source })?;
    if let Backend::Redis(redis) = &backend {
        tasks.spawn(redis.clone().count_entries(tasks.token()));
    }
    let cache_metrics = metrics_on
        .then(|| CacheMetrics::register(&registry, &backend))
        .transpose()?;
    // Watches end when shutdown begins, so they do not hold the drain open.
    let stop_watches = tokio_util::sync::CancellationToken::new();
    let watch = NamespaceWatch::new(store.subscribe(), tracing.clone(), stop_watches.clone());
    let service =
        FlagStateService::new(store.subscribe(), backend, watch).with_metrics(cache_metrics);

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
    let metrics_layer = GrpcMetricsLayer::from(server_metrics);
    let trace_layer = tracing.server_layer();

    let usage = UsageFacts {
        storage_type: Some(config.service.storage.storage_type.as_str()),
        cache_backend: Some(config.service.cache.backend.as_str()),
    };
    flipt_usage::spawn_usage_reports(&tasks, &config, VERSION, usage);

    // Ready as soon as flags are loaded: they are, since start() returned.
    let health = Health::new([SERVICE_NAME]);
    health.set_serving(true);

    let mut server = Server::new(health);
    // Only this deployment's services may call the internal API.
    let registry_if_on = metrics_on.then_some(&registry);
    if let Some(guard) = internal_service_guard(&config.services, registry_if_on)? {
        server = server.guard_grpc(guard);
    }
    let result = server
        .grpc(Routes::new(CacheServiceServer::new(service)))
        .http(metrics_router(registry))
        .map_grpc(move |router| router.layer(metrics_layer).layer(trace_layer))
        .map_http(move |router| router.layer(HttpMetricsLayer::from(http_metrics)))
        .grace_period(config.server.shutdown_grace_period)
        .grpc_connections(&config.server)
        .serve(listeners, async move {
            shutdown.await;
            stop_watches.cancel();
        })
        .await;
    tasks.shutdown(config.server.shutdown_grace_period).await;
    result.map_err(RunError::from)
}
