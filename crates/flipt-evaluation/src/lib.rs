//! The evaluation service: Flipt's public evaluation API (gRPC
//! `flipt.evaluation.EvaluationService` and `DataService`, the matching
//! REST endpoints, and OpenFeature's OFREP endpoints), answering every
//! request with flag state fetched from the cache service and evaluated by
//! `flipt-core`; `cors.*` opens the HTTP port to pages on other origins.

mod auth;
mod cache_client;
mod config;
mod convert;
mod cors;
mod error;
mod evaluator;
mod grpc;
mod limits;
mod metrics;
mod near_cache;
mod observe;
mod ofrep;
mod readiness;
mod replicas;
mod rest;
mod snapshot;

use std::{future::Future, sync::Arc};

use flipt_otel::{
    GrpcClientMetrics, GrpcMetricsLayer, GrpcServerMetrics, HttpMetricsLayer, HttpServerMetrics,
    ServiceTracing, metrics_router, register_runtime_metrics,
};
use flipt_proto::evaluation::{
    data_service_server::{self, DataServiceServer},
    evaluation_service_server::{self, EvaluationServiceServer},
};
use flipt_server::auth::AuthMetrics;
use flipt_server::{BackgroundTasks, Config, Health, Listeners, Server};
use prometheus::Registry;
use tonic::service::Routes;
use tower::{ServiceBuilder, ServiceExt as _, util::BoxCloneSyncService};

pub use crate::{
    auth::{
        AuthenticationConfig, BootstrapConfig, ExcludeConfig, MethodsConfig, StaticToken,
        TokenMethodConfig, TokenStorageConfig, TokenStorageType,
    },
    config::{EvaluationServiceConfig, NO_TOKENS_WARNING},
    error::EvaluationError,
    replicas::{Resolve, SystemResolver},
    rest::http_status,
};
use crate::{
    cache_client::{CacheClient, GrpcChannel},
    evaluator::Evaluator,
    grpc::GrpcApi,
    metrics::EvaluationMetrics,
    near_cache::{NearCache, NearCacheMetrics},
    replicas::{Discovery, Replicas},
};

/// Build version reported in metrics and logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `services.cache.address` is empty or not a URI.
    #[error("services.cache.address: {0}")]
    CacheAddress(String),
    /// The cache channel could not be set up.
    #[error(transparent)]
    Cache(#[from] EvaluationError),
    /// Registering metrics failed.
    #[error("registering metrics: {0}")]
    Metrics(#[from] flipt_otel::OtelError),
    /// Registering the authentication metrics failed.
    #[error("registering metrics: {0}")]
    AuthMetrics(#[from] prometheus::Error),
    /// The authentication or internal-token settings cannot be used.
    #[error(transparent)]
    Security(#[from] flipt_server::InvalidValue),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] flipt_server::ServeError),
}

/// Runs the evaluation service on `listeners` until `shutdown` resolves,
/// resolving `services.cache.address` with the system resolver.
pub async fn run(
    config: Config<EvaluationServiceConfig>,
    listeners: Listeners,
    registry: Registry,
    tracing: ServiceTracing,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    run_with_resolver(
        config,
        listeners,
        registry,
        tracing,
        shutdown,
        Arc::new(SystemResolver),
    )
    .await
}

/// The `flipt-evaluation` process after the arguments: loads the config,
/// starts logs, traces and metrics, binds, and serves until SIGTERM/SIGINT,
/// resolving `services.cache.address` with `resolver` (the binary passes
/// [`SystemResolver`]). Flushes spans last.
pub async fn main_with_resolver(
    cli: &flipt_server::Cli,
    resolver: Arc<dyn Resolve>,
) -> anyhow::Result<()> {
    let loaded = flipt_server::load_or_exit::<EvaluationServiceConfig>(cli);
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
    let shutdown = flipt_server::shutdown_signal();
    let traces = guard.tracing().clone();
    let result = run_with_resolver(config, listeners, registry, traces, shutdown, resolver).await;
    if let Err(err) = &result {
        tracing::error!(error = %err, "flipt-evaluation stopped");
    }
    guard.shutdown().await?;
    result.map_err(anyhow::Error::from)
}

/// [`run`] with the resolver of `services.cache.address`'s host given.
pub async fn run_with_resolver(
    config: Config<EvaluationServiceConfig>,
    listeners: Listeners,
    registry: Registry,
    tracing: ServiceTracing,
    shutdown: impl Future<Output = ()> + Send,
    resolver: Arc<dyn Resolve>,
) -> Result<(), RunError> {
    let target = &config.services.cache;
    let address = target.get().ok_or_else(|| {
        RunError::CacheAddress("must be set: flag state comes from the cache service".into())
    })?;
    let uri: http::Uri = address
        .parse()
        .map_err(|err| RunError::CacheAddress(format!("{err}")))?;
    let internal_token = config.services.internal_token()?;
    let internal_credential =
        flipt_server::auth::internal_token_layer(internal_token.as_ref().map(|t| t.expose()))
            .map_err(|err| {
                flipt_server::InvalidValue::string(
                    "services.internal_token",
                    "******",
                    format!("cannot be sent as a header: {err}"),
                )
            })?;

    let metrics_on = config.metrics.enabled;
    let server_metrics = metrics_on
        .then(|| GrpcServerMetrics::register(&registry))
        .transpose()?;
    let client_metrics = metrics_on
        .then(|| GrpcClientMetrics::register(&registry))
        .transpose()?;
    let evaluation_metrics = metrics_on
        .then(|| EvaluationMetrics::register(&registry))
        .transpose()?;
    if let Some(server_metrics) = &server_metrics {
        server_metrics.initialize(
            flipt_proto::FILE_DESCRIPTOR_SET,
            &[
                evaluation_service_server::SERVICE_NAME,
                data_service_server::SERVICE_NAME,
            ],
        )?;
    }
    let http_metrics = metrics_on
        .then(|| {
            HttpServerMetrics::register(&registry, &rest::metric_routes(), server_metrics.as_ref())
        })
        .transpose()?;
    if metrics_on {
        register_runtime_metrics(&registry, tokio::runtime::Handle::current())?;
    }
    let client_layer = tracing.client_layer().with_peer(&uri);
    let wrap: replicas::Wrap<GrpcChannel> = Arc::new(move |channel| {
        let instrumented = ServiceBuilder::new()
            .layer(client_layer.clone())
            .layer(GrpcMetricsLayer::from(client_metrics.clone()))
            .layer(internal_credential.clone())
            .service(channel)
            .map_response(|response| response.map(tonic::body::Body::new));
        BoxCloneSyncService::new(instrumented)
    });
    let discovery = Discovery::new(target, resolver, wrap)?;
    let replicas = Replicas::default();
    // The first resolution before serving, so the first calls find replicas.
    discovery.refresh(&replicas).await;
    let cache = CacheClient::new(replicas.clone(), target);
    let near_cache = if target.near_cache.enabled {
        let near_metrics = metrics_on
            .then(|| NearCacheMetrics::register(&registry))
            .transpose()?;
        let near = NearCache::new(&target.near_cache, target.max_staleness, near_metrics);
        if metrics_on {
            near.register_gauges(&registry)?;
        }
        Some(near)
    } else {
        None
    };
    let limits = config.service.evaluation.limits;
    let evaluator = Evaluator::new(cache)
        .with_near_cache(near_cache.clone())
        .with_metrics(evaluation_metrics)
        .with_limits(limits);

    let health = Health::new([
        evaluation_service_server::SERVICE_NAME,
        data_service_server::SERVICE_NAME,
    ]);
    let tasks = BackgroundTasks::new();
    let usage = flipt_usage::UsageFacts::default();
    flipt_usage::spawn_usage_reports(&tasks, &config, VERSION, usage);
    tasks.spawn(discovery.run(replicas.clone(), tasks.token()));
    if let Some(near) = &near_cache {
        tasks.spawn(near_cache::watch::run(
            replicas.clone(),
            near.clone(),
            tracing.clone(),
            tasks.token(),
        ));
    }
    tasks.spawn(readiness::probe_cache(
        // Health checks need no internal token.
        replicas,
        target.timeout,
        health.clone(),
        near_cache,
        tasks.token(),
    ));

    let auth_metrics = metrics_on
        .then(|| AuthMetrics::register(&registry))
        .transpose()?;
    let authentication = config.service.authentication.clone();
    let guard = authentication.guard(auth_metrics)?;
    if let Some(guard) = &guard {
        tracing::info!(
            tokens = guard.tokens().len(),
            exclude_evaluation = authentication.exclude.evaluation,
            exclude_ofrep = authentication.exclude.ofrep,
            "authentication required"
        );
        tasks.spawn(auth::reload_on_sighup(
            authentication,
            guard.clone(),
            tasks.token(),
        ));
    }

    let api = GrpcApi::new(evaluator.clone());
    // tonic's cap only guards decoding; the limit itself is checked in the
    // handlers, where the error can name it (see `grpc`).
    let decode_cap = limits.max_request_bytes.saturating_mul(2);
    let routes = Routes::new(
        EvaluationServiceServer::new(api.clone()).max_decoding_message_size(decode_cap),
    )
    .add_service(DataServiceServer::new(api).max_decoding_message_size(decode_cap));
    let grpc_metrics = GrpcMetricsLayer::from(server_metrics);
    let grpc_trace = tracing.server_layer();
    let http_trace = tracing.server_layer();
    let cors = config.service.cors.layer_if_enabled();
    let http = rest::router(evaluator.clone())
        .merge(ofrep::router(evaluator))
        .merge(metrics_router(registry));
    let http_metrics = HttpMetricsLayer::from(http_metrics);

    let mut server = Server::new(health);
    if let Some(guard) = guard {
        server = server.guard_grpc(guard.clone()).guard_http(guard);
    }
    let result = server
        .grpc(routes)
        .http(http)
        .map_grpc(move |router| router.layer(grpc_metrics).layer(grpc_trace))
        // CORS outside the handlers and their spans: preflights are
        // answered before anything else, and every answer (errors included)
        // carries the allow headers. Metrics outermost, so preflights are
        // counted too (as OPTIONS on their route, never as an RPC).
        .map_http(move |router| {
            let router = router.layer(http_trace);
            let router = match cors {
                Some(cors) => router.layer(cors),
                None => router,
            };
            router.layer(http_metrics)
        })
        .grace_period(config.server.shutdown_grace_period)
        .grpc_connections(&config.server)
        .serve(listeners, shutdown)
        .await;
    tasks.shutdown(config.server.shutdown_grace_period).await;
    result.map_err(RunError::from)
}
